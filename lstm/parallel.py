"""A batch's parts on threads, with the same numbers whatever the thread count.

Rows of a batch are independent in a forward pass, and the compiled hardware
layer (:func:`lstm.kernels.hardware_lstm_forward`) releases the GIL, so the
parts of a batch can run on two cores at once. The numbers do not depend on
how many threads run them:

- the parts depend on the batch size and the work only (:func:`batch_parts`),
  never on the threads: each part is the same call whether it runs alone or
  beside another;
- each row draws its read noise from its own streams (``first_row``);
- the read's products call no BLAS (whose sums depend on its thread count):
  every element is one chain in row order (see :mod:`crossbar.read_kernels`).

``XBAR_THREADS`` in the environment sets the default thread count (the sweep
sets 1 in its worker processes, which already fill the cores).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Callable, Sequence, Tuple

MIN_PART_ROWS = 16
"""Fewer rows per part cost more in per-call overhead than a second core gains."""
MIN_PARALLEL_WORK = 2_000_000
"""Multiply-adds of a whole call below which it stays in one part: handing a part to a thread costs
about 0.1 ms (measured: 1x15 at batch 32 over 12 steps, 0.39 M multiply-adds, went from 0.38 to 0.82 ms
in two parts; 50x14 at batch 32 over 50 steps, 5.8 M, from 2.9 to 1.9 ms)."""
MAX_PARTS = 2
"""Parts of one batch. Fixed, not the machine's core count, so that the numbers stay the same everywhere.

Measured on 2 cores: 64x64 at batch 256 took 54 ms in 2 parts and 62 ms in 8."""
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


def default_threads() -> int:
    """``XBAR_THREADS`` if set, else the cores this process may use (at most :data:`MAX_PARTS`)."""
    text = os.environ.get("XBAR_THREADS")
    if text is not None:
        return check_threads(text, "XBAR_THREADS")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_PARTS, cores))


@lru_cache(maxsize=256)
def batch_parts(batch: int, work_per_row: int) -> Tuple[Tuple[int, int], ...]:
    """The (start, stop) rows of each part of a batch.

    Depends on the work only, never on the threads: ``batch`` rows, each
    costing ``work_per_row`` multiply-adds.
    """
    if batch < 1:
        raise ValueError(f"batch={batch!r} is not allowed; at least 1 row is required")
    n = max(1, min(MAX_PARTS, batch // MIN_PART_ROWS))
    if batch * work_per_row < MIN_PARALLEL_WORK:
        n = 1
    edges = [batch * k // n for k in range(n + 1)]
    return tuple(zip(edges[:-1], edges[1:]))


_pool = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(MAX_PARTS - 1, thread_name_prefix="xbar-part")
    return _pool


def run_parts(function: Callable, parts: Sequence, threads: int) -> list:
    """``[function(p) for p in parts]``, up to ``threads`` at a time; results in part order.

    The calling thread runs the first part itself.
    """
    threads = check_threads(threads)
    if threads == 1 or len(parts) == 1:
        return [function(p) for p in parts]
    pool = _executor()
    results = [None] * len(parts)
    rest = list(range(1, len(parts)))
    futures = {k: pool.submit(function, parts[k]) for k in rest[:threads - 1]}
    results[0] = function(parts[0])
    for k in rest:
        results[k] = futures.pop(k).result() if k in futures else function(parts[k])
    return results

