"""Devices defined by data: the conductance change of one pulse as a table over G and its spread.

A :class:`PulseTable` holds, for each of ``n_tables`` devices (one table for
a device class, several for device-to-device spread), the change of one
identical pulse at each of ``n_bins`` conductances, at ``n_quantiles``
cumulative probabilities, up and down: ``dg_up[t, q, b]`` is the change of an
up pulse on a device of table ``t`` at conductance ``g_bins[t, b]`` that a
fraction ``quantiles[q]`` of pulses do not exceed.

A pulse on a device at conductance ``G`` draws ``u`` uniform in ``[0, 1)`` (as
``Phi(z)`` of a standard normal of the device's row stream), interpolates the
table linearly in ``G`` (held at the end bins beyond them) and in the
quantile axis, and adds that change; the device stays inside its window.
:func:`table_pulse_update` is the compiled kernel, :func:`table_pulse_update_reference`
its numpy twin.

Tables come from traces (:mod:`crossbar.fitting.device_fit`), from the shipped data
(``gong2018_hfo2``, ``taox_lut``: :func:`shipped_table`) or from an ``.npz``
file (:meth:`PulseTable.save`, :func:`load_table`).
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Tuple

import numba
import numpy as np

from crossbar.devices.measured_traces import estimate_read_noise, fit_table_arrays, read_traces
from crossbar.devices.pulse_kernels import row_pulse_normals
from crossbar.numerics.random_streams import standard_normals
from crossbar.validation import check_int

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "devices")  # crossbar/data/devices
"""Where the shipped device data lives (with its README and licences)."""


@dataclass(frozen=True, eq=False)
class PulseTable:
    """Quantile tables of the change of one pulse, per conductance bin, up and down. Validated when built.

    Parameters
    ----------
    g_bins : ndarray, shape (n_tables, n_bins)
        Each table's conductances, siemens, strictly increasing (>= 2 bins).
    quantiles : ndarray, shape (n_quantiles,)
        Cumulative probabilities, strictly increasing from 0 to 1.
    dg_up, dg_down : ndarray, shape (n_tables, n_quantiles, n_bins)
        Change of an up (down) pulse, siemens, non-decreasing along the quantile axis.
    source : str
        Where the numbers come from (for people).
    own_range : bool
        True: a device of table ``t`` stays within its own table's bins,
        ``g_bins[t, 0]..g_bins[t, -1]`` (and its array's window): the range its
        data were measured over, where each table is one measured device. False
        (default): within its array's window only, the end bins' steps held
        beyond the bins.
    """

    g_bins: np.ndarray
    quantiles: np.ndarray
    dg_up: np.ndarray
    dg_down: np.ndarray
    source: str = ""
    own_range: bool = False

    def __post_init__(self):
        g = np.ascontiguousarray(self.g_bins, dtype=np.float64)
        q = np.ascontiguousarray(self.quantiles, dtype=np.float64)
        if g.ndim == 1:
            g = g[None, :]
        if g.ndim != 2 or g.shape[1] < 2 or not np.all(np.isfinite(g)):
            raise ValueError(f"pulse table g_bins has shape {np.shape(self.g_bins)}; (n_tables, n_bins >= 2) "
                             "finite siemens are required")
        if np.any(np.diff(g, axis=1) <= 0.0) or np.any(g < 0.0):
            raise ValueError("pulse table g_bins must be non-negative and strictly increasing along each table")
        if q.ndim != 1 or q.size < 2 or q[0] != 0.0 or q[-1] != 1.0 or np.any(np.diff(q) <= 0.0):
            raise ValueError(f"pulse table quantiles={q!r}: strictly increasing from 0 to 1 is required")
        shape = (g.shape[0], q.size, g.shape[1])
        out = {}
        for name in ("dg_up", "dg_down"):
            d = np.asarray(getattr(self, name), dtype=np.float64)
            if d.ndim == 2 and g.shape[0] == 1:
                d = d[None]
            if d.shape != shape or not np.all(np.isfinite(d)):
                raise ValueError(f"pulse table {name} has shape {np.shape(getattr(self, name))}; finite values "
                                 f"of shape {shape} (tables, quantiles, bins) are required")
            if np.any(np.diff(d, axis=1) < 0.0):
                raise ValueError(f"pulse table {name} must not decrease along the quantile axis")
            out[name] = np.ascontiguousarray(d)
        if not isinstance(self.source, str):
            raise ValueError(f"pulse table source={self.source!r} is not allowed; a string")
        if not isinstance(self.own_range, (bool, np.bool_)):
            raise ValueError(f"pulse table own_range={self.own_range!r} is not allowed; True or False")
        object.__setattr__(self, "own_range", bool(self.own_range))
        object.__setattr__(self, "g_bins", g)
        object.__setattr__(self, "quantiles", q)
        object.__setattr__(self, "dg_up", out["dg_up"])
        object.__setattr__(self, "dg_down", out["dg_down"])
        # each bin's mean step, the quantile function's integral (trapezoids): in-situ updates ask it often
        weights = np.diff(q)[None, :, None]
        for name, d in (("_mean_up", out["dg_up"]), ("_mean_down", out["dg_down"])):
            object.__setattr__(self, name, 0.5 * ((d[:, 1:, :] + d[:, :-1, :]) * weights).sum(axis=1))

    @property
    def n_tables(self) -> int:
        return self.g_bins.shape[0]

    @property
    def g_range(self) -> Tuple[float, float]:
        """Lowest and highest bin over every table, siemens."""
        return float(self.g_bins.min()), float(self.g_bins.max())

    def mean_step(self, g, up, table_index=None) -> np.ndarray:
        """Mean change of one pulse at conductances ``g`` (S) on devices of tables ``table_index`` (default
        0), up where ``up`` is true: the quantile function's integral (trapezoids), siemens."""
        g = np.asarray(g, dtype=np.float64)
        t = np.zeros(g.shape, dtype=np.int64) if table_index is None else np.broadcast_to(table_index, g.shape)
        up = np.broadcast_to(np.asarray(up, dtype=bool), g.shape)
        mean_up, mean_down = self._mean_up, self._mean_down
        out = np.empty(g.shape)
        for k in range(self.n_tables):
            mine = t == k
            if not mine.any():
                continue
            out[mine] = np.where(up[mine], np.interp(g[mine], self.g_bins[k], mean_up[k]),
                                 np.interp(g[mine], self.g_bins[k], mean_down[k]))
        return out

    def save(self, path: str) -> None:
        """Write the table as an ``.npz`` of plain arrays (what :func:`load_table` reads)."""
        np.savez(path, format=np.array(TABLE_FORMAT), g_bins=self.g_bins, quantiles=self.quantiles,
                 dg_up=self.dg_up, dg_down=self.dg_down, source=np.array(self.source),
                 own_range=np.array(self.own_range))


TABLE_FORMAT = "xbar-pulse-table/1"


def load_table(reference: str, base_dir: str = "") -> PulseTable:
    """The table a device refers to: a shipped name (:func:`shipped_table_names`) or an ``.npz`` path
    (relative paths from ``base_dir``); ``ValueError`` naming the file for anything else."""
    if reference in SHIPPED_TABLES:
        return shipped_table(reference)
    path = reference if os.path.isabs(reference) or not base_dir else os.path.join(base_dir, reference)
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise ValueError(f"pulse table {reference!r}: no such shipped table ({', '.join(shipped_table_names())}) "
                         f"or file ({path})")
    return _load_file(path, os.path.getmtime(path))


@lru_cache(maxsize=32)
def _load_file(path: str, mtime: float) -> PulseTable:
    try:
        with np.load(path) as data:
            if str(data["format"]) != TABLE_FORMAT:
                raise ValueError(f"{path}: table format {str(data['format'])!r}; {TABLE_FORMAT!r} is required")
            own_range = bool(data["own_range"]) if "own_range" in data.files else False
            return PulseTable(data["g_bins"], data["quantiles"], data["dg_up"], data["dg_down"], str(data["source"]),
                              own_range)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        # a truncated or corrupted file: numpy's reader raises zip and zlib errors of its own
        raise ValueError(f"{path}: not a pulse table, or a damaged one ({type(error).__name__}: {error})") from None


# ------------------------------------------------------------------ shipped tables
def _taox_lut() -> PulseTable:
    with np.load(os.path.join(DATA_DIR, "taox_lookup_tables.npz")) as d:
        # the source's quantile axis runs 0..1 in 51 steps; its bins are each device's own
        # each table is one measured device: it stays within the conductances it was measured over (own_range)
        return PulseTable(d["g_bins"], d["cdf"], np.maximum.accumulate(d["dg_increasing"], axis=1),
                          np.maximum.accumulate(d["dg_decreasing"], axis=1),
                          "10 TaOx ReRAM devices (Agarwal et al., VLSI Technology 2017) as tabulated by Sandia "
                          "cross-sim-data lookup_tables/TaOx_all (every 10th bin and quantile); each device within "
                          "its own measured range", own_range=True)


GONG_WINDOW = (10e-6, 100e-6)
"""Siemens: the window the normalised Gong et al. traces are mapped onto for the ``gong2018_hfo2`` preset."""


def _gong_traces():
    return read_traces(os.path.join(DATA_DIR, "gong2018_hfo2_pulses.csv"), window=GONG_WINDOW)


@lru_cache(maxsize=None)
def gong_read_noise() -> float:
    """The read noise of Gong et al.'s traces on :data:`GONG_WINDOW`, siemens (from their steps' lag-1
    anti-correlation, :func:`crossbar.devices.measured_traces.estimate_read_noise`)."""
    return estimate_read_noise(_gong_traces())


def _gong2018_hfo2() -> PulseTable:
    table = PulseTable(*fit_table_arrays(_gong_traces(), n_bins=20))
    return PulseTable(table.g_bins, table.quantiles, table.dg_up, table.dg_down,
                      "HfO2 ReRAM, 1000 up and 1000 down pulses (Gong et al., Nat. Commun. 9, 2102 (2018)), "
                      f"normalised conductance mapped onto {GONG_WINDOW[0] * 1e6:g}..{GONG_WINDOW[1] * 1e6:g} uS, "
                      "the mean step from the ramps' monotone paths, the reads' fluctuation taken out of the "
                      "steps' spread")


SHIPPED_TABLES = {"gong2018_hfo2": _gong2018_hfo2, "taox_lut": _taox_lut}


def shipped_table_names() -> list:
    return sorted(SHIPPED_TABLES)


@lru_cache(maxsize=None)
def shipped_table(name: str) -> PulseTable:
    """A table built from the data shipped in ``crossbar/data/devices`` (built once a process)."""
    if name not in SHIPPED_TABLES:
        raise ValueError(f"pulse table {name!r} is not shipped; choose one of {shipped_table_names()}")
    return SHIPPED_TABLES[name]()


# ------------------------------------------------------------------ kernels
@numba.njit(cache=True, inline="always")
def _bracket(values, x):
    """The ``k`` with ``values[k] <= x < values[k + 1]`` (bisection; ``values`` increasing, ``x`` inside)."""
    lo, hi = 0, values.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if values[mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo


@numba.njit(cache=True, inline="always")
def _table_step(g, u, up, t, g_bins, quantiles, dg_up, dg_down):
    """The change of one pulse at conductance ``g`` for a uniform draw ``u``, table ``t``, siemens."""
    bins = g_bins[t]
    n_bins = bins.shape[0]
    # position along the bins, held at the ends
    if g <= bins[0]:
        b, fb = 0, 0.0
    elif g >= bins[n_bins - 1]:
        b, fb = n_bins - 2, 1.0
    else:
        b = _bracket(bins, g)
        fb = (g - bins[b]) / (bins[b + 1] - bins[b])
    lo = _bracket(quantiles, u)  # position along the quantiles
    fq = (u - quantiles[lo]) / (quantiles[lo + 1] - quantiles[lo])
    d = dg_up[t] if up else dg_down[t]
    low = d[lo, b] + (d[lo, b + 1] - d[lo, b]) * fb
    high = d[lo + 1, b] + (d[lo + 1, b + 1] - d[lo + 1, b]) * fb
    return low + (high - low) * fq


@numba.njit(cache=True)
def table_pulse_update(conductance, n_pulses, g_low, g_high, frozen, table_index, g_bins, quantiles, dg_up,
                       dg_down, own_range, seeds):
    """Apply ``n_pulses[i, j]`` table pulses to each device, in place (positive up, negative down).

    Row ``i`` draws from stream ``seeds[i]``: its moving devices in column
    order, pulses in time order, one normal a pulse, ``u = Phi(z)``. Frozen
    devices do not move. With ``own_range`` a device also stays within its
    table's bins. Returns the pulses applied.
    """
    rows, cols = conductance.shape
    pulses = 0
    normals = np.empty(0, dtype=np.float32)
    for i in range(rows):
        normals = row_pulse_normals(n_pulses, frozen, i, seeds[i], normals)
        drawn = 0
        for j in range(cols):
            n = n_pulses[i, j]
            count = abs(n)
            pulses += count
            if count == 0 or frozen[i, j]:
                continue
            up = n > 0
            g = conductance[i, j]
            lo, hi = g_low[i, j], g_high[i, j]
            t = table_index[i, j]
            if own_range:
                lo = max(lo, g_bins[t, 0])
                hi = max(min(hi, g_bins[t, g_bins.shape[1] - 1]), lo)
            for _ in range(count):
                u = 0.5 * (1.0 + math.erf(np.float64(normals[drawn]) * 0.7071067811865476))
                drawn += 1
                g = min(max(g + _table_step(g, u, up, t, g_bins, quantiles, dg_up, dg_down), lo), hi)
            conductance[i, j] = g
    return pulses


def table_steps_reference(g, u, up, t, table: PulseTable) -> np.ndarray:
    """numpy twin of the kernel's step for arrays of devices: change of one pulse, siemens."""
    out = np.empty(g.shape)
    for k in range(table.n_tables):
        mine = t == k
        if not mine.any():
            continue
        bins = table.g_bins[k]
        gk = g[mine]
        position = np.clip(np.searchsorted(bins, gk, side="right") - 1, 0, bins.size - 2)
        fb = np.where(gk <= bins[0], 0.0, np.where(gk >= bins[-1], 1.0,
                      (gk - bins[position]) / (bins[position + 1] - bins[position])))
        position = np.where(gk >= bins[-1], bins.size - 2, np.where(gk <= bins[0], 0, position))
        uk = u[mine]
        qpos = np.clip(np.searchsorted(table.quantiles, uk, side="right") - 1, 0, table.quantiles.size - 2)
        fq = (uk - table.quantiles[qpos]) / (table.quantiles[qpos + 1] - table.quantiles[qpos])
        d = np.where(up[mine][:, None, None], table.dg_up[k][None], table.dg_down[k][None])
        rows = np.arange(gk.size)
        low = d[rows, qpos, position] + (d[rows, qpos, position + 1] - d[rows, qpos, position]) * fb
        high = d[rows, qpos + 1, position] + (d[rows, qpos + 1, position + 1] - d[rows, qpos + 1, position]) * fb
        out[mine] = low + (high - low) * fq
    return out


def table_pulse_update_reference(conductance, n_pulses, g_low, g_high, frozen, table_index, table: PulseTable,
                                 seeds) -> int:
    """numpy twin of :func:`table_pulse_update` (same streams, same order)."""
    from scipy.special import ndtr

    g = conductance
    count = np.abs(n_pulses)
    active = (count > 0) & ~frozen
    consumed = np.where(active, count, 0)
    offset = np.cumsum(consumed, axis=1) - consumed
    total = int(consumed.sum(axis=1).max()) if consumed.size else 0
    normals = standard_normals(seeds, max(total, 1))
    up = n_pulses > 0
    rows = np.arange(g.shape[0])[:, None]
    low, high = g_low, g_high
    if table.own_range:
        low = np.maximum(g_low, table.g_bins[table_index, 0])
        high = np.maximum(np.minimum(g_high, table.g_bins[table_index, -1]), low)
    for k in range(int(count.max()) if count.size else 0):
        moving = active & (count > k)
        index = np.minimum(offset + k, normals.shape[1] - 1)
        u = ndtr(normals[rows, index].astype(np.float64))
        dg = table_steps_reference(g, u, up, table_index, table)
        g = np.where(moving, np.minimum(np.maximum(g + dg, low), high), g)
    conductance[...] = g
    return int(count.sum())


def table_arrays(table: PulseTable) -> Dict[str, np.ndarray]:
    """The table's arrays as the kernel takes them."""
    return {"g_bins": table.g_bins, "quantiles": table.quantiles, "dg_up": table.dg_up, "dg_down": table.dg_down,
            "own_range": table.own_range}


def draw_table_index(seed_sequence: np.random.SeedSequence, shape, n_tables: int) -> np.ndarray:
    """Which table each device follows (device-to-device spread), int64 of ``shape``, from its own stream."""
    check_int("n_tables", n_tables, 1)
    if n_tables == 1:
        return np.zeros(shape, dtype=np.int64)
    return np.random.default_rng(seed_sequence).integers(0, n_tables, size=shape).astype(np.int64)
