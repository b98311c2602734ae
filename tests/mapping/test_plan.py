"""A mapped matrix's read: its tiles as reads of crossbar's engine, compiled against the numpy twin."""

import dataclasses

import numpy as np
import pytest

import crossbar
from crossbar import ReadPlan
from mapping import Chip, Encoding, MappedMatrix

LI2019 = crossbar.preset("li2019")
LOW_NOISE = LI2019.replace(read_noise_sigma_relative=1e-4)  # float64 bands


def _matrix(device, scheme, seed=3, adc=True, shape=(70, 45), array=(32, 16), wires=None):
    chip = Chip(device, crossbar.ArraySpec(*array), dac=crossbar.DAC(8, 0.2),
                adc=crossbar.AdcSpec(bits=8) if adc else None, wires=wires, seed=seed)
    m = MappedMatrix(chip, "w", *shape, encoding=Encoding(scheme=scheme, scale="max_abs"))
    rng = np.random.default_rng(seed)
    m.program(rng.uniform(-1, 1, shape), rng.uniform(-1, 1, shape[1]))
    if adc:
        m.set_adc_full_scale(4.0 * 0.2 * m.scale)
    return m


@pytest.mark.parametrize("scheme", ["row_pairs", "column_pairs"])
@pytest.mark.parametrize("device", [LI2019, LOW_NOISE, crossbar.preset("ideal")],
                         ids=["float32", "float64", "noise-free"])
@pytest.mark.parametrize("adc", [True, False])
def test_compiled_equals_reference_bit_for_bit(rng, scheme, device, adc):
    """Same numbers, same counts, same generator states, call after call."""
    compiled, reference = _matrix(device, scheme, adc=adc), _matrix(device, scheme, adc=adc)
    plan = compiled.plan()
    assert len(plan.arrays.band_widths) > 2 and plan.n_reads > 4  # several bands of several reads
    for batch in (6, 1, 11, 64, 6):
        x = rng.uniform(-1, 1, (batch, 70))
        np.testing.assert_array_equal(compiled.matvec(x), reference.matvec_reference(x))
    ca, cb = compiled.counters, reference.counters
    if adc and device is LI2019:
        assert ca.adc_saturations > 0  # the ADC's end codes are exercised too
    assert ca == cb
    for a, b in zip(compiled.chip.arrays, reference.chip.arrays):
        assert a.counters == b.counters
        assert a.rng.bit_generator.state == b.rng.bit_generator.state


def test_one_count_whichever_object_you_ask(rng):
    """The chip's arrays count every conversion the matrix's reads make: the two tallies agree."""
    m = _matrix(LI2019, "row_pairs")
    before = m.chip.counters()
    m.counters.reset()
    m.matvec(rng.uniform(-1, 1, (9, 70)))
    chip = crossbar.OperationCounts()
    chip.accumulate_change(m.chip.counters(), before)
    assert chip.adc_conversions == m.counters.adc_conversions == 9 * 45 * 5  # 71 logical rows: five row bands
    for f in dataclasses.fields(chip):
        assert getattr(chip, f.name) == pytest.approx(getattr(m.counters, f.name), rel=1e-12), f.name


def test_plan_follows_the_conductances(rng):
    """After an update, a new programming or drift, the read uses the new conductances."""
    device = LOW_NOISE.replace(drift_nu=0.05)
    compiled, reference = _matrix(device, "row_pairs"), _matrix(device, "row_pairs")
    x = rng.uniform(-1, 1, (3, 70))
    first = compiled.plan()
    assert compiled.plan() is first  # nothing changed: reused
    changes = [lambda m: m.apply_update(np.full((70, 45), 0.05), np.full(45, -0.05)),
               lambda m: [a.advance_time(1e4) for a in m.chip.arrays],
               lambda m: m.program(np.zeros((70, 45)), np.zeros(45))]
    for change in changes:
        before = compiled.matvec(x)
        reference.matvec_reference(x)
        change(compiled), change(reference)
        after, expected = compiled.matvec(x), reference.matvec_reference(x)
        np.testing.assert_array_equal(after, expected)
        assert not np.allclose(after, before)
    assert compiled.plan() is not first  # program() chose a new scale: a new plan


@pytest.mark.parametrize("scheme", ["row_pairs", "column_pairs"])
@pytest.mark.parametrize("device", [LOW_NOISE, LI2019], ids=["float64", "float32"])
def test_refreshed_plan_equals_a_new_plan(scheme, device):
    """An update refreshes the plan in place; it then holds exactly what a plan made afresh holds."""
    m = _matrix(device, scheme)
    plan = m.plan()
    m.apply_update(np.full((70, 45), 0.05), np.full(45, -0.05))
    assert not plan.is_current()
    assert m.plan() is plan and plan.is_current()
    e = m.encoding
    fresh = ReadPlan(m.reads(), m.n_in, m.n_out, volts_per_input=e.v_read, constant_input=e.bias_input,
                     output_unit=e.v_read * m.scale, dac=m.chip.dac, adc=m.adc)
    for name in plan.arrays._fields:
        mine, theirs = getattr(plan.arrays, name), getattr(fresh.arrays, name)
        if isinstance(mine, np.ndarray):
            np.testing.assert_array_equal(mine, theirs, err_msg=name)
        else:
            assert mine == theirs, name


def test_wires_run_compiled_and_match_the_nodal_solve(rng):
    """With wire resistance the matrix reads through each array's G_eff: the same as solving the nodal
    network of each tile's drive, to 1e-12."""
    wires = crossbar.WiresSpec(1.0, 1.0)
    device = crossbar.preset("ideal").replace(g_min=0.0, g_max=400e-6)
    m = _matrix(device, "row_pairs", adc=False, shape=(10, 6), array=(16, 8), wires=wires)
    x = rng.uniform(-1, 1, (4, 10))
    y = m.matvec(x)
    np.testing.assert_array_equal(y, m.matvec_reference(x))
    expected = np.zeros((4, 6))
    e = m.encoding
    for t in m.tiles:
        array = m.chip.arrays[t.array]
        drive = np.ones((4, t.n_inputs)) * e.bias_input
        n_x = max(0, min(t.inputs[1], m.n_in) - t.inputs[0])
        drive[:, :n_x] = x[:, t.inputs[0]:t.inputs[0] + n_x]
        v = np.zeros((4, array.rows))
        v[:, t.row0:t.row0 + t.n_inputs] = m.chip.dac.convert(drive * e.v_read)
        v[:, t.row0 + t.n_inputs:t.row0 + 2 * t.n_inputs] = -m.chip.dac.convert(drive * e.v_read)
        currents = crossbar.solve_sparse(v, array.conductance, 1.0, 1.0)
        expected[:, slice(*t.outputs)] += currents[:, t.col0:t.col0 + t.n_outputs]
    np.testing.assert_allclose(y, expected / (e.v_read * m.scale), rtol=1e-12, atol=1e-12)
    ideal = _matrix(device, "row_pairs", adc=False, shape=(10, 6), array=(16, 8))
    assert np.abs(ideal.matvec(x) - y).max() > 1e-3  # the wires matter here


def test_bad_inputs_raise(rng):
    m = _matrix(LOW_NOISE, "row_pairs")
    x = rng.uniform(-1, 1, (2, 70))
    x[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.matvec(x)
    for beyond in (1.5, -1.5):  # either side of the DAC's range
        with pytest.raises(ValueError, match="beyond"):
            m.matvec(np.full((1, 70), beyond))
