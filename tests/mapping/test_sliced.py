"""Bit-sliced weights and bit-serial inputs: exact at zero noise, noise drawn per slice and per cycle."""

import numpy as np
import pytest

import crossbar
from mapping import Chip, Encoding, SlicedMatrix, WeightSlicing


def ideal_chip(rows=64, cols=32, read_noise=0.0, dac=None, adc=None):
    device = crossbar.preset("ideal").replace(read_noise_sigma_relative=read_noise)
    return Chip(device, crossbar.ArraySpec(rows, cols), dac=dac, adc=adc, seed=0)


def weights(seed=0, n_in=30, n_out=20):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (n_in, n_out)), rng.normal(0, 0.3, n_out), rng.uniform(-1, 1, (6, n_in))


@pytest.mark.parametrize("kwargs, message", [
    (dict(weight_bits=1), "slicing.weight_bits"), (dict(weight_bits=17), "slicing.weight_bits"),
    (dict(bits_per_slice=0), "slicing.bits_per_slice"), (dict(weight_bits=3, bits_per_slice=4), "at most"),
    (dict(encoding="twos"), "slicing.encoding")])
def test_bad_slicings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WeightSlicing(**kwargs)


@pytest.mark.parametrize("encoding", ["differential", "offset"])
@pytest.mark.parametrize("weight_bits, bits_per_slice", [(8, 1), (8, 2), (8, 3), (6, 4), (4, 4)])
def test_digits_hold_the_levels(encoding, weight_bits, bits_per_slice):
    slicing = WeightSlicing(weight_bits, bits_per_slice, encoding)
    top = slicing.top
    levels = np.arange(-top, top + 1)
    digits = slicing.digits(levels)
    assert digits.shape == (slicing.n_slices, levels.size)
    assert np.abs(digits).max() <= 2 ** bits_per_slice - 1
    if encoding == "offset":
        assert digits.min() >= 0
    assert np.array_equal(slicing.levels(digits), levels)


@pytest.mark.parametrize("encoding", ["differential", "offset"])
@pytest.mark.parametrize("bits_per_slice", [1, 2, 3])
def test_sliced_product_is_the_product_of_the_levels(encoding, bits_per_slice):
    w, b, x = weights()
    m = SlicedMatrix(ideal_chip(), "m", 30, 20, WeightSlicing(8, bits_per_slice, encoding))
    m.program(w, b)
    levels, scale, _ = m.quantize(w, b)
    w_levels = levels * (m.level_step / scale)
    driven = np.hstack([x, np.full((6, m.n_bias), m.encoding.bias_input)])
    expected = driven @ w_levels
    np.testing.assert_allclose(m.matvec(x), expected, rtol=0, atol=1e-12 * np.abs(expected).max() * 100)
    assert np.abs(expected - (x @ w + b)).max() < 0.06  # 8-bit levels of weights up to about 1.7
    read_w, read_b = m.read_weights()
    np.testing.assert_allclose(read_w, w_levels[:30], atol=1e-12)
    np.testing.assert_allclose(read_b, w_levels[30:].sum(axis=0) * m.encoding.bias_input, atol=1e-12)


@pytest.mark.parametrize("encoding", ["differential", "offset"])
@pytest.mark.parametrize("dac", [crossbar.DAC(6, 0.2), crossbar.DAC(6, 0.2, bit_serial=True),
                                 crossbar.DAC(6, 0.2, bit_serial=True, conversion="accumulate"),
                                 crossbar.DAC(7, 0.2, bit_serial=True, bits_per_cycle=3),
                                 crossbar.DAC(6, 0.2, bit_serial=True, conversion="accumulate", bits_per_cycle=2)])
def test_sliced_reads_equal_the_numpy_twin(encoding, dac):
    w, b, x = weights(1)
    chip = ideal_chip(read_noise=0.03, dac=dac, adc=crossbar.AdcSpec(
        bits=7, kind="sar", capacitor_mismatch_sigma=0.03, comparator_offset_sigma_lsb=0.3, columns_per_converter=2))
    m = SlicedMatrix(chip, "m", 30, 20, WeightSlicing(8, 2, encoding))
    m.program(w, b)
    m.set_adc_full_scale(m.adc_full_scale_by("array_max"))
    states = [a.rng.bit_generator.state for a in chip.arrays]
    compiled = m.matvec(x)
    for a, s in zip(chip.arrays, states):
        a.rng.bit_generator.state = s
    assert np.array_equal(compiled, m.matvec(x, reference=True))


def test_read_noise_is_drawn_per_slice():
    """The output variance over repeated reads is sum_s 4**(b s) sum_i V_i^2 (s G_i)^2 / unit^2."""
    sigma = 0.05
    w, b, x = weights(2, 20, 6)
    chip = ideal_chip(read_noise=sigma)
    m = SlicedMatrix(chip, "m", 20, 6, WeightSlicing(6, 2, "differential"), bias=False)
    m.program(w)
    x1 = x[:1, :20]
    outputs = np.array([m.matvec(x1)[0] for _ in range(3000)])
    e = m.encoding
    v = x1[0] * e.v_read
    predicted = np.zeros(6)
    for t in m.tiles:
        rows, cols = m._region(t)
        g = chip.arrays[t.array].conductance[rows, cols]
        weight = m.slicing.slice_weights[t.slice_index]
        both = np.concatenate([v, v])  # +V on G+, -V on G-: the variance takes V^2
        predicted += weight ** 2 * (both ** 2) @ (sigma * g) ** 2
    predicted /= (e.v_read * m.scale) ** 2
    ratio = outputs.var(axis=0) / predicted
    assert np.all(np.abs(ratio - 1) < 0.1), ratio


def test_sliced_weights_are_not_updated_in_situ_and_refuse_corners_and_large_weights():
    w, b, _ = weights()
    m = SlicedMatrix(ideal_chip(), "m", 30, 20, WeightSlicing(8, 2))
    with pytest.raises(ValueError, match="in-situ updates of sliced weights"):
        m.apply_update(w, b)
    with pytest.raises(ValueError, match="in-situ initial state"):
        m.initialize()
    with pytest.raises(ValueError, match="corner"):
        SlicedMatrix(ideal_chip(), "m", 30, 20, WeightSlicing(8, 2), corner=(0, 0, 0))
    fixed = SlicedMatrix(ideal_chip(), "f", 30, 20, WeightSlicing(4, 2),
                         encoding=Encoding(scale="fixed", siemens_per_weight=100e-6))
    with pytest.raises(ValueError, match="4-bit weights"):
        fixed.program(w * 10, b)


# ------------------------------------------------------------------ bit-serial inputs
def serial_array(dac, read_noise=0.0, adc=None, rows=40, cols=24):
    device = crossbar.preset("ideal").replace(read_noise_sigma_relative=read_noise)
    array = crossbar.CrossbarArray(rows, cols, device, seed=4, peripherals=crossbar.Peripherals(dac=dac, adc=adc))
    array.program(np.random.default_rng(0).uniform(device.g_min, device.g_max, (rows, cols)))
    return array


@pytest.mark.parametrize("conversion", ["per_bit", "accumulate"])
@pytest.mark.parametrize("bits_per_cycle", [1, 2, 3, 6])
def test_bit_serial_inputs_equal_parallel_ones_without_noise(conversion, bits_per_cycle):
    v = np.random.default_rng(1).uniform(-0.2, 0.2, (9, 40))
    parallel = serial_array(crossbar.DAC(7, 0.2)).mvm(v)
    serial = serial_array(crossbar.DAC(7, 0.2, bit_serial=True, conversion=conversion,
                                       bits_per_cycle=bits_per_cycle)).mvm(v)
    np.testing.assert_allclose(serial, parallel, rtol=1e-13, atol=1e-13 * np.abs(parallel).max())


def test_bad_bits_per_cycle_are_refused():
    assert crossbar.DAC(7, 0.2, bit_serial=True, bits_per_cycle=4).cycles == 2  # digits of 4 and 2 bits
    assert crossbar.DAC(7, 0.2, bit_serial=True, bits_per_cycle=3).cycle_top == 7
    with pytest.raises(ValueError, match="dac.bits_per_cycle=7 is out of range"):
        crossbar.DAC(7, 0.2, bit_serial=True, bits_per_cycle=7)
    with pytest.raises(ValueError, match="dac.bits_per_cycle=0 is out of range"):
        crossbar.DAC(7, 0.2, bit_serial=True, bits_per_cycle=0)
    with pytest.raises(ValueError, match="without dac.bit_serial"):
        crossbar.DAC(7, 0.2, bits_per_cycle=2)


@pytest.mark.parametrize("conversion", ["per_bit", "accumulate"])
@pytest.mark.parametrize("bits_per_cycle", [1, 2])
def test_bit_serial_read_noise_is_drawn_per_cycle(conversion, bits_per_cycle):
    sigma, bits = 0.05, 5
    dac = crossbar.DAC(bits, 0.2, bit_serial=True, conversion=conversion, bits_per_cycle=bits_per_cycle)
    array = serial_array(dac, read_noise=sigma, rows=16, cols=8)
    v = np.random.default_rng(2).uniform(-0.2, 0.2, (1, 16))
    outputs = np.array([array.mvm(v)[0] for _ in range(4000)])
    codes = np.abs(np.rint(v[0] / dac.step)).astype(int)
    b, mask = bits_per_cycle, 2 ** bits_per_cycle - 1
    weights = np.array([sum(4.0 ** (b * k) * ((c >> (b * k)) & mask) ** 2 for k in range(dac.cycles))
                        for c in codes])
    # cycle k: (2**(b k) (2**b - 1) / top)^2 (d_k v_max / (2**b - 1))^2 (s G)^2; v_max = top * step
    predicted = (dac.step ** 2 * weights) @ (sigma * array.conductance) ** 2
    ratio = outputs.var(axis=0) / predicted
    assert np.all(np.abs(ratio - 1) < 0.1), ratio
    parallel = (dac.convert(v[0]) ** 2) @ (sigma * array.conductance) ** 2
    assert np.all(predicted < parallel * 1.0001)  # sum 4**k b_k <= (sum 2**k b_k)**2


def test_bit_serial_counts_cycles_and_conversions():
    v = np.random.default_rng(1).uniform(-0.2, 0.2, (3, 40))
    adc = crossbar.ADC(8, 1e-3)
    counts = {}
    for name, dac in [("parallel", crossbar.DAC(6, 0.2)), ("per_bit", crossbar.DAC(6, 0.2, bit_serial=True)),
                      ("accumulate", crossbar.DAC(6, 0.2, bit_serial=True, conversion="accumulate"))]:
        array = serial_array(dac, adc=adc)
        array.mvm(v)
        counts[name] = array.counters
    assert counts["parallel"].input_vectors == 3 and counts["per_bit"].input_vectors == 15
    assert counts["accumulate"].input_vectors == 15
    assert counts["parallel"].adc_conversions == 3 * 24 == counts["accumulate"].adc_conversions
    assert counts["per_bit"].adc_conversions == 5 * 3 * 24
    # every cycle drives v_max on the rows of its set bits: the energy of the set bits, not of the levels
    dac = crossbar.DAC(6, 0.2)
    codes = np.abs(np.rint(v / dac.step)).astype(int)
    set_bits = sum((codes >> k) & 1 for k in range(5))
    array = serial_array(crossbar.DAC(6, 0.2, bit_serial=True), adc=adc)
    expected = array.costs.read_time * np.sum((set_bits * (dac.v_max ** 2)) @ array.conductance)
    assert counts["per_bit"].cell_energy == pytest.approx(expected, rel=1e-12)
    assert counts["accumulate"].cell_energy == pytest.approx(expected, rel=1e-12)
    # 2-bit drivers: three cycles (digits of 2, 2 and 1 bits), each digit d drives d v_max / 3
    serial = serial_array(crossbar.DAC(6, 0.2, bit_serial=True, bits_per_cycle=2), adc=adc)
    serial.mvm(v)
    assert serial.counters.input_vectors == 9 and serial.counters.adc_conversions == 3 * 3 * 24
    digit_squares = sum(((codes >> (2 * k)) & 3) ** 2 for k in range(3))
    expected = serial.costs.read_time * np.sum((digit_squares * (dac.v_max / 3) ** 2) @ serial.conductance)
    assert serial.counters.cell_energy == pytest.approx(expected, rel=1e-12)


def test_a_network_of_sliced_weights_and_serial_inputs_continues_after_a_reload(tmp_path):
    import crossbar
    from lstm.hardware import HardwareNetwork
    from mapping import ChipSpec, SlicingSpec
    from lstm.network import make_network

    net = make_network(12, [14], 9, head="softmax", mode="seq2vec", loss="cross_entropy", seed=0)
    config = ChipSpec(slicing=SlicingSpec(8, 2, "offset"), adc=crossbar.AdcSpec(range_by="array_max"),
                      dac=crossbar.DacSpec(inputs="bit_serial"))
    hw = HardwareNetwork(net, config, seed=1)
    hw.program()
    x = np.random.default_rng(0).uniform(-1, 1, (4, 6, 12))
    hw.save(str(tmp_path / "chip.npz"))
    loaded = HardwareNetwork.load(str(tmp_path / "chip.npz"))
    assert (loaded.config.slicing, loaded.config.dac.bit_serial) == (config.slicing, True)
    for _ in range(2):
        np.testing.assert_array_equal(hw.predict(x), loaded.predict(x))
    with pytest.raises(ValueError, match="in-situ initial state"):
        hw.initialize()
