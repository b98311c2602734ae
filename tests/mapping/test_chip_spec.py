"""The chip's description tree: the specs themselves, built into a chip, and saved chips' older flat records."""

import dataclasses

import pytest

import crossbar
from mapping import ChipSpec, Encoding, SlicingSpec
from xbar.experiment import li2019

OLD_RECORD = {
    "preset": "ideal", "ideal_converters": False, "array_rows": 64, "array_cols": 32, "n_arrays": 3, "corners": None,
    "encoding": {"scheme": "row_pairs", "scale": "fits", "siemens_per_weight": 0.0001, "percentile": 99.0,
                 "clip_weights": False, "v_read": 0.2, "input_limit": 1.0, "bias_input": 1.0, "bias_rows": 1},
    "adc_range": 3.0, "wires": {"row_segment_ohms": 1.0, "col_segment_ohms": 2.0, "solver": "iterative",
                                "tolerance": 1e-13, "max_iterations": 10000},
    "dac_bits": 7, "adc_bits": 6, "adc_range_by": "outputs",
    "adc_circuit": {"kind": "sar", "capacitor_mismatch_sigma": 0.02, "comparator_offset_sigma_lsb": 0.5,
                    "amplifier_gain": None, "columns_per_converter": 4},
    "slicing": None, "dac_bit_serial": True, "dac_conversion": "accumulate", "read_scheme": "v_half",
    "write_scheme": {"kind": "v_third", "write_voltage": 2.0, "switching_voltage": 0.3}, "dac_bits_per_cycle": 1,
    "periphery": "isaac", "device_read_scheme": "grounded", "device_read_voltage": 0.2, "seconds_per_read": 0.0,
    "seconds_per_write": 0.001}
"""What a saved chip held before the description tree (``HardwareConfig.to_dict()`` without its device)."""


def test_an_old_flat_record_reads_as_the_same_chip():
    spec = ChipSpec.from_dict(OLD_RECORD, "old chip")
    assert spec == ChipSpec(
        preset="ideal", periphery="isaac", encoding=Encoding(),
        array=crossbar.ArraySpec(64, 32, 3, read_scheme="v_half", write_scheme="v_third", write_voltage=2.0,
                                 switching_voltage=0.3, seconds_per_write=0.001),
        adc=crossbar.AdcSpec(6, 3.0, kind="sar", capacitor_mismatch_sigma=0.02, comparator_offset_sigma_lsb=0.5,
                             columns_per_converter=4),
        dac=crossbar.DacSpec(7, "bit_serial", "accumulate"), wires=crossbar.WiresSpec(1.0, 2.0))
    # the tree's own record reads back to the same description, the device in full
    assert ChipSpec.from_dict(spec.to_dict()) == dataclasses.replace(spec, device=spec.device_model())
    with pytest.raises(ValueError, match="old chip: key\\(s\\) gain_stage not known"):
        ChipSpec.from_dict({**OLD_RECORD, "gain_stage": 1}, "old chip")
    # an old chip of the sparse wire solver (HardwareConfig took any WireResistance) reads with its solver
    sparse = ChipSpec.from_dict({**OLD_RECORD, "wires": {**OLD_RECORD["wires"], "solver": "sparse"}}, "old chip")
    assert sparse.wires.resistance() == crossbar.WireResistance(1.0, 2.0, solver="sparse")
    assert ChipSpec.from_dict(sparse.to_dict()).wires == sparse.wires
    with pytest.raises(ValueError, match="wires.solver='lu' is not allowed"):
        ChipSpec.from_dict({**OLD_RECORD, "wires": {**OLD_RECORD["wires"], "solver": "lu"}}, "old chip")


def test_an_experiment_hands_its_specs_to_the_chip_unchanged():
    exp = li2019("vowels", way="ex_situ_one_shot").with_values(
        {"adc.kind": "ramp", "adc.bits": 6, "dac.inputs": "bit_serial", "slicing.weight_bits": 8,
         "hardware.placement": "first_fit"})
    spec = exp.chip_spec()
    assert (spec.array, spec.adc, spec.dac, spec.wires, spec.slicing) == (
        exp.array, exp.adc, exp.dac, exp.wires, exp.slicing)
    assert spec.array is exp.array and spec.adc is exp.adc  # the same objects, not copies
    assert spec.chip_adc().circuit() == crossbar.ADCCircuit("ramp")
    assert spec.slicing == SlicingSpec(8) and spec.encoding.scale == "max_abs"


def test_checks_across_specs_name_the_dotted_fields():
    with pytest.raises(ValueError, match="adc.range_by='calibration' with sliced weights"):
        ChipSpec(slicing=SlicingSpec(8), adc=crossbar.AdcSpec(range_by="calibration"))
    with pytest.raises(ValueError, match="dac.inputs='bit_serial' needs row DACs"):
        ChipSpec(ideal_converters=True, dac=crossbar.DacSpec(inputs="bit_serial"))
    with pytest.raises(ValueError, match="array.read_scheme='v_half'.*give dac.bits"):
        ChipSpec(ideal_converters=True, array=crossbar.ArraySpec(read_scheme="v_half"))
    with pytest.raises(ValueError, match="adc=6 is not allowed; a crossbar.AdcSpec"):
        ChipSpec(adc=6)
