"""Periphery presets (ISAAC, PRIME): their numbers, their costs, and how an experiment takes them."""

import dataclasses

import numpy as np
import pytest

import crossbar
import mapping
from mapping import ChipSpec
from lstm.hardware import HardwareNetwork
from lstm.network import make_network
from xbar.experiment import Experiment, li2019, parameter, periphery_values
from xbar.runner import chip_spec


def test_the_presets_hold_their_papers_numbers():
    assert mapping.periphery_names() == ["isaac", "prime"]
    isaac = mapping.periphery_preset("isaac")
    assert (isaac.array_rows, isaac.array_cols) == (128, 128)
    assert (isaac.slicing.weight_bits, isaac.slicing.bits_per_slice, isaac.slicing.n_slices) == (16, 2, 8)
    assert isaac.dac.bit_serial and isaac.dac.cycles == 16 and isaac.dac.bits_per_cycle == 1
    assert isaac.adc_circuit.kind == "sar" and isaac.adc_circuit.n_converters(128) == 1
    # Table 6 of ISAAC: eight 8-bit ADCs at 1.28 GS/s take 16 mW; 1024 1-bit DACs at 10 MHz take 4 mW
    assert isaac.costs.adc_energy == pytest.approx(1.5625e-12, rel=1e-12)
    assert isaac.costs.dac_energy == pytest.approx(0.390625e-12, rel=1e-12)
    assert isaac.costs.read_time == 100e-9
    prime = mapping.periphery_preset("prime")
    assert (prime.array_rows, prime.slicing.n_slices, prime.slicing.bits_per_slice) == (256, 2, 4)
    assert prime.dac.cycles == 2 and prime.dac.bits_per_cycle == 3 and prime.adc_circuit.kind == "ramp"
    assert "Shafiee" in mapping.periphery_doc("isaac") and "Chi et al." in mapping.periphery_doc("prime")
    assert "Chi et al." not in mapping.periphery_doc("isaac")
    with pytest.raises(ValueError, match="periphery='eyeriss' is not known"):
        mapping.periphery_preset("eyeriss")


def test_the_sar_energy_scales_from_the_papers_converter():
    isaac = mapping.periphery_preset("isaac")
    eight = isaac.energy_costs(adc_bits=8)
    assert eight.adc_energy == pytest.approx(1.5625e-12, rel=1e-12)  # the paper's converter itself
    assert eight.adc_time == pytest.approx(1 / 1.28e9, rel=1e-12)
    nine = isaac.energy_costs()  # the signed 9-bit converter of an LSTM: twice the steps, one cycle more
    assert nine.adc_energy == pytest.approx(2 * 1.5625e-12, rel=1e-12)
    assert nine.adc_time == pytest.approx(10 / 9 / 1.28e9, rel=1e-12)
    assert nine.adc_count == 1.0
    # the defaults are ISAAC's converter too (one of eight, not all eight)
    assert crossbar.EnergyCosts().adc_energy == pytest.approx(1.5625e-12, rel=1e-12)
    with pytest.raises(ValueError, match="costs.adc_reference_bits"):
        crossbar.EnergyCosts(adc_reference_bits=1)


def test_the_isaac_periphery_on_ideal_devices_is_the_software_network_to_its_precision():
    net = make_network(12, [14], 9, head="softmax", mode="seq2vec", loss="cross_entropy", seed=0)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 5, 12))
    config = ChipSpec.for_periphery("isaac", preset="ideal")
    assert config.energy_costs().adc_energy == pytest.approx(3.125e-12, rel=1e-12)
    hw = HardwareNetwork(net, config, seed=1)
    hw.program()
    out = hw.predict(x)
    # 16-bit weights, 16-bit inputs, one LSB per level sum: what is left is the 2**-15 rounding
    assert np.abs(out - net.predict(x)).max() < 1e-5
    counts = hw.chip.counters()
    assert counts.adc_saturations == 0
    parallel = HardwareNetwork(net, dataclasses.replace(config, dac=crossbar.DacSpec(config.dac.bits)), seed=1)
    parallel.program()
    parallel.predict(x)
    assert counts.input_vectors == 16 * parallel.chip.counters().input_vectors  # a cycle a bit


def test_an_experiment_takes_the_periphery_where_it_left_the_defaults():
    data = li2019("vowels", way="ex_situ_one_shot").to_dict()
    data["hardware"]["placement"] = "first_fit"  # Li et al.'s corners hold analog pairs on one array
    del data["array"]["count"]
    base = Experiment.from_dict(data)
    isaac = base.with_values({"hardware.periphery": "isaac"})
    for dotted, value in periphery_values("isaac").items():
        assert isaac.value_of(dotted) == value, dotted
    # the file keeps only what was given: the periphery's name, not its values
    assert isaac.to_dict()["hardware"]["periphery"] == "isaac" and "slicing" not in isaac.to_dict()
    assert "periphery" not in base.to_dict()["hardware"]  # an experiment without one keeps its identity
    # a field given another value wins; a sweep over the periphery changes every field it sets
    six = isaac.with_values({"adc.bits": 6})
    assert six.adc.bits == 6 and six.slicing.weight_bits == 16
    prime = six.with_values({"hardware.periphery": "prime"})
    assert (prime.array.rows, prime.dac.bits_per_cycle, prime.adc.kind, prime.adc.bits) == (256, 3, "ramp", 6)
    config = chip_spec(prime, make_network(12, [14], 9, head="softmax", mode="seq2vec",
                                           loss="cross_entropy", seed=0))
    assert (config.periphery, config.array.rows, config.slicing.bits_per_slice) == ("prime", 256, 4)
    assert config.dac_design().cycles == 2
    assert parameter("hardware.periphery").choices == ("none", "isaac", "prime")
    with pytest.raises(ValueError, match=r"set by hardware.periphery='isaac'.*in_situ"):
        isaac.with_values({"hardware.way": "in_situ"})
    with pytest.raises(ValueError, match="hardware.periphery='tpu' is out of|hardware.periphery='tpu' is not"):
        base.with_values({"hardware.periphery": "tpu"})


def test_hardware_configs_refuse_a_bad_periphery_or_cycle_width():
    with pytest.raises(ValueError, match="periphery"):
        ChipSpec(periphery="tpu")
    with pytest.raises(ValueError, match="dac.bits_per_cycle=2 needs dac.inputs='bit_serial'"):
        ChipSpec(dac=crossbar.DacSpec(bits_per_cycle=2))
    config = ChipSpec(dac=crossbar.DacSpec(inputs="bit_serial", bits_per_cycle=3))
    assert config.dac_design().cycles == 3  # li2019's 8-bit DAC: 7 magnitude bits in digits of 3, 3, 1
    assert dataclasses.replace(config, periphery=None).energy_costs() == crossbar.EnergyCosts()
