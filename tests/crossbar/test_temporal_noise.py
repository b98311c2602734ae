"""Read noise with memory: the 1/f spectrum, telegraph dwell times, the ln(window) growth, the array's clock."""

import numpy as np
import pytest
from scipy import signal, stats

import crossbar
from crossbar.devices.temporal_noise import (NOISE_STREAM, FluctuationState, TemporalReadNoise, flicker_density_model,
                                             window_variance)


def _seed(entropy):
    """The noise's stream of an array seeded ``entropy`` (what an array gives its FluctuationState)."""
    return np.random.SeedSequence(entropy, spawn_key=(NOISE_STREAM,))


def _sequence(state, steps, seconds, value):
    """``value(state)`` (flattened over the devices) before each of ``steps`` advances of ``seconds``."""
    out = np.empty((steps, int(np.prod(state.shape))))
    for i in range(steps):
        out[i] = value(state).ravel()
        state.advance(seconds)
    return out


@pytest.mark.slow
def test_flicker_periodogram_has_slope_minus_one_over_three_decades():
    config = TemporalReadNoise(flicker_density_relative=1e-4, flicker_corner_min_hz=1e-4,
                               flicker_corner_max_hz=100.0)
    state = FluctuationState(config, (1, 4), _seed(11))
    reads = _sequence(state, 2 ** 17, 1e-3, FluctuationState.unit_flicker)
    f, density = signal.welch(reads, fs=1e3, nperseg=2 ** 14, axis=0)
    band = (f >= 0.02) & (f <= 20.0)  # three decades inside the corners
    for device in range(4):  # each device's own read sequence
        slope = np.polyfit(np.log10(f[band]), np.log10(density[band, device]), 1)[0]
        assert abs(slope + 1.0) < 0.15, (device, slope)
    # the level: S(f) f = A (= 1 for the unit sum) within 20 % (Welch's estimate of a few segments)
    assert np.median(density[band] * f[band, None]) == pytest.approx(1.0, rel=0.2)


@pytest.mark.slow
def test_flicker_variance_grows_as_ln_window():
    config = TemporalReadNoise(flicker_density_relative=1e-4, flicker_corner_min_hz=1e-4,
                               flicker_corner_max_hz=100.0)
    state = FluctuationState(config, (8, 16), _seed(5))
    steps, dt = 2 ** 15, 1e-3
    reads = _sequence(state, steps, dt, FluctuationState.unit_flicker)
    windows = np.array([10, 100, 1000, 10000])
    measured = []
    for n in windows:
        k = steps // n
        measured.append(reads[:k * n].reshape(k, n, -1).var(axis=1).mean())
    measured = np.array(measured)
    # closed form of the same devices' corners
    corners = state.corner_hz.reshape(config.flicker_sources, -1)
    expected = np.array([np.mean([window_variance(corners[:, d], state.variance, n, dt) for d in range(0, 128, 8)])
                         for n in windows])
    np.testing.assert_allclose(measured, expected, rtol=0.05)
    # variance = A ln(window) + c: the slope is A (1 here) within 10 %
    slope = np.polyfit(np.log(windows), measured, 1)[0]
    assert slope == pytest.approx(1.0, rel=0.1)


@pytest.mark.slow
def test_telegraph_dwell_times_are_exponential():
    config = TemporalReadNoise(telegraph_traps=1, telegraph_amplitude_relative=0.01, telegraph_dwell_min_s=0.5,
                               telegraph_dwell_max_s=0.5)
    state = FluctuationState(config, (1, 16), _seed(3))
    dt = 1e-3
    occupied = _sequence(state, 200_000, dt, lambda s: s.occupied[0]).astype(np.int8)
    dwells = {0: [], 1: []}
    for device in range(occupied.shape[1]):
        s = occupied[:, device]
        edges = np.flatnonzero(np.diff(s)) + 1  # whole dwells only: between two switches
        for length, level in zip(np.diff(edges), s[edges[:-1]]):
            dwells[int(level)].append(length * dt)
    for level, times in dwells.items():
        assert len(times) > 2000
        assert stats.kstest(times, "expon", args=(0.0, 0.5)).pvalue > 1e-3, level
        assert np.mean(times) == pytest.approx(0.5, rel=0.06)


def test_telegraph_dwell_means_are_log_uniform_and_the_mean_is_zero():
    config = TemporalReadNoise(telegraph_traps=3, telegraph_amplitude_relative=0.02, telegraph_dwell_min_s=1e-3,
                               telegraph_dwell_max_s=10.0)
    state = FluctuationState(config, (20, 20), _seed(1))
    logs = np.log10(np.concatenate([state.dwell_empty_s.ravel(), state.dwell_occupied_s.ravel()]))
    assert stats.kstest(logs, "uniform", args=(-3.0, 4.0)).pvalue > 1e-3
    # a stationary start: the occupancy of every trap is its dwell fraction, so the deviation has zero mean
    g = np.full((20, 20), 50e-6)
    deviations = [state.deviation(g).mean() for _ in range(200) if state.advance(0.05) is None]
    assert abs(np.mean(deviations)) < 3 * 0.02 * 50e-6 * np.sqrt(3 * 0.25 / 400 / 20)


def test_falcone_model_matches_its_published_read_noise():
    # sigma(t) = 0.02773 log10(G) sqrt(ln((t + t_r) / (2 t_r))) uS: about 1.1 % at 10 uS, 0.24 % at 88 uS, t = 10 s
    spread = np.sqrt(np.log((10.0 + 1e-6) / 2e-6))
    for g_us, percent in ((10.0, 1.089), (88.0, 0.2406)):
        sigma = np.sqrt(flicker_density_model("falcone2025_cmo_hfox", g_us * 1e-6)) * spread
        assert sigma / (g_us * 1e-6) * 100 == pytest.approx(percent, rel=0.02)
    config = TemporalReadNoise(flicker_density_model="falcone2025_cmo_hfox")
    assert config.flicker_amplitude(np.array([10e-6]))[0] == pytest.approx(0.02773e-6)


@pytest.mark.parametrize("field, value", [
    ("flicker_density_relative", -1e-4), ("flicker_density_relative", float("nan")), ("flicker_sources", 0),
    ("flicker_corner_min_hz", 0.0), ("flicker_corner_max_hz", 1e-5), ("telegraph_traps", 17),
    ("telegraph_amplitude_relative", 2.0), ("telegraph_dwell_max_s", 1e-6), ("flicker_density_model", "other")])
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"temporal_noise.{field}"):
        TemporalReadNoise(**{field: value})


def test_a_model_and_a_relative_density_are_refused_together():
    with pytest.raises(ValueError, match="flicker_density_relative"):
        TemporalReadNoise(flicker_density_relative=1e-4, flicker_density_model="falcone2025_cmo_hfox")


NOISY = TemporalReadNoise(flicker_density_relative=1e-4, telegraph_traps=2, telegraph_amplitude_relative=0.01)


def _array(seconds_per_read=1e-3, seconds_per_write=0.0, noise=NOISY, **device):
    model = crossbar.preset("ideal").replace(temporal_noise=noise, **device)
    return crossbar.CrossbarArray(
        16, 8, model, seed=4,
        peripherals=crossbar.Peripherals(seconds_per_read=seconds_per_read, seconds_per_write=seconds_per_write))


def test_reads_see_the_fluctuating_conductance_and_move_the_clock():
    array = _array()
    array.program(np.full((16, 8), 40e-6))
    x = np.random.default_rng(0).uniform(-0.2, 0.2, (3, 16))
    for step in range(5):
        g = np.asarray(array.conductance)
        settled = np.asarray(array.settled_conductance)
        assert np.all(g != settled)
        np.testing.assert_allclose(g, settled + array.fluctuation.deviation(settled), rtol=0, atol=1e-18)
        np.testing.assert_allclose(array.mvm(x), x @ g, rtol=1e-12, atol=1e-18)
        assert array.time == pytest.approx(1e-3 * (step + 1))
    # the fluctuation has the configured size: 1/f (A ln(f_hi/f_lo)) and two traps of 1 %
    config = array.device.temporal_noise
    expected = 40e-6 * np.sqrt(1e-4 * np.log(1e10) + 0.01 ** 2 * (array.fluctuation.occupancy
                                                                  * (1 - array.fluctuation.occupancy)).sum(axis=0))
    assert config.flicker_sources == 12
    ratio = np.std(np.asarray(array.conductance) - 40e-6) / np.sqrt(np.mean(expected ** 2))
    assert 0.7 < ratio < 1.3


def test_device_reads_and_writes_move_the_clock():
    array = _array(seconds_per_read=2e-3, seconds_per_write=0.5)
    array.program(np.full((16, 8), 40e-6))
    assert array.time == pytest.approx(0.5)
    array.read_conductance()
    assert array.time == pytest.approx(0.502)
    array.apply_pulses(np.ones((16, 8), dtype=np.int64))
    assert array.time == pytest.approx(1.002)
    array.advance_time(1.0)
    assert array.time == pytest.approx(2.002)


def test_writes_start_from_the_settled_conductance():
    array = _array(noise=TemporalReadNoise(flicker_density_relative=1e-2))
    array.program(np.full((16, 8), 40e-6))
    before = np.asarray(array.settled_conductance).copy()
    array.apply_pulses(np.ones((16, 8), dtype=np.int64))  # linear law: +0.1 uS a pulse
    np.testing.assert_allclose(array.settled_conductance, before + 0.1e-6, rtol=1e-12)


def test_the_noise_moves_no_other_draw_and_a_clock_without_it_changes_nothing():
    target = np.random.default_rng(1).uniform(10e-6, 90e-6, (16, 8))
    quiet = _array(noise=TemporalReadNoise(), program_noise_sigma=1e-6, read_noise_sigma_relative=0.01)
    noisy = _array(program_noise_sigma=1e-6, read_noise_sigma_relative=0.01)
    quiet.program(target)
    noisy.program(target)
    np.testing.assert_array_equal(quiet.settled_conductance, noisy.settled_conductance)
    assert quiet.fluctuation is None and not quiet.varies_between_reads and noisy.varies_between_reads


def test_saved_state_continues_bit_for_bit():
    a = _array(read_noise_sigma_relative=0.01)
    a.program(np.full((16, 8), 40e-6))
    x = np.full((2, 16), 0.1)
    a.mvm(x)
    b = _array(read_noise_sigma_relative=0.01)
    b.load_state(a.state())
    for _ in range(3):
        np.testing.assert_array_equal(a.mvm(x), b.mvm(x))
    np.testing.assert_array_equal(a.read_conductance(), b.read_conductance())
    state = a.state()
    del state["fluctuation.flicker"]
    with pytest.raises(ValueError, match="fluctuation.flicker"):
        b.load_state(state)


def test_reads_of_one_plan_refresh_between_calls_and_match_the_twin():
    a, b = _array(read_noise_sigma_relative=0.02), _array(read_noise_sigma_relative=0.02)
    for array in (a, b):
        array.program(np.full((16, 8), 40e-6))
    x = np.random.default_rng(2).uniform(-0.2, 0.2, (4, 16))
    for _ in range(4):
        np.testing.assert_array_equal(a.mvm(x), b.mvm(x, reference=True))
    assert a._plan.varies_between_reads


def test_source_kernel_equals_its_numpy_twin():
    from crossbar.numerics.random_streams import stream_seeds
    from crossbar.devices.temporal_noise import advance_sources, advance_sources_reference

    rng = np.random.default_rng(8)
    flicker = rng.standard_normal((30, 17))
    rho = np.exp(-rng.uniform(0.0, 5.0, (30, 17)))
    innovation = np.sqrt(1.0 - rho ** 2)
    seeds = stream_seeds(rng, 30)
    compiled, twin = flicker.copy(), flicker.copy()
    advance_sources(compiled, rho, innovation, seeds)
    advance_sources_reference(twin, rho, innovation, seeds)
    np.testing.assert_array_equal(compiled, twin)
    assert not np.array_equal(compiled, flicker * rho)  # the innovation is there


def test_traps_alone_save_and_continue_bit_for_bit():
    """Telegraph traps without 1/f sources (an empty set of sources) save, reload and continue: the empty
    sources are no damage (a scoring snapshot of such a chip failed to put the chip back)."""
    traps = TemporalReadNoise(flicker_density_relative=0.0, telegraph_traps=2, telegraph_amplitude_relative=0.05)
    a = _array(read_noise_sigma_relative=0.01, noise=traps)
    a.program(np.full((16, 8), 40e-6))
    x = np.full((2, 16), 0.1)
    a.mvm(x)
    assert a.fluctuation.flicker.size == 0
    b = _array(read_noise_sigma_relative=0.01, noise=traps)
    b.load_state(a.state())
    for _ in range(3):
        np.testing.assert_array_equal(a.mvm(x), b.mvm(x))
    state = a.state()
    state["fluctuation.flicker"] = np.zeros((1, 16, 8))
    with pytest.raises(ValueError, match="fluctuation.flicker"):
        b.load_state(state)
