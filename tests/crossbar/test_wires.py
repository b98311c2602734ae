"""IR drop: nodal analysis against the Numba solver, and the physics of the drop."""

import numpy as np
import pytest

import crossbar
from crossbar import WireResistance, solve_iterative, solve_sparse


@pytest.mark.parametrize("ohms", [1e-3, 1.0, 20.0])
def test_numba_solver_matches_sparse(rng, ohms):
    g = rng.uniform(10e-6, 300e-6, (16, 8))
    v = rng.uniform(-0.2, 0.2, (5, 16))
    exact = solve_sparse(v, g, ohms, 2 * ohms)
    iterative = solve_iterative(v, g, ohms, 2 * ohms, tolerance=1e-14)
    assert np.max(np.abs(iterative - exact)) <= 1e-9 * np.max(np.abs(exact))


def test_currents_approach_ideal_as_wires_vanish(rng):
    g = rng.uniform(10e-6, 300e-6, (32, 16))
    v = rng.uniform(0.0, 0.2, (3, 32))
    ideal = v @ g
    errors = [np.max(np.abs(solve_sparse(v, g, r, r) - ideal)) / np.max(np.abs(ideal))
              for r in (10.0, 1.0, 0.1, 0.01, 1e-4)]
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 1e-5
    # first order in r: ten times less resistance, about ten times less error
    assert 5 < errors[-3] / errors[-2] < 20


def test_drop_grows_with_distance_from_driven_end():
    g = np.full((16, 16), 100e-6)
    v = np.full((1, 16), 0.2)
    ideal = (v @ g)[0]
    loss = 1 - solve_sparse(v, g, 2.0, 1e-6)[0] / ideal  # row wires only
    assert np.all(np.diff(loss) > 0) and loss[0] > 0
    # and along the columns: cells far from the sense end lose more
    g_single = np.zeros((16, 1))
    losses = []
    for i in (15, 8, 0):
        g_single[:] = 0.0
        g_single[i, 0] = 100e-6
        losses.append(1 - solve_sparse(np.full((1, 16), 0.2), g_single, 1e-6, 5.0)[0, 0] / (0.2 * 100e-6))
    assert losses[0] < losses[1] < losses[2]


def test_wires_in_the_array(rng):
    wires = WireResistance(row_segment_ohms=1.0, col_segment_ohms=1.0)
    g = rng.uniform(100e-6, 300e-6, (24, 12))
    v = rng.uniform(-0.2, 0.2, (4, 24))
    for solver in ("iterative", "sparse"):
        array = crossbar.CrossbarArray(24, 12, crossbar.preset("ideal"), seed=0,
                                       peripherals=crossbar.Peripherals(wires=WireResistance(1.0, 1.0, solver)))
        array.program(g)
        np.testing.assert_allclose(array.mvm(v), solve_sparse(v, g, 1.0, 1.0), rtol=1e-9,
                                   atol=1e-12 * np.abs(v @ g).max())
    assert np.max(np.abs(wires.solve(v, g) - v @ g)) > 1e-3 * np.abs(v @ g).max()


def test_wire_config_and_nonconvergence(rng):
    with pytest.raises(ValueError, match="row_segment_ohms"):
        WireResistance(row_segment_ohms=0.0)
    with pytest.raises(ValueError, match="solver"):
        WireResistance(solver="magic")
    g = rng.uniform(10e-6, 300e-6, (16, 8))
    with pytest.raises(RuntimeError, match="converge"):
        solve_iterative(np.full((1, 16), 0.2), g, 1000.0, 1000.0, tolerance=1e-15, max_iterations=2)


@pytest.mark.parametrize("shape", [(128, 64), pytest.param((64, 128), marks=pytest.mark.slow), (16, 8), (1, 1), (1, 7),
                                   (9, 1)])
@pytest.mark.parametrize("ohms", [(1.0, 1.0), (2.5, 0.5), (0.1, 10.0)])
def test_block_elimination_matches_the_sparse_lu(rng, shape, ohms):
    """G_eff by block elimination along the column wires against one sparse LU of the whole network."""
    from crossbar.circuits.wires import effective_conductance_sparse

    g = rng.uniform(1e-6, 1e-4, shape)
    reference = effective_conductance_sparse(g, *ohms)
    np.testing.assert_allclose(crossbar.effective_conductance(g, *ohms), reference, rtol=0,
                               atol=1e-11 * np.abs(reference).max())
    # and it is the linear network: its products are the nodal solve's currents
    v = rng.uniform(-0.2, 0.2, (3, shape[0]))
    currents = solve_sparse(v, g, *ohms)
    np.testing.assert_allclose(v @ crossbar.effective_conductance(g, *ohms), currents, rtol=0,
                               atol=1e-11 * np.abs(currents).max())


def test_row_wire_inverses_kernel_equals_numpy_twin(rng):
    from crossbar.circuits.wires import row_wire_inverses, row_wire_inverses_reference

    for shape in [(5, 1), (3, 2), (7, 33)]:
        g = rng.uniform(1e-6, 1e-4, shape)
        for g_row in (1.0, 0.4, 20.0):
            np.testing.assert_allclose(row_wire_inverses(g, g_row), row_wire_inverses_reference(g, g_row),
                                       rtol=1e-12, atol=0)
