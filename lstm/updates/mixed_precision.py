"""``mixed_precision`` (Nandakumar et al., Front. Neurosci. 14, 406 (2020)): a digital accumulator per weight.

Each mini-batch's change adds to a float matrix ``chi`` (weight units). Every ``transfer_every`` updates,
each weight whose ``|chi|`` holds ``threshold_steps`` of the matrix's nominal pulse step ``epsilon``
(:meth:`mapping.MappedMatrix.pulse_step`) gets ``n = trunc(chi / epsilon)`` whole pulses (at least one,
at most ``max_pulses``), and ``chi`` loses ``n epsilon``: what the devices really did is not fed back (the
forward pass reads it). Changes below a step are kept instead of being rounded away, which is what helps
devices with coarse or noisy steps.

On a device written by gate voltages (Li et al.'s two-pulse scheme, ``li2019``) there are no whole pulses:
a weight whose ``|chi|`` holds ``threshold_steps`` of its write resolution ``2 sigma / k`` (``sigma`` the
device's programming noise, S; ``k`` the scale, S per unit weight; the standard deviation of what one write
of a pair does to its weight, each device's noise drawn again in place of the one it had) is written its
whole ``chi`` by one RESET/SET, and ``chi`` returns to 0; the other devices are not SET again. Li et al.'s
own method SETs every device at every update, which draws the programming noise of all of them again each
mini-batch: a random walk of every weight that a GRU's gates, on a small task, do not survive. Measured
on vowels (``docs/physics.md``), ``threshold_steps = 0.5`` is the best setting on ``li2019``.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from lstm.updates.base import UpdateAlgorithm


def pulse_counts(held: np.ndarray, threshold: float, max_pulses: Optional[int]) -> np.ndarray:
    """Whole pulses for what a buffer ``held`` holds, in pulse steps: ``trunc(held)`` (at least one) where
    ``|held| >= threshold``, else 0, cut at ``+-max_pulses``; float array of whole numbers."""
    size = np.abs(held)
    n = np.where(size >= threshold, np.sign(held) * np.maximum(np.floor(size), 1.0), 0.0)
    if max_pulses is not None:
        n = np.clip(n, -max_pulses, max_pulses)
    return n


class MixedPrecision(UpdateAlgorithm):
    """A digital accumulator per weight, transferred in whole pulses (see the module text)."""

    settings_used = ("threshold_steps", "max_pulses", "transfer_every")

    def __init__(self, spec, hardware, rng):
        super().__init__(spec, hardware, rng)
        device = hardware.chip.device
        self.gate_voltage_writes = device.two_pulse is not None
        if self.gate_voltage_writes and spec.max_pulses is not None:
            raise ValueError(f"update.max_pulses={spec.max_pulses!r} is not allowed with device {device.name!r}: "
                             "it is written by gate voltages (Li et al.'s two-pulse scheme), not by counted "
                             "pulses; leave it out")
        self.accumulated = {name: np.zeros((mm.n_logical, mm.n_out)) for name, mm in hardware.matrices.items()}
        self.updates = 0
        self.transfers = 0

    def apply(self, delta: Dict[str, np.ndarray]) -> None:
        for name, d in self.logical_changes(delta).items():
            self.accumulated[name] += d
        self.updates += 1
        if self.updates % self.spec.transfer_every:
            return
        for name, chi in self.accumulated.items():
            mm = self.hardware.matrices[name]
            if self.gate_voltage_writes:
                # (a device without programming noise: every non-zero change is worth a write)
                written = (np.abs(chi) >= self.spec.threshold_steps * mm.write_resolution()) & (chi != 0.0)
                if written.any():
                    mm.apply_logical_update(chi, written=written)
                    chi[written] = 0.0
                continue
            step = mm.pulse_step()
            n = pulse_counts(chi / step, self.spec.threshold_steps, self.spec.max_pulses)
            if n.any():
                mm.apply_pulse_counts(n)
                chi -= n * step
        self.transfers += 1

    def state(self) -> Dict[str, np.ndarray]:
        out = {f"accumulated.{name}": chi.copy() for name, chi in self.accumulated.items()}
        out["counts"] = np.array([self.updates, self.transfers], dtype=np.int64)
        return out

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        expected = {f"accumulated.{name}" for name in self.accumulated} | {"counts"}
        if set(state) != expected:
            raise ValueError(f"{source}: update state {sorted(state)}; mixed precision keeps {sorted(expected)}")
        for name, chi in self.accumulated.items():
            given = np.asarray(state[f"accumulated.{name}"], dtype=np.float64)
            if given.shape != chi.shape or not np.isfinite(given).all():
                raise ValueError(f"{source}: accumulated.{name} of shape {given.shape} (finite: "
                                 f"{bool(np.isfinite(given).all())}); {chi.shape} of finite numbers expected")
            chi[...] = given
        counts = np.asarray(state["counts"], dtype=np.int64)
        if counts.shape != (2,):
            raise ValueError(f"{source}: counts of shape {counts.shape}; (2,) expected")
        self.updates, self.transfers = (int(v) for v in counts)

    def counts(self) -> Dict[str, int]:
        return {"updates": self.updates, "transfers": self.transfers}
