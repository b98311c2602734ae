"""A scale per output column restored digitally after the ADC, and drift compensation by a reference read."""

import numpy as np
import pytest

import crossbar
from crossbar import Drive, Read, ReadPlan
from mapping import Chip, ChipSpec, Encoding, MappedMatrix, SlicedMatrix, WeightSlicing
from lstm.hardware import HardwareNetwork, evaluate_over_time
from lstm.network import make_network


def _quiet_li2019():
    return crossbar.preset("li2019").replace(program_noise_sigma=0.0, read_noise_sigma_relative=0.0,
                                             stuck_at_gmin_fraction=0.0, stuck_at_gmax_fraction=0.0)


@pytest.mark.parametrize("scheme", ["row_pairs", "column_pairs"])
@pytest.mark.parametrize("shape", [(20, 30), (100, 150)])
def test_ideal_column_scaled_matvec_is_exact_compiled_and_reference(rng, scheme, shape):
    n_in, n_out = shape
    chip = Chip(crossbar.preset("ideal"), seed=0)
    m = MappedMatrix(chip, "w", n_in, n_out, bias=True,
                     encoding=Encoding(scheme=scheme, scale="max_abs", scale_by="column"))
    w = rng.uniform(-2, 2, shape) * rng.uniform(0.01, 1.0, n_out)  # columns of very different sizes
    b = rng.uniform(-0.5, 0.5, n_out)
    m.program(w, b)
    assert m.scale.shape == (n_out,) and len(set(m.scale.tolist())) == n_out
    x = rng.uniform(-1, 1, (9, n_in))
    expected = x @ w + b
    for reference in (False, True):
        assert np.max(np.abs(m.matvec(x, reference=reference) - expected)) <= 1e-12 * np.max(np.abs(expected))
    np.testing.assert_array_equal(m.matvec(x), m.matvec(x, reference=True))
    w_read, b_read = m.read_weights()
    np.testing.assert_allclose(w_read, w, atol=1e-12)
    np.testing.assert_allclose(b_read, b, atol=1e-12)


def test_per_output_unit_of_one_value_gives_the_scalar_units_bits(rng):
    """A plan whose every output has the same unit divides by the same float: the same bits as one unit."""
    target, x = rng.uniform(190e-6, 270e-6, (8, 6)), rng.uniform(-1, 1, (5, 8))
    outs = []
    for unit in (2e-5, np.full(6, 2e-5)):
        for reference in (False, True):
            array = crossbar.CrossbarArray(8, 6, crossbar.preset("li2019"), seed=4)  # the same draws each time
            array.program(target)
            read = Read(array, (Drive((0, 8), 0, 1),), (0, 6), tuple((j, 1) for j in range(6)))
            outs.append(ReadPlan([read], 8, 6, volts_per_input=0.2, output_unit=unit).read(x, reference=reference))
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    with pytest.raises(ValueError, match="output_unit"):
        ReadPlan([read], 8, 6, output_unit=np.array([1.0, 1.0, 1.0, 1.0, 1.0, -1.0]))


def test_column_scale_lifts_small_columns_a_hundredfold(rng):
    w = rng.uniform(-0.01, 0.01, (10, 4))
    w[:, 0] *= 100.0  # one column's weights 100x the others'
    differences = {}
    for scale_by in ("matrix", "column"):
        chip = Chip(crossbar.preset("ideal"), seed=0)
        m = MappedMatrix(chip, "w", 10, 4, bias=False, encoding=Encoding(scale="max_abs", scale_by=scale_by))
        m.program(w)
        t = m.tiles[0]
        g = chip.arrays[t.array].read_conductance(slice(t.row0, t.row0 + 20), slice(t.col0, t.col0 + 4))
        differences[scale_by] = np.abs(g[:10] - g[10:])
    ratio = differences["column"] / differences["matrix"]
    np.testing.assert_allclose(ratio[:, 0], 1.0, rtol=1e-9)
    assert np.all(ratio[:, 1:] > 40.0) and np.median(ratio[:, 1:]) > 80.0


def test_in_situ_update_moves_each_weight_by_the_asked_amount_with_column_scales(rng):
    chip = Chip(_quiet_li2019(), seed=0)
    m = MappedMatrix(chip, "w", 6, 5, bias=True, encoding=Encoding(scale_by="column"))
    w = rng.uniform(-0.3, 0.3, (6, 5)) * np.array([1.0, 0.5, 0.2, 1.5, 0.8])
    b = rng.uniform(-0.3, 0.3, 5)
    m.program(w, b)  # "fits" per column: a column of large weights takes its own, smaller scale
    m.scale = m.scale * np.array([1.0, 1.3, 0.7, 1.1, 0.9])  # different k_j for every column
    m.initialize()
    w0, b0 = m.read_weights()
    np.testing.assert_allclose(w0, 0, atol=1e-12)
    dw, db = rng.uniform(-0.2, 0.2, (6, 5)), rng.uniform(-0.2, 0.2, 5)
    assert m.apply_update(dw, db).n_limited == 0
    w1, b1 = m.read_weights()
    np.testing.assert_allclose(w1, dw, atol=1e-12)
    np.testing.assert_allclose(b1, db, atol=1e-12)
    x = rng.uniform(-1, 1, (3, 6))
    np.testing.assert_allclose(m.matvec(x), x @ dw + db, atol=1e-10)


def test_sliced_weights_refuse_column_scales():
    chip = Chip(crossbar.preset("ideal"), seed=0)
    with pytest.raises(ValueError, match="scale_by='column' is not allowed with sliced"):
        SlicedMatrix(chip, "w", 4, 3, WeightSlicing(8, 2), encoding=Encoding(scale_by="column"))
    with pytest.raises(ValueError, match="encoding.scale_by"):
        Encoding(scale_by="row")


def test_saved_chip_keeps_column_scales_and_drift_gain(tmp_path, rng):
    net = make_network(3, [4], 2, seed=1, head="sigmoid")
    config = ChipSpec(preset="hfo2_soft_bounds", encoding=Encoding(scale="max_abs", scale_by="column"))
    hw = HardwareNetwork(net, config, seed=0)
    hw.program()
    hw.record_drift_reference()
    hw.let_time_pass(1e4)
    hw.compensate_drift("column")
    hw.save(str(tmp_path / "chip.npz"))
    loaded = HardwareNetwork.load(str(tmp_path / "chip.npz"))
    for name, mm in hw.matrices.items():
        assert mm.scale.shape == (mm.n_out,)
        np.testing.assert_array_equal(loaded.matrices[name].scale, mm.scale)
        np.testing.assert_array_equal(loaded.matrices[name].output_gain, mm.output_gain)
        np.testing.assert_array_equal(loaded.matrices[name].drift_reference, mm.drift_reference)
    x = rng.uniform(-1, 1, (4, 5, 3))
    np.testing.assert_array_equal(hw.predict(x), loaded.predict(x))


def _drifting_matrix(rng, nu_sigma, read_noise=0.0):
    device = crossbar.preset("ideal").replace(drift_nu=0.05, drift_nu_sigma=nu_sigma,
                                              read_noise_sigma_relative=read_noise)
    chip = Chip(device, seed=2)
    m = MappedMatrix(chip, "w", 30, 12, bias=True, encoding=Encoding(scale="max_abs"))
    w, b = rng.uniform(-1, 1, (30, 12)), rng.uniform(-0.5, 0.5, 12)
    m.program(w, b)
    return chip, m, rng.uniform(-1, 1, (50, 30))


@pytest.mark.parametrize("mode", ["global", "column"])
def test_drift_compensation_recovers_the_fresh_outputs(rng, mode):
    chip, m, x = _drifting_matrix(rng, nu_sigma=0.002)  # hfo2_soft_bounds's spread
    fresh = m.matvec(x)
    m.record_drift_reference()
    for a in chip.arrays:
        a.advance_time(1e6)
    drifted = m.matvec(x)
    m.compensate_drift(mode)
    compensated = m.matvec(x)
    np.testing.assert_array_equal(compensated, m.matvec(x, reference=True))
    error = lambda y: float(np.sqrt(np.mean((y - fresh) ** 2)))  # noqa: E731
    assert error(drifted) > 0.2 * float(np.sqrt(np.mean(fresh ** 2)))  # 1e6 s at nu 0.05: -50 %
    assert error(compensated) < error(drifted) / 4


def test_global_compensation_of_one_drift_exponent_is_within_read_noise(rng):
    chip, m, x = _drifting_matrix(rng, nu_sigma=0.0, read_noise=0.002)
    fresh = m.matvec(x)
    again = m.matvec(x)  # two fresh reads differ by the read noise alone
    m.record_drift_reference()
    for a in chip.arrays:
        a.advance_time(1e6)
    m.compensate_drift("global")
    noise = float(np.sqrt(np.mean((again - fresh) ** 2)))
    assert float(np.sqrt(np.mean((m.matvec(x) - fresh) ** 2))) < 2.0 * noise
    m.compensate_drift("none")  # changes nothing
    with pytest.raises(ValueError, match="drift_compensation"):
        m.compensate_drift("tile")


def test_network_over_time_with_compensation(rng):
    net = make_network(3, [5], 2, seed=1, head="sigmoid")
    x = rng.uniform(-1, 1, (6, 5, 3))
    drifting = ChipSpec(preset="ideal", device=crossbar.preset("ideal").replace(drift_nu=0.05))
    truth = net.predict(x)
    error = lambda hw: float(np.sqrt(np.mean((hw.predict(x) - truth) ** 2)))  # noqa: E731
    errors = {}
    for mode in ("none", "global", "column"):
        hw = HardwareNetwork(net, drifting, seed=0)
        hw.program()
        errors[mode] = evaluate_over_time(hw, [1.0, 1e6], error, compensation=mode)
    assert errors["none"][1] > 1e-3
    assert errors["global"][1] < 1e-9 and errors["column"][1] < 1e-9
    hw = HardwareNetwork(net, drifting, seed=0)
    hw.program()
    with pytest.raises(ValueError, match="no drift reference"):
        hw.compensate_drift("global")


@pytest.mark.parametrize("compiled", [True, False])
def test_ideal_network_with_column_scales_equals_software(rng, compiled):
    """The compiled LSTM layer (the read inside its kernel) and the step-by-step twin divide each output by
    its own column's unit."""
    net = make_network(3, [5], 2, seed=1, head="sigmoid")
    net.params["layer0.W"][:, 0] *= 30.0  # one gate column far larger than the rest
    hw = HardwareNetwork(net, ChipSpec(preset="ideal", encoding=Encoding(scale="max_abs", scale_by="column")),
                         seed=0, compiled=compiled)
    hw.program()
    assert len(set(hw.matrices["layer0.W"].scale.tolist())) > 1
    x = rng.uniform(-1, 1, (4, 6, 3))
    np.testing.assert_allclose(hw.predict(x), net.predict(x), atol=1e-10)


def test_adc_range_by_outputs_takes_the_largest_column_scale(rng):
    chip = Chip(crossbar.preset("li2019"), seed=0)
    m = MappedMatrix(chip, "w", 8, 4, bias=False, encoding=Encoding(scale="max_abs", scale_by="column"))
    m.program(rng.uniform(-1, 1, (8, 4)) * np.array([1.0, 0.1, 0.5, 0.02]))
    assert m.adc_full_scale_for(6.0) == pytest.approx(6.0 * 0.2 * float(np.max(m.scale)))
    assert "scale per column" in str(m.program(rng.uniform(-1, 1, (8, 4))))
