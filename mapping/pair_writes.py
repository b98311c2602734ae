"""Whole pulses onto a matrix's pairs, and the pairs' refresh: what counted-pulse update algorithms ask of a
:class:`mapping.MappedMatrix` (:mod:`lstm.updates`).

- :meth:`CountedPulses.apply_pulse_counts`: ``n`` pulses a pair, both directions (G+ up and G- down raise
  the weight) or depressing pulses only (``one_sided``: G- down raises it, G+ down lowers it), for devices
  whose potentiation is abrupt and whose depression is gradual (a measured TaOx device SETs to near its top
  in one pulse; aihwkit calls such a pair a one-sided unit cell).
- :meth:`CountedPulses.pair_conductances` and :meth:`CountedPulses.refresh_pairs`: a one-sided pair only
  falls; once a device of it is low, the pair is read and written again near the top of the window with the
  same difference (write-and-verify), and falls again from there.
- :meth:`CountedPulses.pulse_step`: the weight change of one pulse on each device of a pair at the nominal
  steps (:func:`crossbar.devices.granularity.nominal_steps`).

Conductances in siemens; weights in weight units (``G+ - G- = k W``, ``k`` the matrix's scale, S).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from crossbar.devices.granularity import nominal_steps
from crossbar.validation import as_float_array


class CountedPulses:
    """Counted-pulse writes of a :class:`mapping.MappedMatrix` (a mixin: it uses the matrix's chip, tiles,
    regions, scale and counters, and owns no state)."""

    def apply_pulse_counts(self, counts: np.ndarray, one_sided: bool = False) -> int:
        """In-situ: whole pulses onto each pair, ``counts`` (n_logical, n_out) of them: a positive count
        potentiates G+ and depresses G- by that many pulses each (the weight rises), a negative one the
        reverse; ``one_sided``: depressing pulses only (a positive count depresses G-, a negative one G+).
        Pulse-law and measured-table devices only (Li et al.'s two-pulse scheme SETs every device of a
        region at each write). How far each weight moves is the devices' physics; :meth:`pulse_step` is its
        nominal size. Returns the pulses sent."""
        counts = as_float_array("counts", counts, shape=(self.n_logical, self.n_out))
        if not np.array_equal(counts, np.rint(counts)):
            raise ValueError(f"{self.name}: pulse counts must be whole numbers")
        if self.chip.device.two_pulse is not None:
            raise ValueError(f"{self.name}: device {self.chip.device.name!r} is written by Li et al.'s two-pulse "
                             "scheme, which SETs every device of a region at each write; whole pulses need a "
                             "pulse-law or measured-table device")
        plus, minus = (np.minimum(counts, 0.0), -np.maximum(counts, 0.0)) if one_sided else (counts, -counts)
        pulses = 0
        with self._counting():
            for t in self.tiles:
                where = (slice(*t.inputs), slice(*t.outputs))
                if not (plus[where].any() or minus[where].any()):
                    continue
                array = self.chip.arrays[t.array]
                rows, cols = self._region(t)
                full = np.zeros(array.shape, dtype=np.int64)
                full[rows, cols] = self._join(plus[where], minus[where]).astype(np.int64)
                scheme = array.peripherals.write_scheme
                pulses += (array.write_passive(full, scheme)[0] if scheme is not None else array.apply_pulses(full))
        return pulses

    def pulse_step(self):
        """Nominal change of a weight (weight units) for one pulse on each device of its pair: the device's
        step up plus its step down (S, at the middle of its window for a measured table), over the scale; a
        float, or an array (n_out,) with a scale per column (``encoding.scale_by="column"``)."""
        up, down = nominal_steps(self.chip.device)
        return (up + down) / self._scale()

    def pair_conductances(self) -> Tuple[np.ndarray, np.ndarray]:
        """(G+, G-) of every pair from a conductance read (with read noise, counted), each (n_logical, n_out), S."""
        g_plus, g_minus = np.empty((self.n_logical, self.n_out)), np.empty((self.n_logical, self.n_out))
        with self._counting():
            for t in self.tiles:
                rows, cols = self._region(t)
                where = (slice(*t.inputs), slice(*t.outputs))
                g_plus[where], g_minus[where] = self._split(self.chip.arrays[t.array].read_conductance(rows, cols), t)
        return g_plus, g_minus

    def refresh_pairs(self, refresh: np.ndarray, g_plus: np.ndarray, g_minus: np.ndarray, top: float) -> int:
        """Write the pairs ``refresh`` (bool, (n_logical, n_out)) again with their difference (from the reads
        ``g_plus``, ``g_minus``, S) kept and their higher device at ``top`` (S), write-and-verify; the other
        pairs of a refreshed tile are asked for what was read of them, which moves them by less than a step.
        Returns the devices refreshed (twice the pairs)."""
        difference = np.clip(g_plus - g_minus, -(top - self.chip.device.g_min), top - self.chip.device.g_min)
        target_plus = np.where(refresh, np.minimum(top, top + difference), g_plus)
        target_minus = np.where(refresh, np.minimum(top, top - difference), g_minus)
        low, high = self.chip.device.programmable_range
        with self._counting():
            for t in self.tiles:
                where = (slice(*t.inputs), slice(*t.outputs))
                if not refresh[where].any():
                    continue
                rows, cols = self._region(t)
                target = np.clip(self._join(target_plus[where], target_minus[where]), low, high)
                self.chip.arrays[t.array].program(target, method="write_verify", rows=rows, cols=cols)
        return 2 * int(np.count_nonzero(refresh))
