"""Converters at the array's edges: the DAC that drives the rows and the ADC
that reads the columns. Both are signed and symmetric (a differential pair
makes negative inputs and currents ordinary).

Voltages in volts, currents in amperes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from crossbar.circuits.adc import ADCCircuit
from crossbar.circuits.conversion import adc_reference, dac_reference
from crossbar.validation import as_float_array, check_choice, check_int, check_range

INPUT_CONVERSIONS = ("per_bit", "accumulate")
"""How the cycles of bit-serial inputs are converted (see :class:`DAC`)."""


class _SignedCodes:
    """The code range of a signed, symmetric converter of ``bits`` bits (the sign included): codes from
    ``-max_code`` to ``max_code``, each ``step`` of the full range (:meth:`_full_range`: a DAC's ``v_max``,
    volts; an ADC's ``full_scale``, amperes) apart. Written once for both converters."""

    @property
    def max_code(self) -> int:
        """Largest code magnitude, ``2**(bits-1) - 1``."""
        return 2 ** (self.bits - 1) - 1

    @property
    def step(self) -> float:
        """One code step: volts for a DAC, amperes (the LSB) for an ADC."""
        return self._full_range() / self.max_code


@dataclass(frozen=True)
class DAC(_SignedCodes):
    """Row driver: quantizes each row voltage to ``bits`` signed levels.

    Codes run from ``-(2**(bits-1) - 1)`` to ``2**(bits-1) - 1``; code ``k``
    drives ``k * v_max / (2**(bits-1) - 1)`` volts.

    Parameters
    ----------
    bits : int
        Resolution including the sign (2..24).
    v_max : float
        Largest voltage magnitude, volts (Li et al.: 0.2 V read voltage).
    clip : bool
        When False (default) a voltage beyond ``v_max`` raises ``ValueError``;
        when True it is driven at ``+-v_max``.
    bit_serial : bool
        Drive the code's magnitude bit by bit, one read cycle per bit (``bits -
        1`` cycles): a set bit drives ``+-v_max`` with the code's sign, a clear
        one 0 V (ISAAC's 1-bit drivers). False: all bits at once as one level.
    conversion : str
        With ``bit_serial``: ``"per_bit"`` converts every cycle and adds the
        codes with their weights ``2**k / max_code`` (shift and add);
        ``"accumulate"`` adds the cycles' charges in the analog, weighted the
        same, and converts once. Read noise is drawn in every cycle.
    bits_per_cycle : int
        With ``bit_serial``: magnitude bits driven in one cycle (1 .. ``bits -
        1``), by a ``bits_per_cycle``-bit driver: cycle ``k`` drives the digit
        ``d_k`` (bits ``b k`` to ``b k + b - 1`` of the magnitude) at
        ``d_k v_max / (2**b - 1)`` volts and weighs ``2**(b k) (2**b - 1) /
        max_code`` (PRIME's 3-bit drivers take a 6-bit magnitude in two
        cycles). 1: ISAAC's 1-bit drivers.
    """

    bits: int = 8
    v_max: float = 0.2
    clip: bool = False
    bit_serial: bool = False
    conversion: str = "per_bit"
    bits_per_cycle: int = 1

    def __post_init__(self):
        check_int("dac.bits", self.bits, 2, 24)
        check_range("dac.v_max", self.v_max, 0.0, low_open=True, unit="V")
        for name in ("clip", "bit_serial"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"dac.{name}={getattr(self, name)!r} is not allowed; True or False is required")
        check_choice("dac.conversion", self.conversion, INPUT_CONVERSIONS)
        if self.conversion != "per_bit" and not self.bit_serial:
            raise ValueError(f"dac.conversion={self.conversion!r} is not allowed without dac.bit_serial=True: "
                             "inputs driven all at once convert once")
        check_int("dac.bits_per_cycle", self.bits_per_cycle, 1, max(1, self.bits - 1))
        if self.bits_per_cycle != 1 and not self.bit_serial:
            raise ValueError(f"dac.bits_per_cycle={self.bits_per_cycle!r} is not allowed without dac.bit_serial=True: "
                             "inputs driven all at once take every bit in one cycle")

    @property
    def cycles(self) -> int:
        """Read cycles of one input vector (bit-serial: ``ceil((bits - 1) / bits_per_cycle)``, else 1)."""
        return -(-(self.bits - 1) // self.bits_per_cycle) if self.bit_serial else 1

    @property
    def cycle_top(self) -> int:
        """Largest digit of one bit-serial cycle, ``2**bits_per_cycle - 1``."""
        return 2 ** self.bits_per_cycle - 1

    def _full_range(self) -> float:
        return self.v_max

    def check_range(self, voltages: np.ndarray) -> None:
        """Raise ``ValueError`` if a voltage exceeds ``v_max`` and clipping is off."""
        if self.clip:
            return
        peak = float(np.max(np.abs(voltages)))
        # half a step of tolerance: such a value rounds to the end code anyway
        if peak > self.v_max + 0.5 * self.step:
            over = int(np.count_nonzero(np.abs(voltages) > self.v_max + 0.5 * self.step))
            raise ValueError(f"voltages: {over} value(s) exceed the DAC range, largest |V| = {peak:g} V > "
                             f"v_max={self.v_max:g} V; scale the inputs or build the DAC with clip=True")

    def convert(self, voltages) -> np.ndarray:
        """Quantized row voltages (V), same shape as ``voltages`` (V): the read's DAC
        (:func:`crossbar.circuits.conversion.dac_reference`, the twin of the kernel a read runs)."""
        v = as_float_array("voltages", voltages)
        self.check_range(v)
        out, _, _ = dac_reference(v, np.inf, self.step, float(self.max_code))
        return out


@dataclass(frozen=True)
class ADC(_SignedCodes):
    """Column converter: quantizes each current to ``bits`` signed levels.

    Currents beyond ``full_scale`` saturate at the end codes, as a real ADC
    does; the array counts every saturation (``counters.adc_saturations``).

    Parameters
    ----------
    bits : int
        Resolution including the sign (2..24).
    full_scale : float
        Largest current magnitude that converts without saturating, amperes.
    circuit : ADCCircuit
        The architecture and its non-idealities (default the ideal uniform
        quantizer; see :mod:`crossbar.circuits.adc`). Each array builds its own
        converters of this design (:meth:`crossbar.CrossbarArray.converters`).
    """

    bits: int = 8
    full_scale: float = 1e-4
    circuit: ADCCircuit = field(default_factory=ADCCircuit)

    def __post_init__(self):
        check_int("adc.bits", self.bits, 2, 24)
        check_range("adc.full_scale", self.full_scale, 0.0, low_open=True, unit="A")
        if not isinstance(self.circuit, ADCCircuit):
            raise ValueError(f"adc.circuit={self.circuit!r} is not allowed; a crossbar.ADCCircuit is required")

    def _full_range(self) -> float:
        return self.full_scale

    def convert(self, currents):
        """Quantized currents (A) and the number of saturated outputs, through the ideal quantizer.

        Only for the uniform design: converters with mismatch differ one from
        another, so they convert on an array (:meth:`crossbar.CrossbarArray.converters`).
        """
        if not self.circuit.is_uniform:
            raise ValueError(f"adc.kind={self.circuit.kind!r}: each built converter has its own mismatch; "
                             "convert on an array's converters (CrossbarArray.converters(adc).convert)")
        i = as_float_array("currents", currents)
        out, saturated = adc_reference(i, self.step, float(self.max_code))  # the twin of the read's kernel
        return out, int(np.count_nonzero(saturated))

    @classmethod
    def calibrated(cls, sample_currents, bits: int = 8, percentile: float = 100.0,
                   margin: float = 1.0, circuit: Optional[ADCCircuit] = None) -> "ADC":
        """An ADC whose full scale covers typical currents.

        Parameters
        ----------
        sample_currents : array_like
            Currents seen in representative products, amperes.
        bits : int
            Resolution of the ADC.
        percentile : float
            Percentile of ``|I|`` the full scale must reach (0 < p <= 100);
            below 100 trades rare saturation for finer steps.
        margin : float
            Factor (>= 1) on that percentile, head-room for unseen inputs.
        circuit : ADCCircuit, optional
            The converters' design (default uniform).
        """
        i = as_float_array("sample_currents", sample_currents)
        check_range("percentile", percentile, 0.0, 100.0, low_open=True)
        check_range("margin", margin, 1.0)
        full_scale = float(np.percentile(np.abs(i), percentile)) * margin
        if full_scale <= 0.0:
            raise ValueError("sample_currents are all zero; an ADC cannot be calibrated from them")
        return cls(bits=bits, full_scale=full_scale, circuit=ADCCircuit() if circuit is None else circuit)

    def replace(self, **changes) -> "ADC":
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)


READ_SCHEMES = ("grounded", "floating", "1t1r", "v_half")
"""What a read does with the lines it neither drives nor senses (see :class:`Peripherals`)."""


@dataclass(frozen=True)
class Peripherals:
    """What sits around an array: DAC, ADC, the wires and the read scheme. ``None`` switches a part off.

    ``read_scheme`` says what a read does with the lines it neither drives nor
    senses: ``grounded`` (a passive array with those lines held at 0 V, which
    carries no sneak current; the default, and the model of the versions
    before), ``floating`` (a passive array with them left open: currents sneak
    from driven rows through unsensed columns and undriven rows into the
    sensed columns, wires or not), ``1t1r`` (access transistors switch off
    the cells of undriven rows; every column at virtual ground) or ``v_half``
    (a passive array with them held at half the DAC's ``v_max``: the undriven
    rows' cells pass a current into the sensed columns whatever the inputs,
    which the converters see and the digital side takes off, see
    :meth:`crossbar.CrossbarArray.read_bias_current`). A read that drives
    every row and senses every column is the same in all four.

    ``device_read_scheme`` says the same for reads of one device (verify,
    read-back) at ``device_read_voltage`` volts: ``grounded`` (exact),
    ``v_half`` (the others at half the read voltage: half-selected cells of
    the sensed column leak into it) or ``floating`` (the others open: sneak
    paths), see :mod:`crossbar.circuits.device_reads`. Arrays with access transistors
    (``read_scheme="1t1r"``) read devices exactly, so they refuse the others.

    ``write_scheme`` (a :class:`crossbar.WriteScheme`) makes the array passive
    for writes too: its in-situ pulses are written cell by cell and disturb
    the cells that share their lines (:meth:`crossbar.CrossbarArray.write_passive`).
    ``None``: writes disturb nothing (access transistors).

    ``seconds_per_read`` and ``seconds_per_write`` make the array's simulated
    clock (:attr:`crossbar.CrossbarArray.time`) move by itself: every read
    call (one input vector, or a batch read at once: a network's time step),
    device read call and write call lets that many seconds pass after it, so
    drift and read noise with memory evolve as a network reads and trains.
    0 (the default): the clock moves only by
    :meth:`crossbar.CrossbarArray.advance_time`.
    """

    dac: Optional[DAC] = None
    adc: Optional[ADC] = None
    wires: Optional["WireResistance"] = None  # noqa: F821 (crossbar.circuits.wires)
    read_scheme: str = "grounded"
    write_scheme: Optional["WriteScheme"] = None  # noqa: F821 (crossbar.devices.disturb)
    device_read_scheme: str = "grounded"
    device_read_voltage: float = 0.2
    seconds_per_read: float = 0.0
    seconds_per_write: float = 0.0

    def __post_init__(self):
        from crossbar.devices.disturb import WriteScheme
        from crossbar.circuits.wires import WireResistance

        if self.write_scheme is not None and not isinstance(self.write_scheme, WriteScheme):
            raise ValueError(f"write_scheme={self.write_scheme!r} is not allowed; a crossbar.WriteScheme or None")
        if self.write_scheme is not None and self.read_scheme == "1t1r":
            raise ValueError("write_scheme with read_scheme='1t1r': an array with access transistors has no "
                             "half-selected cells to disturb; choose a passive read scheme or no write scheme")

        check_choice("array.read_scheme", self.read_scheme, READ_SCHEMES)
        from crossbar.circuits.device_reads import DEVICE_READ_SCHEMES

        check_choice("array.device_read_scheme", self.device_read_scheme, DEVICE_READ_SCHEMES)
        check_range("array.device_read_voltage", self.device_read_voltage, 0.0, 20.0, low_open=True, unit="V")
        check_range("array.seconds_per_read", self.seconds_per_read, 0.0, 3600.0, unit="s")
        check_range("array.seconds_per_write", self.seconds_per_write, 0.0, 3600.0, unit="s")
        if self.device_read_scheme != "grounded" and self.read_scheme == "1t1r":
            raise ValueError(f"device_read_scheme={self.device_read_scheme!r} with read_scheme='1t1r': access "
                             "transistors shut out the unselected cells, so device reads are exact; choose a passive "
                             "read scheme or device_read_scheme='grounded'")
        if self.dac is not None and not isinstance(self.dac, DAC):
            raise ValueError(f"dac={self.dac!r} is not allowed; a DAC or None is required")
        if self.adc is not None and not isinstance(self.adc, ADC):
            raise ValueError(f"adc={self.adc!r} is not allowed; an ADC or None is required")
        if self.wires is not None and not isinstance(self.wires, WireResistance):
            raise ValueError(f"wires={self.wires!r} is not allowed; a WireResistance or None is required")
