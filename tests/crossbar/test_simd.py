"""The register-blocked paired products against their numpy chain of multiply-adds."""

import numba
import numpy as np
import pytest

from crossbar.numerics.simd import BLOCK_COLUMNS, BLOCK_ROWS, paired_products, paired_products_reference


def _operands(rng, n_out, inner, batch):
    gt = rng.standard_normal((n_out, inner)).astype(np.float32)
    st = rng.uniform(0.0, 1.0, (n_out, inner)).astype(np.float32)
    v = rng.standard_normal((inner, batch)).astype(np.float32)
    return gt, st, v, v * v


def _run(gt, st, v, q):
    cur = np.full((gt.shape[0], v.shape[1]), np.nan, dtype=np.float32)
    var = cur.copy()
    paired_products(gt, st, v, q, cur, var)
    return cur, var


# whole blocks, row and column remainders, fewer columns than a vector, one inner row, an array's 128 rows
@pytest.mark.parametrize("shape", [(64, 64, 32), (13, 7, 5), (1024, 64, 33), (9, 1, 70), (6, 128, 17), (1, 3, 1)])
def test_equals_the_numpy_chain_bit_for_bit(rng, shape):
    gt, st, v, q = _operands(rng, *shape)
    cur, var = _run(gt, st, v, q)
    ref_cur, ref_var = paired_products_reference(gt, st, v, q)
    np.testing.assert_array_equal(cur, ref_cur)
    np.testing.assert_array_equal(var, ref_var)
    # and the chains are the products, to float32's rounding of a sum of |terms|
    bound = 4 * shape[1] * np.finfo(np.float32).eps * (np.abs(gt.astype(np.float64)) @ np.abs(v))
    assert np.all(np.abs(cur - gt.astype(np.float64) @ v) <= bound)


def test_numbers_do_not_depend_on_the_blocking(rng):
    """A batch's columns computed in parts, or the outputs' rows from another offset, give the same bits."""
    gt, st, v, q = _operands(rng, 2 * BLOCK_ROWS + 3, 40, 2 * BLOCK_COLUMNS + 7)
    cur, var = _run(gt, st, v, q)
    for b0, b1 in [(0, 1), (5, 21), (BLOCK_COLUMNS - 1, BLOCK_COLUMNS + 20), (40, v.shape[1])]:
        part_cur, part_var = _run(gt, st, np.ascontiguousarray(v[:, b0:b1]), np.ascontiguousarray(q[:, b0:b1]))
        np.testing.assert_array_equal(part_cur, cur[:, b0:b1])
        np.testing.assert_array_equal(part_var, var[:, b0:b1])
    rows_cur, _ = _run(np.ascontiguousarray(gt[1:]), np.ascontiguousarray(st[1:]), v, q)
    np.testing.assert_array_equal(rows_cur, cur[1:])


def test_padded_columns_leave_the_memory_beyond_alone(rng):
    """The last, partial column block is padded: nothing past the batch's last column is written."""
    gt, st, v, q = _operands(rng, 5, 9, 37)
    guard = 2 * BLOCK_COLUMNS
    buffers = [np.full(5 * 37 + guard, 7.0, dtype=np.float32) for _ in range(2)]
    cur, var = (b[:5 * 37].reshape(5, 37) for b in buffers)
    paired_products(gt, st, v, q, cur, var)
    for b in buffers:
        np.testing.assert_array_equal(b[5 * 37:], 7.0)
    np.testing.assert_array_equal(cur, paired_products_reference(gt, st, v, q)[0])


def test_bad_shapes_and_types_are_refused(rng):
    gt, st, v, q = _operands(rng, 8, 4, 6)
    cur, var = np.empty((8, 6), np.float32), np.empty((8, 6), np.float32)
    with pytest.raises(ValueError, match="shapes"):
        paired_products(gt, st, v[:3].copy(), q, cur, var)
    with pytest.raises(ValueError, match="shapes"):
        paired_products(gt, st, v, q, cur[:, :5].copy(), var)
    with pytest.raises(numba.TypingError, match="float32"):
        paired_products(gt.astype(np.float64), st, v, q, cur, var)
    with pytest.raises(numba.TypingError, match="C-contiguous"):  # a strided view would be read wrongly
        paired_products(gt, st, np.empty((4, 12), np.float32)[:, ::2], q, cur, var)


def test_block_shapes_and_vector_widths_give_the_same_bits(rng):
    """What makes the numbers the same on every machine: AVX2's blocks, AVX-512's and SSE's agree bit for bit."""
    from crossbar.numerics.simd import _paired_block

    gt, st, v, q = _operands(rng, 30, 70, 40)
    expected = _run(gt, st, v, q)
    for rows, vectors, lanes in [(4, 2, 16), (3, 2, 8), (6, 1, 8), (1, 3, 4)]:
        block = _paired_block(rows, vectors, lanes)

        @numba.njit
        def drive(gt, st, v, q, cur, var):
            for b0 in range(0, v.shape[1] - vectors * lanes + 1, vectors * lanes):
                for p0 in range(0, gt.shape[0] - rows + 1, rows):
                    block(gt, st, v, q, cur, var, p0, b0)

        cur, var = np.full_like(expected[0], np.nan), np.full_like(expected[1], np.nan)
        drive(gt, st, v, q, cur, var)  # whole blocks only: of 4 rows, the last 2 of 30 stay as set
        n, m = 30 - 30 % rows, 40 - 40 % (vectors * lanes)
        assert m > 0
        np.testing.assert_array_equal(cur[:n, :m], expected[0][:n, :m])
        np.testing.assert_array_equal(var[:n, :m], expected[1][:n, :m])
        assert np.isnan(cur[:, m:]).all()


def test_target_features_are_read_from_numba_config(monkeypatch):
    """FMA and 512-bit vectors as Numba will compile: the host, or NUMBA_CPU_NAME / NUMBA_CPU_FEATURES."""
    import numba

    from crossbar.numerics import simd

    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+avx,+avx2,-avx512f,+fma")
    assert simd._host_has_fma() and not simd._host_has_wide_vectors()
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+sse2,-fma")
    assert not simd._host_has_fma()
    monkeypatch.setattr(numba.config, "CPU_FEATURES", None)
    monkeypatch.setattr(numba.config, "CPU_NAME", "generic")
    assert not simd._host_has_fma() and not simd._host_has_wide_vectors()
