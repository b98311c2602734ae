"""Threads of the compiled hardware layer, with the same numbers whatever the count.

Two ways to fill the cores, chosen by the work:

- a batch of at least :data:`MIN_PART_ROWS` rows a thread is cut into parts of
  rows (:func:`batch_parts`), each a whole call of the compiled layer
  (:func:`lstm.kernels.hardware_lstm_forward`, which releases the GIL) on its
  own Python thread: no step waits for another thread;
- a smaller batch (one sequence, say) runs in one call whose reads are cut
  into column chunks on Numba's threads (:func:`crossbar.read.kernels.read_product`).

The numbers depend on neither: each batch row draws its noise from its own
streams, each chunk takes every band in band order, and each product element is
one chain in row order, with no BLAS (tested bit for bit on 1 to 4 threads).

``XBAR_THREADS`` in the environment sets the default thread count (the sweep
sets 1 in its worker processes, which already fill the cores); otherwise every
core this process may use.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import Callable, Sequence, Tuple

MIN_PART_ROWS = 16
"""Fewest batch rows of a part: with fewer, the per-call overhead costs more than a core gains."""
MIN_PARALLEL_WORK = 2_000_000
"""Multiply-adds of a whole call below which it stays in one part (handing a part to a thread costs
about 0.1 ms; see docs/performance.md)."""


def check_threads(threads, field: str = "threads") -> int:
    """``threads`` as an int >= 1, else ValueError naming ``field``."""
    try:
        n = int(threads)
        ok = n == float(threads) and n >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{field}={threads!r} is not allowed; a whole number of threads >= 1 is required")
    return n


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """``XBAR_THREADS`` if set, else the cores this process may use."""
    text = os.environ.get("XBAR_THREADS")
    if text is not None:
        return check_threads(text, "XBAR_THREADS")
    return max(1, usable_cores())


@contextmanager
def numba_threads(threads: int):
    """Run the block's compiled reads on ``threads`` threads (at most Numba's pool), then restore."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(check_threads(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


@lru_cache(maxsize=256)
def batch_parts(batch: int, work_per_row: int, threads: int) -> Tuple[Tuple[int, int], ...]:
    """The (start, stop) rows of each part of a batch: one part a thread, each of at least
    :data:`MIN_PART_ROWS` rows, and one part for less than :data:`MIN_PARALLEL_WORK` multiply-adds.

    Parameters
    ----------
    batch : int
        Rows of the batch.
    work_per_row : int
        Multiply-adds of one row over the whole call.
    threads : int
        Threads available.
    """
    if batch < 1:
        raise ValueError(f"batch={batch!r} is not allowed; at least 1 row is required")
    n = max(1, min(check_threads(threads), batch // MIN_PART_ROWS))
    if batch * work_per_row < MIN_PARALLEL_WORK:
        n = 1
    edges = [batch * k // n for k in range(n + 1)]
    return tuple(zip(edges[:-1], edges[1:]))


_pool = None


def _executor(workers: int) -> ThreadPoolExecutor:
    """The shared pool, grown to at least ``workers`` threads."""
    global _pool
    if _pool is None or _pool._max_workers < workers:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(workers, thread_name_prefix="xbar-part")
    return _pool


def run_parts(function: Callable, parts: Sequence) -> list:
    """``[function(p) for p in parts]``, all at once on threads; results in part order.

    The calling thread runs the first part itself.
    """
    if len(parts) == 1:
        return [function(parts[0])]
    pool = _executor(len(parts) - 1)
    futures = [pool.submit(function, p) for p in parts[1:]]
    first = function(parts[0])
    return [first] + [f.result() for f in futures]
