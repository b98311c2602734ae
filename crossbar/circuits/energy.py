"""Operation counters of an array and their energy (J) and latency (s).

The array's own read energy is physical: each product dissipates
``sum_ij V_i^2 G_ij`` watts in the cells for ``read_time`` seconds. Converter
and programming costs are per operation and can be set by the user.

Default costs
-------------
- ADC: 8-bit SAR at 1.28 GS/s, ISAAC's: eight of them take 16 mW, i.e.
  1.5625 pJ and 0.78 ns per conversion; crossbar read cycle 100 ns
  (Shafiee et al., ISCA 2016, Table 6; up to version 0.2.0 this default was
  12.5 pJ, 16 mW charged to one converter instead of eight).
- DAC: 1 pJ per conversion; programming pulse 100 ns and, for the energy,
  the pulse amplitude squared times the conductance over the pulse width.
  Order-of-magnitude assumptions, not measurements: set your own.

Converter circuits (:meth:`EnergyCosts.for_adc`)
------------------------------------------------
- SAR: energy ``F 2**bits`` with Walden's figure of merit ``F`` taken from the
  ADC above (``adc_energy / 2**adc_reference_bits``: 1.5625 pJ / 2**8 = 6.1 fJ
  per step); ``bits + 1`` clock cycles a conversion (sampling, then one per
  bit) at the rate above; one converter
  per ``columns_per_converter`` columns, converting one after the other.
  R. Walden, "Analog-to-digital converter survey and analysis", IEEE JSAC
  17(4), 1999.
- Ramp (single slope): each column's comparator and counter run for ``2**bits``
  steps of ``ramp_step_time`` (1 ns) at ``ramp_step_energy`` (20 fJ, an
  assumption of the order of column-parallel image-sensor converters) a
  step; every column converts at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from crossbar.validation import check_range


@dataclass(frozen=True)
class EnergyCosts:
    """Per-operation costs. Joules and seconds.

    Parameters
    ----------
    adc_energy : float
        Energy of one ADC conversion, J.
    adc_time : float
        Time of one conversion, s; the columns of an array share ``adc_count`` ADCs.
    adc_count : int-like float
        ADCs per array working in parallel (ISAAC shares one per 128 columns; the
        default 8 is an assumption).
    dac_energy : float
        Energy of one DAC conversion, J.
    read_time : float
        Duration of one analog read (one input vector), s.
    pulse_time : float
        Duration of one programming pulse, s. The devices of one row are
        programmed together, so a pulse on a row costs ``pulse_time`` once.
    pulse_voltage : float
        Pulse amplitude used for the energy estimate, V.
    pulse_conductance : float
        Conductance assumed during a pulse for its energy, S.
    adc_reference_bits : int
        Resolution of the converter whose ``adc_energy`` and ``adc_time`` these
        are; :meth:`for_adc` scales them from it.
    """

    adc_energy: float = 16e-3 / (8 * 1.28e9)
    adc_time: float = 0.78e-9
    adc_count: float = 8.0
    dac_energy: float = 1e-12
    read_time: float = 100e-9
    pulse_time: float = 100e-9
    pulse_voltage: float = 2.5
    pulse_conductance: float = 200e-6
    adc_reference_bits: int = 8

    def __post_init__(self):
        for name in ("adc_energy", "adc_time", "dac_energy", "read_time", "pulse_time",
                     "pulse_voltage", "pulse_conductance"):
            check_range(f"costs.{name}", getattr(self, name), 0.0)
        check_range("costs.adc_count", self.adc_count, 1.0)
        from crossbar.validation import check_int

        check_int("costs.adc_reference_bits", self.adc_reference_bits, 2, 24)

    def for_adc(self, circuit, bits: int, array_cols: int, ramp_step_energy: float = 20e-15,
                ramp_step_time: float = 1e-9) -> "EnergyCosts":
        """These costs with the converters' energy, time and count of a circuit (see the module text).

        ``uniform`` keeps the costs as they are (set them yourself); ``sar`` and
        ``ramp`` scale them with ``bits``.

        Parameters
        ----------
        circuit : crossbar.ADCCircuit
        bits : int
        array_cols : int
            Columns of an array (all of them have a converter path).
        ramp_step_energy, ramp_step_time : float
            A ramp step's energy per column (J) and duration (s).
        """
        from crossbar.circuits.adc import ADCCircuit
        from crossbar.validation import check_int

        if not isinstance(circuit, ADCCircuit):
            raise ValueError(f"circuit={circuit!r} is not allowed; a crossbar.ADCCircuit is required")
        check_int("adc.bits", bits, 2, 24)
        check_int("array_cols", array_cols, 1)
        check_range("ramp_step_energy", ramp_step_energy, 0.0, unit="J")
        check_range("ramp_step_time", ramp_step_time, 0.0, low_open=True, unit="s")
        if circuit.kind == "sar":
            figure_of_merit = self.adc_energy / 2.0 ** self.adc_reference_bits
            cycle = self.adc_time / (self.adc_reference_bits + 1.0)
            return dataclasses.replace(self, adc_energy=figure_of_merit * 2.0 ** bits, adc_time=cycle * (bits + 1),
                                       adc_count=float(circuit.n_converters(array_cols)), adc_reference_bits=bits)
        if circuit.kind == "ramp":
            steps = 2.0 ** bits
            return dataclasses.replace(self, adc_energy=ramp_step_energy * steps, adc_time=ramp_step_time * steps,
                                       adc_count=float(array_cols), adc_reference_bits=bits)
        return self

    @property
    def pulse_energy(self) -> float:
        """Energy of one programming pulse, J."""
        return self.pulse_voltage ** 2 * self.pulse_conductance * self.pulse_time


@dataclass
class OperationCounts:
    """What an array has done so far. Reset with :meth:`reset`.

    Attributes
    ----------
    products : int
        Calls of ``mvm``.
    input_vectors : int
        Input vectors driven (the batch sizes summed).
    dac_conversions, adc_conversions : int
    adc_saturations : int
        Outputs that hit the ADC's end codes.
    device_reads : int
        Devices read one by one (``read_conductance``).
    programming_pulses : int
        SET, RESET and update pulses.
    row_pulse_steps : int
        Pulse steps counted per row (a row's devices are pulsed together).
    cell_energy : float
        Energy dissipated in the cells by reads, J (physical, ``V^2 G t``).
    """

    products: int = 0
    input_vectors: int = 0
    dac_conversions: int = 0
    adc_conversions: int = 0
    adc_saturations: int = 0
    device_reads: int = 0
    programming_pulses: int = 0
    row_pulse_steps: int = 0
    cell_energy: float = 0.0

    def reset(self) -> None:
        """Set every counter back to zero."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, f.default)

    def add(self, other: "OperationCounts") -> "OperationCounts":
        """Sum of two counts (for several arrays)."""
        return OperationCounts(**{name: getattr(self, name) + getattr(other, name) for name in _COUNT_NAMES})

    def copy(self) -> "OperationCounts":
        """An independent copy of these counts."""
        return OperationCounts(**vars(self))

    def accumulate_change(self, after: "OperationCounts", before: "OperationCounts") -> None:
        """Add what was counted between two snapshots, ``after - before``, in place."""
        for name in _COUNT_NAMES:
            setattr(self, name, getattr(self, name) + getattr(after, name) - getattr(before, name))

    def accumulate(self, other: "OperationCounts") -> None:
        """Add ``other``'s counts to these, in place."""
        # the names, not dataclasses.fields(): this runs for every tile of every product (3 us less a call)
        for name in _COUNT_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self) -> dict:
        """The counts as a plain dict (JSON-ready)."""
        return {name: getattr(self, name) for name in _COUNT_NAMES}

    @classmethod
    def from_dict(cls, values: dict, source: str = "counters") -> "OperationCounts":
        """Counts from :meth:`to_dict`; ``ValueError`` naming ``source`` for a missing, negative or
        non-whole count."""
        if not isinstance(values, dict) or set(values) != set(_COUNT_NAMES):
            got = sorted(values) if isinstance(values, dict) else type(values).__name__
            raise ValueError(f"{source}: the counts {got} are not those of OperationCounts {list(_COUNT_NAMES)}")
        out = {}
        for name in _COUNT_NAMES:
            value = values[name]
            if name == "cell_energy":
                out[name] = check_range(f"{source}.{name}", value, 0.0, unit="J")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{source}.{name}={value!r} is not allowed; a count (integer >= 0) is required")
            else:
                out[name] = value
        return cls(**out)

    def energy(self, costs: EnergyCosts = EnergyCosts()) -> float:
        """Total energy, J."""
        return (self.cell_energy + self.dac_conversions * costs.dac_energy
                + self.adc_conversions * costs.adc_energy
                + self.programming_pulses * costs.pulse_energy)

    def latency(self, costs: EnergyCosts = EnergyCosts()) -> float:
        """Total time if nothing overlaps, s: reads, conversions and row pulses."""
        return (self.input_vectors * costs.read_time
                + self.adc_conversions * costs.adc_time / costs.adc_count
                + self.row_pulse_steps * costs.pulse_time)

    def summary(self, costs: EnergyCosts = EnergyCosts()) -> str:
        """One line for people: counts, energy in nJ, latency in us."""
        return (f"{self.products} products ({self.input_vectors} vectors), {self.adc_conversions} ADC "
                f"({self.adc_saturations} saturated), {self.programming_pulses} pulses, "
                f"{self.device_reads} device reads; energy {self.energy(costs) * 1e9:.3g} nJ, "
                f"latency {self.latency(costs) * 1e6:.3g} us")


_COUNT_NAMES = tuple(f.name for f in dataclasses.fields(OperationCounts))
