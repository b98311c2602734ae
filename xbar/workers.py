"""Warm worker processes that die with their parent and stop at once on Ctrl-C.

:class:`WorkerPool` starts ``n`` processes (the ``spawn`` method, so they are
fresh interpreters on every platform). Each imports the project and loads its
compiled kernels once, then takes items from one shared queue until the
queue ends: a sweep pays the start-up once per worker, not once per point,
and a worker that finishes early takes the next item (the caller puts the
longest items first).

Workers never outlive the parent:

- they ignore SIGINT, so a Ctrl-C in a terminal (sent to the whole process
  group) reaches the parent only, which stops them itself;
- each runs a watchdog thread that ends the process when its parent is gone,
  also after a SIGKILL of the parent, which no handler sees (the parent id
  changes when the process is re-parented);
- the parent terminates, then kills, every worker when it leaves the pool,
  whether the items are done, an error was raised or it was interrupted.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Sequence, Tuple

WATCHDOG_PERIOD_S = 0.2
"""How often (s) a worker checks that its parent is still there."""


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(3)  # the parent is gone: no cleanup can matter, nothing may keep running
        time.sleep(WATCHDOG_PERIOD_S)


_stop_requested = False


def stop_requested() -> bool:
    """Whether this process is a worker told to stop (an error raised now is the stop, not a failure)."""
    return _stop_requested


def _stop(signum, frame) -> None:
    global _stop_requested
    _stop_requested = True
    raise SystemExit(128 + signum)  # unwinds, so exit handlers release what the worker holds (semaphores)


def _worker_main(parent_pid: int, tasks, results, worker: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="watch-parent").start()
    while True:
        item = tasks.get()
        if item is None:
            return
        index, function, argument = item
        results.put(("start", worker, index, None))
        try:
            value = function(argument)
        except BaseException as error:  # the parent decides what a failed item means
            if _stop_requested or not isinstance(error, Exception):
                # told to stop: the stop may have come out of compiled code as another error; end quietly
                raise SystemExit(143) from None
            results.put(("error", worker, index, f"{type(error).__name__}: {error}\n"
                                                 f"{traceback.format_exc(limit=3)}"))
        else:
            if _stop_requested:
                raise SystemExit(143)
            results.put(("done", worker, index, value))


@contextmanager
def _environment(values: dict):
    """``os.environ`` with ``values`` set for the block (a spawned process starts with the environment of
    its start), then as it was."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class WorkerPool:
    """Worker processes for independent items (see the module text).

    Parameters
    ----------
    n_workers : int
        Processes to start (>= 1).
    environment : dict, optional
        Environment variables of each worker from its start, before it
        imports anything (the sweep gives each worker one thread: the workers
        already fill the cores).

    Examples
    --------
    >>> with WorkerPool(2) as pool:                                  # doctest: +SKIP
    ...     for index, ok, value in pool.map_unordered(abs, [-1, -2]):
    ...         print(index, ok, value)
    """

    def __init__(self, n_workers: int, environment: dict = None):
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers={n_workers!r} is not allowed; a positive integer is required")
        context = multiprocessing.get_context("spawn")
        self._tasks = context.Queue()
        self._results = context.Queue()
        self._processes = [context.Process(target=_worker_main, name=f"xbar-worker-{k}", daemon=True,
                                           args=(os.getpid(), self._tasks, self._results, k))
                           for k in range(n_workers)]
        with _environment(dict(environment or {})):  # set before the start: numpy reads some as it loads
            for p in self._processes:
                p.start()
        self._pids = [p.pid for p in self._processes]

    @property
    def pids(self) -> List[int]:
        """Process ids of the workers."""
        return list(self._pids)

    def map_unordered(self, function: Callable[[Any], Any], items: Sequence[Any], poll_s: float = 0.1
                      ) -> Iterator[Tuple[int, bool, Any]]:
        """Run ``function(item)`` for every item; yield ``(index, ok, value)`` as each finishes.

        Items are handed out in the order given. ``ok`` is False when the
        function raised or its worker died; ``value`` is then the error's text.
        """
        for index, item in enumerate(items):
            self._tasks.put((index, function, item))
        running = {}  # worker -> index of the item it runs
        left = len(items)
        while left:
            try:
                kind, worker, index, value = self._results.get(timeout=poll_s)
            except queue.Empty:
                for w, i in [(w, i) for w, i in running.items() if not self._processes[w].is_alive()]:
                    del running[w]
                    left -= 1
                    yield i, False, f"worker process died (exit code {self._processes[w].exitcode}) while running it"
                if left and not any(p.is_alive() for p in self._processes):
                    raise RuntimeError("every worker process has died; nothing can run the remaining items")
                continue
            if kind == "start":
                running[worker] = index
                continue
            running.pop(worker, None)
            left -= 1
            yield index, kind == "done", value

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop every worker: sentinels for the idle, then terminate, then kill what is left."""
        for _ in self._processes:
            try:
                self._tasks.put_nowait(None)
            except Exception:  # a broken queue: terminate below does the job
                break
        deadline = time.monotonic() + 0.2
        for p in self._processes:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self._processes:
            if p.is_alive():
                p.terminate()
        deadline = time.monotonic() + timeout_s
        for p in self._processes:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1.0)
        for q in (self._tasks, self._results):
            q.cancel_join_thread()
            q.close()
        # dropping the queues (the processes hold them too) releases their semaphores now, else the
        # resource tracker warns of leaks when the parent exits
        self._tasks = self._results = None
        self._processes = []

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()



WORKER_MEMORY_BYTES = 150 * 2 ** 20
"""About what one sweep worker holds (an interpreter, the project, its compiled kernels and a point)."""


def _available_memory() -> int:
    """Bytes of memory available to new processes (``MemAvailable``), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def max_workers() -> Tuple[int, str]:
    """``(most local workers worth starting, why)``: one per core this process may run on, and no more
    than the available memory holds at :data:`WORKER_MEMORY_BYTES` each (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    memory = _available_memory()
    by_memory = None if memory is None else max(1, int(memory // WORKER_MEMORY_BYTES))
    limit = cores if by_memory is None else min(cores, by_memory)
    why = f"{cores} core(s)" + ("" if memory is None else
                                f", {memory / 2 ** 30:.1f} GiB of memory available at about "
                                f"{WORKER_MEMORY_BYTES // 2 ** 20} MB a worker")
    return max(1, limit), why


def check_worker_count(n: int) -> int:
    """``n`` local workers, or ``ValueError`` saying the most this machine holds and why."""
    limit, why = max_workers()
    if n > limit:
        raise ValueError(f"--workers={n} is more than this machine holds ({why}); at most {limit}")
    return n
