"""Writing a passive array one cell at a time, and what the other cells suffer: write disturb.

Without access transistors, a pulse across one cell also lands, in part, on
every cell that shares its lines. The usual biasing schemes keep that part
small:

- ``v_half`` (V/2): the selected row at ``V``, the selected column at 0, every
  other line at ``V/2``. The cells of the selected row and column
  (half-selected) see ``V/2`` of the pulse's polarity; the others 0.
- ``v_third`` (V/3): the selected row at ``V``, the selected column at 0, the
  other rows at ``V/3`` and the other columns at ``2V/3``. Half-selected cells
  see ``V/3``; every other cell ``-V/3`` (the opposite polarity).

A cell's switching speed grows as ``sinh(V / V0)`` with the voltage across it
(ionic drift in a high field: D. B. Strukov and R. S. Williams, "Exponential
ionic drift: fast switching and low volatility of thin-film memristors",
Appl. Phys. A 94, 515, 2009), so a pulse of ``V/k`` moves a cell by
``sinh(V / (k V0)) / sinh(V / V0)`` of a full pulse of its pulse law. The
schemes are those of the crossbar literature, e.g. A. Chen, "A comprehensive
crossbar array model with solutions for line resistance and nonlinear device
characteristics", IEEE Trans. Electron Devices 60(4), 2013.

:meth:`crossbar.CrossbarArray.write_passive` writes the pulses cell by cell and
then moves every cell by the pulses the others' writes gave it (to first order:
each disturb is a small part of a pulse, taken at the cell's conductance before
it). Volts; conductances in siemens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from crossbar.devices.pulse_kernels import _pulse_step, pulse_steps_reference
from crossbar.validation import check_choice, check_range

WRITE_SCHEMES = ("v_half", "v_third")
"""How the lines of a passive array are biased while one cell is written."""


@dataclass(frozen=True)
class WriteScheme:
    """A passive array's write biasing (see the module text). Validated when built.

    Parameters
    ----------
    kind : {"v_half", "v_third"}
    write_voltage : float
        Amplitude of a pulse across the selected cell, volts (> 0).
    switching_voltage : float
        ``V0`` of the switching kinetics ``sinh(V / V0)``, volts (> 0): the
        smaller, the more a cell's speed falls with the voltage, the less it is
        disturbed.
    """

    kind: str = "v_half"
    write_voltage: float = 2.0
    switching_voltage: float = 0.25

    def __post_init__(self):
        check_choice("write.kind", self.kind, WRITE_SCHEMES)
        check_range("write.write_voltage", self.write_voltage, 0.0, 20.0, low_open=True, unit="V")
        check_range("write.switching_voltage", self.switching_voltage, 0.0, 20.0, low_open=True, unit="V")

    def _part(self, divisor: float) -> float:
        full = self.write_voltage / self.switching_voltage
        if full > 700.0:  # sinh overflows: the ratio is exp(-full (1 - 1/divisor))
            return math.exp(-full * (1.0 - 1.0 / divisor))
        return math.sinh(full / divisor) / math.sinh(full)

    @property
    def half_selected_part(self) -> float:
        """Part of a full pulse that moves a half-selected cell (the pulse's polarity)."""
        return self._part(2.0 if self.kind == "v_half" else 3.0)

    @property
    def unselected_part(self) -> float:
        """Part of a full pulse that moves every other cell, signed: 0 (V/2), or ``-sinh(V/3V0)/sinh(V/V0)``
        (V/3: the opposite polarity)."""
        return 0.0 if self.kind == "v_half" else -self._part(3.0)

    def disturb_pulses(self, n_pulses) -> np.ndarray:
        """Equivalent full pulses each cell receives from the writes of the others, shape of ``n_pulses``.

        ``n_pulses`` (rows, cols): signed pulses written on each cell (positive
        potentiate). Cell (i, j) receives ``half (sum of row i + sum of column
        j, itself excluded) + other (every cell of neither)``.
        """
        n = np.asarray(n_pulses, dtype=np.float64)
        row = n.sum(axis=1, keepdims=True) - n
        col = n.sum(axis=0, keepdims=True) - n
        rest = n.sum() - row - col - n
        out = self.half_selected_part * (row + col)
        if self.unselected_part != 0.0:
            out = out + self.unselected_part * rest
        return out


@numba.njit(cache=True)
def disturb_update(conductance, equivalent, g_low, g_high, frozen, kind, step_up, step_down, nonlinearity):
    """Move each cell by ``equivalent[i, j]`` full pulses of its pulse law at its present conductance, in
    place (first order, no cycle noise: a disturb is a small part of a pulse); cells stay in their window,
    frozen (stuck) cells do not move. Returns the number of cells moved."""
    moved = 0
    for i in range(conductance.shape[0]):
        for j in range(conductance.shape[1]):
            e = equivalent[i, j]
            if e == 0.0 or frozen[i, j]:
                continue
            g, lo, hi = conductance[i, j], g_low[i, j], g_high[i, j]
            step = _pulse_step(g, lo, hi, e > 0.0, kind, step_up, step_down, nonlinearity)
            conductance[i, j] = min(max(g + abs(e) * step, lo), hi)
            moved += 1
    return moved


def disturb_update_reference(conductance, equivalent, g_low, g_high, frozen, kind, step_up, step_down, nonlinearity):
    """numpy twin of :func:`disturb_update` (returns the new conductances and the cells moved)."""
    g = np.asarray(conductance, dtype=np.float64)
    step = pulse_steps_reference(g, g_low, g_high - g_low, equivalent > 0.0, kind, step_up, step_down, nonlinearity)
    moving = (equivalent != 0.0) & ~frozen
    new = np.where(moving, np.minimum(np.maximum(g + np.abs(equivalent) * step, g_low), g_high), g)
    return new, int(np.count_nonzero(moving))
