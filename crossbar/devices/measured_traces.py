"""Measured pulse traces and the table fitted to them: the numbers, below the pulse tables that use them.

:func:`read_traces` reads a CSV of ramps (see :mod:`crossbar.fitting.device_fit`, which
re-exports these names); :func:`fit_table_arrays` bins their steps into a
table's arrays and :func:`estimate_read_noise` takes the reads' white noise
from the steps' lag-1 anti-correlation. Nothing here imports the pulse
tables, the devices or the array, so the shipped tables
(:mod:`crossbar.devices.pulse_tables`) are fitted from traces without an import
cycle; :mod:`crossbar.fitting.device_fit` adds the table object, the parametric laws
and the simulated comparisons above them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from crossbar.validation import check_int, check_range

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


def fit_table_arrays(traces: Sequence[Trace], n_bins: int = 20, quantiles=DEFAULT_QUANTILES,
                     min_per_bin: int = 5, source: str = "fitted from traces",
                     read_noise: Optional[float] = None, noise_memory_pulses: int = 10,
                     rate_window_bins: Optional[int] = None
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """A one-table device from ramps of both directions (see the module text), as the arguments of a
    :class:`crossbar.devices.pulse_tables.PulseTable`: bin centres, quantiles, steps up and down (one table each)
    and the source (:func:`crossbar.fitting.device_fit.fit_table` builds the table).

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
    tables = [_direction_table(traces, edges, up, q, min_per_bin, reads_share, means[up]) for up in (True, False)]
    return centres, q, tables[0][None], tables[1][None], source


def _direction_table(traces: Sequence[Trace], edges: np.ndarray, up: bool, q: np.ndarray, min_per_bin: int,
                     reads_share: float, mean_step: np.ndarray) -> np.ndarray:
    """One direction's table, (quantiles, bins) in siemens: each bin's tail quantiles of its path-binned
    steps, drawn in about their mean to the variance less ``reads_share`` (S^2), bins with fewer than
    ``min_per_bin`` steps taking the nearest filled bin's shape, then moved to the mean step of each bin."""
    n_bins = edges.size - 1
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
    return shapes + (mean_step - quantile_moments(q, shapes)[0])[None, :]


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
