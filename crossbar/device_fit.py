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
from typing import Callable, Dict, List, Optional, Sequence, Tuple

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
        with open(path, newline="", encoding="utf-8-sig") as f:  # a byte-order mark is not a read
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
    text = text[1:] if text.startswith("\ufeff") else text  # a UTF-8 byte-order mark is not part of the first cell
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
            if np.isinf(grid[i, j]):
                raise ValueError(f"{source}: row {i + 2 if header else i + 1}, column {j + 1}: {cell!r} is not "
                                 "finite; finite reads are required")
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
    """The white read noise of the traces' reads, siemens: independent noise ``e_k`` on each read makes the
    steps ``d_k = dG_k + e_{k+1} - e_k`` anti-correlated, ``cov(d_k, d_{k+1}) = -sigma^2``.

    Each step is taken less the mean step of its direction where the ramp's
    monotone path stands (:func:`monotone_path`, :func:`mean_steps` over
    ``n_bins`` equal bins of the traces' range: the law's dependence on G),
    not where its noisy read stands (binning by the noisy read correlates the
    residual with the read's own error and reads low: 3.22 against 3.5 uS on
    synthetic ramps). The lag-1 covariance of these residuals, pooled over the
    ramps, is ``-sigma^2`` for white read noise and pulses independent of one
    another: unbiased for white noise (the tests recover 1, 3.5 and 5 uS
    within 5 %). 0 where it is not negative."""
    check_int("n_bins", n_bins, 2, 1000)
    if not traces:
        raise ValueError("traces: none given")
    g_all = np.concatenate([t.conductance for t in traces])
    edges = np.linspace(g_all.min(), g_all.max(), n_bins + 1)
    window = _default_rate_window(traces)
    means = {up: mean_steps(traces, edges, up, window) for up in (True, False) if any(t.up == up for t in traces)}
    return float(np.sqrt(max(-_residual_lag1(traces, edges, means), 0.0)))


def _residual_lag1(traces: Sequence[Trace], edges: np.ndarray, means: Dict[bool, np.ndarray]) -> float:
    """The reads' white noise variance as minus a lag-1 autocovariance of the steps, siemens squared
    (negative where the reads hold no white noise: ``-sigma^2`` is what it estimates).

    Each step is taken less the mean step at its monotone path's conductance
    (``means`` over ``edges``: the law's dependence on G). Where a direction
    has :data:`FEW_RAMPS` ramps or more, each residual is also taken less the
    mean residual of that direction's ramps at the same pulse (their first
    ``n`` steps, ``n`` the shortest ramp's): what every ramp does at its k-th
    pulse whatever its G (a first pulse that moves less, say) would otherwise
    correlate consecutive steps and read low. Centring ``m`` values scales the
    noise's covariance by ``1 - 1/m``, which is undone. Pooled over the ramps.
    """
    centres = 0.5 * (edges[:-1] + edges[1:])
    products, count = 0.0, 0.0
    for up in (True, False):
        mine = [t for t in traces if t.up == up and t.conductance.size >= 3]
        if up not in means or not mine:
            continue
        residuals = [np.diff(t.conductance) - np.interp(monotone_path(t)[:-1], centres, means[up]) for t in mine]
        if len(mine) >= FEW_RAMPS:
            n = min(r.size for r in residuals)
            grid = np.array([r[:n] for r in residuals])
            grid -= grid.mean(axis=0)
            products += float(np.sum(grid[:, 1:] * grid[:, :-1])) * len(mine) / (len(mine) - 1.0)
            count += grid.shape[0] * (n - 1)
            continue
        for r in residuals:
            products += float(np.dot(r[1:], r[:-1]))
            count += r.size - 1
    return products / count if count else 0.0


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
    block = max(1, 2_000_000 // n_bins)  # steps at a time: memory of (steps, bins) bounded for long ramps
    for whole in paths:
        for first in range(0, whole.size - 1, block):
            y = whole[first:first + block + 1]
            _cross_block(y, edges, crossed, spent)
    return crossed, spent


def _cross_block(y: np.ndarray, edges: np.ndarray, crossed: np.ndarray, spent: np.ndarray) -> None:
    """:func:`_crossing` of one stretch of a path, added into ``crossed`` and ``spent``."""
    n_bins = edges.size - 1
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
        Cumulative probabilities of the table, 0 to 1 (at least 4).
    min_per_bin : int
        Pulses a bin needs for its own mean and spread; bins with fewer take
        the nearest bin's.
    read_noise : float, optional
        Siemens: white read noise of the reads, whose ``2 read_noise^2`` is
        taken out of the steps' variance. Default: :func:`reads_variance`,
        the larger of the white noise's ``2 sigma^2`` (the steps' lag-1
        anti-correlation, :func:`estimate_read_noise`) and the part of the
        steps' variance that does not add up over ``noise_memory_pulses``
        pulses (:func:`non_accumulating_variance`).
    noise_memory_pulses : int
        Lags of :func:`non_accumulating_variance`.
    rate_window_bins : int, optional
        Bins either side pooled into each bin's mean step (:func:`mean_steps`).
        Default: 1 where a direction has fewer than :data:`FEW_RAMPS` ramps
        (one ramp crosses a bin in a few jumps of its path), else 0 (pooling
        biases the bins next to where the ramps stop).

    Each bin's mean step is the paths' crossing rate (:func:`mean_steps`).
    Its spread comes from the observed steps whose path lies in the bin
    (:func:`tail_quantiles`): the inner quantiles as observed, the 0 and 1
    quantiles from the mean of each tail (not the sample's extremes, which
    rest on single steps and spread a tail's whole probability out to one
    outlier); this quantile function is drawn in about its mean so that its
    variance is the observed one less the reads' ``2 read_noise^2`` (the
    pulses' own spread), then moved so that the table's own mean (the
    quantile function's integral, what a pulse draws) is the mean step.
    Raises ``ValueError`` when a direction has no ramp.
    """
    check_int("n_bins", n_bins, 2, 1000)
    check_int("min_per_bin", min_per_bin, 1)
    check_int("noise_memory_pulses", noise_memory_pulses, 1, 10000)
    q = np.asarray(quantiles, dtype=np.float64)
    if q.ndim != 1 or q.size < 4 or q[0] != 0.0 or q[-1] != 1.0 or np.any(np.diff(q) <= 0.0):
        raise ValueError(f"quantiles={q!r}: at least 4, strictly increasing from 0 to 1, are required")
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
    if read_noise is not None:
        reads_share = 2.0 * check_range("read_noise", read_noise, 0.0, unit="S") ** 2
    else:
        reads_share = reads_variance(traces, edges, means, noise_memory_pulses)
    tables = []
    for up in (True, False):
        which, dg = _path_binned_steps(traces, edges, up)
        shapes = np.zeros((q.size, n_bins))
        filled = np.zeros(n_bins, dtype=bool)
        for b in range(n_bins):
            steps_here = dg[which == b]
            if steps_here.size >= min_per_bin:
                values = tail_quantiles(steps_here, q)
                mean, variance = quantile_moments(q, values)
                shrink = np.sqrt(max(variance - reads_share, 0.0) / variance) if variance > 0.0 else 1.0
                shapes[:, b] = shrink * (values - mean)
                filled[b] = True
        if not filled.any():
            raise ValueError(f"traces: no conductance bin has {min_per_bin} {'up' if up else 'down'} steps; "
                             "give longer ramps or fewer bins")
        shapes = _nearest_filled(shapes, filled)
        table = shapes + (means[up] - quantile_moments(q, shapes)[0])[None, :]
        tables.append(table)
    return PulseTable(centres, q, tables[0][None], tables[1][None], source)


def reads_variance(traces: Sequence[Trace], edges: np.ndarray, means: Dict[bool, np.ndarray],
                   noise_memory_pulses: int = 10) -> float:
    """The reads' share of the steps' variance, siemens squared: the larger of white read noise's ``2 sigma^2``
    (:func:`estimate_read_noise`'s lag-1 estimate, unbiased for white noise) and the part that does not add
    up over ``noise_memory_pulses`` pulses (:func:`non_accumulating_variance`).

    Each is low where the other's assumption fails: the lag-1 term misses a
    read fluctuation with a memory of more than one pulse (Gong et al.'s
    reads: 25.4 against 27.5 uS^2 on the 10..100 uS window), the long-run sum
    misses everything where ramps differ from one another in their step (a
    persistent positive correlation: 0 on the CrossSim ramps, whose lag-1
    term gives 0.29 uS of white noise)."""
    white = 2.0 * max(-_residual_lag1(traces, edges, means), 0.0)
    return max(white, non_accumulating_variance(traces, edges, means, noise_memory_pulses))


def tail_quantiles(sample: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """A quantile function of ``sample`` at ``quantiles`` (0 to 1) whose ends do not rest on single values.

    The inner quantiles are the sample's (linear interpolation). Between the
    0 and the next quantile ``q_1`` a table draws uniformly from its end value
    to ``x(q_1)``: the end value is set so that this segment's mean is the
    mean of the sample's lowest ``q_1`` share (at least one value), ``2 m -
    x(q_1)``, and likewise at 1. A normal sample's 0 and 1 come out near
    -+2.5 sigma with 21 quantiles, where its extremes of 300 lie near
    -+2.9 sigma and one outlier sets them wherever it lies.
    """
    x = np.sort(np.asarray(sample, dtype=np.float64))
    q = np.asarray(quantiles, dtype=np.float64)
    values = np.quantile(x, q)
    low = max(1, int(round(q[1] * x.size)))
    high = max(1, int(round((1.0 - q[-2]) * x.size)))
    values[0] = min(2.0 * x[:low].mean() - values[1], values[1])
    values[-1] = max(2.0 * x[-high:].mean() - values[-2], values[-2])
    return values


def quantile_moments(quantiles: np.ndarray, values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the draws of a piecewise-linear quantile function (``values`` at ``quantiles``
    along the first axis, a uniform draw), exactly: each segment is uniform between its two values."""
    w = np.diff(np.asarray(quantiles, dtype=np.float64))
    v = np.asarray(values, dtype=np.float64)
    w = w.reshape((-1,) + (1,) * (v.ndim - 1))
    lo, hi = v[:-1], v[1:]
    mean = (w * 0.5 * (lo + hi)).sum(axis=0)
    second = (w * (lo * lo + lo * hi + hi * hi) / 3.0).sum(axis=0)
    return mean, np.maximum(second - mean * mean, 0.0)


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
    share, :func:`reads_variance`) over the law's step, pooled over
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
    from .array import CrossbarArray

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
