"""Stacked recurrent layers with a dense head, and backpropagation through time.

A network's parameters live in one dict: ``layer{k}.W`` is layer ``k``'s gate
matrix (rows ``[x_t; h_{t-1}; 1]``, columns ``blocks x hidden``), ``layer{k}.peephole``
the peephole weights of that cell type, and ``head.W`` the dense head (rows
``[h; 1]``). Every matrix product goes through a ``product(name, inputs)``
function: the software one multiplies by the parameter; a hardware backend
sends the inputs through the crossbar arrays instead. Activations and
elementwise products stay here, digital.

Inputs are ``(batch, time, features)``; an optional mask ``(batch, time)``
marks valid steps (1) and padding (0) of variable-length sequences, padding
at the end. During padding the state is carried unchanged, so the last state
is that of the last valid step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from crossbar.validation import (CHECKED_BYTES, as_float_array, check_choice, check_int, check_memory, check_range,
                                 make_generator)

from lstm.cells import get_cell, sigmoid
from lstm.kernels import lstm_backward, lstm_forward

HEADS = ("identity", "sigmoid", "softmax")
MODES = ("seq2seq", "seq2vec")
LOSSES = ("mse", "cross_entropy")
REDUCTIONS = ("mean", "sum")

Product = Callable[[str, np.ndarray], np.ndarray]
# layer(k, inputs (T, B, F), mask (B, T), keep) -> (stacked, gates, c_prev, tanh_c, states) of a standard
# LSTM layer run whole (every step's caches when ``keep``, else only the states), or None to go
# step by step through ``product``
Layer = Callable[[int, np.ndarray, np.ndarray, bool], Optional[tuple]]


@dataclass(frozen=True)
class NetworkConfig:
    """Shape and behaviour of a network. Validated when built.

    Parameters
    ----------
    n_inputs : int
        Features per time step.
    hidden : sequence of int
        Units of each recurrent layer, bottom first.
    n_outputs : int
        Outputs of the dense head (classes for ``softmax``).
    cell : {"lstm", "peephole", "coupled", "gru"}
    head : {"identity", "sigmoid", "softmax"}
    mode : {"seq2seq", "seq2vec"}
        Loss at every step, or at the last valid step only.
    loss : {"mse", "cross_entropy"}
        ``cross_entropy`` requires the ``softmax`` head.
    reduction : {"mean", "sum"}
        Of the MSE over valid outputs (cross-entropy is averaged over sequences
        or valid steps either way; ``sum`` sums it).
    bias : bool
        Whether the layers and the head have biases (Li's speaker network has none).
    forget_bias : float
        Starting bias of the forget gate (1 by default, Gers et al. 2000).
    init_scale : float or None
        Uniform initialisation half-width; default ``1/sqrt(hidden)`` as PyTorch.
    """

    n_inputs: int
    hidden: tuple
    n_outputs: int
    cell: str = "lstm"
    head: str = "identity"
    mode: str = "seq2seq"
    loss: str = "mse"
    reduction: str = "mean"
    bias: bool = True
    forget_bias: float = 1.0
    init_scale: Optional[float] = None

    def __post_init__(self):
        check_int("n_inputs", self.n_inputs, 1)
        hidden = tuple(self.hidden) if isinstance(self.hidden, (list, tuple)) else (self.hidden,)
        if not hidden:
            raise ValueError("hidden=() is not allowed; at least one recurrent layer is required")
        for k, h in enumerate(hidden):
            check_int(f"hidden[{k}]", h, 1)
        object.__setattr__(self, "hidden", hidden)
        check_int("n_outputs", self.n_outputs, 1)
        get_cell(self.cell)
        check_choice("head", self.head, HEADS)
        check_choice("mode", self.mode, MODES)
        check_choice("loss", self.loss, LOSSES)
        check_choice("reduction", self.reduction, REDUCTIONS)
        if self.loss == "cross_entropy" and self.head != "softmax":
            raise ValueError(f"loss='cross_entropy' needs head='softmax', not head={self.head!r}")
        if self.head == "softmax" and self.loss != "cross_entropy":
            raise ValueError(f"head='softmax' goes with loss='cross_entropy', not loss={self.loss!r}")
        if self.head == "softmax" and self.n_outputs < 2:
            raise ValueError(f"n_outputs={self.n_outputs} with head='softmax'; at least 2 classes are required")
        check_range("forget_bias", self.forget_bias, -10.0, 10.0)
        if self.init_scale is not None:
            check_range("init_scale", self.init_scale, 0.0, 10.0, low_open=True)

    def matrix_shapes(self) -> Dict[str, tuple]:
        """Each matrix that goes onto arrays: name -> (rows with the bias row, columns), bottom layer first."""
        cell = get_cell(self.cell)
        out, n_in = {}, self.n_inputs
        for k, hidden in enumerate(self.hidden):
            out[f"layer{k}.W"] = (n_in + hidden + 1, cell.blocks * hidden)
            n_in = hidden
        out["head.W"] = (n_in + 1, self.n_outputs)
        return out


@dataclass
class _KernelCache:
    """Per-layer cache of the Numba path (arrays over the whole sequence)."""

    gates: np.ndarray
    c_prev: np.ndarray
    tanh_c: np.ndarray


@dataclass
class ForwardCache:
    """What the backward pass needs from a forward pass."""

    inputs: List[np.ndarray]        # per layer: (T, B, n_in + hidden + 1) concatenated [x; h; 1]
    cell_caches: List[list]         # per layer, per step
    states: List[np.ndarray]        # per layer: h for every step (T, B, H)
    mask: np.ndarray                # (B, T)
    head_inputs: np.ndarray         # (B, T, H + 1) or (B, H + 1)
    outputs: np.ndarray             # after the head's activation


BYTES_PER_WEIGHT = 64
"""Bytes a weight costs a network in training, estimated: itself, its mask, gradient and optimiser moments
and the temporaries of an update (eight float64 copies)."""


def check_network_memory(config: NetworkConfig) -> None:
    """Refuse a network whose weights (:data:`BYTES_PER_WEIGHT` each) would not fit the memory available,
    before any is allocated: ``ValueError`` in one line with its size, the estimate and the memory."""
    weights = sum(float(r) * float(c) for r, c in config.matrix_shapes().values())
    if weights * BYTES_PER_WEIGHT > CHECKED_BYTES:
        check_memory(f"a network of hidden={list(config.hidden)} ({weights:.3g} weights)", weights * BYTES_PER_WEIGHT)


class Network:
    """A stack of recurrent layers and a dense head; seeded initialisation.

    Parameters
    ----------
    config : NetworkConfig
    seed : int, Generator or None
        Initialisation; the same seed gives the same weights.
    kernels : bool
        Run standard-LSTM layers with exact products through the Numba
        whole-sequence kernels (:mod:`lstm.kernels`); False keeps the per-step
        numpy path, their reference.
    """

    def __init__(self, config: NetworkConfig, seed=0, kernels: bool = True):
        if not isinstance(config, NetworkConfig):
            raise ValueError(f"config={config!r} is not allowed; an lstm.NetworkConfig is required")
        check_network_memory(config)
        self.config = config
        self.kernels = bool(kernels)
        self.cell = get_cell(config.cell)
        self.params: Dict[str, np.ndarray] = {}
        self.masks: Dict[str, np.ndarray] = {}
        rng = make_generator(seed)
        n_in = config.n_inputs
        for k, hidden in enumerate(config.hidden):
            scale = config.init_scale if config.init_scale is not None else 1.0 / np.sqrt(hidden)
            w = rng.uniform(-scale, scale, (n_in + hidden + 1, self.cell.blocks * hidden))
            forget = self.cell.forget_bias_columns(hidden)
            if config.bias:
                if forget is not None:
                    w[-1, forget] = config.forget_bias
            else:
                w[-1, :] = 0.0
            mask = self.cell.weight_mask(n_in, hidden)
            if not config.bias:
                mask = np.ones_like(w) if mask is None else mask.copy()
                mask[-1, :] = 0.0
            if mask is not None:
                self.masks[f"layer{k}.W"] = mask
                w *= mask
            self.params[f"layer{k}.W"] = w
            for name, shape in self.cell.extra_parameters(hidden).items():
                self.params[f"layer{k}.{name}"] = rng.uniform(-scale, scale, shape)
            n_in = hidden
        scale = config.init_scale if config.init_scale is not None else 1.0 / np.sqrt(n_in)
        head = rng.uniform(-scale, scale, (n_in + 1, config.n_outputs))
        if not config.bias:
            head[-1, :] = 0.0
            self.masks["head.W"] = np.vstack([np.ones((n_in, config.n_outputs)), np.zeros((1, config.n_outputs))])
        self.params["head.W"] = head

    # ------------------------------------------------------------------ data
    def check_inputs(self, x, mask=None):
        """Validated ``(x, mask)``: x (batch, time, n_inputs) finite, mask (batch, time) of 0/1."""
        x = as_float_array("x", x, ndim=3)
        if x.shape[2] != self.config.n_inputs:
            raise ValueError(f"x has {x.shape[2]} features per step; the network reads {self.config.n_inputs}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"x has shape {x.shape}: an empty batch or sequence")
        if mask is None:
            mask = np.ones(x.shape[:2])
        else:
            mask = as_float_array("mask", mask, shape=x.shape[:2])
            if not np.all((mask == 0) | (mask == 1)):
                raise ValueError("mask must hold only 0 and 1")
            if np.any(mask[:, 0] == 0):
                raise ValueError("mask: every sequence needs at least its first step valid")
            if np.any(np.diff(mask, axis=1) > 0):
                raise ValueError("mask: padding must come after the valid steps (no 0 before a 1)")
        return x, mask

    def check_targets(self, y, mask):
        """Validated targets for the loss."""
        c = self.config
        batch, time = mask.shape
        if c.loss == "cross_entropy":
            labels = np.asarray(y)
            want = (batch,) if c.mode == "seq2vec" else (batch, time)
            if labels.shape != want:
                raise ValueError(f"labels have shape {labels.shape}; shape {want} required")
            if not np.issubdtype(labels.dtype, np.integer):
                if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
                    raise ValueError("labels must be whole numbers (class indices)")
                labels = labels.astype(np.int64)
            valid = labels if c.mode == "seq2vec" else labels[mask == 1]
            if valid.size and (valid.min() < 0 or valid.max() >= c.n_outputs):
                raise ValueError(f"labels span {valid.min()}..{valid.max()}; allowed 0..{c.n_outputs - 1}")
            return labels
        want = (batch, c.n_outputs) if c.mode == "seq2vec" else (batch, time, c.n_outputs)
        return as_float_array("y", y, shape=want)

    # --------------------------------------------------------------- forward
    def software_product(self, name: str, inputs: np.ndarray) -> np.ndarray:
        """The exact product ``inputs @ params[name]``."""
        return inputs @ self.params[name]

    def forward(self, x, mask=None, product: Optional[Product] = None, keep: bool = False,
                layer: Optional[Layer] = None):
        """Outputs of the network, and the cache for :meth:`backward` when ``keep``.

        Parameters
        ----------
        x : array_like, shape (batch, time, n_inputs)
        mask : array_like, shape (batch, time), optional
        product : callable, optional
            ``product(name, inputs)`` for every matrix product; default exact.
        keep : bool
            Keep what the backward pass needs.
        layer : callable, optional
            ``layer(k, inputs, mask, keep)`` runs recurrent layer ``k`` over the whole
            sequence (a hardware backend's compiled kernel) and returns the
            caches of :func:`lstm.kernels.lstm_forward`, or None to go step by
            step through ``product``. Without it, standard LSTM layers with
            exact products run the Numba kernels.

        Returns
        -------
        outputs : ndarray
            (batch, time, n_outputs) for seq2seq, (batch, n_outputs) for seq2vec;
            probabilities for a softmax head.
        cache : ForwardCache or None
        """
        x, mask = self.check_inputs(x, mask)
        if layer is None and self.kernels and product is None and self.cell.name == "lstm":
            layer = self._software_layer
        product = product or self.software_product
        batch, time, _ = x.shape
        layer_in = np.ascontiguousarray(x.transpose(1, 0, 2))   # (T, B, F)
        inputs_all, caches_all, states_all = [], [], []
        for k, hidden in enumerate(self.config.hidden):
            whole = None if layer is None else layer(k, layer_in, mask, keep)
            if whole is not None:
                stacked, gates, c_prev, tanh_c, states = whole
                inputs_all.append(stacked)
                caches_all.append(_KernelCache(gates, c_prev, tanh_c))
                states_all.append(states)
                layer_in = states
                continue
            extra = {name.split(".", 1)[1]: p for name, p in self.params.items()
                     if name.startswith(f"layer{k}.") and name != f"layer{k}.W"}
            n_in = layer_in.shape[2]
            h = np.zeros((batch, hidden))
            c = np.zeros((batch, hidden)) if self.cell.has_cell_state else None
            stacked = np.empty((time, batch, n_in + hidden + 1))
            stacked[:, :, n_in + hidden] = 1.0
            states = np.empty((time, batch, hidden))
            caches = []
            for t in range(time):
                stacked[t, :, :n_in] = layer_in[t]
                stacked[t, :, n_in:n_in + hidden] = h
                z = product(f"layer{k}.W", stacked[t])
                h_new, c_new, cache = self.cell.forward(z, h, c, extra)
                m = mask[:, t:t + 1]
                h = m * h_new + (1.0 - m) * h
                if c is not None:
                    c = m * c_new + (1.0 - m) * c
                states[t] = h
                if keep:
                    caches.append(cache)
            inputs_all.append(stacked)
            caches_all.append(caches)
            states_all.append(states)
            layer_in = states
        top = states_all[-1].transpose(1, 0, 2)                  # (B, T, H)
        if self.config.mode == "seq2vec":
            top = top[:, -1, :]                                  # carried over padding: last valid step
        head_inputs = np.concatenate([top, np.ones(top.shape[:-1] + (1,))], axis=-1)
        flat = head_inputs.reshape(-1, head_inputs.shape[-1])
        outputs = self._activate(product("head.W", flat)).reshape(top.shape[:-1] + (self.config.n_outputs,))
        cache = ForwardCache(inputs_all, caches_all, states_all, mask, head_inputs, outputs) if keep else None
        return outputs, cache

    def _software_layer(self, k: int, inputs: np.ndarray, mask: np.ndarray, keep: bool) -> tuple:
        return lstm_forward(inputs, mask, self.params[f"layer{k}.W"], keep)

    def _activate(self, a):
        if self.config.head == "sigmoid":
            return sigmoid(a)
        if self.config.head == "softmax":
            e = np.exp(a - a.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        return a

    def predict(self, x, mask=None, product: Optional[Product] = None, layer: Optional[Layer] = None) -> np.ndarray:
        """Outputs only (see :meth:`forward`)."""
        return self.forward(x, mask, product, layer=layer)[0]

    # ------------------------------------------------------------------ loss
    def loss(self, outputs, y, mask):
        """Loss value and its gradient with respect to the head's pre-activation.

        MSE with ``sigmoid`` or ``identity`` head; softmax cross-entropy with
        the ``softmax`` head. Padded steps count for nothing.
        """
        c = self.config
        if c.mode == "seq2vec":
            weight = np.ones(outputs.shape[0])
        else:
            weight = mask
        if c.loss == "cross_entropy":
            labels = y
            onehot = np.zeros_like(outputs)
            if c.mode == "seq2vec":
                onehot[np.arange(len(labels)), labels] = 1.0
            else:
                b, t = np.nonzero(mask)
                onehot[b, t, labels[b, t]] = 1.0
            count = weight.sum() if c.reduction == "mean" else 1.0
            log_p = np.log(np.clip(outputs, 1e-300, None))
            value = -np.sum(weight[..., None] * onehot * log_p) / count
            grad = weight[..., None] * (outputs - onehot) / count
            return float(value), grad
        diff = (outputs - y) * weight[..., None]
        count = weight.sum() * c.n_outputs if c.reduction == "mean" else 1.0
        if c.reduction == "sum":
            value, scale = 0.5 * np.sum(diff ** 2), 1.0   # Li et al.: 1/2 sum of squares
        else:
            value, scale = np.sum(diff ** 2) / count, 2.0 / count
        grad = scale * diff
        if c.head == "sigmoid":
            grad = grad * outputs * (1.0 - outputs)
        return float(value), grad

    # -------------------------------------------------------------- backward
    def backward(self, cache: ForwardCache, d_head: np.ndarray,
                 weights: Optional[Dict[str, np.ndarray]] = None,
                 factors: Optional[Dict[str, tuple]] = None) -> Dict[str, np.ndarray]:
        """Backpropagation through time.

        Parameters
        ----------
        cache : ForwardCache
            From ``forward(..., keep=True)``.
        d_head : ndarray
            Gradient of the loss with respect to the head's pre-activation.
        weights : dict, optional
            Matrices to propagate errors through; default the parameters. In
            situ, the weights read back from the arrays (Li et al.).
        factors : dict, optional
            When given, filled with the rank-one factors of each weight matrix's gradient: ``factors[name] =
            (inputs, errors)``, shapes (N, rows) and (N, outputs), one row per time step and sequence (the
            head of a seq2vec network: one per sequence), such that the gradient is ``inputs.T @ errors``
            times the matrix's structural mask (what stochastic pulse trains send to an array's rows and
            columns).

        Returns
        -------
        dict
            Gradient of every parameter, same keys and shapes.
        """
        weights = self.params if weights is None else {**self.params, **weights}
        grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        head_in = cache.head_inputs.reshape(-1, cache.head_inputs.shape[-1])
        d_flat = d_head.reshape(-1, d_head.shape[-1])
        grads["head.W"] += head_in.T @ d_flat
        if factors is not None:
            factors["head.W"] = (head_in, d_flat)
        d_top = (d_flat @ weights["head.W"][:-1].T).reshape(cache.head_inputs.shape[:-1] + (-1,))
        mask = cache.mask
        time = mask.shape[1]
        hidden_sizes = self.config.hidden
        top_hidden = hidden_sizes[-1]
        d_states = np.zeros((time, mask.shape[0], top_hidden))
        if self.config.mode == "seq2vec":
            d_states[-1] = d_top
        else:
            d_states[:] = d_top.transpose(1, 0, 2)
        for k in reversed(range(len(hidden_sizes))):
            stacked, w = cache.inputs[k], weights[f"layer{k}.W"]
            dz_all = np.empty((time, mask.shape[0], w.shape[1]) if factors is not None else (0, 0, 0))
            d_states = self._layer_backward(k, cache, w, d_states, grads, dz_all)
            if factors is not None:
                factors[f"layer{k}.W"] = (stacked.reshape(-1, stacked.shape[2]), dz_all.reshape(-1, w.shape[1]))
        for name, mask_w in self.masks.items():
            grads[name] *= mask_w
        return grads

    def _layer_backward(self, k: int, cache: ForwardCache, w: np.ndarray, d_states: np.ndarray,
                        grads: Dict[str, np.ndarray], dz_all: np.ndarray) -> np.ndarray:
        """BPTT of recurrent layer ``k``: its gradients added to ``grads``, each step's gradient of the gate
        pre-activations into ``dz_all`` (T, B, outputs) unless it is empty; returns the gradient with respect
        to the layer's inputs (T, B, F)."""
        hidden = self.config.hidden[k]
        mask = cache.mask
        time = mask.shape[1]
        stacked = cache.inputs[k]
        n_in = stacked.shape[2] - hidden - 1
        if isinstance(cache.cell_caches[k], _KernelCache):
            kc = cache.cell_caches[k]
            dw, d_below = lstm_backward(stacked, kc.gates, kc.c_prev, kc.tanh_c, mask,
                                        np.ascontiguousarray(w), np.ascontiguousarray(d_states), dz_all)
            grads[f"layer{k}.W"] += dw
            return d_below
        extra = {name.split(".", 1)[1]: p for name, p in self.params.items()
                 if name.startswith(f"layer{k}.") and name != f"layer{k}.W"}
        extra_grads = {name.split(".", 1)[1]: g for name, g in grads.items()
                       if name.startswith(f"layer{k}.") and name != f"layer{k}.W"}
        dh = np.zeros((mask.shape[0], hidden))
        dc = np.zeros((mask.shape[0], hidden)) if self.cell.has_cell_state else None
        d_below = np.zeros((time, mask.shape[0], n_in))
        gw = grads[f"layer{k}.W"]
        for t in reversed(range(time)):
            m = mask[:, t:t + 1]
            dh = dh + d_states[t]
            dz, dh_extra, dc_prev = self.cell.backward(m * dh, None if dc is None else m * dc,
                                                       cache.cell_caches[k][t], extra, extra_grads)
            gw += stacked[t].T @ dz
            if dz_all.shape[0]:
                dz_all[t] = dz
            d_stacked = dz @ w.T
            d_below[t] = d_stacked[:, :n_in]
            dh = (1.0 - m) * dh + d_stacked[:, n_in:n_in + hidden]
            if dh_extra is not None:
                dh = dh + dh_extra
            if dc is not None:
                dc = (1.0 - m) * dc + dc_prev
        return d_below

    def gradients(self, x, y, mask=None, product: Optional[Product] = None,
                  weights: Optional[Dict[str, np.ndarray]] = None, layer: Optional[Layer] = None,
                  factors: Optional[Dict[str, tuple]] = None):
        """Loss and gradients of one batch: forward, loss, backward (see :meth:`forward`; ``factors`` as in
        :meth:`backward`)."""
        x, mask = self.check_inputs(x, mask)
        y = self.check_targets(y, mask)
        outputs, cache = self.forward(x, mask, product, keep=True, layer=layer)
        value, d_head = self.loss(outputs, y, mask)
        return value, self.backward(cache, d_head, weights, factors)

    # ----------------------------------------------------------- parameters
    def matrix_names(self) -> List[str]:
        """Names of the parameters used as matrices in products (they go onto arrays)."""
        return [f"layer{k}.W" for k in range(len(self.config.hidden))] + ["head.W"]

    def get_params(self) -> Dict[str, np.ndarray]:
        """A copy of every parameter."""
        return {k: v.copy() for k, v in self.params.items()}

    def set_params(self, params: Dict[str, np.ndarray]) -> None:
        """Replace parameters (same names and shapes); masked entries must stay zero."""
        for name, value in params.items():
            if name not in self.params:
                raise ValueError(f"parameter {name!r} is not in this network; it has {sorted(self.params)}")
            value = as_float_array(name, value, shape=self.params[name].shape)
            if name in self.masks and np.any(value[self.masks[name] == 0] != 0):
                raise ValueError(f"{name}: entries outside the structural mask must be zero")
            self.params[name] = value.copy()


def count_parameters(network: Network) -> int:
    """Trainable parameters (structural zeros excluded)."""
    total = 0
    for name, p in network.params.items():
        total += int(network.masks[name].sum()) if name in network.masks else p.size
    return total


def make_network(n_inputs: int, hidden: Sequence[int], n_outputs: int, seed=0, kernels: bool = True,
                 **options) -> Network:
    """Shorthand: ``Network(NetworkConfig(n_inputs, tuple(hidden), n_outputs, **options), seed, kernels)``."""
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    return Network(NetworkConfig(n_inputs, hidden, n_outputs, **options), seed, kernels)
