"""The mapping's one spec (encoding, slicing, corners, the ADCs' ranging) and the chip built from the
description tree's parts."""

import numpy as np
import pytest

import crossbar
from mapping import Chip, ChipSpec, Encoding, MappedMatrix, MappingSpec, SlicedMatrix, SlicingSpec


def test_a_chip_spec_gathers_its_mapping_from_its_sections():
    spec = ChipSpec(adc=crossbar.AdcSpec(bits=6, range=3.0, range_by="array_max"),
                    slicing=SlicingSpec(8, 2, "offset"), encoding=Encoding(scheme="column_pairs"))
    assert spec.mapping == MappingSpec(encoding=Encoding(scheme="column_pairs"), slicing=SlicingSpec(8, 2, "offset"),
                                       corners=None, adc_range=3.0, adc_range_by="array_max")


@pytest.mark.parametrize("changes, message", [
    (dict(adc_range_by="nope"), r"adc.range_by='nope'"),
    (dict(adc_range=0.0), r"adc.range=0"),
    (dict(encoding="row_pairs"), r"encoding='row_pairs' is not allowed; a mapping.Encoding"),
    (dict(corners={"lstm": (0, -1, 0)}), r"corners\['lstm'\]=\(0, -1, 0\) is not allowed"),
    (dict(corners=[(0, 0, 0)]), r"corners=\[\(0, 0, 0\)\] is not allowed"),
    (dict(slicing=SlicingSpec(8), adc_range_by="calibration"), r"adc.range_by='calibration' with sliced weights"),
    (dict(slicing=SlicingSpec(8), corners={"lstm": (0, 0, 0)}), r"corners are not allowed with sliced weights"),
])
def test_a_bad_mapping_is_refused_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        MappingSpec(**changes)


def test_the_mapping_places_pairs_at_their_corner_or_slices_by_first_fit():
    chip = Chip(crossbar.preset("ideal"), crossbar.ArraySpec(16, 16), seed=0)
    pairs = MappingSpec(corners={"layer0.W": (0, 4, 2)}).place(chip, "layer0", 3, 2, corner_of="layer0.W")
    assert type(pairs) is MappedMatrix and [(t.array, t.row0, t.col0) for t in pairs.tiles] == [(0, 4, 2)]
    sliced = MappingSpec(slicing=SlicingSpec(4, 2)).place(chip, "dense", 3, 2)
    assert type(sliced) is SlicedMatrix and sliced.slicing.n_slices == 2


def test_calibration_ranges_by_the_outputs_until_it_has_samples():
    chip = Chip(crossbar.preset("ideal"), crossbar.ArraySpec(16, 16), dac=crossbar.DAC(8, 0.2),
                adc=crossbar.AdcSpec(bits=8), seed=0)
    m = MappedMatrix(chip, "m", 3, 2, bias=False)
    m.program(np.array([[0.5, -0.25], [0.1, 0.0], [-1.0, 0.3]]))
    calibrated = MappingSpec(adc_range=2.0, adc_range_by="calibration")
    assert calibrated.adc_full_scale(m) == m.adc_full_scale_by("outputs", 2.0)
    assert MappingSpec(adc_range_by="array_max").adc_full_scale(m) == m.adc_full_scale_by("array_max")


def test_the_chip_designs_its_adc_from_the_spec_once():
    sar = dict(kind="sar", capacitor_mismatch_sigma=0.02, columns_per_converter=4)
    chip = ChipSpec(adc=crossbar.AdcSpec(bits=7, range_by="array_max", **sar)).build(seed=0)
    assert chip.adc_design(2e-5) == crossbar.ADC(7, 2e-5, crossbar.ADCCircuit(**sar))
    ideal = Chip(crossbar.preset("ideal"), adc=crossbar.AdcSpec())  # no bits: ideal sensing
    assert ideal.adc_bits is None
    with pytest.raises(ValueError, match="the chip has no ADCs"):
        ideal.adc_design(1e-5)


@pytest.mark.parametrize("args, kwargs, message", [
    ((64, 32), {}, r"array=64 is not allowed; a crossbar.ArraySpec is required"),
    ((), dict(adc=crossbar.ADC(8)), r"adc=ADC\(.*\) is not allowed; a crossbar.AdcSpec or None"),
    ((), dict(adc=crossbar.AdcSpec(kind="sar")), r"adc.kind='sar' needs ADCs; give adc.bits"),
    ((), dict(wires=crossbar.WireResistance(1.0, 1.0)), r"wires=.* is not allowed; a crossbar.WiresSpec"),
])
def test_a_chip_takes_the_description_trees_parts(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Chip(crossbar.preset("ideal"), *args, **kwargs)
