"""One physical crossbar array: its devices' true state and what can be done to it.

Units: conductances in siemens, voltages in volts, currents in amperes,
times in seconds. Shapes: conductance matrices are (rows, cols); inputs to a
product are (batch, rows) and outputs (batch, cols).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from crossbar.circuits.adc import ConverterBank
from crossbar.circuits.device_reads import cell_current_per_siemens, sensed_conductance
from crossbar.circuits.energy import EnergyCosts, OperationCounts
from crossbar.circuits.peripherals import ADC, Peripherals
from crossbar.circuits.wires import effective_conductance
from crossbar.devices import pulse_kernels
from crossbar.devices.models import DeviceModel
from crossbar.devices.programming import scheme_for
from crossbar.devices.pulse_tables import draw_table_index, table_arrays, table_pulse_update
from crossbar.numerics.random_streams import standard_normals, stream_seeds
from crossbar.numerics.rounding import quantize_grid
from crossbar.read import state as _state
from crossbar.read.plan import Drive, Read, ReadPlan  # noqa: F401  (CrossbarArray.mvm is a plan of one read)
from crossbar.read.state import changes, counts_lock, flush_counts, hold_counts  # noqa: F401  (their home before)
from crossbar.validation import (CHECKED_BYTES, as_float_array, check_choice, check_int, check_memory,
                                 check_pulse_counts, check_range, make_generator)

FAULT_NONE, FAULT_STUCK_LOW, FAULT_STUCK_HIGH = 0, 1, 2


@dataclass(frozen=True)
class ProgramReport:
    """Outcome of programming a target matrix.

    Attributes
    ----------
    method : str
        ``"one_shot"`` or ``"write_verify"``.
    rounds : int
        Program (and verify) rounds used; 1 for one-shot.
    pulses : int
        Programming pulses spent.
    device_reads : int
        Verify reads spent.
    residual_rms : float
        RMS of ``G - target`` over working (not stuck) devices, siemens, true state.
    within_tolerance : float
        Fraction of working devices within ``tolerance`` of target (true state);
        NaN for one-shot without a tolerance.
    tolerance : float or None
        The verify tolerance, siemens.
    n_stuck : int
        Devices that are stuck and could not be programmed (known from the
        fault map: write-and-verify does not verify them).
    failed_rows, failed_cols : ndarray of int
        0-based positions of the working devices that were still outside the
        verify band at the last verify (write-and-verify only).
    failed_errors : ndarray
        Their true ``G - target``, siemens.
    """

    method: str
    rounds: int
    pulses: int
    device_reads: int
    residual_rms: float
    within_tolerance: float
    tolerance: Optional[float]
    n_stuck: int
    failed_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), compare=False)
    failed_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), compare=False)
    failed_errors: np.ndarray = field(default_factory=lambda: np.zeros(0), compare=False)

    @property
    def n_failed(self) -> int:
        """Working devices that write-and-verify could not bring within tolerance."""
        return int(self.failed_rows.size)

    def __str__(self) -> str:
        tol = "" if self.tolerance is None else (
            f", {self.within_tolerance * 100:.2f} % within {self.tolerance * 1e6:.3g} uS")
        failed = ""
        if self.n_failed:
            worst = int(np.argmax(np.abs(self.failed_errors)))
            failed = (f"; {self.n_failed} failed verify (worst {self.failed_errors[worst] * 1e6:+.3g} uS at row "
                      f"{self.failed_rows[worst] + 1}, column {self.failed_cols[worst] + 1})")
        return (f"{self.method}: {self.rounds} round(s), {self.pulses} pulses, {self.device_reads} verify reads, "
                f"residual {self.residual_rms * 1e6:.3g} uS rms{tol}, {self.n_stuck} stuck{failed}")


class CrossbarArray:
    """A ``rows x cols`` array of memristors with its peripherals.

    The array holds the true conductance of every device (``conductance``),
    the fault map, each device's own window and drift exponent, and counters
    of the work done. It knows nothing of neural networks.

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
        self._converter_seed = _converter_seed(self.rng)
        self._converters: Dict[tuple, ConverterBank] = {}  # (circuit, bits) -> the converters as built
        self._counters = OperationCounts()
        self._plan = None  # the one-read plan of mvm, made at its first call
        self._pulse_limits = None  # (g_low, g_high, pulse_limits()) of the windows last asked about
        self.time = 0.0
        self.version = 0  # bumped at every change of the conductances (plans made from them go stale)
        shape = (self.rows, self.cols)

        # device-to-device spread of the window: one log-normal gain per device
        if device.window_spread_sigma_relative > 0.0:
            self.gain = np.exp(device.window_spread_sigma_relative * self.rng.standard_normal(shape))
        else:
            self.gain = np.ones(shape)
        self.g_low = device.g_min * self.gain
        self.g_high = device.g_max * self.gain

        u = self.rng.random(shape)
        self.faults = np.full(shape, FAULT_NONE, dtype=np.int8)
        self.faults[u < device.stuck_at_gmin_fraction] = FAULT_STUCK_LOW
        self.faults[(u >= device.stuck_at_gmin_fraction)
                    & (u < device.stuck_at_gmin_fraction + device.stuck_at_gmax_fraction)] = FAULT_STUCK_HIGH
        self.stuck = self.faults != FAULT_NONE

        if device.drift_nu != 0.0 or device.drift_nu_sigma != 0.0:
            self.drift_nu = device.drift_nu + device.drift_nu_sigma * self.rng.standard_normal(shape)
        else:
            self.drift_nu = None
        self.programmed_at = np.zeros(shape)
        # relaxation: each device's normal of its last write (NaN: never written, nothing relaxes)
        self.relaxation_z = None if device.relaxation_model is None else np.full(shape, np.nan)
        self._relaxation_rng = self._new_relaxation_rng()

        if device.initial_conductance_range is not None:
            low, high = device.initial_conductance_range
            g = self.rng.uniform(low, high, shape) * self.gain
        else:
            g = self.g_low.copy()
        self._g0 = self._apply_faults(g)
        # SET gate voltage each device last received (two-pulse devices), volts; NaN = never
        self.gate_voltage = np.full(shape, np.nan)
        self.table_index = self._draw_table_index()
        self.fluctuation = self._new_fluctuation()
        self._refresh()

    def _new_relaxation_rng(self) -> Optional[np.random.Generator]:
        """The generator of the relaxation draws (a stream of the array's seed of its own, so turning
        relaxation on moves no other draw); None without relaxation."""
        if self.device.relaxation_model is None:
            return None
        from crossbar.devices.relaxation import RELAXATION_STREAM

        return np.random.default_rng(_stream_sequence(self._converter_seed, RELAXATION_STREAM))

    def _new_fluctuation(self):
        """The 1/f sources and telegraph traps of a device with read noise with memory
        (:class:`crossbar.devices.temporal_noise.FluctuationState`, from streams of the array's seed of their own); None
        without."""
        return _fluctuation(self.device, self.shape, self._converter_seed)

    def _draw_table_index(self) -> Optional[np.ndarray]:
        """Which table of a table device's pulse law each device follows (device-to-device spread), from a
        stream of the array's seed kept apart from its generator (so the other draws do not move, and a
        reloaded array draws the same); None for other devices."""
        law = self.device.pulse_law
        if law.kind != "table" or self.device.two_pulse is not None:
            return None
        return draw_table_index(_stream_sequence(self._converter_seed, TABLE_STREAM), self.shape,
                                law.pulse_table().n_tables)

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
    def _apply_faults(self, g: np.ndarray) -> np.ndarray:
        g = np.where(self.faults == FAULT_STUCK_LOW, self.g_low, g)
        return np.where(self.faults == FAULT_STUCK_HIGH, self.g_high, g)

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

    def effective_conductance(self) -> np.ndarray:
        """What the column currents see, siemens, shape (rows, cols) (read-only): ``I = V @ G_eff``.

        Without wire resistance the true conductances. With it, the linear
        wire network's transfer (:func:`crossbar.circuits.wires.effective_conductance`),
        solved once per change of the conductances.
        """
        view = self._signal_conductance().view()
        view.flags.writeable = False
        return view

    def _signal_conductance(self) -> np.ndarray:
        """:meth:`effective_conductance` itself, not a view (for the read plans of this package)."""
        wires = self.peripherals.wires
        if wires is None:
            return self._conductance
        if self._effective is None:
            self._effective = effective_conductance(self._conductance, wires.row_segment_ohms,
                                                    wires.col_segment_ohms)
        return self._effective

    def read_effective_conductance(self, driven_rows, cols) -> np.ndarray:
        """What the sensed columns of one read see, siemens, shape (rows, cols) (read-only): ``I = V @ G_eff``
        for the drives of the driven rows, as the read scheme says (:class:`crossbar.Peripherals`).

        Parameters
        ----------
        driven_rows : sequence of (int, int)
            The read's driven row ranges (half-open).
        cols : (int, int)
            The read's sensed columns (half-open).

        Returns
        -------
        ndarray
            The array's :meth:`effective_conductance` for ``grounded`` and
            ``v_half`` reads (lines held at fixed voltages pass the driven rows'
            currents as grounded ones do; ``v_half``'s own current is
            :meth:`read_bias_current`), and for ``1t1r`` reads without wires; else a matrix whose driven rows and
            sensed columns hold the read's transfer (``floating``: one sparse
            solve of the passive network with the unused lines open, a unit
            voltage on each driven row in turn; ``1t1r``: the wire network with
            the cells of undriven rows switched off).
        """
        scheme, wires = self.peripherals.read_scheme, self.peripherals.wires
        if scheme in ("grounded", "v_half") or (scheme == "1t1r" and wires is None):
            return self.effective_conductance()
        key = _read_key(driven_rows, cols)
        found = self._read_effective.get(key)
        if found is None:
            driven = self._driven_mask(key[0])
            if scheme == "1t1r":
                found = effective_conductance(np.where(driven[:, None], self._conductance, 0.0),
                                              wires.row_segment_ohms, wires.col_segment_ohms)
            else:
                from crossbar.circuits.passive import solve_passive

                sensed = np.zeros(self.cols, dtype=bool)
                sensed[key[1][0]:key[1][1]] = True
                rows = np.flatnonzero(driven)
                unit = np.zeros((rows.size, self.rows))
                unit[np.arange(rows.size), rows] = 1.0
                solution = solve_passive(self._conductance, unit, 0.0 if wires is None else wires.row_segment_ohms,
                                         0.0 if wires is None else wires.col_segment_ohms,
                                         floating_word_lines=~driven, floating_bit_lines=~sensed)
                found = np.zeros(self.shape)
                found[rows] = np.where(sensed[None, :], solution.output_currents, 0.0)
            found.flags.writeable = False
            self._read_effective[key] = found
        return found

    def _driven_mask(self, row_ranges) -> np.ndarray:
        """The rows of half-open ``row_ranges``, as a boolean mask of shape (rows,)."""
        driven = np.zeros(self.rows, dtype=bool)
        for a, b in row_ranges:
            driven[a:b] = True
        return driven

    def read_bias_current(self, driven_rows, cols) -> Tuple[np.ndarray, np.ndarray]:
        """What the lines held at ``V_b`` (half the DAC's ``v_max``) of a ``v_half`` read put into its
        sensed columns whatever the drives: the current, amperes, and its read-noise variance, A^2, each of
        shape (sensed columns,).

        The undriven rows at ``V_b`` pass ``u(V_b) G`` through each cell into
        the sensed columns at 0 V (``u(V) = sinh(k V) / k``, ``V`` for linear
        cells); unsensed columns at ``V_b`` take nothing from them. With wire
        resistance (linear cells) the current is one solve of the passive
        network with the driven rows at 0 V (:func:`crossbar.solve_passive`);
        the variance is the cells' own, ``sum (u(V_b) sigma(G))^2``. Zero for the
        other read schemes.

        Parameters
        ----------
        driven_rows : sequence of (int, int)
            The read's driven row ranges (half-open).
        cols : (int, int)
            The read's sensed columns (half-open).
        """
        c0, c1 = int(cols[0]), int(cols[1])
        if self.peripherals.read_scheme != "v_half":
            return np.zeros(c1 - c0), np.zeros(c1 - c0)
        key = _read_key(driven_rows, cols)
        found = self._read_bias.get(key)
        if found is None:
            dac = self.peripherals.dac
            if dac is None:
                raise ValueError("read_scheme='v_half' holds the unused lines at half the DAC's v_max, and this "
                                 "array has no DAC; give the peripherals a crossbar.DAC")
            bias = dac.v_max / 2.0
            undriven = ~self._driven_mask(key[0])
            per_siemens = cell_current_per_siemens(bias, self.device.iv_nonlinearity_per_volt)
            g = self._conductance[undriven, c0:c1]
            wires = self.peripherals.wires
            if wires is None:
                current = per_siemens * g.sum(axis=0)
            else:
                from crossbar.circuits.passive import solve_passive

                held = np.full(self.cols, bias)
                held[c0:c1] = 0.0
                current = solve_passive(self._conductance, np.where(undriven, bias, 0.0)[None, :],
                                        wires.row_segment_ohms, wires.col_segment_ohms,
                                        bit_line_voltages=held).output_currents[0, c0:c1]
            sigma = self.device.read_noise_sigma_relative
            variance = (((sigma * per_siemens * g) ** 2).sum(axis=0) if self.device.read_noise_is_relative
                        else ((per_siemens * self.device.read_noise_sigma_at(g)) ** 2).sum(axis=0))
            found = (np.asarray(current, dtype=np.float64), variance)
            self._read_bias[key] = found
        return found

    def sensed_conductance(self) -> np.ndarray:
        """What a read of each device alone reports, siemens, shape (rows, cols) (read-only), before read noise:
        the true conductances for ``grounded`` device reads, else with the half-selected cells' or sneak
        paths' share (:mod:`crossbar.circuits.device_reads`, the peripherals' ``device_read_scheme``)."""
        view = self._device_read_values().view()
        view.flags.writeable = False
        return view

    def _device_read_values(self) -> np.ndarray:
        p = self.peripherals
        if p.device_read_scheme == "grounded":
            return self._conductance
        if self._sensed is None:
            self._sensed = sensed_conductance(self._conductance, p.device_read_scheme, p.device_read_voltage,
                                              self.device.iv_nonlinearity_per_volt)
        return self._sensed

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

    def _mark_programmed(self, mask) -> None:
        """Restart the drift and relaxation clock of the devices ``mask`` selects (a boolean array or a (rows,
        cols) index), and draw their relaxation normals."""
        if self.relaxation_z is not None:
            z = self._relaxation_rng.standard_normal(self.shape)  # the whole array: draws do not depend on mask
            if mask is None:
                self.relaxation_z[:] = z
            else:
                self.relaxation_z[mask] = z[mask]
        if self.drift_nu is None and self.relaxation_z is None:
            return
        if mask is None:
            self.programmed_at[:] = self.time
        else:
            self.programmed_at[mask] = self.time

    def _write_start(self, written) -> np.ndarray:
        """The base conductances a write starts from (a copy): the devices ``written`` selects (a boolean
        array or a (rows, cols) index) start from their drifted value, which their write makes their new
        base; every other device keeps its base and its own time since its last write."""
        g = self._g0.copy()
        if self.drift_nu is not None or self.relaxation_z is not None:
            g[written] = self._drifted[written]
        return g

    def _store_write(self, g: np.ndarray, written, pulses: int, row_steps: int, stuck_kept: bool = False) -> None:
        """Keep a write: ``g`` the new bases, the clocks of the devices ``written`` restarted, the pulses and
        row pulse steps counted. Stuck devices are put back at their stuck values unless ``stuck_kept`` (the
        pulse kernels leave them untouched)."""
        self._g0 = g if stuck_kept else self._apply_faults(g)
        self._mark_programmed(written)
        self.counters.programming_pulses += int(pulses)
        self.counters.row_pulse_steps += int(row_steps)
        self._let_pass(self.peripherals.seconds_per_write)  # the write's own time, before one refresh
        self._refresh()

    # ------------------------------------------------------------ programming
    def _region_shape(self, rows: slice, cols: slice) -> Tuple[int, int]:
        """Shape of a rectangular region given by two slices; it must hold a device."""
        if not isinstance(rows, slice) or not isinstance(cols, slice):
            raise ValueError(f"rows={rows!r}, cols={cols!r}: slices are required")
        shape = self._g0[rows, cols].shape
        if 0 in shape:
            raise ValueError(f"rows={rows!r}, cols={cols!r} select no device of a {self.rows}x{self.cols} array")
        return shape

    def _region(self, rows: slice, cols: slice) -> np.ndarray:
        """Boolean mask (rows, cols) of a rectangular region given by two slices."""
        self._region_shape(rows, cols)
        region = np.zeros(self.shape, dtype=bool)
        region[rows, cols] = True
        return region

    def _check_target(self, target, clip: bool, shape: tuple) -> np.ndarray:
        t = as_float_array("target", target, shape=shape)
        low, high = self.device.programmable_range
        outside = (t < low * (1 - 1e-12)) | (t > high * (1 + 1e-12))
        if np.any(outside) and not clip:
            raise ValueError(
                f"target: {int(np.count_nonzero(outside))} conductance(s) outside the programmable range "
                f"{low * 1e6:.3f}..{high * 1e6:.3f} uS (found {t.min() * 1e6:.3f}..{t.max() * 1e6:.3f} uS); "
                "rescale the weights or pass clip=True")
        # without clip=True only rounding-level (1e-12) excursions reach this clip
        t = np.clip(t, low, high)
        if self.device.n_levels is not None:
            g_min, g_max = self.device.g_min, self.device.g_max
            step = (g_max - g_min) / (self.device.n_levels - 1)
            t, _ = quantize_grid(t, g_min, step, 0, self.device.n_levels - 1)
        return t

    def program(self, target, method: str = "one_shot", tolerance: Optional[float] = None,
                max_rounds: int = 20, verify_margin_sigmas: float = 2.0, clip: bool = False,
                rows: slice = slice(None), cols: slice = slice(None)) -> ProgramReport:
        """Program the devices of a region (default: all) towards ``target``.

        Parameters
        ----------
        target : array_like, shape of the region
            Target conductances, siemens, inside ``device.programmable_range``.
            Multi-level devices are targeted at the nearest level.
        method : {"one_shot", "write_verify"}
            ``one_shot``: the device's own scheme once (two-pulse devices: RESET
            then SET at the target's gate voltage; others: the target plus
            programming noise). ``write_verify``: after every program round,
            read the devices not yet accepted and program again those outside
            the verify band; stop when every working device is accepted (known
            stuck devices are skipped) or after ``max_rounds`` rounds, the last
            verified too. The report lists the devices that failed.
        tolerance : float, optional
            Verify tolerance, siemens; default 1 % of ``g_max``.
        max_rounds : int
            Program rounds at most (write-verify).
        verify_margin_sigmas : float
            A verify read is noisy, so a device passes only when its read is
            within ``tolerance - verify_margin_sigmas * read sigma`` (guard
            band, >= 0). Falls back to ``tolerance`` when the band would close.
        clip : bool
            Clip targets outside the programmable range instead of raising.
        rows, cols : slice
            The region to program; devices outside it are not touched.

        Returns
        -------
        ProgramReport
            Statistics over the working devices of the region.
        """
        check_choice("method", method, ("one_shot", "write_verify"))
        check_int("max_rounds", max_rounds, 1)
        check_range("verify_margin_sigmas", verify_margin_sigmas, 0.0)
        region = self._region(rows, cols)
        shape = region[rows, cols].shape
        t = np.zeros(self.shape)
        t[rows, cols] = self._check_target(target, clip, shape)
        if tolerance is not None:
            check_range("tolerance", tolerance, 0.0, low_open=True, unit="S")
        elif method == "write_verify":
            tolerance = 0.01 * self.device.g_max
        start_pulses = self.counters.programming_pulses
        start_reads = self.counters.device_reads
        self.scheme.program_once(self, t, region)
        rounds = 1
        working = region & ~self.stuck
        failed = np.zeros(self.shape, dtype=bool)
        if method == "write_verify":
            device = self.device
            guard = (verify_margin_sigmas * device.read_noise_sigma_relative * np.abs(t)
                     if device.read_noise_is_relative else verify_margin_sigmas * device.read_noise_sigma_at(t))
            accept = np.where(tolerance - guard > 0.25 * tolerance, tolerance - guard, tolerance)
            pending = working.copy()  # devices known stuck (the fault map) are not verified
            while True:  # verify after every round, the last included; re-read only what is not accepted
                measured = self._read_devices(pending)
                pending &= ~(np.abs(measured - t) <= accept)
                if not pending.any() or rounds >= max_rounds:
                    break
                self.scheme.program_once(self, t, pending)
                rounds += 1
            failed = pending
        error = (self._conductance - t)[working]
        residual = float(np.sqrt(np.mean(error ** 2))) if error.size else 0.0
        within = float(np.mean(np.abs(error) <= tolerance)) if (tolerance is not None and error.size) else np.nan
        failed_rows, failed_cols = np.nonzero(failed)
        return ProgramReport(method=method, rounds=rounds,
                             pulses=self.counters.programming_pulses - start_pulses,
                             device_reads=self.counters.device_reads - start_reads,
                             residual_rms=residual, within_tolerance=within, tolerance=tolerance,
                             n_stuck=int(np.count_nonzero(self.stuck & region)),
                             failed_rows=failed_rows, failed_cols=failed_cols,
                             failed_errors=(self._conductance - t)[failed_rows, failed_cols])

    def initialize(self, rows: slice = slice(None), cols: slice = slice(None)) -> ProgramReport:
        """Program a region one-shot to the device's :attr:`~crossbar.DeviceModel.starting_conductance`
        (the start of in-situ training)."""
        shape = self._region_shape(rows, cols)
        return self.program(np.full(shape, self.device.starting_conductance), rows=rows, cols=cols)

    def _read_devices(self, mask: np.ndarray) -> np.ndarray:
        """Measure the devices ``mask`` selects one by one, with read noise (S); others are NaN. Counts the reads.

        Every row draws a fresh stream, its normals indexed by column, so a
        device's noise does not depend on which others are read.
        """
        out = np.full(self.shape, np.nan)
        n = int(np.count_nonzero(mask))
        if n == 0:
            return out
        out[mask] = self._measure(self._conductance, self._device_read_values(), n)[mask]
        return out

    def _measure(self, g: np.ndarray, sensed: np.ndarray, n_reads: int) -> np.ndarray:
        """Device reads of a block: what each reports, siemens, same shape as ``g``; counts ``n_reads`` reads.

        ``g`` are the block's true conductances and ``sensed`` what their reads
        sense before read noise (:meth:`sensed_conductance`). Row ``i`` of the
        block draws a fresh stream, its normals indexed by the block's column,
        so a device's noise does not depend on which others are read. The noise
        is each cell's own, from its own G (a grounded read of relative noise:
        ``G (1 + s z)``).
        """
        self.counters.device_reads += n_reads
        if not self.device.has_read_noise:
            out = sensed.copy()
        else:
            z = standard_normals(stream_seeds(self.rng, g.shape[0]), g.shape[1])
            grounded_relative = self.peripherals.device_read_scheme == "grounded" and self.device.read_noise_is_relative
            out = (g * (1.0 + self.device.read_noise_sigma_relative * z) if grounded_relative
                   else sensed + self.device.read_noise_sigma_at(g) * z)
        self._after_reads()
        return out

    def move(self, delta, rows: slice = slice(None), cols: slice = slice(None)) -> Tuple[int, int]:
        """Change the conductances of a region by ``delta`` with the device's programming scheme.

        What in-situ training asks of the devices; the scheme turns it into
        pulses (see :mod:`crossbar.devices.programming`: Li et al.'s gate-voltage steps,
        or whole pulses of the pulse law). A device moves by about ``delta``,
        not exactly: pulses are whole, steps depend on the state, every pulse
        is noisy.

        Parameters
        ----------
        delta : array_like, shape of the region
            Requested change of each device, siemens.
        rows, cols : slice
            The region (default: the whole array).

        Returns
        -------
        pulses : int
            Pulses sent.
        n_limited : int
            Devices whose change hit a limit of the scheme (a gate voltage cut at its range).
        """
        shape = self._region_shape(rows, cols)
        if np.shape(delta) != shape:
            delta = np.broadcast_to(delta, shape)
        delta = as_float_array("delta", delta, shape=shape)
        return self.scheme.move(self, delta, rows, cols)

    def apply_pulses(self, n_pulses) -> int:
        """Apply identical update pulses with the device's pulse law (in-situ training).

        Every pulse asked for is counted (the returned total, the counters'
        ``programming_pulses`` and ``row_pulse_steps``, hence energy and
        latency), but a device is simulated for at most
        :meth:`pulse_limits` pulses a write: past that many its law has carried
        it across its whole window twice over (soft bounds: until its step
        falls below the resolution of a float), so more pulses in the same direction
        leave it at its bound (with cycle noise, in the bound's own spread).
        Counts up to the limit give the same numbers, bit for bit, as
        simulating every pulse; a device past it draws the noise of the
        simulated pulses only. Counts that are not whole, not finite, or beyond
        what an int64 holds (one device's or the write's total) are refused.

        Parameters
        ----------
        n_pulses : array_like of int, shape (rows, cols)
            Pulses per device: positive potentiate, negative depress.

        Returns
        -------
        int
            Pulses applied (every one asked for, frozen devices included).
        """
        n, total = check_pulse_counts("n_pulses", n_pulses, self.shape)
        simulated = self._simulated_pulses(n)
        law = self.device.pulse_law
        moved = n != 0
        g = self._write_start(moved)
        if law.kind == "table":
            table_pulse_update(g, simulated, self.g_low, self.g_high, self.stuck, self.table_index,
                               **table_arrays(law.pulse_table()), seeds=stream_seeds(self.rng, self.rows))
        else:
            pulse_kernels.pulse_update(g, simulated, self.g_low, self.g_high, self.stuck, law.kind_code,
                                 law.step_up, law.step_down, law.nonlinearity,
                                 law.cycle_noise_sigma_relative, stream_seeds(self.rng, self.rows))
        self._store_write(g, moved, total, _row_steps(n), stuck_kept=True)
        return total

    def pulse_limits(self) -> Tuple[int, int]:
        """Most pulses up and down one write simulates on a device of this array
        (:meth:`crossbar.PulseUpdateLaw.saturating_pulses` of its widest window); more are counted, not
        simulated (see :meth:`apply_pulses`)."""
        cached = getattr(self, "_pulse_limits", None)  # (absent from arrays pickled before it)
        if cached is None or cached[0] is not self.g_low or cached[1] is not self.g_high:  # windows changed
            limits = self.device.pulse_law.saturating_pulses(float((self.g_high - self.g_low).max()))
            cached = self._pulse_limits = (self.g_low, self.g_high, limits)
        return cached[2]

    def _simulated_pulses(self, n: np.ndarray) -> np.ndarray:
        """The pulses of ``n`` (int64) a write simulates: each count cut at :meth:`pulse_limits`, its sign
        kept; ``n`` itself when none is cut. The noise buffer of a row (4 bytes a simulated pulse) is checked
        against the memory available."""
        up, down = self.pulse_limits()
        high, low = int(n.max()), int(n.min())
        if high > up or low < -down:
            n = np.clip(n, -down, up)
        if (self.cols * max(min(high, up), min(-low, down)) > 2 ** 24
                and (self.device.pulse_law.kind == "table" or self.device.pulse_law.cycle_noise_sigma_relative > 0.0)):
            widest = float(np.abs(n).sum(axis=1, dtype=np.float64).max())
            if widest > 2 ** 24:
                check_memory(f"a write of {widest:.3g} simulated pulses on one row", 4.0 * widest)
        return n

    def write_passive(self, n_pulses, scheme) -> Tuple[int, int]:
        """Write pulses cell by cell as a passive array does, and disturb the others
        (:mod:`crossbar.devices.disturb`).

        Every selected cell receives its pulses through the device's pulse law
        (as :meth:`apply_pulses`); then every cell moves by the equivalent
        pulses the others' writes gave it (``scheme.disturb_pulses``), at the
        conductance it has then. Disturbed cells count as written (their drift
        clocks restart); cells are written one at a time, so each pulse is a
        step of its own in the latency.

        Parameters
        ----------
        n_pulses : array_like of int, shape (rows, cols)
            Pulses per cell: positive potentiate, negative depress.
        scheme : crossbar.WriteScheme

        Returns
        -------
        (int, int)
            Pulses applied, and cells the disturb moved.
        """
        from crossbar.devices.disturb import WriteScheme, disturb_update

        if not isinstance(scheme, WriteScheme):
            raise ValueError(f"scheme={scheme!r} is not allowed; a crossbar.WriteScheme is required")
        if self.device.two_pulse is not None:
            raise ValueError(f"device {self.device.name!r} is written by Li et al.'s two-pulse scheme through "
                             "access transistors (1T1R): it has no half-selected cells to disturb")
        if self.device.pulse_law.kind == "table":
            raise ValueError(f"device {self.device.name!r} follows a measured pulse table: its disturb by partial "
                             "pulses is not in the table; write it without a write scheme")
        n, total = check_pulse_counts("n_pulses", n_pulses, self.shape)
        equivalent = scheme.disturb_pulses(n)
        moved = (n != 0) | (equivalent != 0.0)
        law = self.device.pulse_law
        g = self._write_start(moved)
        pulse_kernels.pulse_update(g, self._simulated_pulses(n), self.g_low, self.g_high, self.stuck, law.kind_code,
                             law.step_up, law.step_down, law.nonlinearity,
                             law.cycle_noise_sigma_relative, stream_seeds(self.rng, self.rows))
        disturbed = disturb_update(g, equivalent, self.g_low, self.g_high, self.stuck, law.kind_code,
                                   law.step_up, law.step_down, law.nonlinearity)
        self._store_write(g, moved, total, total, stuck_kept=True)
        return total, int(disturbed)

    def apply_two_pulse(self, gate_voltage, reset, rows: slice = slice(None), cols: slice = slice(None)) -> int:
        """Li et al.'s update: RESET the devices in ``reset``, then SET every device.

        Parameters
        ----------
        gate_voltage : array_like
            SET gate voltage of each device in the region, volts, within the
            scheme's ``gate_voltage_min..gate_voltage_max``.
        reset : array_like of bool
            Devices to RESET first (those whose conductance must go down).
        rows, cols : slice
            Region of the array to pulse (default: all of it). Devices outside
            are not touched.

        Returns
        -------
        int
            Pulses applied.
        """
        scheme = self.device.two_pulse
        if scheme is None:
            raise ValueError(f"device {self.device.name!r} has no two_pulse scheme; use apply_pulses")
        shape = self._region_shape(rows, cols)
        vg = as_float_array("gate_voltage", np.broadcast_to(gate_voltage, shape), shape=shape)
        low, high = scheme.gate_voltage_min, scheme.gate_voltage_max
        if vg.min() < low - 1e-12 or vg.max() > high + 1e-12:
            raise ValueError(f"gate_voltage spans {vg.min():g}..{vg.max():g} V; allowed "
                             f"{low:g}..{high:g} V")
        reset_region = np.asarray(np.broadcast_to(reset, shape))
        if reset_region.dtype != bool:
            raise ValueError(f"reset has dtype {reset_region.dtype}; a boolean array is required")
        g = self._write_start((rows, cols))
        # run the kernel on the region only: rows outside keep their streams unused
        g_region = np.ascontiguousarray(g[rows, cols])
        pulse_kernels.two_pulse_update(g_region, np.ascontiguousarray(reset_region), np.ascontiguousarray(vg),
                                 scheme.gate_slope, scheme.gate_intercept, scheme.reset_conductance,
                                 self.device.program_noise_sigma, np.ascontiguousarray(self.gain[rows, cols]),
                                 np.ascontiguousarray(self.stuck[rows, cols]),
                                 stream_seeds(self.rng, shape[0]))
        return self._store_two_pulse(g, g_region, vg, rows, cols, int(reset_region.sum()))

    def _store_two_pulse(self, g, g_region, gate_voltage, rows: slice, cols: slice, n_reset: int) -> int:
        """Keep a two-pulse update of a region: its conductances into ``g`` (the new base), gate voltages, counts.

        Returns the pulses: a SET per device of the region, a RESET per ``n_reset``.
        """
        g[rows, cols] = g_region
        self.gate_voltage[rows, cols] = gate_voltage
        pulses = g_region.size + n_reset
        self._store_write(g, (rows, cols), pulses, g_region.shape[0] * (2 if n_reset else 1), stuck_kept=True)
        return pulses

    def step_gate_voltages(self, gate_step, rows: slice = slice(None), cols: slice = slice(None)) -> Tuple[int, int]:
        """Li et al.'s update as gate-voltage steps: move each device's SET gate voltage, RESET the falling, SET all.

        Each device of the region gets the SET gate voltage it last received
        plus ``gate_step``, cut to the scheme's ``gate_voltage_min..gate_voltage_max``
        (the cut ones are counted); the devices whose gate voltage goes down
        are RESET first; then every device of the region is SET. The same
        numbers as :meth:`apply_two_pulse` with those gate voltages and RESETs,
        in one compiled call (:func:`crossbar.devices.pulse_kernels.two_pulse_step`).

        Parameters
        ----------
        gate_step : array_like
            Change of each device's SET gate voltage, volts, broadcast to the region.
        rows, cols : slice
            Region of the array to pulse (default: all of it).

        Returns
        -------
        pulses : int
            Pulses applied (a SET per device, a RESET per falling device).
        n_limited : int
            Devices whose step was cut at the range.
        """
        scheme = self.device.two_pulse
        if scheme is None:
            raise ValueError(f"device {self.device.name!r} has no two_pulse scheme; use apply_pulses")
        shape = self._region_shape(rows, cols)
        if np.shape(gate_step) != shape:
            gate_step = np.broadcast_to(gate_step, shape)
        step = as_float_array("gate_step", gate_step, shape=shape)
        g = self._write_start((rows, cols))
        g_region = np.ascontiguousarray(g[rows, cols])
        gate_voltage = np.ascontiguousarray(self.gate_voltage[rows, cols])
        limited, resets = pulse_kernels.two_pulse_step(
            g_region, gate_voltage, step, scheme.gate_voltage_min, scheme.gate_voltage_max, scheme.gate_slope,
            scheme.gate_intercept, scheme.reset_conductance, self.device.program_noise_sigma,
            np.ascontiguousarray(self.gain[rows, cols]), np.ascontiguousarray(self.stuck[rows, cols]),
            stream_seeds(self.rng, shape[0]))
        if limited < 0:
            raise ValueError("some devices of the region were never programmed (no SET gate voltage yet); "
                             "program them before stepping their gate voltages")
        return self._store_two_pulse(g, g_region, gate_voltage, rows, cols, resets), limited

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
            sequence = _stream_sequence(self._converter_seed, CONVERTER_STREAM, adc.bits)
            bank = ConverterBank.draw(adc.circuit, adc.bits, self.cols, np.random.default_rng(sequence))
            self._converters[key] = bank
        return bank

    def read_conductance(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """Measure the devices of a region (default: all) one by one, as a verify or read-back would.

        Returns
        -------
        ndarray, shape of the region
            Conductances with fresh read noise, siemens.
        """
        g = self._conductance[rows, cols]
        if g.size == 0:
            raise ValueError(f"rows={rows!r}, cols={cols!r} select no device of a {self.rows}x{self.cols} array")
        return self._measure(g, self._device_read_values()[rows, cols], g.size)

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
        return {
            "format": np.array(ARRAY_STATE_FORMAT),
            "shape": np.array(self.shape, dtype=np.int64),
            "device": np.array(json.dumps(dataclasses.asdict(self.device), sort_keys=True, default=list)),
            "conductance_base": self._g0.copy(),
            "gate_voltage": self.gate_voltage.copy(),
            "faults": self.faults.copy(),
            "gain": self.gain.copy(),
            "drift_nu": np.zeros((0, 0)) if self.drift_nu is None else self.drift_nu.copy(),
            "programmed_at": self.programmed_at.copy(),
            "time": np.array(self.time),
            "rng": np.array(json.dumps(self.rng.bit_generator.state)),
            "counters": np.array(json.dumps(self.counters.to_dict())),
            "converter_seed": np.array(json.dumps(self._converter_seed)),
            "converter_banks": np.array(len(self._converters)),
            **({} if self.fluctuation is None else self.fluctuation.state("fluctuation.")),
            **({} if self.relaxation_z is None else {
                "relaxation_z": self.relaxation_z.copy(),
                "relaxation_rng": np.array(json.dumps(self._relaxation_rng.bit_generator.state))}),
            **{name: value for k, bank in enumerate(self._converters.values())
               for name, value in bank.state(f"converters{k}.").items()},
        }

    def check_state(self, state: Dict[str, np.ndarray], source: str = "state") -> dict:
        """Check a :meth:`state` against this array; return its values, or ``ValueError`` naming ``source``
        and the entry that does not fit. Changes nothing."""
        def entry(name):
            if name not in state:
                raise ValueError(f"{source}: no {name!r} entry; not an array state of format {ARRAY_STATE_FORMAT}")
            return np.asarray(state[name])

        if str(entry("format")) != ARRAY_STATE_FORMAT:
            raise ValueError(f"{source}: array state format {str(entry('format'))!r} is not known; "
                             f"{ARRAY_STATE_FORMAT!r} is required")
        shape = tuple(int(v) for v in entry("shape"))
        if shape != self.shape:
            raise ValueError(f"{source}: an array of {shape} devices; this one is {self.shape}")
        try:  # as a model, so that fields added since the state was saved take their defaults
            saved = DeviceModel.from_dict(json.loads(str(entry("device"))), f"{source}.device")
        except (json.JSONDecodeError, TypeError, ValueError):
            saved = None
        if saved != self.device:
            raise ValueError(f"{source}: saved with another device model than {self.device.name!r}")
        values = {}
        for name in ("conductance_base", "gain", "programmed_at"):
            values[name] = as_float_array(f"{source}.{name}", entry(name), shape=self.shape)
        for name, positive in (("conductance_base", False), ("gain", True)):
            bad = values[name] <= 0.0 if positive else values[name] < 0.0
            if bad.any():
                allowed = "window gains are > 0" if positive else "conductances are >= 0 S"
                raise ValueError(f"{source}.{name} holds {int(np.count_nonzero(bad))} value(s) "
                                 f"{'<= 0' if positive else 'below 0'} (the least {values[name].min():.3g}); "
                                 f"{allowed}")
        values["gate_voltage"] = _float_grid(f"{source}.gate_voltage", entry("gate_voltage"), self.shape)
        faults = entry("faults")
        if faults.shape != self.shape or not np.isin(faults, (FAULT_NONE, FAULT_STUCK_LOW, FAULT_STUCK_HIGH)).all():
            raise ValueError(f"{source}.faults: shape {self.shape} with codes 0, 1, 2 is required")
        values["faults"] = faults.astype(np.int8)
        drift_nu = entry("drift_nu")
        if (drift_nu.size == 0) != (self.drift_nu is None):
            raise ValueError(f"{source}.drift_nu: drift exponents do not match the device's drift setting")
        values["drift_nu"] = None if drift_nu.size == 0 else as_float_array(f"{source}.drift_nu", drift_nu,
                                                                              shape=self.shape)
        values["time"] = check_range(f"{source}.time", float(entry("time")), 0.0, unit="s")
        try:
            counters = json.loads(str(entry("counters")))
            generator = np.random.Generator(type(self.rng.bit_generator)())
            generator.bit_generator.state = json.loads(str(entry("rng")))
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as error:
            raise ValueError(f"{source}: the random generator's state cannot be read ({error})") from None
        values["counters"] = OperationCounts.from_dict(counters, f"{source}.counters")
        values["rng"] = generator
        # converters (absent from states saved before the ADC circuits: none were built then)
        values["converter_seed"] = self._converter_seed
        if "converter_seed" in state:
            try:
                entropy, spawn_key = json.loads(str(entry("converter_seed")))
                values["converter_seed"] = (int(entropy), [int(v) for v in spawn_key])
            except (json.JSONDecodeError, TypeError, ValueError) as error:
                raise ValueError(f"{source}.converter_seed cannot be read ({error})") from None
        banks = {}
        for k in range(int(state["converter_banks"]) if "converter_banks" in state else 0):
            bank = ConverterBank.from_state(state, f"converters{k}.", f"{source}.converters{k}")
            if bank.cols != self.cols:
                raise ValueError(f"{source}.converters{k}: converters of {bank.cols} columns; the array has "
                                 f"{self.cols}")
            banks[(bank.circuit, bank.bits)] = bank
        values["converters"] = banks
        values["relaxation"] = (None, None)
        if self.device.relaxation_model is not None:
            z = _float_grid(f"{source}.relaxation_z", entry("relaxation_z"), self.shape)
            try:
                relax_rng = np.random.Generator(type(self._relaxation_rng.bit_generator)())
                relax_rng.bit_generator.state = json.loads(str(entry("relaxation_rng")))
            except (json.JSONDecodeError, TypeError, KeyError, ValueError) as error:
                raise ValueError(f"{source}.relaxation_rng cannot be read ({error})") from None
            values["relaxation"] = (z, relax_rng)
        values["fluctuation"] = _fluctuation(self.device, self.shape, values["converter_seed"])
        if values["fluctuation"] is not None:
            values["fluctuation"].load_state(state, "fluctuation.", source)
        return values

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Take the state of :meth:`state` (checked first by :meth:`check_state`; nothing changes on an error).

        The array must have the same size and the same device model.
        """
        values = self.check_state(state, source)
        self._g0 = values["conductance_base"]
        self.gate_voltage = values["gate_voltage"]
        self.gain = values["gain"]
        self.g_low = self.device.g_min * self.gain
        self.g_high = self.device.g_max * self.gain
        self.faults = values["faults"]
        self.stuck = self.faults != FAULT_NONE
        self.drift_nu = values["drift_nu"]
        self.programmed_at = values["programmed_at"]
        self.time = values["time"]
        self.rng = values["rng"]
        self.counters = values["counters"]
        self._converter_seed = values["converter_seed"]
        self._converters = values["converters"]
        self.table_index = self._draw_table_index()
        self.fluctuation = values["fluctuation"]
        self.relaxation_z, self._relaxation_rng = values["relaxation"]
        self._refresh()

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


TABLE_STREAM = 0x7AB
"""Spawn-key entry of the seed of a table device's choice of table per device."""

CONVERTER_STREAM = 0xADC
"""Spawn-key entry of the seed of an array's converters (beyond any child an array's seed could spawn)."""


BYTES_PER_DEVICE = 192
"""Peak bytes of an array's per-device state while it is built and first programmed (about twice the
96 it keeps: conductances, window, faults, drift, clocks; measured 67 bytes a device at its peak for
``ideal``), before any read noise with memory."""

def estimated_array_bytes(rows: int, cols: int, device: DeviceModel) -> float:
    """Bytes an array of ``rows x cols`` devices of ``device`` takes at its peak, estimated without building it:
    :data:`BYTES_PER_DEVICE` a device, and twice its read noise with memory's sources and traps (measured on
    one device)."""
    per_device = BYTES_PER_DEVICE
    if device.temporal_noise.is_on:
        one = _fluctuation(device, (1, 1), (0, []))
        per_device += 2 * one.nbytes
    return float(rows) * float(cols) * per_device


def check_array_memory(rows: int, cols: int, device: DeviceModel, count: int = 1) -> None:
    """Refuse ``count`` arrays of ``rows x cols`` devices whose estimated bytes (:func:`estimated_array_bytes`)
    exceed the memory available: ``ValueError`` in one line with the size, the estimate and the memory."""
    needed = count * estimated_array_bytes(rows, cols, device)
    if needed > CHECKED_BYTES:
        what = f"{count} array(s)" if count > 1 else "an array"
        check_memory(f"{what} of {rows} x {cols} devices ({count * rows * cols:,} devices of {device.name})",
                     needed)


def _row_steps(n: np.ndarray) -> int:
    """Row pulse steps of a write of ``n`` (int64, checked): the sum over rows of each row's largest count
    (a row's devices take their pulses side by side), exact."""
    largest = np.abs(n).max(axis=1)
    if float(largest.sum(dtype=np.float64)) < 2.0 ** 62:
        return int(largest.sum())
    return sum(int(v) for v in largest.tolist())


def _read_key(driven_rows, cols) -> tuple:
    """A read's driven row ranges and sensed columns as a hashable key (plain ints)."""
    return tuple((int(a), int(b)) for a, b in driven_rows), (int(cols[0]), int(cols[1]))


def _stream_sequence(converter_seed: Tuple[int, list], *keys: int) -> np.random.SeedSequence:
    """The seed sequence of one of an array's streams kept apart from its generator: its seed sequence
    (``converter_seed``, see :func:`_converter_seed`) with ``keys`` appended to the spawn key."""
    entropy, spawn_key = converter_seed
    return np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key) + tuple(keys))


def _fluctuation(device: DeviceModel, shape, converter_seed):
    """The 1/f sources and telegraph traps of an array of ``device`` with read noise with memory, from
    their stream of the array's seed (:class:`crossbar.devices.temporal_noise.FluctuationState`); None without."""
    if not device.temporal_noise.is_on:
        return None
    from crossbar.devices.temporal_noise import NOISE_STREAM, FluctuationState

    return FluctuationState(device.temporal_noise, shape, _stream_sequence(converter_seed, NOISE_STREAM))


def _converter_seed(rng: np.random.Generator) -> Tuple[int, list]:
    """(entropy, spawn key) of the seed sequence an array's converters derive from: its generator's own
    seed sequence, or, for a generator without one, a hash of the generator's state (nothing is drawn)."""
    sequence = getattr(rng.bit_generator, "seed_seq", None)
    if isinstance(sequence, np.random.SeedSequence):
        return int(sequence.entropy), [int(v) for v in sequence.spawn_key]
    import hashlib

    digest = hashlib.sha256(json.dumps(rng.bit_generator.state, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:16], "little"), []


ARRAY_STATE_FORMAT = "xbar-array/1"
"""Format of :meth:`CrossbarArray.state`."""


def _float_grid(name: str, values: np.ndarray, shape: tuple) -> np.ndarray:
    """A float64 array of ``shape`` whose values are finite or NaN (NaN: never set); else ``ValueError``."""
    out = np.array(values, dtype=np.float64)
    if out.shape != shape or np.isinf(out).any():
        raise ValueError(f"{name}: shape {shape} of finite values (or NaN) is required; got shape {out.shape}")
    return out

