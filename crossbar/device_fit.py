"""Devices from measured pulse traces: read the traces, fit a table device, compare the parametric laws.

A trace is the conductance after each identical pulse of one ramp, up (the
conductance rises over the ramp) or down. :func:`read_traces` reads a CSV of
ramps, one a column: with a header (``rmp1, rmp2, ...``, CrossSim's files;
ragged ends as empty cells) or without (Gong et al.'s two columns, up then
down), optionally a first column ``time`` or ``pulse`` that must rise
strictly. Currents become siemens with ``read_voltage``; normalised units
are mapped onto a stated ``window``.

:func:`fit_table` pools every ramp's steps ``(G_k, G_{k+1} - G_k)`` by
direction into equal-width conductance bins and takes each bin's quantiles,
less the reads' own noise (:func:`estimate_read_noise`, from the steps'
lag-1 anti-correlation): a :class:`crossbar.pulse_tables.PulseTable`.
:func:`fit_parametric` fits the linear and soft-bounds laws' mean step to the
same bins and gives each one's error. :func:`simulate_like`,
:func:`band_agreement` and :func:`plot_response` hold a device against the
traces (``xbar device fit`` and ``show``).
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


def fit_table(traces: Sequence[Trace], n_bins: int = 20, quantiles=DEFAULT_QUANTILES,
              min_per_bin: int = 5, source: str = "fitted from traces",
              read_noise: Optional[float] = None) -> PulseTable:
    """A one-table device from ramps of both directions (see the module text).

    The read noise of the reads (``read_noise``, siemens; default
    :func:`estimate_read_noise`) adds ``2 read_noise^2`` to the variance of
    the observed steps: each bin's quantiles are drawn in about their mean by
    ``sqrt(1 - 2 read_noise^2 / var)`` so that the table holds the pulses'
    own spread. Bins with fewer than ``min_per_bin`` steps of a direction take
    the quantiles of the nearest bin that has enough. Raises ``ValueError``
    when a direction has no ramp.
    """
    check_int("n_bins", n_bins, 2, 1000)
    check_int("min_per_bin", min_per_bin, 1)
    q = np.asarray(quantiles, dtype=np.float64)
    if not traces:
        raise ValueError("traces: none given")
    noise = estimate_read_noise(traces) if read_noise is None else check_range("read_noise", read_noise, 0.0,
                                                                                unit="S")
    g_all = np.concatenate([t.conductance for t in traces])
    edges = np.linspace(g_all.min(), g_all.max(), n_bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    tables = []
    for up in (True, False):
        g, dg = steps(traces, up)
        if g.size == 0:
            raise ValueError(f"traces: no {'up' if up else 'down'} ramp; a table needs ramps of both directions")
        which = np.clip(np.searchsorted(edges, g, side="right") - 1, 0, n_bins - 1)
        table = np.full((q.size, n_bins), np.nan)
        for b in range(n_bins):
            mine = dg[which == b]
            if mine.size >= min_per_bin:
                observed = np.quantile(mine, q)
                variance = mine.var()
                shrink = np.sqrt(max(variance - 2.0 * noise ** 2, 0.0) / variance) if variance > 0.0 else 1.0
                table[:, b] = mine.mean() + shrink * (observed - mine.mean())
        filled = np.flatnonzero(~np.isnan(table[0]))
        if filled.size == 0:
            raise ValueError(f"traces: no conductance bin has {min_per_bin} {'up' if up else 'down'} steps; "
                             "give longer ramps or fewer bins")
        for b in range(n_bins):
            if np.isnan(table[0, b]):
                table[:, b] = table[:, filled[np.argmin(np.abs(filled - b))]]
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


def fit_parametric(traces: Sequence[Trace], n_bins: int = 20) -> Dict[str, Tuple[object, float]]:
    """The linear and soft-bounds pulse laws fitted to the ramps' mean steps, each with its error.

    Returns ``{kind: (PulseUpdateLaw, error)}``, ``error`` the root-mean-square
    difference of the law's mean step from the bins' means, relative to the
    bins' mean step magnitude. The window is the traces' range.
    """
    from .device import PulseUpdateLaw

    g_all = np.concatenate([t.conductance for t in traces])
    low, high = float(g_all.min()), float(g_all.max())
    edges = np.linspace(low, high, n_bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    w = (centres - low) / (high - low)
    out = {}
    fits = {"linear": (np.ones_like(w), np.ones_like(w)), "soft_bounds": (1.0 - w, w)}
    means = {up: bin_statistics(traces, edges, up)[0] for up in (True, False)}
    scale = np.nanmean(np.abs(np.concatenate([means[True], means[False]])))
    for kind, (shape_up, shape_down) in fits.items():
        steps_fit, residuals = [], []
        for up, shape in ((True, shape_up), (False, shape_down)):
            m = means[up]
            ok = ~np.isnan(m)
            target = m[ok] if up else -m[ok]
            a = float(np.dot(shape[ok], target) / np.dot(shape[ok], shape[ok]))
            steps_fit.append(max(a, 1e-12))
            residuals.append(shape[ok] * a - target)
        law = PulseUpdateLaw(kind, step_up=steps_fit[0], step_down=steps_fit[1])
        out[kind] = (law, float(np.sqrt(np.mean(np.concatenate(residuals) ** 2)) / scale))
    return out


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


def band_agreement(device, traces: Sequence[Trace], seeds: int = 20, low: float = 0.05,
                   high: float = 0.95) -> Dict[bool, float]:
    """Share of pulse indices at which the mean of ``seeds`` simulated ramps lies within the data's ``low``
    to ``high`` quantile band across ramps, per direction (only directions with 3 ramps or more)."""
    out = {}
    for up in (True, False):
        mine = [t for t in traces if t.up == up]
        if len(mine) < 3:
            continue
        n = min(t.conductance.size for t in mine)
        data = np.array([t.conductance[:n] for t in mine])
        start = Trace(np.full(n, data[:, 0].mean()), up)
        runs = [simulate_like(device, [start], seed=s)[0][:n] for s in range(seeds)]
        mean = np.mean(runs, axis=0)
        lo, hi = np.quantile(data, low, axis=0), np.quantile(data, high, axis=0)
        out[up] = float(np.mean((mean >= lo) & (mean <= hi)))
    return out


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
