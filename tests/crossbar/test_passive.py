"""The passive array's nodal solve: all 33 Qucs circuit solutions in every quantity, the 1T1R solve when
every line is driven, closed forms of sneak paths through floating lines, biased lines, refusals."""

import glob
import os

import numpy as np
import pytest

import crossbar
from crossbar import solve_passive, solve_sparse

QUCS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "data", "qucs_crossbars", "*.npz")))


def test_there_are_33_qucs_solutions():
    assert len(QUCS) == 33


@pytest.mark.parametrize("path", QUCS, ids=[os.path.basename(p) for p in QUCS])
def test_against_qucs_every_current_and_voltage(path):
    """badcrossbar's Qucs solutions (README in tests/data/qucs_crossbars: source, licence), 0-ohm lines and
    open cells included: outputs, cells, both lines' segment currents and node voltages to 1e-9."""
    data = np.load(path)
    with np.errstate(divide="ignore"):
        g = np.where(np.isinf(data["R"]), 0.0, 1.0 / data["R"])
    s = solve_passive(g, data["V"].T, float(data["r_i_wl"]), float(data["r_i_bl"]))
    for name, ours in (("I_o", s.output_currents), ("I_d", s.device_currents[0]),
                       ("I_w", s.word_line_currents[0]), ("I_b", s.bit_line_currents[0]),
                       ("V_w", s.word_line_voltages[0]), ("V_b", s.bit_line_voltages[0])):
        reference = data[name]
        np.testing.assert_allclose(ours.reshape(reference.shape), reference, rtol=1e-9,
                                   atol=1e-9 * max(np.abs(reference).max(), 1e-300), err_msg=name)


@pytest.mark.parametrize("ohms", [(2.0, 3.0), (0.5, 0.1)])
def test_every_line_driven_is_the_1t1r_solve(rng, ohms):
    g = rng.uniform(1e-6, 1e-4, (16, 8))
    v = rng.uniform(-0.2, 0.2, (3, 16))
    s = solve_passive(g, v, *ohms)
    reference = solve_sparse(v, g, *ohms)
    np.testing.assert_allclose(s.output_currents, reference, rtol=0, atol=1e-12 * np.abs(reference).max())
    np.testing.assert_allclose(s.output_currents, v @ crossbar.effective_conductance(g, *ohms), rtol=0,
                               atol=1e-11 * np.abs(reference).max())


def test_ideal_lines_are_v_times_g(rng):
    g = rng.uniform(0.0, 1e-4, (5, 7))
    v = rng.uniform(-0.3, 0.3, (4, 5))
    s = solve_passive(g, v, 0.0, 0.0)
    np.testing.assert_array_equal(s.output_currents, np.cumsum(g[None] * v[:, :, None], axis=1)[:, -1])
    assert np.all(s.bit_line_voltages == 0) and np.all(s.word_line_voltages == v[:, :, None])


def test_one_cell_read_with_floating_lines_is_the_cell_plus_its_sneak_loop():
    """Word line 0 at V, bit line 0 at ground, every other line floating, ideal wires.

    2 x 2: the sneak loop is the other three cells in series. n x m of equal cells: by symmetry the
    floating bit lines share a potential, and so do the floating word lines: three conductances in series,
    (m - 1) g, (n - 1)(m - 1) g and (n - 1) g.
    """
    g = np.array([[1e-4, 2e-5], [5e-5, 8e-5]])
    s = solve_passive(g, [[0.2, 0.0]], 0.0, 0.0, floating_word_lines=np.array([False, True]),
                      floating_bit_lines=np.array([False, True]))
    sneak = 1.0 / (1 / g[0, 1] + 1 / g[1, 1] + 1 / g[1, 0])
    assert s.output_currents[0, 0] == pytest.approx(0.2 * (g[0, 0] + sneak), rel=1e-12)
    assert abs(s.output_currents[0, 1]) < 1e-18  # a floating line carries nothing out
    for n, m in [(3, 4), (5, 3), (8, 8)]:
        cell = 1e-4
        s = solve_passive(np.full((n, m), cell), np.r_[0.2, np.zeros(n - 1)][None], 0.0, 0.0,
                          floating_word_lines=np.arange(n) > 0, floating_bit_lines=np.arange(m) > 0)
        sneak = 1.0 / (1 / ((m - 1) * cell) + 1 / ((n - 1) * (m - 1) * cell) + 1 / ((n - 1) * cell))
        assert s.output_currents[0, 0] == pytest.approx(0.2 * (cell + sneak), rel=1e-12)
    # the sneak paths are gone when the unselected lines are held at ground
    s = solve_passive(np.full((4, 4), 1e-4), [[0.2, 0.0, 0.0, 0.0]], 0.0, 0.0)
    assert s.output_currents[0, 0] == pytest.approx(0.2 * 1e-4, rel=1e-14)


def test_half_biased_lines(rng):
    """The V/2 scheme with ideal wires: the selected cell sees V, half-selected cells V/2, the rest 0."""
    g = rng.uniform(1e-6, 1e-4, (4, 5))
    v = 0.4
    s = solve_passive(g, [[v, v / 2, v / 2, v / 2]], 0.0, 0.0, bit_line_voltages=np.r_[0.0, np.full(4, v / 2)])
    across = s.word_line_voltages[0] - s.bit_line_voltages[0]
    expected = np.zeros((4, 5))
    expected[0, :] = v / 2
    expected[:, 0] = v / 2
    expected[0, 0] = v
    np.testing.assert_allclose(across, expected, atol=1e-15)
    assert s.output_currents[0, 0] == pytest.approx(g[0, 0] * v + g[1:, 0].sum() * v / 2, rel=1e-12)


def test_kirchhoff_with_resistive_floating_lines(rng):
    """With resistive wires and floating lines: every cell current leaves its word line and enters its bit
    line, the driven lines' source currents equal the sensed currents in total, floating lines carry none."""
    g = rng.uniform(1e-6, 1e-4, (6, 5))
    float_word, float_bit = np.array([0, 1, 0, 1, 1, 0], bool), np.array([0, 0, 1, 0, 1], bool)
    v = rng.uniform(-0.2, 0.2, (2, 6))
    s = solve_passive(g, v, 1.5, 2.5, floating_word_lines=float_word, floating_bit_lines=float_bit)
    scale = np.abs(s.device_currents).max()
    np.testing.assert_allclose(s.word_line_currents[:, float_word, 0], 0.0, atol=1e-10 * scale)
    np.testing.assert_allclose(s.output_currents[:, float_bit], 0.0, atol=1e-10 * scale)
    np.testing.assert_allclose(s.word_line_currents[:, :, 0].sum(axis=1), s.output_currents.sum(axis=1),
                               rtol=1e-10)
    # a driven word line's first segment carries (source voltage - first node voltage) / r
    driven = ~float_word
    np.testing.assert_allclose(s.word_line_currents[:, driven, 0],
                               (v[:, driven] - s.word_line_voltages[:, driven, 0]) / 1.5, rtol=1e-9)


def test_refusals(rng):
    g = rng.uniform(1e-6, 1e-4, (3, 2))
    with pytest.raises(ValueError, match="negative"):
        solve_passive(-g, np.zeros((1, 3)), 1.0, 1.0)
    with pytest.raises(ValueError, match="one voltage per word line"):
        solve_passive(g, np.zeros((1, 2)), 1.0, 1.0)
    with pytest.raises(ValueError, match="r_word_line"):
        solve_passive(g, np.zeros((1, 3)), -1.0, 1.0)
    for mask in ([True, False, True], [1, 0]):
        with pytest.raises(ValueError, match="floating_bit_lines"):
            solve_passive(g, np.zeros((1, 3)), 1.0, 1.0, floating_bit_lines=mask)
    with pytest.raises(ValueError, match="voltages"):
        solve_passive(g, np.full((1, 3), np.nan), 1.0, 1.0)
    open_line = g.copy()
    open_line[:, 1] = 0.0
    with pytest.raises(ValueError, match="connected to nothing"):
        solve_passive(open_line, np.zeros((1, 3)), 0.0, 0.0, floating_bit_lines=np.array([False, True]))


# ------------------------------------------------------------------ nonlinear cells
def _kirchhoff_residual(s, voltages, r_word_line, r_bit_line):
    """The worst current imbalance (A) at any node, from the node voltages and cell currents alone
    (every line driven, both kinds of segment resistive)."""
    w, b, d = s.word_line_voltages, s.bit_line_voltages, s.device_currents
    left = np.concatenate([voltages[:, :, None], w[:, :, :-1]], axis=2)  # the source, then the node before
    right = np.concatenate([w[:, :, 1:], w[:, :, -1:]], axis=2)  # the last node has no segment after it
    word = (left - w) / r_word_line - (w - right) / r_word_line - d
    above = np.concatenate([b[:, :1], b[:, :-1]], axis=1)  # the first node has no segment above it
    below = np.concatenate([b[:, 1:], np.zeros_like(b[:, :1])], axis=1)  # ground after the last row
    bit = d + (above - b) / r_bit_line - (b - below) / r_bit_line
    return max(np.abs(word).max(), np.abs(bit).max())


def test_sinh_cell_alone_is_its_closed_form():
    from crossbar.circuits.passive import SinhCell

    cell = SinhCell(3.0)
    s = solve_passive([[1e-4]], [[0.5], [-0.2]], 0.0, 0.0, cell=cell)
    np.testing.assert_allclose(s.output_currents[:, 0], 1e-4 * np.sinh(3.0 * np.array([0.5, -0.2])) / 3.0,
                               rtol=1e-14)
    # with wires: the cell in series with two segments, I = G sinh(k (V - I R)) / k, solved by bisection
    s = solve_passive([[1e-3]], [[0.8]], 30.0, 70.0, cell=cell)
    low, high = 0.0, 1e-3 * np.sinh(3.0 * 0.8) / 3.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if 1e-3 * np.sinh(3.0 * (0.8 - mid * 100.0)) / 3.0 > mid else (low, mid)
    assert s.output_currents[0, 0] == pytest.approx(low, rel=1e-12)


@pytest.mark.parametrize("shape", [(16, 8), pytest.param((128, 64), marks=pytest.mark.slow)])
def test_newton_converges_and_agrees_with_the_damped_iteration(rng, shape):
    from crossbar.circuits.passive import SinhCell

    g = rng.uniform(1e-6, 1e-4, shape)
    v = rng.uniform(-0.5, 0.5, (1, shape[0]))
    newton = solve_passive(g, v, 1.0, 2.0, cell=SinhCell(3.0))
    assert _kirchhoff_residual(newton, v, 1.0, 2.0) < 1e-12  # amperes
    # the two stop at different points within their tolerance: outputs agree to about the tolerance
    tight = dict(cell=SinhCell(3.0), tolerance_amperes=1e-15)
    damped = solve_passive(g, v, 1.0, 2.0, method="damped", max_iterations=1000, **tight)
    np.testing.assert_allclose(solve_passive(g, v, 1.0, 2.0, **tight).output_currents, damped.output_currents,
                               rtol=0, atol=1e-13)
    linear = solve_passive(g, v, 1.0, 2.0)
    assert not np.allclose(newton.output_currents, linear.output_currents, rtol=1e-3)  # it does bend
    np.testing.assert_array_equal(solve_passive(g, v, 1.0, 2.0, cell=SinhCell(0.0)).output_currents,
                                  linear.output_currents)


def test_a_bending_cell_shrinks_the_sneak_current():
    """Through floating lines the sneak loop's three cells each see about a third of the read voltage, so a
    cell that bends upwards passes relatively less there than in the selected cell."""
    from crossbar.circuits.passive import SinhCell

    g = np.full((4, 4), 1e-4)
    unselected = np.arange(4) > 0
    share = []
    for cell in (None, SinhCell(5.0)):
        s = solve_passive(g, [[0.6, 0, 0, 0]], 0.0, 0.0, floating_word_lines=unselected,
                          floating_bit_lines=unselected, cell=cell)
        selected = s.device_currents[0, 0, 0]
        share.append((s.output_currents[0, 0] - selected) / selected)
    assert share[1] < 0.5 * share[0]


def test_nonlinear_refusals(rng):
    from crossbar.circuits.passive import SinhCell

    g = rng.uniform(1e-6, 1e-4, (8, 4))
    v = rng.uniform(-1, 1, (1, 8))
    with pytest.raises(ValueError, match="did not converge"):
        solve_passive(g, v, 1.0, 1.0, cell=SinhCell(20.0), method="damped", max_iterations=2)
    with pytest.raises(ValueError, match="method"):
        solve_passive(g, v, 1.0, 1.0, cell=SinhCell(2.0), method="secant")
    with pytest.raises(ValueError, match="cell="):
        solve_passive(g, v, 1.0, 1.0, cell="sinh")
    with pytest.raises(ValueError, match="nonlinearity_per_volt"):
        SinhCell(-1.0)


@pytest.mark.parametrize("ratio", [2.0, 3.0, 10.0, 100.0])
def test_a_cell_from_its_current_ratio_has_that_ratio(ratio):
    cell = crossbar.SinhCell.from_current_ratio(ratio, 0.4)
    assert cell.current(1e-4, 0.4) / cell.current(1e-4, 0.2) == pytest.approx(ratio, rel=1e-12)
    if ratio == 2.0:
        assert cell.nonlinearity_per_volt == 0.0
    with pytest.raises(ValueError, match="current_ratio"):
        crossbar.SinhCell.from_current_ratio(1.5, 0.4)


# ------------------------------------------------------------------ selector cells (1S1R)
def test_selector_cell_current_is_the_root_of_its_series_pair():
    cell = crossbar.SelectorCell(0.1, 1e-7)
    v = np.array([-1.0, -0.3, -1e-3, 0.0, 1e-3, 0.2, 0.5, 1.0])
    g = 1e-4
    i = cell.current(g, v)
    np.testing.assert_allclose(i, g * (v - 0.1 * np.arcsinh(i / 1e-7)), rtol=0, atol=1e-18)
    np.testing.assert_array_equal(cell.current(g, -v), -i)
    h = 1e-7
    numeric = (cell.current(g, v + h) - cell.current(g, v - h)) / (2 * h)
    np.testing.assert_allclose(cell.slope(g, v), numeric, rtol=1e-6)
    assert cell.secant(g, np.array([0.0]))[0] == pytest.approx(g / (1 + g * 0.1 / 1e-7), rel=1e-12)
    # a blocking selector: at a tenth of the read voltage the cell passes far less than a tenth of its current
    assert cell.current(g, 0.1) < 0.02 * cell.current(g, 1.0)
    with pytest.raises(ValueError, match="threshold_voltage"):
        crossbar.SelectorCell(0.0, 1e-7)


def test_newton_converges_with_selector_cells(rng):
    g = rng.uniform(1e-6, 1e-4, (16, 8))
    v = rng.uniform(-1.0, 1.0, (1, 16))
    cell = crossbar.SelectorCell(0.1, 1e-7)
    newton = solve_passive(g, v, 1.0, 2.0, cell=cell)
    assert _kirchhoff_residual(newton, v, 1.0, 2.0) < 1e-12  # amperes
    damped = solve_passive(g, v, 1.0, 2.0, cell=cell, method="damped", max_iterations=2000, tolerance_amperes=1e-14)
    np.testing.assert_allclose(newton.output_currents, damped.output_currents, rtol=0, atol=1e-12)
    # one cell alone: the closed root
    alone = solve_passive([[1e-4]], [[0.7]], 0.0, 0.0, cell=cell)
    assert alone.output_currents[0, 0] == pytest.approx(cell.current(1e-4, 0.7), rel=1e-12)


def test_a_selector_cuts_the_sneak_current_of_a_floating_read():
    g = np.full((16, 8), 1e-4)
    v = np.zeros((1, 16))
    v[0, 0] = 1.0
    floating = dict(floating_word_lines=np.arange(16) > 0, floating_bit_lines=np.arange(8) > 0)
    cell = crossbar.SelectorCell(0.1, 1e-7)
    linear = solve_passive(g, v, 1.0, 1.0, **floating).output_currents[0, 0] / (1e-4 * 1.0)
    selected = solve_passive(g, v, 1.0, 1.0, cell=cell, **floating).output_currents[0, 0] / cell.current(1e-4, 1.0)
    assert linear > 5.0 and selected < 2.0  # the read over the cell's own current
