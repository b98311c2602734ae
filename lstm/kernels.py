"""Numba kernels: a standard LSTM layer over a whole sequence, forward and backward.

At the paper's sizes (hidden 14 to 15, batch 1 to 50) a step costs a few
microseconds of arithmetic and tens of microseconds of Python; these kernels
run the whole time loop compiled. The reference is the per-step numpy path of
:class:`lstm.network.Network` (``kernels=False``), which the tests compare
with these to 1e-12.

Shapes: x (time, batch, features); mask (batch, time); W (features + hidden + 1, 4 hidden).
"""

from __future__ import annotations


import numba
import numpy as np

from crossbar.numerics.vecmath import bits_float64
from crossbar.read.kernels import session_read, session_scratch


# ---------------------------------------------------------- activations
# libm's tanh is a scalar call (about 25 ns); these are branch-free polynomials
# that LLVM vectorises over a layer's units (about 4 ns), within 3 ulp of
# numpy's tanh (tested). error_model="numpy" drops Python's division-by-zero
# check, which would keep every loop around them scalar.
_LN2_HI = 6.93147180369123816490e-01   # ln 2 split so that k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_ROUND = 6755399441055744.0  # 1.5 * 2**52: (x + _ROUND) - _ROUND rounds to an integer
# The functions that run the activations may fuse a multiply and an add (one rounding instead of
# two): the polynomials then take half the instructions. Only ``contract``, and only on functions
# whose callees are all inlined: Numba applies a function's fast-math flags to the code of the
# callees it compiles along with it, so a flag on a caller would make the callees' rounding depend
# on whether they came from the cache (measured: the airline run gave 55.3 or 60.0; see
# tests/test_fastmath_leaves.py).
_CONTRACT = {"contract"}


@numba.njit(cache=True, inline="always", error_model="numpy")
def expm1(y):
    """``exp(y) - 1`` for ``|y| <= 40`` (beyond, clamped), accurate to a few ulp also near 0.

    ``y = k ln 2 + r`` with ``|r| <= ln 2 / 2``; ``expm1(r)`` by its Taylor series
    to ``r^13`` (error below 2e-16 relative); ``exp(y) - 1 = 2^k expm1(r) + (2^k - 1)``.
    """
    y = min(max(y, -40.0), 40.0)
    k = (y * _INV_LN2 + _ROUND) - _ROUND
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    e = r + r * r * p
    scale = bits_float64((np.int64(k) + 1023) << 52)  # 2^k by its bits: a table look-up would not vectorise
    return scale * e + (scale - 1.0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def tanh(x):
    """Hyperbolic tangent, ``expm1(2x) / (expm1(2x) + 2)``; exactly +-1 beyond |x| = 20 as in double precision."""
    e = expm1(2.0 * x)
    return e / (e + 2.0)


@numba.njit(cache=True, error_model="numpy", fastmath=_CONTRACT)
def tanh_array(x):
    """:func:`tanh` over an array (what the tests compare with ``np.tanh``)."""
    out = np.empty_like(x)
    flat_in = x.ravel()
    flat_out = out.ravel()
    for k in range(flat_in.shape[0]):
        flat_out[k] = tanh(flat_in[k])
    return out


@numba.njit(cache=True, inline="always")
def _stack(t, slot, x, row0, h, stacked):
    """``stacked[slot] = [x_t; h; 1]``, ``x`` from its row ``row0`` on (``h``'s rows)."""
    batch, hidden = h.shape
    features = x.shape[2]
    for b in range(batch):
        for k in range(features):
            stacked[slot, b, k] = x[t, row0 + b, k]
        for j in range(hidden):
            stacked[slot, b, features + j] = h[b, j]
        stacked[slot, b, features + hidden] = 1.0


@numba.njit(cache=True, error_model="numpy", fastmath=_CONTRACT)
def _cell_step(t, slot, z, mask, h, c, gates, c_prev_all, tanh_all, states):
    """The gates, cell and hidden state of step ``t`` from the pre-activations ``z`` (B, 4H); in place.

    The step's caches go to index ``slot`` of ``gates``, ``c_prev_all`` and
    ``tanh_all`` (``t``, or 0 when they are not kept), ``h`` to ``states[t]``.

    The loops with activations are long, so that they vectorise without a
    scalar remainder worth the name (at hidden 14 the remainders of short
    loops cost more than the vectorised parts): one loop over a row's 4H
    gates, each ``beta tanh(beta z) + offset`` (beta 1 and offset 0 for g;
    0.5 and 0.5 for the sigmoids, ``sigmoid(z) = 0.5 tanh(z/2) + 0.5``), and
    one over the whole batch's ``tanh(c)``.
    """
    batch, hidden = h.shape
    for b in range(batch):
        zb = z[b]
        act = gates[slot, b]
        for j in range(4 * hidden):
            g = 2 * hidden <= j < 3 * hidden  # g: tanh; i, f, o: sigmoid (a select, so it vectorises)
            beta = 1.0 if g else 0.5
            act[j] = beta * tanh(beta * zb[j]) + (0.0 if g else 0.5)
        c_old = c_prev_all[slot, b]
        tc = tanh_all[slot, b]
        m = mask[b, t]
        for j in range(hidden):
            c_old[j] = c[b, j]
            tc[j] = act[hidden + j] * c[b, j] + act[j] * act[2 * hidden + j]  # the new cell state, for now
            c[b, j] = m * tc[j] + (1.0 - m) * c[b, j]
    flat = tanh_all[slot].reshape(batch * hidden)
    for k in range(batch * hidden):
        flat[k] = tanh(flat[k])
    for b in range(batch):
        act = gates[slot, b]
        tc = tanh_all[slot, b]
        m = mask[b, t]
        for j in range(hidden):
            h[b, j] = m * (act[3 * hidden + j] * tc[j]) + (1.0 - m) * h[b, j]
            states[t, b, j] = h[b, j]


@numba.njit(cache=True, inline="always")
def _layer_arrays(time, batch, features, hidden, keep):
    """The caches of a forward pass (stacked, gates, c_prev, tanh_c, states) and zero h, c.

    Without ``keep`` the first four hold one step, overwritten each step: an
    inference pass writes (and faults in) a quarter of the memory.
    """
    slots = time if keep else 1
    return (np.empty((slots, batch, features + hidden + 1)), np.empty((slots, batch, 4 * hidden)),
            np.empty((slots, batch, hidden)), np.empty((slots, batch, hidden)), np.empty((time, batch, hidden)),
            np.zeros((batch, hidden)), np.zeros((batch, hidden)))


@numba.njit(cache=True, error_model="numpy")
def lstm_forward(x, mask, w, keep=True):
    """Run one LSTM layer over the sequence.

    ``keep`` False keeps only the last step in the first four caches (inference).

    Returns
    -------
    stacked : (T, B, F + H + 1)   the inputs ``[x; h; 1]`` of every step
    gates : (T, B, 4H)            activated i, f, g, o
    c_prev : (T, B, H)            cell state entering each step
    tanh_c : (T, B, H)            tanh of the new cell state
    states : (T, B, H)            h after each step (carried over padding)
    """
    time, batch, features = x.shape
    hidden = w.shape[1] // 4
    stacked, gates, c_prev_all, tanh_all, states, h, c = _layer_arrays(time, batch, features, hidden, keep)
    for t in range(time):
        slot = t if keep else 0
        _stack(t, slot, x, 0, h, stacked)
        z = np.dot(stacked[slot], w)
        _cell_step(t, slot, z, mask, h, c, gates, c_prev_all, tanh_all, states)
    return stacked, gates, c_prev_all, tanh_all, states


@numba.njit(cache=True, error_model="numpy", nogil=True)
def hardware_lstm_forward(x, mask, session, keep=True, first_row=0, n_rows=-1, parallel_chunks=False):
    """:func:`lstm_forward` with every step's product on the crossbar arrays.

    Each step's ``[x_t; h; 1] @ W`` is one call of the matrix's read session
    (:func:`crossbar.read.kernels.session_read`: DAC, arrays with read noise
    and wires, ADC, the digital sums), the rest as in :func:`lstm_forward`,
    the whole time loop compiled.

    Parameters
    ----------
    x : (T, B, F)
        Layer inputs, dimensionless.
    mask : (B, T)
    session : crossbar.read.kernels.CompiledReads
        ``compiled`` of the layer's matrix's :meth:`crossbar.ReadPlan.session` of T calls (F + H inputs and the
        bias rows, 4H outputs): step ``t`` is call ``t``.
    keep : bool
        Keep every step's caches (training); else only the last (inference).
    first_row, n_rows : int
        Run rows ``first_row .. first_row + n_rows`` of ``x`` and ``mask`` only
        (``n_rows`` -1: to the end); each draws the noise streams of its row
        of the whole batch. A batch computed in parts (see ``lstm.parallel``)
        so gives the numbers of the whole, and its parts read the caller's
        arrays without copies.
    parallel_chunks : bool
        Each read's column chunks on Numba's threads (see
        :func:`crossbar.read.kernels.session_read`); the same numbers.

    Returns
    -------
    stacked, gates, c_prev, tanh_c, states
        As :func:`lstm_forward`.
    power : (batch, n_logical)
        ``sum V^2`` over the sequence of each batch row and logical input, V^2
        (read energy).
    saturated : (n_reads,) int64
        Each read's ADC saturations over the sequence.
    n_bad : int
        Drive voltages beyond the DAC's range or NaN.
    """
    time, features = x.shape[0], x.shape[2]
    batch = x.shape[1] - first_row if n_rows < 0 else n_rows
    mask = mask[first_row:first_row + batch]
    hidden = session.n_outputs // 4
    stacked, gates, c_prev_all, tanh_all, states, h, c = _layer_arrays(time, batch, features, hidden, keep)
    z = np.empty((batch, 4 * hidden))
    scratch = session_scratch(session, batch)
    bad = 0
    for t in range(time):
        slot = t if keep else 0
        _stack(t, slot, x, first_row, h, stacked)
        bad += session_read(session, t, stacked[slot], scratch, z, first_row, parallel_chunks)
        _cell_step(t, slot, z, mask, h, c, gates, c_prev_all, tanh_all, states)
    return stacked, gates, c_prev_all, tanh_all, states, scratch.power, scratch.saturated, bad


@numba.njit(cache=True)
def lstm_backward(stacked, gates, c_prev_all, tanh_all, mask, w, d_states, dz_all):
    """Backpropagation through time of one LSTM layer.

    Parameters
    ----------
    stacked, gates, c_prev_all, tanh_all
        From :func:`lstm_forward`.
    mask : (B, T)
    w : (F + H + 1, 4H)
        Matrix to propagate errors through (the read-back weights in situ).
    d_states : (T, B, H)
        Gradient of the loss with respect to each step's h from above.
    dz_all : (T, B, 4H) or (0, 0, 0)
        Filled with each step's gradient with respect to the gate pre-activations (``dw`` is the sum over
        steps of ``stacked[t].T @ dz_all[t]``: the rank-one factors of the update), when not empty.

    Returns
    -------
    dw : (F + H + 1, 4H)
    d_below : (T, B, F)
        Gradient with respect to the layer's inputs.
    """
    time, batch, width = stacked.shape
    hidden = w.shape[1] // 4
    features = width - hidden - 1
    dw = np.zeros(w.shape)
    d_below = np.empty((time, batch, features))
    dh = np.zeros((batch, hidden))
    dc = np.zeros((batch, hidden))
    dz = np.empty((batch, 4 * hidden))
    wt = np.ascontiguousarray(w.T)
    for t in range(time - 1, -1, -1):
        for b in range(batch):
            m = mask[b, t]
            for j in range(hidden):
                dh_total = m * (dh[b, j] + d_states[t, b, j])
                i = gates[t, b, j]
                f = gates[t, b, hidden + j]
                g = gates[t, b, 2 * hidden + j]
                o = gates[t, b, 3 * hidden + j]
                tc = tanh_all[t, b, j]
                dcell = m * dc[b, j] + dh_total * o * (1.0 - tc * tc)
                dz[b, j] = dcell * g * i * (1.0 - i)
                dz[b, hidden + j] = dcell * c_prev_all[t, b, j] * f * (1.0 - f)
                dz[b, 2 * hidden + j] = dcell * i * (1.0 - g * g)
                dz[b, 3 * hidden + j] = dh_total * tc * o * (1.0 - o)
                dc[b, j] = (1.0 - m) * dc[b, j] + dcell * f
                dh[b, j] = (1.0 - m) * (dh[b, j] + d_states[t, b, j])
        dw += np.dot(stacked[t].T, dz)
        if dz_all.shape[0]:
            dz_all[t] = dz
        d_stacked = np.dot(dz, wt)
        for b in range(batch):
            for k in range(features):
                d_below[t, b, k] = d_stacked[b, k]
            for j in range(hidden):
                dh[b, j] += d_stacked[b, features + j]
    return dw, d_below
