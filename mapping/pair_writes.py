"""Whole pulses onto a matrix's pairs: what counted-pulse update algorithms ask of a
:class:`mapping.MappedMatrix` (:mod:`lstm.updates`).

- :meth:`CountedPulses.apply_pulse_counts`: ``n`` pulses a pair, G+ up and G- down to raise the weight, the
  reverse to lower it;
- :meth:`CountedPulses.pulse_step`: the weight change of one pulse on each device of a pair at the nominal
  steps (:func:`crossbar.devices.granularity.nominal_steps`);
- :meth:`CountedPulses.write_resolution`: for a device written by gate voltages instead, the change that
  stands out of one write's programming noise.

Conductances in siemens; weights in weight units (``G+ - G- = k W``, ``k`` the matrix's scale, S).
"""

from __future__ import annotations

import numpy as np

from crossbar.devices.granularity import nominal_steps
from crossbar.validation import as_float_array


class CountedPulses:
    """Counted-pulse writes of a :class:`mapping.MappedMatrix` (a mixin: it uses the matrix's chip, tiles,
    regions, scale and counters, and owns no state)."""

    def apply_pulse_counts(self, counts: np.ndarray) -> int:
        """In-situ: whole pulses onto each pair, ``counts`` (n_logical, n_out) of them: a positive count
        potentiates G+ and depresses G- by that many pulses each (the weight rises), a negative one the
        reverse. Pulse-law and measured-table devices only (Li et al.'s two-pulse scheme SETs every device of a
        region at each write). How far each weight moves is the devices' physics; :meth:`pulse_step` is its
        nominal size. Returns the pulses sent."""
        counts = as_float_array("counts", counts, shape=(self.n_logical, self.n_out))
        if not np.array_equal(counts, np.rint(counts)):
            raise ValueError(f"{self.name}: pulse counts must be whole numbers")
        if self.chip.device.two_pulse is not None:
            raise ValueError(f"{self.name}: device {self.chip.device.name!r} is written by Li et al.'s two-pulse "
                             "scheme, which SETs every device of a region at each write; whole pulses need a "
                             "pulse-law or measured-table device")
        plus, minus = counts, -counts
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

    def write_resolution(self):
        """The smallest change of a weight (weight units) worth one write of a device written by gate voltages
        (Li et al.'s two-pulse scheme): ``2 sigma / k``, the standard deviation of what one write of a pair does
        to its weight, ``sigma`` the device's programming noise (S), drawn again on each of the pair's two
        devices in place of the one each had, ``k`` the scale (S per unit weight); a float, or an array
        (n_out,) with a scale per column. 0 for a device without programming noise."""
        return 2.0 * self.chip.device.program_noise_sigma / self._scale()
