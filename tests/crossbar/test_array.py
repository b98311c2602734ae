"""CrossbarArray: the physics the issue asks for, checked statistically."""

import dataclasses

import numpy as np
import pytest
from scipy import stats

import crossbar
from crossbar import CrossbarArray, DeviceModel, preset


def _li_targets(rng, shape=(128, 64)):
    low, high = preset("li2019").programmable_range
    return rng.uniform(low, high, shape)


def test_ideal_mvm_equals_matmul(rng):
    array = CrossbarArray(128, 64, preset("ideal"), seed=0)
    target = rng.uniform(0, 400e-6, (128, 64))
    array.program(target)
    np.testing.assert_array_equal(array.conductance, target)
    for batch in (1, 7, 256):
        v = rng.uniform(-0.2, 0.2, (batch, 128))
        expected = v @ target
        got = array.mvm(v)
        assert np.max(np.abs(got - expected)) <= 1e-12 * np.max(np.abs(expected))


def test_program_noise_matches_sigma_over_20_programmings(rng):
    device = preset("li2019")
    array = CrossbarArray(128, 64, device, seed=1)
    errors = []
    for _ in range(20):
        target = _li_targets(rng)
        array.program(target)
        errors.append((array.conductance - target)[~array.stuck])
    errors = np.concatenate(errors)
    assert abs(errors.std() / device.program_noise_sigma - 1.0) < 0.10
    assert abs(errors.mean()) < 0.05 * device.program_noise_sigma


def test_program_noise_relative_and_absolute(rng):
    device = DeviceModel(g_min=10e-6, g_max=100e-6, program_noise_sigma=1e-6, program_noise_sigma_relative=0.02)
    array = CrossbarArray(128, 64, device, seed=2)
    target = np.full((128, 64), 50e-6)
    array.program(target)
    assert abs((array.conductance - target).std() / device.program_sigma(50e-6) - 1) < 0.05


def test_quantized_devices_take_only_levels(rng):
    device = DeviceModel(g_min=10e-6, g_max=100e-6, n_levels=16)
    array = CrossbarArray(128, 64, device, seed=3)
    array.program(rng.uniform(10e-6, 100e-6, (128, 64)))
    distance = np.min(np.abs(array.conductance[..., None] - device.levels[None, None, :]), axis=-1)
    assert np.all(distance < 1e-18)
    assert len(np.unique(np.round(array.conductance / 1e-9))) <= 16


def test_stuck_fractions_are_binomial():
    n_devices = 128 * 64 * 20
    low_p, high_p = 0.003, 0.002
    device = preset("li2019").replace(stuck_at_gmin_fraction=low_p, stuck_at_gmax_fraction=high_p)
    low = high = 0
    for seed in range(20):
        array = CrossbarArray(128, 64, device, seed=seed)
        low += int(np.count_nonzero(array.faults == 1))
        high += int(np.count_nonzero(array.faults == 2))
        target = _li_targets(np.random.default_rng(seed))
        array.program(target)
        stuck_low = array.faults == 1
        np.testing.assert_array_equal(array.conductance[stuck_low], array.g_low[stuck_low])
        np.testing.assert_array_equal(array.conductance[array.faults == 2], array.g_high[array.faults == 2])
    for count, p in ((low, low_p), (high, high_p)):
        assert abs(count - n_devices * p) <= 3 * np.sqrt(n_devices * p * (1 - p))


def test_read_noise_std_and_freshness(rng):
    device = preset("li2019").replace(read_noise_sigma_relative=0.01)
    array = CrossbarArray(128, 64, device, seed=4)
    array.program(_li_targets(rng))
    working = ~array.stuck
    g = array.conductance[working]
    first, second = array.read_conductance(), array.read_conductance()
    relative = np.concatenate([first[working] / g - 1, second[working] / g - 1])
    assert abs(relative.std() / 0.01 - 1) < 0.05
    assert not np.array_equal(first, second)
    assert stats.kstest(relative / 0.01, "norm").pvalue > 1e-4


def test_mvm_read_noise_has_exact_column_variance(rng):
    sigma = 0.01
    device = preset("ideal").replace(read_noise_sigma_relative=sigma)
    array = CrossbarArray(32, 8, device, seed=5)
    g = rng.uniform(50e-6, 300e-6, (32, 8))
    array.program(g)
    v = rng.uniform(-0.2, 0.2, (1, 32))
    samples = array.mvm(np.repeat(v, 4000, axis=0))
    expected_std = sigma * np.sqrt((v ** 2) @ (g ** 2))[0]
    assert np.allclose(samples.mean(axis=0), (v @ g)[0], atol=4 * expected_std.max() / np.sqrt(4000))
    assert np.all(np.abs(samples.std(axis=0) / expected_std - 1) < 0.06)
    assert not np.array_equal(array.mvm(v), array.mvm(v))


def test_write_verify_meets_tolerance(rng):
    device = preset("li2019")
    array = CrossbarArray(128, 64, device, seed=6)
    target = _li_targets(rng)
    tolerance = 4e-6
    report = array.program(target, method="write_verify", tolerance=tolerance, max_rounds=20)
    working = ~array.stuck
    within = np.mean(np.abs(array.conductance - target)[working] <= tolerance)
    assert within >= 0.99
    assert report.within_tolerance == pytest.approx(within)
    assert report.rounds > 1 and report.device_reads > 0
    one_shot = CrossbarArray(128, 64, device, seed=6)
    one = one_shot.program(target)
    assert report.residual_rms < one.residual_rms
    assert "write_verify" in str(report)


def test_write_verify_stops_early_rereads_only_the_rest_and_verifies_its_last_round(rng):
    """li2019, 128x64, 4 uS: it stops once every working device is accepted (stuck ones are known and not
    verified), re-reads only what is not yet accepted, and reports every device it could not bring in."""
    device = preset("li2019")
    target = _li_targets(rng)
    array = CrossbarArray(128, 64, device, seed=6)
    report = array.program(target, method="write_verify", tolerance=4e-6)
    working = ~array.stuck
    assert array.stuck.any() and report.rounds < 20  # it did not spend the 20 rounds on stuck devices
    assert report.device_reads < 2 * working.sum()  # the first verify reads all, later ones only the rest
    error = np.abs(array.conductance - target)[working]
    # accepted on a noisy read with a guard band of two read sigmas: the true error is at most that past it
    assert error.max() <= 4e-6 + 3 * device.read_noise_sigma_relative * target.max()
    assert report.n_failed == 0
    # too tight to meet in 3 rounds: every device still out is reported, with its true error
    tight = CrossbarArray(128, 64, device, seed=7)
    report = tight.program(target, method="write_verify", tolerance=1e-6, max_rounds=3)
    assert report.rounds == 3 and report.n_failed > 0
    errors = tight.conductance - target
    np.testing.assert_array_equal(report.failed_errors, errors[report.failed_rows, report.failed_cols])
    assert not tight.stuck[report.failed_rows, report.failed_cols].any()
    assert "failed verify" in str(report)


def test_same_seed_same_array_different_seed_differs(rng):
    device = preset("hfo2_soft_bounds")
    target = rng.uniform(20e-6, 90e-6, (32, 16))
    v = rng.uniform(-0.2, 0.2, (10, 32))

    def build(seed):
        array = CrossbarArray(32, 16, device, seed=seed, peripherals=crossbar.preset_peripherals("hfo2_soft_bounds",
                                                                                                 adc_full_scale=1e-4))
        array.program(target)
        array.apply_pulses(np.ones((32, 16), dtype=int))
        return array, array.mvm(v), array.read_conductance()

    a, ia, ra = build(7)
    b, ib, rb = build(7)
    c, ic, rc = build(8)
    np.testing.assert_array_equal(a.conductance, b.conductance)
    np.testing.assert_array_equal(a.faults, b.faults)
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(ra, rb)
    assert not np.array_equal(a.conductance, c.conductance)
    assert not np.array_equal(ia, ic)


@pytest.mark.parametrize("bad, match", [
    (np.full((2, 5), np.nan), "NaN"),
    (np.zeros((2, 4)), "shape"),
    (np.zeros((0, 5)), "shape"),
    (np.zeros(5), "shape"),
])
def test_mvm_rejects_bad_voltages(bad, match):
    for peripherals in (None, crossbar.preset_peripherals("li2019")):
        array = CrossbarArray(5, 3, preset("li2019"), seed=0, peripherals=peripherals)
        with pytest.raises(ValueError, match=match):
            array.mvm(bad)


def test_program_rejects_bad_targets():
    array = CrossbarArray(4, 3, preset("li2019"), seed=0)
    with pytest.raises(ValueError, match="shape"):
        array.program(np.full((3, 4), 200e-6))
    with pytest.raises(ValueError, match="NaN"):
        array.program(np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="programmable range"):
        array.program(np.full((4, 3), 300e-6))
    array.program(np.full((4, 3), 300e-6), clip=True)
    with pytest.raises(ValueError, match="method"):
        array.program(np.full((4, 3), 200e-6), method="magic")
    for bad in ((0, 3), (4, -1)):
        with pytest.raises(ValueError, match="rows|cols"):
            CrossbarArray(*bad, preset("ideal"))
    with pytest.raises(ValueError, match="device"):
        CrossbarArray(2, 2, "li2019")
    with pytest.raises(ValueError, match="seed"):
        CrossbarArray(2, 2, preset("ideal"), seed=-1)


def test_two_pulse_set_never_lowers_and_reset_does():
    device = preset("li2019").replace(program_noise_sigma=0.0, stuck_at_gmin_fraction=0.0,
                                      stuck_at_gmax_fraction=0.0, read_noise_sigma_relative=0.0)
    scheme = device.two_pulse
    array = CrossbarArray(4, 4, device, seed=0)
    array.program(np.full((4, 4), scheme.set_conductance(1.4)))
    g_before = array.conductance.copy()
    array.apply_two_pulse(1.0, np.zeros((4, 4), dtype=bool))   # SET lower: stays
    np.testing.assert_allclose(array.conductance, g_before)
    reset = np.zeros((4, 4), dtype=bool)
    reset[0] = True
    array.apply_two_pulse(1.0, reset)                          # RESET then SET: goes down
    np.testing.assert_allclose(array.conductance[0], scheme.set_conductance(1.0))
    np.testing.assert_allclose(array.conductance[1:], g_before[1:])
    array.apply_two_pulse(1.5, np.zeros((4, 4), dtype=bool))   # SET higher: goes up
    np.testing.assert_allclose(array.conductance, scheme.set_conductance(1.5))
    with pytest.raises(ValueError, match="gate_voltage"):
        array.apply_two_pulse(1.7, reset)
    with pytest.raises(ValueError, match="two_pulse"):
        CrossbarArray(2, 2, preset("ideal")).apply_two_pulse(1.0, np.zeros((2, 2), bool))


def test_two_pulse_region_leaves_rest_untouched(rng):
    array = CrossbarArray(8, 6, preset("li2019"), seed=1)
    array.program(_li_targets(rng, (8, 6)))
    before = array.conductance.copy()
    array.apply_two_pulse(np.full((2, 3), 1.2), np.ones((2, 3), dtype=bool), rows=slice(2, 4), cols=slice(1, 4))
    untouched = np.ones((8, 6), dtype=bool)
    untouched[2:4, 1:4] = False
    np.testing.assert_array_equal(array.conductance[untouched], before[untouched])
    assert not np.array_equal(array.conductance[2:4, 1:4], before[2:4, 1:4])


def test_gate_steps_equal_two_pulse_with_the_same_voltages(rng):
    """step_gate_voltages is apply_two_pulse with Vg + step cut to the range and RESET where Vg falls."""
    scheme = preset("li2019").two_pulse
    stepped, reference = CrossbarArray(8, 6, preset("li2019"), seed=4), CrossbarArray(8, 6, preset("li2019"), seed=4)
    target = _li_targets(rng, (8, 6))
    for array in (stepped, reference):
        array.program(target)
    rows, cols = slice(1, 7), slice(2, 5)
    step = rng.normal(0.0, 0.4, (6, 3))
    old = reference.gate_voltage[rows, cols].copy()
    new = np.clip(old + step, scheme.gate_voltage_min, scheme.gate_voltage_max)
    pulses, limited = stepped.step_gate_voltages(step, rows, cols)
    assert pulses == reference.apply_two_pulse(new, new < old, rows=rows, cols=cols)
    assert limited == np.count_nonzero(np.abs(new - (old + step)) > 1e-12) > 0
    np.testing.assert_array_equal(stepped.conductance, reference.conductance)
    np.testing.assert_array_equal(stepped.gate_voltage, reference.gate_voltage)
    assert stepped.counters == reference.counters
    with pytest.raises(ValueError, match="never programmed"):
        CrossbarArray(4, 4, preset("li2019"), seed=0).step_gate_voltages(0.1)
    with pytest.raises(ValueError, match="select no device"):
        stepped.step_gate_voltages(0.1, rows=slice(8, 9))
    with pytest.raises(ValueError, match="gate_step"):
        stepped.step_gate_voltages(np.full((6, 3), np.nan), rows, cols)
    with pytest.raises(ValueError, match="two_pulse"):
        CrossbarArray(2, 2, preset("ideal")).step_gate_voltages(0.1)


def test_gate_steps_of_selected_devices_leave_the_others_alone(rng):
    """step_gate_voltages with ``written``: the devices left out keep their conductance and gate voltage bit
    for bit and are not pulsed; the written ones get what the whole region's step gives them (no noise: the
    same numbers), a SET each and a RESET each where their gate voltage falls."""
    quiet = dataclasses.replace(preset("li2019"), program_noise_sigma=0.0)
    for device in (preset("li2019"), quiet):
        selected, whole = CrossbarArray(8, 6, device, seed=4), CrossbarArray(8, 6, device, seed=4)
        target = _li_targets(rng, (8, 6))
        for array in (selected, whole):
            array.program(target)
        rows, cols = slice(1, 7), slice(2, 5)
        written = rng.random((6, 3)) < 0.5
        step = np.where(written, rng.normal(0.0, 0.3, (6, 3)), 0.0)
        g_before, vg_before = selected.conductance.copy(), selected.gate_voltage.copy()
        pulses_before = selected.counters.programming_pulses
        falling = np.count_nonzero(written & (step < 0))
        row_steps_before = selected.counters.row_pulse_steps
        pulses, _ = selected.step_gate_voltages(step, rows, cols, written=written)
        assert pulses == np.count_nonzero(written) + falling
        assert selected.counters.programming_pulses - pulses_before == pulses
        # a row step per row with a written device, two where some device is RESET first
        assert (selected.counters.row_pulse_steps - row_steps_before
                == np.count_nonzero(written.any(axis=1)) * (2 if falling else 1))
        left = np.ones((8, 6), dtype=bool)
        left[rows, cols] = ~written
        np.testing.assert_array_equal(selected.conductance[left], g_before[left])
        np.testing.assert_array_equal(selected.gate_voltage[left], vg_before[left])
        assert np.all(selected.conductance[rows, cols][written] != g_before[rows, cols][written])
        whole.step_gate_voltages(step, rows, cols)
        np.testing.assert_array_equal(selected.gate_voltage, whole.gate_voltage)
        if device is quiet:
            np.testing.assert_array_equal(selected.conductance[rows, cols][written],
                                          whole.conductance[rows, cols][written])
    with pytest.raises(ValueError, match="a boolean array of the region's shape"):
        selected.step_gate_voltages(step, rows, cols, written=written.astype(int))
    with pytest.raises(ValueError, match="a boolean array of the region's shape"):
        selected.step_gate_voltages(step, rows, cols, written=written[:2])
    with pytest.raises(ValueError, match="gate_step is not 0 on a device that written leaves out"):
        selected.step_gate_voltages(0.1, rows, cols, written=written)
    with pytest.raises(ValueError, match="a boolean array of the region's shape"):
        selected.move(np.zeros((6, 3)), rows, cols, written=np.ones((6, 2), dtype=bool))


def test_devices_left_out_of_a_gate_step_keep_their_clock_and_drift_on(rng):
    """With drift, a device left out of a selective write keeps its base conductance and its time since its
    last write (it goes on drifting from there); a written one restarts its clock from its drifted value."""
    drifting = dataclasses.replace(preset("li2019"), drift_nu=0.05, drift_t0=1e-3)
    array = CrossbarArray(4, 4, drifting, seed=1)
    array.program(_li_targets(rng, (4, 4)))
    array.advance_time(10.0)
    written = np.zeros((4, 4), dtype=bool)
    written[1, 2] = written[3, 0] = True
    base, clock = array._g0.copy(), array.programmed_at.copy()
    array.step_gate_voltages(np.where(written, 0.2, 0.0), written=written)
    np.testing.assert_array_equal(array._g0[~written], base[~written])
    np.testing.assert_array_equal(array.programmed_at[~written], clock[~written])
    assert np.all(array.programmed_at[written] > clock[written])


def test_a_move_of_selected_pulse_law_devices_is_a_move_of_zero_elsewhere(rng):
    """The default :meth:`ProgrammingScheme.move_selected`: a pulse device asked for nothing gets nothing."""
    device = preset("hfo2_soft_bounds")
    a, b = CrossbarArray(6, 4, device, seed=2), CrossbarArray(6, 4, device, seed=2)
    for array in (a, b):
        array.initialize()
    delta = rng.normal(0.0, 5e-6, (6, 4))
    written = rng.random((6, 4)) < 0.5
    assert a.move(delta, written=written) == b.move(np.where(written, delta, 0.0))
    np.testing.assert_array_equal(a.conductance, b.conductance)
    assert a.counters == b.counters


def test_soft_bounds_steps_shrink_towards_the_bound():
    device = preset("hfo2_soft_bounds").replace(window_spread_sigma_relative=0.0, stuck_at_gmin_fraction=0.0,
                                                drift_nu=0.0, drift_nu_sigma=0.0)
    device = device.replace(pulse_law=device.pulse_law.__class__(kind="soft_bounds", step_up=1e-6, step_down=1e-6))
    array = CrossbarArray(1, 1, device, seed=0)
    trace = [array.conductance[0, 0]]
    for _ in range(300):
        array.apply_pulses(np.ones((1, 1), dtype=int))
        trace.append(array.conductance[0, 0])
    steps = np.diff(trace)
    assert np.all(steps > 0) and np.all(np.diff(steps) < 0)  # ever smaller steps up
    w = (np.array(trace[:-1]) - device.g_min) / (device.g_max - device.g_min)
    np.testing.assert_allclose(steps, 1e-6 * (1 - w), rtol=1e-12)
    assert trace[-1] < device.g_max


def test_linear_pulses_saturate_at_window():
    device = DeviceModel(g_min=10e-6, g_max=20e-6, pulse_law=crossbar.PulseUpdateLaw(step_up=1e-6, step_down=2e-6))
    array = CrossbarArray(1, 2, device, seed=0)
    array.apply_pulses(np.array([[15, 3]]))
    np.testing.assert_allclose(array.conductance, [[20e-6, 13e-6]])
    array.apply_pulses(np.array([[-2, -10]]))
    np.testing.assert_allclose(array.conductance, [[16e-6, 10e-6]])
    with pytest.raises(ValueError, match="whole numbers"):
        array.apply_pulses(np.array([[0.5, 1.0]]))


def test_drift_follows_power_law():
    device = preset("ideal").replace(drift_nu=0.05, drift_t0=1.0)
    array = CrossbarArray(3, 3, device, seed=0)
    array.program(np.full((3, 3), 100e-6))
    np.testing.assert_allclose(array.conductance, 100e-6)
    array.advance_time(1000.0)
    np.testing.assert_allclose(array.conductance, 100e-6 * 1000.0 ** -0.05)
    spread = CrossbarArray(32, 32, device.replace(drift_nu_sigma=0.01), seed=0)
    spread.program(np.full((32, 32), 100e-6))
    spread.advance_time(1e4)
    nu = -np.log(spread.conductance / 100e-6) / np.log(1e4)
    assert abs(nu.mean() - 0.05) < 0.002 and abs(nu.std() - 0.01) < 0.002


@pytest.mark.parametrize("write", ["program", "pulses", "two_pulse", "gate_steps"])
def test_each_device_drifts_from_its_own_last_write(write):
    """Writing part of an array restarts only the written devices' clocks, and leaves the others' drift as it
    was: ``G = G0 (t / t_write)^-nu`` for each device with its own ``t_write`` (the closed form)."""
    nu, t1 = 0.05, 1e6
    if write in ("two_pulse", "gate_steps"):
        device = preset("li2019").replace(program_noise_sigma=0.0, read_noise_sigma_relative=0.0, drift_nu=nu,
                                           stuck_at_gmin_fraction=0.0, stuck_at_gmax_fraction=0.0,
                                           window_spread_sigma_relative=0.0)
    else:
        device = preset("ideal").replace(g_min=0.0, g_max=1e-4, drift_nu=nu)
    array = CrossbarArray(128, 64, device, seed=0)
    g0 = 200e-6 if write in ("two_pulse", "gate_steps") else 50e-6
    array.program(np.full((128, 64), g0))
    array.advance_time(t1)
    first_half = slice(0, 64)
    if write == "program":
        array.program(np.full((64, 64), g0), rows=first_half)
    elif write == "pulses":
        n = np.zeros((128, 64), dtype=np.int64)
        n[first_half] = 1
        array.apply_pulses(n)
    elif write == "two_pulse":
        array.apply_two_pulse(device.two_pulse.gate_voltage_for(g0), np.zeros((64, 64), dtype=bool), rows=first_half)
    else:
        array.step_gate_voltages(0.0, rows=first_half)
    written = array.conductance[first_half].copy()
    np.testing.assert_allclose(array.conductance[64:], g0 * t1 ** -nu, rtol=1e-12)  # untouched: from t = 0
    array.advance_time(1e3)
    np.testing.assert_allclose(array.conductance[64:], g0 * (t1 + 1e3) ** -nu, rtol=1e-12)
    np.testing.assert_allclose(array.conductance[first_half], written * 1e3 ** -nu, rtol=1e-12)  # from t1


def test_counters_and_energy(rng):
    costs = crossbar.EnergyCosts()
    peripherals = crossbar.preset_peripherals("li2019", adc_full_scale=1e-3)
    array = CrossbarArray(16, 8, preset("li2019"), seed=0, peripherals=peripherals, costs=costs)
    array.program(_li_targets(rng, (16, 8)))
    pulses = array.counters.programming_pulses
    assert pulses == 2 * 16 * 8  # RESET and SET of every device
    v = rng.uniform(-0.2, 0.2, (5, 16))
    array.mvm(v)
    c = array.counters
    assert (c.products, c.input_vectors, c.dac_conversions, c.adc_conversions) == (1, 5, 80, 40)
    vq = array.peripherals.dac.convert(v)
    expected_cells = costs.read_time * np.sum((vq ** 2) @ array.conductance)
    assert c.cell_energy == pytest.approx(expected_cells, rel=1e-12)
    expected = expected_cells + 80 * costs.dac_energy + 40 * costs.adc_energy + pulses * costs.pulse_energy
    assert array.energy() == pytest.approx(expected, rel=1e-12)
    assert array.latency() > 5 * costs.read_time
    assert "nJ" in c.summary()
    c.reset()
    assert array.energy() == 0.0


def test_program_and_read_a_region_only(rng):
    array = CrossbarArray(8, 6, preset("li2019"), seed=3)
    before = array.conductance.copy()
    target = _li_targets(rng, (3, 2))
    report = array.program(target, rows=slice(1, 4), cols=slice(2, 4), method="write_verify", tolerance=6e-6)
    outside = np.ones((8, 6), dtype=bool)
    outside[1:4, 2:4] = False
    np.testing.assert_array_equal(array.conductance[outside], before[outside])
    assert np.all(np.abs(array.conductance[1:4, 2:4] - target)[~array.stuck[1:4, 2:4]] <= 6e-6)
    assert report.device_reads % 6 == 0 and report.pulses % 2 == 0
    assert array.read_conductance(slice(1, 4), slice(2, 4)).shape == (3, 2)
    with pytest.raises(ValueError, match="shape"):
        array.program(target.T, rows=slice(1, 4), cols=slice(2, 4))
    with pytest.raises(ValueError, match="no device"):
        array.program(target, rows=slice(8, 9), cols=slice(0, 1))


def test_state_reload_continues_bit_for_bit():
    """An array loaded from another's state reads, pulses and counts exactly as the original goes on to."""
    device = crossbar.preset("li2019").replace(drift_nu=0.02, drift_nu_sigma=0.01)
    original = CrossbarArray(16, 8, device, seed=4)
    original.program(np.full((16, 8), 200e-6))
    original.advance_time(10.0)
    copy = CrossbarArray(16, 8, device, seed=99)  # another seed: everything must come from the state
    copy.load_state(original.state())
    v = np.full((3, 16), 0.1)
    for _ in range(3):
        np.testing.assert_array_equal(original.mvm(v), copy.mvm(v))
        original.step_gate_voltages(0.01)
        copy.step_gate_voltages(0.01)
        original.advance_time(5.0)
        copy.advance_time(5.0)
    np.testing.assert_array_equal(original.read_conductance(), copy.read_conductance())
    assert original.counters == copy.counters


def test_state_of_another_array_is_refused_and_changes_nothing():
    device = crossbar.preset("li2019")
    array = CrossbarArray(16, 8, device, seed=1)
    before = array.conductance.copy()
    with pytest.raises(ValueError, match=r"an array of \(8, 8\) devices"):
        array.load_state(CrossbarArray(8, 8, device, seed=1).state())
    with pytest.raises(ValueError, match="another device model"):
        array.load_state(CrossbarArray(16, 8, crossbar.preset("ideal"), seed=1).state())
    state = array.state()
    state["conductance_base"] = state["conductance_base"][:, :4]
    with pytest.raises(ValueError, match="conductance_base has shape"):
        array.load_state(state, "saved.npz")
    state = array.state()
    state["counters"] = np.array('{"products": -1}')
    with pytest.raises(ValueError, match="counts"):
        array.load_state(state)
    np.testing.assert_array_equal(array.conductance, before)


def test_a_state_saved_before_fields_were_added_to_the_device_loads():
    """A state of 0.2.0 holds the device without the fields added since (cells that bend, programming-error
    fits, pulse tables): they take their defaults, and the array continues as saved."""
    import json

    device = crossbar.preset("hfo2_soft_bounds")
    array = crossbar.CrossbarArray(4, 3, device, seed=0)
    state = array.state()
    old = json.loads(str(state["device"]))
    for name in ("iv_nonlinearity_per_volt", "program_noise_model"):
        del old[name]
    del old["pulse_law"]["table"]
    state["device"] = np.array(json.dumps(old, sort_keys=True))
    other = crossbar.CrossbarArray(4, 3, device, seed=5)
    other.load_state(state)
    np.testing.assert_array_equal(other.conductance, array.conductance)
