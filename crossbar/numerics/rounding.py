"""Rounding to the nearest code, ties to even, the same in Numba kernels and their numpy twins.

``np.rint`` in numpy and :func:`round_half_even` in kernels agree to the last bit, so a kernel and its
reference give the same codes.
"""

from __future__ import annotations

import numba
import numpy as np

# Rounding is to the nearest code, ties to even, in kernels and references
# alike (np.rint in numpy), so the two agree to the last bit.
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52


@numba.njit(cache=True, inline="always")
def round_half_even(x):
    """``np.rint(x)`` for ``|x| < 2**51`` by two additions, which vectorise (a libm call does not)."""
    return (x + _ROUND_MAGIC) - _ROUND_MAGIC


@numba.njit(cache=True)
def quantize_grid(x, origin, step, code_min, code_max):
    """Round ``x`` to the grid ``origin + code * step``, codes in [code_min, code_max].

    Values beyond the outermost codes take them (a converter saturates) and are
    counted, so callers can report or refuse them.

    Returns
    -------
    out : ndarray, same shape as ``x``
    n_saturated : int
    """
    flat = x.ravel()
    out = np.empty(flat.shape[0])
    n_saturated = 0
    lo = float(code_min)
    hi = float(code_max)
    for k in range(flat.shape[0]):
        code = round_half_even((flat[k] - origin) / step)
        if code > hi or code < lo:
            n_saturated += 1
        out[k] = origin + min(max(code, lo), hi) * step
    return out.reshape(x.shape), n_saturated


def quantize_grid_reference(x, origin, step, code_min, code_max):
    """numpy reference of :func:`quantize_grid`."""
    code = np.rint((x - origin) / step)
    n_saturated = int(np.count_nonzero((code > code_max) | (code < code_min)))
    return origin + np.clip(code, code_min, code_max) * step, n_saturated

