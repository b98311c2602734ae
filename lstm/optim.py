"""Optimizers: turn gradients into parameter changes. SGD with momentum, RMSprop, Adam.

An optimizer returns the change ``delta`` to add to each parameter; who adds it
decides where the weights live (in software memory, or in the devices, where
the change becomes programming pulses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from crossbar.validation import as_float_array, check_choice, check_range

OPTIMIZERS = ("sgd", "rmsprop", "adam")


@dataclass(frozen=True)
class OptimizerConfig:
    """Which optimizer, with its settings. Validated when built.

    Parameters
    ----------
    name : {"sgd", "rmsprop", "adam"}
    learning_rate : float
    momentum : float
        SGD momentum in [0, 1).
    rho : float
        RMSprop's decay of the squared-gradient average, in [0, 1).
    beta1, beta2 : float
        Adam's decays, in [0, 1).
    eps : float
        Added to denominators (> 0).
    clip_norm : float or None
        Rescale the gradients so that their global L2 norm is at most this.
    """

    name: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.0
    rho: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    clip_norm: Optional[float] = None

    def __post_init__(self):
        check_choice("optimizer.name", self.name, OPTIMIZERS)
        check_range("optimizer.learning_rate", self.learning_rate, 0.0, low_open=True)
        check_range("optimizer.momentum", self.momentum, 0.0, 1.0, high_open=True)
        check_range("optimizer.rho", self.rho, 0.0, 1.0, high_open=True)
        check_range("optimizer.beta1", self.beta1, 0.0, 1.0, high_open=True)
        check_range("optimizer.beta2", self.beta2, 0.0, 1.0, high_open=True)
        check_range("optimizer.eps", self.eps, 0.0, low_open=True)
        if self.clip_norm is not None:
            check_range("optimizer.clip_norm", self.clip_norm, 0.0, low_open=True)


def clip_by_norm(grads: Dict[str, np.ndarray], max_norm: float) -> float:
    """Scale ``grads`` in place so their global L2 norm is at most ``max_norm``; return the norm before."""
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return norm


class Optimizer:
    """State of one optimizer over a set of named parameters."""

    def __init__(self, config: OptimizerConfig):
        if not isinstance(config, OptimizerConfig):
            raise ValueError(f"config={config!r} is not allowed; an lstm.OptimizerConfig is required")
        self.config = config
        self.steps = 0
        self.slots: Dict[str, np.ndarray] = {}

    def step(self, grads: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The change of every parameter for these gradients (grads are not modified)."""
        c = self.config
        grads = {k: v.copy() for k, v in grads.items()}
        for name, g in grads.items():
            if not np.all(np.isfinite(g)):
                raise FloatingPointError(f"gradient of {name} is not finite: training diverged")
        if c.clip_norm is not None:
            clip_by_norm(grads, c.clip_norm)
        self.steps += 1
        delta = {}
        for name, g in grads.items():
            if c.name == "sgd":
                if c.momentum > 0:
                    v = self.slots.setdefault(f"{name}.velocity", np.zeros_like(g))
                    v *= c.momentum
                    v -= c.learning_rate * g
                    delta[name] = v.copy()
                else:
                    delta[name] = -c.learning_rate * g
            elif c.name == "rmsprop":
                s = self.slots.setdefault(f"{name}.square", np.zeros_like(g))
                s *= c.rho
                s += (1 - c.rho) * g * g
                delta[name] = -c.learning_rate * g / (np.sqrt(s) + c.eps)
            else:
                m = self.slots.setdefault(f"{name}.m", np.zeros_like(g))
                v = self.slots.setdefault(f"{name}.v", np.zeros_like(g))
                m *= c.beta1
                m += (1 - c.beta1) * g
                v *= c.beta2
                v += (1 - c.beta2) * g * g
                m_hat = m / (1 - c.beta1 ** self.steps)
                v_hat = v / (1 - c.beta2 ** self.steps)
                delta[name] = -c.learning_rate * m_hat / (np.sqrt(v_hat) + c.eps)
        return delta

    def state(self) -> Dict[str, np.ndarray]:
        """Everything needed to resume, as arrays."""
        out = {f"slot:{k}": v.copy() for k, v in self.slots.items()}
        out["steps"] = np.array(self.steps)
        return out

    SLOT_KINDS = {"sgd": ("velocity",), "rmsprop": ("square",), "adam": ("m", "v")}
    """The slots each optimizer keeps per parameter (``<parameter>.<slot>``)."""

    def load_state(self, state: Dict[str, np.ndarray], shapes: Optional[Dict[str, tuple]] = None,
                   source: str = "optimizer state") -> None:
        """Take a :meth:`state`; with ``shapes`` (parameter name -> shape) every slot is checked against
        its parameter. ``ValueError`` naming ``source`` and the slot that does not fit; nothing changes then."""
        if "steps" not in state:
            raise ValueError(f"{source}: no optimizer step count in it")
        steps = np.asarray(state["steps"])
        if steps.shape != () or not np.issubdtype(steps.dtype, np.integer) or int(steps) < 0:
            raise ValueError(f"{source}: optimizer steps={steps!r}; a count (integer >= 0) is required")
        slots = {}
        kinds = self.SLOT_KINDS[self.config.name]
        for key, value in state.items():
            if not key.startswith("slot:"):
                continue
            name, _, kind = key[5:].rpartition(".")
            if kind not in kinds:
                raise ValueError(f"{source}: slot {key[5:]!r} is not one of {self.config.name}'s "
                                 f"({', '.join(kinds)})")
            if shapes is not None:
                if name not in shapes:
                    raise ValueError(f"{source}: slot {key[5:]!r} belongs to no parameter of this network")
                value = as_float_array(f"{source}: slot {key[5:]}", value, shape=tuple(shapes[name]))
            slots[key[5:]] = np.array(value, dtype=np.float64)
        self.steps = int(steps)
        self.slots = slots
