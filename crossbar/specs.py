"""The physical layer's own descriptions: an array, its converters and its wires, as an experiment file says them.

Each spec is a frozen dataclass validated when built, whose fields carry their
unit, meaning and allowed values (:func:`crossbar.settings.setting`); its
``SECTION`` is the table of the experiment file it is (``[array]``,
``[adc]``, ``[dac]``, ``[wires]``). The device is :class:`crossbar.DeviceModel`
(the file's ``[device]`` overrides a preset's). The specs build the parts the
array simulates: :meth:`ArraySpec.peripherals`, :meth:`AdcSpec.circuit`,
:meth:`WiresSpec.resistance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from crossbar.circuits.adc import ADCCircuit
from crossbar.circuits.adc_architectures import adc_architecture_names
from crossbar.circuits.device_reads import DEVICE_READ_SCHEMES
from crossbar.circuits.peripherals import DAC, INPUT_CONVERSIONS, READ_SCHEMES, Peripherals
from crossbar.circuits.wires import WIRE_SOLVERS, WireResistance
from crossbar.devices.disturb import WRITE_SCHEMES, WriteScheme
from crossbar.settings import check_settings, setting

ADC_RANGE_MODES = ("outputs", "array_max", "cell_step", "calibration")
"""How a matrix's ADC full scale is set (see :meth:`mapping.MappedMatrix.adc_full_scale_by`; ``calibration``
from sample inputs, :meth:`mapping.MappedMatrix.calibrate_adc`)."""

INPUT_MODES = ("parallel", "bit_serial")
"""How inputs are driven (``dac.inputs``)."""


@dataclass(frozen=True)
class ArraySpec:
    """Array size (word lines x bit lines), how many arrays the chip has (None: as many as needed), and
    what a read does with the lines it neither drives nor senses (``read_scheme``, see
    :class:`crossbar.Peripherals`); ``write_scheme`` (``v_half`` or ``v_third``, None: no disturb) writes
    in-situ pulses cell by cell with their disturb (:class:`crossbar.WriteScheme`); ``device_read_scheme``
    (``grounded``, ``v_half`` or ``floating``) says what a read of one device does with the other lines, at
    ``device_read_voltage`` volts (:mod:`crossbar.circuits.device_reads`); ``seconds_per_read`` and
    ``seconds_per_write`` let simulated time pass on every array's clock at each read (a network's time
    step) and each write (an update), so drift and read noise with memory evolve as the network runs."""

    SECTION: ClassVar[str] = "array"

    rows: int = setting(128, unit="devices", doc="word lines per array", low=2)
    cols: int = setting(64, unit="devices", doc="bit lines per array", low=2)
    count: Optional[int] = setting(None, unit="arrays", doc="arrays available (omit: as many as needed)", low=1)
    read_scheme: str = setting(
        "grounded", choices=READ_SCHEMES, written_at_default=False,
        doc="lines a read neither drives nor senses: grounded, floating, 1T1R cells off, or at V/2")
    write_scheme: Optional[str] = setting(
        None, choices=WRITE_SCHEMES, written_at_default=False,
        doc="passive writes that disturb half-selected cells (omit: none)")
    write_voltage: float = setting(2.0, unit="V", written_at_default=False, low=0.0, high=20.0, low_open=True,
                                   doc="pulse amplitude across a written cell")
    switching_voltage: float = setting(0.25, unit="V", written_at_default=False, low=0.0, high=20.0,
                                       low_open=True, doc="V0 of the switching kinetics sinh(V/V0)")
    device_read_scheme: str = setting(
        "grounded", choices=DEVICE_READ_SCHEMES, written_at_default=False,
        doc="lines a read of one device holds: grounded, at V/2, or floating")
    device_read_voltage: float = setting(0.2, unit="V", written_at_default=False,
                                         doc="read voltage of a device read (verify, read-back)")
    seconds_per_read: float = setting(
        0.0, unit="s", written_at_default=False,
        doc="simulated time each read (a time step) lets pass on the arrays' clocks")
    seconds_per_write: float = setting(
        0.0, unit="s", written_at_default=False,
        doc="simulated time each write (an update) lets pass on the arrays' clocks")

    def __post_init__(self):
        check_settings(self)
        self.peripherals()

    def writes(self) -> Optional[WriteScheme]:
        """The :class:`crossbar.WriteScheme` of ``write_scheme`` (None: writes disturb nothing)."""
        if self.write_scheme is None:
            return None
        return WriteScheme(self.write_scheme, self.write_voltage, self.switching_voltage)

    def peripherals(self, dac: Optional[DAC] = None, adc=None, wires: Optional[WireResistance] = None) -> Peripherals:
        """The :class:`crossbar.Peripherals` of this array with the given converters and wires (validated there:
        the schemes' voltages and clocks, and which schemes go together)."""
        return Peripherals(dac=dac, adc=adc, wires=wires, read_scheme=self.read_scheme, write_scheme=self.writes(),
                           device_read_scheme=self.device_read_scheme, device_read_voltage=self.device_read_voltage,
                           seconds_per_read=self.seconds_per_read, seconds_per_write=self.seconds_per_write)


@dataclass(frozen=True)
class AdcSpec:
    """Column converters: resolution (None: the preset's), full scale in output units or by another
    rule (``range_by``, :data:`ADC_RANGE_MODES`), and the circuit (``kind`` and its non-idealities, see
    :class:`crossbar.ADCCircuit`)."""

    SECTION: ClassVar[str] = "adc"

    bits: Optional[int] = setting(None, unit="bits", doc="ADC resolution including the sign", low=2, high=24)
    range: float = setting(6.0, unit="output units", doc="ADC full scale in units of each matrix's outputs",
                           low=0.0, low_open=True)
    range_by: str = setting("outputs", choices=ADC_RANGE_MODES, written_at_default=False,
                            doc="how each matrix's ADC full scale is set")
    kind: str = setting("uniform", choices=adc_architecture_names, written_at_default=False, doc="ADC architecture")
    capacitor_mismatch_sigma: float = setting(0.0, unit="1", written_at_default=False,
                                              doc="SAR unit-capacitor mismatch, relative sigma")
    comparator_offset_sigma_lsb: float = setting(
        0.0, unit="LSB", written_at_default=False,
        doc="comparator offset sigma (SAR per converter, ramp per column)")
    amplifier_gain: Optional[float] = setting(None, unit="1", written_at_default=False,
                                              doc="open-loop gain of the sense amplifier (omit: ideal)")
    columns_per_converter: int = setting(1, unit="columns", written_at_default=False,
                                         doc="columns multiplexed onto one SAR converter")

    def __post_init__(self):
        check_settings(self)
        self.circuit()

    def circuit(self) -> ADCCircuit:
        """The :class:`crossbar.ADCCircuit` of these fields (validated there)."""
        return ADCCircuit(self.kind, self.capacitor_mismatch_sigma, self.comparator_offset_sigma_lsb,
                          self.amplifier_gain, self.columns_per_converter)


@dataclass(frozen=True)
class DacSpec:
    """Row drivers: resolution (None: the preset's), and inputs driven all at once (``parallel``) or bit by
    bit (``bit_serial``), each bit's cycle converted (``per_bit``) or the cycles accumulated in the analog
    (``accumulate``), ``bits_per_cycle`` magnitude bits a cycle (:class:`crossbar.DAC`)."""

    SECTION: ClassVar[str] = "dac"

    bits: Optional[int] = setting(None, unit="bits", doc="DAC resolution including the sign", low=2, high=24)
    inputs: str = setting("parallel", choices=INPUT_MODES, written_at_default=False,
                          doc="inputs all at once or bit by bit")
    conversion: str = setting("per_bit", choices=INPUT_CONVERSIONS, written_at_default=False,
                              doc="bit-serial cycles converted per bit or accumulated")
    bits_per_cycle: int = setting(1, unit="bits", low=1, high=23, written_at_default=False,
                                  doc="magnitude bits a bit-serial cycle drives")

    def __post_init__(self):
        check_settings(self)
        if self.conversion != "per_bit" and self.inputs != "bit_serial":
            raise ValueError(f"dac.conversion={self.conversion!r} needs dac.inputs='bit_serial'")
        if self.bits_per_cycle != 1 and self.inputs != "bit_serial":
            raise ValueError(f"dac.bits_per_cycle={self.bits_per_cycle!r} needs dac.inputs='bit_serial'")

    @property
    def bit_serial(self) -> bool:
        """Whether inputs are driven bit by bit."""
        return self.inputs == "bit_serial"


@dataclass(frozen=True)
class WiresSpec:
    """Wire resistance per segment, ohms; both 0: ideal wires."""

    SECTION: ClassVar[str] = "wires"

    row_segment_ohms: float = setting(0.0, unit="ohm", doc="word-line resistance per segment", low=0.0)
    col_segment_ohms: float = setting(0.0, unit="ohm", doc="bit-line resistance per segment", low=0.0)
    solver: str = setting("iterative", choices=WIRE_SOLVERS, written_at_default=False,
                          doc="how the wire network is solved: block Gauss-Seidel (iterative) or sparse LU")
    tolerance: float = setting(1e-13, unit="1", low=0.0, high=1e-3, low_open=True, written_at_default=False,
                               doc="iterative solver: largest node-voltage move of a sweep, relative to max|V|")
    max_iterations: int = setting(10000, unit="sweeps", low=1, written_at_default=False,
                                  doc="iterative solver: sweeps before it refuses to go on")

    def __post_init__(self):
        check_settings(self)
        if (self.row_segment_ohms == 0.0) != (self.col_segment_ohms == 0.0):
            raise ValueError("wires: give both segment resistances (> 0), or both 0 for ideal wires; got "
                             f"row_segment_ohms={self.row_segment_ohms!r}, col_segment_ohms={self.col_segment_ohms!r}")

    def resistance(self) -> Optional[WireResistance]:
        """The :class:`crossbar.WireResistance` (None: ideal wires)."""
        if self.row_segment_ohms == 0.0:
            return None
        return WireResistance(self.row_segment_ohms, self.col_segment_ohms, self.solver, self.tolerance,
                              self.max_iterations)
