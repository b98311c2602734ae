"""``tiki_taka_v2`` (Gokmen, Front. Artif. Intell. 4, 699148 (2021)): a fast array, a digital buffer, transfers.

Every weight matrix ``C`` (the one the network reads) gets a fast array ``A`` of its shape (its logical
rows, bias rows included, as plain inputs) on the same chip, started at weights zero
(:meth:`mapping.MappedMatrix.initialize`). Each mini-batch's change goes onto ``A`` as pulses,
``fast_lr`` times the change (:meth:`mapping.MappedMatrix.apply_logical_update`; with
``update.pulse_trains = "stochastic"`` its rank-one terms as coincidences of pulse streams,
:mod:`lstm.updates.stochastic`). Every
``transfer_every`` updates ``rows_per_transfer`` rows ``k`` of each ``A`` (default all) are read through
the converters (one-hot inputs: real reads, with their noise, ADC and energy) and ``transfer_lr`` times a
row's read, in ``C``'s pulse steps, adds to row ``k`` of a digital buffer ``H``; where ``|H|`` reaches
``threshold_steps``, ``C`` gets ``trunc(H)`` whole pulses (at least one, at most ``max_pulses``) and ``H``
loses them. Rows are taken in turn. ``C`` thus integrates ``A``, a low-pass filter of the gradient that
averages the fast devices' noise and asymmetry out; what stays is the fast devices' bias at their symmetry
point, which the chopped variants remove (:mod:`lstm.updates.chopped`).
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from lstm.updates.base import UpdateAlgorithm
from lstm.updates.mixed_precision import pulse_counts

FAST_SUFFIX = "~fast"
"""A fast array's matrix name: its weight matrix's name and this."""


class TikiTakaV2(UpdateAlgorithm):
    """Fast arrays, read row by row into a digital buffer that transfers to the weights (see the module text)."""

    settings_used = ("threshold_steps", "max_pulses", "transfer_every", "rows_per_transfer", "fast_lr", "transfer_lr")
    needs_counted_pulses = True
    supports_pulse_trains = True

    def __init__(self, spec, hardware, rng):
        super().__init__(spec, hardware, rng)
        self.fast = {}
        for name, mm in hardware.matrices.items():
            fast = hardware.place_auxiliary(name + FAST_SUFFIX, mm.n_logical, mm.n_out)
            self.fast[name] = fast
        shapes = {name: (mm.n_logical, mm.n_out) for name, mm in hardware.matrices.items()}
        self.buffer = {name: np.zeros(shape) for name, shape in shapes.items()}
        self.chopper = {name: np.ones(shape[0]) for name, shape in shapes.items()}
        self.next_row = {name: 0 for name in shapes}
        self.updates = 0
        self.transfers = 0

    # ---------------------------------------------------------------- the steps
    def apply(self, delta: Dict[str, np.ndarray]) -> None:
        if self.pulse_trains is not None:  # (each row's inputs through its chopper)
            lr, terms = self.rank_one_terms(delta)
            if lr > 0.0:
                for name, (inputs, errors) in terms.items():
                    self.pulse_trains.write(self.fast[name], inputs * self.chopper[name][None, :], errors,
                                            self.spec.fast_lr * lr, self.structural_masks[name])
        else:
            for name, d in self.logical_changes(delta).items():
                self.fast[name].apply_logical_update(self.spec.fast_lr * self.chopper[name][:, None] * d)
        self.updates += 1
        if self.updates % self.spec.transfer_every == 0:
            self.transfer()

    def transfer(self) -> None:
        """Read ``rows_per_transfer`` rows of each fast array, the next ones in turn, in one read of as many
        one-hot inputs (each row's read is a read of its own, with its own noise), take them into the buffer
        row by row, and send what it holds in whole pulse steps to the weights."""
        for name, mm in self.hardware.matrices.items():
            fast = self.fast[name]
            wanted = fast.n_in if self.spec.rows_per_transfer is None else self.spec.rows_per_transfer
            rows = (self.next_row[name] + np.arange(min(wanted, fast.n_in))) % fast.n_in
            one_hot = np.zeros((len(rows), fast.n_in))
            one_hot[np.arange(len(rows)), rows] = 1.0
            reads = fast.matvec(one_hot)
            counts = np.zeros((mm.n_logical, mm.n_out))
            step = mm.pulse_step()
            for k, read in zip(rows, reads):
                held = self.buffer[name][k] + self.spec.transfer_lr * self.signal(name, k, read) / step
                counts[k] = pulse_counts(held, self.spec.threshold_steps, self.spec.max_pulses)
                self.buffer[name][k] = held - counts[k]
                self.after_read(name, k)
            if counts.any():
                mm.apply_pulse_counts(counts)
            self.next_row[name] = int((rows[-1] + 1) % fast.n_in)
        self.transfers += 1

    def signal(self, name: str, k: int, read: np.ndarray) -> np.ndarray:
        """What a read of row ``k`` of a fast array adds to the buffer (weight units): the read, through the
        row's chopper sign (always +1 here)."""
        return self.chopper[name][k] * read

    def after_read(self, name: str, k: int) -> None:
        """What follows a read of row ``k`` (the chopped variants flip its chopper); nothing here."""

    # ---------------------------------------------------------------- state
    def state(self) -> Dict[str, np.ndarray]:
        out = {}
        for name in self.buffer:
            out[f"buffer.{name}"] = self.buffer[name].copy()
            out[f"chopper.{name}"] = self.chopper[name].copy()
        out["next_row"] = np.array([self.next_row[name] for name in self.buffer], dtype=np.int64)
        out["counts"] = np.array([self.updates, self.transfers], dtype=np.int64)
        return out

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        expected = set(TikiTakaV2.state(self))  # (a subclass takes its own keys out first)
        if set(state) != expected:
            raise ValueError(f"{source}: update state {sorted(state)}; {self.spec.algorithm} keeps {sorted(expected)}")
        for kind, arrays in (("buffer", self.buffer), ("chopper", self.chopper)):
            for name, mine in arrays.items():
                given = np.asarray(state[f"{kind}.{name}"], dtype=np.float64)
                if given.shape != mine.shape or not np.isfinite(given).all():
                    raise ValueError(f"{source}: {kind}.{name} of shape {given.shape}; {mine.shape} of finite "
                                     "numbers expected")
                mine[...] = given
        rows = np.asarray(state["next_row"], dtype=np.int64)
        counts = np.asarray(state["counts"], dtype=np.int64)
        if rows.shape != (len(self.buffer),) or counts.shape != (2,):
            raise ValueError(f"{source}: next_row of shape {rows.shape} and counts of shape {counts.shape}; "
                             f"({len(self.buffer)},) and (2,) expected")
        for name, row in zip(self.buffer, rows):
            if not 0 <= row < self.fast[name].n_in:
                raise ValueError(f"{source}: next_row of {name} is {row}; 0..{self.fast[name].n_in - 1} expected")
            self.next_row[name] = int(row)
        self.updates, self.transfers = (int(v) for v in counts)

    def counts(self) -> Dict[str, int]:
        return {"updates": self.updates, "transfers": self.transfers, **self.pulse_train_counts()}
