"""The compiled read of :class:`crossbar.read.plan.ReadPlan`, beside its numpy twin.

A plan is a snapshot of the conductances that some reads use, folded into
one matrix per *band*: the reads whose rows are driven by the same logical
inputs (a matrix's row tiles of the same inputs, or a whole array read on its
own). For each logical input ``i`` of a band and each column ``p`` of its
reads, the band holds the conductance the input sees, summed over the rows it
drives with their drive signs (a row pair driven at ``+V`` and ``-V`` holds
``G+ - G-``), and the read-noise variance per unit ``V^2`` (``s^2 G+^2 + s^2
G-^2`` with ``s`` the relative read noise). A band is stored column by column
(``G^T``, shape (columns, rows)) and row by row (``G``).

:func:`read_product` then does, for a batch of inputs:

1. DAC: ``V = DAC(x * volts_per_input)`` for each logical input (inputs from
   ``n_inputs`` on are held at ``constant_input``), counting drives beyond the
   DAC's range or NaN;
2. products: each band's currents ``I^T = G^T V^T`` and variances
   ``Var^T = S^T (V^2)^T``;
3. each read's columns: read noise ``sqrt(Var) z`` with ``z`` the normals of
   that read's stream (normal ``col`` of stream ``row_seed(seed, batch row)``,
   ``col`` the physical column of the array), then the ADC, counting
   saturations per read;
4. the digital combine: each column's converted current is added, with its
   sign, into its output (row tiles of a matrix add up; a column pair is
   plus minus minus); the sums are divided by ``output_unit``.

The columns are read in chunks, in parallel on Numba's threads; each chunk
takes every band in band order, so each output's sum runs in the same order
whatever the chunking. Arithmetic, the same for every batch size, batch
split, chunking, thread count and machine (tested against
:func:`read_product_reference` bit for bit):

- float32 bands (read noise on, see :func:`crossbar.circuits.conversion.float32_is_enough`):
  every product element is one chain of fused multiply-adds in row order from
  zero (:func:`crossbar.numerics.simd.paired_products` for a batch, scalar
  :func:`crossbar.numerics.vecmath.fma` for one vector);
- float64 bands: every element is a chain of a multiply then an add (two
  roundings) in row order from zero, no BLAS (whose sums depend on its
  kernels and threads);
- the noise is added in float64 to the current, the standard deviation taken
  in float32; the digital sums run in band order, then column order.

Units: inputs dimensionless, voltages in volts, conductances in siemens,
currents in amperes; outputs in ``output_unit`` amperes.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

from crossbar.circuits.adc import (circuit_codes_reference, circuit_convert_reference, circuit_end_one,
                                   circuit_signal_one, sar_keeps)
from crossbar.circuits.conversion import (adc_reference, convert_one, dac_one, dac_reference, noisy_current,
                                         noisy_current_reference)
from crossbar.numerics.random_streams import fill_normals_by_counter, padded_length, row_seed, standard_normals
from crossbar.numerics.simd import paired_products
from crossbar.numerics.vecmath import fma, fma32_reference

ReadArrays = namedtuple("ReadArrays", [
    "band_starts",      # int64 (n_bands + 1,): logical inputs where each band starts
    "band_widths",      # int64 (n_bands,): physical columns of each band
    "signal",           # float32 or float64, flat: each band's (P, rows) matrix G^T, C order, S
    "variance",         # float32, same layout: read-noise variance per unit V^2, S^2
    "signal_rows",      # the same bands row by row, a (rows, columns) block per chunk: one vector runs on these
    "variance_rows",    # float32, the variance row by row
    "band_offsets",     # int64 (n_bands + 1,): where each band starts in ``signal`` and ``variance``
    "runs",             # int64 (n_reads, 4): band, first and end column in the band, first array column
    "band_runs",        # int64 (n_bands + 1,): the reads of each band (reads are band-major)
    "run_output",       # int64 (n_reads,): first output of a read whose columns go to consecutive outputs
                        #   with sign +1 (a fast path), else -1
    "column_output",    # int64 (sum of band widths,): the output each band column adds into
    "column_sign",      # float64, same: +1 or -1
    "band_columns",     # int64 (n_bands + 1,): where each band starts in ``column_output``
    "chunks",           # int64 (n_chunks + 1,): column ranges read in parallel (every band, in band order)
    "n_out",            # int: outputs
    "n_inputs",         # int: inputs read from ``x`` (the logical inputs from here on are constant)
    "constant_input",   # float: dimensionless drive of the constant inputs
    "volts_per_input",  # float: volts of an input of 1
    "dac_step",         # float: volts per DAC code, 0 without DAC
    "dac_top",          # float: largest DAC code
    "v_limit",          # float: larger |V| is a bad input (volts)
    "adc_step",         # float: amperes per ADC code, 0 without ADC
    "adc_top",          # float: largest ADC code
    "noise",            # bool: read noise on
    "output_unit",      # float: amperes of an output of 1
    "output_units",     # float64 (n_out,): amperes of an output of 1, output by output (per-output units only)
    "per_output_unit",  # bool: output_units apply (a scale per column, a digital gain), else output_unit
    "adc_circuit",      # bool: each column converts on its own converter circuit (not the uniform quantizer)
    "column_converter",  # int64 (sum of band widths,): each band column's converter (circuit only)
    "converter_weights",  # float64 (n_converters, bits): each converter's bit levels, LSB
    "converter_offsets",  # float64 (n_converters,): each converter's comparator offset, LSB
    "adc_gain",         # float: closed-loop gain of the sense amplifiers
    "input_planes",     # int: bit-serial inputs: read cycles of one vector (0: all bits at once)
    "input_cycle_bits",  # int: bit-serial inputs: magnitude bits driven in one cycle
    "input_accumulate",  # bool: bit-serial cycles accumulate in the analog and convert once
    "input_sum_weights",  # float64 (n_out,): output units per volt of sum_i V_i taken off each output (offsets)
    "input_sum",        # bool: input_sum_weights apply
    "cell_nonlinearity",  # float: k of the cells' I = G sinh(k V) / k, 1/V (0: linear)
    "cycle_gain",       # float: known gain of 1-bit drives on nonlinear cells, divided out after the ADC (else 1)
    "bias",             # bool: v_half reads: held lines add a current to their sensed columns
    "column_bias",      # float64 (sum of band widths,): each band column's held-line current, A (a cycle)
    "column_bias_variance",  # float32 (sum of band widths,): its read-noise variance, A^2
    "output_bias",      # float64 (n_out,): each output's share of the held-line currents, A, taken off digitally
])

CompiledReads = namedtuple("CompiledReads", [
    "tables",           # ReadArrays: the plan's kernel tables
    "seeds",            # uint64 (calls, n_reads): each call's noise seed of each read
    "n_outputs",        # int: outputs of a read
    "n_logical",        # int: logical inputs (those of x, then the constant ones)
    "n_reads",          # int: reads of the plan
])
"""Consecutive reads of a plan in a caller's compiled loop (:meth:`crossbar.ReadPlan.session`): what
:func:`session_scratch` and :func:`session_read` take."""

ReadScratch = namedtuple("ReadScratch", [
    "buffers",          # tuple: the kernel's scratch for the batch (product_buffers)
    "power",            # float64 (batch, n_logical): accumulates sum V u(V) of each row and logical input, V^2
    "saturated",        # int64 (n_reads,): accumulates each read's ADC saturations
])
"""A session's scratch and tallies at one batch size (:func:`session_scratch`)."""

PLANE_STRIDE = 1 << 40
"""Noise streams of bit-serial cycle ``k`` are those of batch rows ``first_row + b + k * PLANE_STRIDE``."""


@numba.njit(cache=True)
def product_buffers(plan, batch):
    """Scratch of :func:`read_product` at one batch size (reused over a sequence): the drive voltages and
    their squares of every logical input, the digital sums, and each chunk's own scratch (its columns of
    the currents, variances and normals, its streams' seeds and keys, its saturations)."""
    n_logical = plan.band_starts[plan.band_starts.shape[0] - 1]
    n_chunks = plan.chunks.shape[0] - 1
    width = plan.chunks[n_chunks]
    widest = 0
    for c in range(n_chunks):
        widest = max(widest, plan.chunks[c + 1] - plan.chunks[c])
    voltages = np.empty(n_logical * batch, dtype=plan.signal.dtype)  # V^T, band after band
    squares = np.empty(n_logical * batch, dtype=np.float32)
    total = np.empty((plan.n_out, batch))  # the digital sums
    current = np.empty(width * batch, dtype=plan.signal.dtype)  # chunk c: columns chunks[c]..chunks[c + 1]
    variance = np.empty(width * batch, dtype=np.float32)
    normals = np.empty(width * batch, dtype=np.float32)
    row_seeds = np.empty((n_chunks, batch), dtype=np.uint64)
    keys = np.empty((n_chunks, 2, batch), dtype=np.int32)
    rows = np.empty((n_chunks, padded_length(widest)), dtype=np.float32)  # one stream's normals
    hits = np.empty((n_chunks, plan.runs.shape[0]), dtype=np.int64)
    return voltages, squares, total, current, variance, normals, row_seeds, keys, rows, hits


PARALLEL_WORK = 200_000
"""Multiply-adds of one read (both products) below which its chunks run one after the other on the calling
thread: starting the threads costs more than they save (the numbers are the same either way)."""


# ------------------------------------------------------------------ filling a band
@numba.njit(cache=True)
def fill_read_values(g_signal, g_noise, c0, c1, drive_rows, drive_inputs, drive_signs, band_start, sigma, p0,
                     signal, variance, signal_rows, variance_rows, chunks, scratch):
    """Write one read's columns of its band: what :func:`read_product` multiplies by.

    Each band element is summed in float64 over the read's drives in their
    order (``0 + s1 G1 + s2 G2``: a row pair gives ``G+ - G-``), then stored in
    the band's type.

    Parameters
    ----------
    g_signal : ndarray, shape (array rows, array columns)
        Conductances the currents see (the true ones, or the effective ones
        with wire resistance), siemens.
    g_noise : ndarray, same shape
        Conductances whose read noise is drawn (the true ones), siemens.
    c0, c1 : int
        The read's first and end column of the array.
    drive_rows : ndarray of int64, shape (n_drives, 2)
        First and end physical row of each drive.
    drive_inputs : ndarray of int64, shape (n_drives,)
        Logical input of each drive's first row.
    drive_signs : ndarray of float64, shape (n_drives,)
    band_start : int
        The band's first logical input.
    sigma : float
        Relative read noise.
    p0 : int
        The read's first column in the band.
    signal, variance : ndarray, shape (P, band rows)
    signal_rows, variance_rows : ndarray, shape (band rows * P,)
        The band row by row, one contiguous (band rows, chunk columns) block per
        chunk of ``chunks`` (see :func:`chunk_block`).
    chunks : ndarray of int64
        The plan's column chunks.
    scratch : ndarray of float64, shape (>= 2 * band rows * (c1 - c0),)
        Room for the float64 sums.
    """
    rows = signal.shape[1]
    cols = c1 - c0
    values = scratch[:rows * cols].reshape((rows, cols))
    variances = scratch[rows * cols:2 * rows * cols].reshape((rows, cols))
    values[:, :] = 0.0
    variances[:, :] = 0.0
    for d in range(drive_rows.shape[0]):
        r0, r1 = drive_rows[d, 0], drive_rows[d, 1]
        first = drive_inputs[d] - band_start
        sign = drive_signs[d]
        for r in range(r1 - r0):
            for q in range(cols):
                values[first + r, q] += sign * g_signal[r0 + r, c0 + q]
                g = g_noise[r0 + r, c0 + q]
                variances[first + r, q] += sigma * sigma * g * g
    width = signal.shape[0]
    for i in range(rows):
        for q in range(cols):
            signal[p0 + q, i] = values[i, q]
            variance[p0 + q, i] = variances[i, q]
    for q in range(cols):
        start, block = chunk_block(chunks, p0 + q, rows, width)
        for i in range(rows):
            signal_rows[start + i * block] = values[i, q]
            variance_rows[start + i * block] = variances[i, q]


@numba.njit(cache=True)
def chunk_block(chunks, p, rows, width):
    """Where band column ``p`` of a (rows, width) band lies in its row-by-row copy: (index of row 0, block width).

    The copy holds one contiguous (rows, columns) block per chunk, so that the
    one-vector product of a chunk reads unit-stride rows.
    """
    c = np.searchsorted(chunks, p, side="right") - 1
    c0 = chunks[c]
    return rows * c0 + p - c0, min(chunks[c + 1], width) - c0


def read_values_reference(g_signal, g_noise, drives, band_start, band_rows, sigma):
    """numpy reference of :func:`fill_read_values`: the read's (signal, variance), each (band rows, columns), float64.

    ``drives`` is a sequence of ``((first row, end row), first input, sign)``.
    """
    values = np.zeros((band_rows, g_signal.shape[1]))
    variances = np.zeros_like(values)
    for (r0, r1), first, sign in drives:
        k = first - band_start
        values[k:k + r1 - r0] += sign * g_signal[r0:r1]
        variances[k:k + r1 - r0] += sigma * sigma * g_noise[r0:r1] * g_noise[r0:r1]
    return values, variances


# ------------------------------------------------------------------ products
@numba.njit(cache=True)
def multiply_add_products(gt, v, cur):
    """``cur = gt @ v`` in float64, each element a chain of a multiply then an add in row order from zero.

    Vectorised along the batch; no fused multiply-adds (the flags allow no contraction), so the numbers
    are those of numpy's float64 ``acc + g * v`` on any machine.
    """
    for p in range(gt.shape[0]):
        for b in range(v.shape[1]):
            cur[p, b] = 0.0
        for i in range(gt.shape[1]):
            g = gt[p, i]
            for b in range(v.shape[1]):
                cur[p, b] += g * v[i, b]


@numba.njit(cache=True)
def fma_products(st, q, var):
    """``var = st @ q`` in float32, each element a chain of fused multiply-adds in row order from zero."""
    for p in range(st.shape[0]):
        for b in range(q.shape[1]):
            var[p, b] = np.float32(0.0)
        for i in range(st.shape[1]):
            s = st[p, i]
            for b in range(q.shape[1]):
                var[p, b] = fma(s, q[i, b], var[p, b])


@numba.njit(cache=True)
def fma_vector(v, g, out):
    """``out = v @ g`` for one float32 vector: for each output, fused multiply-adds in row order from zero
    (the chain :func:`crossbar.numerics.simd.paired_products` computes for a batch)."""
    for p in range(g.shape[1]):
        out[p] = np.float32(0.0)
    for i in range(g.shape[0]):
        x = v[i]
        for p in range(g.shape[1]):
            out[p] = fma(x, g[i, p], out[p])


@numba.njit(cache=True)
def multiply_add_vector(v, g, out):
    """``out = v @ g`` for one float64 vector, multiply then add in row order (as :func:`multiply_add_products`)."""
    for p in range(g.shape[1]):
        out[p] = 0.0
    for i in range(g.shape[0]):
        x = v[i]
        for p in range(g.shape[1]):
            out[p] += x * g[i, p]


def band_products(gt, st, v, q, cur, var, noise):
    """A band's currents ``cur = gt @ v`` and, with read noise, variances ``var = st @ q`` (see the module)."""
    if gt.dtype == np.float32:
        paired_products(gt, st, v, q, cur, var)
        return
    multiply_add_products(gt, v, cur)
    if noise:
        fma_products(st, q, var)


@overload(band_products)
def _band_products_overload(gt, st, v, q, cur, var, noise):
    if gt.dtype == types.float32:
        return lambda gt, st, v, q, cur, var, noise: paired_products(gt, st, v, q, cur, var)

    def float64_bands(gt, st, v, q, cur, var, noise):
        multiply_add_products(gt, v, cur)
        if noise:
            fma_products(st, q, var)
    return float64_bands


def vector_products(v, q, g, s, cur, var, noise):
    """:func:`band_products` for one input vector, on the bands row by row."""
    if g.dtype == np.float32:
        fma_vector(v, g, cur)
    else:
        multiply_add_vector(v, g, cur)
    if noise:
        fma_vector(q, s, var)


@overload(vector_products)
def _vector_products_overload(v, q, g, s, cur, var, noise):
    if g.dtype == types.float32:
        def float32_bands(v, q, g, s, cur, var, noise):
            fma_vector(v, g, cur)
            fma_vector(q, s, var)
        return float32_bands

    def float64_bands(v, q, g, s, cur, var, noise):
        multiply_add_vector(v, g, cur)
        if noise:
            fma_vector(q, s, var)
    return float64_bands


# ------------------------------------------------------------------ the read
@numba.njit(cache=True, error_model="numpy", nogil=True)  # no zero-division checks: they keep loops scalar
def read_product(inputs, plan, seeds, buffers, power, saturated, out, first_row, parallel_chunks):
    """One read of a plan: DAC, band products, read noise, ADC, digital combine (see the module).

    The columns are read in chunks (``plan.chunks``) on Numba's threads
    (``numba.set_num_threads``); a chunk takes every band in band order, so
    each output's sum runs in the same order whatever the chunking or the
    threads: the numbers do not depend on them.

    Parameters
    ----------
    inputs : ndarray, shape (batch, >= n_inputs)
        Inputs ``x``, dimensionless; columns from ``n_inputs`` on are ignored
        (those logical inputs are held at ``constant_input``).
    plan : ReadArrays
    seeds : ndarray of uint64, shape (n_reads,)
        This call's noise seed of each read.
    buffers : tuple
        From :func:`product_buffers` for this batch size.
    power : ndarray, shape (batch, n_logical)
        Accumulates ``V_bi^2`` of each batch row and logical input, V^2 (for
        the read energy; kept per row so that a batch computed in parts sums
        to the same bits).
    saturated : ndarray of int64, shape (n_reads,)
        Accumulates each read's outputs that hit the ADC's end codes.
    out : ndarray, shape (batch, n_out)
        Receives the outputs in units of ``output_unit``.
    first_row : int
        Row ``b`` of ``inputs`` is row ``first_row + b`` of the whole batch
        (its noise streams): a batch computed in parts gives the numbers of
        the whole.
    parallel_chunks : bool
        Run the chunks on Numba's threads (when the read has more than one and
        at least :data:`PARALLEL_WORK` multiply-adds); False runs them on the
        calling thread. The numbers are the same.

    Returns
    -------
    int
        Drive voltages beyond ``v_limit`` or NaN.
    """
    voltages_all, squares_all, total, current, variance, normals, row_seeds, keys, rows, hits = buffers
    batch = inputs.shape[0]
    n_logical = plan.band_starts[plan.band_starts.shape[0] - 1]
    bad = 0
    total[:, :] = 0.0
    n_chunks = plan.chunks.shape[0] - 1
    work = 0
    for a in range(plan.band_widths.shape[0]):
        work += 2 * (plan.band_starts[a + 1] - plan.band_starts[a]) * plan.band_widths[a] * batch
    planes = plan.input_planes
    cycles = planes if planes > 0 and not plan.input_accumulate else 1
    for cycle in range(cycles):
        if planes == 0:
            bad += _dac_parallel(inputs, plan, voltages_all, squares_all, power, batch, n_logical)
        else:
            bits = _dac_bit_serial(inputs, plan, voltages_all, squares_all, power, batch, n_logical, cycle)
            if cycle == 0:
                bad += bits
        weight = 1.0 if cycles == 1 else cycle_weight(plan.input_cycle_bits, cycle, plan.dac_top)
        if plan.cycle_gain != 1.0:
            weight = weight / plan.cycle_gain
        row = first_row + cycle * PLANE_STRIDE
        if parallel_chunks and n_chunks > 1 and work >= PARALLEL_WORK:
            _read_chunks_parallel(plan, seeds, voltages_all, squares_all, total, current, variance, normals,
                                  row_seeds, keys, rows, hits, batch, row, weight)
        else:
            for c in range(n_chunks):
                _read_chunk(plan, seeds, voltages_all, squares_all, total, current, variance, normals, row_seeds[c],
                            keys[c], rows[c], hits[c], batch, row, plan.chunks[c], plan.chunks[c + 1], weight)
        for c in range(n_chunks):  # chunk by chunk: each chunk's row of hits is contiguous
            for k in range(plan.runs.shape[0]):
                saturated[k] += hits[c, k]
        if plan.bias:  # the digital side takes off the held lines' known current, as this cycle weighed it
            for j in range(plan.n_out):
                for b in range(batch):
                    total[j, b] = total[j, b] - weight * plan.output_bias[j]
    _digital_outputs(inputs, plan, total, out, batch, n_logical)
    return bad


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _digital_outputs(inputs, plan, total, out, batch, n_logical):
    """The digital side's last steps: the sums ``total`` (n_out, batch), amperes, over ``output_unit`` into
    ``out`` (batch, n_out), less each output's share of ``sum_i V_i`` (offset encodings)."""
    if plan.per_output_unit:  # each output its own unit (total is (n_out, batch): row j is output j)
        for j in range(plan.n_out):
            for b in range(batch):
                total[j, b] = total[j, b] / plan.output_units[j]
    else:
        total_flat = total.ravel()
        for e in range(total_flat.shape[0]):  # divided in place first: a contiguous loop vectorises, a strided one not
            total_flat[e] = total_flat[e] / plan.output_unit
    for b in range(batch):
        for j in range(plan.n_out):
            out[b, j] = total[j, b]
    if plan.input_sum:
        v_scale, v_limit, dac_step, dac_top = plan.volts_per_input, plan.v_limit, plan.dac_step, plan.dac_top
        for b in range(batch):
            volts = 0.0
            for i in range(min(plan.n_inputs, n_logical)):
                volts += dac_one(inputs[b, i] * v_scale, v_limit, dac_step, dac_top)[0]
            constant = dac_one(plan.constant_input * v_scale, v_limit, dac_step, dac_top)[0]
            for i in range(plan.n_inputs, n_logical):
                volts += constant
            for j in range(plan.n_out):
                out[b, j] -= plan.input_sum_weights[j] * volts


@numba.njit(cache=True)
def session_scratch(session, batch):
    """The scratch and zero tallies of a session's reads of ``batch`` input vectors (reused call after call).

    Parameters
    ----------
    session : CompiledReads
    batch : int

    Returns
    -------
    ReadScratch
    """
    return ReadScratch(product_buffers(session.tables, batch), np.zeros((batch, session.n_logical)),
                       np.zeros(session.n_reads, dtype=np.int64))


@numba.njit(cache=True, error_model="numpy", nogil=True)
def session_read(session, call, inputs, scratch, out, first_row, parallel_chunks):
    """Call ``call`` of a session: :func:`read_product` of ``inputs`` with that call's seeds.

    Parameters
    ----------
    session : CompiledReads
    call : int
        Which call (``0 .. calls - 1``): its row of ``session.seeds``.
    inputs : ndarray, shape (batch, >= n_inputs)
        Inputs, dimensionless.
    scratch : ReadScratch
        From :func:`session_scratch` at this batch; its ``power`` and ``saturated`` accumulate.
    out : ndarray, shape (batch, n_outputs)
        Receives the outputs, in units of the plan's ``output_unit``.
    first_row : int
        Row ``b`` of ``inputs`` draws the noise streams of row ``first_row + b`` of the whole batch.
    parallel_chunks : bool
        The read's column chunks on Numba's threads (the same numbers).

    Returns
    -------
    int
        Drive voltages beyond the DAC's range or NaN.
    """
    return read_product(inputs, session.tables, session.seeds[call], scratch.buffers, scratch.power,
                        scratch.saturated, out, first_row, parallel_chunks)


@numba.njit(cache=True, inline="always")
def cycle_weight(cycle_bits, cycle, dac_top):
    """Digital weight of bit-serial cycle ``cycle``: ``2**(b cycle) (2**b - 1) / top``; its digit ``d``
    drives ``d v_max / (2**b - 1)`` (``b = cycle_bits``, ``top`` the DAC's largest code)."""
    return (2.0 ** (cycle_bits * cycle)) * ((1 << cycle_bits) - 1) / dac_top


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _dac_parallel(inputs, plan, voltages_all, squares_all, power, batch, n_logical):
    """The DAC, once for every logical input, every bit at once; stored band after band as (rows, batch)
    blocks. Returns the drives beyond the range or NaN.

    With nonlinear cells (``k > 0``) each drive ``V`` is stored as the
    current per siemens it gives, ``sinh(k V) / k``; the cells dissipate ``V
    sinh(k V) / k`` per siemens."""
    v_scale, v_limit, dac_step, dac_top = plan.volts_per_input, plan.v_limit, plan.dac_step, plan.dac_top
    k = plan.cell_nonlinearity
    bad = 0
    if k != 0.0:
        for b in range(batch):
            for i in range(n_logical):
                x = inputs[b, i] if i < plan.n_inputs else plan.constant_input
                v, _, out_of_range = dac_one(x * v_scale, v_limit, dac_step, dac_top)
                bad += out_of_range
                u = np.sinh(k * v) / k
                voltages_all[i * batch + b] = u
                squares_all[i * batch + b] = u * u
                power[b, i] += v * u
        return bad
    for b in range(batch):
        # two loops, so that neither holds a conditional load (which would keep it scalar)
        for i in range(min(plan.n_inputs, n_logical)):
            v, _, out_of_range = dac_one(inputs[b, i] * v_scale, v_limit, dac_step, dac_top)
            bad += out_of_range
            voltages_all[i * batch + b] = v
            squares_all[i * batch + b] = v * v  # squared in float64, then stored
            power[b, i] += v * v
        for i in range(plan.n_inputs, n_logical):
            v, _, out_of_range = dac_one(plan.constant_input * v_scale, v_limit, dac_step, dac_top)
            bad += out_of_range
            voltages_all[i * batch + b] = v
            squares_all[i * batch + b] = v * v
            power[b, i] += v * v
    return bad


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _dac_bit_serial(inputs, plan, voltages_all, squares_all, power, batch, n_logical, cycle):
    """The drives of bit-serial cycle ``cycle``: each input's DAC code in sign and magnitude, digit ``cycle``
    of the magnitude (its bits ``b cycle`` .. ``b cycle + b - 1``) driving ``+-d v_max / (2**b - 1)``.

    Accumulating reads (one cycle here) drive the whole code, and their noise
    variance per input is that of every cycle's own noise, weighted as the
    cycles add: ``step^2 sum_k 4^(b k) d_k^2``; every cycle dissipates its
    digit's drive squared. With nonlinear cells (``k > 0``) each cycle's
    drive ``V`` gives ``sinh(k V) / k`` per siemens: an accumulating read
    stores the cycles' weighted sum of it. Returns the drives beyond the
    range or NaN."""
    v_scale, v_limit, dac_step, dac_top = plan.volts_per_input, plan.v_limit, plan.dac_step, plan.dac_top
    k_cell = plan.cell_nonlinearity
    digit_bits = plan.input_cycle_bits
    digit_mask = (1 << digit_bits) - 1
    cycle_step = dac_top * dac_step / digit_mask  # volts of digit 1: v_max / (2**b - 1)
    bad = 0
    for b in range(batch):
        for i in range(n_logical):
            x = inputs[b, i] if i < plan.n_inputs else plan.constant_input
            v, code, out_of_range = dac_one(x * v_scale, v_limit, dac_step, dac_top)
            bad += out_of_range
            magnitude = int(abs(code)) if out_of_range == 0 else 0
            if plan.input_accumulate and k_cell != 0.0:
                signal, noise_weight, dissipated = 0.0, 0.0, 0.0
                for k in range(plan.input_planes):
                    drive = ((magnitude >> (digit_bits * k)) & digit_mask) * cycle_step
                    u = np.sinh(k_cell * drive) / k_cell
                    w = cycle_weight(digit_bits, k, dac_top)
                    signal += w * u
                    noise_weight += (w * u) * (w * u)
                    dissipated += drive * u
                voltages_all[i * batch + b] = -signal if v < 0.0 else signal
                squares_all[i * batch + b] = noise_weight
                power[b, i] += dissipated
            elif plan.input_accumulate:
                variance_weight = 0.0
                digit_squares = 0
                for k in range(plan.input_planes):
                    digit = (magnitude >> (digit_bits * k)) & digit_mask
                    variance_weight += (4.0 ** (digit_bits * k)) * (digit * digit)
                    digit_squares += digit * digit
                voltages_all[i * batch + b] = v
                squares_all[i * batch + b] = dac_step * dac_step * variance_weight
                power[b, i] += cycle_step * cycle_step * digit_squares
            else:
                drive = ((magnitude >> (digit_bits * cycle)) & digit_mask) * cycle_step
                u = drive if k_cell == 0.0 else np.sinh(k_cell * drive) / k_cell
                if v < 0.0:
                    drive, u = -drive, -u
                voltages_all[i * batch + b] = u
                squares_all[i * batch + b] = u * u
                power[b, i] += drive * u
    return bad


@numba.njit(cache=True, nogil=True, parallel=True)
def _read_chunks_parallel(plan, seeds, voltages_all, squares_all, total, current, variance, normals, row_seeds, keys,
                          rows, hits, batch, first_row, weight):
    """Every chunk of a read on Numba's threads (only the loop: each parallel region costs a start)."""
    for c in numba.prange(plan.chunks.shape[0] - 1):
        _read_chunk(plan, seeds, voltages_all, squares_all, total, current, variance, normals, row_seeds[c], keys[c],
                    rows[c], hits[c], batch, first_row, plan.chunks[c], plan.chunks[c + 1], weight)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _convert_columns(plan, current, variance, normals, first_column, total, weight):
    """A read's columns (``current`` etc. shape (columns, batch); band columns from ``first_column``) through
    noise and each column's converter circuit, added into their outputs of ``total`` with their signs and
    ``weight``; returns the saturations.

    :func:`crossbar.circuits.adc.circuit_code_one` with its bits outside and the batch inside (each bit
    decided by :func:`crossbar.circuits.adc.sar_keeps`); a signal saturates when it reaches half an LSB beyond
    an end code (:func:`crossbar.circuits.adc.circuit_end_one`).
    """
    batch = current.shape[1]
    # rows of its own: LLVM vectorises the loops over them better when they can alias nothing
    x, accumulated, code = np.empty(batch), np.empty(batch), np.empty(batch)
    adc_step, adc_top, gain = plan.adc_step, plan.adc_top, plan.adc_gain
    half = adc_top + 1.0
    hits = 0
    for q in range(current.shape[0]):
        column = first_column + q
        converter = plan.column_converter[column]
        weights = plan.converter_weights[converter]
        offset = plan.converter_offsets[converter]
        for b in range(batch):
            i = noisy_current(current[q, b], variance[q, b], normals[q, b], plan.noise)
            x[b] = circuit_signal_one(i, adc_step, gain, offset)
            accumulated[b] = 0.0
            code[b] = 0.0
        place = half
        for bit in range(weights.shape[0] - 1, -1, -1):
            level = weights[bit]
            for b in range(batch):
                trial = accumulated[b] + level
                keep = sar_keeps(x[b], trial, half)
                accumulated[b] = trial if keep else accumulated[b]
                code[b] = code[b] + place if keep else code[b]
            place *= 0.5
        sums = total[plan.column_output[column]]
        sign = plan.column_sign[column]
        for b in range(batch):
            value, hit = circuit_end_one(x[b], code[b] - half, adc_top)
            hits += hit
            sums[b] += sign * (weight * (value * adc_step))
    return hits


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _chunk_products(plan, a, c0, hi, voltages_all, squares_all, cur, var, batch):
    """Band ``a``'s currents and read-noise variances of its columns ``c0..hi`` into ``cur`` and ``var``,
    each (hi - c0, batch), from the drives ``voltages_all`` and their ``squares_all``; the held lines'
    current and variance added (``v_half`` reads)."""
    r0 = plan.band_starts[a]
    rows = plan.band_starts[a + 1] - r0
    m = hi - c0
    off = plan.band_offsets[a]
    voltages = voltages_all[r0 * batch:(r0 + rows) * batch].reshape((rows, batch))
    squares = squares_all[r0 * batch:(r0 + rows) * batch].reshape((rows, batch))
    if batch == 1:  # a vector times the band, row by row (G^T V^T would run its inner loops one turn each)
        block = off + rows * c0  # this chunk's contiguous (rows, m) block
        vector_products(voltages.ravel(), squares.ravel(),
                        plan.signal_rows[block:block + rows * m].reshape((rows, m)),
                        plan.variance_rows[block:block + rows * m].reshape((rows, m)),
                        cur.ravel(), var.ravel(), plan.noise)
    else:
        band_products(plan.signal[off + c0 * rows:off + hi * rows].reshape((m, rows)),
                      plan.variance[off + c0 * rows:off + hi * rows].reshape((m, rows)),
                      voltages, squares, cur, var, plan.noise)
    if plan.bias:  # the held lines' current reaches the converters with the products
        columns = plan.band_columns[a]
        for q in range(m):
            held = plan.column_bias[columns + c0 + q]
            held_variance = plan.column_bias_variance[columns + c0 + q]
            for b in range(batch):
                cur[q, b] = cur[q, b] + held
                var[q, b] = var[q, b] + held_variance


@numba.njit(cache=True)
def _first_run(runs, k0, k1, column):
    """The first of runs ``k0..k1`` (one band's, in column order) that ends after ``column``: a bisection,
    so that a chunk does not walk every run of a wide band."""
    while k0 < k1:
        mid = (k0 + k1) // 2
        if runs[mid, 2] <= column:
            k0 = mid + 1
        else:
            k1 = mid
    return k0


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _read_chunk(plan, seeds, voltages_all, squares_all, total, current_all, variance_all, normals_all, row_seeds, keys,
                row, hits, batch, first_row, c0, c1, weight):
    """Columns ``c0..c1`` of every band, in band order: products, each read's noise and ADC, the sums
    (each converted current times ``weight``, the digital weight of a bit-serial cycle).

    Writes only its own columns of the scratch and its own outputs of ``total``.
    """
    noise, adc_step, adc_top = plan.noise, plan.adc_step, plan.adc_top
    n = c1 - c0
    current = current_all[c0 * batch:c1 * batch].reshape((n, batch))
    variance = variance_all[c0 * batch:c1 * batch].reshape((n, batch))
    normals_chunk = normals_all[c0 * batch:c1 * batch]
    current_flat, variance_flat = current.ravel(), variance.ravel()
    total_flat = total.ravel()
    for k in range(hits.shape[0]):
        hits[k] = 0
    for a in range(plan.band_starts.shape[0] - 1):
        width = plan.band_widths[a]
        if c0 >= width:
            continue
        hi = min(c1, width)
        _chunk_products(plan, a, c0, hi, voltages_all, squares_all, current[:hi - c0], variance[:hi - c0], batch)
        columns = plan.band_columns[a]
        for k in range(_first_run(plan.runs, plan.band_runs[a], plan.band_runs[a + 1], c0), plan.band_runs[a + 1]):
            p0, p1 = plan.runs[k, 1], plan.runs[k, 2]
            if p0 >= hi:  # the band's runs tile its columns in order: none further reaches this chunk
                break
            lo, up = max(p0, c0), min(p1, hi)
            normals = normals_chunk[:(up - lo) * batch].reshape((up - lo, batch))
            if noise:  # this read's streams: row b draws normals col0 + (p - p0) of its stream
                for b in range(batch):
                    row_seeds[b] = row_seed(seeds[k], first_row + b)
                fill_normals_by_counter(row_seeds[:batch], plan.runs[k, 3] + lo - p0, normals, keys[0], keys[1],
                                        row)
            count = 0
            first_output = plan.run_output[k]
            if plan.adc_circuit:  # each column on its own converter
                count += _convert_columns(plan, current[lo - c0:up - c0], variance[lo - c0:up - c0], normals,
                                          columns + lo, total, weight)
            elif first_output >= 0:  # columns onto consecutive outputs, sign +1: one long contiguous loop
                first, last = (lo - c0) * batch, (up - c0) * batch
                i_read, var_read = current_flat[first:last], variance_flat[first:last]
                z_read = normals.ravel()
                o = (first_output + lo - p0) * batch
                sum_read = total_flat[o:o + last - first]
                for e in range(last - first):
                    value, hit = convert_one(i_read[e], var_read[e], z_read[e], noise, adc_step, adc_top)
                    sum_read[e] += weight * value
                    count += hit
            else:
                for p in range(lo, up):
                    sum_p = total[plan.column_output[columns + p]]
                    sign = plan.column_sign[columns + p]
                    for b in range(batch):
                        value, hit = convert_one(current[p - c0, b], variance[p - c0, b], normals[p - lo, b], noise,
                                                 adc_step, adc_top)
                        sum_p[b] += sign * (weight * value)
                        count += hit
            hits[k] += count


def read_product_reference(inputs, plan, seeds, first_row=0, cell=None, adc_codes=None):
    """numpy twin of :func:`read_product`: the same numbers, bit for bit, from the same streams.

    It also reads what the kernel cannot, the registered extensions
    (:class:`crossbar.read.extensions.ReadExtensions`): ``cell``, a nonlinear
    cell I-V law's ``f(V)`` (amperes per siemens at ``V`` volts) in place of
    the tables' ``sinh``, and ``adc_codes``, an ADC architecture's compute step
    (:meth:`crossbar.circuits.adc_architectures.AdcArchitecture.codes`) in
    place of the built-ins' levels. Both ``None``: the kernel's physics.

    Returns
    -------
    out : ndarray, shape (batch, n_out)
    saturated : ndarray of int64, shape (n_reads,)
    n_bad : int
    power : ndarray, shape (batch, n_logical)
        This call's ``V_bi^2`` per batch row and logical input.
    """
    batch = inputs.shape[0]
    n_logical = int(plan.band_starts[-1])
    drive = np.full((batch, n_logical), plan.constant_input)
    drive[:, :plan.n_inputs] = inputs[:, :plan.n_inputs]
    v, codes, beyond = dac_reference(drive * plan.volts_per_input, plan.v_limit, plan.dac_step, plan.dac_top)
    bad = int(np.count_nonzero(beyond))
    total = np.zeros((plan.n_out, batch))
    saturated = np.zeros(plan.runs.shape[0], dtype=np.int64)
    planes = int(plan.input_planes)
    k_cell = float(plan.cell_nonlinearity)
    bends = k_cell != 0.0 or cell is not None
    if cell is None:
        def cell(drive):  # current per siemens of a cell at ``drive`` volts
            return drive if k_cell == 0.0 else np.sinh(k_cell * drive) / k_cell

    if planes == 0:
        u = cell(v)
        power = 0.0 + v * u  # from zero, as the kernel accumulates
        _reference_cycle(plan, u, u * u, seeds, first_row, 1.0, total, saturated, adc_codes)
    else:
        digit_bits = int(plan.input_cycle_bits)
        digit_mask = (1 << digit_bits) - 1
        cycle_step = plan.dac_top * plan.dac_step / digit_mask
        magnitude = np.where(beyond, 0, np.abs(codes)).astype(np.int64)
        digits = [(magnitude >> (digit_bits * k)) & digit_mask for k in range(planes)]
        power = np.zeros(v.shape)
        if plan.input_accumulate and bends:
            signal, noise_weight = np.zeros(v.shape), np.zeros(v.shape)
            for k in range(planes):
                drive = digits[k] * cycle_step
                u = cell(drive)
                w = cycle_weight(digit_bits, k, plan.dac_top)
                signal = signal + w * u
                noise_weight = noise_weight + (w * u) * (w * u)
                power = power + drive * u
            _reference_cycle(plan, np.where(v < 0.0, -signal, signal), noise_weight, seeds, first_row,
                             1.0 / plan.cycle_gain, total, saturated, adc_codes)
        elif plan.input_accumulate:
            weight = np.zeros(v.shape)
            for k in range(planes):
                weight = weight + (4.0 ** (digit_bits * k)) * (digits[k] * digits[k])
            power = power + cycle_step * cycle_step * sum(d * d for d in digits)
            _reference_cycle(plan, v, plan.dac_step * plan.dac_step * weight, seeds, first_row, 1.0, total,
                             saturated, adc_codes)
        else:
            for k in range(planes):
                sign = np.where(v < 0.0, -1.0, 1.0)
                drive = sign * (digits[k] * cycle_step)
                u = sign * cell(digits[k] * cycle_step)
                power = power + drive * u
                weight = cycle_weight(digit_bits, k, plan.dac_top)
                _reference_cycle(plan, u, u * u, seeds, first_row + k * PLANE_STRIDE,
                                 weight if plan.cycle_gain == 1.0 else weight / plan.cycle_gain, total, saturated,
                                 adc_codes)
    unit = plan.output_units[:, None] if plan.per_output_unit else plan.output_unit
    out = (total / unit).T.copy()
    if plan.input_sum:
        volts = np.zeros(batch)
        for i in range(n_logical):  # in the kernel's order
            volts = volts + v[:, i]
        out -= plan.input_sum_weights[None, :] * volts[:, None]
    return out, saturated, bad, power


def _reference_cycle(plan, v, squares, seeds, first_row, weight, total, saturated, adc_codes=None):
    """One cycle of :func:`read_product_reference`: drives ``v`` (batch, n_logical), V, and the noise's
    ``squares``, V^2; adds ``weight`` times each converted current into ``total`` (``adc_codes``: a registered
    ADC architecture's compute step, else the built-ins')."""
    batch = v.shape[0]
    for a in range(len(plan.band_starts) - 1):
        r0, r1 = plan.band_starts[a], plan.band_starts[a + 1]
        rows, width = r1 - r0, plan.band_widths[a]
        start, stop = plan.band_offsets[a], plan.band_offsets[a + 1]
        g = plan.signal[start:stop].reshape(width, rows)
        s = plan.variance[start:stop].reshape(width, rows)
        band_v = v[:, r0:r1].T.astype(plan.signal.dtype)  # (rows, batch)
        band_q = squares[:, r0:r1].T.astype(np.float32)
        current = np.zeros((width, batch), dtype=plan.signal.dtype)
        variance = np.zeros((width, batch), dtype=np.float32)
        for i in range(rows):  # the chains of the kernel, row by row
            if plan.signal.dtype == np.float32:
                current = fma32_reference(g[:, i:i + 1], band_v[i], current)
            else:
                current = current + g[:, i:i + 1] * band_v[i]
            if plan.noise:
                variance = fma32_reference(s[:, i:i + 1], band_q[i], variance)
        if plan.bias:  # as the kernel: added in float64, stored in the chain's precision
            columns = plan.band_columns[a] + np.arange(width)
            current = (current.astype(np.float64) + plan.column_bias[columns][:, None]).astype(current.dtype)
            variance = variance + plan.column_bias_variance[columns][:, None]
        current = current.astype(np.float64)
        for k in range(plan.band_runs[a], plan.band_runs[a + 1]):
            _, p0, p1, col0 = plan.runs[k]
            normals = None
            if plan.noise:
                streams = np.array([row_seed(np.uint64(seeds[k]), first_row + b) for b in range(batch)],
                                   dtype=np.uint64)
                normals = standard_normals(streams, p1 - p0, col0).T
            i = noisy_current_reference(current[p0:p1], variance[p0:p1], normals, plan.noise)
            columns = plan.band_columns[a]
            if plan.adc_circuit:
                converters = plan.column_converter[columns + p0:columns + p1]
                code, hit = circuit_convert_reference(i, plan.adc_step, plan.adc_gain,
                                                      plan.converter_offsets[converters][:, None],
                                                      plan.converter_weights[converters][:, None, :],
                                                      plan.adc_top + 1.0,
                                                      circuit_codes_reference if adc_codes is None else adc_codes)
                saturated[k] += int(np.count_nonzero(hit))
                i = code * plan.adc_step
            else:
                i, hit = adc_reference(i, plan.adc_step, plan.adc_top)
                saturated[k] += int(np.count_nonzero(hit))
            for p in range(p0, p1):
                total[plan.column_output[columns + p]] += plan.column_sign[columns + p] * (weight * i[p - p0])
    if plan.bias:  # the held lines' known current, taken off as the kernel does after each cycle
        total -= weight * plan.output_bias[:, None]
