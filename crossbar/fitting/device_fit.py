"""Devices from measured pulse traces: read the traces, fit a table device, compare the parametric laws.

A trace is the conductance after each identical pulse of one ramp, up (the
conductance rises over the ramp) or down. :func:`read_traces` reads a CSV of
ramps, one a column: with a header (``rmp1, rmp2, ...``, CrossSim's files;
ragged ends as empty cells) or without (Gong et al.'s two columns, up then
down), optionally a first column ``time`` or ``pulse`` that must rise
strictly. Currents become siemens with ``read_voltage``; normalised units
are mapped onto a stated ``window``.

:func:`fit_table` bins every ramp's steps ``G_{k+1} - G_k`` by direction into
equal-width conductance bins, each step by where the ramp's monotone path
(:func:`monotone_path`, the reads without their noise) stands, not by its
noisy read. Each bin's mean step is the rate at which the paths cross it
(:func:`mean_steps`); its quantiles are the observed steps' less the part of
their variance that does not add up over a ramp (the reads' fluctuation,
:func:`non_accumulating_variance`), moved so that the table's own mean is
the mean step: a :class:`crossbar.devices.pulse_tables.PulseTable`.
:func:`fit_parametric` fits the linear, soft-bounds and exponential laws' mean
step to the same bins and gives each one's cycle noise and error. :func:`simulate_like`,
:func:`band_agreement`, :func:`ramp_agreement`, :func:`plot_response` and
:func:`plot_agreement` hold a device against the traces (``xbar device fit``
and ``show``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from crossbar.array.crossbar_array import CrossbarArray
from crossbar.devices.models import PulseUpdateLaw
from crossbar.devices.pulse_tables import PulseTable
# the traces and the table's numbers live below the pulse tables (crossbar.devices.measured_traces); re-exported here
from crossbar.devices.measured_traces import (DEFAULT_QUANTILES, FEW_RAMPS, MIN_STEPS, Trace, _default_rate_window,
                                              _path_binned_steps, bin_statistics, estimate_read_noise, fit_table_arrays,
                                              mean_steps, monotone_path, non_accumulating_variance, parse_traces,
                                              quantile_moments, read_traces, reads_variance, steps, tail_quantiles)
from crossbar.validation import check_int, check_range


def fit_table(traces: Sequence[Trace], n_bins: int = 20, quantiles=DEFAULT_QUANTILES,
              min_per_bin: int = 5, source: str = "fitted from traces",
              read_noise: Optional[float] = None, noise_memory_pulses: int = 10,
              rate_window_bins: Optional[int] = None) -> PulseTable:
    """A one-table device from ramps of both directions (see the module text): the
    :class:`crossbar.devices.pulse_tables.PulseTable` of :func:`crossbar.devices.measured_traces.fit_table_arrays`, whose
    parameters these are."""
    return PulseTable(*fit_table_arrays(traces, n_bins, quantiles, min_per_bin, source, read_noise,
                                        noise_memory_pulses, rate_window_bins))


PARAMETRIC_NONLINEARITY_GRID = np.linspace(0.0, 20.0, 401)
"""The exponential law's nonlinearities :func:`fit_parametric` tries (dimensionless)."""


def fit_parametric(traces: Sequence[Trace], n_bins: int = 20, min_per_bin: int = 5,
                   noise_memory_pulses: int = 10) -> Dict[str, Tuple[object, float]]:
    """The linear, soft-bounds and exponential pulse laws fitted to the ramps' mean steps
    (:func:`mean_steps`), each with its cycle noise and its error.

    Each law's steps up and down (and the exponential law's one
    ``nonlinearity``, the best of :data:`PARAMETRIC_NONLINEARITY_GRID`) are
    least squares on the bins' mean steps; its ``cycle_noise_sigma_relative``
    is the pulses' own spread (the steps' variance in each bin less the reads'
    share, :func:`reads_variance`) over the law's step, pooled over
    the bins by their steps. The window is the traces' range.

    Returns ``{kind: (PulseUpdateLaw, error)}``, ``error`` the root-mean-square
    difference of the law's mean step from the bins' means, relative to the
    bins' mean step magnitude; :func:`best_parametric` names the smallest.
    """
    check_int("n_bins", n_bins, 2, 1000)
    check_int("min_per_bin", min_per_bin, 1)
    check_int("noise_memory_pulses", noise_memory_pulses, 1, 10000)
    if not traces:
        raise ValueError("traces: none given")
    g_all = np.concatenate([t.conductance for t in traces])
    low, high = float(g_all.min()), float(g_all.max())
    edges = np.linspace(low, high, n_bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    w = (centres - low) / (high - low)
    means = {up: mean_steps(traces, edges, up, _default_rate_window(traces), min_per_bin) for up in (True, False)}
    reads_share = reads_variance(traces, edges, means, noise_memory_pulses)
    counts, pulse_variance = {}, {}
    for up in (True, False):
        which, dg = _path_binned_steps(traces, edges, up)
        counts[up] = np.bincount(which, minlength=n_bins).astype(np.float64)
        pulse_variance[up] = np.array([max(dg[which == b].var() - reads_share, 0.0) if counts[up][b] >= min_per_bin
                                       else 0.0 for b in range(n_bins)])
        counts[up][counts[up] < min_per_bin] = 0.0
    scale = float(np.mean(np.abs(np.concatenate([means[True], means[False]]))))
    shapes = {"linear": lambda a: (np.ones_like(w), np.ones_like(w)),
              "soft_bounds": lambda a: (1.0 - w, w),
              "exponential": lambda a: (np.exp(-a * w), np.exp(-a * (1.0 - w)))}
    out = {}
    for kind, shape_of in shapes.items():
        best = None
        for a in (PARAMETRIC_NONLINEARITY_GRID if kind == "exponential" else (0.0,)):
            steps_fit, residuals = [], []
            for up, shape in zip((True, False), shape_of(a)):
                target = means[up] if up else -means[up]
                step = max(float(np.dot(shape, target) / np.dot(shape, shape)), 1e-12)
                steps_fit.append(step)
                residuals.append(shape * step - target)
            error = float(np.sqrt(np.mean(np.concatenate(residuals) ** 2)) / scale)
            if best is None or error < best[0]:
                best = (error, a, steps_fit)
        error, a, steps_fit = best
        law_steps = dict(zip((True, False), (s * shape for s, shape in zip(steps_fit, shape_of(a)))))
        spread = sum(float(np.dot(counts[up], pulse_variance[up])) for up in (True, False))
        size = sum(float(np.dot(counts[up], law_steps[up] ** 2)) for up in (True, False))
        law = PulseUpdateLaw(kind, step_up=steps_fit[0], step_down=steps_fit[1], nonlinearity=float(a),
                             cycle_noise_sigma_relative=float(np.sqrt(spread / size)) if size > 0.0 else 0.0)
        out[kind] = (law, error)
    return out


def best_parametric(fits: Dict[str, Tuple[object, float]]) -> str:
    """The kind of :func:`fit_parametric`'s law with the smallest error."""
    return min(fits, key=lambda kind: fits[kind][1])


# ------------------------------------------------------------------ simulated response and its figure
def simulate_like(device, traces: Sequence[Trace], seed: int = 0,
                  progress: Optional[Callable[[int, int], None]] = None) -> List[np.ndarray]:
    """The device's response to each trace's pulse sequence (its start, its count, its direction): one
    simulated ramp per trace, siemens, from the array's seed ``seed``.

    Every ramp is a row of one array, pulsed together: one call of the
    array's kernel a pulse for all the ramps (``progress(done, total)`` is
    called every 1000 pulses and at the end, where given)."""
    if not traces:
        raise ValueError("traces: none given")
    n = len(traces)
    lengths = np.array([t.conductance.size for t in traces])
    longest = int(lengths.max())
    array = CrossbarArray(n, 1, device, seed=seed)
    start = np.array([t.conductance[0] for t in traces])
    array._g0 = np.clip(start, array.g_low[:, 0], array.g_high[:, 0])[:, None].copy()
    array._refresh()
    out = np.full((n, longest), np.nan)
    out[:, 0] = array.conductance[:, 0]
    direction = np.array([1 if t.up else -1 for t in traces], dtype=np.int64)
    for k in range(1, longest):
        live = lengths > k
        array.apply_pulses(np.where(live, direction, 0)[:, None])
        out[live, k] = array.conductance[live, 0]
        if progress is not None and (k % 1000 == 0 or k == longest - 1):
            progress(k, longest - 1)
    return [out[i, :lengths[i]] for i in range(n)]


@dataclass(frozen=True, eq=False)
class RampAgreement:
    """One measured ramp against ``seeds`` simulated ramps of a device from the same start, in windows of
    ``window_pulses`` pulses: each array has one value a window, siemens.

    ``data_low``/``data_high`` are quantiles of the ramp's reads in the
    window (its own spread where no second ramp gives a ramp-to-ramp one),
    ``data_mean`` their mean; ``simulated_mean`` the mean conductance of the
    simulated ramps over the window and seeds; ``simulated_low``/``high`` the
    same quantiles of the seeds' window means.
    """

    trace: Trace
    window_pulses: int
    data_mean: np.ndarray
    data_low: np.ndarray
    data_high: np.ndarray
    simulated_mean: np.ndarray
    simulated_low: np.ndarray
    simulated_high: np.ndarray

    @property
    def mean_inside_data(self) -> float:
        """Share of windows whose simulated mean lies inside the reads' band."""
        return float(np.mean((self.simulated_mean >= self.data_low) & (self.simulated_mean <= self.data_high)))

    @property
    def data_inside_simulated(self) -> float:
        """Share of windows whose measured mean lies inside the simulated ramps' band."""
        return float(np.mean((self.data_mean >= self.simulated_low) & (self.data_mean <= self.simulated_high)))


def ramp_agreement(device, trace: Trace, seeds: int = 20, window_pulses: int = 50, low: float = 0.025,
                   high: float = 0.975) -> RampAgreement:
    """Hold a device against one measured ramp (see :class:`RampAgreement`): ``seeds`` simulated ramps of its
    pulses from the start of the ramp's monotone path (:func:`monotone_path`: its first read is as noisy as
    any), compared window by window."""
    check_int("seeds", seeds, 1)
    check_int("window_pulses", window_pulses, 2, max(2, trace.conductance.size))
    check_range("low", low, 0.0, 1.0)
    check_range("high", high, low, 1.0)
    c = trace.conductance
    start = Trace(np.concatenate([[monotone_path(trace)[0]], c[1:]]), trace.up, trace.name)
    runs = np.array(simulate_like(device, [start] * seeds, seed=0))  # every seed a row of one array
    starts = np.arange(0, c.size, window_pulses)
    windows = [slice(k, min(k + window_pulses, c.size)) for k in starts]
    run_means = np.array([runs[:, w].mean(axis=1) for w in windows]).T
    return RampAgreement(trace, window_pulses,
                         np.array([c[w].mean() for w in windows]),
                         np.array([np.quantile(c[w], low) for w in windows]),
                         np.array([np.quantile(c[w], high) for w in windows]),
                         run_means.mean(axis=0), np.quantile(run_means, low, axis=0),
                         np.quantile(run_means, high, axis=0))


def device_ramps(device, n_devices: int, n_pulses: int, seed: int = 0, settle_pulses: int = 0) -> List[Trace]:
    """Ramps of a device as a measurement would take them: ``n_devices`` devices of one array (seed ``seed``),
    ``settle_pulses`` down pulses first (to the bottom of each one's window), then each pulsed up ``n_pulses``
    times and back down as many, the conductance after each pulse: ``n_devices`` up traces, then as many down,
    siemens (no read noise)."""
    check_int("n_devices", n_devices, 1)
    check_int("n_pulses", n_pulses, MIN_STEPS)
    check_int("settle_pulses", settle_pulses, 0)
    array = CrossbarArray(n_devices, 1, device, seed=seed)
    for _ in range(settle_pulses):
        array.apply_pulses(-np.ones((n_devices, 1), dtype=np.int64))
    ramps = {True: [array.conductance[:, 0].copy()]}
    for _ in range(n_pulses):
        array.apply_pulses(np.ones((n_devices, 1), dtype=np.int64))
        ramps[True].append(array.conductance[:, 0].copy())
    ramps[False] = [ramps[True][-1]]
    for _ in range(n_pulses):
        array.apply_pulses(-np.ones((n_devices, 1), dtype=np.int64))
        ramps[False].append(array.conductance[:, 0].copy())
    return [Trace(r, up) for up in (True, False) for r in np.array(ramps[up]).T]


def band_agreement(device, traces: Sequence[Trace], seeds: int = 20, low: float = 0.05,
                   high: float = 0.95, window_pulses: int = 50) -> Dict[bool, float]:
    """Share of the data at which the mean of ``seeds`` simulated ramps lies within the data's ``low`` to
    ``high`` band, per direction.

    With :data:`FEW_RAMPS` ramps of a direction or more, the band is across
    ramps, pulse by pulse (each ramp's first ``n`` pulses, ``n`` the shortest);
    with fewer, there is no ramp-to-ramp spread to hold against, and the band
    is of each ramp's reads in windows of ``window_pulses``
    (:func:`ramp_agreement`), pooled over the ramps.
    """
    out = {}
    for up in (True, False):
        mine = [t for t in traces if t.up == up]
        if not mine:
            continue
        if len(mine) < FEW_RAMPS:
            out[up] = _windows_inside(_each_ramp(device, mine, seeds, window_pulses, low, high))
            continue
        lo, hi, runs = _across_ramps(device, mine, seeds, low, high)
        mean = runs.mean(axis=0)
        out[up] = float(np.mean((mean >= lo) & (mean <= hi)))
    return out


def _each_ramp(device, ramps: Sequence[Trace], seeds: int, window_pulses: int, low: float,
               high: float) -> List[RampAgreement]:
    """:func:`ramp_agreement` of each ramp (windows no longer than the ramp)."""
    return [ramp_agreement(device, t, seeds, min(window_pulses, t.conductance.size), low, high) for t in ramps]


def _windows_inside(agreements: Sequence[RampAgreement]) -> float:
    """Share of all the ramps' windows whose simulated mean lies inside the reads' band."""
    return float(np.average([a.mean_inside_data for a in agreements], weights=[a.data_mean.size for a in agreements]))


def _across_ramps(device, ramps: Sequence[Trace], seeds: int, low: float, high: float):
    """The ramps' ``low`` and ``high`` quantiles pulse by pulse (their first ``n`` pulses, ``n`` the shortest),
    siemens, and ``seeds`` simulated ramps from their mean start, shape (seeds, n)."""
    n = min(t.conductance.size for t in ramps)
    data = np.array([t.conductance[:n] for t in ramps])
    start = Trace(np.full(n, data[:, 0].mean()), ramps[0].up)
    runs = np.array(simulate_like(device, [start] * seeds, seed=0))[:, :n]  # every seed a row of one array
    return np.quantile(data, low, axis=0), np.quantile(data, high, axis=0), runs


def plot_response(device, traces: Sequence[Trace], path: str, seeds: int = 5, title: Optional[str] = None) -> None:
    """Draw the measured ramps beside the device's simulated response to the same pulses (``seeds`` runs),
    and the steps against G with the device's table quantiles, to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ramps, step_axes) = plt.subplots(1, 2, figsize=(13, 4.5))
    us = 1e6
    offset = 0
    shown = [t for t in traces if t.up][:6] + [t for t in traces if not t.up][:6]
    for t in shown:
        x = offset + np.arange(t.conductance.size)
        ramps.plot(x, t.conductance * us, color="0.55", lw=1.0)
        offset += t.conductance.size
    for s in range(seeds):
        offset = 0
        for t, sim in zip(shown, simulate_like(device, shown, seed=s)):
            x = offset + np.arange(sim.size)
            ramps.plot(x, sim * us, color=f"C{s % 10}", lw=0.7, alpha=0.8)
            offset += sim.size
    ramps.plot([], [], color="0.55", label=f"measured ({len(shown)} of {len(traces)} ramps)")
    ramps.plot([], [], color="C0", label=f"simulated, {seeds} seeds")
    ramps.set_xlabel("pulse (ramps one after the other)")
    ramps.set_ylabel("conductance (uS)")
    ramps.legend(fontsize=8)
    for up, colour in ((True, "C3"), (False, "C0")):
        g, dg = steps(traces, up)
        step_axes.plot(g * us, dg * us, ".", ms=1.5, color=colour, alpha=0.25)
    law = device.pulse_law
    if law.kind == "table":
        table = law.pulse_table()
        for up, colour in ((True, "C3"), (False, "C0")):
            d = table.dg_up[0] if up else table.dg_down[0]
            for q, style in ((0.05, ":"), (0.5, "-"), (0.95, ":")):
                line = np.array([np.interp(q, table.quantiles, d[:, b]) for b in range(d.shape[1])])
                step_axes.plot(table.g_bins[0] * us, line * us, style, color=colour, lw=1.2)
        step_axes.plot([], [], "k-", label="table median (first table)")
        step_axes.plot([], [], "k:", label="5 and 95 %")
    step_axes.set_xlabel("conductance before the pulse (uS)")
    step_axes.set_ylabel("change of one pulse (uS)")
    step_axes.axhline(0.0, color="0.8", lw=0.6)
    step_axes.legend(fontsize=8)
    fig.suptitle(title or f"{device.name}: measured and simulated", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_agreement(device, traces: Sequence[Trace], path: str, seeds: int = 20, window_pulses: int = 50,
                   title: Optional[str] = None, low: float = 0.025, high: float = 0.975) -> Dict[bool, float]:
    """Draw, per direction, the data's ``low`` to ``high`` band beside the mean and band of ``seeds`` simulated
    ramps (what :func:`band_agreement` counts) to ``path``; returns :func:`band_agreement`'s shares.

    With :data:`FEW_RAMPS` ramps or more of a direction the data's band is
    across ramps, pulse by pulse; with fewer, of each ramp's reads in windows
    of ``window_pulses`` (:func:`ramp_agreement`; the first ramp drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directions = [up for up in (True, False) if any(t.up == up for t in traces)]
    if not directions:
        raise ValueError("traces: none given")
    fig, axes = plt.subplots(1, len(directions), figsize=(6.5 * len(directions), 4.3), squeeze=False)
    us = 1e6
    band = f"{100 * low:g}..{100 * high:g}"
    shares = {}
    for ax, up in zip(axes[0], directions):
        mine = [t for t in traces if t.up == up]
        if len(mine) < FEW_RAMPS:
            each = _each_ramp(device, mine, seeds, window_pulses, low, high)
            a = each[0]  # the first ramp drawn, every ramp counted
            x = np.arange(a.data_mean.size) * a.window_pulses + 0.5 * a.window_pulses
            ax.plot(np.arange(mine[0].conductance.size), mine[0].conductance * us, color="0.75", lw=0.6,
                    label="measured reads")
            ax.fill_between(x, a.data_low * us, a.data_high * us, color="0.5", alpha=0.35,
                            label=f"reads' {band} % a window of {a.window_pulses}")
            ax.fill_between(x, a.simulated_low * us, a.simulated_high * us, color="C1", alpha=0.25,
                            label=f"simulated, {band} % of {seeds} seeds")
            ax.plot(x, a.simulated_mean * us, "C1-o", ms=3, lw=1.5, label=f"simulated mean of {seeds} seeds")
            shares[up] = _windows_inside(each)
            note = (f"mean inside the reads' band: {100 * a.mean_inside_data:.0f} % of windows; measured inside "
                    f"the simulated band: {100 * a.data_inside_simulated:.0f} %")
        else:
            lo, hi, runs = _across_ramps(device, mine, seeds, low, high)
            x = np.arange(lo.size)
            ax.fill_between(x, lo * us, hi * us, color="0.5", alpha=0.35,
                            label=f"measured, {band} % of {len(mine)} ramps")
            ax.fill_between(x, np.quantile(runs, low, axis=0) * us, np.quantile(runs, high, axis=0) * us,
                            color="C1", alpha=0.25, label=f"simulated, {band} % of {seeds} seeds")
            mean = runs.mean(axis=0)
            ax.plot(x, mean * us, "C1-", lw=1.5, label=f"simulated mean of {seeds} seeds")
            shares[up] = float(np.mean((mean >= lo) & (mean <= hi)))
            note = f"mean inside the measured band: {100 * shares[up]:.0f} % of pulses"
        ax.set_title(f"{'up' if up else 'down'}: {note}", fontsize=8)
        ax.set_xlabel("pulse")
        ax.set_ylabel("conductance (uS)")
        ax.legend(fontsize=7)
    fig.suptitle(title or f"{device.name} against the measured ramps", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return shares


# ------------------------------------------------------------------ goodness of fit
FIT_BAND_SHARE = 0.9
"""Least share of pulses (or windows) whose simulated mean lies inside the data's 5..95 % band for a range
to hold."""
FIT_VARIANCE_RATIO = (0.67, 1.5)
"""Range of the step-variance ratio (simulated over measured, reads included) for a range to hold."""
FIT_KS_P = 1e-3
"""Least p-value of the two-sample Kolmogorov-Smirnov test of single-pulse steps for a range to hold."""
FIT_RANGES = 3
"""Conductance ranges a direction is split into (equal shares of the data's reads)."""
DETREND_WINDOW = 50
"""Pulses of the running mean a step is taken less, where a direction has fewer than :data:`FEW_RAMPS`
ramps (no pulse-by-pulse mean across ramps)."""


@dataclass(frozen=True)
class RangeFit:
    """How a device holds against the data in one conductance range of one direction.

    ``g_low``/``g_high`` siemens (the range of the reads before the step);
    ``band_share`` the share of pulses (windows of :data:`DETREND_WINDOW`
    with few ramps) whose simulated mean lies inside the data's 5..95 % band
    (NaN where none lies in the range); ``variance_ratio`` the variance of
    the simulated steps over the measured ones', each less the mean step at
    its pulse (less a running mean with few ramps), reads included;
    ``ks_p`` the two-sample KS p-value of the simulated and measured
    single-pulse steps; ``n_data``/``n_simulated`` the steps counted.
    """

    up: bool
    g_low: float
    g_high: float
    n_data: int
    n_simulated: int
    band_share: float
    variance_ratio: float
    ks_p: float

    @property
    def holds(self) -> bool:
        """Every check within its threshold (:data:`FIT_BAND_SHARE`, :data:`FIT_VARIANCE_RATIO`,
        :data:`FIT_KS_P`); a range without pulses for the band is judged on the other two."""
        band = np.isnan(self.band_share) or self.band_share >= FIT_BAND_SHARE
        return bool(band and FIT_VARIANCE_RATIO[0] <= self.variance_ratio <= FIT_VARIANCE_RATIO[1]
                    and self.ks_p >= FIT_KS_P)


def _detrended_steps(ramps: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reads before each step, the steps, and the steps less the mean step at their pulse (their first ``n``
    steps, ``n`` the shortest ramp's, with :data:`FEW_RAMPS` ramps or more) or less a running mean of
    :data:`DETREND_WINDOW` steps (fewer ramps), siemens."""
    if len(ramps) >= FEW_RAMPS:
        n = min(r.size for r in ramps) - 1
        d = np.array([np.diff(r[:n + 1]) for r in ramps])
        g = np.array([r[:n] for r in ramps])
        return g.ravel(), d.ravel(), (d - d.mean(axis=0)).ravel()
    gs, ds, rs = [], [], []
    for r in ramps:
        d = np.diff(r)
        width = min(DETREND_WINDOW, d.size)
        running = np.convolve(d, np.ones(width) / width, mode="same") * width / np.convolve(
            np.ones(d.size), np.ones(width), mode="same")
        gs.append(r[:-1])
        ds.append(d)
        rs.append(d - running)
    return np.concatenate(gs), np.concatenate(ds), np.concatenate(rs)


def _band_shares(data: Sequence[np.ndarray], simulated: Sequence[np.ndarray], edges: np.ndarray) -> np.ndarray:
    """Share of pulses (windows of :data:`DETREND_WINDOW` with few ramps) in each range whose simulated mean
    lies inside the data's 5..95 % band; NaN for a range with none."""
    if len(data) >= FEW_RAMPS:
        n = min(r.size for r in data)
        d = np.array([r[:n] for r in data])
        sim_mean = np.array([r[:n] for r in simulated]).mean(axis=0)
        inside = (sim_mean >= np.quantile(d, 0.05, axis=0)) & (sim_mean <= np.quantile(d, 0.95, axis=0))
        where = d.mean(axis=0)
    else:
        inside, where = [], []
        seeds = len(simulated) // len(data)
        for i, r in enumerate(data):
            runs = np.array([simulated[i + j * len(data)] for j in range(seeds)])
            for k in range(0, r.size, DETREND_WINDOW):
                w = slice(k, min(k + DETREND_WINDOW, r.size))
                m = runs[:, w].mean()
                inside.append(np.quantile(r[w], 0.05) <= m <= np.quantile(r[w], 0.95))
                where.append(r[w].mean())
        inside, where = np.array(inside), np.array(where)
    which = np.clip(np.searchsorted(edges, where, side="right") - 1, 0, edges.size - 2)
    return np.array([inside[which == b].mean() if np.any(which == b) else np.nan for b in range(edges.size - 1)])


def fit_report(device, traces: Sequence[Trace], seeds: int = 20, read_noise: Optional[float] = None,
               seed: int = 0, progress: Optional[Callable[[int, int], None]] = None) -> List[RangeFit]:
    """Hold a device against measured ramps, per direction and conductance range (:class:`RangeFit`).

    ``seeds`` simulated ramps per measured ramp, each from the start of its
    monotone path with the same pulses (:func:`simulate_like`), read with
    white noise ``read_noise`` siemens (default: the data's own,
    :func:`estimate_read_noise`; the device's own read noise is not drawn
    here). Each direction's reads are split into :data:`FIT_RANGES` ranges
    of equal shares; a step belongs to the range of the read before it.
    """
    from scipy.stats import ks_2samp

    check_int("seeds", seeds, 1, 10000)
    if not traces:
        raise ValueError("traces: none given")
    sigma = estimate_read_noise(traces) if read_noise is None else check_range("read_noise", read_noise, 0.0,
                                                                                  unit="S")
    rng = np.random.default_rng([seed, 0x5EAD])
    out = []
    for up in (True, False):
        mine = [t for t in traces if t.up == up]
        if not mine:
            continue
        starts = [Trace(np.concatenate([[monotone_path(t)[0]], t.conductance[1:]]), up, t.name) for t in mine]
        runs = simulate_like(device, starts * seeds, seed=seed, progress=progress)
        reads = [r + sigma * rng.standard_normal(r.size) for r in runs]
        data = [t.conductance for t in mine]
        g_data, d_data, r_data = _detrended_steps(data)
        g_sim, d_sim, r_sim = _detrended_steps(reads)
        edges = np.quantile(np.concatenate([r[:-1] for r in data]), np.linspace(0.0, 1.0, FIT_RANGES + 1))
        edges[0], edges[-1] = -np.inf, np.inf
        bands = _band_shares(data, runs, edges)
        for b in range(FIT_RANGES):
            here_data = (g_data >= edges[b]) & (g_data < edges[b + 1])
            here_sim = (g_sim >= edges[b]) & (g_sim < edges[b + 1])
            if here_data.sum() < 2 or here_sim.sum() < 2:
                ratio, p = np.nan, np.nan
            else:
                measured = r_data[here_data].var()
                ratio = r_sim[here_sim].var() / measured if measured > 0.0 else np.inf
                p = float(ks_2samp(d_data[here_data], d_sim[here_sim]).pvalue)
            low = float(np.min(g_data[here_data])) if here_data.any() else np.nan
            high = float(np.max(g_data[here_data])) if here_data.any() else np.nan
            out.append(RangeFit(up, low, high, int(here_data.sum()), int(here_sim.sum()), float(bands[b]),
                                float(ratio), p))
    return out


def format_fit_report(report: Sequence[RangeFit], indent: str = "") -> List[str]:
    """The report as lines for people (uS, percent), with each range's verdict and the thresholds."""
    lines = [f"{indent}goodness of fit (holds: mean inside the data's 5..95 % band at >= {100 * FIT_BAND_SHARE:.0f} % "
             f"of pulses, step-variance ratio {FIT_VARIANCE_RATIO[0]:g}..{FIT_VARIANCE_RATIO[1]:g}, KS p >= "
             f"{FIT_KS_P:g}):",
             f"{indent}  {'dir':<5} {'range (uS)':<19} {'steps':>6} {'band':>6} {'var ratio':>9} {'KS p':>9}  verdict"]
    for r in report:
        band = "-" if np.isnan(r.band_share) else f"{100 * r.band_share:.0f} %"
        lines.append(f"{indent}  {'up' if r.up else 'down':<5} {r.g_low * 1e6:8.4g}..{r.g_high * 1e6:<8.4g} "
                     f"{r.n_data:>6d} {band:>6} {r.variance_ratio:9.2f} {r.ks_p:9.2g}  "
                     f"{'holds' if r.holds else 'does not hold'}")
    return lines


def plot_fit_report(report: Sequence[RangeFit], path: str, title: str = "") -> None:
    """Draw the report (:func:`fit_report`): per direction and range, the band share, the step-variance ratio
    and the KS p-value against their thresholds (each bar green where its check holds), to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    labels = [f"{'up' if r.up else 'down'}\n{r.g_low * 1e6:.4g}..\n{r.g_high * 1e6:.4g}" for r in report]
    x = np.arange(len(report))
    values = ([100 * r.band_share for r in report], [r.variance_ratio for r in report], [r.ks_p for r in report])
    verdicts = ([np.isnan(r.band_share) or r.band_share >= FIT_BAND_SHARE for r in report],
                [FIT_VARIANCE_RATIO[0] <= r.variance_ratio <= FIT_VARIANCE_RATIO[1] for r in report],
                [r.ks_p >= FIT_KS_P for r in report])
    names = ("simulated mean inside the data's\n5..95 % band (% of pulses)", "step-variance ratio\n(simulated / measured)",
             "KS p of single-pulse steps")
    for ax, value, verdict, name in zip(axes, values, verdicts, names):
        ax.bar(x, np.nan_to_num(value, nan=0.0), color=["C2" if v else "C3" for v in verdict])
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("direction, range of G (uS)", fontsize=8)
    axes[0].axhline(100 * FIT_BAND_SHARE, color="k", ls="--", lw=1, label=f"threshold {100 * FIT_BAND_SHARE:.0f} %")
    axes[0].set_ylim(0, 105)
    for bound in FIT_VARIANCE_RATIO:
        axes[1].axhline(bound, color="k", ls="--", lw=1)
    axes[1].plot([], [], "k--", label=f"holds within {FIT_VARIANCE_RATIO[0]:g}..{FIT_VARIANCE_RATIO[1]:g}")
    axes[2].set_yscale("log")
    axes[2].axhline(FIT_KS_P, color="k", ls="--", lw=1, label=f"threshold p = {FIT_KS_P:g}")
    for ax in axes:
        ax.legend(fontsize=7, loc="lower left", framealpha=0.9)
    fig.suptitle(title or "goodness of fit (each bar green where its check holds, red where not)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
