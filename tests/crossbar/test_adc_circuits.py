"""ADC circuits: SAR and ramp against the uniform quantizer, mismatch, linearity, ENOB, saving, reads."""

import numpy as np
import pytest

import crossbar
from crossbar.circuits.adc import ADCCircuit, ConverterBank, circuit_code_one, circuit_codes_reference, ideal_bank
from crossbar.circuits.adc_metrics import enob, linearity, plot_transfer, transitions


def noisy_device():
    return crossbar.preset("ideal").replace(read_noise_sigma_relative=0.02)


def array_with(circuit, rows=48, cols=40, bits=6, full_scale=4e-5, seed=5, device=None):
    device = device or noisy_device()
    adc = crossbar.ADC(bits, full_scale, circuit)
    array = crossbar.CrossbarArray(rows, cols, device, seed=seed, peripherals=crossbar.Peripherals(adc=adc))
    array.program(np.random.default_rng(0).uniform(device.g_min, device.g_max, (rows, cols)))
    return array


# ------------------------------------------------------------------ configuration
@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="flash"), "adc.kind"),
    (dict(kind="sar", capacitor_mismatch_sigma=-0.1), "adc.capacitor_mismatch_sigma"),
    (dict(kind="sar", capacitor_mismatch_sigma=0.3), "adc.capacitor_mismatch_sigma"),
    (dict(kind="sar", comparator_offset_sigma_lsb=float("nan")), "adc.comparator_offset_sigma_lsb"),
    (dict(kind="sar", amplifier_gain=0.5), "adc.amplifier_gain"),
    (dict(kind="sar", columns_per_converter=0), "adc.columns_per_converter"),
    (dict(kind="uniform", capacitor_mismatch_sigma=0.01), "kind='uniform'"),
    (dict(kind="uniform", amplifier_gain=100.0), "kind='uniform'"),
    (dict(kind="ramp", capacitor_mismatch_sigma=0.01), "no capacitor DAC"),
    (dict(kind="ramp", columns_per_converter=2), "own comparator"),
])
def test_bad_circuits_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ADCCircuit(**kwargs)


def test_an_adc_of_mismatched_converters_does_not_convert_without_an_array():
    with pytest.raises(ValueError, match="convert on an array"):
        crossbar.ADC(8, 1e-4, ADCCircuit("sar", 0.01)).convert(np.zeros(3))


# ------------------------------------------------------------------ codes
def test_kernel_codes_equal_the_numpy_twin():
    rng = np.random.default_rng(0)
    bank = ConverterBank.draw(ADCCircuit("sar", 0.1, 0.5), 7, 16, rng)
    x = rng.normal(0.0, 40.0, (16, 300))
    expected = circuit_codes_reference(x, bank.weights[:, None, :], bank.half_codes)
    got = np.array([[circuit_code_one(x[k, j], bank.weights[k], bank.half_codes) for j in range(300)]
                    for k in range(16)])
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("kind", ["sar", "ramp"])
def test_zero_mismatch_gives_the_uniform_codes_code_for_code(kind):
    bits, cols = 8, 32
    bank = ConverterBank.draw(ADCCircuit(kind), bits, cols, np.random.default_rng(1))
    u = np.random.default_rng(2).normal(0.0, 90.0, (2000, cols))  # LSB, about 17 % beyond the end codes
    codes, saturated = bank.convert(u, 1.0)
    expected = np.rint(u)
    assert np.array_equal(codes, np.clip(expected, -127, 127))
    assert np.array_equal(saturated, np.abs(expected) > 127)
    assert 0 < saturated.mean() < 0.5


def test_ramp_offsets_shift_each_column_and_do_nothing_else():
    bank = ConverterBank.draw(ADCCircuit("ramp", comparator_offset_sigma_lsb=0.7), 6, 12, np.random.default_rng(3))
    assert np.all(bank.weights == 2.0 ** np.arange(6))
    assert np.std(bank.offsets_lsb) > 0.2
    u = np.random.default_rng(4).uniform(-40.0, 40.0, (500, 12))
    codes, _ = bank.convert(u, 1.0)
    assert np.array_equal(codes, np.clip(np.rint(u + bank.offsets_lsb), -31, 31))
    for k in range(12):  # every transition moves by the column's offset
        assert np.allclose(transitions(bank, k), np.arange(-31, 32) - 0.5 - bank.offsets_lsb[k], atol=1e-8)


def test_ideal_transitions_are_half_way_between_codes():
    levels = transitions(ideal_bank(5, 1), 0)
    assert np.allclose(levels, np.arange(-15, 16) - 0.5, atol=1e-8)


def test_amplifier_gain_scales_the_input():
    bank = ConverterBank.draw(ADCCircuit("sar", amplifier_gain=50.0), 6, 2, np.random.default_rng(0))
    levels = transitions(bank, 0)
    assert np.allclose(levels, (np.arange(-31, 32) - 0.5) * 51.0 / 50.0, atol=1e-8)


def test_shared_converters_share_their_capacitors_and_offset():
    bank = ConverterBank.draw(ADCCircuit("sar", 0.05, 0.5, columns_per_converter=8), 8, 20,
                              np.random.default_rng(0))
    assert bank.n_converters == 3
    assert bank.column_converter.tolist() == [0] * 8 + [1] * 8 + [2] * 4
    u = np.full((1, 20), 17.3)
    codes, _ = bank.convert(u, 1.0)
    assert len(set(codes[0, :8])) == 1 and len(set(codes[0, 8:16])) == 1


def test_mismatch_gives_missing_codes_and_fewer_effective_bits():
    sigmas = [0.0, 0.01, 0.03, 0.1, 0.2]
    mean_enob, mean_missing = [], []
    for sigma in sigmas:
        bank = ConverterBank.draw(ADCCircuit("sar", capacitor_mismatch_sigma=sigma), 8, 24, np.random.default_rng(7))
        mean_enob.append(np.mean([enob(bank, k) for k in range(24)]))
        mean_missing.append(np.mean([linearity(bank, k).missing_codes.size for k in range(24)]))
    assert mean_enob[0] > 7.8  # an ideal 8-bit converter with a 0.95 full-scale sine
    assert all(a > b for a, b in zip(mean_enob, mean_enob[1:])), mean_enob
    assert mean_missing[0] == 0 and mean_missing[1] == 0
    assert mean_missing[-1] > 3 and mean_missing[-2] > 0.5, mean_missing
    ideal = linearity(ideal_bank(8, 1), 0)
    assert ideal.max_dnl_lsb < 1e-6 and ideal.max_inl_lsb < 1e-6 and ideal.missing_codes.size == 0


def test_a_missing_code_is_one_no_input_gives():
    bank = ConverterBank.draw(ADCCircuit("sar", capacitor_mismatch_sigma=0.2), 8, 24, np.random.default_rng(7))
    k = next(k for k in range(24) if linearity(bank, k).missing_codes.size)
    missing = set(linearity(bank, k).missing_codes.tolist())
    x = np.linspace(-130, 130, 400_001)
    codes, _ = bank.convert(x, 1.0, columns=np.full(x.shape, k))
    seen = set(np.unique(codes).astype(int).tolist())
    assert missing.isdisjoint(seen)
    assert set(range(-126, 127)) - missing <= seen


def test_sigma_scales_one_draw():
    weights = {}
    for sigma in (0.01, 0.02):
        bank = ConverterBank.draw(ADCCircuit("sar", sigma, 0.3), 6, 5, np.random.default_rng(11))
        weights[sigma] = bank.weights
    d1, d2 = weights[0.01] - 2.0 ** np.arange(6), weights[0.02] - 2.0 ** np.arange(6)
    assert np.allclose(d2, 2.0 * d1, rtol=0.05, atol=1e-4)


def test_transfer_figure_is_written(tmp_path):
    bank = ConverterBank.draw(ADCCircuit("sar", 0.05, 0.3), 6, 3, np.random.default_rng(0))
    path = tmp_path / "adc.png"
    plot_transfer(bank, str(path))
    assert path.stat().st_size > 10_000


# ------------------------------------------------------------------ on arrays
def test_array_converters_are_kept_by_the_state_and_do_not_touch_the_device_stream():
    circuit = ADCCircuit("sar", 0.05, 0.4, columns_per_converter=4)
    a = array_with(circuit)
    before = a.rng.bit_generator.state
    bank = a.converters(crossbar.ADC(6, 4e-5, circuit))
    assert a.rng.bit_generator.state == before
    assert a.converters(crossbar.ADC(6, 9e-5, circuit)) is bank  # the full scale is not part of the build
    twin = crossbar.CrossbarArray(48, 40, noisy_device(), seed=5)  # same seed, converters built later
    assert np.array_equal(twin.converters(crossbar.ADC(6, 1e-4, circuit)).weights, bank.weights)
    other = crossbar.CrossbarArray(48, 40, noisy_device(), seed=99)
    other.load_state(a.state())
    assert np.array_equal(other.converters(crossbar.ADC(6, 1e-4, circuit)).offsets_lsb, bank.offsets_lsb)
    broken = dict(a.state())
    broken["converters0.weights"] = broken["converters0.weights"][:, :3]
    with pytest.raises(ValueError, match="converters0"):
        other.load_state(broken)


@pytest.mark.parametrize("kind", ["sar", "ramp"])
def test_ideal_circuits_read_as_the_uniform_quantizer(kind):
    outputs, saturations = [], []
    for circuit in (ADCCircuit(), ADCCircuit(kind)):
        a = array_with(circuit, full_scale=2e-5)
        v = np.random.default_rng(1).uniform(-0.2, 0.2, (9, 48))
        outputs.append(a.mvm(v))
        saturations.append(a.counters.adc_saturations)
    assert np.array_equal(outputs[0], outputs[1])
    assert saturations[0] == saturations[1] > 0


@pytest.mark.parametrize("batch", [1, 64])
def test_mismatched_reads_equal_the_numpy_twin(batch):
    circuit = ADCCircuit("sar", 0.05, 0.4, amplifier_gain=200.0, columns_per_converter=4)
    a = array_with(circuit, rows=128, cols=256, bits=7, full_scale=3e-4)
    v = np.random.default_rng(1).uniform(-0.2, 0.2, (batch, 128))
    state = a.rng.bit_generator.state
    compiled = a.mvm(v)
    saturated = a.counters.adc_saturations
    a.rng.bit_generator.state = state
    assert np.array_equal(compiled, a.mvm(v, reference=True))
    assert a.counters.adc_saturations == 2 * saturated


def test_mismatch_changes_the_read_by_about_its_size():
    ideal = array_with(ADCCircuit("sar"), device=crossbar.preset("ideal"), bits=8, full_scale=1e-4)
    skewed = array_with(ADCCircuit("sar", comparator_offset_sigma_lsb=2.0), device=crossbar.preset("ideal"),
                        bits=8, full_scale=1e-4)
    v = np.random.default_rng(1).uniform(-0.05, 0.05, (50, 48))
    lsb = 1e-4 / 127
    shift = (skewed.mvm(v) - ideal.mvm(v)) / lsb
    offsets = skewed.converters(crossbar.ADC(8, 1e-4, ADCCircuit("sar", comparator_offset_sigma_lsb=2.0))).offsets_lsb
    assert np.all(np.abs(shift.mean(axis=0) - offsets) < 0.51)


@pytest.mark.parametrize("gain", [None, 50.0])
def test_a_circuit_conversion_by_its_scalar_kernels_equals_its_numpy_twin(gain):
    from crossbar.circuits.adc import circuit_convert_reference, circuit_end_one, circuit_signal_one

    circuit = ADCCircuit("sar", 0.02, 0.4, amplifier_gain=gain, columns_per_converter=2)
    bank = ConverterBank.draw(circuit, 6, 8, np.random.default_rng(3))
    lsb = 1e-6
    rng = np.random.default_rng(4)
    currents = np.concatenate([rng.uniform(-40, 40, (50, 8)), (np.arange(-34, 34)[:, None] + 0.5)
                               * np.ones((1, 8))]) * lsb
    converters = bank.column_converter[None, :].repeat(currents.shape[0], axis=0)
    codes, saturated = circuit_convert_reference(currents, lsb, circuit.gain_factor, bank.offsets_lsb[converters],
                                                 bank.weights[converters], bank.half_codes)
    top = float(bank.max_code)
    for (r, c), i in np.ndenumerate(currents):
        k = converters[r, c]
        x = circuit_signal_one(i, lsb, circuit.gain_factor, bank.offsets_lsb[k])
        code, hit = circuit_end_one(x, circuit_code_one(x, bank.weights[k], bank.half_codes), top)
        assert code == codes[r, c] and hit == saturated[r, c]
    assert saturated.any() and not saturated.all()
    bank_codes, bank_saturated = bank.convert(currents, lsb)  # the bank converts with the same twin
    np.testing.assert_array_equal(bank_codes, codes)
    np.testing.assert_array_equal(bank_saturated, saturated)
