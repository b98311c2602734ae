"""IR drop: the resistor network of a 1T1R array with resistive wires.

Geometry (``rows x cols`` cells). Each cell (i, j) joins a node on row wire
``i`` to a node on column wire ``j`` through its conductance ``G[i, j]``.
Neighbouring nodes on a row wire are joined by a segment of
``row_segment_ohms``, neighbouring nodes on a column wire by
``col_segment_ohms``. Row ``i`` is driven by an ideal source ``V[i]`` through
one row segment at its column-0 end; column ``j`` is sensed at virtual ground
through one column segment at its row ``rows - 1`` end. The sensed current of
column ``j`` is the current through that last segment. So cells far from the
driven end (large ``j``) and far from the sense end (small ``i``) see the
largest loss.

Two solvers: :func:`solve_sparse`, exact nodal analysis with one sparse LU
factorisation for all inputs (the reference), and :func:`solve_iterative`, a
Numba block Gauss-Seidel that alternates exact tridiagonal solves of all row
wires and all column wires. Ohms, siemens, volts, amperes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from crossbar.validation import check_choice, check_int, check_range


WIRE_SOLVERS = ("iterative", "sparse")
"""How a wire network is solved: block Gauss-Seidel or sparse LU (:class:`WireResistance`)."""


@dataclass(frozen=True)
class WireResistance:
    """Resistive wires of an array.

    Parameters
    ----------
    row_segment_ohms : float
        Resistance of the row wire between two neighbouring cells, ohms (> 0).
    col_segment_ohms : float
        Resistance of the column wire between two neighbouring cells, ohms (> 0).
    solver : {"iterative", "sparse"}
        Which solver :class:`~crossbar.CrossbarArray` uses for its products.
    tolerance : float
        Iterative solver stops when no node voltage moved more than
        ``tolerance * max|V|`` in one sweep (dimensionless, > 0).
    max_iterations : int
        Iterative solver's limit of sweeps; not converging by then raises.
    """

    row_segment_ohms: float = 1.0
    col_segment_ohms: float = 1.0
    solver: str = "iterative"
    tolerance: float = 1e-13
    max_iterations: int = 10000

    def __post_init__(self):
        check_range("wires.row_segment_ohms", self.row_segment_ohms, 0.0, low_open=True, unit="ohm")
        check_range("wires.col_segment_ohms", self.col_segment_ohms, 0.0, low_open=True, unit="ohm")
        check_choice("wires.solver", self.solver, WIRE_SOLVERS)
        check_range("wires.tolerance", self.tolerance, 0.0, 1e-3, low_open=True)
        check_int("wires.max_iterations", self.max_iterations, 1)

    def solve(self, voltages: np.ndarray, conductance: np.ndarray) -> np.ndarray:
        """Column currents (A), shape (batch, cols), with the chosen solver."""
        if self.solver == "sparse":
            return solve_sparse(voltages, conductance, self.row_segment_ohms, self.col_segment_ohms)
        return solve_iterative(voltages, conductance, self.row_segment_ohms, self.col_segment_ohms,
                               self.tolerance, self.max_iterations)


def nodal_matrix(conductance: np.ndarray, row_segment_ohms: float, col_segment_ohms: float) -> sp.csc_matrix:
    """Nodal conductance matrix (S) of the array, row nodes first, then column nodes.

    Node ``i * cols + j`` is the row-wire node of cell (i, j); node
    ``rows * cols + i * cols + j`` its column-wire node.
    """
    rows, cols = conductance.shape
    n = rows * cols
    g_row = 1.0 / row_segment_ohms
    g_col = 1.0 / col_segment_ohms
    idx = np.arange(n).reshape(rows, cols)
    r_nodes, c_nodes = idx, idx + n
    a, b, g = [], [], []

    def link(p, q, conductances):
        a.append(p.ravel()), b.append(q.ravel()), g.append(np.broadcast_to(conductances, p.shape).ravel())

    link(r_nodes, c_nodes, conductance)                            # the cells
    link(r_nodes[:, :-1], r_nodes[:, 1:], g_row)                   # row segments
    link(c_nodes[:-1, :], c_nodes[1:, :], g_col)                   # column segments
    a, b, g = np.concatenate(a), np.concatenate(b), np.concatenate(g)
    diagonal = np.bincount(a, g, 2 * n) + np.bincount(b, g, 2 * n)
    diagonal[r_nodes[:, 0]] += g_row                               # to the sources
    diagonal[c_nodes[-1, :]] += g_col                              # to virtual ground
    data = np.concatenate([-g, -g, diagonal])
    i = np.concatenate([a, b, np.arange(2 * n)])
    j = np.concatenate([b, a, np.arange(2 * n)])
    return sp.csc_matrix((data, (i, j)), shape=(2 * n, 2 * n))


def effective_conductance(conductance, row_segment_ohms: float, col_segment_ohms: float) -> np.ndarray:
    """The linear wire network's transfer matrix, siemens, shape (rows, cols): ``I = V @ G_eff`` exactly.

    With linear cells the sensed currents are linear in the row voltages, so
    row ``r`` of ``G_eff`` is the currents when row ``r`` alone is driven at
    1 V. Solved by block elimination along the column wires:

    - each row wire ``i`` is a tridiagonal system ``T_i`` (its segments, its
      cells, its source); eliminating it leaves, on the column-wire nodes of
      row ``i``, the dense symmetric block ``S_i = diag(g_i) + k_i g_col I -
      diag(g_i) T_i^-1 diag(g_i)`` and, for a 1 V source on row ``i``, the
      right-hand side ``f_i = g_row diag(g_i) T_i^-1 e_0``;
    - the column-wire nodes then form a block-tridiagonal system (blocks
      ``S_i``, neighbours ``-g_col I``); its forward elimination ``D_i = S_i -
      g_col^2 D_(i-1)^-1`` and, by symmetry, the blocks ``Z_i`` of its inverse's
      last block column (``Z_last = D_last^-1``, ``Z_i = g_col D_i^-1 Z_(i+1)``)
      give ``G_eff[i] = g_col f_i Z_i``.

    ``rows`` dense ``cols x cols`` inversions: several times faster than one
    sparse LU with ``cols`` solves (:func:`effective_conductance_sparse`, the
    reference, which it matches to about 1e-12 relative).

    Parameters
    ----------
    conductance : ndarray, shape (rows, cols), siemens
    row_segment_ohms, col_segment_ohms : float, ohms (> 0)
    """
    g = np.ascontiguousarray(conductance, dtype=np.float64)
    rows, cols = g.shape
    g_row, g_col = 1.0 / row_segment_ohms, 1.0 / col_segment_ohms
    j = np.arange(cols)
    t_inverse = row_wire_inverses(g, g_row)
    s = -g[:, :, None] * t_inverse * g[:, None, :]
    links = 1.0 + (np.arange(rows) > 0)  # a column node's segments: up and down, or one and virtual ground
    s[:, j, j] += g + (links * g_col)[:, None]
    f = g_row * g * t_inverse[:, :, 0]
    d_inverse = np.empty_like(s)
    d_inverse[0] = np.linalg.inv(s[0])
    for i in range(1, rows):
        d_inverse[i] = np.linalg.inv(s[i] - (g_col * g_col) * d_inverse[i - 1])
    out = np.empty((rows, cols))
    z = d_inverse[rows - 1]
    out[rows - 1] = g_col * f[rows - 1] @ z
    for i in range(rows - 2, -1, -1):
        z = g_col * (d_inverse[i] @ z)
        out[i] = g_col * f[i] @ z
    return out


@numba.njit(cache=True, nogil=True)
def row_wire_inverses(conductance, g_row):
    """The inverse of each row wire's nodal matrix, shape (rows, cols, cols), 1/S.

    Row wire ``i``'s matrix is tridiagonal: ``-g_row`` beside the diagonal,
    ``G[i, j] + g_row`` times its segments on it (two, the last node one; the
    first node's second is its source). One factorisation a row, then the
    solves of all unit vectors side by side.
    """
    rows, cols = conductance.shape
    out = np.empty((rows, cols, cols))
    pivot = np.empty(cols)
    for i in range(rows):
        for k in range(cols):
            segments = 2.0 if k < cols - 1 else 1.0
            pivot[k] = conductance[i, k] + g_row * segments
            if k > 0:
                pivot[k] -= g_row * g_row / pivot[k - 1]
        y = out[i]  # y[k, c]: all unit vectors at once, so that the inner loops run across them
        for k in range(cols):
            factor = g_row / pivot[k - 1] if k > 0 else 0.0
            for c in range(cols):
                y[k, c] = (1.0 if k == c else 0.0) + (factor * y[k - 1, c] if k > 0 else 0.0)
        last = 1.0 / pivot[cols - 1]
        for c in range(cols):
            y[cols - 1, c] *= last
        for k in range(cols - 2, -1, -1):
            scale = 1.0 / pivot[k]
            for c in range(cols):
                y[k, c] = (y[k, c] + g_row * y[k + 1, c]) * scale
    return out


def row_wire_inverses_reference(conductance, g_row) -> np.ndarray:
    """numpy twin of :func:`row_wire_inverses`: the dense matrices, inverted."""
    rows, cols = conductance.shape
    j = np.arange(cols)
    t = np.zeros((rows, cols, cols))
    t[:, j, j] = conductance + g_row * (1.0 + (j < cols - 1))
    t[:, j[:-1], j[1:]] = -g_row
    t[:, j[1:], j[:-1]] = -g_row
    return np.linalg.inv(t)


def effective_conductance_sparse(conductance, row_segment_ohms: float, col_segment_ohms: float) -> np.ndarray:
    """:func:`effective_conductance` by one sparse LU of the whole nodal matrix (the reference).

    The nodal matrix is symmetric, so one factorisation and ``cols`` solves
    (one per sensed column, the adjoint problem) give all of it:
    ``G_eff[r, j] = g_row g_col (A^-1)[source node of r, sense node of j]``.
    """
    g = np.ascontiguousarray(conductance, dtype=np.float64)
    rows, cols = g.shape
    n = rows * cols
    lu = spla.splu(nodal_matrix(g, row_segment_ohms, col_segment_ohms))
    rhs = np.zeros((2 * n, cols))
    rhs[n + (rows - 1) * cols + np.arange(cols), np.arange(cols)] = 1.0
    x = lu.solve(rhs)
    return x[np.arange(rows) * cols, :] / (row_segment_ohms * col_segment_ohms)


def solve_sparse(voltages, conductance, row_segment_ohms, col_segment_ohms) -> np.ndarray:
    """Exact column currents by nodal analysis (reference solver).

    Parameters
    ----------
    voltages : ndarray, shape (batch, rows), volts
    conductance : ndarray, shape (rows, cols), siemens
    row_segment_ohms, col_segment_ohms : float, ohms

    Returns
    -------
    ndarray, shape (batch, cols), amperes
    """
    rows, cols = conductance.shape
    n = rows * cols
    lu = spla.splu(nodal_matrix(conductance, row_segment_ohms, col_segment_ohms))
    rhs = np.zeros((2 * n, voltages.shape[0]))
    rhs[np.arange(rows) * cols, :] = voltages.T / row_segment_ohms
    node_v = lu.solve(rhs)
    sense = node_v[n + (rows - 1) * cols + np.arange(cols), :]
    return (sense / col_segment_ohms).T


@numba.njit(cache=True, inline="always")
def _thomas(lower, diagonal, upper, rhs, out, scratch):
    """Solve a tridiagonal system (constant off-diagonals ``lower``, ``upper``)."""
    n = diagonal.shape[0]
    scratch[0] = upper / diagonal[0]
    out[0] = rhs[0] / diagonal[0]
    for k in range(1, n):
        m = diagonal[k] - lower * scratch[k - 1]
        scratch[k] = upper / m
        out[k] = (rhs[k] - lower * out[k - 1]) / m
    for k in range(n - 2, -1, -1):
        out[k] -= scratch[k] * out[k + 1]


@numba.njit(cache=True, parallel=True)
def _solve_iterative(voltages, conductance, g_row, g_col, tolerance, max_iterations):
    batch = voltages.shape[0]
    rows, cols = conductance.shape
    out = np.empty((batch, cols))
    sweeps = np.zeros(batch, dtype=np.int64)
    for b in numba.prange(batch):
        v_row = np.empty((rows, cols))
        v_col = np.zeros((rows, cols))
        d_r = np.empty(cols)
        rhs_r = np.empty(cols)
        x_r = np.empty(cols)
        s_r = np.empty(cols)
        d_c = np.empty(rows)
        rhs_c = np.empty(rows)
        x_c = np.empty(rows)
        s_c = np.empty(rows)
        scale = 0.0
        for i in range(rows):
            scale = max(scale, abs(voltages[b, i]))
            for j in range(cols):
                v_row[i, j] = voltages[b, i]
        if scale == 0.0:
            for j in range(cols):
                out[b, j] = 0.0
            continue
        it = 0
        while True:
            it += 1
            change = 0.0
            for i in range(rows):  # every row wire, given the column wires
                for j in range(cols):
                    d_r[j] = 2.0 * g_row + conductance[i, j]
                    rhs_r[j] = conductance[i, j] * v_col[i, j]
                d_r[cols - 1] -= g_row
                rhs_r[0] += g_row * voltages[b, i]
                _thomas(-g_row, d_r, -g_row, rhs_r, x_r, s_r)
                for j in range(cols):
                    change = max(change, abs(x_r[j] - v_row[i, j]))
                    v_row[i, j] = x_r[j]
            for j in range(cols):  # every column wire, given the row wires
                for i in range(rows):
                    d_c[i] = 2.0 * g_col + conductance[i, j]
                    rhs_c[i] = conductance[i, j] * v_row[i, j]
                d_c[0] -= g_col
                _thomas(-g_col, d_c, -g_col, rhs_c, x_c, s_c)
                for i in range(rows):
                    change = max(change, abs(x_c[i] - v_col[i, j]))
                    v_col[i, j] = x_c[i]
            if change <= tolerance * scale or it >= max_iterations:
                break
        sweeps[b] = it if change <= tolerance * scale else -1
        for j in range(cols):
            out[b, j] = v_col[rows - 1, j] * g_col
    return out, sweeps


def solve_iterative(voltages, conductance, row_segment_ohms, col_segment_ohms,
                    tolerance=1e-13, max_iterations=10000) -> np.ndarray:
    """Column currents (A) by block Gauss-Seidel over row and column wires (Numba).

    Each sweep solves every row wire exactly (tridiagonal) with the column
    voltages held, then every column wire with the row voltages held. The
    coupling between the two sets is the cells' conductance, small beside a
    wire segment's, so a few sweeps suffice for realistic arrays.

    Parameters
    ----------
    voltages : ndarray, shape (batch, rows), volts
    conductance : ndarray, shape (rows, cols), siemens
    row_segment_ohms, col_segment_ohms : float, ohms
    tolerance : float
        Relative change of node voltages at which a sweep stops.
    max_iterations : int

    Raises
    ------
    RuntimeError
        If some input did not converge within ``max_iterations`` sweeps.
    """
    out, sweeps = _solve_iterative(np.ascontiguousarray(voltages, dtype=np.float64),
                                   np.ascontiguousarray(conductance, dtype=np.float64),
                                   1.0 / row_segment_ohms, 1.0 / col_segment_ohms,
                                   float(tolerance), int(max_iterations))
    if np.any(sweeps < 0):
        raise RuntimeError(f"IR-drop solver did not converge in {max_iterations} sweeps for "
                           f"{int(np.count_nonzero(sweeps < 0))} input(s); raise wires.max_iterations "
                           "or use solver='sparse'")
    return out
