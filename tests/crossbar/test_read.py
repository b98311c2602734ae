"""The read engine: the compiled read against its numpy twin bit for bit, regions and drive signs,
wires as a linear network, counting, refusals."""

from copy import deepcopy

import numpy as np
import pytest

import crossbar
from crossbar import CrossbarArray, Drive, Read, ReadPlan
from crossbar.numerics.vecmath import fma, fma32_reference
from crossbar.read.kernels import (fill_read_values, read_product, read_product_reference, read_values_reference)

LI2019 = crossbar.preset("li2019")
LOW_NOISE = LI2019.replace(read_noise_sigma_relative=1e-4)  # float64 bands with read noise
IDEAL = crossbar.preset("ideal")


def _array(device, seed=1, rows=24, cols=12, peripherals=None):
    a = CrossbarArray(rows, cols, device, seed=seed, peripherals=peripherals)
    low, high = device.programmable_range
    a.program(np.random.default_rng(seed).uniform(low, high, (rows, cols)))
    return a


def _pair_read(array, r0, n, first_input, c0, c1, out0):
    """A row pair: rows r0.. at +V, rows r0 + n.. at -V, columns c0..c1 into outputs out0.."""
    return Read(array, (Drive((r0, r0 + n), first_input, 1), Drive((r0 + n, r0 + 2 * n), first_input, -1)),
                (c0, c1), tuple((out0 + q, 1) for q in range(c1 - c0)))


def _plan(device, adc=True, seed=1):
    """Two arrays, three bands; row pairs, a column-pair read, constant inputs: every path of the kernel."""
    a, b = _array(device, seed), _array(device, seed + 1)
    reads = [
        _pair_read(a, 0, 6, 0, 0, 8, 0), _pair_read(b, 0, 6, 0, 2, 7, 8),             # band 0: inputs 0..6
        _pair_read(a, 12, 5, 6, 0, 8, 0), _pair_read(b, 12, 5, 6, 2, 7, 8),           # band 1: inputs 6..11
        Read(a, (Drive((20, 24), 11, 1),), (8, 12), ((3, 1), (3, -1), (9, 1), (9, -1))),  # band 2: column pairs
    ]
    adc_model = crossbar.ADC(bits=8, full_scale=4e-5) if adc else None
    return ReadPlan(reads, n_inputs=13, n_outputs=13, volts_per_input=0.2, constant_input=1.0,
                    output_unit=2e-5, dac=crossbar.DAC(8, 0.2), adc=adc_model)


@pytest.mark.parametrize("device", [LI2019, LOW_NOISE, IDEAL], ids=["float32", "float64-noise", "noise-free"])
@pytest.mark.parametrize("adc", [True, False])
@pytest.mark.parametrize("batch", [1, 7, 9, 64])
def test_kernel_equals_numpy_twin_bit_for_bit(rng, device, adc, batch):
    plan = _plan(device, adc)
    assert plan.n_logical == 15 and len(plan.arrays.band_widths) == 3
    x = rng.uniform(-1, 1, (batch, 13))
    seeds = plan.draw_seeds(1)[0]
    power = np.zeros((batch, plan.n_logical))
    saturated = np.zeros(plan.n_reads, dtype=np.int64)
    out = np.empty((batch, 13))
    bad = read_product(x, plan.arrays, seeds, plan.buffers(batch), power, saturated, out, 0, False)
    ref, ref_saturated, ref_bad, ref_power = read_product_reference(x, plan.arrays, seeds)
    assert bad == ref_bad == 0
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(saturated, ref_saturated)
    np.testing.assert_array_equal(power, ref_power)
    if adc and device is LI2019 and batch == 64:
        assert saturated.sum() > 0  # the end codes are exercised too


def test_numbers_do_not_depend_on_how_the_batch_is_split(rng):
    """Each batch row draws its own streams and every element is the same chain: rows computed alone or
    in any part of the batch give the same bits (batch 1 runs on the row layout, the rest in blocks)."""
    plan = _plan(LI2019)
    x = rng.uniform(-1, 1, (33, 13))
    seeds = plan.draw_seeds(1)[0]

    def run(rows, first_row):
        out = np.empty((rows.shape[0], 13))
        power = np.zeros((rows.shape[0], plan.n_logical))
        read_product(rows, plan.arrays, seeds, plan.buffers(rows.shape[0]), power,
                     np.zeros(plan.n_reads, dtype=np.int64), out, first_row, True)
        return out

    whole = run(x, 0)
    for start, stop in [(0, 1), (5, 6), (0, 16), (16, 33), (7, 30)]:
        np.testing.assert_array_equal(run(x[start:stop], start), whole[start:stop])


def test_a_row_pair_reads_g_plus_minus_g_minus(rng):
    """Without noise or converters: outputs are (V @ (G+ - G-)) / unit, the column pair plus minus minus."""
    plan = _plan(IDEAL, adc=False)
    a, b = plan.source_arrays
    ga, gb = a.conductance, b.conductance
    x = rng.uniform(-1, 1, (4, 13))
    v = np.concatenate([x, np.ones((4, 2))], axis=1) * 0.2
    v = np.rint(v / crossbar.DAC(8, 0.2).step) * crossbar.DAC(8, 0.2).step
    expected = np.zeros((4, 13))
    expected[:, 0:8] = v[:, 0:6] @ (ga[0:6, 0:8] - ga[6:12, 0:8]) + v[:, 6:11] @ (ga[12:17, 0:8] - ga[17:22, 0:8])
    expected[:, 8:13] = v[:, 0:6] @ (gb[0:6, 2:7] - gb[6:12, 2:7]) + v[:, 6:11] @ (gb[12:17, 2:7] - gb[17:22, 2:7])
    columns = v[:, 11:15] @ ga[20:24, 8:12]
    expected[:, 3] += columns[:, 0] - columns[:, 1]
    expected[:, 9] += columns[:, 2] - columns[:, 3]
    np.testing.assert_allclose(plan.read(x), expected / 2e-5, rtol=1e-12, atol=1e-12)


def test_seeds_are_drawn_per_array_in_read_order():
    """A plan of many reads draws what its reads planned one by one would: one word per read and call."""
    plan = _plan(LI2019)
    a, b = plan.source_arrays
    state_a, state_b = a.rng.bit_generator.state, b.rng.bit_generator.state
    seeds = plan.draw_seeds(3)
    a.rng.bit_generator.state, b.rng.bit_generator.state = state_a, state_b
    words_a = a.rng.bit_generator.random_raw(9).reshape(3, 3)  # reads 0, 2, 4 are on a
    words_b = b.rng.bit_generator.random_raw(6).reshape(3, 2)  # reads 1, 3 on b
    np.testing.assert_array_equal(seeds[:, [0, 2, 4]], words_a)
    np.testing.assert_array_equal(seeds[:, [1, 3]], words_b)


def test_seed_words_kernel_equals_random_raw():
    """The compiled words of many PCG64 generators are numpy's random_raw, and leave each generator where
    random_raw would (the numpy twin of draw_words)."""
    from crossbar.numerics.random_streams import draw_words, word_sources

    counts = np.array([3, 0, 1, 7, 2], dtype=np.int64)
    mine = [np.random.default_rng(s).bit_generator for s in range(5)]
    theirs = [np.random.default_rng(s).bit_generator for s in range(5)]
    out = np.empty(int(counts.sum()), dtype=np.uint64)
    draw_words(*word_sources(mine), counts, out)
    np.testing.assert_array_equal(out, np.concatenate([bg.random_raw(int(n)) for bg, n in zip(theirs, counts)]))
    for a, b in zip(mine, theirs):
        assert a.random_raw() == b.random_raw()
    assert word_sources([np.random.Philox(0)]) is None and word_sources([]) is None


def test_seeds_follow_a_generator_replaced_after_the_plan():
    """A plan takes the arrays' generators once; an array given a new one is read from it."""
    plan = _plan(LI2019)
    a, b = plan.source_arrays
    plan.draw_seeds(1)
    a.rng = np.random.default_rng(99)
    seeds = plan.draw_seeds(2)
    np.testing.assert_array_equal(seeds[:, [0, 2, 4]], np.random.default_rng(99).bit_generator.random_raw(6)
                                  .reshape(2, 3))
    b.rng = np.random.Generator(np.random.Philox(5))  # not a PCG64: numpy's own calls
    seeds = plan.draw_seeds(1)
    np.testing.assert_array_equal(seeds[0, [1, 3]], np.random.Generator(np.random.Philox(5)).bit_generator
                                  .random_raw(2))


def test_counts_held_back_equal_counts_written_at_every_call(rng):
    """Counters are written when next read: a run that reads them after every call and one that reads them
    once at the end hold the same counts, energy to the bit, also with another plan on the same array."""
    x = rng.uniform(-1, 1, (4, 5, 13))
    v = rng.uniform(-0.2, 0.2, (3, 24))
    results = []
    for look_every_call in (True, False):
        plan = _plan(LI2019)
        a, b = plan.source_arrays
        seen = []
        for k in range(4):
            plan.read(x[k])
            if look_every_call:
                seen.append(a.counters.copy())
            if k == 1:
                a.mvm(v)  # the array's own one-read plan counts in between
        results.append((a.counters.copy(), b.counters.copy(), deepcopy(a).counters))
    assert results[0] == results[1]
    assert results[0][0].cell_energy > 0 and results[0][0].products == 4 * 3 + 1
    assert results[1][2] == results[1][0]  # a copy carries what was pending


def test_counts_land_on_each_array(rng):
    plan = _plan(LI2019)
    a, b = plan.source_arrays
    a0, b0 = a.counters.copy(), b.counters.copy()
    own = crossbar.OperationCounts()
    plan.read(rng.uniform(-1, 1, (5, 13)), counts=own)
    da = crossbar.OperationCounts()
    da.accumulate_change(a.counters, a0)
    db = crossbar.OperationCounts()
    db.accumulate_change(b.counters, b0)
    assert (da.products, db.products) == (3, 2)  # one per read
    assert da.dac_conversions == 5 * (12 + 10 + 4) and db.dac_conversions == 5 * (12 + 10)
    assert da.adc_conversions == 5 * (8 + 8 + 4) and db.adc_conversions == 5 * (5 + 5)
    total = da.add(db)
    for name in ("products", "dac_conversions", "adc_conversions", "adc_saturations"):
        assert getattr(own, name) == getattr(total, name)
    assert own.cell_energy == pytest.approx(total.cell_energy, rel=1e-12) and own.cell_energy > 0


def test_mvm_is_a_one_read_plan_and_its_twin_agrees(rng):
    peripherals = crossbar.Peripherals(dac=crossbar.DAC(8, 0.25), adc=crossbar.ADC(8, 3e-4))
    a, b = (_array(LI2019, 3, 32, 16, peripherals) for _ in range(2))
    for batch in (1, 6, 40):
        v = rng.uniform(-0.2, 0.2, (batch, 32))
        np.testing.assert_array_equal(a.mvm(v), b.mvm(v, reference=True))
    assert a.counters == b.counters and a.counters.adc_conversions == 47 * 16


def test_read_noise_has_the_configured_sigma(rng):
    """Output-referred noise: each column's sd is s * sqrt(sum_i V_i^2 G_ij^2)."""
    device = IDEAL.replace(g_min=0.0, g_max=1e-4, read_noise_sigma_relative=0.05)
    array = CrossbarArray(16, 4, device, seed=0)
    g = rng.uniform(2e-5, 1e-4, (16, 4))
    array.program(g)
    v = np.full((20000, 16), 0.2)
    currents = array.mvm(v)
    expected_sd = 0.05 * np.sqrt((0.2 ** 2 * g ** 2).sum(axis=0))
    np.testing.assert_allclose(currents.mean(axis=0), 0.2 * g.sum(axis=0), rtol=2e-3)
    np.testing.assert_allclose(currents.std(axis=0), expected_sd, rtol=0.03)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fill_kernel_equals_numpy_reference(rng, dtype):
    g = rng.uniform(0, 300e-6, (12, 5))
    g_noise = rng.uniform(0, 300e-6, (12, 5))
    drives = [((2, 6), 10, 1), ((6, 10), 10, -1), ((10, 12), 14, 1)]
    rows, width, p0 = 6, 9, 3  # the read's columns sit at p0.. of a wider band of inputs 10..16
    signal, variance = np.full((width, rows), np.nan, dtype), np.full((width, rows), np.nan, np.float32)
    signal_rows, variance_rows = np.full(rows * width, np.nan, dtype), np.full(rows * width, np.nan, np.float32)
    chunks = np.array([0, 4, 9])  # the row-by-row copy: a (6, 4) block of columns 0..4, then a (6, 5) one
    fill_read_values(g, g_noise, 0, 5, np.array([d[0] for d in drives]), np.array([d[1] for d in drives]),
                     np.array([float(d[2]) for d in drives]), 10, 0.03, p0, signal, variance, signal_rows,
                     variance_rows, chunks, np.empty(2 * rows * 5))
    s, v = read_values_reference(g, g_noise, drives, 10, rows, 0.03)
    np.testing.assert_array_equal(signal[p0:p0 + 5].T, s.astype(dtype))
    np.testing.assert_array_equal(variance[p0:p0 + 5].T, v.astype(np.float32))
    for copy, expected in ((signal_rows, s.astype(dtype)), (variance_rows, v.astype(np.float32))):
        band = np.hstack([copy[:rows * 4].reshape(rows, 4), copy[rows * 4:].reshape(rows, 5)])
        np.testing.assert_array_equal(band[:, p0:p0 + 5], expected)
        assert np.isnan(band[:, :p0]).all() and np.isnan(band[:, p0 + 5:]).all()  # nothing else written
    assert np.isnan(signal[:p0]).all() and np.isnan(signal[p0 + 5:]).all()


def test_fma_reference_is_exact_where_double_rounding_is_not():
    import numba

    @numba.njit
    def fused(a, b, c):
        out = np.empty_like(a)
        for i in range(a.shape[0]):
            out[i] = fma(a[i], b[i], c[i])
        return out

    rng = np.random.default_rng(0)
    n = 200_000
    # products on float32 ties, nudged by a tiny addend: where rounding twice goes wrong
    a = (1 + rng.integers(0, 2 ** 12, n) / 2 ** 12).astype(np.float32)
    b = (1 + rng.integers(0, 2 ** 12, n) / 2 ** 12).astype(np.float32)
    c = (rng.standard_normal(n) * 1e-30).astype(np.float32)
    twice = (a.astype(np.float64) * b + c).astype(np.float32)
    assert np.count_nonzero(twice != fused(a, b, c)) > 1000
    np.testing.assert_array_equal(fma32_reference(a, b, c), fused(a, b, c))
    a, b, c = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    np.testing.assert_array_equal(fma32_reference(a, b, c), fused(a, b, c))


def test_wires_are_a_linear_network(rng):
    """G_eff from one factorisation gives the nodal solve's currents; a read with wires uses it."""
    g = rng.uniform(100e-6, 300e-6, (16, 8))
    v = rng.uniform(-0.2, 0.2, (5, 16))
    g_eff = crossbar.effective_conductance(g, 2.0, 3.0)
    np.testing.assert_allclose(v @ g_eff, crossbar.solve_sparse(v, g, 2.0, 3.0), rtol=1e-12, atol=1e-18)
    device = IDEAL.replace(g_min=0.0, g_max=400e-6)
    array = CrossbarArray(16, 8, device, seed=0, peripherals=crossbar.Peripherals(
        wires=crossbar.WireResistance(2.0, 3.0)))
    array.program(g)
    np.testing.assert_allclose(array.mvm(v), crossbar.solve_sparse(v, g, 2.0, 3.0), rtol=1e-12, atol=1e-18)
    before = array.effective_conductance().copy()
    array.program(g[::-1].copy())  # a write: solved again
    assert not np.allclose(array.effective_conductance(), before)


def test_wires_against_qucs_circuit_solutions():
    """The 12 Qucs solutions with resistive word and bit lines (badcrossbar's tests/qucs): output currents."""
    import glob
    import os

    folder = os.path.join(os.path.dirname(__file__), "..", "data", "qucs_crossbars")  # README there: source, licence
    files = sorted(glob.glob(os.path.join(folder, "*.npz")))
    assert len(files) == 33
    checked = 0
    for path in files:
        data = np.load(path)
        r_wl, r_bl = float(data["r_i_wl"]), float(data["r_i_bl"])
        g = np.where(np.isinf(data["R"]), 0.0, 1.0 / data["R"])
        v = data["V"].T  # (inputs, rows)
        if r_wl > 0 and r_bl > 0:
            currents = v @ crossbar.effective_conductance(g, r_wl, r_bl)
        elif r_wl == 0 and r_bl == 0:
            currents = v @ g
        else:
            continue  # one ideal wire only: crossbar.solve_passive (tests/crossbar/test_passive.py)
        np.testing.assert_allclose(currents, data["I_o"], rtol=1e-9, atol=1e-15, err_msg=os.path.basename(path))
        checked += 1
    assert checked == 21


def test_refused_reads_and_plans(rng):
    a = _array(LI2019)
    with pytest.raises(ValueError, match="cols="):  # beyond the array's 12 columns
        ReadPlan([Read(a, (Drive((0, 4), 0),), (10, 14), ((0, 1),) * 4)], 4, 1)
    with pytest.raises(ValueError, match="share a row"):
        ReadPlan([Read(a, (Drive((0, 4), 0), Drive((2, 6), 4)), (0, 2), ((0, 1), (0, 1)))], 8, 1)
    with pytest.raises(ValueError, match="gaps"):
        ReadPlan([Read(a, (Drive((0, 4), 0),), (0, 2), ((0, 1), (0, 1))),
                  Read(a, (Drive((4, 8), 6),), (0, 2), ((0, 1), (0, 1)))], 6, 1)
    with pytest.raises(ValueError, match="sign"):
        Drive((0, 4), 0, 2)
    with pytest.raises(ValueError, match="2 outputs given for 3 columns"):
        ReadPlan([Read(a, (Drive((0, 4), 0),), (0, 3), ((0, 1), (0, 1)))], 4, 1)
    plan = ReadPlan([Read(a, (Drive((0, 4), 0),), (0, 2), ((0, 1), (1, 1)))], 4, 2, volts_per_input=0.2,
                    dac=crossbar.DAC(8, 0.2))
    with pytest.raises(ValueError, match="NaN"):
        plan.read(np.array([[0.1, np.nan, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="beyond the DAC's range"):
        plan.read(np.array([[1.5, 0.0, 0.0, 0.0]]))


def test_a_session_reads_as_calls_of_read_do(rng):
    from crossbar.read.kernels import session_read, session_scratch

    one, other = _plan(LI2019), _plan(LI2019)  # the same arrays, seeds and conductances
    x = rng.uniform(-1, 1, (3, 5, 13))
    expected = [one.read(x[t]) for t in range(3)]
    session = other.session(3)
    assert session.compiled.seeds.shape == (3, other.n_reads) and session.compiled.n_outputs == 13
    scratch = session_scratch(session.compiled, 5)
    out, bad = np.empty((5, 13)), 0
    for t in range(3):
        bad += session_read(session.compiled, t, x[t], scratch, out, 0, False)
        np.testing.assert_array_equal(out, expected[t])
    total = session.finish(5, scratch.saturated, scratch.power.sum(axis=0), bad)
    assert total.products == 3 * other.n_reads
    for a, b in zip(one.source_arrays, other.source_arrays):  # the energy summed over the calls first
        counts, session_counts = a.counters.to_dict(), b.counters.to_dict()
        assert session_counts.pop("cell_energy") == pytest.approx(counts.pop("cell_energy"), rel=1e-12)
        assert counts == session_counts
    with pytest.raises(ValueError, match="beyond the DAC"):
        other.session(1).finish(5, scratch.saturated, scratch.power.sum(axis=0), 2)


def test_the_ideal_read_is_the_noise_free_read_before_the_adc(rng):
    plan = _plan(IDEAL, adc=False)  # no read noise, no ADC: the read is the digital combine of the ideal read
    x = rng.uniform(-1, 1, (4, 13))
    ideal = plan.ideal_read(x)
    assert [c.shape for c in ideal] == [(4, r.cols[1] - r.cols[0]) for r in plan.reads]
    total = np.zeros((4, 13))
    for r, currents in zip(plan.reads, ideal):
        for q, (o, sign) in enumerate(r.outputs):
            total[:, o] += sign * currents[:, q]
    out = plan.read(x)
    np.testing.assert_allclose(out, total / plan.output_unit, rtol=0, atol=1e-12 * np.abs(out).max())
    before = [a.counters.to_dict() for a in plan.source_arrays]
    state = [a.rng.bit_generator.state for a in plan.source_arrays]
    plan.ideal_read(x)
    assert [a.counters.to_dict() for a in plan.source_arrays] == before  # counts nothing, draws nothing
    assert [a.rng.bit_generator.state for a in plan.source_arrays] == state
    with pytest.raises(ValueError, match="beyond the DAC"):
        plan.ideal_read(np.full((1, 13), 2.0))
