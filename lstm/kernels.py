"""Numba kernels: a standard LSTM layer over a whole sequence, forward and backward.

At the paper's sizes (hidden 14 to 15, batch 1 to 50) a step costs a few
microseconds of arithmetic and tens of microseconds of Python; these kernels
run the whole time loop compiled. The reference is the per-step numpy path of
:class:`lstm.network.Network` (``kernels=False``), which the tests compare
with these to 1e-12.

Shapes: x (time, batch, features); mask (batch, time); W (features + hidden + 1, 4 hidden).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _sigmoid(x):
    return 0.5 * (1.0 + math.tanh(0.5 * x))


@numba.njit(cache=True)
def lstm_forward(x, mask, w):
    """Run one LSTM layer over the sequence.

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
    stacked = np.empty((time, batch, features + hidden + 1))
    gates = np.empty((time, batch, 4 * hidden))
    c_prev_all = np.empty((time, batch, hidden))
    tanh_all = np.empty((time, batch, hidden))
    states = np.empty((time, batch, hidden))
    h = np.zeros((batch, hidden))
    c = np.zeros((batch, hidden))
    for t in range(time):
        for b in range(batch):
            for k in range(features):
                stacked[t, b, k] = x[t, b, k]
            for j in range(hidden):
                stacked[t, b, features + j] = h[b, j]
            stacked[t, b, features + hidden] = 1.0
        z = np.dot(stacked[t], w)
        for b in range(batch):
            m = mask[b, t]
            for j in range(hidden):
                i = _sigmoid(z[b, j])
                f = _sigmoid(z[b, hidden + j])
                g = math.tanh(z[b, 2 * hidden + j])
                o = _sigmoid(z[b, 3 * hidden + j])
                c_old = c[b, j]
                c_new = f * c_old + i * g
                tc = math.tanh(c_new)
                gates[t, b, j] = i
                gates[t, b, hidden + j] = f
                gates[t, b, 2 * hidden + j] = g
                gates[t, b, 3 * hidden + j] = o
                c_prev_all[t, b, j] = c_old
                tanh_all[t, b, j] = tc
                h[b, j] = m * (o * tc) + (1.0 - m) * h[b, j]
                c[b, j] = m * c_new + (1.0 - m) * c_old
                states[t, b, j] = h[b, j]
    return stacked, gates, c_prev_all, tanh_all, states


@numba.njit(cache=True)
def lstm_backward(stacked, gates, c_prev_all, tanh_all, mask, w, d_states):
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
        d_stacked = np.dot(dz, wt)
        for b in range(batch):
            for k in range(features):
                d_below[t, b, k] = d_stacked[b, k]
            for j in range(hidden):
                dh[b, j] += d_stacked[b, features + j]
    return dw, d_below
