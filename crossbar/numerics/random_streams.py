"""Fast Gaussian noise for the Numba kernels, seeded from a numpy Generator.

The hot kernels need many normals per call (65 536 per time step for a
256-unit LSTM layer at batch 64 on li2019 arrays): numpy's
``Generator.standard_normal`` costs more than the product itself, so the
kernels draw their own. A row of a kernel owns a 64-bit stream seed drawn from
the caller's ``numpy.random.Generator`` (hashed by splitmix64, Steele, Lea and
Flood, OOPSLA 2014); normals ``2j`` and ``2j + 1`` of a stream are the
Box-Muller pair (Box and Muller, Ann. Math. Stat. 29, 1958) of two 32-bit
words, counters ``2j`` and ``2j + 1`` hashed with the seed by two rounds of a
32-bit integer hash (Wellons' lowbias32). Being counter-based, any kernel can
ask for normal ``k`` of a stream directly, so results do not depend on thread
counts or on how a row is split, and the numpy references index the same numbers.

Everything runs in 32-bit lanes (the hash, :func:`crossbar.numerics.vecmath.log32`,
:func:`crossbar.numerics.vecmath.sincos_turns32`), without branches or table look-ups,
so that LLVM vectorises it eight lanes wide on AVX2: about 1.6 ns a normal,
where the 256-layer ziggurat this replaced took 4-6 ns (its table look-ups and
rare rejections kept it scalar). The price is float32 resolution, relative
6e-8, and tails cut at ``sqrt(2 ln 2^31) = 6.55`` (the probability beyond is
6e-11): both far below what a device noise model can claim.

The plain reference is numpy's own normal distribution; the tests compare the
two statistically (moments, tails, Kolmogorov-Smirnov, independence), which is
the property that matters for a noise source.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from crossbar.numerics.vecmath import log32, sincos_turns32

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_F = np.float32
TAIL_LIMIT = math.sqrt(2.0 * 31.0 * math.log(2.0))  # largest |normal| the source can give
FEW_STREAMS = 8  # AVX2 lanes of float32: below this, fill_normals_by_counter goes stream by stream
# A stream's first counter, as an int64 for callers of fill_normals: a literal 0 would make Numba compile
# fill_normals a second time (for the type Literal[int](0)), a second or more of every cold start.
FIRST_NORMAL = np.int64(0)


@numba.njit(cache=True, inline="always")
def _mix(z):
    """splitmix64's output hash of a 64-bit word."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@intrinsic
def _hash32(typingctx, x, key):
    """lowbias32 (C. Wellons' 32-bit integer hash) of ``x ^ key``, in 32-bit arithmetic (int32 in and out).

    Written in LLVM directly: Numba would widen unsigned 32-bit products to
    64 bits, which AVX2 cannot multiply eight lanes at a time.
    """
    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        v = builder.xor(args[0], args[1])
        v = builder.xor(v, builder.lshr(v, ir.Constant(i32, 16)))
        v = builder.mul(v, ir.Constant(i32, 0x7FEB352D))
        v = builder.xor(v, builder.lshr(v, ir.Constant(i32, 15)))
        v = builder.mul(v, ir.Constant(i32, 0x846CA68B - 2 ** 32))
        return builder.xor(v, builder.lshr(v, ir.Constant(i32, 16)))
    return types.int32(types.int32, types.int32), codegen


@numba.njit(cache=True, inline="always")
def _keys(seed):
    """The two 32-bit keys (int32) of a 64-bit stream seed."""
    low = np.int64(seed & np.uint64(0xFFFFFFFF)) - 2147483648
    high = np.int64(seed >> np.uint64(32)) - 2147483648
    return np.int32(low), np.int32(high)


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _pair(key_low, key_high, j):
    """Normals ``2j`` and ``2j + 1`` of the stream with keys ``(key_low, key_high)`` (float32).

    ``v`` in [2^-31, 1] from the first word, ``w`` in [-1/2, 1/2] from the
    second: ``sqrt(-2 ln v) (cos 2 pi w, sin 2 pi w)``.
    """
    counter = np.int32(2 * j)  # wraps after 2^32 normals: the stream's period
    first = _hash32(_hash32(counter, key_low), key_high)
    second = _hash32(_hash32(counter + np.int32(1), key_low), key_high)
    v = (_F(first & np.int32(0x7FFFFFFF)) + _F(1.0)) * _F(2.0 ** -31)
    w = _F(second) * _F(2.0 ** -32)
    radius = math.sqrt(_F(-2.0) * log32(v))
    sine, cosine = sincos_turns32(w)
    return radius * cosine, radius * sine


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def counter_normal(seed, k):
    """The ``k``-th standard normal (k >= 0) of the stream ``seed`` (uint64), as a float64."""
    key_low, key_high = _keys(seed)
    even, odd = _pair(key_low, key_high, k >> 1)
    return np.float64(odd if k & 1 else even)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def fill_normals(seed, start, out):
    """``out[k] = counter_normal(seed, start + k)`` for a whole row (``out`` float32).

    Whole pairs in one loop without branches (it vectorises 16 pairs a turn;
    a remainder goes one pair at a time, about ten times slower: see
    :func:`padded_length`); a leading odd or trailing half pair on
    its own. Not inlined into callers at Numba's level, so that it keeps its
    own ``contract`` flag (fused multiply-adds) whatever theirs; its one
    callee, :func:`counter_normal`, has the same flag.
    """
    key_low, key_high = _keys(seed)
    n = out.shape[0]
    k = 0
    if start & 1 and n > 0:  # (one inlined copy of the pair, in the loop, keeps compiling quick)
        out[0] = counter_normal(seed, start)
        k = 1
    first = (start + k) >> 1
    pairs = (n - k) >> 1
    for m in range(pairs):
        even, odd = _pair(key_low, key_high, first + m)
        out[k + 2 * m] = even
        out[k + 2 * m + 1] = odd
    if k + 2 * pairs < n:
        out[n - 1] = counter_normal(seed, start + n - 1)


@numba.njit(cache=True, inline="always")
def padded_length(n):
    """``n`` rounded up to whole 32s: a row of normals drawn this long (from an even start) has no scalar remainder.

    The vectorised loop of :func:`fill_normals` takes 16 pairs a turn; a
    remainder runs one pair at a time at about ten times the cost, so a caller
    with a short row does better to draw the few extra (unused) normals of its
    stream, into a buffer that long.
    """
    return (n + 31) & ~31


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def fill_normals_by_counter(seeds, start, out, key_low, key_high, row):
    """``out[k, r] = counter_normal(seeds[r], start + k)``: many streams side by side (``out`` float32).

    The transpose of calling :func:`fill_normals` for each stream: the loop
    runs across the streams (each lane its own keys), so it vectorises
    however few normals each stream gives, and a consumer that walks the
    streams in its inner loop reads them in order. Fewer than
    :data:`FEW_STREAMS` streams would leave the lanes empty: each is then
    drawn along its counters with :func:`fill_normals` and copied.

    Parameters
    ----------
    seeds : ndarray of uint64, shape (streams,)
    start : int
        Counter of ``out[0]``.
    out : ndarray of float32, shape (n, streams)
    key_low, key_high : ndarray of int32, shape (>= streams,)
        Scratch for the streams' keys.
    row : ndarray of float32, shape (>= padded_length(n),)
        Scratch for one stream's row.
    """
    n, streams = out.shape
    if streams < FEW_STREAMS:
        padded = row[:padded_length(n)]
        for r in range(streams):
            fill_normals(seeds[r], start, padded)
            for k in range(n):
                out[k, r] = padded[k]
        return
    for r in range(streams):
        key_low[r], key_high[r] = _keys(seeds[r])
    k = 0
    if start & 1 and n > 0:  # a leading odd counter, one normal a stream
        for r in range(streams):
            out[0, r] = counter_normal(seeds[r], start)
        k = 1
    while k + 1 < n:
        j = (start + k) >> 1
        evens = out[k]
        odds = out[k + 1]
        for r in range(streams):
            even, odd = _pair(key_low[r], key_high[r], j)
            evens[r] = even
            odds[r] = odd
        k += 2
    if k < n:  # a trailing even counter
        for r in range(streams):
            out[k, r] = counter_normal(seeds[r], start + k)


@numba.njit(cache=True)
def standard_normals(seeds, n, start=0):
    """Normals of shape (len(seeds), n), float64: ``out[b, k] = counter_normal(seeds[b], start + k)``.

    Parameters
    ----------
    seeds : ndarray of uint64, shape (rows,)
    n : int
        Normals per row.
    start : int
        Counter of the first normal.
    """
    out = np.empty((seeds.shape[0], n))
    row = np.empty(n, dtype=np.float32)
    for b in range(seeds.shape[0]):
        fill_normals(seeds[b], np.int64(start), row)  # an int64 even when start is the literal default
        for k in range(n):
            out[b, k] = row[k]
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


# --------------------------------------------------- words of many generators
@intrinsic
def _call_next_uint64(typingctx, function, state):
    """``function(state)`` for a C function ``uint64_t (*)(void *)`` given by its address (a bit
    generator's ``ctypes.next_uint64``): an argument, not a global, so that the kernel stays cacheable."""
    signature = types.uint64(types.uintp, types.uintp)

    def codegen(context, builder, sig, args):
        pointer = ir.IntType(8).as_pointer()
        function_type = ir.FunctionType(ir.IntType(64), [pointer])
        callee = builder.inttoptr(args[0], function_type.as_pointer())
        return builder.call(callee, [builder.inttoptr(args[1], pointer)])
    return signature, codegen


@numba.njit(cache=True)
def draw_words(functions, states, counts, out):
    """Words of many bit generators, one after another: generator ``g`` gives ``counts[g]`` words.

    The compiled twin of ``np.concatenate([bg.random_raw(n) for bg, n in ...])`` for bit generators
    whose raw output is their ``next_uint64`` (PCG64): the same words, and the generators advance the
    same way (see :func:`word_sources`).

    Parameters
    ----------
    functions, states : ndarray of uintp, shape (generators,)
        Each bit generator's ``ctypes.next_uint64`` and ``ctypes.state_address``; the caller keeps the
        generators alive.
    counts : ndarray of int64, shape (generators,)
    out : ndarray of uint64, shape (counts.sum(),)
    """
    e = 0
    for g in range(states.shape[0]):
        for _ in range(counts[g]):
            out[e] = _call_next_uint64(functions[g], states[g])
            e += 1


def word_sources(bit_generators):
    """``(functions, states)`` of :func:`draw_words` for these bit generators, or None unless every one is a
    PCG64 (the generator whose ``random_raw`` is its ``next_uint64``; the others keep numpy's calls)."""
    import ctypes

    if not bit_generators or not all(type(bg) is np.random.PCG64 for bg in bit_generators):
        return None
    functions = np.array([ctypes.cast(bg.ctypes.next_uint64, ctypes.c_void_p).value for bg in bit_generators],
                         dtype=np.uintp)
    states = np.array([bg.ctypes.state_address for bg in bit_generators], dtype=np.uintp)
    return functions, states
