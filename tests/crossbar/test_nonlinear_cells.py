"""Cells with a nonlinear I-V (I = G sinh(kV)/k) inside the compiled read: exact against the passive solve,
the numpy twin, noise of the current, energy V I, bit-serial 1-bit drives immune, and what is refused."""

import numpy as np
import pytest

import crossbar
from crossbar.read.kernels import read_product_reference
from mapping import Chip, MappedMatrix, SlicedMatrix, WeightSlicing

K = 4.0  # 1/V: at 0.2 V a cell passes 5 % more than a linear one, at 0.5 V 35 % more


def array(k=K, read_noise=0.0, dac=None, adc=None, wires=None, read_scheme="grounded", rows=24, cols=10, seed=3):
    device = crossbar.preset("ideal").replace(iv_nonlinearity_per_volt=k, read_noise_sigma_relative=read_noise)
    a = crossbar.CrossbarArray(rows, cols, device, seed=seed, peripherals=crossbar.Peripherals(
        dac=dac, adc=adc, wires=wires, read_scheme=read_scheme))
    a.program(np.random.default_rng(seed).uniform(20e-6, 300e-6, (rows, cols)))
    return a


def test_a_product_of_sinh_cells_is_the_passive_solve_of_the_same_cells():
    a = array()
    v = np.random.default_rng(0).uniform(-0.5, 0.5, (7, 24))
    out = a.mvm(v)
    solved = crossbar.solve_passive(a.conductance, v, 0.0, 0.0, cell=crossbar.SinhCell(K)).output_currents
    np.testing.assert_allclose(out, solved, rtol=0, atol=1e-12 * np.abs(solved).max())
    linear = v @ a.conductance
    assert np.abs(out - linear).max() > 0.05 * np.abs(linear).max()  # the bend is there, not lost
    np.testing.assert_allclose(array(k=0.0).mvm(v), linear, rtol=0, atol=1e-13 * np.abs(linear).max())


@pytest.mark.parametrize("dac", [None, crossbar.DAC(7, 0.5), crossbar.DAC(7, 0.5, bit_serial=True),
                                 crossbar.DAC(7, 0.5, bit_serial=True, bits_per_cycle=3),
                                 crossbar.DAC(7, 0.5, bit_serial=True, conversion="accumulate", bits_per_cycle=2)])
def test_nonlinear_reads_equal_the_numpy_twin(dac):
    adc = crossbar.ADC(8, 3e-3, crossbar.ADCCircuit("sar", 0.02, 0.3))
    a = array(read_noise=0.02, dac=dac, adc=adc)
    v = np.random.default_rng(1).uniform(-0.5, 0.5, (6, 24))
    state = a.rng.bit_generator.state
    compiled = a.mvm(v)
    a.rng.bit_generator.state = state
    reference = a.mvm(v, reference=True)
    np.testing.assert_allclose(compiled, reference, rtol=1e-13, atol=1e-13 * np.abs(reference).max())


@pytest.mark.parametrize("conversion", ["per_bit", "accumulate"])
def test_one_bit_drives_see_only_a_gain_which_the_digital_side_divides_out(conversion):
    """ISAAC's argument for 1-bit drivers: two levels, 0 and v_max, bend to 0 and sinh(k v_max)/k, so a
    bit-serial product of nonlinear cells is the linear one times one gain, known and divided out after
    the ADC; multi-level drives distort."""
    v = np.random.default_rng(2).uniform(-0.5, 0.5, (5, 24))
    dac = crossbar.DAC(7, 0.5, bit_serial=True, conversion=conversion)
    bent = array(dac=dac).mvm(v)
    straight = array(k=0.0, dac=dac).mvm(v)
    np.testing.assert_allclose(bent, straight, rtol=1e-12, atol=1e-13 * np.abs(bent).max())
    gain = np.sinh(K * 0.5) / (K * 0.5)
    # before the ADC the currents carry the gain: a full scale 10 % above the largest linear current of a
    # cycle (every row at v_max; accumulated cycles add up to the same) holds linear cells and saturates
    # every column of bent ones
    full = np.full((1, 24), 0.5)
    largest = 0.5 * array(k=0.0).conductance.sum(axis=0).max()
    adc = crossbar.ADC(12, 1.1 * largest)
    cold, hot = array(k=0.0, dac=dac, adc=adc), array(dac=dac, adc=adc)
    cold.mvm(full)
    hot.mvm(full)
    assert gain > 1.8 and cold.counters.adc_saturations == 0
    assert hot.counters.adc_saturations == cold.counters.adc_conversions
    parallel = array(dac=crossbar.DAC(7, 0.5)).mvm(v)
    ratio = parallel / array(k=0.0, dac=crossbar.DAC(7, 0.5)).mvm(v)
    assert np.ptp(ratio[np.abs(parallel) > 1e-5]) > 0.05  # no single gain fits multi-level drives


def test_read_noise_of_nonlinear_cells_is_relative_to_their_current():
    sigma = 0.05
    a = array(read_noise=sigma, rows=12, cols=6)
    v = np.random.default_rng(3).uniform(-0.5, 0.5, (1, 12))
    outputs = np.array([a.mvm(v)[0] for _ in range(4000)])
    predicted = (np.sinh(K * v[0]) / K) ** 2 @ (sigma * a.conductance) ** 2
    ratio = outputs.var(axis=0) / predicted
    assert np.all(np.abs(ratio - 1) < 0.1), ratio


def test_the_cells_dissipate_v_times_i():
    a = array()
    v = np.random.default_rng(4).uniform(-0.5, 0.5, (3, 24))
    a.mvm(v)
    expected = a.costs.read_time * np.sum((v * np.sinh(K * v) / K) @ a.conductance)
    assert a.counters.cell_energy == pytest.approx(expected, rel=1e-12)


def test_reads_that_need_a_solve_per_vector_are_refused():
    v = np.zeros((1, 24))
    with pytest.raises(ValueError, match="with wire resistance.*solve per input vector"):
        array(wires=crossbar.WireResistance(1.0, 1.0)).mvm(v)
    with pytest.raises(ValueError, match="through floating lines"):
        array(read_scheme="floating").mvm(v)
    array(read_scheme="1t1r").mvm(v)  # no wires: every cell sees its row's drive
    device = crossbar.preset("ideal").replace(iv_nonlinearity_per_volt=K)
    m = SlicedMatrix(Chip(device, crossbar.ArraySpec(64, 32), seed=0), "m", 10, 4, WeightSlicing(6, 2, "offset"))
    m.program(np.random.default_rng(0).normal(0, 0.5, (10, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="input sum"):
        m.matvec(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="iv_nonlinearity_per_volt"):
        device.replace(iv_nonlinearity_per_volt=-1.0)
    from mapping import ChipSpec

    with pytest.raises(ValueError, match="through floating lines"):
        ChipSpec(preset="ideal", device=device, array=crossbar.ArraySpec(read_scheme="floating"))
    with pytest.raises(ValueError, match="through wires"):
        ChipSpec(preset="ideal", device=device, wires=crossbar.WiresSpec(1.0, 1.0))


def test_the_numpy_twin_of_a_plan_takes_the_cell_too():
    a = array(dac=crossbar.DAC(7, 0.5))
    v = np.random.default_rng(5).uniform(-0.5, 0.5, (4, 24))
    read = crossbar.Read(a, (crossbar.Drive((0, 24), 0, 1),), (0, 10), tuple((q, 1) for q in range(10)))
    plan = crossbar.ReadPlan([read], n_inputs=24, n_outputs=10, dac=crossbar.DAC(7, 0.5))
    assert plan.arrays.cell_nonlinearity == K
    out, _, _, _ = read_product_reference(v, plan.arrays, plan.draw_seeds(1)[0])
    expected = (np.sinh(K * crossbar.DAC(7, 0.5).convert(v)) / K) @ a.conductance
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("read_scheme", ["grounded", "v_half"])
def test_an_adc_calibrated_on_bending_cells_covers_their_currents(read_scheme):
    # k = 8 /V: at 0.2 V a cell passes 22 % more than G V; the passive solve is the independent judge
    k = 8.0
    device = crossbar.preset("ideal").replace(iv_nonlinearity_per_volt=k, read_noise_sigma_relative=0.0)
    chip = Chip(device, crossbar.ArraySpec(64, 16, read_scheme=read_scheme), dac=crossbar.DAC(8, 0.4),
                adc=crossbar.AdcSpec(bits=8), seed=0)
    m = MappedMatrix(chip, "m", 20, 6)
    other = MappedMatrix(chip, "other", 9, 6)  # below m on its array: rows that m's reads hold
    rng = np.random.default_rng(0)
    m.program(rng.normal(0.0, 0.5, (20, 6)), rng.normal(0.0, 0.5, 6))
    other.program(rng.normal(0.0, 0.5, (9, 6)), rng.normal(0.0, 0.5, 6))
    x = rng.uniform(-1.0, 1.0, (40, 20))
    adc = m.calibrate_adc(x)
    drives = np.hstack([x, np.full((40, m.n_bias), m.encoding.bias_input)]) * m.encoding.v_read
    solved, linear, held = [], [], 0.0
    for read in m.reads():
        a = read.array
        v = np.zeros((40, a.rows))
        for d in read.drives:
            v[:, d.rows[0]:d.rows[1]] = d.sign * chip.dac.convert(drives[:, d.first_input:d.first_input + d.rows[1]
                                                                         - d.rows[0]])
        # the products alone: the undriven rows at 0 V (the held lines' current is added to the range apart)
        out = crossbar.solve_passive(a.conductance, v, 0.0, 0.0, cell=crossbar.SinhCell(k)).output_currents
        solved.append(out[:, read.cols[0]:read.cols[1]])
        linear.append((v @ a.conductance)[:, read.cols[0]:read.cols[1]])
        held = max(held, float(np.abs(a.read_bias_current([d.rows for d in read.drives], read.cols)[0]).max()))
    largest = max(float(np.abs(c).max()) for c in solved)
    assert max(float(np.abs(c).max()) for c in linear) < 0.9 * largest  # what calibration used to take
    assert adc.full_scale == pytest.approx(largest + held, rel=1e-9)
    assert (held > 0.0) == (read_scheme == "v_half")
    before = m.counters.adc_saturations
    m.matvec(x)
    assert m.counters.adc_saturations == before  # no current of the calibration data saturates
