"""PyTorch ``nn.LSTM`` weights in and out, through an ``.npz`` of its state_dict. No torch import.

PyTorch keeps, per layer ``k``: ``weight_ih_l{k}`` (4H, n_in), ``weight_hh_l{k}``
(4H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (4H), gates in the order i, f, g, o,
the order of this package. Here layer ``k``'s matrix is rows ``[x; h; 1]``:
``W = [weight_ih.T; weight_hh.T; bias_ih + bias_hh]``. A dense head may come as
``head.weight`` (n_out, H) and ``head.bias`` (n_out,), as an ``nn.Linear`` would
store them. Write one from torch with::

    np.savez("lstm.npz", **{k: v.numpy() for k, v in lstm.state_dict().items()},
             **{"head." + k: v.numpy() for k, v in linear.state_dict().items()})
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Union

import numpy as np

from lstm.network import Network, NetworkConfig

StateDict = Dict[str, np.ndarray]


def _load(source: Union[str, os.PathLike, StateDict]) -> StateDict:
    if isinstance(source, dict):
        return {k: np.asarray(v, dtype=np.float64) for k, v in source.items()}
    with np.load(source) as data:
        # a saved file may carry other entries (inputs, a version string): keep the numeric ones
        return {k: data[k].astype(np.float64) for k in data.files if np.issubdtype(data[k].dtype, np.number)}


def _layers(state: StateDict) -> int:
    k = 0
    while f"weight_ih_l{k}" in state:
        k += 1
    if k == 0:
        raise ValueError("no weight_ih_l0 in the state_dict: not an nn.LSTM")
    return k


def config_from_torch(source, head: str = "identity", **options) -> NetworkConfig:
    """A :class:`NetworkConfig` whose shapes match a saved ``nn.LSTM`` (and head)."""
    state = _load(source)
    layers = _layers(state)
    hidden = tuple(state[f"weight_hh_l{k}"].shape[1] for k in range(layers))
    n_inputs = state["weight_ih_l0"].shape[1]
    n_outputs = state["head.weight"].shape[0] if "head.weight" in state else hidden[-1]
    return NetworkConfig(n_inputs, hidden, n_outputs, cell="lstm", head=head, **options)


def import_torch_lstm(network: Network, source) -> None:
    """Load ``nn.LSTM`` weights (and a ``head.*`` Linear if present) into ``network``.

    Raises
    ------
    ValueError
        If the network is not a plain LSTM or a shape differs.
    """
    if network.config.cell != "lstm":
        raise ValueError(f"network cell={network.config.cell!r}; nn.LSTM weights need cell='lstm'")
    state = _load(source)
    layers = _layers(state)
    if layers != len(network.config.hidden):
        raise ValueError(f"state_dict has {layers} layers; the network has {len(network.config.hidden)}")
    if "weight_ih_l0_reverse" in state:
        raise ValueError("bidirectional nn.LSTM is not supported")
    new = {}
    for k in range(layers):
        w_ih, w_hh = state[f"weight_ih_l{k}"], state[f"weight_hh_l{k}"]
        bias = state.get(f"bias_ih_l{k}", 0.0) + state.get(f"bias_hh_l{k}", 0.0)
        bias = np.broadcast_to(bias, (w_ih.shape[0],))
        new[f"layer{k}.W"] = np.vstack([w_ih.T, w_hh.T, bias[None, :]])
    if "head.weight" in state:
        head_bias = state.get("head.bias", np.zeros(state["head.weight"].shape[0]))
        new["head.W"] = np.vstack([state["head.weight"].T, head_bias[None, :]])
    for name, value in new.items():
        if value.shape != network.params[name].shape:
            raise ValueError(f"{name}: the state_dict gives shape {value.shape}; the network has "
                             f"{network.params[name].shape}")
    network.set_params(new)


def export_torch_lstm(network: Network, path: Optional[Union[str, os.PathLike]] = None) -> StateDict:
    """The network's LSTM (and head) as an ``nn.LSTM`` state_dict; written to ``path`` if given.

    The summed bias goes into ``bias_ih_l{k}``; ``bias_hh_l{k}`` is zero.
    """
    if network.config.cell != "lstm":
        raise ValueError(f"network cell={network.config.cell!r}; only cell='lstm' maps onto nn.LSTM")
    state = {}
    n_in = network.config.n_inputs
    for k, hidden in enumerate(network.config.hidden):
        w = network.params[f"layer{k}.W"]
        state[f"weight_ih_l{k}"] = w[:n_in].T.copy()
        state[f"weight_hh_l{k}"] = w[n_in:n_in + hidden].T.copy()
        state[f"bias_ih_l{k}"] = w[-1].copy()
        state[f"bias_hh_l{k}"] = np.zeros(w.shape[1])
        n_in = hidden
    state["head.weight"] = network.params["head.W"][:-1].T.copy()
    state["head.bias"] = network.params["head.W"][-1].copy()
    if path is not None:
        np.savez(path, **state)
    return state
