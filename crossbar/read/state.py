"""The state the arrays and the read engine share, below both (so that neither imports the other's module
for it): the process's change count of arrays, the one read plan whose counts are pending, and the lock
held while counts are pending or written. :mod:`crossbar.array.crossbar_array` re-exports its public names."""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

_changes = 0
"""Changes of conductance or generator of all arrays in this process so far (a read plan checks it before
the arrays' versions and generators)."""

_unflushed = None
"""The read plan, at most one, whose latest counts are not on its arrays' counters yet (see
:meth:`crossbar.ReadPlan.record`): reading an array's counters writes them first."""


def changes() -> int:
    """How many changes of conductance or generator all arrays of this process have had (nothing changed
    while it is the number a plan saw)."""
    return _changes


def note_change() -> None:
    """Count one change of an array's conductance or generator (read plans that took it look again)."""
    global _changes
    _changes += 1


def counts_pending() -> bool:
    """Whether some read plan's counts are not on its arrays' counters yet."""
    return _unflushed is not None


counts_lock = threading.RLock()
"""Held while counts are pending or written (plans of several threads count on shared arrays)."""


def flush_counts() -> None:
    """Write the pending counts of the last read plan onto its arrays' counters."""
    global _unflushed
    with counts_lock:
        plan, _unflushed = _unflushed, None
        if plan is not None:
            plan._write_counts()


def hold_counts(plan) -> bool:
    """Make ``plan`` the one whose counts are pending (call with :data:`counts_lock` held); True if it was
    not already: the caller then starts its tally from the counters as they are, after any other plan's
    counts were written."""
    global _unflushed
    if _unflushed is plan:
        return False
    flush_counts()
    _unflushed = plan
    return True


@runtime_checkable
class ReadableArray(Protocol):
    """What the read engine asks of an array (:class:`crossbar.CrossbarArray` is one), by duck typing:
    ``isinstance`` checks these methods only (no property is called)."""

    def read_effective_conductance(self, driven_rows, cols): ...

    def read_bias_current(self, driven_rows, cols): ...
