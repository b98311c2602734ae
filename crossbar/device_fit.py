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
the mean step: a :class:`crossbar.pulse_tables.PulseTable`.
:func:`fit_parametric` fits the linear, soft-bounds and exponential laws' mean
step to the same bins and gives each one's cycle noise and error. :func:`simulate_like`,
:func:`band_agreement`, :func:`ramp_agreement`, :func:`plot_response` and
:func:`plot_agreement` hold a device against the traces (``xbar device fit``
and ``show``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .pulse_tables import PulseTable
from .validation import check_int, check_range

MIN_STEPS = 5
"""Fewest pulses a ramp must have (steps between reads)."""
DEFAULT_QUANTILES = np.linspace(0.0, 1.0, 21)
FEW_RAMPS = 5
"""Ramps of a direction below which :func:`fit_table` pools neighbouring bins into each bin's mean step."""


@dataclass(frozen=True, eq=False)
class Trace:
    """One ramp: the conductance after each pulse, siemens, and its direction (``up``)."""

    conductance: np.ndarray
    up: bool
    name: str = ""


def read_traces(path: str, window: Optional[Tuple[float, float]] = None,
                read_voltage: Optional[float] = None) -> List[Trace]:
    """The ramps of a CSV file, in siemens (see the module text).

    Parameters
    ----------
    path : str
    window : (float, float), optional
        Siemens: map normalised data linearly so that its lowest value is
        ``window[0]`` and its highest ``window[1]``.
    read_voltage : float, optional
        Volts: the file holds read currents (A) at this voltage; ``G = I / V``.

    Raises
    ------
    ValueError
        Naming the file and the column: a file without numbers, a ramp of
        fewer than :data:`MIN_STEPS` pulses, a NaN or gap inside a ramp, a time
        column that does not rise, a ramp that never changes, negative
        conductances without a window.
    """
    try:
        with open(path, newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"traces {path}: cannot be read ({error})") from None
    return parse_traces(text, path, window, read_voltage)


def parse_traces(text: str, source: str = "traces", window: Optional[Tuple[float, float]] = None,
                 read_voltage: Optional[float] = None) -> List[Trace]:
    """:func:`read_traces` of a CSV's text (``source`` names it in errors)."""
    if window is not None and read_voltage is not None:
        raise ValueError(f"{source}: give window (normalised data) or read_voltage (currents), not both")
    if window is not None:
        low = check_range("window low", window[0], 0.0, unit="S")
        high = check_range("window high", window[1], 0.0, low_open=True, unit="S")
        if high <= low:
            raise ValueError(f"window={window!r}: low < high is required (siemens)")
    if read_voltage is not None:
        check_range("read_voltage", read_voltage, 0.0, low_open=True, unit="V")
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{source}: no rows; a CSV of ramps (one a column) is required")
    header = None
    if not _numeric(rows[0][0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    width = max(len(r) for r in rows) if rows else 0
    if width == 0:
        raise ValueError(f"{source}: no numbers below the header")
    grid = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        for j, cell in enumerate(r):
            cell = cell.strip()
            if not cell:
                continue
            try:
                grid[i, j] = float(cell)
            except ValueError:
                raise ValueError(f"{source}: row {i + 2 if header else i + 1}, column {j + 1}: {cell!r} is not a "
                                 "number") from None
    names = header if header and len(header) == width else [f"column {j + 1}" for j in range(width)]
    if header and header[0].lower() in ("time", "pulse", "t", "pulses"):
        time = grid[:, 0]
        valid = time[~np.isnan(time)]
        if np.any(np.diff(valid) <= 0.0):
            k = int(np.flatnonzero(np.diff(valid) <= 0.0)[0])
            raise ValueError(f"{source}: the {header[0]!r} column does not rise strictly (row {k + 3}: "
                             f"{valid[k + 1]!r} after {valid[k]!r})")
        grid, names = grid[:, 1:], names[1:]
    ramps = []
    for j in range(grid.shape[1]):
        column = grid[:, j]
        filled = np.flatnonzero(~np.isnan(column))
        if filled.size == 0:
            raise ValueError(f"{source}: {names[j]} holds no numbers")
        values = column[:filled[-1] + 1]
        if np.isnan(values).any():
            k = int(np.flatnonzero(np.isnan(values))[0])
            raise ValueError(f"{source}: {names[j]} has a NaN or empty cell inside its ramp (row {k + 1}); "
                             "only a ramp's end may be empty")
        if values.size < MIN_STEPS + 1:
            raise ValueError(f"{source}: {names[j]} has {values.size} reads; a ramp needs at least "
                             f"{MIN_STEPS + 1} (pulses between reads)")
        if np.all(values == values[0]):
            raise ValueError(f"{source}: {names[j]} never changes ({values[0]!r} throughout); a ramp of pulses "
                             "that move the device is required")
        ramps.append((names[j], values))
    everything = np.concatenate([v for _, v in ramps])
    if window is not None:
        lo, hi = float(everything.min()), float(everything.max())
        ramps = [(n, window[0] + (v - lo) * (window[1] - window[0]) / (hi - lo)) for n, v in ramps]
    elif read_voltage is not None:
        ramps = [(n, v / read_voltage) for n, v in ramps]
    if window is None and np.any(np.concatenate([v for _, v in ramps]) < 0.0):
        raise ValueError(f"{source}: negative conductances; normalised data needs window=(low, high) in siemens")
    return [Trace(np.ascontiguousarray(v), bool(v[-1] > v[0]), n) for n, v in ramps]


def _numeric(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def steps(traces: Sequence[Trace], up: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Every ``(G_k, G_{k+1} - G_k)`` of the ramps of one direction, siemens."""
    chosen = [t.conductance for t in traces if t.up == up]
    if not chosen:
        return np.zeros(0), np.zeros(0)
    return (np.concatenate([c[:-1] for c in chosen]), np.concatenate([np.diff(c) for c in chosen]))


def estimate_read_noise(traces: Sequence[Trace], n_bins: int = 20) -> float:
    """The read noise of the traces' reads, siemens: independent noise ``e_k`` on each read makes the
    steps ``d_k = dG_k + e_{k+1} - e_k`` anti-correlated, ``cov(d_k, d_{k+1}) = -sigma^2``.

    Each step less the mean step of its direction at its conductance (``n_bins``
    bins: the law's dependence on G, which a soft bound's feedback would
    otherwise turn into a correlation of its own) gives the lag-1 covariance,
    pooled over the ramps; 0 where it is not negative."""
    g_all = np.concatenate([t.conductance for t in traces])
    edges = np.linspace(g_all.min(), g_all.max(), n_bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    means = {}
    for up in (True, False):
        mean = bin_statistics(traces, edges, up)[0]
        ok = ~np.isnan(mean)
        means[up] = (centres[ok], mean[ok]) if ok.any() else None
    products, count = 0.0, 0
    for t in traces:
        if means[t.up] is None or t.conductance.size < 4:
            continue
        d = np.diff(t.conductance)
        r = d - np.interp(t.conductance[:-1], *means[t.up])
        products += float(np.sum(r[1:] * r[:-1]))
        count += r.size - 1
    if count == 0:
        return 0.0
    return float(np.sqrt(max(-products / count, 0.0)))


def monotone_path(trace: Trace) -> np.ndarray:
    """The ramp's conductance without its reads' noise, siemens: the closest monotone sequence (least squares;
    rising for an up ramp, falling for a down one), ``scipy.optimize.isotonic_regression``.

    A pulse of a ramp moves the device one way on average; what goes back is
    mostly the reads' noise. Binning steps by this path instead of by the
    noisy reads takes away the errors-in-variables bias of binning by a noisy
    variable (a read that came out high is followed by a step down:
    ``E[d_k | G_k read high] < E[d_k]``), which pulls the mean step towards the
    middle of the window by as much as the noise over the step, and grows
    where the steps are small beside the noise.
    """
    from scipy.optimize import isotonic_regression

    return isotonic_regression(trace.conductance, increasing=trace.up).x


def _crossing(paths: Sequence[np.ndarray], edges: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Signed conductance each bin is crossed by and the pulses spent in it, summed over the paths.

    Between pulses ``k`` and ``k + 1`` a path runs straight from ``y_k`` to
    ``y_{k+1}``: it crosses each bin by the overlap of that segment and spends in
    it the overlap's share of the pulse (the whole pulse where it stands still)."""
    n_bins = edges.size - 1
    crossed, spent = np.zeros(n_bins), np.zeros(n_bins)
    for y in paths:
        start, end = y[:-1], y[1:]
        low, high = np.minimum(start, end), np.maximum(start, end)
        overlap = np.clip(np.minimum(high[:, None], edges[None, 1:]) - np.maximum(low[:, None], edges[None, :-1]),
                          0.0, None)
        span = high - low
        still = span <= 0.0
        share = overlap / np.where(still, 1.0, span)[:, None]
        share[still] = 0.0
        share[np.flatnonzero(still), np.clip(np.searchsorted(edges, start[still], side="right") - 1, 0,
                                             n_bins - 1)] = 1.0
        crossed += (overlap * np.sign(end - start)[:, None]).sum(axis=0)
        spent += share.sum(axis=0)
    return crossed, spent


def _nearest_filled(values: np.ndarray, filled: np.ndarray) -> np.ndarray:
    """Each bin's value, or the nearest filled bin's where it has none (``filled``: a boolean mask)."""
    where = np.flatnonzero(filled)
    nearest = where[np.argmin(np.abs(where[None, :] - np.arange(values.shape[-1])[:, None]), axis=1)]
    return values[..., nearest]


def _pooled(values: np.ndarray, half_width: int) -> np.ndarray:
    """Each bin's value summed with its ``half_width`` neighbours either side (those that exist)."""
    running = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(values.size)
    return running[np.minimum(index + half_width + 1, values.size)] - running[np.maximum(index - half_width, 0)]


def _default_rate_window(traces: Sequence[Trace]) -> int:
    """Bins either side pooled into a mean step: 1 where a direction has fewer than :data:`FEW_RAMPS` ramps."""
    return int(min(sum(t.up for t in traces), sum(not t.up for t in traces)) < FEW_RAMPS)


def mean_steps(traces: Sequence[Trace], edges: np.ndarray, up: bool, rate_window_bins: int = 0,
               min_per_bin: int = 5) -> np.ndarray:
    """Mean change of one pulse in each conductance bin, siemens: the rate at which the ramps' monotone paths
    (:func:`monotone_path`) cross the bin, conductance crossed over pulses spent, pooled over the ramps of
    a direction and over ``rate_window_bins`` bins either side (a moving window: a single ramp crosses a bin in
    a few jumps of its path). Bins whose window holds fewer than ``min_per_bin`` pulses take the nearest
    bin's. The reads' noise telescopes away: ``n`` steps in a row add up to the change of the path over them.
    """
    check_int("rate_window_bins", rate_window_bins, 0, max(0, edges.size - 2))
    check_int("min_per_bin", min_per_bin, 1)
    paths = [monotone_path(t) for t in traces if t.up == up]
    if not paths:
        raise ValueError(f"traces: no {'up' if up else 'down'} ramp; a table needs ramps of both directions")
    crossed, spent = (_pooled(x, rate_window_bins) for x in _crossing(paths, edges))
    enough = spent >= min_per_bin
    if not enough.any():
        raise ValueError(f"traces: no conductance bin holds {min_per_bin} {'up' if up else 'down'} pulses; give "
                         "longer ramps or fewer bins")
    return _nearest_filled(crossed / np.where(enough, spent, 1.0), enough)


def non_accumulating_variance(traces: Sequence[Trace], edges: np.ndarray, means: Dict[bool, np.ndarray],
                              memory_pulses: int = 10) -> float:
    """The part of the steps' variance that does not add up over a ramp, siemens squared.

    A step is ``d_k = dG_k + e_{k+1} - e_k``: the pulse's own change and the
    difference of the reads' fluctuation ``e`` (read noise, and whatever moves
    the reading without moving the state). Over many pulses only the ``dG``
    add up: the steps' long-run variance ``gamma_0 + 2 sum_j gamma_j`` is the
    pulses' own variance, and ``-2 sum_{j>=1} gamma_j`` is the reads' part of
    ``gamma_0``, whatever the fluctuation's memory, as long as it is shorter
    than ``memory_pulses`` (for white read noise it is ``2 sigma^2``, the lag-1
    term alone). The steps are taken less the mean step at their path's
    conductance. 0 where the sum is not negative."""
    centres = 0.5 * (edges[:-1] + edges[1:])
    products, counts = np.zeros(memory_pulses + 1), np.zeros(memory_pulses + 1)
    for t in traces:
        path = monotone_path(t)
        residual = np.diff(t.conductance) - np.interp(path[:-1], centres, means[t.up])
        for lag in range(min(memory_pulses, residual.size - 1) + 1):
            products[lag] += float(np.dot(residual[lag:], residual[:residual.size - lag]))
            counts[lag] += residual.size - lag
    autocovariance = products / np.maximum(counts, 1.0)
    return max(-2.0 * float(autocovariance[1:].sum()), 0.0)


def fit_table(traces: Sequence[Trace], n_bins: int = 20, quantiles=DEFAULT_QUANTILES,
              min_per_bin: int = 5, source: str = "fitted from traces",
              read_noise: Optional[float] = None, noise_memory_pulses: int = 10,
              rate_window_bins: Optional[int] = None) -> PulseTable:
    """A one-table device from ramps of both directions (see the module text).

    Parameters
    ----------
    traces : sequence of Trace
        Ramps of identical pulses, both directions, siemens.
    n_bins : int
        Equal-width conductance bins over the traces' range.
    quantiles : array_like
        Cumulative probabilities of the table, 0 to 1.
    min_per_bin : int
        Pulses a bin needs for its own mean and spread; bins with fewer take
        the nearest bin's.
    read_noise : float, optional
        Siemens: white read noise of the reads, whose ``2 read_noise^2`` is
        taken out of the steps' variance. Default: the non-accumulating
        variance measured from the steps themselves
        (:func:`non_accumulating_variance` over ``noise_memory_pulses`` lags).
    rate_window_bins : int, optional
        Bins either side pooled into each bin's mean step (:func:`mean_steps`).
        Default: 1 where a direction has fewer than :data:`FEW_RAMPS` ramps
        (one ramp crosses a bin in a few jumps of its path), else 0 (pooling
        biases the bins next to where the ramps stop).

    Each bin's mean step is the paths' crossing rate (:func:`mean_steps`);
    its quantiles are those of the observed steps whose path lies in the
    bin, drawn in about their mean by ``sqrt(1 - v_reads / var)`` so that
    they hold the pulses' own spread, then moved so that the table's own mean
    (the quantile function's integral, what a pulse draws) is the mean step.
    Raises ``ValueError`` when a direction has no ramp.
    """
    check_int("n_bins", n_bins, 2, 1000)
    check_int("min_per_bin", min_per_bin, 1)
    check_int("noise_memory_pulses", noise_memory_pulses, 1, 10000)
    q = np.asarray(quantiles, dtype=np.float64)
    if not traces:
        raise ValueError("traces: none given")
    for up in (True, False):
        if not any(t.up == up for t in traces):
            raise ValueError(f"traces: no {'up' if up else 'down'} ramp; a table needs ramps of both directions")
    if rate_window_bins is None:
        rate_window_bins = _default_rate_window(traces)
    check_int("rate_window_bins", rate_window_bins, 0, n_bins)
    g_all = np.concatenate([t.conductance for t in traces])
    edges = np.linspace(g_all.min(), g_all.max(), n_bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    means = {up: mean_steps(traces, edges, up, rate_window_bins, min_per_bin) for up in (True, False)}
    if read_noise is None:
        reads_variance = non_accumulating_variance(traces, edges, means, noise_memory_pulses)
    else:
        reads_variance = 2.0 * check_range("read_noise", read_noise, 0.0, unit="S") ** 2
    weights = np.diff(q)
    tables = []
    for up in (True, False):
        which, dg = _path_binned_steps(traces, edges, up)
        shapes = np.zeros((q.size, n_bins))
        filled = np.zeros(n_bins, dtype=bool)
        for b in range(n_bins):
            steps_here = dg[which == b]
            if steps_here.size >= min_per_bin:
                variance = steps_here.var()
                shrink = np.sqrt(max(variance - reads_variance, 0.0) / variance) if variance > 0.0 else 1.0
                shapes[:, b] = shrink * (np.quantile(steps_here, q) - steps_here.mean())
                filled[b] = True
        if not filled.any():
            raise ValueError(f"traces: no conductance bin has {min_per_bin} {'up' if up else 'down'} steps; "
                             "give longer ramps or fewer bins")
        shapes = _nearest_filled(shapes, filled)
        table = shapes + (means[up] - (0.5 * (shapes[1:] + shapes[:-1]) * weights[:, None]).sum(axis=0))[None, :]
        tables.append(table)
    return PulseTable(centres, q, tables[0][None], tables[1][None], source)


def bin_statistics(traces: Sequence[Trace], edges: np.ndarray, up: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation of the step in each conductance bin, and each bin's count."""
    g, dg = steps(traces, up)
    which = np.searchsorted(edges, g, side="right") - 1
    n = edges.size - 1
    mean, std, count = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    for b in range(n):
        mine = dg[which == b]
        count[b] = mine.size
        if mine.size:
            mean[b], std[b] = mine.mean(), mine.std()
    return mean, std, count


def _path_binned_steps(traces: Sequence[Trace], edges: np.ndarray, up: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Each step of the ramps of one direction, siemens, and its bin: where the ramp's monotone path stands."""
    mine = [t for t in traces if t.up == up]
    if not mine:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    where = np.concatenate([monotone_path(t)[:-1] for t in mine])
    which = np.clip(np.searchsorted(edges, where, side="right") - 1, 0, edges.size - 2)
    return which, np.concatenate([np.diff(t.conductance) for t in mine])


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
    share, :func:`non_accumulating_variance`) over the law's step, pooled over
    the bins by their steps. The window is the traces' range.

    Returns ``{kind: (PulseUpdateLaw, error)}``, ``error`` the root-mean-square
    difference of the law's mean step from the bins' means, relative to the
    bins' mean step magnitude; :func:`best_parametric` names the smallest.
    """
    from .device import PulseUpdateLaw

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
    reads_variance = non_accumulating_variance(traces, edges, means, noise_memory_pulses)
    counts, pulse_variance = {}, {}
    for up in (True, False):
        which, dg = _path_binned_steps(traces, edges, up)
        counts[up] = np.bincount(which, minlength=n_bins).astype(np.float64)
        pulse_variance[up] = np.array([max(dg[which == b].var() - reads_variance, 0.0) if counts[up][b] >= min_per_bin
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
def simulate_like(device, traces: Sequence[Trace], seed: int = 0) -> List[np.ndarray]:
    """The device's response to each trace's pulse sequence (its start, its count, its direction): one
    simulated ramp per trace, siemens, from the array's seed ``seed``."""
    from .array import CrossbarArray

    if not traces:
        raise ValueError("traces: none given")
    n = len(traces)
    longest = max(t.conductance.size for t in traces)
    array = CrossbarArray(n, 1, device, seed=seed)
    start = np.array([t.conductance[0] for t in traces])
    array._g0 = np.clip(start, array.g_low[:, 0], array.g_high[:, 0])[:, None].copy()
    array._refresh()
    out = np.full((n, longest), np.nan)
    out[:, 0] = array.conductance[:, 0]
    direction = np.array([1 if t.up else -1 for t in traces], dtype=np.int64)
    for k in range(1, longest):
        live = np.array([t.conductance.size > k for t in traces])
        array.apply_pulses(np.where(live, direction, 0)[:, None])
        out[live, k] = array.conductance[live, 0]
    return [out[i, :traces[i].conductance.size] for i in range(n)]


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
    runs = np.array([simulate_like(device, [start], seed=s)[0] for s in range(seeds)])
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
    from .array import CrossbarArray

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
    runs = np.array([simulate_like(device, [start], seed=s)[0][:n] for s in range(seeds)])
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
