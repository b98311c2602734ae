"""Where a read may be cut into column chunks that Numba's threads compute in parallel (the numbers do not
depend on the cuts)."""

from __future__ import annotations

import numba
import numpy as np

from crossbar.read.kernels import PARALLEL_WORK

CHUNK_COLUMNS = 24
"""Fewest columns a parallel chunk of a read takes (a multiple of the AVX2 and AVX-512 blocks' rows)."""
CHUNKS = 64
"""Chunks a read is cut into at most; the numbers do not depend on the count."""
CHUNKS_PER_THREAD = 4
"""Chunks a read is cut into for each thread of Numba's pool (``NUMBA_NUM_THREADS``, the cores by
default): enough to even out the threads, few enough that a chunk's fixed costs (its views of every band,
the starts of its noise streams) stay small beside its products."""
CHUNK_WORK = PARALLEL_WORK
"""Multiply-adds of one input vector (both products) below which a read stays one chunk: it would run its
chunks on one thread anyway, and each chunk costs a start of its noise streams."""


def chunk_count() -> int:
    """Chunks a large read is cut into on this machine (:data:`CHUNKS_PER_THREAD` a thread, at most
    :data:`CHUNKS`)."""
    return max(1, min(CHUNKS, CHUNKS_PER_THREAD * numba.config.NUMBA_NUM_THREADS))


def _chunks(band_widths, column_output, column_sign, band_columns, multiply_adds) -> np.ndarray:
    """Column ranges a read can be computed in, in parallel: cut only where no output spans the cut.

    A chunk takes every band, so the bands must map their columns alike (as the
    row tiles of a matrix do); otherwise the read is one chunk, as is a read of
    less than :data:`CHUNK_WORK` multiply-adds a vector.
    """
    width = max(band_widths)
    if 2 * multiply_adds < CHUNK_WORK:
        return np.array([0, width], dtype=np.int64)
    outputs = [tuple(column_output[band_columns[a]:band_columns[a + 1]]) for a in range(len(band_widths))]
    signs = [tuple(column_sign[band_columns[a]:band_columns[a + 1]]) for a in range(len(band_widths))]
    if len(set(band_widths)) != 1 or len(set(outputs)) != 1 or len(set(signs)) != 1:
        return np.array([0, width], dtype=np.int64)
    mapping = outputs[0]
    # a column may start a chunk where no output of the columns before it comes again
    last_use = {}
    for p, o in enumerate(mapping):
        last_use[o] = p
    allowed, reach = [], 0
    for p in range(1, width):
        reach = max(reach, last_use[mapping[p - 1]])
        if reach < p:
            allowed.append(p)
    size = max(CHUNK_COLUMNS, -(-width // chunk_count()))
    cuts, last = [0], 0
    for p in allowed:
        if p - last >= size and width - p >= size // 2:
            cuts.append(p)
            last = p
    return np.array(cuts + [width], dtype=np.int64)
