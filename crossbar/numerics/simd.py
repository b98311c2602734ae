"""Register-blocked float32 products of the read path: ``G V`` and ``S V^2`` in one pass.

A noisy read of a band needs two products with the same shape: the column
currents ``I^T = G^T V^T`` and the read-noise variances ``Var^T = S^T Q^T``
(``S = s^2 G^2``, ``Q = V^2``), each (columns, batch) with a short inner
dimension (the band's rows, at most an array's 128). OpenBLAS does them as two
calls, each packing its operands; on a CPU with 512-bit vectors it may not use
them at all (OpenBLAS 0.3.30 runs its AVX2 kernels on AMD Zen 5). Numba's loop
vectoriser does not block for registers. :func:`paired_products` does.

Its block is written in LLVM IR (a Numba ``intrinsic``): :data:`BLOCK_ROWS`
output rows by :data:`BLOCK_COLUMNS` batch columns of each product (4 x 32 with
512-bit vectors, 3 x 16 with AVX2), every accumulator held in a register over
the whole inner dimension, each step one load of a row of ``V^T`` and of
``Q^T`` and a broadcast of each ``G^T`` and ``S^T`` element. The loads are
never masked (masked loads ran three times slower on AMD Zen 1): batch columns
beyond the last whole block are computed in a zero-padded block. Measured at
1024 x 64 x 32, one core: 120 to 127 G multiply-adds/s on AMD Zen 5 (AVX-512)
against 54 for the two OpenBLAS calls; 18 on AMD Zen 1 (AVX2) against 7 to 10.

Every output element is the same chain of fused multiply-adds, ``acc =
fma(a_i, b_i, acc)`` for ``i = 0, 1, ...`` from zero, whichever block or part of
a batch computes it: the numbers do not depend on the blocking, the batch
split, the vector width or the machine, and OpenBLAS's sums, which depend on
its kernels and its thread count, are never used. :func:`paired_products_reference`
computes that chain in numpy with float64 products, and the tests hold the
kernel to it bit for bit on their data.

Without an FMA instruction (x86-64 before Haswell, or ``NUMBA_CPU_NAME=generic``
for caches shared between machines) LLVM's ``llvm.fma`` becomes a call of
libm's correctly rounded ``fmaf``: the same bits as everywhere else (compiled
as plain x86-64 code, the products matched), but about 34 times slower than
OpenBLAS (as reported on such a build). The bits are kept rather than the
speed: there is no unfused fallback, and ``crossbar.numerics.simd.HAS_FMA`` says which
case a run is in.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _host_has_wide_vectors() -> bool:
    """Whether the code Numba generates here may use 512-bit float vectors (``avx512f``).

    Numba's target: this CPU, or ``NUMBA_CPU_NAME`` and ``NUMBA_CPU_FEATURES``
    when set (a named CPU without its features, e.g. ``generic`` for caches
    shared between machines, counts as without).
    """
    features = numba.config.CPU_FEATURES
    if features is None:
        if numba.config.CPU_NAME is not None:
            return False
        features = llvm_binding.get_host_cpu_features().flatten()
    return "+avx512f" in features.split(",")


def _host_has_fma() -> bool:
    """Whether the code Numba generates here has a fused multiply-add instruction (``fma``)."""
    features = numba.config.CPU_FEATURES
    if features is None:
        if numba.config.CPU_NAME is not None:
            return numba.config.CPU_NAME not in ("generic", "x86-64")
        features = llvm_binding.get_host_cpu_features().flatten()
    return "+fma" in features.split(",")


WIDE_VECTORS = _host_has_wide_vectors()
HAS_FMA = _host_has_fma()
"""False: every fused multiply-add of the products is a libm call (the same bits, much slower)."""
LANES = 16 if WIDE_VECTORS else 8
"""float32 lanes of one vector."""
BLOCK_ROWS = 4 if WIDE_VECTORS else 3
"""Output rows (physical columns) of a block: 16 accumulators of both products in 32 registers (AVX-512),
or 12 in 16 (AVX2). Measured at 1024 x 64 x 32 (see docs/performance.md): 4 rows x 32 columns on a Zen 5
core, 120 to 127 G multiply-adds/s; 3 rows x 16 columns on a Zen 1 core, 18 (6 x 8 reached 13)."""
BLOCK_VECTORS = 2
"""Vectors of batch columns in a block."""
BLOCK_COLUMNS = BLOCK_VECTORS * LANES
"""Batch columns of a block: 32 (512-bit) or 16 (AVX2)."""


def _paired_block(rows: int, vectors: int, lanes: int):
    """An intrinsic computing ``rows`` x ``vectors * lanes`` outputs of both products.

    ``block(gt, st, v, q, cur, var, p0, b0)``: for output rows ``p0 .. p0 + rows``
    and the whole batch columns ``b0 .. b0 + vectors * lanes``,
    ``cur[p, b] = sum_i gt[p, i] v[i, b]`` and ``var[p, b] = sum_i st[p, i] q[i, b]``,
    each a chain of fused multiply-adds in ``i`` order. All arrays float32,
    C-contiguous rows. No masks: masked loads (``vmaskmovps``) ran three times
    slower on AMD Zen 1; a batch's last, partial column block is padded instead.
    """
    @intrinsic
    def block(typingctx, gt, st, v, q, cur, var, p0, b0):
        def codegen(context, builder, signature, args):
            f32, i32, i64 = ir.FloatType(), ir.IntType(32), ir.IntType(64)
            vec = ir.VectorType(f32, lanes)
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                                 f"llvm.fma.v{lanes}f32")
            g_arr, s_arr, v_arr, q_arr, c_arr, var_arr = [
                context.make_array(t)(context, builder, a) for t, a in zip(signature.args[:6], args[:6])]
            first_row, first_column = args[6], args[7]
            inner = builder.extract_value(g_arr.shape, 1)
            four = ir.Constant(i64, 4)

            def row_address(array, row):  # integer address of array[row, 0]
                stride = builder.extract_value(array.strides, 0)
                return builder.add(builder.ptrtoint(array.data, i64), builder.mul(row, stride))

            def pointer(address, element, to):
                return builder.inttoptr(builder.add(address, builder.mul(element, four)), to.as_pointer())

            def splat(value, vector_type, index_type):
                undefined = ir.Constant(vector_type, ir.Undefined)
                one = builder.insert_element(undefined, value, ir.Constant(i32, 0))
                return builder.shuffle_vector(one, undefined, ir.Constant(ir.VectorType(index_type, lanes),
                                                                          [0] * lanes))

            columns = [builder.add(first_column, ir.Constant(i64, k * lanes)) for k in range(vectors)]
            zero = ir.Constant(vec, [0.0] * lanes)
            # accumulators in stack slots, which LLVM's mem2reg turns into registers
            acc_c = [[cgutils.alloca_once_value(builder, zero) for _ in range(vectors)] for _ in range(rows)]
            acc_v = [[cgutils.alloca_once_value(builder, zero) for _ in range(vectors)] for _ in range(rows)]
            g_rows = [row_address(g_arr, builder.add(first_row, ir.Constant(i64, r))) for r in range(rows)]
            s_rows = [row_address(s_arr, builder.add(first_row, ir.Constant(i64, r))) for r in range(rows)]
            with cgutils.for_range(builder, inner) as loop:
                i = loop.index
                v_row, q_row = row_address(v_arr, i), row_address(q_arr, i)
                vs = [builder.load(pointer(v_row, columns[k], vec), align=4) for k in range(vectors)]
                qs = [builder.load(pointer(q_row, columns[k], vec), align=4) for k in range(vectors)]
                for r in range(rows):
                    g = splat(builder.load(pointer(g_rows[r], i, f32), align=4), vec, i32)
                    s = splat(builder.load(pointer(s_rows[r], i, f32), align=4), vec, i32)
                    for k in range(vectors):
                        builder.store(builder.call(fma, [g, vs[k], builder.load(acc_c[r][k])]), acc_c[r][k])
                        builder.store(builder.call(fma, [s, qs[k], builder.load(acc_v[r][k])]), acc_v[r][k])
            for r in range(rows):
                c_row = row_address(c_arr, builder.add(first_row, ir.Constant(i64, r)))
                var_row = row_address(var_arr, builder.add(first_row, ir.Constant(i64, r)))
                for k in range(vectors):
                    builder.store(builder.load(acc_c[r][k]), pointer(c_row, columns[k], vec), align=4)
                    builder.store(builder.load(acc_v[r][k]), pointer(var_row, columns[k], vec), align=4)
            return context.get_dummy_value()

        for name, t in zip(("gt", "st", "v", "q", "cur", "var"), (gt, st, v, q, cur, var)):
            if not (isinstance(t, types.Array) and t.ndim == 2 and t.dtype == types.float32 and t.layout == "C"):
                raise numba.TypingError(f"{name} must be a 2-D C-contiguous float32 array, got {t}")
        return types.void(gt, st, v, q, cur, var, types.int64, types.int64), codegen

    return block


_block_full = _paired_block(BLOCK_ROWS, BLOCK_VECTORS, LANES)
_block_row = _paired_block(1, BLOCK_VECTORS, LANES)


@numba.njit(cache=True)
def paired_products(gt, st, v, q, cur, var):
    """``cur = gt @ v`` and ``var = st @ q`` in float32, register-blocked (see the module's notes).

    Parameters
    ----------
    gt, st : ndarray of float32, shape (P, K), C order
        The band column by column: conductances ``G^T`` (siemens) and the
        read-noise variance per unit V^2 ``S^T`` (S^2).
    v, q : ndarray of float32, shape (K, B), C order
        Drive voltages ``V^T`` (volts) and their squares (V^2).
    cur, var : ndarray of float32, shape (P, B), C order
        Receive the currents (amperes) and the variances (A^2).
    """
    n_out, inner = gt.shape
    batch = v.shape[1]
    if (st.shape[0] != n_out or st.shape[1] != inner or v.shape[0] != inner or q.shape[0] != inner
            or q.shape[1] != batch or cur.shape[0] != n_out or cur.shape[1] != batch
            or var.shape[0] != n_out or var.shape[1] != batch):
        raise ValueError("paired_products: shapes do not match (gt, st (P, K); v, q (K, B); cur, var (P, B))")
    whole_rows = n_out - n_out % BLOCK_ROWS
    whole_columns = batch - batch % BLOCK_COLUMNS
    for b0 in range(0, whole_columns, BLOCK_COLUMNS):
        _blocks(gt, st, v, q, cur, var, b0, whole_rows)
    tail = batch - whole_columns
    if tail:  # the last columns, padded with zeros to a whole block (their chains are the same)
        v_pad = np.zeros((inner, BLOCK_COLUMNS), dtype=np.float32)
        q_pad = np.zeros((inner, BLOCK_COLUMNS), dtype=np.float32)
        v_pad[:, :tail] = v[:, whole_columns:]
        q_pad[:, :tail] = q[:, whole_columns:]
        cur_pad = np.empty((n_out, BLOCK_COLUMNS), dtype=np.float32)
        var_pad = np.empty((n_out, BLOCK_COLUMNS), dtype=np.float32)
        _blocks(gt, st, v_pad, q_pad, cur_pad, var_pad, 0, whole_rows)
        cur[:, whole_columns:] = cur_pad[:, :tail]
        var[:, whole_columns:] = var_pad[:, :tail]


@numba.njit(cache=True)
def _blocks(gt, st, v, q, cur, var, b0, whole_rows):
    """One column block of both products: whole row blocks, then the remaining rows one by one."""
    for p0 in range(0, whole_rows, BLOCK_ROWS):
        _block_full(gt, st, v, q, cur, var, p0, b0)
    for p0 in range(whole_rows, gt.shape[0]):
        _block_row(gt, st, v, q, cur, var, p0, b0)


def paired_products_reference(gt, st, v, q):
    """numpy reference of :func:`paired_products`: the same chains of multiply-adds, (cur, var).

    Each step is ``float32(float64(a) * float64(b) + float64(acc))``: the
    product is exact in float64 and the sum is rounded twice (to float64, then
    to float32), which gives the fused multiply-add's single rounding except
    where the first rounding lands exactly halfway between two float32
    numbers (about once in 2^29 steps, then one unit in the last place).
    """
    def chain(a, b):
        out = np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
        for i in range(a.shape[1]):
            out = (a[:, i:i + 1].astype(np.float64) * b[i].astype(np.float64) + out).astype(np.float32)
        return out
    return chain(gt, v), chain(st, q)
