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

from crossbar.kernels import convert_row, round_half_even
from crossbar.rng import derive_seeds, fill_normals, padded_length, row_seed, standard_normals

PlanArrays = namedtuple("PlanArrays", [
    "band_starts",      # int64 (n_bands + 1,): logical input rows where each band starts
    "signal",           # float32 or float64 (sum of band sizes,): each band's (rows, P) matrix, C order, S
    "variance",         # float32, same layout: read-noise variance per unit V^2, S^2
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
    """Scratch for :func:`planned_product` at one batch size (reused over a sequence)."""
    widest = 0
    for a in range(plan.band_starts.shape[0] - 1):
        widest = max(widest, plan.band_starts[a + 1] - plan.band_starts[a])
    width = physical_width(plan)
    voltages = np.empty(batch * widest, dtype=plan.signal.dtype)
    squares = np.empty(batch * widest, dtype=np.float32)
    current = np.empty((batch, width), dtype=plan.signal.dtype)
    variance = np.empty((batch, width), dtype=np.float32)
    normals = np.empty(width + 32, dtype=np.float32)  # room for the last tile's padding
    converted = np.empty(width)
    return voltages, squares, current, variance, normals, converted


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


@numba.njit(cache=True, inline="always")
def _dot(a, b, out):
    if a.shape[0] * a.shape[1] * b.shape[1] <= SMALL_PRODUCT:
        small_dot(a, b, out)
    else:
        np.dot(a, b, out)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _dac(x, v_read, v_limit, dac_step, dac_top):
    """The drive voltage of input ``x`` through the DAC (volts), and whether it is beyond ``v_limit`` or NaN.

    Scalars only: an inlined function that takes arrays costs reference counting on every call.
    """
    v = x * v_read
    bad = not (abs(v) <= v_limit)  # also catches NaN
    if dac_step > 0.0:
        v = min(max(round_half_even(v / dac_step), -dac_top), dac_top) * dac_step
    return v, bad


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
    voltages_all, squares_all, current_all, variance_all, normals, converted = buffers
    batch = inputs.shape[0]
    width = current_all.shape[1]
    saturated = 0
    bad = 0
    out[:, :] = 0.0
    for a in range(plan.band_starts.shape[0] - 1):
        r0 = plan.band_starts[a]
        rows = plan.band_starts[a + 1] - r0
        voltages = voltages_all[:batch * rows].reshape((batch, rows))
        squares = squares_all[:batch * rows].reshape((batch, rows))
        driven = min(rows, max(plan.n_inputs - r0, 0))  # rows fed by x; the rest are bias rows
        v_read, v_limit, dac_step, dac_top = plan.v_read, plan.v_limit, plan.dac_step, plan.dac_top
        for b in range(batch):
            # two loops, so that neither holds a conditional load (which would keep it scalar)
            for i in range(driven):
                v, out_of_range = _dac(inputs[b, r0 + i], v_read, v_limit, dac_step, dac_top)
                bad += out_of_range
                voltages[b, i] = v
                squares[b, i] = v * v  # squared in float64, then stored
                power[r0 + i] += v * v
            for i in range(driven, rows):
                v, out_of_range = _dac(plan.bias_input, v_read, v_limit, dac_step, dac_top)
                bad += out_of_range
                voltages[b, i] = v
                squares[b, i] = v * v
                power[r0 + i] += v * v
        start = plan.band_offsets[a]
        current = current_all  # sized for this batch: no slice, so its layout stays C
        _dot(voltages, plan.signal[start:start + rows * width].reshape((rows, width)), current)
        variance = variance_all
        if plan.noise:
            _dot(squares, plan.variance[start:start + rows * width].reshape((rows, width)), variance)
        for b in range(batch):
            if plan.noise:  # each tile's stream for this row, side by side (the band's tiles cover its width in order)
                for k in range(plan.band_runs[a], plan.band_runs[a + 1]):
                    p0 = plan.runs[k, 1]
                    # drawn a little long (no scalar remainder): the next tile's draw overwrites the excess
                    fill_normals(row_seed(seeds[k], first_row + b), plan.runs[k, 3],
                                 normals[p0:p0 + padded_length(plan.runs[k, 2] - p0)])
            saturated += convert_row(current[b], variance[b], normals, plan.noise, plan.adc_step, plan.adc_top,
                                     converted)
            out_row = out[b]  # the digital sum over bands
            if plan.row_pairs:
                for q in range(width):
                    out_row[q] += converted[q]
            else:  # plus and minus columns, converted each, subtracted digitally
                for q in range(width // 2):
                    out_row[q] += converted[2 * q] - converted[2 * q + 1]
    for b in range(batch):
        for j in range(plan.n_out):
            out[b, j] /= plan.amperes_per_weight
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
        current = (band_v.astype(plan.signal.dtype) @ plan.signal[start:stop].reshape(r1 - r0, width))
        current = current.astype(np.float64)
        if plan.noise:
            variance = (band_v * band_v).astype(np.float32) @ plan.variance[start:stop].reshape(r1 - r0, width)
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
