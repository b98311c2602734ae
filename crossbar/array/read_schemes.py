"""How an array's reads see its devices under the peripherals' read schemes: the effective conductances of
products (wire resistance, floating and 1T1R reads), the current of the lines a ``v_half`` read holds, and
what a device read senses (:class:`ReadSchemes`, a part of :class:`crossbar.CrossbarArray`).

Units: siemens, volts, amperes.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from crossbar.circuits.device_reads import cell_current_per_siemens, sensed_conductance
from crossbar.circuits.wires import effective_conductance


def read_key(driven_rows, cols) -> tuple:
    """A read's driven row ranges and sensed columns as a hashable key (plain ints)."""
    return tuple((int(a), int(b)) for a, b in driven_rows), (int(cols[0]), int(cols[1]))


class ReadSchemes:
    """The read-scheme solves of :class:`crossbar.CrossbarArray` (one concern of the array, mixed into it).

    State it owns: the caches of solved conductances ``_effective`` (with wires), ``_read_effective``
    (floating and 1T1R reads, per read), ``_read_bias`` (``v_half`` reads, per read) and ``_sensed``
    (passive device reads); the array's ``_refresh`` empties them at every change of the conductances.
    State it reads: ``_conductance``, ``rows``, ``cols``, ``shape``, ``device`` and ``peripherals``.
    """

    def effective_conductance(self) -> np.ndarray:
        """What the column currents see, siemens, shape (rows, cols) (read-only): ``I = V @ G_eff``.

        Without wire resistance the true conductances. With it, the linear
        wire network's transfer (:func:`crossbar.circuits.wires.effective_conductance`),
        solved once per change of the conductances.
        """
        view = self._signal_conductance().view()
        view.flags.writeable = False
        return view

    def _signal_conductance(self) -> np.ndarray:
        """:meth:`effective_conductance` itself, not a view (for the read plans of this package)."""
        wires = self.peripherals.wires
        if wires is None:
            return self._conductance
        if self._effective is None:
            self._effective = effective_conductance(self._conductance, wires.row_segment_ohms,
                                                    wires.col_segment_ohms)
        return self._effective

    def read_effective_conductance(self, driven_rows, cols) -> np.ndarray:
        """What the sensed columns of one read see, siemens, shape (rows, cols) (read-only): ``I = V @ G_eff``
        for the drives of the driven rows, as the read scheme says (:class:`crossbar.Peripherals`).

        Parameters
        ----------
        driven_rows : sequence of (int, int)
            The read's driven row ranges (half-open).
        cols : (int, int)
            The read's sensed columns (half-open).

        Returns
        -------
        ndarray
            The array's :meth:`effective_conductance` for ``grounded`` and
            ``v_half`` reads (lines held at fixed voltages pass the driven rows'
            currents as grounded ones do; ``v_half``'s own current is
            :meth:`read_bias_current`), and for ``1t1r`` reads without wires; else a matrix whose driven rows and
            sensed columns hold the read's transfer (``floating``: one sparse
            solve of the passive network with the unused lines open, a unit
            voltage on each driven row in turn; ``1t1r``: the wire network with
            the cells of undriven rows switched off).
        """
        scheme, wires = self.peripherals.read_scheme, self.peripherals.wires
        if scheme in ("grounded", "v_half") or (scheme == "1t1r" and wires is None):
            return self.effective_conductance()
        key = read_key(driven_rows, cols)
        found = self._read_effective.get(key)
        if found is None:
            driven = self._driven_mask(key[0])
            if scheme == "1t1r":
                found = effective_conductance(np.where(driven[:, None], self._conductance, 0.0),
                                              wires.row_segment_ohms, wires.col_segment_ohms)
            else:
                from crossbar.circuits.passive import solve_passive

                sensed = np.zeros(self.cols, dtype=bool)
                sensed[key[1][0]:key[1][1]] = True
                rows = np.flatnonzero(driven)
                unit = np.zeros((rows.size, self.rows))
                unit[np.arange(rows.size), rows] = 1.0
                solution = solve_passive(self._conductance, unit, 0.0 if wires is None else wires.row_segment_ohms,
                                         0.0 if wires is None else wires.col_segment_ohms,
                                         floating_word_lines=~driven, floating_bit_lines=~sensed)
                found = np.zeros(self.shape)
                found[rows] = np.where(sensed[None, :], solution.output_currents, 0.0)
            found.flags.writeable = False
            self._read_effective[key] = found
        return found

    def _driven_mask(self, row_ranges) -> np.ndarray:
        """The rows of half-open ``row_ranges``, as a boolean mask of shape (rows,)."""
        driven = np.zeros(self.rows, dtype=bool)
        for a, b in row_ranges:
            driven[a:b] = True
        return driven

    def read_bias_current(self, driven_rows, cols) -> Tuple[np.ndarray, np.ndarray]:
        """What the lines held at ``V_b`` (half the DAC's ``v_max``) of a ``v_half`` read put into its
        sensed columns whatever the drives: the current, amperes, and its read-noise variance, A^2, each of
        shape (sensed columns,).

        The undriven rows at ``V_b`` pass ``u(V_b) G`` through each cell into
        the sensed columns at 0 V (``u(V) = sinh(k V) / k``, ``V`` for linear
        cells); unsensed columns at ``V_b`` take nothing from them. With wire
        resistance (linear cells) the current is one solve of the passive
        network with the driven rows at 0 V (:func:`crossbar.solve_passive`);
        the variance is the cells' own, ``sum (u(V_b) sigma(G))^2``. Zero for the
        other read schemes.

        Parameters
        ----------
        driven_rows : sequence of (int, int)
            The read's driven row ranges (half-open).
        cols : (int, int)
            The read's sensed columns (half-open).
        """
        c0, c1 = int(cols[0]), int(cols[1])
        if self.peripherals.read_scheme != "v_half":
            return np.zeros(c1 - c0), np.zeros(c1 - c0)
        key = read_key(driven_rows, cols)
        found = self._read_bias.get(key)
        if found is None:
            dac = self.peripherals.dac
            if dac is None:
                raise ValueError("read_scheme='v_half' holds the unused lines at half the DAC's v_max, and this "
                                 "array has no DAC; give the peripherals a crossbar.DAC")
            bias = dac.v_max / 2.0
            undriven = ~self._driven_mask(key[0])
            per_siemens = cell_current_per_siemens(bias, self.device.iv_nonlinearity_per_volt)
            g = self._conductance[undriven, c0:c1]
            wires = self.peripherals.wires
            if wires is None:
                current = per_siemens * g.sum(axis=0)
            else:
                from crossbar.circuits.passive import solve_passive

                held = np.full(self.cols, bias)
                held[c0:c1] = 0.0
                current = solve_passive(self._conductance, np.where(undriven, bias, 0.0)[None, :],
                                        wires.row_segment_ohms, wires.col_segment_ohms,
                                        bit_line_voltages=held).output_currents[0, c0:c1]
            sigma = self.device.read_noise_sigma_relative
            variance = (((sigma * per_siemens * g) ** 2).sum(axis=0) if self.device.read_noise_is_relative
                        else ((per_siemens * self.device.read_noise_sigma_at(g)) ** 2).sum(axis=0))
            found = (np.asarray(current, dtype=np.float64), variance)
            self._read_bias[key] = found
        return found

    def sensed_conductance(self) -> np.ndarray:
        """What a read of each device alone reports, siemens, shape (rows, cols) (read-only), before read noise:
        the true conductances for ``grounded`` device reads, else with the half-selected cells' or sneak
        paths' share (:mod:`crossbar.circuits.device_reads`, the peripherals' ``device_read_scheme``)."""
        view = self._device_read_values().view()
        view.flags.writeable = False
        return view

    def _device_read_values(self) -> np.ndarray:
        p = self.peripherals
        if p.device_read_scheme == "grounded":
            return self._conductance
        if self._sensed is None:
            self._sensed = sensed_conductance(self._conductance, p.device_read_scheme, p.device_read_voltage,
                                              self.device.iv_nonlinearity_per_volt)
        return self._sensed
