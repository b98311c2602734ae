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


# ------------------------------------------------------------------ unused lines held at V/2
def half_array(ohms=None, read_noise=0.0, adc=None, dac=crossbar.DAC(8, 0.2), k=0.0, seed=0):
    device = crossbar.preset("ideal").replace(read_noise_sigma_relative=read_noise, iv_nonlinearity_per_volt=k)
    wires = None if ohms is None else crossbar.WireResistance(*ohms)
    array = crossbar.CrossbarArray(12, 10, device, seed=seed, peripherals=crossbar.Peripherals(
        dac=dac, adc=adc, wires=wires, read_scheme="v_half"))
    array.program(np.random.default_rng(seed).uniform(20e-6, 100e-6, (12, 10)))
    return array


def half_read(array, dac=crossbar.DAC(8, 0.2), adc=None):
    read = Read(array, (Drive((2, 7), 0, 1),), (3, 8), tuple((j, 1) for j in range(5)))
    return ReadPlan([read], 5, 5, dac=dac, adc=adc)


@pytest.mark.parametrize("ohms", [None, (2.0, 3.0)])
def test_lines_held_at_v_half_are_the_nodal_solve_less_their_known_current(ohms):
    array = half_array(ohms)
    x = np.random.default_rng(4).uniform(-0.2, 0.2, (4, 5))
    got = half_read(array).read(x)
    voltages = np.full((4, 12), 0.1)  # undriven rows at half of v_max = 0.2 V
    voltages[:, DRIVEN] = crossbar.DAC(8, 0.2).convert(x)
    held = np.where(SENSED, 0.0, 0.1)
    solved = crossbar.solve_passive(array.conductance, voltages, *(ohms or (0.0, 0.0)),
                                    bit_line_voltages=held).output_currents[:, 3:8]
    bias, _ = array.read_bias_current([(2, 7)], (3, 8))
    assert np.all(bias > 0.5 * np.abs(solved - bias).max())  # the held rows add as much as the signal
    np.testing.assert_allclose(got, solved - bias, rtol=0, atol=1e-11 * np.abs(solved).max())
    if ohms is None:  # ideal wires: the undriven rows at 0.1 V through each cell
        np.testing.assert_allclose(bias, 0.1 * array.conductance[~DRIVEN][:, SENSED].sum(axis=0), rtol=1e-13)


@pytest.mark.parametrize("dac", [crossbar.DAC(8, 0.2), crossbar.DAC(8, 0.2, bit_serial=True),
                                 crossbar.DAC(8, 0.2, bit_serial=True, conversion="accumulate")])
@pytest.mark.parametrize("k", [0.0, 3.0])
def test_v_half_reads_equal_the_numpy_twin(dac, k):
    adc = crossbar.ADC(8, 1e-4, crossbar.ADCCircuit("sar", 0.02, 0.3))
    array = half_array(read_noise=0.03, adc=adc, dac=dac, k=k)
    plan = half_read(array, dac, adc)
    x = np.random.default_rng(5).uniform(-0.2, 0.2, (6, 5))
    state = array.rng.bit_generator.state
    compiled = plan.read(x)
    array.rng.bit_generator.state = state
    np.testing.assert_array_equal(compiled, plan.read(x, reference=True))


def test_the_converters_see_the_held_lines_current_and_its_noise():
    x = np.full((1, 5), 0.2)
    quiet = half_array()
    largest = np.abs(partial_read(array_with("grounded", ohms=None)).read(x)).max()
    adc = crossbar.ADC(10, 1.1 * largest)
    grounded = array_with("grounded", ohms=None)
    grounded.peripherals = crossbar.Peripherals(dac=crossbar.DAC(8, 0.2), adc=adc)
    read = Read(grounded, (Drive((2, 7), 0, 1),), (3, 8), tuple((j, 1) for j in range(5)))
    ReadPlan([read], 5, 5, dac=crossbar.DAC(8, 0.2), adc=adc).read(x)
    assert grounded.counters.adc_saturations == 0
    held = half_array(adc=adc)
    half_read(held, adc=adc).read(x)
    assert held.counters.adc_saturations == 5  # the held rows' current pushes every column past full scale
    sigma = 0.05
    noisy = half_array(read_noise=sigma)
    plan = half_read(noisy)
    x1 = np.random.default_rng(6).uniform(-0.2, 0.2, (1, 5))
    outputs = np.array([plan.read(x1)[0] for _ in range(3000)])
    v = crossbar.DAC(8, 0.2).convert(x1[0])
    g = noisy.conductance
    predicted = (v ** 2) @ (sigma * g[DRIVEN][:, SENSED]) ** 2 + ((sigma * 0.1 * g[~DRIVEN][:, SENSED]) ** 2).sum(0)
    ratio = outputs.var(axis=0) / predicted
    assert np.all(np.abs(ratio - 1) < 0.1), ratio
    # the held rows dissipate V/2 times their current in every read
    energy = half_array()
    half_read(energy).read(np.zeros((3, 5)))
    bias, _ = energy.read_bias_current([(2, 7)], (3, 8))
    assert energy.counters.cell_energy == pytest.approx(3 * energy.costs.read_time * 0.1 * bias.sum(), rel=1e-12)
    assert quiet.read_bias_current([(0, 12)], (0, 10))[0].max() == 0.0  # every row driven: nothing held


def test_v_half_reads_need_a_dac():
    array = half_array(dac=None)
    with pytest.raises(ValueError, match="half the DAC's v_max"):
        half_read(array, dac=None).read(np.zeros((1, 5)))


def test_a_mapped_matrix_ranges_its_converters_over_the_held_lines_current_too():
    from mapping import Chip, MappedMatrix

    def matrix(scheme):
        chip = Chip(crossbar.preset("ideal"), crossbar.ArraySpec(32, 16, read_scheme=scheme), dac=crossbar.DAC(8, 0.2),
                    adc=crossbar.AdcSpec(bits=10), seed=0)
        first = MappedMatrix(chip, "first", 6, 5, bias=False, corner=(0, 0, 0))
        second = MappedMatrix(chip, "second", 6, 5, bias=False, corner=(0, 12, 0))  # below it, same columns
        rng = np.random.default_rng(7)
        for m in (first, second):
            m.program(rng.normal(0, 0.5, (6, 5)))
        for m in (first, second):  # once all is programmed: the held current is the other matrix's rows'
            m.set_adc_full_scale(m.adc_full_scale_by("outputs", 6.0))
        return first
    held, grounded = matrix("v_half"), matrix("grounded")
    assert held.held_current() > 0.0 and grounded.held_current() == 0.0
    assert held.adc.full_scale == pytest.approx(grounded.adc.full_scale + held.held_current(), rel=1e-12)
    x = np.random.default_rng(8).uniform(-1, 1, (20, 6))
    exact = x @ held.read_weights()[0]
    # the same products, on coarser steps: the full scale grew by the held current, nothing saturates
    assert held.counters.adc_saturations == 0
    err_held = np.abs(held.matvec(x) - exact).max()
    err_grounded = np.abs(grounded.matvec(x) - x @ grounded.read_weights()[0]).max()
    assert err_grounded < err_held < 0.5
    assert held.counters.adc_saturations == 0
