"""Write disturb of passive arrays: which cells move, by how much, against the closed forms."""

import math

import numpy as np
import pytest

import crossbar
from crossbar.devices.disturb import disturb_update, disturb_update_reference


def fresh(seed=0, device="hfo2_soft_bounds", **changes):
    d = crossbar.preset(device).replace(**changes)
    array = crossbar.CrossbarArray(6, 5, d, seed=seed)
    array.program(np.full((6, 5), 0.5 * sum(d.programmable_range)))
    return array


@pytest.mark.parametrize("kwargs, message", [(dict(kind="v_quarter"), "write.kind"),
                                             (dict(write_voltage=0.0), "write.write_voltage"),
                                             (dict(switching_voltage=-1.0), "write.switching_voltage")])
def test_bad_schemes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        crossbar.WriteScheme(**kwargs)


def test_parts_are_the_ratios_of_the_switching_rates():
    half = crossbar.WriteScheme("v_half", 2.0, 0.25)
    assert half.half_selected_part == pytest.approx(math.sinh(4.0) / math.sinh(8.0), rel=1e-15)
    assert half.unselected_part == 0.0
    third = crossbar.WriteScheme("v_third", 2.0, 0.25)
    assert third.half_selected_part == pytest.approx(math.sinh(8 / 3) / math.sinh(8.0), rel=1e-15)
    assert third.unselected_part == -third.half_selected_part
    assert third.half_selected_part < half.half_selected_part  # V/3 disturbs the neighbours less
    assert crossbar.WriteScheme("v_half", 20.0, 0.025).half_selected_part == pytest.approx(math.exp(-400.0))


def test_which_cells_are_disturbed():
    n = np.zeros((6, 5), dtype=np.int64)
    n[2, 3] = 10
    half = crossbar.WriteScheme("v_half").disturb_pulses(n)
    f = crossbar.WriteScheme("v_half").half_selected_part
    expected = np.zeros((6, 5))
    expected[2, :] = expected[:, 3] = 10 * f
    expected[2, 3] = 0.0
    np.testing.assert_allclose(half, expected, rtol=1e-15)
    third = crossbar.WriteScheme("v_third").disturb_pulses(n)
    g = crossbar.WriteScheme("v_third").half_selected_part
    expected = np.full((6, 5), -10 * g)
    expected[2, :] = expected[:, 3] = 10 * g
    expected[2, 3] = 0.0
    np.testing.assert_allclose(third, expected, rtol=1e-15)


def test_a_write_disturbs_its_row_and_column_by_the_closed_form():
    """Linear law: a half-selected cell moves by exactly n f step; V/3 moves the rest by -n f step."""
    for kind in ("v_half", "v_third"):
        array = fresh(device="ideal", read_noise_sigma_relative=0.0)
        before = array.conductance.copy()
        n = np.zeros((6, 5), dtype=np.int64)
        n[1, 4] = 20
        scheme = crossbar.WriteScheme(kind, 1.5, 0.2)
        pulses, disturbed = array.write_passive(n, scheme)
        step = array.device.pulse_law.step_up
        change = array.conductance - before
        assert pulses == 20 and change[1, 4] == pytest.approx(20 * step, rel=1e-12)
        part = scheme.half_selected_part
        np.testing.assert_allclose(change[1, :4], 20 * part * step, rtol=1e-9)
        np.testing.assert_allclose(change[[0, 2, 3, 4, 5], 4], 20 * part * step, rtol=1e-9)
        others = np.delete(np.delete(change, 1, axis=0), 4, axis=1)
        if kind == "v_half":
            assert disturbed == 9 and np.all(others == 0.0)
        else:
            assert disturbed == 29
            np.testing.assert_allclose(others, -20 * part * step, rtol=1e-9)


def test_the_disturb_kernel_equals_its_numpy_twin():
    rng = np.random.default_rng(0)
    g = rng.uniform(20e-6, 80e-6, (7, 9))
    lo, hi = np.full_like(g, 10e-6), np.full_like(g, 100e-6)
    e = rng.normal(0.0, 0.3, g.shape) * (rng.random(g.shape) < 0.7)
    frozen = rng.random(g.shape) < 0.1
    for kind in (0, 1, 2):
        expected, moved = disturb_update_reference(g, e, lo, hi, frozen, kind, 1e-6, 2e-6, 3.0)
        got = g.copy()
        assert disturb_update(got, e, lo, hi, frozen, kind, 1e-6, 2e-6, 3.0) == moved
        np.testing.assert_array_equal(got, expected)


def test_many_writes_wear_the_unwritten_cells_down_and_two_pulse_devices_refuse():
    array = fresh(device="hfo2_soft_bounds")
    start = array.conductance.copy()
    counted = array.counters.copy()
    n = np.zeros((6, 5), dtype=np.int64)
    n[0, 0] = -30  # depress one cell: its row and column drift down with it
    for _ in range(20):
        array.write_passive(n, crossbar.WriteScheme("v_half", 1.2, 0.2))
    change = array.conductance - start
    assert np.all(change[0, 1:] < 0) and np.all(change[1:, 0] < 0) and np.all(change[1:, 1:] == 0)
    assert array.counters.programming_pulses - counted.programming_pulses == 600
    assert array.counters.row_pulse_steps - counted.row_pulse_steps == 600  # one cell at a time
    li = crossbar.CrossbarArray(4, 4, crossbar.preset("li2019"), seed=0)
    with pytest.raises(ValueError, match="two-pulse"):
        li.write_passive(np.zeros((4, 4), dtype=int), crossbar.WriteScheme())
