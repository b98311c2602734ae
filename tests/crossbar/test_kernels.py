"""Every Numba kernel against its plain numpy reference, and the noise source's statistics."""

import numpy as np
import pytest
from scipy import stats

from crossbar.circuits import conversion
from crossbar.devices import pulse_kernels
from crossbar.numerics import rounding
from crossbar.numerics.random_streams import (FEW_STREAMS, TAIL_LIMIT, counter_normal, derive_seeds,
                                              fill_normals_by_counter, padded_length, standard_normals, stream_seeds)
from crossbar.numerics.vecmath import log32_array, sincos_turns32_array


@pytest.mark.slow
def test_normals_are_standard_gaussian():
    z = standard_normals(stream_seeds(np.random.default_rng(0), 64), 50_000).ravel()
    reference = np.random.default_rng(1).standard_normal(z.size)  # numpy's own generator
    assert abs(z.mean()) < 5 / np.sqrt(z.size)
    assert abs(z.std() - 1) < 5 / np.sqrt(2 * z.size)
    assert stats.ks_2samp(z, reference).pvalue > 1e-4
    assert stats.kstest(z, "norm").pvalue > 1e-4
    # the tails have the right mass (Box-Muller's radius comes from the smallest uniforms)
    for edge in (2.0, 3.0, 4.0):
        tail = np.mean(np.abs(z) > edge)
        expected = 2 * stats.norm.sf(edge)
        assert abs(tail - expected) < 5 * np.sqrt(expected / z.size)
    assert np.abs(z).max() <= TAIL_LIMIT + 1e-6
    # the two normals of a Box-Muller pair are independent: their squares uncorrelated too
    even, odd = z.reshape(-1, 2).T
    assert abs(np.corrcoef(even, odd)[0, 1]) < 5 / np.sqrt(even.size)
    assert abs(np.corrcoef(even ** 2, odd ** 2)[0, 1]) < 5 / np.sqrt(even.size)


def test_vectorised_log_and_sincos_match_numpy():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(0, 1, 100_000), 2.0 ** rng.uniform(-31, 0, 100_000), [2.0 ** -31, 1.0]])
    x = x.astype(np.float32)
    exact = np.log(x.astype(np.float64))
    np.testing.assert_allclose(log32_array(x), exact, rtol=2e-7, atol=1e-7)
    assert log32_array(np.array([1.0], np.float32))[0] == 0.0  # so that sqrt(-2 log v) is real at v = 1
    w = np.concatenate([rng.uniform(-0.5, 0.5, 100_000), [-0.5, -0.25, -0.125, 0.0, 0.125, 0.25, 0.5]])
    w = w.astype(np.float32)
    sine, cosine = sincos_turns32_array(w)
    angle = 2 * np.pi * w.astype(np.float64)
    np.testing.assert_allclose(sine, np.sin(angle), rtol=0, atol=3e-7)
    np.testing.assert_allclose(cosine, np.cos(angle), rtol=0, atol=3e-7)


def test_normal_streams_are_independent_and_reproducible():
    seeds = derive_seeds(np.uint64(42), 200)
    z = standard_normals(seeds, 2000)
    correlation = np.corrcoef(z)[np.triu_indices(200, 1)]
    assert np.abs(correlation).max() < 5 / np.sqrt(2000)
    lag = np.corrcoef(z[:, :-1].ravel(), z[:, 1:].ravel())[0, 1]
    assert abs(lag) < 5 / np.sqrt(z.size)
    np.testing.assert_array_equal(z, standard_normals(seeds, 2000))
    np.testing.assert_array_equal(z[:, 100:300], standard_normals(seeds, 200, 100))
    np.testing.assert_array_equal(z[:, 101:300], standard_normals(seeds, 199, 101))  # odd start: half a pair
    np.testing.assert_array_equal(z[:, 7:8], standard_normals(seeds, 1, 7))
    assert z[3, 17] == counter_normal(seeds[3], 17)
    assert z[3, 18] == counter_normal(seeds[3], 18)


@pytest.mark.parametrize("streams", [1, FEW_STREAMS - 1, FEW_STREAMS, 13, 32])
@pytest.mark.parametrize("start, n", [(0, 64), (1, 64), (5, 7), (6, 1), (3, 2)])
def test_normals_across_streams_are_the_streams_own(streams, start, n):
    """fill_normals_by_counter (drawn across the streams) gives each stream's normals, bit for bit."""
    seeds = derive_seeds(np.uint64(7), streams)
    out = np.empty((n, streams), dtype=np.float32)
    keys = np.empty((2, streams), dtype=np.int32)
    row = np.empty(padded_length(n), dtype=np.float32)
    fill_normals_by_counter(seeds, start, out, keys[0], keys[1], row)
    np.testing.assert_array_equal(out.T.astype(np.float64), standard_normals(seeds, n, start))


def test_quantize_grid_matches_reference(rng):
    x = rng.uniform(-2, 2, (50, 7))
    got, n = rounding.quantize_grid(x, 0.1, 0.05, -20, 20)
    ref, n_ref = rounding.quantize_grid_reference(x, 0.1, 0.05, -20, 20)
    np.testing.assert_array_equal(got, ref)
    assert n == n_ref > 0
    ties = np.array([0.5, 1.5, 2.5, -0.5])
    np.testing.assert_array_equal(rounding.quantize_grid(ties, 0.0, 1.0, -10, 10)[0], np.rint(ties))


@pytest.mark.parametrize("kind", [0, 1, 2])
@pytest.mark.parametrize("cycle_noise", [0.0, 0.3])
def test_pulse_update_matches_reference(rng, kind, cycle_noise):
    shape = (9, 7)
    g0 = rng.uniform(20e-6, 80e-6, shape)
    n = rng.integers(-6, 7, shape)
    low = np.full(shape, 10e-6) * rng.uniform(0.9, 1.1, shape)
    high = low * 10
    frozen = rng.random(shape) < 0.1
    seeds = derive_seeds(np.uint64(5), shape[0])
    a, b = g0.copy(), g0.copy()
    pulses = pulse_kernels.pulse_update(a, n, low, high, frozen, kind, 2e-6, 3e-6, 2.0, cycle_noise, seeds)
    pulses_ref = pulse_kernels.pulse_update_reference(b, n, low, high, frozen, kind, 2e-6, 3e-6, 2.0, cycle_noise, seeds)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    assert pulses == pulses_ref == np.abs(n).sum()
    np.testing.assert_array_equal(a[frozen], g0[frozen])
    assert np.all(a >= low) and np.all(a <= high)


def test_two_pulse_update_matches_reference(rng):
    shape = (11, 13)
    g0 = rng.uniform(0, 300e-6, shape)
    reset = rng.random(shape) < 0.4
    vg = rng.uniform(0.7, 1.6, shape)
    gain = rng.uniform(0.95, 1.05, shape)
    frozen = rng.random(shape) < 0.1
    seeds = derive_seeds(np.uint64(8), shape[0])
    a, b = g0.copy(), g0.copy()
    pulse_kernels.two_pulse_update(a, reset, vg, 98e-6, 120e-6, 0.0, 4e-6, gain, frozen, seeds)
    pulse_kernels.two_pulse_update_reference(b, reset, vg, 98e-6, 120e-6, 0.0, 4e-6, gain, frozen, seeds)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(a[frozen], g0[frozen])


def test_two_pulse_step_matches_reference(rng):
    shape = (9, 14)
    g0 = rng.uniform(0, 300e-6, shape)
    vg0 = rng.uniform(0.7, 1.6, shape)
    step = rng.normal(0.0, 0.3, shape)  # some steps leave the 0.7..1.6 V range and are cut
    gain = rng.uniform(0.95, 1.05, shape)
    frozen = rng.random(shape) < 0.1
    seeds = derive_seeds(np.uint64(5), shape[0])
    a, b, vg_a, vg_b = g0.copy(), g0.copy(), vg0.copy(), vg0.copy()
    args = (0.7, 1.6, 98e-6, 120e-6, 0.0, 4e-6, gain, frozen, seeds)
    counts = pulse_kernels.two_pulse_step(a, vg_a, step, *args)
    assert counts == pulse_kernels.two_pulse_step_reference(b, vg_b, step, *args)
    wanted = vg0 + step
    assert counts == (np.count_nonzero((wanted < 0.7) | (wanted > 1.6)),
                      np.count_nonzero(np.clip(wanted, 0.7, 1.6) < vg0))
    assert 0 < counts[0] < step.size
    np.testing.assert_array_equal(vg_a, vg_b)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    vg_a[3, 4] = np.nan  # never programmed: nothing moves
    before = a.copy()
    assert pulse_kernels.two_pulse_step(a, vg_a, step, *args) == (-1, 0)
    np.testing.assert_array_equal(a, before)


# ------------------------------------------------------- the converters: each scalar kernel and its twin
def _bits(values):
    """Each float64's bits (so that -0.0 and 0.0 differ)."""
    return np.asarray(values, dtype=np.float64).view(np.int64)


def _converter_inputs(rng, step):
    """Voltages or currents around a converter's codes: random, exact ties, near zero of both signs, ends."""
    return np.concatenate([rng.uniform(-1.2, 1.2, 400) * 127 * step, (np.arange(-130, 131) + 0.5) * step,
                           [0.0, -0.0, 0.3 * step, -0.3 * step, -0.5 * step, 126.5 * step, -127.6 * step]])


@pytest.mark.parametrize("dac_step, v_limit", [(0.2 / 127, 0.2 + 0.1 / 127), (0.2 / 127, np.inf), (0.0, 0.25)])
def test_the_dac_kernel_and_its_numpy_twin_give_the_same_bits(rng, dac_step, v_limit):
    v = np.append(_converter_inputs(rng, 0.2 / 127), [np.nan, np.inf, -np.inf])
    volts, codes, bad = conversion.dac_reference(v, v_limit, dac_step, 127.0)
    for k in range(v.size):
        one_volts, one_code, one_bad = conversion.dac_one(v[k], v_limit, dac_step, 127.0)
        assert one_bad == bad[k]
        if not one_bad:
            assert _bits(one_volts) == _bits(volts[k]) and _bits(one_code) == _bits(codes[k]), v[k]
    assert np.array_equal(bad, ~(np.abs(v) <= v_limit))
    if dac_step > 0.0:  # the driven voltage is its code's, and the code is the rounded one
        within = ~bad
        np.testing.assert_array_equal(volts[within], codes[within] * dac_step)
        np.testing.assert_array_equal(codes[within], np.clip(np.rint(v[within] / dac_step), -127, 127))


@pytest.mark.parametrize("adc_step", [1e-4 / 127, 0.0])
def test_the_adc_kernel_and_its_numpy_twin_give_the_same_bits(rng, adc_step):
    i = _converter_inputs(rng, 1e-4 / 127)
    values, saturated = conversion.adc_reference(i, adc_step, 127.0)
    for k in range(i.size):
        value, hit = conversion.adc_one(i[k], adc_step, 127.0)
        assert hit == saturated[k] and _bits(value) == _bits(values[k]), i[k]
    assert saturated.any() == (adc_step > 0.0)


@pytest.mark.parametrize("use_noise", [True, False])
def test_the_noise_kernel_and_its_numpy_twin_give_the_same_bits(rng, use_noise):
    current = rng.uniform(-1e-4, 1e-4, 300)
    variance = rng.uniform(0.0, 1e-12, 300).astype(np.float32)
    normals = rng.standard_normal(300).astype(np.float32)
    twin = conversion.noisy_current_reference(current, variance, normals, use_noise)
    one = [conversion.noisy_current(current[k], variance[k], normals[k], use_noise) for k in range(300)]
    np.testing.assert_array_equal(_bits(one), _bits(twin))
    pair = [conversion.convert_one(current[k], variance[k], normals[k], use_noise, 1e-6, 127.0) for k in range(300)]
    values, saturated = conversion.adc_reference(twin, 1e-6, 127.0)
    np.testing.assert_array_equal(_bits([p[0] for p in pair]), _bits(values))
    np.testing.assert_array_equal([p[1] for p in pair], saturated)


def test_the_converters_convert_with_the_read_kernels_twins(rng):
    import crossbar

    dac, adc = crossbar.DAC(8, 0.2, clip=True), crossbar.ADC(8, 1e-4)
    v = _converter_inputs(rng, dac.step)
    expected = [conversion.dac_one(x, np.inf, dac.step, float(dac.max_code))[0] for x in v]
    np.testing.assert_array_equal(_bits(dac.convert(v)), _bits(expected))
    i = _converter_inputs(rng, adc.step)
    out, n = adc.convert(i)
    pairs = [conversion.adc_one(x, adc.step, float(adc.max_code)) for x in i]
    np.testing.assert_array_equal(_bits(out), _bits([p[0] for p in pairs]))
    assert n == sum(p[1] for p in pairs) > 0
