"""A chip: equal crossbar arrays sharing one technology, and the space on them."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

import crossbar
from crossbar import CrossbarArray, DeviceModel, EnergyCosts, Peripherals
from crossbar.validation import check_int

from .layout import Block, Layout


class Chip:
    """Arrays of ``array_rows x array_cols`` devices, created as blocks need them.

    Parameters
    ----------
    device : DeviceModel
        The technology of every array.
    array_rows, array_cols : int
        Size of each array (Li et al.: 128 x 64).
    n_arrays : int, optional
        Arrays available; a placement that needs more raises ``ValueError``
        saying how many it needs. ``None``: as many as needed.
    dac : crossbar.DAC, optional
        Row drivers (shared by all arrays); ``None`` for ideal sources.
    adc_bits : int, optional
        Resolution of the column ADCs; ``None`` for ideal sensing. The full
        scale is set per mapped matrix (see ``MappedMatrix.calibrate_adc``).
    wires : crossbar.WireResistance, optional
    seed : int or None
        Root of every array's random numbers: array ``k`` gets the ``k``-th
        child of ``SeedSequence(seed)``, so the chip is the same on every run.
    costs : crossbar.EnergyCosts, optional
    """

    def __init__(self, device: DeviceModel, array_rows: int = 128, array_cols: int = 64,
                 n_arrays: Optional[int] = None, dac: Optional[crossbar.DAC] = None,
                 adc_bits: Optional[int] = None, wires: Optional[crossbar.WireResistance] = None,
                 seed=None, costs: Optional[EnergyCosts] = None):
        if not isinstance(device, DeviceModel):
            raise ValueError(f"device={device!r} is not allowed; a crossbar.DeviceModel is required")
        self.device = device
        self.array_rows = check_int("array_rows", array_rows, 2)
        self.array_cols = check_int("array_cols", array_cols, 2)
        self.n_arrays = None if n_arrays is None else check_int("n_arrays", n_arrays, 1)
        self.adc_bits = None if adc_bits is None else check_int("adc_bits", adc_bits, 2, 24)
        self.peripherals = Peripherals(dac=dac, wires=wires)  # validates both
        self.costs = EnergyCosts() if costs is None else costs
        self._seeds = np.random.SeedSequence(seed)
        self.arrays: List[CrossbarArray] = []
        self._occupied: List[np.ndarray] = []
        self.layout = Layout(self.array_rows, self.array_cols)

    @classmethod
    def from_preset(cls, name: str, **kwargs) -> "Chip":
        """A chip of a preset technology with that preset's DAC and ADC resolution."""
        peripherals = crossbar.preset_peripherals(name)
        kwargs.setdefault("dac", peripherals.dac)
        kwargs.setdefault("adc_bits", None if peripherals.adc is None else peripherals.adc.bits)
        return cls(crossbar.preset(name), **kwargs)

    @property
    def dac(self) -> Optional[crossbar.DAC]:
        return self.peripherals.dac

    def _new_array(self) -> None:
        seed = self._seeds.spawn(1)[0]
        self.arrays.append(CrossbarArray(self.array_rows, self.array_cols, self.device, seed=seed,
                                         peripherals=self.peripherals, costs=self.costs))
        self._occupied.append(np.zeros((self.array_rows, self.array_cols), dtype=bool))

    @staticmethod
    def _first_fit(occupied: List[np.ndarray], height: int, width: int) -> Optional[Tuple[int, int, int]]:
        """First free rectangle, arrays in order, then columns left to right, then rows."""
        for k, grid in enumerate(occupied):
            rows, cols = grid.shape
            for c in range(cols - width + 1):
                for r in range(rows - height + 1):
                    if not grid[r:r + height, c:c + width].any():
                        return k, r, c
        return None

    def _plan(self, shapes: Sequence[Tuple[int, int]], limit: Optional[int]):
        """Where ``shapes`` would go (list of (array, row, col)), or None if over ``limit`` arrays."""
        grids = [g.copy() for g in self._occupied]
        where = []
        for height, width in shapes:
            spot = self._first_fit(grids, height, width)
            if spot is None:
                if limit is not None and len(grids) >= limit:
                    return None, len(grids)
                grids.append(np.zeros((self.array_rows, self.array_cols), dtype=bool))
                spot = (len(grids) - 1, 0, 0)
            k, r, c = spot
            grids[k][r:r + height, c:c + width] = True
            where.append(spot)
        return where, len(grids)

    def allocate(self, name: str, shapes: Sequence[Tuple[int, int]],
                 corner: Optional[Tuple[int, int, int]] = None) -> List[Tuple[int, int, int]]:
        """Reserve rectangles of (rows, cols) devices; all of them or none.

        Parameters
        ----------
        name : str
            Matrix the rectangles belong to (for messages).
        shapes : sequence of (int, int)
        corner : (array, row, col), optional
            0-based top-left corner of a single rectangle; otherwise first fit.

        Raises
        ------
        ValueError
            If a rectangle is larger than an array, the corner is taken or
            outside, or more arrays are needed than the chip has.
        """
        for height, width in shapes:
            if height > self.array_rows or width > self.array_cols:
                raise ValueError(f"{name}: a block of {height}x{width} devices is larger than one "
                                 f"{self.array_rows}x{self.array_cols} array")
        if corner is not None:
            if len(shapes) != 1:
                raise ValueError(f"{name}: corner={corner!r} needs a matrix that fits one array; "
                                 f"this one takes {len(shapes)} tiles")
            k, r, c = (int(v) for v in corner)
            height, width = shapes[0]
            if k < 0 or r < 0 or c < 0 or r + height > self.array_rows or c + width > self.array_cols:
                raise ValueError(f"{name}: corner={corner!r} puts a {height}x{width} block outside a "
                                 f"{self.array_rows}x{self.array_cols} array")
            if self.n_arrays is not None and k >= self.n_arrays:
                raise ValueError(f"{name}: corner={corner!r} names array {k}; the chip has {self.n_arrays}")
            while len(self.arrays) <= k:
                self._new_array()
            if self._occupied[k][r:r + height, c:c + width].any():
                raise ValueError(f"{name}: corner={corner!r} overlaps a block already placed")
            where = [(k, r, c)]
        else:
            where, count = self._plan(shapes, self.n_arrays)
            if where is None:
                _, needed = self._plan(shapes, None)
                raise ValueError(f"{name}: needs {needed} arrays of {self.array_rows}x{self.array_cols} in all; "
                                 f"the chip has {self.n_arrays}")
        for (k, r, c), (height, width) in zip(where, shapes):
            while len(self.arrays) <= k:
                self._new_array()
            self._occupied[k][r:r + height, c:c + width] = True
        return where

    def add_block(self, block: Block) -> None:
        self.layout.add(block)

    def counters(self) -> crossbar.OperationCounts:
        """All work done on all arrays."""
        total = crossbar.OperationCounts()
        for a in self.arrays:
            total = total.add(a.counters)
        return total

    def conductances(self) -> List[np.ndarray]:
        """True conductance of each array, siemens."""
        return [a.conductance.copy() for a in self.arrays]

    def save_layout(self, path, with_conductance: bool = True) -> None:
        """Draw the layout (over the conductances) to ``path``."""
        self.layout.save(path, self.conductances() if with_conductance and self.arrays else None)
