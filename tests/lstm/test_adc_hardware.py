"""ADC circuits on a network's chip: configuration, energy, range modes, saving, the sweep names."""

import numpy as np
import pytest

import crossbar
from mapping import Chip, ChipSpec
from lstm.hardware import HardwareNetwork
from lstm.network import make_network
from lstm.train import fit
from xbar.experiment import li2019, parameter
from xbar.runner import build_trainer, problem_of

SAR_FIELDS = dict(kind="sar", capacitor_mismatch_sigma=0.05, comparator_offset_sigma_lsb=0.5, columns_per_converter=4)
SAR = crossbar.ADCCircuit(**SAR_FIELDS)


def vowels_network():
    return make_network(12, [14], 9, head="softmax", mode="seq2vec", loss="cross_entropy", seed=0)


def test_experiment_names_reach_the_chip():
    exp = li2019("vowels").with_values({"adc.kind": "sar", "adc.capacitor_mismatch_sigma": 0.05,
                                        "adc.comparator_offset_sigma_lsb": 0.5, "adc.columns_per_converter": 4,
                                        "adc.bits": 6})
    _, _, hw = build_trainer(exp, problem_of(exp), "in_situ")
    assert hw.chip.adc_circuit == SAR and hw.chip.adc_bits == 6
    assert all(mm.adc.circuit == SAR for mm in hw.matrices.values())
    for name, kind in [("adc.kind", "choice"), ("adc.capacitor_mismatch_sigma", "float"),
                       ("adc.columns_per_converter", "int"), ("adc.range_by", "choice")]:
        assert parameter(name).kind == kind
    with pytest.raises(ValueError, match="adc.capacitor_mismatch_sigma"):
        li2019("vowels").with_values({"adc.capacitor_mismatch_sigma": 0.05})  # with the uniform kind
    with pytest.raises(ValueError, match="needs column ADCs"):
        ChipSpec(ideal_converters=True, adc=crossbar.AdcSpec(**SAR_FIELDS))


def test_converters_are_built_with_the_chip_and_saved(tmp_path):
    chip = Chip(crossbar.preset("li2019"), crossbar.ArraySpec(32, 16), adc=crossbar.AdcSpec(bits=6, **SAR_FIELDS), seed=3)
    chip.allocate("m", [(32, 16), (32, 16)])
    banks = [a.converters(chip.adc_design(1e-5)) for a in chip.arrays]
    assert banks[0].n_converters == 4 and not np.array_equal(banks[0].weights, banks[1].weights)
    path = tmp_path / "chip.npz"
    chip.save(str(path))
    loaded = Chip.load(str(path))
    assert loaded.adc_circuit == SAR
    for bank, a in zip(banks, loaded.arrays):
        same = a.converters(loaded.adc_design(1e-5))
        assert np.array_equal(same.weights, bank.weights) and np.array_equal(same.offsets_lsb, bank.offsets_lsb)


def test_a_network_on_mismatched_converters_continues_after_a_reload(tmp_path):
    config = ChipSpec(adc=crossbar.AdcSpec(**SAR_FIELDS, bits=6))
    net = vowels_network()
    hw = HardwareNetwork(net, config, seed=2)
    hw.program()
    x = np.random.default_rng(0).uniform(-1, 1, (5, 7, 12))
    path = tmp_path / "net.npz"
    hw.save(str(path))
    loaded = HardwareNetwork.load(str(path))
    for _ in range(3):
        np.testing.assert_array_equal(hw.predict(x), loaded.predict(x))
    ideal = HardwareNetwork(net, ChipSpec(adc=crossbar.AdcSpec(bits=6)), seed=2)
    ideal.program()
    assert not np.array_equal(ideal.predict(x), hw.predict(x))  # the mismatch is there


def test_converter_energy_and_time_follow_the_circuit():
    base = crossbar.EnergyCosts()
    sar8 = base.for_adc(crossbar.ADCCircuit("sar"), 8, 64)
    assert sar8.adc_energy == pytest.approx(base.adc_energy) and sar8.adc_time == pytest.approx(base.adc_time)
    assert sar8.adc_count == 64
    sar6 = base.for_adc(crossbar.ADCCircuit("sar", columns_per_converter=8), 6, 64)
    assert sar6.adc_energy == pytest.approx(base.adc_energy / 4) and sar6.adc_count == 8
    assert sar6.adc_time == pytest.approx(base.adc_time * 7 / 9)
    ramp = base.for_adc(crossbar.ADCCircuit("ramp"), 8, 64)
    assert ramp.adc_energy == pytest.approx(256 * 20e-15) and ramp.adc_time == pytest.approx(256e-9)
    assert base.for_adc(crossbar.ADCCircuit(), 4, 64) is base
    chip = ChipSpec(adc=crossbar.AdcSpec(kind="ramp", bits=6)).build()
    assert chip.costs.adc_energy == pytest.approx(64 * 20e-15)


def test_range_by_array_max_never_saturates_and_cell_step_sets_the_lsb():
    net = vowels_network()
    x = np.random.default_rng(0).uniform(-1, 1, (20, 7, 12))
    hw = HardwareNetwork(net, ChipSpec(adc=crossbar.AdcSpec(range_by="array_max")), seed=0)
    hw.program()
    hw.predict(x)
    assert hw.counters().adc_saturations == 0
    tight = HardwareNetwork(net, ChipSpec(adc=crossbar.AdcSpec(range=0.5)), seed=0)
    tight.program()
    tight.predict(x)
    assert tight.counters().adc_saturations > 0
    stepped = HardwareNetwork(net, ChipSpec(adc=crossbar.AdcSpec(range_by="cell_step")), seed=0)
    stepped.program()
    device = crossbar.preset("li2019")
    for mm in stepped.matrices.values():
        lsb = mm.adc.full_scale / 127
        assert lsb == pytest.approx(mm.encoding.v_read * device.pulse_law.step_up)
    with pytest.raises(ValueError, match="adc.range_by"):
        ChipSpec(adc=crossbar.AdcSpec(range_by="guess"))


def test_in_situ_training_runs_on_sar_converters():
    exp = li2019("vowels", 1).with_values({"adc.kind": "sar", "adc.capacitor_mismatch_sigma": 0.02})
    trainer, _, hw = build_trainer(exp, problem_of(exp), "in_situ")
    fit(trainer, problem_of(exp).train.subset(np.arange(40)), 1, 20, exp.optimizer_config(), seed=1,
        progress=False)
    assert hw.counters().adc_conversions > 0


def test_read_scheme_reaches_the_chip_and_is_saved(tmp_path):
    exp = li2019("vowels").with_values({"array.read_scheme": "floating"})
    _, net, hw = build_trainer(exp, problem_of(exp), "in_situ")
    assert hw.chip.peripherals.read_scheme == "floating"
    hw.program()
    grounded = HardwareNetwork(net, ChipSpec(corners=hw.config.corners, array=crossbar.ArraySpec(count=1)), seed=0)
    grounded.program()
    x = np.random.default_rng(0).uniform(-1, 1, (3, 5, 12))
    # Li et al.'s placement puts both matrices on one array: each read leaves the other's rows floating
    assert not np.allclose(hw.predict(x), grounded.predict(x))
    hw.save(str(tmp_path / "chip.npz"))
    loaded = HardwareNetwork.load(str(tmp_path / "chip.npz"))
    assert loaded.chip.peripherals.read_scheme == "floating"
    np.testing.assert_array_equal(loaded.predict(x), hw.predict(x))
    with pytest.raises(ValueError, match="array.read_scheme"):
        li2019("vowels").with_values({"array.read_scheme": "half"})


def test_write_disturb_reaches_in_situ_training_and_is_refused_for_two_pulse_devices(tmp_path):
    exp = li2019("vowels", 1).with_values({"hardware.preset": "hfo2_soft_bounds", "array.write_scheme": "v_third",
                                           "array.write_voltage": 1.5})
    trainer, _, hw = build_trainer(exp, problem_of(exp), "in_situ")
    assert hw.chip.peripherals.write_scheme == crossbar.WriteScheme("v_third", 1.5, 0.25)
    hw.program()
    before = hw.chip.arrays[0].conductance.copy()
    lstm_block = hw.matrices["layer0.W"]._region(hw.matrices["layer0.W"].tiles[0])
    mm = hw.matrices["head.W"]  # its update disturbs the LSTM block's cells on the same array
    mm.apply_update(np.full((mm.n_in, mm.n_out), 0.05))
    moved = hw.chip.arrays[0].conductance[lstm_block] != before[lstm_block]
    assert moved.mean() > 0.9
    hw.save(str(tmp_path / "chip.npz"))
    loaded = HardwareNetwork.load(str(tmp_path / "chip.npz"))
    assert loaded.chip.peripherals.write_scheme == hw.chip.peripherals.write_scheme
    two_pulse = li2019("vowels").with_values({"array.write_scheme": "v_half"})
    with pytest.raises(ValueError, match="two-pulse"):
        build_trainer(two_pulse, problem_of(two_pulse), "in_situ")
    with pytest.raises(ValueError, match="1t1r"):
        li2019("vowels").with_values({"array.write_scheme": "v_half", "array.read_scheme": "1t1r"})


def test_adcs_calibrated_on_sample_sequences_cover_their_currents():
    exp = li2019("vowels", way="ex_situ_one_shot").with_values({"adc.range_by": "calibration"})
    problem = problem_of(exp)
    net = make_network(12, [14], 9, head="softmax", mode="seq2vec", loss="cross_entropy", seed=0, bias=False)
    config = ChipSpec(adc=crossbar.AdcSpec(range_by="calibration"))
    hw = HardwareNetwork(net, config, seed=0)
    hw.program()
    provisional = {n: mm.adc.full_scale for n, mm in hw.matrices.items()}
    x, mask = problem.train.x[:64], problem.train.mask[:64]
    scales = hw.calibrate_adcs(x, mask)
    assert scales != provisional
    _, cache = net.forward(x, mask, keep=True)
    layer = hw.matrices["layer0.W"]
    samples = cache.inputs[0][cache.mask.T.astype(bool)][:, :-1]
    currents = np.concatenate([c.ravel() for c in layer.plan().ideal_read(samples, held_lines=False)])
    assert scales["layer0.W"] == pytest.approx(np.percentile(np.abs(currents), 99.9), rel=1e-12)
    hw.program()  # programming again calibrates again on the same samples
    assert {n: mm.adc.full_scale for n, mm in hw.matrices.items()} == pytest.approx(scales, rel=0.05)
    with pytest.raises(ValueError, match="in_situ"):
        li2019("vowels").with_values({"adc.range_by": "calibration"})
    with pytest.raises(ValueError, match="calibrate_adcs needs"):
        HardwareNetwork(net, ChipSpec(), seed=0).calibrate_adcs(x, mask)


def test_dac_names_drive_inputs_bit_by_bit():
    exp = li2019("vowels", way="ex_situ_one_shot").with_values({"dac.inputs": "bit_serial",
                                                                "dac.conversion": "accumulate"})
    _, net, _ = build_trainer(exp, problem_of(exp), None)

    dac = exp.chip_spec().dac_design()
    assert dac.bit_serial and dac.conversion == "accumulate" and dac.cycles == 7
    assert parameter("dac.inputs").choices == ("parallel", "bit_serial")
    with pytest.raises(ValueError, match="dac.conversion"):
        li2019("vowels").with_values({"dac.conversion": "accumulate"})
