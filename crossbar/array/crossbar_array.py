"""One physical crossbar array: its devices' true state and what can be done to it (:class:`CrossbarArray`).

The array is put together from one module per concern of :mod:`crossbar.array`: the devices drawn at
build (:mod:`~crossbar.array.device_draws`), the streams kept apart from its generator
(:mod:`~crossbar.array.streams`), writes by pulses (:mod:`~crossbar.array.pulse_writes`), writes towards
targets (:mod:`~crossbar.array.target_writes`), read-scheme solves (:mod:`~crossbar.array.read_schemes`),
device reads (:mod:`~crossbar.array.device_reads`) and its snapshot (:mod:`~crossbar.array.snapshot`).
This module keeps the state itself: the conductances and their refresh, the clock, the counters, the
converters and the product of one read (:meth:`CrossbarArray.mvm`).

Units: conductances in siemens, voltages in volts, currents in amperes,
times in seconds. Shapes: conductance matrices are (rows, cols); inputs to a
product are (batch, rows) and outputs (batch, cols).
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from crossbar.array.device_draws import (FAULT_NONE, FAULT_STUCK_HIGH, FAULT_STUCK_LOW,  # noqa: F401
                                         apply_faults, draw_device_spread, draw_starting_conductance)
from crossbar.array.device_reads import DeviceReads
from crossbar.array.memory import BYTES_PER_DEVICE, check_array_memory, estimated_array_bytes  # noqa: F401
from crossbar.array.pulse_writes import PulseWrites
from crossbar.array.read_schemes import ReadSchemes
from crossbar.array.report import ProgramReport
from crossbar.array.snapshot import ARRAY_STATE_FORMAT, array_state, check_array_state, load_array_state  # noqa: F401
from crossbar.array.streams import (CONVERTER_STREAM, TABLE_STREAM, converter_seed,  # noqa: F401
                                    fluctuation_state, relaxation_generator, stream_sequence, table_choice)
from crossbar.array.target_writes import TargetWrites
from crossbar.circuits.adc import ConverterBank
from crossbar.circuits.energy import EnergyCosts, OperationCounts
from crossbar.circuits.peripherals import ADC, Peripherals
from crossbar.devices.models import DeviceModel
from crossbar.devices.programming import scheme_for
from crossbar.read import state as _state
from crossbar.read.plan import Drive, Read, ReadPlan  # noqa: F401  (CrossbarArray.mvm is a plan of one read)
from crossbar.read.state import changes, counts_lock, flush_counts, hold_counts  # noqa: F401  (their home before)
from crossbar.validation import as_float_array, check_int, check_range, make_generator

__all__ = ["CrossbarArray", "ProgramReport", "check_array_memory", "estimated_array_bytes"]


class CrossbarArray(ReadSchemes, DeviceReads, PulseWrites, TargetWrites):
    """A ``rows x cols`` array of memristors with its peripherals.

    The array holds the true conductance of every device (``conductance``),
    the fault map, each device's own window and drift exponent, and counters
    of the work done. It knows nothing of neural networks.

    Its methods come by concern: this class keeps the state (conductances,
    clock, counters, converters, :meth:`mvm`, :meth:`state`);
    :class:`~crossbar.array.pulse_writes.PulseWrites`,
    :class:`~crossbar.array.target_writes.TargetWrites`,
    :class:`~crossbar.array.read_schemes.ReadSchemes` and
    :class:`~crossbar.array.device_reads.DeviceReads` bring the writes and reads.

    Parameters
    ----------
    rows, cols : int
        Size of the array (word lines x bit lines).
    device : DeviceModel
        The technology (see :func:`crossbar.preset`).
    seed : int, SeedSequence, Generator or None
        Source of every random number of this array: the same seed gives the
        same devices, faults, programming results and read noise.
    peripherals : Peripherals, optional
        DAC, ADC and wires; all off when omitted.
    costs : EnergyCosts, optional
        Per-operation costs for :meth:`energy` and :meth:`latency`.

    Examples
    --------
    >>> import crossbar, numpy as np
    >>> array = crossbar.CrossbarArray(4, 3, crossbar.preset("ideal"), seed=0)
    >>> report = array.program(np.full((4, 3), 50e-6))
    >>> array.mvm(np.full((1, 4), 0.2))  # amperes
    array([[4.e-05, 4.e-05, 4.e-05]])
    """


    def __init__(self, rows: int, cols: int, device: DeviceModel, seed=None,
                 peripherals: Optional[Peripherals] = None, costs: Optional[EnergyCosts] = None):
        self.rows = check_int("rows", rows, 1)
        self.cols = check_int("cols", cols, 1)
        if not isinstance(device, DeviceModel):
            raise ValueError(f"device={device!r} is not allowed; a crossbar.DeviceModel is required "
                             "(see crossbar.preset)")
        check_array_memory(self.rows, self.cols, device)
        self.device = device
        self.peripherals = Peripherals() if peripherals is None else peripherals
        if not isinstance(self.peripherals, Peripherals):
            raise ValueError(f"peripherals={peripherals!r} is not allowed; a crossbar.Peripherals is required")
        self.costs = EnergyCosts() if costs is None else costs
        if self.peripherals.write_scheme is not None and device.two_pulse is not None:
            raise ValueError(f"write_scheme with device {device.name!r}: Li et al.'s two-pulse writes go through "
                             "access transistors (1T1R), which no half-selected cell shares; leave it out")
        if self.peripherals.device_read_scheme != "grounded" and device.two_pulse is not None:
            raise ValueError(f"device_read_scheme={self.peripherals.device_read_scheme!r} with device {device.name!r}: "
                             "Li et al.'s two-pulse cells sit behind access transistors (1T1R), which shut out the "
                             "unselected cells of a device read; leave it 'grounded'")
        self.scheme = scheme_for(device)
        self.rng = make_generator(seed)
        self._converter_seed = converter_seed(self.rng)  # before any draw: a generator without a seed is hashed
        self._converters: Dict[tuple, ConverterBank] = {}  # (circuit, bits) -> the converters as built
        self._counters = OperationCounts()
        self._plan = None  # the one-read plan of mvm, made at its first call
        self._pulse_limits = None  # (g_low, g_high, pulse_limits()) of the windows last asked about
        self.time = 0.0
        self.version = 0  # bumped at every change of the conductances (plans made from them go stale)
        self.gain, self.faults, self.drift_nu = draw_device_spread(device, self.rng, self.shape)
        self.g_low = device.g_min * self.gain
        self.g_high = device.g_max * self.gain
        self.stuck = self.faults != FAULT_NONE
        self.programmed_at = np.zeros(self.shape)
        # relaxation: each device's normal of its last write (NaN: never written, nothing relaxes)
        self.relaxation_z = None if device.relaxation_model is None else np.full(self.shape, np.nan)
        self._relaxation_rng = relaxation_generator(device, self._converter_seed)
        g = draw_starting_conductance(device, self.rng, self.gain, self.g_low)
        self._g0 = apply_faults(g, self.faults, self.g_low, self.g_high)
        # SET gate voltage each device last received (two-pulse devices), volts; NaN = never
        self.gate_voltage = np.full(self.shape, np.nan)
        self.table_index = table_choice(device, self.shape, self._converter_seed)
        self.fluctuation = fluctuation_state(device, self.shape, self._converter_seed)
        self._refresh()

    @property
    def rng(self) -> np.random.Generator:
        """The generator of every random number of this array (devices, programming, read noise seeds)."""
        return self._rng

    @rng.setter
    def rng(self, value: np.random.Generator) -> None:
        self._rng = value
        _state.note_change()  # read plans that took this array's generator look again

    @property
    def counters(self) -> OperationCounts:
        """The work counted on this array so far (a read plan's pending counts written first)."""
        if _state.counts_pending():
            flush_counts()
        return self._counters

    @counters.setter
    def counters(self, value: OperationCounts) -> None:
        if not isinstance(value, OperationCounts):
            raise ValueError(f"counters={value!r} is not allowed; a crossbar.OperationCounts is required")
        flush_counts()  # pending counts belong to the counters being replaced
        self._counters = value

    def __getstate__(self) -> dict:
        flush_counts()  # a copy carries every count
        return self.__dict__.copy()

    # ------------------------------------------------------------------ state
    def _refresh(self) -> None:
        """Recompute the effective conductance after a change (and mark plans made from it stale)."""
        self.version += 1
        _state.note_change()
        if self.drift_nu is None:
            g = self._g0
        else:
            elapsed = np.maximum(self.time - self.programmed_at, self.device.drift_t0)
            g = self._g0 * (elapsed / self.device.drift_t0) ** (-self.drift_nu)
        if self.relaxation_z is not None:
            from crossbar.devices.relaxation import relaxation_shift

            written = ~np.isnan(self.relaxation_z)
            shift = relaxation_shift(self.device.relaxation_model, self.time - self.programmed_at,
                                     np.where(written, self.relaxation_z, 0.0))
            g = np.maximum(g + np.where(written, shift, 0.0), 0.0)  # a conductance cannot relax below zero
        self._drifted = g
        if self.fluctuation is not None:  # a conductance cannot fluctuate below zero
            g = np.maximum(g + self.fluctuation.deviation(g), 0.0)
        self._conductance = np.ascontiguousarray(g)
        self._row_conductance = self._conductance.sum(axis=1)
        self._effective = None  # with wires, solved again when a read next needs it
        self._read_effective = {}  # with wires and floating or 1T1R reads: (driven rows, columns) -> G_eff
        self._sensed = None  # what device reads report under a passive device read scheme, solved when needed
        self._read_bias = {}  # v_half reads: (driven rows, columns) -> the held lines' current and its variance

    @property
    def conductance(self) -> np.ndarray:
        """True conductance of every device now (drift and the fluctuations of read noise with memory
        included), siemens, shape (rows, cols).

        A read-only view: change it through :meth:`program` or the update methods.
        """
        view = self._conductance.view()
        view.flags.writeable = False
        return view

    @property
    def settled_conductance(self) -> np.ndarray:
        """Conductance of every device now without the fluctuations of read noise with memory (drift
        included), siemens, shape (rows, cols) (read-only): what a write starts from."""
        view = self._drifted.view()
        view.flags.writeable = False
        return view

    @property
    def varies_between_reads(self) -> bool:
        """Whether the conductances move as reads pass: the clock advances at every read
        (``peripherals.seconds_per_read > 0``) and something follows it (drift, read noise with memory)."""
        return self.peripherals.seconds_per_read > 0.0 and self._follows_clock

    @property
    def shape(self) -> tuple:
        """``(rows, cols)``."""
        return (self.rows, self.cols)

    @property
    def memory_bytes(self) -> int:
        """Bytes of the array's per-device state (conductances, gains, faults, drift, times, the
        effective conductances with wires); its own read plan, if made, not included."""
        fluctuation = 0 if self.fluctuation is None else self.fluctuation.nbytes
        return fluctuation + int(sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray)))

    def row_conductance(self) -> np.ndarray:
        """Each row's conductance summed over all columns, siemens, shape (rows,) (read-only).

        A row driven at ``V`` dissipates ``V^2`` times this in its cells.
        """
        view = self._row_conductance.view()
        view.flags.writeable = False
        return view


    # ------------------------------------------------------------------ clock
    def advance_time(self, seconds: float) -> None:
        """Let ``seconds`` pass: drift acts on every device since its last write, and the 1/f sources and
        telegraph traps of read noise with memory move on (:mod:`crossbar.devices.temporal_noise`)."""
        check_range("seconds", seconds, 0.0, unit="s")
        if seconds == 0.0:
            return
        self._let_pass(float(seconds))
        if self._follows_clock:
            self._refresh()

    def _let_pass(self, seconds: float) -> None:
        """Move the clock and the fluctuations on by ``seconds`` (>= 0); the caller refreshes."""
        self.time += seconds
        if self.fluctuation is not None and seconds > 0.0:
            self.fluctuation.advance(seconds)

    @property
    def _follows_clock(self) -> bool:
        """Whether the conductances depend on the clock (drift, relaxation, read noise with memory)."""
        return self.drift_nu is not None or self.relaxation_z is not None or self.fluctuation is not None

    def _after_reads(self, calls: int = 1) -> None:
        """The clock moves on by ``calls`` reads (the peripherals' ``seconds_per_read``; nothing at 0)."""
        if self.peripherals.seconds_per_read > 0.0:
            self.advance_time(calls * self.peripherals.seconds_per_read)

    # ---------------------------------------------------------------- reading
    def converters(self, adc: ADC) -> ConverterBank:
        """The column converters of this array for the ADC design ``adc`` (its circuit and bits), built at
        the first call and the same ever after (kept by :meth:`state`).

        Their mismatch comes from a stream of this array's seed kept for its
        converters, keyed by the resolution, and never from :attr:`rng`: the
        devices' numbers do not depend on whether or when converters are
        built, and designs that differ only in their sigmas scale the same
        normals (see :meth:`crossbar.circuits.adc.ConverterBank.draw`).
        """
        if not isinstance(adc, ADC):
            raise ValueError(f"adc={adc!r} is not allowed; a crossbar.ADC is required")
        key = (adc.circuit, adc.bits)
        bank = self._converters.get(key)
        if bank is None:
            sequence = stream_sequence(self._converter_seed, CONVERTER_STREAM, adc.bits)
            bank = ConverterBank.draw(adc.circuit, adc.bits, self.cols, np.random.default_rng(sequence))
            self._converters[key] = bank
        return bank

    def mvm(self, voltages, reference: bool = False) -> np.ndarray:
        """Column currents of a batch of row-voltage vectors, ``I = V @ G``.

        A :class:`crossbar.ReadPlan` of one read of the whole array: the DAC
        (if any) quantizes the voltages; the currents are ``V @ G``, or ``V @
        G_eff`` with wire resistance (:meth:`effective_conductance`); read
        noise is added output-referred with each column's exact variance
        ``sum_i V_i^2 (s G_ij)^2`` (``s`` the relative read noise, ``G`` the true
        conductances), drawn afresh for every vector from this array's
        generator; the ADC (if any) quantizes.

        Parameters
        ----------
        voltages : array_like, shape (batch, rows)
            Row voltages, volts.
        reference : bool
            Compute with the plan's numpy twin (the same numbers).

        Returns
        -------
        ndarray, shape (batch, cols)
            Column currents, amperes.

        Raises
        ------
        ValueError
            For NaN or infinite voltages, voltages beyond the DAC's range, or finite voltages so large that
            the currents leave float64's range (nothing is returned as infinite or NaN).
        """
        v = np.asarray(voltages)
        if v.ndim != 2 or v.shape[1] != self.rows or v.shape[0] == 0:
            raise ValueError(f"voltages has shape {v.shape}; shape (batch >= 1, {self.rows}) required")
        if v.dtype != np.float64 or not v.flags.c_contiguous:
            v = as_float_array("voltages", v, shape=(None, self.rows))
        if self._plan is None:
            whole = Read(self, (Drive((0, self.rows), 0, 1),), (0, self.cols),
                         tuple((j, 1) for j in range(self.cols)))
            self._plan = ReadPlan([whole], self.rows, self.cols, volts_per_input=1.0, output_unit=1.0,
                                  dac=self.peripherals.dac, adc=self.peripherals.adc)
        unbounded = self.peripherals.dac is None  # a DAC refuses or clips what it cannot drive: no overflow
        try:
            if unbounded:
                with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below, in one line
                    currents = self._plan.read(v, reference=reference)
            else:
                currents = self._plan.read(v, reference=reference)
        except ValueError:
            as_float_array("voltages", v)  # names NaN first
            if self.peripherals.dac is not None:
                self.peripherals.dac.check_range(v)
            raise
        if unbounded and not np.all(np.isfinite(currents)):  # finite volts whose currents pass float64's range
            raise ValueError(f"voltages up to {float(np.max(np.abs(v))):.3g} V give column currents beyond the range "
                             "of float64 (infinite or NaN): drive the array with physical read voltages (a few "
                             "volts at most)")
        return currents


    # ------------------------------------------------------------ snapshot
    def state(self) -> Dict[str, np.ndarray]:
        """Everything that makes this array this array now, as named arrays (no objects).

        The devices' true base conductances (S), SET gate voltages (V), fault
        map, window gains and drift exponents, each device's time of its last
        write and the array's clock (s), the state of its random generator and
        its counters. :meth:`load_state` on an array of the same size and
        device makes it continue exactly as this one would: the same reads,
        updates and counts.
        """
        return array_state(self)

    def check_state(self, state: Dict[str, np.ndarray], source: str = "state") -> dict:
        """Check a :meth:`state` against this array; return its values, or ``ValueError`` naming ``source``
        and the entry that does not fit. Changes nothing."""
        return check_array_state(self, state, source)

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Take the state of :meth:`state` (checked first by :meth:`check_state`; nothing changes on an error).

        The array must have the same size and the same device model.
        """
        load_array_state(self, state, source)

    # ------------------------------------------------------------------ costs
    def energy(self) -> float:
        """Energy of all work counted so far, joules."""
        return self.counters.energy(self.costs)

    def latency(self) -> float:
        """Time of all work counted so far if nothing overlaps, seconds."""
        return self.counters.latency(self.costs)

    def __repr__(self) -> str:
        g = self._conductance
        return (f"CrossbarArray({self.rows}x{self.cols}, device={self.device.name!r}, "
                f"G {g.min() * 1e6:.1f}..{g.max() * 1e6:.1f} uS, stuck {int(self.stuck.sum())})")
