"""Fast Gaussian noise for the Numba kernels, seeded from a numpy Generator.

The hot kernels need many normals per call (16 384 for one 256 x 64 product).
numpy's ``Generator.standard_normal`` costs more than the product itself, so
the kernels draw their own: a row of a kernel owns a 64-bit seed drawn from
the caller's ``numpy.random.Generator``; its ``k``-th normal comes from the
splitmix64 hash (Steele, Lea and Flood, OOPSLA 2014) of ``seed + (k+1) *
golden``, turned into a normal by the 256-layer ziggurat of Marsaglia and
Tsang (J. Stat. Softw. 5(8), 2000). Being counter-based, the draws vectorise
and any kernel can ask for normal ``k`` of row ``b`` directly, so results do
not depend on thread counts and the numpy references index the same numbers.
The ziggurat's rare rejections (about 1.5 %) continue on a splitmix64 stream
keyed by the row seed and ``k``.

The plain reference is numpy's own normal distribution; the tests compare the
two statistically (moments, Kolmogorov-Smirnov), which is the property that
matters for a noise source.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MANTISSA_MASK = np.uint64(0x000FFFFFFFFFFFFF)
_ZIG_R = 3.6541528853610088  # start of the tail, 256 layers
_ZIG_AREA = 4.92867323399e-3  # area of each layer


def _ziggurat_tables():
    """Tables (k, w, f) of the 256-layer ziggurat for 52-bit mantissas."""
    m = float(2 ** 52)
    k = np.zeros(256, dtype=np.int64)
    w = np.zeros(256)
    f = np.zeros(256)
    dn = _ZIG_R
    tn = dn
    q = _ZIG_AREA / math.exp(-0.5 * dn * dn)
    k[0] = np.int64((dn / q) * m)
    k[1] = 0
    w[0] = q / m
    w[255] = dn / m
    f[0] = 1.0
    f[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(_ZIG_AREA / dn + math.exp(-0.5 * dn * dn)))
        k[i + 1] = np.int64((dn / tn) * m)
        tn = dn
        f[i] = math.exp(-0.5 * dn * dn)
        w[i] = dn / m
    return k, w, f


_ZIG_K, _ZIG_W, _ZIG_F = _ziggurat_tables()


@numba.njit(cache=True, inline="always")
def next_u64(state):
    """splitmix64: return (random 64-bit word, new state)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return z, state


@numba.njit(cache=True, inline="always")
def next_uniform(state):
    """Uniform double in [0, 1): (value, new state)."""
    z, state = next_u64(state)
    return float(np.int64(z >> np.uint64(11))) * (1.0 / 9007199254740992.0), state


@numba.njit(cache=True, inline="always")
def _ziggurat_fast(r):
    """The ziggurat's fast path on one random word ``r``.

    Bits 0-7 pick the layer; ``int64(r) >> 11`` is a signed 53-bit integer
    whose sign is the normal's and whose magnitude is the position in the
    layer (one int-to-float conversion: AVX2 has no vector form of it).

    Returns (x, |position|, layer, accepted).
    """
    idx = np.intp(r & np.uint64(0xFF))
    position = np.int64(r) >> 11
    magnitude = abs(position)
    return float(position) * _ZIG_W[idx], magnitude, idx, magnitude < _ZIG_K[idx]


@numba.njit(cache=True, inline="never")
def _ziggurat_rare(idx, x, state):
    """The ziggurat's rare path (about 1.5 % of draws): tail or wedge.

    Kept out of line so the hot loops stay small. Returns (value, accepted,
    new state); the tail takes the sign of ``x``.
    """
    if idx == 0:
        # the tail beyond r, by Marsaglia's exponential method
        while True:
            u1, state = next_uniform(state)
            u2, state = next_uniform(state)
            xx = -math.log1p(-u1) / _ZIG_R
            yy = -math.log1p(-u2)
            if yy + yy > xx * xx:
                if x < 0.0:
                    return -(_ZIG_R + xx), True, state
                return _ZIG_R + xx, True, state
    u, state = next_uniform(state)
    if (_ZIG_F[idx - 1] - _ZIG_F[idx]) * u + _ZIG_F[idx] < math.exp(-0.5 * x * x):
        return x, True, state
    return 0.0, False, state


@numba.njit(cache=True, inline="always")
def next_normal(state):
    """Standard normal from a sequential splitmix64 stream: (value, new state)."""
    while True:
        r, state = next_u64(state)
        x, _, idx, accepted = _ziggurat_fast(r)
        if accepted:
            return x, state
        x, accepted, state = _ziggurat_rare(idx, x, state)
        if accepted:
            return x, state


@numba.njit(cache=True, inline="always")
def _mix(z):
    """splitmix64's output hash of a 64-bit word."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, inline="never")
def _counter_normal_rare(seed, k, idx, x):
    """Finish a ziggurat draw that the fast path rejected (counter ``k`` of ``seed``)."""
    state = _mix(seed ^ _mix(np.uint64(k + 1) + _MIX1))
    value, accepted, state = _ziggurat_rare(idx, x, state)
    if accepted:
        return value
    # a rejected ziggurat draw restarts from fresh bits: a fresh normal
    value, state = next_normal(state)
    return value


@numba.njit(cache=True, inline="always")
def counter_normal(seed, k):
    """The ``k``-th standard normal (k >= 0) of the stream ``seed`` (uint64)."""
    x, _, idx, accepted = _ziggurat_fast(_mix(seed + np.uint64(k + 1) * _GOLDEN))
    if accepted:
        return x
    return _counter_normal_rare(seed, k, idx, x)


@numba.njit(cache=True, inline="always")
def fill_normals(seed, start, out, accepted):
    """``out[k] = counter_normal(seed, start + k)`` for a whole row.

    A first loop without branches takes the fast path for every element and
    notes the rejections; a second loop finishes those few. ``accepted`` is
    scratch of the same length (bool).
    """
    n = out.shape[0]
    for k in range(n):
        out[k], _, _, accepted[k] = _ziggurat_fast(_mix(seed + np.uint64(start + k + 1) * _GOLDEN))
    for k in range(n):
        if not accepted[k]:
            out[k] = counter_normal(seed, start + k)


@numba.njit(cache=True)
def standard_normals(seeds, n, start=0):
    """Normals of shape (len(seeds), n): ``out[b, k] = counter_normal(seeds[b], start + k)``.

    Parameters
    ----------
    seeds : ndarray of uint64, shape (rows,)
    n : int
        Normals per row.
    start : int
        Counter of the first normal.
    """
    out = np.empty((seeds.shape[0], n))
    accepted = np.empty(n, dtype=np.bool_)
    for b in range(seeds.shape[0]):
        fill_normals(seeds[b], start, out[b], accepted)
    return out


@numba.njit(cache=True, inline="always")
def row_seed(base, k):
    """Seed of stream ``k`` derived from a 64-bit ``base`` (both uint64 / int)."""
    return _mix(base + np.uint64(k + 1) * _GOLDEN)


@numba.njit(cache=True)
def derive_seeds(base, n):
    """``n`` stream seeds hashed from one 64-bit ``base`` (uint64, shape (n,))."""
    out = np.empty(n, dtype=np.uint64)
    for k in range(n):
        out[k] = row_seed(base, k)
    return out


def base_seed(rng: np.random.Generator) -> np.uint64:
    """One 64-bit word from ``rng``'s bit generator (advances ``rng``; cheaper than ``integers``)."""
    return np.uint64(rng.bit_generator.random_raw())


def stream_seeds(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` independent 64-bit stream seeds (uint64, shape (n,)) from one draw of ``rng``."""
    return derive_seeds(base_seed(rng), n)
