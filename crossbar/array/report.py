"""What programming a target matrix did (:class:`ProgramReport`, returned by :meth:`crossbar.CrossbarArray.program`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class ProgramReport:
    """Outcome of programming a target matrix.

    Attributes
    ----------
    method : str
        ``"one_shot"`` or ``"write_verify"``.
    rounds : int
        Program (and verify) rounds used; 1 for one-shot.
    pulses : int
        Programming pulses spent.
    device_reads : int
        Verify reads spent.
    residual_rms : float
        RMS of ``G - target`` over working (not stuck) devices, siemens, true state.
    within_tolerance : float
        Fraction of working devices within ``tolerance`` of target (true state);
        NaN for one-shot without a tolerance.
    tolerance : float or None
        The verify tolerance, siemens.
    n_stuck : int
        Devices that are stuck and could not be programmed (known from the
        fault map: write-and-verify does not verify them).
    failed_rows, failed_cols : ndarray of int
        0-based positions of the working devices that were still outside the
        verify band at the last verify (write-and-verify only).
    failed_errors : ndarray
        Their true ``G - target``, siemens.
    """

    method: str
    rounds: int
    pulses: int
    device_reads: int
    residual_rms: float
    within_tolerance: float
    tolerance: Optional[float]
    n_stuck: int
    failed_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), compare=False)
    failed_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), compare=False)
    failed_errors: np.ndarray = field(default_factory=lambda: np.zeros(0), compare=False)

    @property
    def n_failed(self) -> int:
        """Working devices that write-and-verify could not bring within tolerance."""
        return int(self.failed_rows.size)

    def __str__(self) -> str:
        tol = "" if self.tolerance is None else (
            f", {self.within_tolerance * 100:.2f} % within {self.tolerance * 1e6:.3g} uS")
        failed = ""
        if self.n_failed:
            worst = int(np.argmax(np.abs(self.failed_errors)))
            failed = (f"; {self.n_failed} failed verify (worst {self.failed_errors[worst] * 1e6:+.3g} uS at row "
                      f"{self.failed_rows[worst] + 1}, column {self.failed_cols[worst] + 1})")
        return (f"{self.method}: {self.rounds} round(s), {self.pulses} pulses, {self.device_reads} verify reads, "
                f"residual {self.residual_rms * 1e6:.3g} uS rms{tol}, {self.n_stuck} stuck{failed}")
