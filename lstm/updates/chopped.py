"""``chopped_tiki_taka_v2`` and ``agad`` (Rasch, Gokmen et al., Nat. Commun. 15, 1155 (2024)): Tiki-Taka v2
with sign choppers, and with a reference estimated on the fly.

A fast device at rest drifts to its symmetry point, which differs from device to device; plain Tiki-Taka
reads that offset as if it were gradient and transfers it. A chopper ``c_k = +-1`` per row of the fast
array multiplies the change written onto the row and the row's reads: the gradient's part of a read keeps
its sign through ``c_k``, the offset's flips with every chopper flip and averages out of the buffer.

- ``chopped_tiki_taka_v2``: after each read of row ``k``, ``c_k`` flips with probability
  ``chop_probability``.
- ``agad``: ``c_k`` flips regularly, every ``round(1 / chop_probability)`` reads of the row; the buffer
  takes each read less the mean read of the row's previous chopper period (the reference, estimated on the
  fly, which carries the offset), through ``c_k``. Until a row has had one period, it transfers nothing.
"""

from __future__ import annotations

import json
from typing import Dict

import numpy as np

from lstm.updates.tiki_taka import TikiTakaV2


class ChoppedTikiTakaV2(TikiTakaV2):
    """Tiki-Taka v2 with a random sign chopper per fast-array row (see the module text)."""

    settings_used = TikiTakaV2.settings_used + ("chop_probability",)

    def after_read(self, name: str, k: int) -> None:
        if self.rng.random() < self.spec.chop_probability:
            self.chopper[name][k] = -self.chopper[name][k]

    def state(self) -> Dict[str, np.ndarray]:
        out = super().state()
        out["rng"] = np.array(json.dumps(self.rng.bit_generator.state))
        return out

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        state = dict(state)
        try:
            generator = json.loads(str(state.pop("rng")))
        except (KeyError, json.JSONDecodeError):
            raise ValueError(f"{source}: the choppers' random generator is missing or damaged") from None
        super().load_state(state, source)
        self.rng.bit_generator.state = generator


class Agad(TikiTakaV2):
    """Chopped Tiki-Taka with regular chopper periods and an on-the-fly reference (see the module text)."""

    settings_used = TikiTakaV2.settings_used + ("chop_probability",)

    def __init__(self, spec, hardware, rng):
        super().__init__(spec, hardware, rng)
        self.period = max(1, int(round(1.0 / spec.chop_probability)))
        shapes = {name: b.shape for name, b in self.buffer.items()}
        self.reference = {name: np.zeros(s) for name, s in shapes.items()}
        self.period_sum = {name: np.zeros(s) for name, s in shapes.items()}
        self.period_reads = {name: np.zeros(s[0]) for name, s in shapes.items()}
        self.has_reference = {name: np.zeros(s[0]) for name, s in shapes.items()}

    def signal(self, name: str, k: int, read: np.ndarray) -> np.ndarray:
        self.period_sum[name][k] += read
        self.period_reads[name][k] += 1
        if not self.has_reference[name][k]:
            return np.zeros_like(read)
        return self.chopper[name][k] * (read - self.reference[name][k])

    def after_read(self, name: str, k: int) -> None:
        if self.period_reads[name][k] >= self.period:
            self.reference[name][k] = self.period_sum[name][k] / self.period_reads[name][k]
            self.period_sum[name][k] = 0.0
            self.period_reads[name][k] = 0
            self.has_reference[name][k] = 1.0
            self.chopper[name][k] = -self.chopper[name][k]

    _KEPT = ("reference", "period_sum", "period_reads", "has_reference")

    def state(self) -> Dict[str, np.ndarray]:
        out = super().state()
        for kind in self._KEPT:
            for name, values in getattr(self, kind).items():
                out[f"{kind}.{name}"] = values.copy()
        return out

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        mine = {k: v for k, v in state.items() if k.split(".")[0] in self._KEPT}
        super().load_state({k: v for k, v in state.items() if k not in mine}, source)
        for kind in self._KEPT:
            for name, values in getattr(self, kind).items():
                key = f"{kind}.{name}"
                given = np.asarray(mine.get(key, np.full(1, np.nan)), dtype=np.float64)
                if given.shape != values.shape or not np.isfinite(given).all():
                    raise ValueError(f"{source}: {key} missing or of shape {given.shape}; {values.shape} of finite "
                                     "numbers expected")
                values[...] = given
