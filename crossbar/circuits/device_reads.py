"""What a read of one device senses in a passive array: the selected cell and the cells it cannot shut out.

A device read (write-and-verify, read-back) drives the selected word line at
``V_r``, holds the selected bit line at 0 V and senses its current; the other
lines are held or left open as the device read scheme says
(:class:`crossbar.Peripherals` ``device_read_scheme``). The reported
conductance is the sensed current over the selected cell's own ``I(V_r) /
G``: a verify circuit's reference is set for the cell's I-V, so an isolated
cell reads as its ``G``.

- ``grounded``: every other line at 0 V. Nothing else carries current into
  the sensed bit line: the read is ``G`` (as with access transistors).
- ``v_half``: every other line at ``V_r / 2``. The other cells of the
  selected bit line are half selected and add ``I(V_r / 2)`` each:
  ``G_ij + sum_{i' != i} G_i'j u(V_r / 2) / u(V_r)`` with ``u(V) = sinh(kV) /
  k`` (the cells' I-V, :class:`crossbar.SinhCell`); for linear cells half of
  the rest of the column, for bending ones ``1 / (2 cosh(k V_r / 2))`` of it
  (the "nonlinearity" of the crossbar literature).
- ``floating``: every other line open. Linear cells: the two-point
  conductance of the network of rows and columns between the selected word
  and bit line (the selected cell in parallel with every sneak path), from
  the pseudo-inverse of the network's Laplacian. Bending cells would need a
  solve per device and are refused.

The wires' resistance is left out of device reads (one cell's current drops
little along them); products (``read_scheme``) include it.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from crossbar.validation import check_choice, check_range

DEVICE_READ_SCHEMES = ("grounded", "v_half", "floating")
"""What a device read does with the lines it neither drives nor senses (see the module text)."""


def cell_current_per_siemens(voltage, nonlinearity_per_volt: float):
    """``u(V) = sinh(k V) / k`` (``V`` for ``k = 0``): a cell's current per siemens of its ``G``, amperes/siemens."""
    if nonlinearity_per_volt == 0.0:
        return voltage
    return np.sinh(nonlinearity_per_volt * voltage) / nonlinearity_per_volt


def sensed_conductance(conductance, scheme: str, read_voltage: float = 0.2,
                       nonlinearity_per_volt: float = 0.0) -> np.ndarray:
    """The conductance each device's own read reports, siemens, shape (rows, cols).

    Parameters
    ----------
    conductance : ndarray, shape (rows, cols)
        True conductances, siemens (>= 0).
    scheme : str
        One of :data:`DEVICE_READ_SCHEMES`.
    read_voltage : float
        ``V_r`` across the selected cell, volts (> 0).
    nonlinearity_per_volt : float
        ``k`` of the cells' ``I = G sinh(k V) / k``, 1/V (0: linear).
    """
    check_choice("device_read_scheme", scheme, DEVICE_READ_SCHEMES)
    check_range("device_read_voltage", read_voltage, 0.0, 20.0, low_open=True, unit="V")
    check_range("iv_nonlinearity_per_volt", nonlinearity_per_volt, 0.0, 50.0, unit="1/V")
    g = np.asarray(conductance, dtype=np.float64)
    if g.ndim != 2 or g.size == 0:
        raise ValueError(f"conductance has shape {g.shape}; a non-empty (rows, cols) array is required")
    if scheme == "grounded":
        return g.copy()
    if scheme == "v_half":
        half = (cell_current_per_siemens(read_voltage / 2.0, nonlinearity_per_volt)
                / cell_current_per_siemens(read_voltage, nonlinearity_per_volt))
        return g + (g.sum(axis=0)[None, :] - g) * half
    if nonlinearity_per_volt != 0.0:
        raise ValueError(f"device_read_scheme='floating' with bending cells (iv_nonlinearity_per_volt="
                         f"{nonlinearity_per_volt:g} /V): each device's read would need its own nonlinear solve; "
                         "choose 'v_half' or 'grounded', or linear cells")
    return floating_two_point_conductance(g)


def floating_two_point_conductance(conductance) -> np.ndarray:
    """The conductance between word line ``i`` and bit line ``j`` of a crossbar of linear cells with every
    other line open, for every ``(i, j)``, siemens, shape (rows, cols).

    The lines are the nodes of a bipartite network whose edges are the cells;
    the two-point resistance is ``(e_i - e_j)^T L^+ (e_i - e_j)`` with ``L^+``
    the pseudo-inverse of its Laplacian. Lines in different connected parts
    (a row or column of open cells) pass nothing: 0 S.
    """
    g = np.asarray(conductance, dtype=np.float64)
    rows, cols = g.shape
    n = rows + cols
    laplacian = np.zeros((n, n))
    laplacian[:rows, rows:] = -g
    laplacian[rows:, :rows] = -g.T
    laplacian[np.arange(rows), np.arange(rows)] = g.sum(axis=1)
    laplacian[rows + np.arange(cols), rows + np.arange(cols)] = g.sum(axis=0)
    _, part = connected_components(csr_matrix(laplacian != 0.0), directed=False)
    # the pseudo-inverse of each connected part: a disconnected network's whole pseudo-inverse mixes parts
    inverse = np.zeros((n, n))
    for p in np.unique(part):
        nodes = np.flatnonzero(part == p)
        if nodes.size > 1:
            inverse[np.ix_(nodes, nodes)] = np.linalg.pinv(laplacian[np.ix_(nodes, nodes)], hermitian=True)
    diagonal = np.diag(inverse)
    resistance = diagonal[:rows, None] + diagonal[None, rows:] - 2.0 * inverse[:rows, rows:]
    connected = part[:rows, None] == part[None, rows:]
    with np.errstate(divide="ignore"):
        out = np.where(connected & (resistance > 0.0), 1.0 / np.where(resistance > 0.0, resistance, 1.0), 0.0)
    return out
