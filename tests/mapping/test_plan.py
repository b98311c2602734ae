"""The compiled product of a mapped matrix against its numpy reference and the tile-by-tile path."""

import dataclasses

import numpy as np
import pytest

import crossbar
from mapping import Chip, Encoding, MappedMatrix
from mapping.kernels import fill_tile_values, planned_product, planned_product_reference, tile_values_reference
from mapping.plan import ProductPlan

# read noise this small keeps the products in float64, so both paths round alike
LOW_NOISE = crossbar.preset("li2019").replace(read_noise_sigma_relative=1e-4)


def _matrix(device, scheme, seed=3, adc=True, shape=(70, 45), array=(32, 16), wires=None):
    chip = Chip(device, array_rows=array[0], array_cols=array[1], dac=crossbar.DAC(8, 0.2),
                adc_bits=8 if adc else None, wires=wires, seed=seed)
    m = MappedMatrix(chip, "w", *shape, encoding=Encoding(scheme=scheme, scale="max_abs"))
    rng = np.random.default_rng(seed)
    m.program(rng.uniform(-1, 1, shape), rng.uniform(-1, 1, shape[1]))
    if adc:
        m.set_adc_full_scale(4.0 * 0.2 * m.scale)
    return m


@pytest.mark.parametrize("scheme", ["row_pairs", "column_pairs"])
@pytest.mark.parametrize("device", [LOW_NOISE, crossbar.preset("li2019"), crossbar.preset("ideal")],
                         ids=["float64", "float32", "noise-free"])
@pytest.mark.parametrize("adc", [True, False])
@pytest.mark.parametrize("batch", [1, 5, 9])  # one vector runs on the row layout; 9 streams fill the lanes
def test_kernel_equals_numpy_reference(rng, scheme, device, adc, batch):
    m = _matrix(device, scheme, adc=adc)
    plan = m.plan()
    assert len(plan.band_starts) > 2 and len(m.tiles) > 4  # several bands of several tiles
    x = rng.uniform(-1, 1, (batch, 70))
    seeds = plan.draw_seeds(1)[0]
    power = np.zeros(int(plan.band_starts[-1]))
    out = np.empty((batch, 45))
    saturated, bad = planned_product(x, plan.arrays, seeds, plan.buffers(batch), power, out, 0)
    ref, ref_saturated, ref_bad, ref_power = planned_product_reference(x, plan.arrays, seeds)
    assert bad == ref_bad == 0
    np.testing.assert_allclose(power, ref_power, rtol=1e-12)
    if adc:
        step = m.adc.step / (0.2 * m.scale)
        codes_apart = np.abs(out - ref) / step
        # float32 sums may round across a code boundary, but only ever by one code and rarely
        assert codes_apart.max() <= 1.0 + 1e-9 and np.mean(codes_apart > 0.5) <= 0.01
        assert abs(saturated - ref_saturated) <= 2
        if device is LOW_NOISE:
            np.testing.assert_array_equal(out, ref)
    else:
        # the signal's own dtype; in float64 the noise amplitude (float32 variance) differs in its 7th digit
        tol = {np.float32: 1e-5, np.float64: 1e-9 if plan.arrays.noise else 1e-12}[plan.arrays.signal.dtype.type]
        assert np.max(np.abs(out - ref)) <= tol * np.max(np.abs(ref))


@pytest.mark.parametrize("scheme", ["row_pairs", "column_pairs"])
def test_compiled_equals_tile_by_tile(rng, scheme):
    """Same numbers, same counts, same generator states: the plan is the tile-by-tile path, faster."""
    compiled, by_tile = _matrix(LOW_NOISE, scheme), _matrix(LOW_NOISE, scheme)
    for batch in (6, 1, 11, 6):  # the generators stay in step call after call
        x = rng.uniform(-1, 1, (batch, 70))
        a, b = compiled.matvec(x), by_tile.matvec_by_tile(x)
        np.testing.assert_array_equal(a, b)  # after the ADC: the same codes
    ca, cb = compiled.counters, by_tile.counters
    assert ca.adc_saturations > 0  # the test exercises the ADC's end codes too
    for f in dataclasses.fields(ca):
        assert getattr(ca, f.name) == pytest.approx(getattr(cb, f.name), rel=1e-12), f.name
    for array_a, array_b in zip(compiled.chip.arrays, by_tile.chip.arrays):
        assert array_a.counters.cell_energy == pytest.approx(array_b.counters.cell_energy, rel=1e-12)
        assert array_a.counters.products == array_b.counters.products


def test_plan_follows_the_conductances(rng):
    """After an update, a new programming or drift, the product uses the new conductances."""
    device = LOW_NOISE.replace(drift_nu=0.05)
    compiled, by_tile = _matrix(device, "row_pairs"), _matrix(device, "row_pairs")
    x = rng.uniform(-1, 1, (3, 70))
    first = compiled.plan()
    assert compiled.plan() is first  # nothing changed: reused
    changes = [lambda m: m.apply_update(np.full((70, 45), 0.05), np.full(45, -0.05)),
               lambda m: [a.advance_time(1e4) for a in m.chip.arrays],
               lambda m: m.program(np.zeros((70, 45)), np.zeros(45))]
    for change in changes:
        before = compiled.matvec(x)
        by_tile.matvec_by_tile(x)
        change(compiled), change(by_tile)
        after, expected = compiled.matvec(x), by_tile.matvec_by_tile(x)
        np.testing.assert_array_equal(after, expected)
        assert not np.allclose(after, before)
    assert compiled.plan() is not first


@pytest.mark.parametrize("row_pairs", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tile_values_kernel_equals_numpy_reference(rng, row_pairs, dtype):
    g = rng.uniform(0, 300e-6, (12, 5))
    rows, cols = (6, 5) if row_pairs else (12, 5)
    width, p0 = cols + 4, 3  # the tile's columns sit at p0.. of a wider band
    signal, variance = np.full((width, rows), np.nan, dtype), np.full((width, rows), np.nan, np.float32)
    signal_rows, variance_rows = np.full((rows, width), np.nan, dtype), np.full((rows, width), np.nan, np.float32)
    fill_tile_values(g, 0.03, row_pairs, p0, signal, variance, signal_rows, variance_rows)
    s, v = tile_values_reference(g, 0.03, row_pairs)
    np.testing.assert_array_equal(signal[p0:p0 + cols].T, s.astype(dtype))
    np.testing.assert_array_equal(signal_rows[:, p0:p0 + cols], s.astype(dtype))
    np.testing.assert_array_equal(variance[p0:p0 + cols].T, v.astype(np.float32))
    np.testing.assert_array_equal(variance_rows[:, p0:p0 + cols], v.astype(np.float32))
    assert np.isnan(signal[:p0]).all() and np.isnan(variance_rows[:, p0 + cols:]).all()  # nothing else written


@pytest.mark.parametrize("scheme", ["row_pairs", "column_pairs"])
@pytest.mark.parametrize("device", [LOW_NOISE, crossbar.preset("li2019")], ids=["float64", "float32"])
def test_refilled_plan_equals_a_new_plan(scheme, device):
    """An update refills the plan in place; it then holds exactly what a plan made afresh holds."""
    m = _matrix(device, scheme)
    plan = m.plan()
    m.apply_update(np.full((70, 45), 0.05), np.full(45, -0.05))
    assert not plan.is_current()
    assert m.plan() is plan and plan.is_current()
    fresh = ProductPlan(m)
    for name in ("signal", "variance", "signal_rows", "variance_rows", "band_offsets", "runs"):
        np.testing.assert_array_equal(getattr(plan.arrays, name), getattr(fresh.arrays, name), err_msg=name)
    for mine, theirs in zip(plan.row_conductance, fresh.row_conductance):
        np.testing.assert_array_equal(mine, theirs)


def test_wires_go_tile_by_tile_and_bad_inputs_raise(rng):
    m = _matrix(LOW_NOISE, "row_pairs", adc=False, shape=(10, 6), array=(16, 8),
                wires=crossbar.WireResistance(1.0, 1.0))
    assert not m.can_plan
    with pytest.raises(ValueError, match="wire resistance"):
        m.plan()
    assert m.matvec(rng.uniform(-1, 1, (2, 10))).shape == (2, 6)
    m = _matrix(LOW_NOISE, "row_pairs")
    x = rng.uniform(-1, 1, (2, 70))
    x[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.matvec(x)
    for beyond in (1.5, -1.5):  # either side of the DAC's range
        with pytest.raises(ValueError, match="beyond"):
            m.matvec(np.full((1, 70), beyond))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("noise", [True, False])
def test_band_products_by_the_bands_type(rng, dtype, noise):
    """Float32 bands: the paired products; float64: OpenBLAS. Called from Python and compiled alike."""
    import numba

    from crossbar.simd import paired_products_reference
    from mapping.kernels import band_products

    gt, st = rng.uniform(0, 1e-4, (40, 24)).astype(dtype), rng.uniform(0, 1e-14, (40, 24)).astype(np.float32)
    v = rng.uniform(-0.2, 0.2, (24, 11)).astype(dtype)
    q = (v * v).astype(np.float32)
    if dtype == np.float32:
        expected = paired_products_reference(gt, st, v, q)
    else:
        expected = (gt @ v, (st @ q) if noise else np.zeros((40, 11), np.float32))
    compiled = numba.njit(lambda *a: band_products(*a))
    for call in (band_products, compiled):
        cur, var = np.zeros((40, 11), dtype), np.zeros((40, 11), np.float32)
        call(gt, st, v, q, cur, var, noise)
        np.testing.assert_allclose(cur, expected[0], rtol=1e-12 if dtype == np.float64 else 0)
        np.testing.assert_allclose(var, expected[1], rtol=1e-6)  # float64 bands without noise: left as it was
