"""Which devices of a chip's arrays are taken: first-fit placement that stays fast for thousands of arrays.

The first-fit order is arrays in order, then columns left to right, then
rows top to bottom. Two things keep it from growing with the square of the
number of arrays:

- each array's count of free devices is kept in one numpy vector, so the
  arrays with room for a block of ``h x w`` devices are found in one
  vectorised comparison; arrays that are full drop out of every later search
  (a large matrix fills most of its arrays completely);
- within an array, every position's overlap with the taken devices comes
  from one summed-area table, so a position is found without a Python loop
  over rows and columns.

A full array keeps no grid (it is known to be full), so memory grows with the
arrays that still have room.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from crossbar.validation import CHECKED_BYTES, check_memory


GRID_BYTES_PER_DEVICE = 14
"""Bytes a device of an array with room costs a placement at its peak: its taken flag (1), and the first
fit's summed-area table, its differences and their transpose (int32, bool: 13)."""


class Occupancy:
    """Taken devices of equal ``rows x cols`` arrays.

    Parameters
    ----------
    rows, cols : int
        Size of every array.
    """

    def __init__(self, rows: int, cols: int):
        self.rows = int(rows)
        self.cols = int(cols)
        self._grids: List[Optional[np.ndarray]] = []  # None: the array is full
        self._free = np.zeros(16, dtype=np.int64)
        self.n_arrays = 0

    def add_array(self) -> int:
        """Append an empty array; return its index."""
        if self.rows * self.cols * GRID_BYTES_PER_DEVICE > CHECKED_BYTES:
            check_memory(f"placing blocks on an array of {self.rows} x {self.cols} devices", self.rows * self.cols
                         * GRID_BYTES_PER_DEVICE)
        if self.n_arrays == self._free.size:
            self._free = np.concatenate([self._free, np.zeros(self._free.size, dtype=np.int64)])
        self._grids.append(np.zeros((self.rows, self.cols), dtype=bool))
        self._free[self.n_arrays] = self.rows * self.cols
        self.n_arrays += 1
        return self.n_arrays - 1

    def truncate(self, n_arrays: int) -> None:
        """Drop the arrays from ``n_arrays`` on (they must be empty again)."""
        del self._grids[n_arrays:]
        self._free[n_arrays:self.n_arrays] = 0
        self.n_arrays = n_arrays

    def free_devices(self, k: int) -> int:
        """Devices of array ``k`` not taken yet."""
        return int(self._free[k])

    def is_free(self, k: int, r: int, c: int, height: int, width: int) -> bool:
        """Whether the rectangle at ``(r, c)`` of array ``k`` is untaken."""
        grid = self._grids[k]
        return grid is not None and not grid[r:r + height, c:c + width].any()

    def mark(self, k: int, r: int, c: int, height: int, width: int) -> None:
        """Take a rectangle."""
        grid = self._grid(k)
        grid[r:r + height, c:c + width] = True
        self._free[k] -= height * width
        if self._free[k] == 0:
            self._grids[k] = None

    def unmark(self, k: int, r: int, c: int, height: int, width: int) -> None:
        """Give a rectangle back."""
        grid = self._grid(k)
        grid[r:r + height, c:c + width] = False
        self._free[k] += height * width

    def _grid(self, k: int) -> np.ndarray:
        if self._grids[k] is None:  # a full array comes back to life only to be unmarked
            self._grids[k] = np.ones((self.rows, self.cols), dtype=bool)
        return self._grids[k]

    def taken(self) -> np.ndarray:
        """Every array's taken devices, bool (n_arrays, rows, cols)."""
        out = np.ones((self.n_arrays, self.rows, self.cols), dtype=bool)
        for k, grid in enumerate(self._grids):
            if grid is not None:
                out[k] = grid
        return out

    @classmethod
    def from_taken(cls, taken: np.ndarray) -> "Occupancy":
        """The occupancy of :meth:`taken`'s array."""
        n, rows, cols = taken.shape
        space = cls(rows, cols)
        for k in range(n):
            space.add_array()
            space._grids[k] = taken[k].copy()
            space._free[k] = int(np.count_nonzero(~taken[k]))
            if space._free[k] == 0:
                space._grids[k] = None
        return space

    def first_fit(self, height: int, width: int) -> Optional[Tuple[int, int, int]]:
        """First free ``height x width`` rectangle as ``(array, row, col)``, or None if no array has room."""
        if height > self.rows or width > self.cols:
            return None
        whole = self.rows * self.cols
        for k in np.flatnonzero(self._free[:self.n_arrays] >= height * width):
            k = int(k)
            if self._free[k] == whole:
                return k, 0, 0
            spot = _first_position(self._grids[k], height, width)
            if spot is not None:
                return (k, *spot)
        return None


def _first_position(grid: np.ndarray, height: int, width: int) -> Optional[Tuple[int, int]]:
    """First untaken rectangle of a grid, columns left to right, then rows; or None."""
    rows, cols = grid.shape
    table = np.zeros((rows + 1, cols + 1), dtype=np.int32)
    np.cumsum(np.cumsum(grid, axis=0, dtype=np.int32), axis=1, out=table[1:, 1:])
    taken = (table[height:, width:] - table[:rows - height + 1, width:]
             - table[height:, :cols - width + 1] + table[:rows - height + 1, :cols - width + 1])
    free = taken.T == 0  # column-major: columns first, as the first-fit order
    if not free.any():
        return None
    index = int(np.argmax(free.ravel()))
    c, r = divmod(index, rows - height + 1)
    return r, c


def first_fit_reference(grids: List[np.ndarray], height: int, width: int) -> Optional[Tuple[int, int, int]]:
    """The plain loop that :meth:`Occupancy.first_fit` must agree with (for tests)."""
    for k, grid in enumerate(grids):
        rows, cols = grid.shape
        for c in range(cols - width + 1):
            for r in range(rows - height + 1):
                if not grid[r:r + height, c:c + width].any():
                    return k, r, c
    return None
