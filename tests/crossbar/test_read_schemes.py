"""Read schemes of arrays with wires: undriven and unsensed lines grounded, floating, or cells switched off."""

import numpy as np
import pytest

import crossbar
from crossbar import Drive, Read, ReadPlan


def array_with(scheme, rows=12, cols=10, ohms=(2.0, 3.0), seed=0):
    wires = None if ohms is None else crossbar.WireResistance(*ohms)
    array = crossbar.CrossbarArray(rows, cols, crossbar.preset("ideal"), seed=seed,
                                   peripherals=crossbar.Peripherals(wires=wires, read_scheme=scheme))
    array.program(np.random.default_rng(seed).uniform(20e-6, 100e-6, (rows, cols)))
    return array


def partial_read(array, driven=(2, 7), cols=(3, 8)):
    """Rows ``driven`` driven by inputs 0.., columns ``cols`` sensed onto outputs 0.."""
    read = Read(array, (Drive(driven, 0, 1),), cols, tuple((j, 1) for j in range(cols[1] - cols[0])))
    return ReadPlan([read], driven[1] - driven[0], cols[1] - cols[0])


DRIVEN = (np.arange(12) >= 2) & (np.arange(12) < 7)
SENSED = (np.arange(10) >= 3) & (np.arange(10) < 8)


def row_voltages(x):
    """The array's row voltages of a partial read's inputs (undriven rows at 0 V)."""
    voltages = np.zeros((x.shape[0], 12))
    voltages[:, DRIVEN] = x
    return voltages


def test_scheme_is_validated():
    with pytest.raises(ValueError, match="array.read_scheme"):
        crossbar.Peripherals(read_scheme="half")


def test_floating_lines_equal_the_passive_nodal_solve():
    array = array_with("floating")
    x = np.random.default_rng(1).uniform(-0.2, 0.2, (4, 5))
    got = partial_read(array).read(x)
    expected = crossbar.solve_passive(array.conductance, row_voltages(x), 2.0, 3.0, floating_word_lines=~DRIVEN,
                                      floating_bit_lines=~SENSED).output_currents[:, 3:8]
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-18)


def test_1t1r_switches_off_the_undriven_rows():
    array = array_with("1t1r")
    x = np.random.default_rng(2).uniform(-0.2, 0.2, (3, 5))
    got = partial_read(array).read(x)
    open_rows = np.where(DRIVEN[:, None], array.conductance, 0.0)
    expected = crossbar.solve_passive(open_rows, row_voltages(x), 2.0, 3.0).output_currents[:, 3:8]
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-18)


def test_grounded_is_the_model_of_before_and_floating_lines_sneak_with_or_without_wires():
    x = np.random.default_rng(3).uniform(-0.2, 0.2, (3, 5))
    grounded = partial_read(array_with("grounded")).read(x)
    voltages = row_voltages(x)
    a = array_with("grounded")
    expected = crossbar.solve_passive(a.conductance, voltages, 2.0, 3.0).output_currents[:, 3:8]
    np.testing.assert_allclose(grounded, expected, rtol=1e-11, atol=1e-18)
    floating = partial_read(array_with("floating")).read(x)
    switched = partial_read(array_with("1t1r")).read(x)
    assert np.abs(floating - grounded).max() > 1e-2 * np.abs(grounded).max()
    assert np.abs(switched - grounded).max() > 1e-4 * np.abs(grounded).max()
    # without wires, 1T1R and grounded reads are V @ G; a floating read sneaks through three cells in series
    bare = {s: partial_read(array_with(s, ohms=None)).read(x) for s in ("grounded", "floating", "1t1r")}
    np.testing.assert_allclose(bare["grounded"], x @ a.conductance[2:7, 3:8], rtol=1e-12)
    np.testing.assert_array_equal(bare["1t1r"], bare["grounded"])
    sneaking = crossbar.solve_passive(a.conductance, voltages, 0.0, 0.0, floating_word_lines=~DRIVEN,
                                      floating_bit_lines=~SENSED).output_currents[:, 3:8]
    np.testing.assert_allclose(bare["floating"], sneaking, rtol=1e-11)
    assert np.abs(bare["floating"] - bare["grounded"]).max() > 1e-2 * np.abs(bare["grounded"]).max()


def test_a_whole_array_read_is_the_same_in_every_scheme():
    v = np.random.default_rng(4).uniform(-0.2, 0.2, (3, 12))
    reads = [array_with(s).mvm(v) for s in ("grounded", "floating", "1t1r")]
    np.testing.assert_allclose(reads[1], reads[0], rtol=1e-10)
    np.testing.assert_allclose(reads[2], reads[0], rtol=1e-10)


def test_a_write_solves_again():
    array = array_with("floating")
    plan = partial_read(array)
    x = np.full((1, 5), 0.1)
    before = plan.read(x)
    array.program(np.full((12, 10), 60e-6))
    after = plan.read(x)
    fresh = partial_read(array_with("floating")).read(x)
    assert not np.allclose(before, after)
    array2 = array_with("floating")
    array2.program(np.full((12, 10), 60e-6))
    np.testing.assert_allclose(after, partial_read(array2).read(x), rtol=1e-12)
    assert fresh.shape == after.shape
