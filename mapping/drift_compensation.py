"""Drift compensation of a mapped matrix: :class:`DriftCompensation`, a part of :class:`mapping.MappedMatrix`.

Devices that drift (``G(t) = G0 (t / t0)^-nu``, :class:`crossbar.DeviceModel`'s ``drift_nu``) lose
conductance after programming, and every output of a read shrinks with them. Right after the last write a
reference read measures each output column's conductance, the sum over the column's devices that the
matrix's reads drive (both devices of every pair: a quantity that never comes near zero, whatever the
weights); after time on the chip the same read is made again, and each output is multiplied by a digital
gain after the ADC, ``reference / now``: one for the whole matrix (``"global"``, the ratio of the sums
over all columns) or one per output column (``"column"``). The gain divides the read plan's per-output
unit (:class:`crossbar.ReadPlan`'s ``output_unit``). A drift exponent shared by every device is recovered
by either up to the read noise of the two reads; a spread of exponents leaves the column-to-column (``column``) or device-to-device
part. Conductances in siemens.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from crossbar.validation import as_float_array, check_choice

DRIFT_COMPENSATIONS = ("none", "global", "column")
"""How outputs are rescaled after time on the chip: not at all, one gain a matrix, one gain an output."""


class DriftCompensation:
    """The reference read and the digital gain of a matrix's outputs, for :class:`mapping.MappedMatrix`.

    Uses the matrix's ``name``, ``n_out``, ``reads()``, ``_counting()``, ``output_gain`` and
    ``drift_reference`` (both None until a reference is recorded).
    """

    drift_compensable = True
    """Whether this kind of matrix takes a drift gain (bit-sliced weights with offsets do not)."""

    def column_conductance(self) -> np.ndarray:
        """Each output's conductance, S, shape (n_out,): the sum over every device the matrix's reads drive
        in the columns that add into that output (a conductance read, with read noise, counted)."""
        total = np.zeros(self.n_out)
        with self._counting():
            for read in self.reads():
                c0, c1 = read.cols
                per_column = np.zeros(c1 - c0)
                for drive in read.drives:
                    g = read.array.read_conductance(slice(*drive.rows), slice(c0, c1))
                    per_column += g.sum(axis=0)
                for (output, _), g_column in zip(read.outputs, per_column):
                    total[output] += g_column
        return total

    def _refuse_uncompensable(self) -> None:
        if not self.drift_compensable:
            raise ValueError(f"{self.name}: drift compensation is not available for {type(self).__name__}")

    def record_drift_reference(self) -> np.ndarray:
        """Take the reference read (:meth:`column_conductance`) now, just after the last write, and drop any
        gain: returns the reference, S, shape (n_out,)."""
        self._refuse_uncompensable()
        self.drift_reference = self.column_conductance()
        self.output_gain = None
        return self.drift_reference

    def compensate_drift(self, mode: str) -> Optional[np.ndarray]:
        """Read again and set the outputs' digital gain ``reference / now`` (``mode`` of
        :data:`DRIFT_COMPENSATIONS`; ``"none"`` changes nothing). Returns the gain per output, or None."""
        check_choice("drift_compensation", mode, DRIFT_COMPENSATIONS)
        if mode == "none":
            return None
        self._refuse_uncompensable()
        if self.drift_reference is None:
            raise ValueError(f"{self.name}: no drift reference; call record_drift_reference() after programming")
        now = self.column_conductance()
        if mode == "global":
            gain = np.full(self.n_out, float(np.sum(self.drift_reference)) / float(np.sum(now)))
        else:
            gain = self.drift_reference / np.maximum(now, np.finfo(float).tiny)
        self.output_gain = gain
        return gain

    def drift_state(self) -> dict:
        """The reference and the gain, JSON-ready (empty without a reference: older states are unchanged)."""
        if self.drift_reference is None:
            return {}
        return {"drift_reference": self.drift_reference.tolist(),
                "output_gain": None if self.output_gain is None else self.output_gain.tolist()}

    def load_drift_state(self, state: dict, source: str) -> None:
        """Take :meth:`drift_state`'s part of a matrix state (none: no reference, no gain)."""
        reference, gain = state.get("drift_reference"), state.get("output_gain")
        self.drift_reference = (None if reference is None else
                                as_float_array(f"{source}.drift_reference", reference, shape=(self.n_out,)))
        self.output_gain = None if gain is None else as_float_array(f"{source}.output_gain", gain, shape=(self.n_out,))
        if self.output_gain is not None and not np.all(self.output_gain > 0.0):
            raise ValueError(f"{source}.output_gain: every output's gain must be > 0")
