"""Passive (0T1R) arrays: the nodal network of the cells and the wires, all of it.

Geometry as :mod:`crossbar.circuits.wires`: cell (i, j) joins node (i, j) of word line
``i`` to node (i, j) of bit line ``j``; a driven word line is driven at its
first column through one segment, a bit line is held at its voltage (ground
unless given) after its last row through one segment. Without access
transistors every cell conducts, so a read's currents run through every path of
the network: with unselected lines left floating, through the sneak paths of
the other cells. :func:`solve_passive` returns every node voltage and every
current. A segment of 0 ohms joins its nodes into one (a driven line of 0 ohms
is at its source's potential). Cells are linear (one sparse solve) or bend
upwards (:class:`SinhCell`: Newton's method on the sparse Jacobian, or a damped
iteration); ohms, siemens, volts, amperes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from crossbar.devices.cells import CellIV
from crossbar.validation import CHECKED_BYTES, as_float_array, check_choice, check_int, check_memory, check_range


@dataclass(frozen=True)
class PassiveSolution:
    """Every voltage and current of a read of a passive array, for each input vector.

    Attributes
    ----------
    output_currents : ndarray, shape (batch, cols)
        Current of each bit line out of its last row into its source (ground), amperes; 0 (to
        rounding) for a floating bit line.
    device_currents : ndarray, shape (batch, rows, cols)
        Current of each cell from its word line to its bit line, amperes.
    word_line_voltages, bit_line_voltages : ndarray, shape (batch, rows, cols)
        Node voltages, volts.
    word_line_currents : ndarray, shape (batch, rows, cols)
        Current in the word-line segment before each node (from the driven end), amperes.
    bit_line_currents : ndarray, shape (batch, rows, cols)
        Current in the bit-line segment after each node (towards the sensed end), amperes.
    """

    output_currents: np.ndarray
    device_currents: np.ndarray
    word_line_voltages: np.ndarray
    bit_line_voltages: np.ndarray
    word_line_currents: np.ndarray
    bit_line_currents: np.ndarray


@dataclass(frozen=True)
class SinhCell:
    """A cell whose current bends upwards with voltage: ``I = G sinh(k V) / k``, amperes.

    ``G`` (siemens) is its conductance at small voltages (its programmed
    value); ``k`` (1/V) how fast it bends: at ``V = 1/k`` it passes 18 % more
    than a linear cell. ``k = 0`` is the linear cell.

    Parameters
    ----------
    nonlinearity_per_volt : float
        ``k``, 1/V (>= 0).
    """

    nonlinearity_per_volt: float = 2.0

    def __post_init__(self):
        check_range("nonlinearity_per_volt", self.nonlinearity_per_volt, 0.0, 50.0, unit="1/V")

    @classmethod
    def from_current_ratio(cls, current_ratio: float, read_voltage: float) -> "SinhCell":
        """The cell that passes ``current_ratio`` times more current at ``read_voltage`` than at half of
        it (the nonlinearity of the crossbar literature's V/2 scheme; 2 for a linear cell).

        ``I(V) / I(V/2) = sinh(kV) / sinh(kV/2) = 2 cosh(kV/2)``, so
        ``k = (2 / V) arccosh(current_ratio / 2)``.

        Parameters
        ----------
        current_ratio : float
            ``I(V_read) / I(V_read / 2)``, >= 2.
        read_voltage : float
            ``V_read``, volts (> 0).
        """
        check_range("current_ratio", current_ratio, 2.0, 1e6)
        check_range("read_voltage", read_voltage, 0.0, 20.0, low_open=True, unit="V")
        return cls(2.0 / read_voltage * float(np.arccosh(current_ratio / 2.0)))

    def current(self, conductance, voltage):
        """``G sinh(k V) / k`` (``G V`` at ``k = 0``), amperes."""
        k = self.nonlinearity_per_volt
        return conductance * voltage if k == 0 else conductance * np.sinh(k * voltage) / k

    def slope(self, conductance, voltage):
        """``dI/dV = G cosh(k V)``, siemens."""
        return conductance * np.cosh(self.nonlinearity_per_volt * voltage)

    def secant(self, conductance, voltage):
        """``I / V`` (``G`` at ``V = 0``), siemens."""
        kv = self.nonlinearity_per_volt * np.asarray(voltage, dtype=float)
        ratio = np.ones_like(kv)
        nonzero = kv != 0
        ratio[nonzero] = np.sinh(kv[nonzero]) / kv[nonzero]
        return conductance * ratio


class LawCell:
    """A cell of a registered I-V law ``I = G f(V)`` (:class:`crossbar.CellIV`) for :func:`solve_passive`.

    Parameters
    ----------
    law : crossbar.CellIV
        The law, built (``crossbar.CELL_IV_MODELS.lookup(name)(device)``); it must give
        :meth:`~crossbar.CellIV.slope_per_siemens`, ``f'(V)``, for the solve's Newton steps.
    """

    def __init__(self, law):
        if not isinstance(law, CellIV):
            raise ValueError(f"law={law!r} is not allowed; a crossbar.CellIV (built) is required")
        self.law = law

    def current(self, conductance, voltage):
        """``G f(V)``, amperes."""
        return conductance * self.law.current_per_siemens(voltage)

    def slope(self, conductance, voltage):
        """``dI/dV = G f'(V)``, siemens."""
        return conductance * self.law.slope_per_siemens(voltage)

    def secant(self, conductance, voltage):
        """``I / V`` (``G f'(0)`` at ``V = 0``), siemens."""
        v = np.asarray(voltage, dtype=float)
        ratio = np.broadcast_to(self.law.slope_per_siemens(np.zeros(1)), v.shape).copy()
        nonzero = v != 0
        ratio[nonzero] = self.law.current_per_siemens(v[nonzero]) / v[nonzero]
        return conductance * ratio


@dataclass(frozen=True)
class SelectorCell:
    """A memristor in series with a selector (1S1R): ``I = G (V - V_s)`` with the selector's ``I = I0
    sinh(V_s / V_t)``, amperes.

    The selector blocks small voltages (its conductance is ``I0 / V_t`` near
    0 V) and opens above a few ``V_t``, so half-selected cells pass little
    and the cell reads as about ``G`` once the selector is open. The current
    of a voltage across the pair is the root of ``I = G (V - V_t asinh(I /
    I0))``, found by Newton's method from ``I = 0`` (the function is concave
    on either side of 0, so the iterates rise to the root without passing it).

    Parameters
    ----------
    threshold_voltage : float
        ``V_t``, volts (> 0).
    leakage_current : float
        ``I0``, amperes (> 0).
    """

    threshold_voltage: float = 0.1
    leakage_current: float = 1e-7

    ITERATIONS = 200

    def __post_init__(self):
        check_range("threshold_voltage", self.threshold_voltage, 0.0, 5.0, low_open=True, unit="V")
        check_range("leakage_current", self.leakage_current, 0.0, 1.0, low_open=True, unit="A")

    def current(self, conductance, voltage):
        """The pair's current at ``voltage`` across it, amperes."""
        g = np.asarray(conductance, dtype=float)
        v = np.asarray(voltage, dtype=float)
        magnitude, sign = np.abs(v), np.sign(v)
        vt, i0 = self.threshold_voltage, self.leakage_current
        g = np.broadcast_to(g, np.broadcast(g, v).shape)
        i = np.zeros(g.shape)
        for _ in range(self.ITERATIONS):
            f = i - g * (magnitude - vt * np.arcsinh(i / i0))
            step = f / (1.0 + g * vt / np.sqrt(i * i + i0 * i0))
            i = i - step
            if np.all(np.abs(step) <= 1e-15 * np.maximum(np.abs(i), 1e-30)):
                break
        return sign * i

    def slope(self, conductance, voltage):
        """``dI/dV = G / (1 + G V_t / sqrt(I^2 + I0^2))``, siemens."""
        i = self.current(conductance, voltage)
        return conductance / (1.0 + conductance * self.threshold_voltage
                              / np.sqrt(i * i + self.leakage_current ** 2))

    def secant(self, conductance, voltage):
        """``I / V`` (the slope at ``V = 0``), siemens."""
        v = np.asarray(voltage, dtype=float)
        i = self.current(conductance, v)
        at_zero = conductance / (1.0 + conductance * self.threshold_voltage / self.leakage_current)
        safe = np.where(v != 0, v, 1.0)
        return np.where(v != 0, i / safe, at_zero)


class _Network:
    """The nodal equations of one passive array (see :func:`solve_passive`): its unknown nodes, its
    elements, and the potentials the rest are held at.

    ``cells`` are the (word node, bit node) of each cell; ``segments`` (node, node, S) the wire segments;
    ``sources`` (node, potential index, S) the segments to the drivers; ``held`` (n_nodes, batch) the
    voltages of the nodes tied to a driver by 0 ohms (0 for the others); ``potentials``
    (rows + cols, batch) the drivers' voltages.
    """

    UNDEFINED = ("the network has a node connected to nothing that holds a potential (a floating line whose cells "
                 "are all open, say): its voltage is undefined")

    def __init__(self, cells, segments, sources, fixed, held, potentials):
        self.cells, self.segments, self.sources = cells, segments, sources
        self.held, self.potentials = held, potentials
        self.unknown = np.flatnonzero(fixed < 0)
        self.position = np.full(fixed.size, -1)
        self.position[self.unknown] = np.arange(self.unknown.size)

    def _elements(self, cell_conductances):
        return [(self.cells[0], self.cells[1], cell_conductances)] + self.segments

    def matrix(self, cell_conductances) -> sp.csc_matrix:
        """The nodal matrix of the unknown nodes with these cell conductances (S)."""
        rows, cols, values = [], [], []
        for a, b, conductances in self._elements(cell_conductances):
            for p, q in ((a, b), (b, a)):
                pu, qu = self.position[p], self.position[q]
                own = pu >= 0
                both = own & (qu >= 0)
                rows += [pu[own], pu[both]]
                cols += [pu[own], qu[both]]
                values += [conductances[own], -conductances[both]]
        if self.sources is not None:
            nodes, _, source_g = self.sources
            rows.append(self.position[nodes])
            cols.append(self.position[nodes])
            values.append(source_g)
        n = self.unknown.size
        return sp.csc_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))

    def driven(self, cell_conductances) -> np.ndarray:
        """The currents the held nodes and the drivers push into each unknown node, (unknown, batch), A."""
        out = np.zeros((self.unknown.size, self.held.shape[1]))
        for a, b, conductances in self._elements(cell_conductances):
            for p, q in ((a, b), (b, a)):
                pu, qu = self.position[p], self.position[q]
                tied = (pu >= 0) & (qu < 0)  # the other end is held at a driver's potential
                np.add.at(out, pu[tied], conductances[tied, None] * self.held[q[tied]])
        if self.sources is not None:
            nodes, potential, source_g = self.sources
            np.add.at(out, self.position[nodes], source_g[:, None] * self.potentials[potential])
        return out

    def imbalance(self, voltages, cell_currents, item: int) -> np.ndarray:
        """The current leaving each unknown node (A) for node ``voltages`` (n_nodes,) of input ``item``."""
        out = np.zeros(voltages.shape[0])
        np.add.at(out, self.cells[0], cell_currents)
        np.add.at(out, self.cells[1], -cell_currents)
        for a, b, conductance in self.segments:
            flow = conductance * (voltages[a] - voltages[b])
            np.add.at(out, a, flow)
            np.add.at(out, b, -flow)
        if self.sources is not None:
            nodes, potential, source_g = self.sources
            np.add.at(out, nodes, source_g * (voltages[nodes] - self.potentials[potential, item]))
        return out[self.unknown]

    @classmethod
    def solve(cls, matrix, rhs) -> np.ndarray:
        """``matrix^-1 rhs``; ValueError where a node is connected to nothing that holds a potential."""
        try:
            solved = spla.splu(matrix).solve(rhs)
        except RuntimeError as error:  # SuperLU: "Factor is exactly singular"
            raise ValueError(f"{cls.UNDEFINED} ({error})") from None
        except (MemoryError, SystemError) as error:  # SuperLU out of memory (or of its 32-bit indices)
            raise ValueError(f"the sparse solve of {matrix.shape[0]:,} nodes ran out of memory ({error}); "
                             "solve a smaller array") from None
        if not np.all(np.isfinite(solved)):
            raise ValueError(cls.UNDEFINED)
        return solved


def _nonlinear(network: _Network, cell, g, item: int, start, method: str, tolerance_amperes: float,
               max_iterations: int) -> np.ndarray:
    """The node voltages of input ``item`` with nonlinear cells, from the linear solution ``start``."""
    word, bit, unknown = network.cells[0], network.cells[1], network.unknown

    def imbalance(voltages):
        return network.imbalance(voltages, cell.current(g, voltages[word] - voltages[bit]), item)

    voltages = start.copy()
    residual = imbalance(voltages)
    worst = np.abs(residual).max()
    for _ in range(max_iterations):
        if worst < tolerance_amperes:
            return voltages
        across = voltages[word] - voltages[bit]
        if method == "newton":  # the Jacobian is the network with each cell's slope; halve a step that does not help
            step = network.solve(network.matrix(cell.slope(g, across)), -residual[:, None])[:, 0]
            scale = 1.0
            while True:
                trial = voltages.copy()
                trial[unknown] += scale * step
                trial_residual = imbalance(trial)
                if np.abs(trial_residual).max() < worst or scale < 1e-6:
                    break
                scale *= 0.5
        else:  # damped: half way to the solution of the network with each cell's secant conductance, which
            # is x - M_secant^-1 F(x) (at the present voltages the secant cells carry the true currents)
            trial = voltages.copy()
            trial[unknown] -= 0.5 * network.solve(network.matrix(cell.secant(g, across)), residual[:, None])[:, 0]
            trial_residual = imbalance(trial)
        voltages, residual = trial, trial_residual
        worst = np.abs(residual).max()
    if worst < tolerance_amperes:
        return voltages
    raise ValueError(f"the {method} solve did not converge in max_iterations={max_iterations}: the worst node's "
                     f"current is {worst:.3g} A, above tolerance_amperes={tolerance_amperes:g}")


def _mask(name: str, value, length: int) -> np.ndarray:
    if value is None:
        return np.zeros(length, dtype=bool)
    mask = np.asarray(value)
    if mask.shape != (length,) or mask.dtype != bool:
        raise ValueError(f"{name} has shape {mask.shape} and type {mask.dtype}; booleans of shape ({length},) "
                         "are required")
    return mask


def passive_bytes(rows: int, cols: int, batch: int, word_wires: bool, bit_wires: bool) -> float:
    """Bytes :func:`solve_passive` needs, estimated before anything is built: its results (five float64
    arrays of ``batch x rows x cols``), the network's node numbers and voltages (``batch`` per node), and the
    sparse factors, ``8 log2(N)`` entries a node (N unknown nodes; measured 3 to 6.3 on arrays of 32 x 32 to
    400 x 400 with wires) at 16 bytes an entry."""

    cells = float(rows) * float(cols)
    nodes = (cells if word_wires else rows) + (cells if bit_wires else cols)
    factors = 16.0 * nodes * max(8.0 * math.log2(max(nodes, 2.0)), 16.0)
    return 8.0 * cells * (5.0 * batch + 24.0) + 16.0 * nodes * batch + factors


def _checked_inputs(conductance, voltages, r_word_line, r_bit_line, bit_line_voltages, floating_word_lines,
                    floating_bit_lines, cell, method, tolerance_amperes, max_iterations):
    """:func:`solve_passive`'s inputs checked (``ValueError`` naming the bad one) and as arrays: the
    conductances, voltages, bit-line voltages and the floating lines' masks."""
    g = as_float_array("conductance", conductance, ndim=2)
    if np.any(g < 0):
        raise ValueError(f"conductance holds {int(np.count_nonzero(g < 0))} negative value(s); "
                         "conductances are >= 0 S (0 for an open cell)")
    rows, cols = g.shape
    v = as_float_array("voltages", voltages, ndim=2)
    if v.shape[1] != rows:
        raise ValueError(f"voltages has shape {v.shape}; (batch, {rows}) is required, one voltage per word line")
    check_range("r_word_line", r_word_line, 0.0, unit="ohm")
    check_range("r_bit_line", r_bit_line, 0.0, unit="ohm")
    bias = np.zeros(cols) if bit_line_voltages is None else as_float_array("bit_line_voltages", bit_line_voltages,
                                                                             shape=(cols,))
    if cell is not None and not isinstance(cell, (SinhCell, SelectorCell, LawCell)):
        raise ValueError(f"cell={cell!r} is not allowed; a crossbar.SinhCell, a crossbar.SelectorCell, a "
                         "LawCell of a registered cell I-V law, or None (linear)")
    check_choice("method", method, ("newton", "damped"))
    check_range("tolerance_amperes", tolerance_amperes, 0.0, low_open=True, unit="A")
    check_int("max_iterations", max_iterations, 1)
    float_word = _mask("floating_word_lines", floating_word_lines, rows)
    float_bit = _mask("floating_bit_lines", floating_bit_lines, cols)
    batch = v.shape[0]
    needed = passive_bytes(rows, cols, batch, r_word_line > 0, r_bit_line > 0)
    if needed > CHECKED_BYTES:
        check_memory(f"solve_passive of a {rows} x {cols} array for {batch} input(s)", needed)
    return g, v, bias, float_word, float_bit


def _nodes(v, bias, r_word_line, r_bit_line, float_word, float_bit):
    """The nodes of a passive array's network: each cell's word- and bit-line node ids, their count, the
    potentials (each word line's source, then each bit line's), the node each 0-ohm line ties to a
    potential (else -1), the wire segments and the links to the sources."""
    rows, cols, batch = float_word.size, float_bit.size, v.shape[0]
    word_ids = (np.arange(rows)[:, None] + np.zeros((1, cols), dtype=np.int64) if r_word_line == 0
                else np.arange(rows * cols).reshape(rows, cols))
    first_bit = int(word_ids.max()) + 1
    bit_ids = first_bit + (np.zeros((rows, 1), dtype=np.int64) + np.arange(cols)[None, :] if r_bit_line == 0
                           else np.arange(rows * cols).reshape(rows, cols))
    n_nodes = int(bit_ids.max()) + 1
    potentials = np.concatenate([v.T, np.repeat(bias[:, None], batch, axis=1)])  # (rows + cols, batch)
    fixed = np.full(n_nodes, -1)  # the potential a node is tied to by 0 ohms, else -1
    segments, to_source = [], []  # (node, node, S) and (node, potential, S)
    if r_word_line > 0:
        segments.append((word_ids[:, :-1].ravel(), word_ids[:, 1:].ravel(),
                         np.full(rows * (cols - 1), 1 / r_word_line)))
        driven = np.flatnonzero(~float_word)
        to_source.append((word_ids[driven, 0], driven, np.full(driven.size, 1 / r_word_line)))
    else:
        fixed[word_ids[~float_word, 0]] = np.flatnonzero(~float_word)
    if r_bit_line > 0:
        segments.append((bit_ids[:-1, :].ravel(), bit_ids[1:, :].ravel(),
                         np.full((rows - 1) * cols, 1 / r_bit_line)))
        held = np.flatnonzero(~float_bit)
        to_source.append((bit_ids[-1, held], rows + held, np.full(held.size, 1 / r_bit_line)))
    else:
        fixed[bit_ids[0, ~float_bit]] = rows + np.flatnonzero(~float_bit)
    return word_ids, bit_ids, n_nodes, potentials, fixed, segments, to_source


def solve_passive(conductance, voltages, r_word_line: float, r_bit_line: float,
                  bit_line_voltages=None, floating_word_lines=None, floating_bit_lines=None,
                  cell=None, method: str = "newton", tolerance_amperes: float = 1e-12,
                  max_iterations: int = 100) -> PassiveSolution:
    """Solve the resistive network of a passive array, its cells linear or bending (:class:`SinhCell`).

    Parameters
    ----------
    conductance : array_like, shape (rows, cols)
        Cell conductances, siemens (>= 0; 0 for an open cell).
    voltages : array_like, shape (batch, rows)
        Voltages applied at the word lines' first column, volts (those of floating lines are ignored).
    r_word_line, r_bit_line : float
        Resistance of one word-line and one bit-line segment, ohms (>= 0).
    bit_line_voltages : array_like, shape (cols,), optional
        Voltage each bit line is held at after its last row, volts; default 0 (virtual ground).
    floating_word_lines, floating_bit_lines : array_like of bool, shape (rows,) and (cols,), optional
        Lines connected to nothing but their cells (default: none).
    cell : SinhCell, SelectorCell or LawCell, optional
        The cells' I-V; default linear (``I = G V``, one sparse solve).
    method : {"newton", "damped"}
        For a nonlinear cell: Newton's method on the sparse Jacobian (a step
        that does not lower the worst residual is halved), or the damped
        iteration (half way to the network of the cells' secant conductances,
        again and again), which converges more slowly.
    tolerance_amperes : float
        Stop when no unknown node's currents miss balance by more (A, > 0).
    max_iterations : int
        Iterations allowed; more raise ``ValueError``.

    Returns
    -------
    PassiveSolution

    Examples
    --------
    >>> import numpy as np
    >>> from crossbar import solve_passive
    >>> g = np.full((2, 2), 1e-4)  # one cell read at word line 0 and bit line 0, the others floating
    >>> s = solve_passive(g, [[0.2, 0.0]], 0.0, 0.0, floating_word_lines=np.array([False, True]),
    ...                   floating_bit_lines=np.array([False, True]))
    >>> print(f"{s.output_currents[0, 0] / 0.2 * 1e6:.4f} uS")  # the cell and its sneak loop, 100 + 100 / 3 uS
    133.3333 uS
    """
    g, v, bias, float_word, float_bit = _checked_inputs(conductance, voltages, r_word_line, r_bit_line,
                                                         bit_line_voltages, floating_word_lines,
                                                         floating_bit_lines, cell, method, tolerance_amperes,
                                                         max_iterations)
    rows, cols = g.shape
    batch = v.shape[0]
    word_ids, bit_ids, n_nodes, potentials, fixed, segments, to_source = _nodes(
        v, bias, r_word_line, r_bit_line, float_word, float_bit)
    node_voltages = np.zeros((n_nodes, batch))
    node_voltages[fixed >= 0] = potentials[fixed[fixed >= 0]]

    # Kirchhoff's current law at every node that is not held by a driver
    network = _Network((word_ids.ravel(), bit_ids.ravel()), segments,
                       tuple(np.concatenate(x) for x in zip(*to_source)) if to_source else None,
                       fixed, node_voltages.copy(), potentials)
    unknown = network.unknown
    if unknown.size:
        cells = g.ravel()  # linear cells, or the start of the nonlinear solve
        node_voltages[unknown] = network.solve(network.matrix(cells), network.driven(cells))
        if cell is not None and not (isinstance(cell, SinhCell) and cell.nonlinearity_per_volt == 0):
            for item in range(batch):
                node_voltages[:, item] = _nonlinear(network, cell, cells, item, node_voltages[:, item], method,
                                                    tolerance_amperes, max_iterations)

    word = node_voltages[word_ids].transpose(2, 0, 1)
    bit = node_voltages[bit_ids].transpose(2, 0, 1)
    device = g * (word - bit) if cell is None else cell.current(g, word - bit)
    # Kirchhoff at each node: a word-line segment carries every cell current after it, a bit-line
    # segment every cell current above it (exact for any segment resistance, 0 included)
    word_line_currents = np.cumsum(device[:, :, ::-1], axis=2)[:, :, ::-1]
    bit_line_currents = np.cumsum(device, axis=1)
    return PassiveSolution(output_currents=bit_line_currents[:, -1, :].copy(), device_currents=device,
                           word_line_voltages=word, bit_line_voltages=bit,
                           word_line_currents=word_line_currents, bit_line_currents=bit_line_currents)
