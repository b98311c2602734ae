"""Writes towards target conductances through the device's programming scheme: one-shot or
write-and-verify programming of a region, the start of in-situ training, and moves by requested changes
(:class:`TargetWrites`, a part of :class:`crossbar.CrossbarArray`). Conductances in siemens."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from crossbar.array.regions import region_mask, region_shape
from crossbar.array.report import ProgramReport
from crossbar.numerics.rounding import quantize_grid
from crossbar.validation import as_bool_array, as_float_array, check_choice, check_int, check_range


class TargetWrites:
    """The target writes of :class:`crossbar.CrossbarArray` (one concern of the array, mixed into it).

    State it owns: none of its own; its writes go through the array's programming scheme (``scheme``),
    which keeps them with the array's write bookkeeping
    (:class:`~crossbar.array.pulse_writes.PulseWrites`), and its verifies are device reads
    (:class:`~crossbar.array.device_reads.DeviceReads`).
    State it reads: ``device``, ``scheme``, ``shape``, the fault map (``stuck``), ``_conductance`` and
    the counters (for the report).
    """

    def _check_target(self, target, clip: bool, shape: tuple) -> np.ndarray:
        """``target`` (S, of ``shape``) checked against the programmable range (clipped there with ``clip``)
        and, for a multi-level device, put on its nearest level."""
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
        region = region_mask(self.shape, rows, cols)
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
            rounds, failed = self._verify_rounds(t, working, tolerance, verify_margin_sigmas, max_rounds)
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

    def _verify_rounds(self, t: np.ndarray, working: np.ndarray, tolerance: float, verify_margin_sigmas: float,
                       max_rounds: int) -> Tuple[int, np.ndarray]:
        """Write-and-verify after a first program round: read the ``working`` devices not yet accepted (a
        read within the guard band of ``t``, siemens), program again the others, until every one is accepted
        or ``max_rounds`` rounds are done, the last verified too. Returns the rounds used and the mask of
        the devices that failed their last verify."""
        device = self.device
        guard = (verify_margin_sigmas * device.read_noise_sigma_relative * np.abs(t)
                 if device.read_noise_is_relative else verify_margin_sigmas * device.read_noise_sigma_at(t))
        accept = np.where(tolerance - guard > 0.25 * tolerance, tolerance - guard, tolerance)
        pending = working.copy()  # devices known stuck (the fault map) are not verified
        rounds = 1
        while True:  # verify after every round, the last included; re-read only what is not accepted
            measured = self._read_devices(pending)
            pending &= ~(np.abs(measured - t) <= accept)
            if not pending.any() or rounds >= max_rounds:
                break
            self.scheme.program_once(self, t, pending)
            rounds += 1
        return rounds, pending

    def initialize(self, rows: slice = slice(None), cols: slice = slice(None)) -> ProgramReport:
        """Program a region one-shot to the device's :attr:`~crossbar.DeviceModel.starting_conductance`
        (the start of in-situ training)."""
        shape = region_shape(self.shape, rows, cols)
        return self.program(np.full(shape, self.device.starting_conductance), rows=rows, cols=cols)

    def move(self, delta, rows: slice = slice(None), cols: slice = slice(None), written=None) -> Tuple[int, int]:
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
        written : array_like of bool, shape of the region, optional
            Only these devices are written, the others left alone (under Li et al.'s scheme a device asked
            for no change is still SET again, re-noised, unless left out here). None: every device.

        Returns
        -------
        pulses : int
            Pulses sent.
        n_limited : int
            Devices whose change hit a limit of the scheme (a gate voltage cut at its range).
        """
        shape = region_shape(self.shape, rows, cols)
        if np.shape(delta) != shape:
            delta = np.broadcast_to(delta, shape)
        delta = as_float_array("delta", delta, shape=shape)
        if written is None:
            return self.scheme.move(self, delta, rows, cols)
        written = as_bool_array("written", written, shape, "the region's shape")
        return self.scheme.move_selected(self, delta, rows, cols, written)
