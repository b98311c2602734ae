"""Recurrent cells: one time step forward and backward, given the gate pre-activations.

Every cell reads its gates from one matrix product ``z = [x_t; h_{t-1}; 1] @ W``
(shape (batch, n_blocks * hidden)): the block that goes onto an array. What a
cell adds on top (peepholes, the GRU's reset gate) is elementwise and digital.

Cells
-----
- ``lstm``: gates ``[i, f, g, o]``; ``c = f*c' + i*g``, ``h = o*tanh(c)``.
- ``peephole``: as ``lstm``, but ``i`` and ``f`` also see ``c'`` and ``o`` sees ``c``
  through diagonal weights ``p`` (Gers and Schmidhuber 2000).
- ``coupled``: gates ``[f, g, o]``; the input gate is ``1 - f``: ``c = f*c' + (1-f)*g``.
- ``gru``: columns ``[r, u, n_x, n_h]``; ``n = tanh(n_x + r * n_h)``,
  ``h = (1-u)*n + u*h'`` (PyTorch's form). ``n_x`` reads only ``x`` and the bias,
  ``n_h`` only ``h'`` and its bias: a fixed mask keeps the other weights at zero.

Shapes: ``z`` (batch, blocks*hidden); states (batch, hidden).
"""

from __future__ import annotations

import abc

from typing import Dict, Optional, Tuple

import numpy as np


def sigmoid(x):
    """Logistic function, stable for large |x|."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class Cell(abc.ABC):
    """Interface of a cell type. Subclasses are stateless; parameters are passed in."""

    name = "cell"
    blocks = 4               # column blocks of the gate matrix
    has_cell_state = True    # carries c besides h
    gate_names: Tuple[str, ...] = ()

    def extra_parameters(self, hidden: int) -> Dict[str, Tuple[int, ...]]:
        """Shapes of parameters beyond the gate matrix."""
        return {}

    def weight_mask(self, n_in: int, hidden: int) -> Optional[np.ndarray]:
        """Fixed 0/1 mask of the gate matrix (rows [x; h; 1]), or None."""
        return None

    def forget_bias_columns(self, hidden: int) -> Optional[slice]:
        """Columns whose bias starts at 1 (the forget gate), or None."""
        return None

    @abc.abstractmethod
    def forward(self, z, h_prev, c_prev, extra):
        """One step: returns (h, c or None, cache) from pre-activations ``z`` and the previous state."""

    @abc.abstractmethod
    def backward(self, dh, dc, cache, extra, grads):
        """One step back: returns (dz, extra dh_prev or None, dc_prev or None); adds extra-parameter gradients."""


class LSTMCell(Cell):
    name = "lstm"
    blocks = 4
    gate_names = ("i", "f", "g", "o")

    def forget_bias_columns(self, hidden):
        return slice(hidden, 2 * hidden)

    def forward(self, z, h_prev, c_prev, extra):
        n = z.shape[1] // 4
        i = sigmoid(z[:, :n])
        f = sigmoid(z[:, n:2 * n])
        g = np.tanh(z[:, 2 * n:3 * n])
        o = sigmoid(z[:, 3 * n:])
        c = f * c_prev + i * g
        tc = np.tanh(c)
        h = o * tc
        return h, c, (i, f, g, o, c_prev, tc)

    def backward(self, dh, dc, cache, extra, grads):
        """Gradients: returns (dz, dh_prev, dc_prev); adds to ``grads`` for extras."""
        i, f, g, o, c_prev, tc = cache
        do = dh * tc
        dc = dc + dh * o * (1.0 - tc * tc)
        di = dc * g
        dg = dc * i
        df = dc * c_prev
        dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], axis=1)
        return dz, None, dc * f


class PeepholeLSTMCell(Cell):
    name = "peephole"
    blocks = 4
    gate_names = ("i", "f", "g", "o")

    def extra_parameters(self, hidden):
        return {"peephole": (3, hidden)}  # rows: i, f, o

    def forget_bias_columns(self, hidden):
        return slice(hidden, 2 * hidden)

    def forward(self, z, h_prev, c_prev, extra):
        p = extra["peephole"]
        n = z.shape[1] // 4
        i = sigmoid(z[:, :n] + p[0] * c_prev)
        f = sigmoid(z[:, n:2 * n] + p[1] * c_prev)
        g = np.tanh(z[:, 2 * n:3 * n])
        c = f * c_prev + i * g
        o = sigmoid(z[:, 3 * n:] + p[2] * c)
        tc = np.tanh(c)
        h = o * tc
        return h, c, (i, f, g, o, c_prev, c, tc)

    def backward(self, dh, dc, cache, extra, grads):
        p = extra["peephole"]
        i, f, g, o, c_prev, c, tc = cache
        dzo = dh * tc * o * (1 - o)
        dc = dc + dh * o * (1.0 - tc * tc) + dzo * p[2]
        dzi = dc * g * i * (1 - i)
        dzf = dc * c_prev * f * (1 - f)
        dzg = dc * i * (1 - g * g)
        gp = grads["peephole"]
        gp[0] += np.sum(dzi * c_prev, axis=0)
        gp[1] += np.sum(dzf * c_prev, axis=0)
        gp[2] += np.sum(dzo * c, axis=0)
        dc_prev = dc * f + dzi * p[0] + dzf * p[1]
        return np.concatenate([dzi, dzf, dzg, dzo], axis=1), None, dc_prev


class CoupledLSTMCell(Cell):
    name = "coupled"
    blocks = 3
    gate_names = ("f", "g", "o")

    def forget_bias_columns(self, hidden):
        return slice(0, hidden)

    def forward(self, z, h_prev, c_prev, extra):
        n = z.shape[1] // 3
        f = sigmoid(z[:, :n])
        g = np.tanh(z[:, n:2 * n])
        o = sigmoid(z[:, 2 * n:])
        c = f * c_prev + (1.0 - f) * g
        tc = np.tanh(c)
        return o * tc, c, (f, g, o, c_prev, tc)

    def backward(self, dh, dc, cache, extra, grads):
        f, g, o, c_prev, tc = cache
        do = dh * tc
        dc = dc + dh * o * (1.0 - tc * tc)
        df = dc * (c_prev - g)
        dg = dc * (1.0 - f)
        dz = np.concatenate([df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], axis=1)
        return dz, None, dc * f


class GRUCell(Cell):
    name = "gru"
    blocks = 4
    has_cell_state = False
    gate_names = ("r", "u", "n_x", "n_h")

    def weight_mask(self, n_in, hidden):
        mask = np.ones((n_in + hidden + 1, 4 * hidden))
        mask[n_in:n_in + hidden, 2 * hidden:3 * hidden] = 0.0  # n_x does not read h
        mask[:n_in, 3 * hidden:] = 0.0                          # n_h does not read x
        return mask

    def forward(self, z, h_prev, c_prev, extra):
        n = z.shape[1] // 4
        r = sigmoid(z[:, :n])
        u = sigmoid(z[:, n:2 * n])
        nh = z[:, 3 * n:]
        cand = np.tanh(z[:, 2 * n:3 * n] + r * nh)
        h = (1.0 - u) * cand + u * h_prev
        return h, None, (r, u, cand, nh, h_prev)

    def backward(self, dh, dc, cache, extra, grads):
        r, u, cand, nh, h_prev = cache
        du = dh * (h_prev - cand)
        dcand = dh * (1.0 - u)
        da = dcand * (1.0 - cand * cand)
        dz = np.concatenate([da * nh * r * (1 - r), du * u * (1 - u), da, da * r], axis=1)
        return dz, dh * u, None


CELLS = {c.name: c for c in (LSTMCell(), PeepholeLSTMCell(), CoupledLSTMCell(), GRUCell())}


def get_cell(name: str) -> Cell:
    """The cell of a name: ``lstm``, ``peephole``, ``coupled`` or ``gru``."""
    if name not in CELLS:
        raise ValueError(f"cell={name!r} is not known; choose one of {sorted(CELLS)}")
    return CELLS[name]
