"""Where a matrix's pieces lie: :class:`Tile` (one piece on one array) and :class:`TilePlacement`, the
placement part of :class:`mapping.MappedMatrix` (cutting ``[W; b]`` into tiles that fit the chip's arrays,
their blocks in the layout, and a tile's conductance pairs within its region)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from mapping.layout import Block


@dataclass(frozen=True)
class Tile:
    """One piece of a matrix on one array.

    ``inputs`` and ``outputs`` are half-open ranges of the logical matrix
    (rows ``[x; bias]``, columns outputs); ``row0``, ``col0`` the 0-based corner.
    """

    array: int
    row0: int
    col0: int
    inputs: Tuple[int, int]
    outputs: Tuple[int, int]

    @property
    def n_inputs(self) -> int:
        return self.inputs[1] - self.inputs[0]

    @property
    def n_outputs(self) -> int:
        return self.outputs[1] - self.outputs[0]



class TilePlacement:
    """Placement of a matrix's differential pairs on its chip, for :class:`mapping.MappedMatrix`.

    Uses the matrix's ``chip``, ``name``, ``encoding`` (row or column pairs), ``n_in``, ``n_out`` and
    ``n_logical`` (weight rows and bias rows).
    """

    @property
    def _row_pairs(self) -> bool:
        return self.encoding.scheme == "row_pairs"

    def _physical(self, n_inputs: int, n_outputs: int) -> Tuple[int, int]:
        return (2 * n_inputs, n_outputs) if self._row_pairs else (n_inputs, 2 * n_outputs)

    def _place(self, corner, column_groups) -> List[Tile]:
        chip = self.chip
        per_rows = chip.array_rows // 2 if self._row_pairs else chip.array_rows
        per_cols = chip.array_cols if self._row_pairs else chip.array_cols // 2
        row_cuts = list(range(0, self.n_logical, per_rows)) + [self.n_logical]
        col_cuts = list(range(0, self.n_out, per_cols)) + [self.n_out]
        pieces = [((row_cuts[a], row_cuts[a + 1]), (col_cuts[b], col_cuts[b + 1]))
                  for a in range(len(row_cuts) - 1) for b in range(len(col_cuts) - 1)]
        shapes = [self._physical(i[1] - i[0], o[1] - o[0]) for i, o in pieces]
        where = chip.allocate(self.name, shapes, corner)
        tiles = [Tile(k, r, c, i, o) for (k, r, c), (i, o) in zip(where, pieces)]
        groups = self._groups(column_groups)
        for t in tiles:
            for part, rows, cols in self._parts(t, groups):
                chip.add_block(Block(self.name, part, t.array, rows, cols))
        return tiles

    def _groups(self, column_groups):
        if column_groups is None:
            return [("", 0, self.n_out)]
        groups, start = [], 0
        for label, width in column_groups:
            groups.append((f" [{label}]", start, start + int(width)))
            start += int(width)
        if start != self.n_out:
            raise ValueError(f"column_groups cover {start} outputs; n_out={self.n_out} required")
        return groups

    def _parts(self, t: Tile, groups):
        """(part name, row range, col range) of every block of a tile."""
        weights = (t.inputs[0], min(t.inputs[1], self.n_in))
        biases = (max(t.inputs[0], self.n_in), t.inputs[1])
        for suffix, g0, g1 in groups:
            lo, hi = max(g0, t.outputs[0]), min(g1, t.outputs[1])
            if lo >= hi:
                continue
            c0, c1 = lo - t.outputs[0], hi - t.outputs[0]
            if self._row_pairs:
                cols = (t.col0 + c0, t.col0 + c1)
                for sign, offset in (("+", 0), ("-", t.n_inputs)):
                    for kind, (a, b) in (("W", weights), ("b", biases)):
                        if a < b:
                            rows = (t.row0 + offset + a - t.inputs[0], t.row0 + offset + b - t.inputs[0])
                            yield f"{kind}{sign}{suffix}", rows, cols
            else:
                cols = (t.col0 + 2 * c0, t.col0 + 2 * c1)
                for kind, (a, b) in (("W", weights), ("b", biases)):
                    if a < b:
                        yield f"{kind}+-{suffix}", (t.row0 + a - t.inputs[0], t.row0 + b - t.inputs[0]), cols

    def _region(self, t: Tile) -> Tuple[slice, slice]:
        h, w = self._physical(t.n_inputs, t.n_outputs)
        return slice(t.row0, t.row0 + h), slice(t.col0, t.col0 + w)

    def _split(self, g: np.ndarray, t: Tile) -> Tuple[np.ndarray, np.ndarray]:
        """(G+, G-) of a tile's region, each (n_inputs, n_outputs)."""
        if self._row_pairs:
            return g[:t.n_inputs], g[t.n_inputs:]
        return g[:, 0::2], g[:, 1::2]

    def _join(self, g_plus: np.ndarray, g_minus: np.ndarray) -> np.ndarray:
        """A tile's region from its (G+, G-)."""
        if self._row_pairs:
            return np.concatenate((g_plus, g_minus))
        region = np.empty((g_plus.shape[0], 2 * g_plus.shape[1]), dtype=np.result_type(g_plus, g_minus))
        region[:, 0::2], region[:, 1::2] = g_plus, g_minus
        return region
