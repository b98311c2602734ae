"""The column ADCs' full scale of a mapped matrix: :class:`AdcRanging`, the ranging part of
:class:`mapping.MappedMatrix` (by the outputs' range, the largest current, one device step, or calibrated
from sample inputs; :data:`mapping.ADC_RANGE_MODES`). The converter itself is the chip's
(:meth:`mapping.Chip.adc_design`); a matrix sets only its full scale, amperes."""

from __future__ import annotations

import numpy as np

from crossbar import ADC, ADC_RANGE_MODES
from crossbar.validation import check_choice, check_range


class AdcRanging:
    """The full scale of a matrix's column ADCs, for :class:`mapping.MappedMatrix`.

    Uses the matrix's ``chip``, ``encoding``, ``tiles``, ``adc`` and its scale and reads (``_scale``,
    ``_region``, ``_plan``, ``_ideal_plan``, ``_check_inputs``).
    """

    def set_adc_full_scale(self, full_scale: float) -> None:
        """Set the full scale (A) of this matrix's column ADCs (chip with ADCs only)."""
        if self.chip.adc_bits is None:
            raise ValueError(f"{self.name}: the chip has no ADCs (adc_bits=None)")
        self.adc = self.chip.adc_design(full_scale)

    def adc_full_scale_for(self, output_range: float) -> float:
        """The ADC full scale (A) that converts outputs up to ``+-output_range`` (weight units) without
        saturating, for the currents this encoding really produces.

        Row pairs: the plus and minus rows cancel the common current, so a
        column carries ``v_read k y``: ``output_range * v_read * k``. Column pairs:
        each column is converted alone and carries, besides its half of the
        difference, the common current ``g_mid * sum_i V_i`` of every row it
        holds (``g_mid`` the middle of the programmable range): the largest
        the DAC can drive on the tallest tile, plus ``output_range * v_read * k / 2``.
        With a scale per column, ``k`` is the largest column's (one full scale a matrix).
        """
        check_range("output_range", output_range, 0.0, low_open=True)
        e = self.encoding
        scale = self._scale()
        if np.ndim(scale):  # a scale per column: the largest column current sets the range of every column
            scale = float(np.max(scale))
        if self._row_pairs:
            return output_range * e.v_read * scale
        low, high = self.chip.device.programmable_range
        return e.v_read * (0.5 * (low + high) * self._largest_drive() + 0.5 * output_range * scale)

    def adc_full_scale_by(self, mode: str, output_range: float = 6.0) -> float:
        """The ADC full scale (A) of this matrix by one of :data:`ADC_RANGE_MODES`.

        - ``"outputs"``: :meth:`adc_full_scale_for` ``(output_range)``;
        - ``"array_max"``: the largest current one column of the tallest tile
          can carry, every driven row at its largest drive (``input_limit``,
          bias rows at ``bias_input``) with the widest conductance swing
          (row pairs ``G_high - G_low``, columns alone ``G_high``): nothing can
          saturate, at the price of coarse steps;
        - ``"cell_step"``: one LSB is the current of one device step (the
          level spacing, or the pulse law's up step without levels) at an
          input of 1: ``max_code * v_read * step``.

        Arrays whose reads hold the unused lines at V/2 (``read_scheme="v_half"``)
        add the largest current those lines put into a sensed column
        (:meth:`held_current`): the converters must take it in with the products.
        """
        return self._range_by(mode, output_range) + self.held_current()

    def held_current(self) -> float:
        """The largest current the lines a read holds at V/2 put into one of its sensed columns, amperes
        (:meth:`crossbar.CrossbarArray.read_bias_current`); 0 for the other read schemes."""
        largest = 0.0
        for t in self.tiles:
            array = self.chip.arrays[t.array]
            if array.peripherals.read_scheme == "v_half":
                rows, cols = self._region(t)
                current, _ = array.read_bias_current([(rows.start, rows.stop)], (cols.start, cols.stop))
                largest = max(largest, float(np.max(np.abs(current))))
        return largest

    def _range_by(self, mode: str, output_range: float) -> float:
        """:meth:`adc_full_scale_by` without the held lines' current."""
        check_choice("adc_range_by", mode, ADC_RANGE_MODES)
        if mode == "calibration":
            raise ValueError(f"{self.name}: adc_range_by='calibration' needs sample inputs; call "
                             "calibrate_adc(x_samples)")
        if mode == "outputs":
            return self.adc_full_scale_for(output_range)
        e = self.encoding
        low, high = self.chip.device.programmable_range
        if mode == "array_max":
            return e.v_read * self._largest_drive() * ((high - low) if self._row_pairs else high)
        if self.chip.adc_bits is None:
            raise ValueError(f"{self.name}: the chip has no ADCs (adc_bits=None)")
        device = self.chip.device
        step = ((high - low) / (device.n_levels - 1)) if device.n_levels else device.pulse_law.step_up
        return (2 ** (self.chip.adc_bits - 1) - 1) * e.v_read * step

    def _largest_drive(self) -> float:
        """Largest ``sum_i |x_i|`` a tile's rows can be driven with (inputs at the limit, bias rows at
        ``bias_input``), dimensionless."""
        e = self.encoding
        return max(e.input_limit * max(0, min(t.inputs[1], self.n_in) - t.inputs[0])
                   + abs(e.bias_input) * max(0, t.inputs[1] - max(t.inputs[0], self.n_in)) for t in self.tiles)

    def calibrate_adc(self, x_samples, percentile: float = 100.0, margin: float = 1.0) -> ADC:
        """Choose the ADC full scale from the currents that sample inputs give now.

        The currents are the read engine's ideal read of this matrix
        (:meth:`crossbar.ReadPlan.ideal_read`: the DAC, the cells' I-V, the
        wires and the read scheme's lines, without read noise or ADC); the
        largest current that lines held at V/2 put into a column
        (:meth:`held_current`) is added to the full scale.

        Parameters
        ----------
        x_samples : array_like, shape (batch, n_in)
            Representative inputs.
        percentile, margin : float
            See :meth:`crossbar.ADC.calibrated`.
        """
        if self.chip.adc_bits is None:
            raise ValueError(f"{self.name}: the chip has no ADCs (adc_bits=None)")
        x = self._check_inputs(x_samples)
        # any plan of this matrix reads the same currents before its ADC: the one made already, else one
        plan = self._plan if self._plan is not None else self._ideal_plan()
        currents = plan.ideal_read(x, held_lines=False)
        chip = self.chip
        found = ADC.calibrated(np.concatenate([c.ravel() for c in currents]), bits=chip.adc_bits,
                               percentile=percentile, margin=margin, circuit=chip.adc_circuit).full_scale
        held = self.held_current()  # the products' currents come with the held lines' (see adc_full_scale_by)
        self.adc = chip.adc_design(found + held if held > 0.0 else found)
        return self.adc
