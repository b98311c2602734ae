"""The product of a whole mapped matrix in one compiled call, beside its numpy reference.

``MappedMatrix.matvec_by_tile`` drives each tile's array through
``CrossbarArray.mvm``: one Python call, one full-array product and one
conversion per tile. :func:`planned_product` computes the same thing from a
:class:`~mapping.plan.ProductPlan`, a snapshot of the tiles' conductances
folded into one matrix per *band* (the tiles that share input rows):

- row pairs: a column's current is ``sum_i V_i G+_i + (-V_i) G-_i``, so the band
  holds ``G+ - G-`` and the read-noise variance ``s^2 (G+^2 + G-^2)`` (``s`` the
  relative read noise): one product per band instead of one per tile, half the
  multiply-adds, and no zero rows of the rest of the array;
- column pairs: the band holds the tiles' columns as they are (G+ and G- side by side).

Everything runs transposed: a band is stored column by column (``G^T``, shape
(columns, rows)), the products are ``I^T = G^T V^T``, and the noise, the ADC
and the digital sum walk the batch in their inner loops. Float32 bands (read
noise on) get both products from :func:`crossbar.simd.paired_products` in one
register-blocked pass, the same numbers on every machine; float64 bands from
OpenBLAS, which does these short-K products 1.3 to 1.6 times faster this way
round (measured: 32 x 64 x 1024 in float32, 55 against 87 us on one core).

Each tile's columns then get the read noise of that tile's read (normal
``col0 + p`` of stream ``row_seed(seed_tile, b)``, exactly the numbers
``CrossbarArray.mvm`` draws) and the matrix's ADC; row tiles are summed
digitally, in tile order. Being a plain Numba function it can be called
inside a compiled time loop (see ``lstm.kernels.hardware_lstm_forward``).

Units: inputs dimensionless, voltages in volts, conductances in siemens,
currents in amperes; the output is in weight units (``I / (v_read k)``).
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

from crossbar.kernels import convert_one, dac_one
from crossbar.rng import derive_seeds, fill_normals_by_counter, padded_length, row_seed, standard_normals
from crossbar.simd import paired_products

PlanArrays = namedtuple("PlanArrays", [
    "band_starts",      # int64 (n_bands + 1,): logical input rows where each band starts
    "signal",           # float32 or float64 (sum of band sizes,): each band's (P, rows) matrix G^T, C order, S
    "variance",         # float32, same layout: read-noise variance per unit V^2, S^2
    "signal_rows",      # the same bands row by row, (rows, P) matrices G: a batch of one runs on these
    "variance_rows",    # float32, the variance row by row
    "band_offsets",     # int64 (n_bands + 1,): where each band starts in ``signal`` and ``variance``
    "runs",             # int64 (n_tiles, 4): band, first and end physical column, first array column
    "band_runs",        # int64 (n_bands + 1,): the runs of each band (tiles are band-major)
    "n_out",            # int: outputs of the matrix
    "row_pairs",        # bool: G+ - G- in each column (else plus and minus columns side by side)
    "n_inputs",         # int: inputs x (the logical rows before the bias rows)
    "bias_input",       # float: dimensionless drive of the bias rows
    "v_read",           # float: volts per unit input
    "dac_step",         # float: volts per DAC code, 0 without DAC
    "dac_top",          # float: largest DAC code
    "v_limit",          # float: larger |V| is a bad input (volts)
    "adc_step",         # float: amperes per ADC code, 0 without ADC
    "adc_top",          # float: largest ADC code
    "noise",            # bool: read noise on
    "amperes_per_weight",  # float: v_read k, the current of a unit weight driven at a unit input
])


@numba.njit(cache=True, inline="always")
def physical_width(plan):
    """Physical columns of a band: outputs (row pairs) or twice the outputs (column pairs)."""
    return plan.n_out if plan.row_pairs else 2 * plan.n_out


@numba.njit(cache=True)
def product_buffers(plan, batch):
    """Scratch for :func:`planned_product` at one batch size (reused over a sequence), all transposed."""
    widest = 0
    for a in range(plan.band_starts.shape[0] - 1):
        widest = max(widest, plan.band_starts[a + 1] - plan.band_starts[a])
    widest_tile = 0
    for k in range(plan.runs.shape[0]):
        widest_tile = max(widest_tile, plan.runs[k, 2] - plan.runs[k, 1])
    width = physical_width(plan)
    voltages = np.empty(widest * batch, dtype=plan.signal.dtype)  # a band's V^T
    squares = np.empty(widest * batch, dtype=np.float32)
    current = np.empty((width, batch), dtype=plan.signal.dtype)  # I^T
    variance = np.empty((width, batch), dtype=np.float32)
    normals = np.empty(widest_tile * batch, dtype=np.float32)  # a tile's normals, (columns, batch)
    row_seeds = np.empty(batch, dtype=np.uint64)
    keys = np.empty((2, batch), dtype=np.int32)
    row = np.empty(padded_length(widest_tile), dtype=np.float32)  # one stream's normals
    total = np.empty((plan.n_out, batch))  # the digital sum over the bands
    return voltages, squares, current, variance, normals, row_seeds, keys, row, total


@numba.njit(cache=True)
def fill_tile_values(g, sigma, row_pairs, p0, signal, variance, signal_rows, variance_rows):
    """Write one tile's columns of its band: what :func:`planned_product` multiplies by.

    Row pairs: ``G+ - G-`` and ``s^2 G+^2 + s^2 G-^2`` (the minus rows are
    driven at ``-V``); column pairs: ``G`` and ``s^2 G^2`` column by column.
    Computed in float64 and stored in the bands' types (one compiled pass
    where numpy took a dozen over a tile's slices).

    Parameters
    ----------
    g : ndarray, shape (physical rows, physical columns)
        The tile's region of its array, siemens.
    sigma : float
        Relative read noise.
    row_pairs : bool
    p0 : int
        The tile's first physical column in the band.
    signal, variance : ndarray, shape (P, band rows)
        The band column by column (``G^T``); columns ``p0..`` of the tile written.
    signal_rows, variance_rows : ndarray, shape (band rows, P)
        The band row by row.
    """
    if row_pairs:
        rows = g.shape[0] // 2
        for i in range(rows):
            for q in range(g.shape[1]):
                g_plus, g_minus = g[i, q], g[rows + i, q]
                value = g_plus - g_minus
                var = sigma * sigma * g_plus * g_plus + sigma * sigma * g_minus * g_minus
                signal[p0 + q, i] = value
                variance[p0 + q, i] = var
                signal_rows[i, p0 + q] = value
                variance_rows[i, p0 + q] = var
    else:
        for i in range(g.shape[0]):
            for q in range(g.shape[1]):
                value = g[i, q]
                var = sigma * sigma * value * value
                signal[p0 + q, i] = value
                variance[p0 + q, i] = var
                signal_rows[i, p0 + q] = value
                variance_rows[i, p0 + q] = var


def tile_values_reference(g, sigma, row_pairs):
    """numpy reference of :func:`fill_tile_values`: the tile's (signal, variance), each (band rows, tile columns), float64."""
    g2 = sigma * sigma * g * g
    if row_pairs:
        rows = g.shape[0] // 2
        return g[:rows] - g[rows:], g2[:rows] + g2[rows:]
    return g.copy(), g2


# Below this many multiply-adds a plain loop beats a BLAS call, whose fixed cost is about a microsecond
# (measured: 1x17x60, loop 0.23 us, BLAS 0.37 us; 32x17x60, loop 7.3 us, BLAS 4.1 us).
SMALL_PRODUCT = 4096


@numba.njit(cache=True)
def small_dot(a, b, out):
    """``out = a @ b`` by a plain loop (vectorised along the rows of ``b``), for small matrices."""
    for r in range(a.shape[0]):
        for p in range(b.shape[1]):
            out[r, p] = 0.0
        for i in range(a.shape[1]):
            x = a[r, i]
            for p in range(b.shape[1]):
                out[r, p] += x * b[i, p]


@numba.njit(cache=True)
def vector_dot(v, g, out):
    """``out = v @ g`` for one vector ``v`` (1-D), vectorised along the rows of ``g``.

    Each element is summed over ``i`` in order, as :func:`small_dot` does.
    """
    for p in range(g.shape[1]):
        out[p] = 0.0
    for i in range(g.shape[0]):
        x = v[i]
        for p in range(g.shape[1]):
            out[p] += x * g[i, p]


@numba.njit(cache=True)
def _dot(a, b, out):
    if a.shape[0] * a.shape[1] * b.shape[1] <= SMALL_PRODUCT:
        small_dot(a, b, out)
    else:
        np.dot(a, b, out)


def band_products(gt, st, v, q, cur, var, noise):
    """A band's currents ``cur = gt @ v`` and, with read noise, variances ``var = st @ q``.

    Float32 bands (read noise on) go to :func:`crossbar.simd.paired_products`,
    both products in one register-blocked pass and the same numbers on every
    machine; float64 bands to OpenBLAS (or a plain loop when small). Chosen by
    the bands' type, so that :func:`planned_product` compiles either way.
    """
    if gt.dtype == np.float32:
        paired_products(gt, st, v, q, cur, var)
        return
    cur[...] = gt @ v
    if noise:
        var[...] = st @ q


@overload(band_products)
def _band_products_overload(gt, st, v, q, cur, var, noise):
    if gt.dtype == types.float32:
        return lambda gt, st, v, q, cur, var, noise: paired_products(gt, st, v, q, cur, var)

    def blas(gt, st, v, q, cur, var, noise):
        _dot(gt, v, cur)
        if noise:
            _dot(st, q, var)
    return blas


@numba.njit(cache=True, error_model="numpy", nogil=True)  # no zero-division checks: they keep loops scalar
def planned_product(inputs, plan, seeds, buffers, power, out, first_row):
    """One product of a mapped matrix: DAC, band products, read noise, ADC, digital sum.

    Parameters
    ----------
    inputs : ndarray, shape (batch, >= n_inputs)
        Inputs ``x``, dimensionless; columns from ``n_inputs`` on are ignored
        (the bias rows are driven at ``bias_input``).
    plan : PlanArrays
    seeds : ndarray of uint64, shape (n_tiles,)
        This read's noise seed of each tile.
    buffers : tuple
        From :func:`product_buffers` for this batch size.
    power : ndarray, shape (n_logical,)
        Accumulates ``sum_b V_bi^2`` of each logical row, V^2 (for the read energy).
    out : ndarray, shape (batch, n_out)
        Receives the outputs in weight units.
    first_row : int
        Row ``b`` of ``inputs`` is row ``first_row + b`` of the whole batch
        (its noise streams): a batch computed in parts gives the numbers of
        the whole.

    Returns
    -------
    n_saturated : int
        Outputs that hit the ADC's end codes.
    n_bad : int
        Drive voltages beyond ``v_limit`` or NaN.
    """
    voltages_all, squares_all, current, variance, normals_all, row_seeds, keys, row, total = buffers
    batch = inputs.shape[0]
    width = current.shape[0]
    noise, adc_step, adc_top = plan.noise, plan.adc_step, plan.adc_top
    saturated = 0
    bad = 0
    total[:, :] = 0.0
    current_flat, variance_flat, total_flat = current.ravel(), variance.ravel(), total.ravel()
    for a in range(plan.band_starts.shape[0] - 1):
        r0 = plan.band_starts[a]
        rows = plan.band_starts[a + 1] - r0
        voltages = voltages_all[:rows * batch].reshape((rows, batch))
        squares = squares_all[:rows * batch].reshape((rows, batch))
        driven = min(rows, max(plan.n_inputs - r0, 0))  # rows fed by x; the rest are bias rows
        v_read, v_limit, dac_step, dac_top = plan.v_read, plan.v_limit, plan.dac_step, plan.dac_top
        for b in range(batch):
            # two loops, so that neither holds a conditional load (which would keep it scalar)
            for i in range(driven):
                v, out_of_range = dac_one(inputs[b, r0 + i] * v_read, v_limit, dac_step, dac_top)
                bad += out_of_range
                voltages[i, b] = v
                squares[i, b] = v * v  # squared in float64, then stored
                power[r0 + i] += v * v
            for i in range(driven, rows):
                v, out_of_range = dac_one(plan.bias_input * v_read, v_limit, dac_step, dac_top)
                bad += out_of_range
                voltages[i, b] = v
                squares[i, b] = v * v
                power[r0 + i] += v * v
        start, stop = plan.band_offsets[a], plan.band_offsets[a] + width * rows
        if batch == 1:  # a vector times the band, row by row (G^T V^T would run its inner loops one turn each)
            vector_dot(voltages.ravel(), plan.signal_rows[start:stop].reshape((rows, width)), current.ravel())
            if noise:
                vector_dot(squares.ravel(), plan.variance_rows[start:stop].reshape((rows, width)), variance.ravel())
        else:
            band_products(plan.signal[start:stop].reshape((width, rows)),
                          plan.variance[start:stop].reshape((width, rows)), voltages, squares, current, variance,
                          noise)
        for k in range(plan.band_runs[a], plan.band_runs[a + 1]):
            p0, p1 = plan.runs[k, 1], plan.runs[k, 2]
            normals = normals_all[:(p1 - p0) * batch].reshape((p1 - p0, batch))
            if noise:  # this tile's read: row b draws normals col0 + (p - p0) of its stream
                for b in range(batch):
                    row_seeds[b] = row_seed(seeds[k], first_row + b)
                fill_normals_by_counter(row_seeds[:batch], plan.runs[k, 3], normals, keys[0], keys[1], row)
            if plan.row_pairs:  # the tile's columns are one block of I^T: one long loop
                first, last = p0 * batch, p1 * batch
                i_tile, var_tile = current_flat[first:last], variance_flat[first:last]
                z_tile, sum_tile = normals.ravel(), total_flat[first:last]
                for e in range(last - first):
                    value, hit = convert_one(i_tile[e], var_tile[e], z_tile[e], noise, adc_step, adc_top)
                    sum_tile[e] += value  # the digital sum over bands
                    saturated += hit
            else:  # plus and minus columns, converted each, subtracted digitally
                for q in range(p0 // 2, p1 // 2):
                    plus, minus = 2 * q, 2 * q + 1
                    sum_q = total[q]
                    for b in range(batch):
                        v_plus, hit_plus = convert_one(current[plus, b], variance[plus, b], normals[plus - p0, b],
                                                       noise, adc_step, adc_top)
                        v_minus, hit_minus = convert_one(current[minus, b], variance[minus, b],
                                                         normals[minus - p0, b], noise, adc_step, adc_top)
                        sum_q[b] += v_plus - v_minus
                        saturated += hit_plus + hit_minus
    total_out = total.ravel()
    for e in range(total_out.shape[0]):  # divided in place first: a contiguous loop vectorises, a strided one not
        total_out[e] = total_out[e] / plan.amperes_per_weight
    for b in range(batch):
        for j in range(plan.n_out):
            out[b, j] = total[j, b]
    return saturated, bad


def planned_product_reference(inputs, plan, seeds):
    """numpy reference of :func:`planned_product` (same streams, same order).

    Returns (out, n_saturated, n_bad, power) with ``power`` this call's
    ``sum_b V_bi^2`` per logical row.
    """
    batch = inputs.shape[0]
    n_logical = int(plan.band_starts[-1])
    drive = np.full((batch, n_logical), plan.bias_input)
    drive[:, :plan.n_inputs] = inputs[:, :plan.n_inputs]
    v = drive * plan.v_read
    bad = int(np.count_nonzero(~(np.abs(v) <= plan.v_limit)))
    if plan.dac_step > 0.0:
        v = np.clip(np.rint(v / plan.dac_step), -plan.dac_top, plan.dac_top) * plan.dac_step
    width = physical_width(plan)
    out = np.zeros((batch, plan.n_out))
    saturated = 0
    for a in range(len(plan.band_starts) - 1):
        r0, r1 = plan.band_starts[a], plan.band_starts[a + 1]
        start, stop = plan.band_offsets[a], plan.band_offsets[a] + (r1 - r0) * width
        band_v = v[:, r0:r1]
        current = (band_v.astype(plan.signal.dtype) @ plan.signal[start:stop].reshape(width, r1 - r0).T)
        current = current.astype(np.float64)
        if plan.noise:
            variance = (band_v * band_v).astype(np.float32) @ plan.variance[start:stop].reshape(width, r1 - r0).T
        for k in range(plan.band_runs[a], plan.band_runs[a + 1]):
            _, p0, p1, col0 = plan.runs[k]
            i = current[:, p0:p1]
            if plan.noise:
                normals = standard_normals(derive_seeds(np.uint64(seeds[k]), batch), p1 - p0, col0)
                i = i + np.sqrt(variance[:, p0:p1]).astype(np.float64) * normals
            if plan.adc_step > 0.0:
                code = np.rint(i / plan.adc_step)
                saturated += int(np.count_nonzero(np.abs(code) > plan.adc_top))
                i = np.clip(code, -plan.adc_top, plan.adc_top) * plan.adc_step
            if plan.row_pairs:
                out[:, p0:p1] += i
            else:
                out[:, p0 // 2:p1 // 2] += i[:, 0::2] - i[:, 1::2]
    return out / plan.amperes_per_weight, saturated, bad, (v * v).sum(axis=0)
