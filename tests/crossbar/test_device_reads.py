"""Reads of one device in a passive array: V/2-biased and floating lines against the nodal solve, their
noise, write-and-verify through them, and what is refused."""

import numpy as np
import pytest

import crossbar
from crossbar.circuits.device_reads import floating_two_point_conductance, sensed_conductance
from mapping import Chip


def conductances(rows=6, cols=5, seed=0):
    return np.random.default_rng(seed).uniform(10e-6, 100e-6, (rows, cols))


@pytest.mark.parametrize("k", [0.0, 4.0])
def test_v_half_reads_are_the_nodal_solve_of_every_device(k):
    g, v = conductances(), 0.3
    sensed = sensed_conductance(g, "v_half", v, k)
    cell = crossbar.SinhCell(k) if k else None
    own = v if k == 0 else np.sinh(k * v) / k  # what the selected cell alone passes per siemens
    for i in range(6):
        for j in range(5):
            rows = np.full((1, 6), v / 2)
            rows[0, i] = v
            cols = np.full(5, v / 2)
            cols[j] = 0.0
            current = crossbar.solve_passive(g, rows, 0.0, 0.0, bit_line_voltages=cols, cell=cell).output_currents
            assert current[0, j] / own == pytest.approx(sensed[i, j], rel=1e-12)
    # the half-selected cells of the column add 1 / (2 cosh(k V / 2)) of their conductance
    ratio = 0.5 if k == 0 else 1 / (2 * np.cosh(k * v / 2))
    np.testing.assert_allclose(sensed - g, (g.sum(axis=0) - g) * ratio, rtol=1e-12)


def test_floating_reads_are_the_nodal_solve_of_every_device():
    g, v = conductances(), 0.2
    sensed = floating_two_point_conductance(g)
    for i in range(6):
        for j in range(5):
            rows = np.zeros((1, 6))
            rows[0, i] = v
            word, bit = np.ones(6, bool), np.ones(5, bool)
            word[i], bit[j] = False, False
            current = crossbar.solve_passive(g, rows, 0.0, 0.0, floating_word_lines=word,
                                             floating_bit_lines=bit).output_currents[0, j]
            assert current / v == pytest.approx(sensed[i, j], rel=1e-9, abs=1e-18)
    assert np.all(sensed > g)  # every sneak path adds
    # a row of open cells passes nothing and changes nothing for the others (it is not in the network)
    opened = g.copy()
    opened[2, :] = 0.0
    with_open = floating_two_point_conductance(opened)
    assert np.all(with_open[2] == 0.0)
    np.testing.assert_allclose(with_open[[0, 1, 3, 4, 5]], floating_two_point_conductance(g[[0, 1, 3, 4, 5]]),
                               rtol=1e-12)
    # one cell alone: its own conductance
    assert floating_two_point_conductance(np.array([[50e-6]]))[0, 0] == pytest.approx(50e-6, rel=1e-12)


def passive_array(scheme, read_noise=0.0, k=0.0, voltage=0.2, rows=32, cols=8, seed=1):
    device = crossbar.preset("hfo2_soft_bounds").replace(read_noise_sigma_relative=read_noise,
                                                          iv_nonlinearity_per_volt=k)
    return crossbar.CrossbarArray(rows, cols, device, seed=seed, peripherals=crossbar.Peripherals(
        device_read_scheme=scheme, device_read_voltage=voltage))


def test_an_array_reads_its_devices_through_the_scheme_with_the_selected_cells_noise():
    quiet = passive_array("v_half")
    quiet.program(np.full((32, 8), 50e-6))
    g = quiet.conductance
    expected = g + (g.sum(axis=0) - g) / 2
    np.testing.assert_allclose(quiet.read_conductance(), expected, rtol=1e-12)
    np.testing.assert_allclose(quiet.sensed_conductance(), expected, rtol=1e-12)
    sigma = 0.05
    noisy = passive_array("v_half", read_noise=sigma)
    noisy.program(np.full((32, 8), 50e-6))
    errors = np.array([(noisy.read_conductance() - noisy.sensed_conductance()) / noisy.conductance
                       for _ in range(60)])
    assert errors.mean() == pytest.approx(0.0, abs=0.003) and errors.std() == pytest.approx(sigma, rel=0.05)
    grounded = passive_array("grounded")
    grounded.program(np.full((32, 8), 50e-6))
    np.testing.assert_array_equal(grounded.read_conductance(), grounded.conductance)


def test_write_and_verify_through_v_half_reads_needs_bending_cells():
    """Linear cells: every verify read of a 32-row column carries half of the other 31 cells, so almost no
    device is ever accepted and every round pulses them all again. Cells that pass 1 / (2 cosh(k V / 2)) =
    5e-5 of their current at half the read voltage (k = 20 /V at 1 V) verify as with grounded lines."""
    target = np.random.default_rng(2).uniform(30e-6, 80e-6, (32, 8))
    reports = {}
    for name, scheme, k in [("grounded", "grounded", 0.0), ("linear", "v_half", 0.0), ("bending", "v_half", 20.0)]:
        reports[name] = passive_array(scheme, k=k, voltage=1.0).program(target, method="write_verify",
                                                                         tolerance=2e-6, max_rounds=8)
    assert reports["linear"].n_failed > 0.95 * target.size
    assert reports["linear"].pulses > 1.5 * reports["grounded"].pulses  # 2034 against 1096 pulses
    assert reports["grounded"].n_failed < 0.5 * target.size
    assert abs(reports["bending"].n_failed - reports["grounded"].n_failed) <= 0.05 * target.size


def test_passive_device_reads_are_refused_where_they_cannot_be():
    with pytest.raises(ValueError, match="access transistors"):
        crossbar.Peripherals(read_scheme="1t1r", device_read_scheme="v_half")
    with pytest.raises(ValueError, match="array.device_read_scheme"):
        crossbar.Peripherals(device_read_scheme="v_third")
    with pytest.raises(ValueError, match="array.device_read_voltage"):
        crossbar.Peripherals(device_read_scheme="v_half", device_read_voltage=0.0)
    with pytest.raises(ValueError, match="two-pulse"):
        crossbar.CrossbarArray(8, 8, crossbar.preset("li2019"), peripherals=crossbar.Peripherals(
            device_read_scheme="floating"))
    bending = passive_array("floating", k=2.0)
    with pytest.raises(ValueError, match="own nonlinear solve"):
        bending.read_conductance()


def test_a_chip_keeps_its_device_read_scheme_through_save_and_load(tmp_path):
    device = crossbar.preset("hfo2_soft_bounds")
    chip = Chip(device, crossbar.ArraySpec(16, 8, device_read_scheme="v_half", device_read_voltage=0.5), seed=0)
    chip.arrays  # noqa: B018 (none built yet)
    path = str(tmp_path / "chip.npz")
    chip.save(path)
    loaded = Chip.load(path)
    assert (loaded.peripherals.device_read_scheme, loaded.peripherals.device_read_voltage) == ("v_half", 0.5)
