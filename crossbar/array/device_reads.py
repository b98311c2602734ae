"""Reads of devices one by one, as a verify or a read-back does (:class:`DeviceReads`, a part of
:class:`crossbar.CrossbarArray`). Conductances in siemens."""

from __future__ import annotations

import numpy as np

from crossbar.numerics.random_streams import standard_normals, stream_seeds


class DeviceReads:
    """The device reads of :class:`crossbar.CrossbarArray` (one concern of the array, mixed into it).

    State it owns: none of its own; each read counts in the array's ``counters.device_reads`` and moves its
    clock on (``_after_reads``).
    State it reads: ``_conductance``, what device reads sense (``_device_read_values``, of
    :class:`~crossbar.array.read_schemes.ReadSchemes`), ``rng`` (the read noise's streams), ``device`` and
    ``peripherals``.
    """

    def _read_devices(self, mask: np.ndarray) -> np.ndarray:
        """Measure the devices ``mask`` selects one by one, with read noise (S); others are NaN. Counts the reads.

        Every row draws a fresh stream, its normals indexed by column, so a
        device's noise does not depend on which others are read.
        """
        out = np.full(self.shape, np.nan)
        n = int(np.count_nonzero(mask))
        if n == 0:
            return out
        out[mask] = self._measure(self._conductance, self._device_read_values(), n)[mask]
        return out

    def _measure(self, g: np.ndarray, sensed: np.ndarray, n_reads: int) -> np.ndarray:
        """Device reads of a block: what each reports, siemens, same shape as ``g``; counts ``n_reads`` reads.

        ``g`` are the block's true conductances and ``sensed`` what their reads
        sense before read noise (:meth:`sensed_conductance`). Row ``i`` of the
        block draws a fresh stream, its normals indexed by the block's column,
        so a device's noise does not depend on which others are read. The noise
        is each cell's own, from its own G (a grounded read of relative noise:
        ``G (1 + s z)``).
        """
        self.counters.device_reads += n_reads
        if not self.device.has_read_noise:
            out = sensed.copy()
        else:
            z = standard_normals(stream_seeds(self.rng, g.shape[0]), g.shape[1])
            grounded_relative = self.peripherals.device_read_scheme == "grounded" and self.device.read_noise_is_relative
            out = (g * (1.0 + self.device.read_noise_sigma_relative * z) if grounded_relative
                   else sensed + self.device.read_noise_sigma_at(g) * z)
        self._after_reads()
        return out

    def read_conductance(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """Measure the devices of a region (default: all) one by one, as a verify or read-back would.

        Returns
        -------
        ndarray, shape of the region
            Conductances with fresh read noise, siemens.
        """
        g = self._conductance[rows, cols]
        if g.size == 0:
            raise ValueError(f"rows={rows!r}, cols={cols!r} select no device of a {self.rows}x{self.cols} array")
        return self._measure(g, self._device_read_values()[rows, cols], g.size)
