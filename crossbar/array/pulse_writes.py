"""Writes by pulses: identical pulses of the device's pulse law (or its measured table), passive writes
that disturb the other cells, and Li et al.'s two-pulse updates (:class:`PulseWrites`, a part of
:class:`crossbar.CrossbarArray`), with the bookkeeping every write shares (its start, its keeping, its
clocks and counts).

Each pulse path is one function of this module, the one place its kernel is called:
:func:`pulse_law_update` (a :class:`crossbar.PulseUpdateLaw`), :func:`table_law_update` (a measured pulse
table), :func:`two_pulse_region_update` and :func:`two_pulse_region_step` (Li et al.'s RESET then SET).

Conductances in siemens, gate voltages in volts, times in seconds.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from crossbar.array.device_draws import apply_faults
from crossbar.array.regions import region_shape
from crossbar.devices import pulse_kernels
from crossbar.devices.pulse_laws import apply_law_pulses
from crossbar.devices.pulse_tables import table_arrays, table_pulse_update
from crossbar.numerics.random_streams import stream_seeds
from crossbar.validation import as_bool_array, as_float_array, check_memory, check_pulse_counts


def row_pulse_steps(n: np.ndarray) -> int:
    """Row pulse steps of a write of ``n`` (int64, checked): the sum over rows of each row's largest count
    (a row's devices take their pulses side by side), exact."""
    largest = np.abs(n).max(axis=1)
    if float(largest.sum(dtype=np.float64)) < 2.0 ** 62:
        return int(largest.sum())
    return sum(int(v) for v in largest.tolist())


def pulse_law_update(array, g: np.ndarray, n_simulated: np.ndarray) -> None:
    """The pulses of a :class:`crossbar.PulseUpdateLaw`: every device of ``g`` (the write's bases, S,
    changed in place) after its ``n_simulated`` pulses (positive potentiate), with cycle noise from the
    array's generator (a stream per row); stuck devices are left as they are."""
    law = array.device.pulse_law
    apply_law_pulses(g, n_simulated, array.g_low, array.g_high, array.stuck, law, stream_seeds(array.rng, array.rows))


def table_law_update(array, g: np.ndarray, n_simulated: np.ndarray) -> None:
    """The pulses of a measured pulse table (:mod:`crossbar.devices.pulse_tables`): every device of ``g``
    (S, changed in place) after its ``n_simulated`` pulses, following its own table (``array.table_index``);
    stuck devices are left as they are."""
    table_pulse_update(g, n_simulated, array.g_low, array.g_high, array.stuck, array.table_index,
                       **table_arrays(array.device.pulse_law.pulse_table()), seeds=stream_seeds(array.rng, array.rows))


def two_pulse_region_update(array, g_region: np.ndarray, reset_region: np.ndarray, gate_voltage: np.ndarray,
                            rows: slice, cols: slice) -> None:
    """Li et al.'s update of a region: RESET the devices ``reset_region`` selects, then SET every device at
    its ``gate_voltage`` (V); ``g_region`` (the region's bases, S, contiguous) is changed in place. Rows
    outside the region keep their streams unused."""
    scheme = array.device.two_pulse
    pulse_kernels.two_pulse_update(g_region, np.ascontiguousarray(reset_region), np.ascontiguousarray(gate_voltage),
                                   scheme.gate_slope, scheme.gate_intercept, scheme.reset_conductance,
                                   array.device.program_noise_sigma, np.ascontiguousarray(array.gain[rows, cols]),
                                   np.ascontiguousarray(array.stuck[rows, cols]),
                                   stream_seeds(array.rng, g_region.shape[0]))


def two_pulse_region_step(array, g_region: np.ndarray, gate_voltage: np.ndarray, gate_step: np.ndarray,
                          rows: slice, cols: slice, written=None) -> Tuple[int, int]:
    """Li et al.'s update of a region as gate-voltage steps: ``gate_voltage`` (V, the region's, changed in
    place) moved by ``gate_step`` within the scheme's range, the falling devices RESET, every device SET
    (or those ``written`` selects, a boolean array of the region: the others keep their conductance and
    ``gate_step`` must be 0 there); ``g_region`` (S) changed in place. Returns (devices cut at the range, or
    -1 when one was never programmed; RESETs)."""
    scheme = array.device.two_pulse
    frozen = array.stuck[rows, cols] if written is None else array.stuck[rows, cols] | ~written
    return pulse_kernels.two_pulse_step(
        g_region, gate_voltage, gate_step, scheme.gate_voltage_min, scheme.gate_voltage_max, scheme.gate_slope,
        scheme.gate_intercept, scheme.reset_conductance, array.device.program_noise_sigma,
        np.ascontiguousarray(array.gain[rows, cols]), np.ascontiguousarray(frozen),
        stream_seeds(array.rng, g_region.shape[0]))


class PulseWrites:
    """The writes by pulses of :class:`crossbar.CrossbarArray` (one concern of the array, mixed into it).

    State it owns: the base conductances ``_g0`` a write keeps, each device's time of its last write
    (``programmed_at``) and relaxation normal (``relaxation_z``, from ``_relaxation_rng``), the SET gate
    voltages (``gate_voltage``), the cache of :meth:`pulse_limits` (``_pulse_limits``), and the counts
    of pulses and row pulse steps.
    State it reads: ``device``, ``peripherals``, ``rng``, the windows ``g_low``/``g_high``/``gain``, the
    fault map (``faults``, ``stuck``), ``table_index``, ``drift_nu``, the drifted conductances
    (``_drifted``) and the clock (``time``); it calls the array's ``_let_pass`` and ``_refresh`` to keep a
    write.
    """

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
        self._g0 = g if stuck_kept else apply_faults(g, self.faults, self.g_low, self.g_high)
        self._mark_programmed(written)
        self.counters.programming_pulses += int(pulses)
        self.counters.row_pulse_steps += int(row_steps)
        self._let_pass(self.peripherals.seconds_per_write)  # the write's own time, before one refresh
        self._refresh()

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
        moved = n != 0
        g = self._write_start(moved)
        if self.device.pulse_law.kind == "table":
            table_law_update(self, g, simulated)
        else:
            pulse_law_update(self, g, simulated)
        self._store_write(g, moved, total, row_pulse_steps(n), stuck_kept=True)
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
        pulse_law_update(self, g, self._simulated_pulses(n))
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
        shape = region_shape(self.shape, rows, cols)
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
        two_pulse_region_update(self, g_region, reset_region, vg, rows, cols)
        return self._store_two_pulse(g, g_region, vg, rows, cols, int(reset_region.sum()))

    def _store_two_pulse(self, g, g_region, gate_voltage, rows: slice, cols: slice, n_reset: int,
                         selected=None, written=None) -> int:
        """Keep a two-pulse update of a region: its conductances into ``g`` (the new base), gate voltages, counts.
        ``written`` (a boolean array of the region, or None: all of it) selects the devices pulsed, ``selected``
        the same devices in the whole array.

        Returns the pulses: a SET per device pulsed, a RESET per ``n_reset``.
        """
        g[rows, cols] = g_region
        self.gate_voltage[rows, cols] = gate_voltage
        if written is None:
            selected, n_set, n_rows = (rows, cols), g_region.size, g_region.shape[0]
        else:
            n_set, n_rows = int(np.count_nonzero(written)), int(np.count_nonzero(written.any(axis=1)))
        pulses = n_set + n_reset
        self._store_write(g, selected, pulses, n_rows * (2 if n_reset else 1), stuck_kept=True)
        return pulses

    def step_gate_voltages(self, gate_step, rows: slice = slice(None), cols: slice = slice(None),
                           written=None) -> Tuple[int, int]:
        """Li et al.'s update as gate-voltage steps: move each device's SET gate voltage, RESET the falling, SET all.

        Each device of the region gets the SET gate voltage it last received
        plus ``gate_step``, cut to the scheme's ``gate_voltage_min..gate_voltage_max``
        (the cut ones are counted); the devices whose gate voltage goes down
        are RESET first; then every device of the region is SET (or those ``written`` selects). The same
        numbers as :meth:`apply_two_pulse` with those gate voltages and RESETs,
        in one compiled call (:func:`crossbar.devices.pulse_kernels.two_pulse_step`).

        Parameters
        ----------
        gate_step : array_like
            Change of each device's SET gate voltage, volts, broadcast to the region.
        rows, cols : slice
            Region of the array to pulse (default: all of it).
        written : array_like of bool, shape of the region, optional
            The devices to pulse; the others are left alone (their conductance, gate voltage and clock), and
            their ``gate_step`` must be 0. None (the default): every device of the region, Li et al.'s way.

        Returns
        -------
        pulses : int
            Pulses applied (a SET per device pulsed, a RESET per falling device).
        n_limited : int
            Devices whose step was cut at the range.
        """
        if self.device.two_pulse is None:
            raise ValueError(f"device {self.device.name!r} has no two_pulse scheme; use apply_pulses")
        shape = region_shape(self.shape, rows, cols)
        if np.shape(gate_step) != shape:
            gate_step = np.broadcast_to(gate_step, shape)
        step = as_float_array("gate_step", gate_step, shape=shape)
        selected = (rows, cols)
        if written is not None:
            written = as_bool_array("written", written, shape, "the region's shape")
            if np.any(step[~written] != 0.0):
                raise ValueError("gate_step is not 0 on a device that written leaves out; a device not "
                                 "pulsed keeps its gate voltage")
            # (a device left alone keeps its base and its own time since its last write)
            selected = np.zeros(self.shape, dtype=bool)
            selected[rows, cols] = written
        g = self._write_start(selected)
        g_region = np.ascontiguousarray(g[rows, cols])
        gate_voltage = np.ascontiguousarray(self.gate_voltage[rows, cols])
        limited, resets = two_pulse_region_step(self, g_region, gate_voltage, step, rows, cols, written)
        if limited < 0:
            raise ValueError("some devices of the region were never programmed (no SET gate voltage yet); "
                             "program them before stepping their gate voltages")
        return self._store_two_pulse(g, g_region, gate_voltage, rows, cols, resets, selected, written), limited
