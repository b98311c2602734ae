"""Branch-free math for the Numba kernels, written so that LLVM vectorises it.

Numba's ``math.log``, ``math.sin`` and ``math.cos`` are scalar libm calls, and
it has no scalar bit cast, so a loop that needs a logarithm stays scalar. The
functions here read a float's exponent through a bit cast (an LLVM ``bitcast``
intrinsic) and finish with short polynomials, all in float32: with AVX2 that is
eight lanes at a time. They serve the Gaussian noise source
(:mod:`crossbar.numerics.random_streams`), where float32's relative precision (6e-8) is far below
any physical noise level.

:func:`bits_float64` builds ``2^k`` for the float64 activations of
:mod:`lstm.kernels` the same way, where a table look-up would keep the loop
scalar. The tests compare each function with numpy in float64.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_F = np.float32
_LN2 = _F(0.6931471805599453)
_TWO_PI = _F(6.283185307179586)
_SQRT2 = _F(1.4142135)


@intrinsic
def float32_bits(typingctx, x):
    """The IEEE bits of a float32 as an int32 (a bit cast, no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def bits_float32(typingctx, bits):
    """The float32 whose IEEE bits are the int32 ``bits`` (a bit cast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def bits_float64(typingctx, bits):
    """The float64 whose IEEE bits are the int64 ``bits`` (a bit cast), e.g. ``2^k`` from ``(k + 1023) << 52``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def log32(x):
    """Natural logarithm of a positive, normal float32 ``x`` (relative error below 2e-7).

    ``x = 2^e m`` with ``m`` in [sqrt(1/2), sqrt(2)); ``log m = 2 atanh(s)``,
    ``s = (m - 1) / (m + 1)``, ``|s| <= 0.172``, by its series to ``s^11``.
    """
    bits = float32_bits(x)
    e = (bits >> 23) - 127
    m = bits_float32((bits & 0x007FFFFF) | 0x3F800000)  # [1, 2)
    high = m > _SQRT2
    m = m * _F(0.5) if high else m
    e = e + 1 if high else e
    s = (m - _F(1.0)) / (m + _F(1.0))
    s2 = s * s
    p = _F(1.0 / 11.0)
    p = p * s2 + _F(1.0 / 9.0)
    p = p * s2 + _F(1.0 / 7.0)
    p = p * s2 + _F(1.0 / 5.0)
    p = p * s2 + _F(1.0 / 3.0)
    return _F(e) * _LN2 + (_F(2.0) * s + _F(2.0) * s * s2 * p)


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def sincos_turns32(w):
    """``(sin 2 pi w, cos 2 pi w)`` for a float32 ``w`` in [-1/2, 1/2] (absolute error below 3e-7).

    The nearest quarter turn ``q`` is taken out exactly (``t = w - q/4`` is a
    float32 subtraction without rounding), leaving ``|2 pi t| <= pi/4`` for
    the Taylor series (to ``x^9`` and ``x^10``); the quarter turns then swap
    and negate sine and cosine, by arithmetic rather than branches.
    """
    q = np.floor(_F(4.0) * w + _F(0.5))
    x = _TWO_PI * (w - _F(0.25) * q)
    x2 = x * x
    s = _F(1.0 / 362880.0)
    s = s * x2 - _F(1.0 / 5040.0)
    s = s * x2 + _F(1.0 / 120.0)
    s = s * x2 - _F(1.0 / 6.0)
    s = x + x * x2 * s
    c = _F(-1.0 / 3628800.0)
    c = c * x2 + _F(1.0 / 40320.0)
    c = c * x2 - _F(1.0 / 720.0)
    c = c * x2 + _F(1.0 / 24.0)
    c = c * x2 - _F(0.5)
    c = _F(1.0) + x2 * c
    quarter = np.int32(q) & 3
    odd = _F(quarter & 1)
    even = _F(1.0) - odd
    sine = (even * s + odd * c) * _F(1 - (quarter & 2))
    cosine = (even * c + odd * s) * _F(1 - ((quarter + 1) & 2))
    return sine, cosine


@njit(cache=True, error_model="numpy")
def log32_array(x):
    """:func:`log32` over a float32 array (for the tests)."""
    out = np.empty_like(x)
    for k in range(x.shape[0]):
        out[k] = log32(x[k])
    return out


@njit(cache=True, error_model="numpy")
def sincos_turns32_array(w):
    """:func:`sincos_turns32` over a float32 array (for the tests): (sine, cosine)."""
    sine = np.empty_like(w)
    cosine = np.empty_like(w)
    for k in range(w.shape[0]):
        sine[k], cosine[k] = sincos_turns32(w[k])
    return sine, cosine



@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``), for three float32 or three float64 scalars.

    LLVM vectorises loops of it. On a CPU without fused multiply-add it calls
    libm's correctly rounded ``fma``/``fmaf``: slower, the same bits.
    """
    if not (a == b == c and a in (types.float32, types.float64)):
        return None

    def codegen(context, builder, signature, args):
        width = "f32" if signature.return_type == types.float32 else "f64"
        kind = args[0].type
        function = builder.module.declare_intrinsic(f"llvm.fma.{width}", fnty=ir.FunctionType(kind, [kind] * 3))
        return builder.call(function, args)

    return a(a, b, c), codegen


def fma32_reference(a, b, c) -> np.ndarray:
    """Exactly rounded float32 ``a * b + c`` in numpy (the bits of :func:`fma`), element-wise.

    The product of two float32 numbers is exact in float64; the sum is rounded
    to float64 (``s``) with its exact error ``e`` (two-sum). Rounding ``s`` to
    float32 is then right except where ``s`` lies exactly halfway between two
    float32 numbers while ``e`` is not zero: the exact value lies on ``e``'s
    side of the tie, so it rounds to that side's neighbour.
    """
    a, b, c = (np.asarray(x, dtype=np.float32) for x in (a, b, c))
    p = a.astype(np.float64) * b.astype(np.float64)
    c64 = c.astype(np.float64)
    s = p + c64
    bb = s - p
    e = (p - (s - bb)) + (c64 - bb)  # exact: p + c == s + e
    r = s.astype(np.float32)
    d = s - r.astype(np.float64)  # s - r, exact
    tie = (d != 0.0) & (e != 0.0)
    if np.any(tie):
        toward = np.where(d > 0, np.float32(np.inf), np.float32(-np.inf)).astype(np.float32)
        n = np.nextafter(r, toward)
        halfway = tie & (2.0 * d == n.astype(np.float64) - r.astype(np.float64))
        beyond = halfway & ((e > 0) == (d > 0))  # the exact value lies past the tie, towards n
        r = np.where(beyond, n, r)
    return r
