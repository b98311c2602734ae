"""The noise seeds of a read plan's calls: one 64-bit word per read and call, from each read's array's
generator, in read order (so a plan of many reads and the same reads planned one by one draw the same
words)."""

from __future__ import annotations

import numpy as np

from crossbar.numerics.random_streams import draw_words, word_sources
from crossbar.read import state as _state


class SeedDraws:
    """Where each read of a plan takes its seeds from.

    Parameters
    ----------
    arrays : sequence of arrays
        The plan's arrays, each once, in order of first use.
    reads : sequence of crossbar.Read
        The plan's reads, in its (band-major) order.
    """

    def __init__(self, arrays, reads):
        groups = {id(a): [] for a in arrays}
        for k, r in enumerate(reads):
            groups[id(r.array)].append(k)
        self.groups = [(a, groups[id(a)]) for a in arrays]
        self.counts = np.array([len(mine) for _, mine in self.groups], dtype=np.int64)
        self.n_reads = len(reads)
        self.gathers = {}  # calls -> where each array's block of words goes in (calls, n_reads)
        self.bit_generators, self.sources, self.generators_seen = [], None, None

    def take_generators(self) -> None:
        """Take the arrays' generators as they are now (after a refresh): the words of all of them in one
        compiled call (kept alive here: the call reads their states)."""
        self.bit_generators = [a.rng.bit_generator for a, _ in self.groups]
        self.sources = word_sources(self.bit_generators)
        self.generators_seen = _state.changes()

    def draw(self, calls: int, noise: bool) -> np.ndarray:
        """Noise seeds of ``calls`` consecutive reads, shape (calls, n_reads), uint64 (zeros without
        ``noise``; see :meth:`crossbar.ReadPlan.draw_seeds`)."""
        n = self.n_reads
        if not noise:
            return np.zeros((calls, n), dtype=np.uint64)
        if len(self.groups) == 1:
            return self.groups[0][0].rng.bit_generator.random_raw(calls * n).reshape(calls, n)
        # each array's words in one block (call after call), then one gather
        gather = self.gathers.get(calls)
        if gather is None:
            gather = np.empty((calls, n), dtype=np.int64)
            start = 0
            for _, mine in self.groups:
                gather[:, mine] = start + np.arange(calls * len(mine)).reshape(calls, len(mine))
                start += calls * len(mine)
            gather = self.gathers.setdefault(calls, gather)
        if self.sources is not None and self.same_generators():
            words = np.empty(calls * n, dtype=np.uint64)
            draw_words(*self.sources, calls * self.counts, words)
        else:  # a generator other than PCG64, or one replaced since the plan took them
            words = np.concatenate([a.rng.bit_generator.random_raw(calls * len(mine)) for a, mine in self.groups])
        return words[gather]

    def same_generators(self) -> bool:
        """Whether the arrays still hold the generators taken (asked of each only after a change)."""
        changes = _state.changes()
        if changes == self.generators_seen:
            return True
        same = all(a.rng.bit_generator is g for (a, _), g in zip(self.groups, self.bit_generators))
        if same:
            self.generators_seen = changes
        return same
