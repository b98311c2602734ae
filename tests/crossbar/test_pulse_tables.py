"""Devices defined by data: the table kernel against its twin and its own statistics, the fitter against a
known table and the shipped traces, the presets, and bad traces refused one by one."""

import os

import numpy as np
import pytest

import crossbar
from crossbar.devices.pulse_tables import (DATA_DIR, PulseTable, table_arrays, table_pulse_update,
                                           table_pulse_update_reference)
from crossbar.fitting.device_fit import device_ramps, fit_parametric, fit_table, parse_traces, read_traces, steps
from crossbar.numerics.random_streams import stream_seeds

LOW, HIGH = 10e-6, 100e-6
QUANTILES = np.linspace(0.0, 1.0, 41)


def known_table(n_tables=1, spread=0.3):
    """Soft-bounds mean steps (up 1.2 uS at the bottom, down 1.5 uS at the top) with a normal spread of
    ``spread`` of the mean, the quantiles of a normal clipped at 3 sigma (t tables: each 10 % apart)."""
    from scipy.stats import norm

    bins = np.linspace(LOW, HIGH, 19)
    w = (bins - LOW) / (HIGH - LOW)
    z = norm.ppf(np.clip(QUANTILES, norm.cdf(-3), norm.cdf(3)))
    up, down = [], []
    for t in range(n_tables):
        scale = 1.0 + 0.1 * t
        mean_up, mean_down = 1.2e-6 * scale * (1 - w) + 0.1e-6, -1.5e-6 * scale * w - 0.1e-6
        up.append(mean_up[None, :] * (1 + spread * z[:, None]))
        down.append(mean_down[None, :] * (1 - spread * z[:, None]))
    return PulseTable(np.tile(bins, (n_tables, 1)), QUANTILES, np.array(up), np.array(down), "test")


def table_device(path, table):
    table.save(path)
    return crossbar.DeviceModel(name="table", g_min=LOW, g_max=HIGH,
                                pulse_law=crossbar.PulseUpdateLaw(kind="table", table=str(path)))


def test_the_table_kernel_equals_its_numpy_twin(tmp_path):
    table = known_table(n_tables=3)
    rng = np.random.default_rng(0)
    g = rng.uniform(LOW, HIGH, (6, 9))
    n = rng.integers(-7, 8, (6, 9))
    frozen = rng.random((6, 9)) < 0.1
    index = rng.integers(0, 3, (6, 9))
    low, high = np.full((6, 9), LOW), np.full((6, 9), HIGH)
    seeds = stream_seeds(np.random.default_rng(1), 6)
    compiled, reference = g.copy(), g.copy()
    pulses = table_pulse_update(compiled, n, low, high, frozen, index, **table_arrays(table), seeds=seeds)
    assert pulses == table_pulse_update_reference(reference, n, low, high, frozen, index, table, seeds)
    np.testing.assert_allclose(compiled, reference, rtol=1e-12, atol=1e-18)
    assert np.array_equal(compiled[frozen], g[frozen]) and not np.allclose(compiled, g)


def test_one_pulse_draws_the_tables_quantiles(tmp_path):
    table = known_table()
    device = table_device(tmp_path / "t.npz", table)
    array = crossbar.CrossbarArray(200, 100, device, seed=3)
    start = np.full((200, 100), 40e-6)
    array.program(start)  # one-shot programming of a table device is pulses: put it back exactly
    array._g0 = start.copy()  # the test's own start, every device at 40 uS
    array._refresh()
    array.apply_pulses(np.ones((200, 100), dtype=np.int64))
    dg = (array.conductance - 40e-6).ravel()
    expected = np.interp(np.linspace(0.05, 0.95, 19), QUANTILES, np.array(
        [np.interp(40e-6, table.g_bins[0], table.dg_up[0, q]) for q in range(QUANTILES.size)]))
    np.testing.assert_allclose(np.quantile(dg, np.linspace(0.05, 0.95, 19)), expected, rtol=0.02)
    assert dg.mean() == pytest.approx(table.mean_step(np.array([40e-6]), True)[0], rel=0.01)


def test_the_fitter_recovers_a_known_table(tmp_path):
    """50 ramps simulated from a table fit back to its mean step within 5 % and its spread within 10 %, bin
    by bin: against the known table over the conductances each bin saw (a bin's steps mix those of its
    whole width), for the bins with 300 steps or more away from the window's edges, where the bounds clip."""
    table = known_table()
    device = table_device(tmp_path / "known.npz", table)
    traces = device_ramps(device, 50, 120, seed=5)
    fitted = fit_table(traces, n_bins=18, quantiles=QUANTILES)
    u = np.linspace(0.0025, 0.9975, 200)
    g_all = np.concatenate([t.conductance for t in traces])
    edges = np.linspace(g_all.min(), g_all.max(), 19)
    checked = 0
    for up in (True, False):
        g, _ = steps(traces, up)
        which = np.clip(np.searchsorted(edges, g, side="right") - 1, 0, 17)
        for b, centre in enumerate(fitted.g_bins[0]):
            seen = g[which == b]
            if seen.size < 300 or not (LOW + 5e-6 < centre < HIGH - 5e-6):
                continue
            true = np.concatenate([_samples(table, x, up, u) for x in seen[::max(1, seen.size // 200)]])
            got = _samples(fitted, centre, up, u)
            assert got.mean() == pytest.approx(true.mean(), rel=0.05), (up, centre)
            assert got.std() == pytest.approx(true.std(), rel=0.10), (up, centre)
            checked += 1
    assert checked >= 12


def test_the_fitter_takes_the_reads_noise_out_of_the_steps_spread():
    """Ramps with a known pulse spread (1 uS) read with a known noise (1.5 uS): the read noise is found
    from the steps' lag-1 anti-correlation within 10 %, and the table keeps the pulses' spread (within 35 %
    a bin, bins of 1500 steps), not the observed 2.3 uS."""
    from crossbar.fitting.device_fit import Trace, estimate_read_noise

    rng = np.random.default_rng(0)
    up = [20e-6 + np.cumsum(0.5e-6 + 1e-6 * rng.standard_normal(300)) for _ in range(20)]
    down = [175e-6 - np.cumsum(0.5e-6 + 1e-6 * rng.standard_normal(300)) for _ in range(20)]
    traces = ([Trace(t + 1.5e-6 * rng.standard_normal(t.size), True) for t in up]
              + [Trace(t + 1.5e-6 * rng.standard_normal(t.size), False) for t in down])
    assert estimate_read_noise(traces) == pytest.approx(1.5e-6, rel=0.10)
    table = fit_table(traces, n_bins=8)
    u = np.linspace(0.0025, 0.9975, 200)
    spreads = np.array([_samples(table, g, True, u).std() for g in table.g_bins[0][2:-2]])
    assert np.all(np.abs(spreads / 1e-6 - 1) < 0.35), spreads
    raw = fit_table(traces, n_bins=8, read_noise=0.0)
    assert _samples(raw, table.g_bins[0][4], True, u).std() > 2e-6


def _samples(table, g, up, u):
    """The table's quantile function at conductance ``g`` over uniform ``u``."""
    d = table.dg_up[0] if up else table.dg_down[0]
    at_g = np.array([np.interp(g, table.g_bins[0], d[q]) for q in range(table.quantiles.size)])
    return np.interp(u, table.quantiles, at_g)


def test_a_device_fitted_to_the_crosssim_ramps_stays_within_their_spread():
    """The CrossSim SET ramps (39 of them, read at 0.1 V): the mean of 20 simulated ramps of the fitted
    device stays inside the data's 5..95 % band of the conductance after each pulse, pulse by pulse."""
    ups = read_traces(os.path.join(DATA_DIR, "crosssim_set_ramps.csv"), read_voltage=0.1)
    downs = read_traces(os.path.join(DATA_DIR, "crosssim_reset_ramps.csv"), read_voltage=0.1)
    assert len(ups) == 39 and all(t.up for t in ups) and len(downs) == 40 and not any(t.up for t in downs)
    table = fit_table(ups + downs)
    n = min(t.conductance.size for t in ups)
    data = np.array([t.conductance[:n] for t in ups])
    band_low, band_high = np.quantile(data, 0.05, axis=0), np.quantile(data, 0.95, axis=0)
    low, high = table.g_range
    start = data[:, 0].mean()
    simulated = []
    for seed in range(20):
        g = np.full((1, 1), start)
        trace = [start]
        seeds = stream_seeds(np.random.default_rng(seed), 1)
        for _ in range(n - 1):
            table_pulse_update(g, np.ones((1, 1), dtype=np.int64), np.full((1, 1), 0.9 * low),
                               np.full((1, 1), 1.1 * high), np.zeros((1, 1), bool), np.zeros((1, 1), np.int64),
                               **table_arrays(table), seeds=seeds)
            seeds = stream_seeds(np.random.default_rng([seed, len(trace)]), 1)
            trace.append(g[0, 0])
        simulated.append(trace)
    mean = np.array(simulated).mean(axis=0)
    inside = (mean >= band_low) & (mean <= band_high)
    assert inside.mean() >= 0.95, np.flatnonzero(~inside)


def test_the_parametric_laws_come_with_their_error():
    ups = read_traces(os.path.join(DATA_DIR, "crosssim_set_ramps.csv"), read_voltage=0.1)
    downs = read_traces(os.path.join(DATA_DIR, "crosssim_reset_ramps.csv"), read_voltage=0.1)
    fits = fit_parametric(ups + downs)
    assert set(fits) == {"linear", "soft_bounds", "exponential"}
    for law, error in fits.values():
        assert law.step_up > 0 and law.step_down > 0 and 0.0 <= error < 2.0
    assert fits["exponential"][1] <= min(fits["linear"][1], fits["soft_bounds"][1])  # it holds both (a = 0)


def test_the_exponential_law_with_cycle_noise_is_found_back():
    """50 devices of a known exponential law (2 / 3 uS at the bottom / top, nonlinearity 3, cycle noise 30 %)
    pulsed 300 times up and down: the exponential law is the best fit, its steps and nonlinearity within 5 %,
    its cycle noise within 15 %; the soft-bounds law misses the mean steps by 30 % and more."""
    from crossbar.fitting.device_fit import best_parametric

    law = crossbar.PulseUpdateLaw("exponential", step_up=2e-6, step_down=3e-6, nonlinearity=3.0,
                                  cycle_noise_sigma_relative=0.3)
    device = crossbar.DeviceModel(name="exponential", g_min=LOW, g_max=HIGH, pulse_law=law)
    fits = fit_parametric(device_ramps(device, 50, 300, seed=3))
    assert best_parametric(fits) == "exponential"
    fitted, error = fits["exponential"]
    assert fitted.step_up == pytest.approx(2e-6, rel=0.05) and fitted.step_down == pytest.approx(3e-6, rel=0.05)
    assert fitted.nonlinearity == pytest.approx(3.0, rel=0.05) and error < 0.1
    assert fitted.cycle_noise_sigma_relative == pytest.approx(0.3, rel=0.15)
    assert fits["soft_bounds"][1] > 0.3


@pytest.mark.parametrize("text, message", [
    ("rmp1,rmp2\n1e-4,2e-4\n1.1e-4,1.9e-4\n", "reads; a ramp needs at least"),
    ("rmp1\n1e-4\n1.1e-4\n\n1.2e-4\n1.3e-4\n1.4e-4\n1.5e-4\n1.6e-4\n", None),
    ("rmp1\n1e-4\n1.1e-4\nnan\n1.2e-4\n1.3e-4\n1.4e-4\n1.5e-4\n1.6e-4\n", "NaN or empty cell inside"),
    ("time,rmp1\n0,1e-4\n1,1.1e-4\n2,1.2e-4\n2,1.3e-4\n4,1.4e-4\n5,1.5e-4\n6,1.6e-4\n", "does not rise strictly"),
    ("rmp1,rmp2\n1e-4,2e-4\n1e-4,1.9e-4\n1e-4,1.8e-4\n1e-4,1.7e-4\n1e-4,1.6e-4\n1e-4,1.5e-4\n", "never changes"),
    ("rmp1\n1e-4\nabc\n", "'abc' is not a number"),
    ("-0.5,0.5\n-0.4,0.4\n-0.3,0.3\n-0.2,0.2\n-0.1,0.1\n0.0,0.0\n", "negative conductances"),
    ("", "no rows"),
])
def test_bad_traces_are_refused_one_by_one(text, message):
    if message is None:  # a blank line is skipped: the ramp reads on
        assert len(parse_traces(text)[0].conductance) == 7
        return
    with pytest.raises(ValueError, match=message):
        parse_traces(text, "t.csv")


def test_the_gong_file_reads_as_one_ramp_each_way_on_a_stated_window():
    traces = read_traces(os.path.join(DATA_DIR, "gong2018_hfo2_pulses.csv"), window=(10e-6, 100e-6))
    assert [t.up for t in traces] == [True, False] and all(t.conductance.size == 1000 for t in traces)
    everything = np.concatenate([t.conductance for t in traces])
    assert everything.min() == pytest.approx(10e-6) and everything.max() == pytest.approx(100e-6)
    with pytest.raises(ValueError, match="window=.*low < high"):
        read_traces(os.path.join(DATA_DIR, "gong2018_hfo2_pulses.csv"), window=(1e-4, 1e-5))


def test_the_presets_of_measured_devices(tmp_path):
    assert {"gong2018_hfo2", "taox_lut"} <= set(crossbar.preset_names())
    taox = crossbar.preset("taox_lut")
    array = crossbar.CrossbarArray(20, 10, taox, seed=2)
    assert set(np.unique(array.table_index)) == set(range(10))  # device to device: all ten measured devices
    again = crossbar.CrossbarArray(20, 10, taox, seed=2)
    assert np.array_equal(array.table_index, again.table_index)
    array.apply_pulses(np.full((20, 10), 3))
    state = array.state()
    other = crossbar.CrossbarArray(20, 10, taox, seed=9)
    other.load_state(state)
    assert np.array_equal(other.table_index, array.table_index)
    array.apply_pulses(np.full((20, 10), -2))
    other.apply_pulses(np.full((20, 10), -2))
    np.testing.assert_array_equal(array.conductance, other.conductance)
    gong = crossbar.preset("gong2018_hfo2")
    assert "Gong et al." in crossbar.preset_doc("gong2018_hfo2") and "pulse table" in gong.describe()
    once = crossbar.CrossbarArray(8, 8, gong, seed=0).program(np.full((8, 8), 50e-6))
    verified = crossbar.CrossbarArray(8, 8, gong, seed=0).program(np.full((8, 8), 50e-6), method="write_verify",
                                                                   tolerance=8e-6)
    assert verified.rounds > 1 and verified.residual_rms < 0.8 * once.residual_rms  # table pulses, verified


def test_table_laws_are_validated(tmp_path):
    with pytest.raises(ValueError, match="pulse_law.table=None"):
        crossbar.PulseUpdateLaw(kind="table")
    with pytest.raises(ValueError, match="no such shipped table"):
        crossbar.PulseUpdateLaw(kind="table", table=str(tmp_path / "missing.npz"))
    with pytest.raises(ValueError, match="only kind='table'"):
        crossbar.PulseUpdateLaw(kind="linear", table="taox_lut")
    with pytest.raises(ValueError, match="holds its own spread"):
        crossbar.PulseUpdateLaw(kind="table", table="taox_lut", cycle_noise_sigma_relative=0.1)
    with pytest.raises(ValueError, match="quantiles"):
        PulseTable(np.array([1e-5, 2e-5]), np.array([0.0, 0.5]), np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="must not decrease along the quantile axis"):
        PulseTable(np.array([1e-5, 2e-5]), np.array([0.0, 1.0]), np.array([[1.0, 1.0], [0.0, 0.0]]) * 1e-6,
                   np.zeros((2, 2)))


def test_a_sweep_can_vary_the_table_of_a_table_device():
    from xbar.experiment import li2019, parameter

    exp = li2019("vowels").with_values({"hardware.preset": "taox_lut"})
    spec = parameter("device.pulse_law.table", exp)
    assert spec.kind == "text" and spec.parse("taox_lut, gong2018_hfo2") == ["taox_lut", "gong2018_hfo2"]
    other = exp.with_values({"device.pulse_law.table": "gong2018_hfo2"})
    assert other.device_model().pulse_law.table == "gong2018_hfo2"
    with pytest.raises(ValueError, match="no such shipped table"):
        exp.with_values({"device.pulse_law.table": "nonesuch"})
    with pytest.raises(ValueError, match="a non-empty name or path"):
        spec.coerce(3.0)


def test_the_fitted_mean_step_is_not_pulled_by_noisy_reads():
    """One slow ramp a direction (0.06 uS a pulse over 1000 pulses) read with 3 uS of noise: binning steps
    by the noisy reads would give mean steps of +-2 uS at the window's ends (a read that came out high is
    followed by a step down); the monotone path's crossing rate gives the true step within 20 % in every
    bin the ramp crosses, and the table's own mean (what a pulse draws) is that mean step."""
    from crossbar.fitting.device_fit import Trace, mean_steps

    rng = np.random.default_rng(4)
    true_up = 20e-6 + 0.06e-6 * np.arange(1000)
    true_down = 80e-6 - 0.06e-6 * np.arange(1000)
    traces = [Trace(true_up + 3e-6 * rng.standard_normal(1000), True),
              Trace(true_down + 3e-6 * rng.standard_normal(1000), False)]
    g_all = np.concatenate([t.conductance for t in traces])
    edges = np.linspace(g_all.min(), g_all.max(), 21)
    centres = 0.5 * (edges[:-1] + edges[1:])
    crossed = (centres > 25e-6) & (centres < 75e-6)
    for up in (True, False):
        mean = mean_steps(traces, edges, up, rate_window_bins=1)
        assert np.all(np.abs(mean[crossed] / (0.06e-6 if up else -0.06e-6) - 1.0) < 0.2), mean * 1e6
        g, dg = steps(traces, up)
        which = np.clip(np.searchsorted(edges, g, side="right") - 1, 0, 19)
        by_reads = np.array([dg[which == b].mean() for b in (1, 18)])
        assert np.abs(by_reads).max() > 1e-6  # the bias the paths take away
    table = fit_table(traces)
    for up, mean in ((True, table._mean_up[0]), (False, table._mean_down[0])):
        np.testing.assert_allclose(mean, mean_steps(traces, np.linspace(g_all.min(), g_all.max(), 21), up,
                                                    rate_window_bins=1), rtol=1e-12, atol=1e-18)


def test_the_gong_device_holds_against_its_one_measured_ramp(tmp_path):
    """Gong et al.'s file holds one ramp a direction, so its spread is that of its reads: in windows of 50
    pulses, the mean of 400 simulated ramps of ``gong2018_hfo2`` (enough that the count does not move with
    the draw: 20 ramps gave 16..20 up and 13..19 down over seeds) lies inside the 2.5..97.5 % band of the
    measured reads in 16 of 20 windows or more (measured: 20 up, 17 down), and every measured window's mean
    inside the 2.5..97.5 % band of the simulated ramps. The figure is drawn."""
    from crossbar.fitting.device_fit import plot_agreement, ramp_agreement

    traces = read_traces(os.path.join(DATA_DIR, "gong2018_hfo2_pulses.csv"), window=(10e-6, 100e-6))
    gong = crossbar.preset("gong2018_hfo2")
    for trace in traces:
        agreement = ramp_agreement(gong, trace, seeds=400, window_pulses=50)
        assert agreement.mean_inside_data >= 0.8, (trace.up, agreement.simulated_mean, agreement.data_low)
        assert agreement.data_inside_simulated == 1.0, trace.up
    shares = plot_agreement(gong, traces, str(tmp_path / "gong.png"))
    assert shares == {True: pytest.approx(0.85, abs=0.15), False: pytest.approx(0.85, abs=0.15)}
    assert (tmp_path / "gong.png").stat().st_size > 20_000


def test_a_device_fitted_to_ramps_of_the_ten_taox_devices_stays_within_their_spread(tmp_path):
    """The TaOx data are tables, not traces: ramps of the ten measured devices (100 devices from the
    ``taox_lut`` tables, each up 40 pulses from the bottom and back down) fitted by the fitter into one
    table; the mean of 20 simulated ramps of the fitted device lies inside the measured ramps' 2.5..97.5 %
    band at every pulse, up and down."""
    from crossbar.fitting.device_fit import band_agreement

    traces = device_ramps(crossbar.preset("taox_lut"), 100, 40, seed=1, settle_pulses=60)
    fit_table(traces).save(tmp_path / "taox.npz")
    low = min(t.conductance.min() for t in traces)
    high = max(t.conductance.max() for t in traces)
    fitted = crossbar.DeviceModel(name="taox_fitted", g_min=low, g_max=high,
                                  pulse_law=crossbar.PulseUpdateLaw(kind="table", table=str(tmp_path / "taox.npz")))
    assert band_agreement(fitted, traces, seeds=20, low=0.025, high=0.975) == {True: 1.0, False: 1.0}


def test_the_fitter_refuses_what_it_cannot_fit():
    up_only = parse_traces("rmp1\n1e-4\n1.1e-4\n1.2e-4\n1.3e-4\n1.4e-4\n1.5e-4\n", "up.csv")
    with pytest.raises(ValueError, match="no down ramp; a table needs ramps of both directions"):
        fit_table(up_only)
    short = parse_traces("rmp1,rmp2\n1e-4,2e-4\n1.1e-4,1.9e-4\n1.2e-4,1.8e-4\n1.3e-4,1.7e-4\n1.4e-4,1.6e-4\n"
                         "1.5e-4,1.5e-4\n", "short.csv")
    with pytest.raises(ValueError, match="no conductance bin holds 5 up pulses; give longer ramps or fewer bins"):
        fit_table(short)
    assert fit_table(short, n_bins=2).n_tables == 1  # two bins hold them
    with pytest.raises(ValueError, match="rate_window_bins"):
        fit_table(short, n_bins=2, rate_window_bins=-1)


@pytest.mark.parametrize("damage", ["truncated", "bad_crc"])
def test_a_damaged_table_file_is_one_line_naming_it(tmp_path, damage):
    """A truncated or corrupted pulse-table NPZ is refused as a ValueError naming the file (it raised
    zipfile's BadZipFile or an EOFError before)."""
    from crossbar.devices.pulse_tables import load_table, shipped_table

    whole = tmp_path / "whole.npz"
    shipped_table("taox_lut").save(str(whole))
    data = whole.read_bytes()
    bad = tmp_path / "bad.npz"
    if damage == "truncated":
        bad.write_bytes(data[:3000])
    else:  # flip bytes inside the first member's compressed data
        middle = len(data) // 3
        bad.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:])
    with pytest.raises(ValueError, match="bad.npz"):
        load_table(str(bad))
