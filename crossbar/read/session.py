"""Consecutive reads of a read plan made by a caller's compiled loop (a network layer's whole sequence):
:class:`ReadSession`, counted as the plan's own reads are."""

from __future__ import annotations

from typing import Optional

import numpy as np

from crossbar.circuits.energy import OperationCounts
from crossbar.read.kernels import CompiledReads, ReadArrays
from crossbar.validation import check_int


class ReadSession:
    """Consecutive reads of a :class:`ReadPlan` made by a caller's compiled loop (:meth:`ReadPlan.session`).

    The plan is refreshed first if an array changed, and the calls' noise
    seeds are drawn at once (the words :meth:`ReadPlan.draw_seeds` gives, so a
    session of ``n`` calls reads as ``n`` calls of :meth:`ReadPlan.read` do).
    The compiled loop takes :attr:`compiled` and runs, for each call ``c``,
    :func:`crossbar.read.kernels.session_read` with the scratch of
    :func:`crossbar.read.kernels.session_scratch`; then :meth:`finish` refuses
    bad drives and counts the work on the arrays (and on a caller's tally).

    Attributes
    ----------
    plan : ReadPlan
    calls : int
    compiled : crossbar.read.kernels.CompiledReads
        The kernel's tables, the seeds, shape (calls, n_reads), uint64, and the plan's sizes.
    """

    __slots__ = ("plan", "calls", "compiled")

    def __init__(self, plan: "ReadPlan", calls: int):  # noqa: F821 (crossbar.read.plan, which imports this)
        if not isinstance(getattr(plan, "arrays", None), ReadArrays) or not hasattr(plan, "draw_seeds"):
            raise ValueError(f"plan={plan!r} is not allowed; a crossbar.ReadPlan is required")
        self.calls = calls if type(calls) is int and calls >= 0 else check_int("calls", calls, 0)  # (a read's cost)
        self.plan = plan.current()
        # (tables, seeds, n_outputs, n_logical, n_reads), by position: keywords cost a read half a microsecond
        self.compiled = CompiledReads(plan.arrays, plan.draw_seeds(self.calls), plan.n_outputs, plan.n_logical,
                                      len(plan.reads))

    @property
    def parallel_chunks(self) -> bool:
        """Whether each read is cut into more than one column chunk (which Numba's threads can share)."""
        return len(self.plan.arrays.chunks) > 2

    def multiply_adds(self, batch: int) -> int:
        """Multiply-adds of one call's products for ``batch`` vectors (for planning threads)."""
        return self.plan.multiply_adds(batch)

    def finish(self, batch: int, saturated, power, n_bad: int, x: Optional[np.ndarray] = None,
               counts: Optional[OperationCounts] = None) -> OperationCounts:
        """End the session: refuse bad drives, then count the calls' work on the arrays.

        Parameters
        ----------
        batch : int
            Input vectors of each call.
        saturated : ndarray of int64, shape (n_reads,)
            Each read's ADC saturations over the calls.
        power : ndarray, shape (n_logical,)
            ``sum V u(V)`` of each logical input over the calls, V^2 (see :meth:`ReadPlan.record`).
        n_bad : int
            Drives beyond the DAC's range or not finite (``ValueError`` when any).
        x : ndarray, optional
            The inputs, to name NaN in the error.
        counts : OperationCounts, optional
            Also receives the work (a layer above's own tally).

        Returns
        -------
        OperationCounts
            The session's work.
        """
        self.plan.check_bad(n_bad, x)
        total = self.plan.record(self.calls, batch, saturated, power)
        if counts is not None:
            counts.accumulate(total)
        return total
