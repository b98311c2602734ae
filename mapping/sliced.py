"""Bit-sliced weights: each weight an integer held digit by digit over several devices, added back by
shift and add.

A weight ``w`` becomes ``N = rint(w / w_lsb)`` levels, ``|N| <= top = 2**(weight_bits-1) - 1``, with
``w_lsb = step / k`` (``k`` the scale in siemens per unit weight, chosen as for pairs, and ``step =
(g_high - g_low) / (2**bits_per_slice - 1)`` one device level). The digits of slice ``s`` weigh
``2**(bits_per_slice * s)``:

- ``differential``: the digits of ``|N|`` with the sign of ``N`` on a row pair per slice (``G+ = g_low + d
  step`` for a positive digit, ``G- = g_low + |d| step`` for a negative one, the other device at
  ``g_low``); ``ceil((weight_bits - 1) / bits_per_slice)`` slices;
- ``offset``: the digits of ``U = N + top`` (never negative) on one device each, ``G = g_low + d step``;
  ``ceil(weight_bits / bits_per_slice)`` slices. The digital side takes off the offset and the
  ``g_low`` floor from the sum of the inputs it drove, as ISAAC does (Shafiee et al., ISCA 2016,
  section 5: "biased" weights): ``sum_i V_i (g_low sum_s 2**(b s) / step + top) w_lsb / v_read`` from
  every output.

Every slice's columns are converted on their own (read noise drawn per slice, one conversion each) and
added with their weights by the read plan (:class:`crossbar.ReadPlan` with digital weights
``2**(bits_per_slice * s)``): ``y = sum_s 2**(b s) I_s / (v_read k)`` (less the offset). Without noise,
converters or programming error, ``y = x @ (N w_lsb)``: the weights rounded to their levels.

Sliced weights are programmed ex situ; in-situ updates (pulses that move analog conductances) are
refused. Conductances in siemens, voltages in volts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from crossbar import Drive, Read
from crossbar.validation import check_choice, check_int, check_range

from mapping.encoding import RangeReport, choose_scale
from mapping.layout import Block
from mapping.mapped import ADC_RANGE_MODES, MappedMatrix, MappingReport, Tile

SLICE_ENCODINGS = ("differential", "offset")
"""How a slice holds its signed digits (see the module text)."""


@dataclass(frozen=True)
class WeightSlicing:
    """How weights are split over devices. Validated when built.

    Parameters
    ----------
    weight_bits : int
        Resolution of a weight including its sign (2..16): ``2**(weight_bits-1) - 1`` levels each way.
    bits_per_slice : int
        Bits one device holds (1..8): ``2**bits_per_slice`` conductance levels.
    encoding : {"differential", "offset"}
    """

    weight_bits: int = 8
    bits_per_slice: int = 2
    encoding: str = "differential"

    def __post_init__(self):
        check_int("slicing.weight_bits", self.weight_bits, 2, 16)
        check_int("slicing.bits_per_slice", self.bits_per_slice, 1, 8)
        check_choice("slicing.encoding", self.encoding, SLICE_ENCODINGS)
        if self.bits_per_slice > self.weight_bits:
            raise ValueError(f"slicing.bits_per_slice={self.bits_per_slice} is more than "
                             f"slicing.weight_bits={self.weight_bits}; at most the weight's bits are allowed")

    @property
    def top(self) -> int:
        """Largest level magnitude, ``2**(weight_bits-1) - 1``."""
        return 2 ** (self.weight_bits - 1) - 1

    @property
    def n_slices(self) -> int:
        magnitude_bits = self.weight_bits - 1 if self.encoding == "differential" else self.weight_bits
        return -(-magnitude_bits // self.bits_per_slice)

    @property
    def slice_weights(self) -> np.ndarray:
        """Digital weight of each slice, ``2**(bits_per_slice * s)``."""
        return 2.0 ** (self.bits_per_slice * np.arange(self.n_slices))

    def digits(self, levels: np.ndarray) -> np.ndarray:
        """Each slice's digits of integer ``levels`` (any shape): shape (n_slices, ...); signed
        (differential) or of ``levels + top`` (offset)."""
        levels = np.asarray(levels, dtype=np.int64)
        base = 2 ** self.bits_per_slice
        if self.encoding == "differential":
            magnitude, sign = np.abs(levels), np.sign(levels)
        else:
            magnitude, sign = levels + self.top, np.ones_like(levels)
        return np.stack([sign * ((magnitude >> (self.bits_per_slice * s)) % base) for s in range(self.n_slices)])

    def levels(self, digits: np.ndarray) -> np.ndarray:
        """The levels the digits (shape (n_slices, ...), any real values) hold: ``sum_s 2**(b s) d_s``
        (less ``top`` for offset)."""
        total = np.tensordot(self.slice_weights, np.asarray(digits, dtype=np.float64), axes=1)
        return total if self.encoding == "differential" else total - self.top


@dataclass(frozen=True)
class SliceTile(Tile):
    """A tile of one slice: ``slice_index`` 0 holds the least significant digits."""

    slice_index: int = 0


class SlicedMatrix(MappedMatrix):
    """A weight matrix (and optional bias) held in bit slices (see the module text).

    The parameters are those of :class:`MappedMatrix`, and ``slicing``. The
    encoding's ``v_read``, ``input_limit``, bias rows and scale mode apply
    (``fits`` is ``max_abs`` here: the largest weight takes the top level);
    its ``scheme`` does not (differential slices use row pairs, offset slices
    one row per input).
    """

    drift_compensable = False  # an offset encoding's digital offsets are in output units, not gains

    def __init__(self, chip, name: str, n_in: int, n_out: int, slicing: WeightSlicing, bias: bool = True,
                 encoding=None, corner=None, column_groups=None, adc_full_scale: Optional[float] = None):
        if not isinstance(slicing, WeightSlicing):
            raise ValueError(f"slicing={slicing!r} is not allowed; a mapping.WeightSlicing is required")
        self.slicing = slicing
        if encoding is not None and getattr(encoding, "scale_by", "matrix") != "matrix":
            raise ValueError(f"{name}: encoding.scale_by={encoding.scale_by!r} is not allowed with sliced weights "
                             "(their integer levels share one weight step a matrix); 'matrix'")
        if corner is not None:
            raise ValueError(f"{name}: corner={corner!r} is not allowed with sliced weights (one tile set per "
                             "slice); leave the placement to first fit")
        super().__init__(chip, name, n_in, n_out, bias=bias, encoding=encoding, corner=None,
                         column_groups=column_groups, adc_full_scale=adc_full_scale)

    # ------------------------------------------------------------- placement
    @property
    def _differential(self) -> bool:
        return self.slicing.encoding == "differential"

    @property
    def level_step(self) -> float:
        """Conductance of one device level, S."""
        low, high = self.chip.device.programmable_range
        return (high - low) / (2 ** self.slicing.bits_per_slice - 1)

    def _place(self, corner, column_groups) -> List[Tile]:
        chip = self.chip
        per_rows = chip.array_rows // 2 if self._differential else chip.array_rows
        row_cuts = list(range(0, self.n_logical, per_rows)) + [self.n_logical]
        col_cuts = list(range(0, self.n_out, chip.array_cols)) + [self.n_out]
        pieces = [(s, (row_cuts[a], row_cuts[a + 1]), (col_cuts[b], col_cuts[b + 1]))
                  for s in range(self.slicing.n_slices)
                  for a in range(len(row_cuts) - 1) for b in range(len(col_cuts) - 1)]
        height = 2 if self._differential else 1
        shapes = [(height * (i[1] - i[0]), o[1] - o[0]) for _, i, o in pieces]
        where = chip.allocate(self.name, shapes)
        tiles = [SliceTile(k, r, c, i, o, s) for (k, r, c), (s, i, o) in zip(where, pieces)]
        for t in tiles:
            cols = (t.col0, t.col0 + t.n_outputs)
            if self._differential:
                chip.add_block(Block(self.name, f"slice {t.slice_index} +", t.array, (t.row0, t.row0 + t.n_inputs),
                                     cols))
                chip.add_block(Block(self.name, f"slice {t.slice_index} -", t.array,
                                     (t.row0 + t.n_inputs, t.row0 + 2 * t.n_inputs), cols))
            else:
                chip.add_block(Block(self.name, f"slice {t.slice_index}", t.array, (t.row0, t.row0 + t.n_inputs),
                                     cols))
        return tiles

    def _region(self, t: Tile) -> Tuple[slice, slice]:
        height = (2 if self._differential else 1) * t.n_inputs
        return slice(t.row0, t.row0 + height), slice(t.col0, t.col0 + t.n_outputs)

    # ----------------------------------------------------------- weights
    def quantize(self, weights, bias=None) -> Tuple[np.ndarray, float, RangeReport]:
        """The integer levels of ``[W; bias rows]`` (n_logical, n_out), the scale (S per unit weight) and
        the range report (levels beyond ``top`` are refused, or clipped with ``clip_weights``)."""
        logical = self._logical(weights, bias)
        top = self.slicing.top
        step = self.level_step
        # "fits" keeps Li et al.'s analog 100 uS only for pairs: levels use their whole range (max_abs)
        mode = "max_abs" if self.encoding.scale == "fits" else self.encoding.scale
        scale = choose_scale(dataclasses.replace(self.encoding, scale=mode), logical, (0.0, step * top))
        w_lsb = step / scale
        levels = np.rint(logical / w_lsb)
        outside = np.abs(levels) > top
        report = RangeReport(n_weights=int(logical.size), n_outside=int(np.count_nonzero(outside)),
                             max_weight=top * w_lsb, largest=float(np.max(np.abs(logical))),
                             clipped=bool(self.encoding.clip_weights and outside.any()))
        if report.n_outside and not self.encoding.clip_weights:
            raise ValueError(f"{self.name}: weights: {report}; {self.slicing.weight_bits}-bit weights at "
                             f"{scale * 1e6:.4g} uS per unit weight hold +-{top * w_lsb:.4g}. Choose another "
                             "scale or set clip_weights=True")
        return np.clip(levels, -top, top).astype(np.int64), scale, report

    def targets(self, levels: np.ndarray) -> List[np.ndarray]:
        """Each tile's target conductances (S) for integer ``levels`` (n_logical, n_out)."""
        low, _ = self.chip.device.programmable_range
        step = self.level_step
        digits = self.slicing.digits(levels)
        out = []
        for t in self.tiles:
            d = digits[t.slice_index][slice(*t.inputs), slice(*t.outputs)]
            if self._differential:
                out.append(np.concatenate((low + step * np.maximum(d, 0), low + step * np.maximum(-d, 0))))
            else:
                out.append(low + step * d)
        return out

    def program(self, weights, bias=None, method: str = "one_shot", **options) -> MappingReport:
        """Ex-situ: write the levels of ``W`` (and ``b``) slice by slice (see :meth:`MappedMatrix.program`)."""
        check_choice("method", method, ("one_shot", "write_verify"))
        levels, scale, report = self.quantize(weights, bias)
        self.scale = scale
        reports = []
        with self._counting():
            for t, target in zip(self.tiles, self.targets(levels)):
                rows, cols = self._region(t)
                reports.append(self.chip.arrays[t.array].program(target, method=method, rows=rows, cols=cols,
                                                                 **options))
        return MappingReport(scale, report, reports)

    def read_weights(self) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """The weights the hardware holds now, from a conductance read of every slice (with read noise)."""
        low, _ = self.chip.device.programmable_range
        step = self.level_step
        digits = np.zeros((self.slicing.n_slices, self.n_logical, self.n_out))
        with self._counting():
            for t in self.tiles:
                rows, cols = self._region(t)
                g = self.chip.arrays[t.array].read_conductance(rows, cols)
                held = (g[:t.n_inputs] - g[t.n_inputs:]) / step if self._differential else (g - low) / step
                digits[t.slice_index][slice(*t.inputs), slice(*t.outputs)] = held
        logical = self.slicing.levels(digits) * (step / self._scale())
        w = logical[:self.n_in]
        b = logical[self.n_in:].sum(axis=0) * self.encoding.bias_input if self.bias else None
        return w, b

    def apply_update(self, delta_weights, delta_bias=None):
        raise ValueError(f"{self.name}: in-situ updates of sliced weights are not supported (pulses move "
                         "analog conductances, not digits); program the weights ex situ")

    def initialize(self) -> None:
        raise ValueError(f"{self.name}: sliced weights start from programmed levels, not from an in-situ "
                         "initial state; program them ex situ")

    def calibrate_adc(self, x_samples, percentile: float = 100.0, margin: float = 1.0):
        raise ValueError(f"{self.name}: calibrate the ADCs of sliced weights by adc_full_scale_by(...) "
                         "and set_adc_full_scale(amperes)")

    # ------------------------------------------------------------- reads
    def reads(self) -> List[Read]:
        """One read per tile; each column adds into its output with its slice's weight ``2**(b s)``."""
        out = []
        for t in self.tiles:
            array = self.chip.arrays[t.array]
            n = t.n_inputs
            weight = float(self.slicing.slice_weights[t.slice_index])
            if self._differential:
                drives = (Drive((t.row0, t.row0 + n), t.inputs[0], 1), Drive((t.row0 + n, t.row0 + 2 * n),
                                                                               t.inputs[0], -1))
            else:
                drives = (Drive((t.row0, t.row0 + n), t.inputs[0], 1),)
            outputs = tuple((o, weight) for o in range(*t.outputs))
            out.append(Read(array, drives, (t.col0, t.col0 + t.n_outputs), outputs))
        return out

    def _plan_options(self) -> dict:
        if self._differential:
            return {}
        low, _ = self.chip.device.programmable_range
        e = self.encoding
        w_lsb = self.level_step / self._scale()
        per_volt = (low * float(self.slicing.slice_weights.sum()) / self.level_step + self.slicing.top) * w_lsb
        return {"input_sum_weights": np.full(self.n_out, per_volt / e.v_read)}

    # --------------------------------------------------------------- ADC
    def adc_full_scale_for(self, output_range: float) -> float:
        """The ADC full scale (A) at which the most significant slice converts ``+-output_range`` output
        units (less significant slices share it); offset slices add the floor and the offset's middle
        current of the largest drive."""
        check_range("output_range", output_range, 0.0, low_open=True)
        e = self.encoding
        msb = float(self.slicing.slice_weights[-1])
        signal = output_range * e.v_read * self._scale() / msb
        if self._differential:
            return signal
        low, high = self.chip.device.programmable_range
        return e.v_read * 0.5 * (low + high) * self._largest_drive() + signal

    def _range_by(self, mode: str, output_range: float = 6.0) -> float:
        """As :meth:`MappedMatrix.adc_full_scale_by`, for one slice's columns: ``array_max`` is every
        driven row at its largest digit, ``cell_step`` one device level at an input of 1."""
        check_choice("adc_range_by", mode, ADC_RANGE_MODES)
        if mode == "calibration":
            raise ValueError(f"{self.name}: sliced weights set their ADC range by outputs, array_max or "
                             "cell_step, not by calibration")
        e = self.encoding
        low, high = self.chip.device.programmable_range
        if mode == "outputs":
            return self.adc_full_scale_for(output_range)
        if mode == "array_max":
            return e.v_read * self._largest_drive() * ((high - low) if self._differential else high)
        if self.chip.adc_bits is None:
            raise ValueError(f"{self.name}: the chip has no ADCs (adc_bits=None)")
        return (2 ** (self.chip.adc_bits - 1) - 1) * e.v_read * self.level_step

    def state(self) -> dict:
        """As :meth:`MappedMatrix.state`, with the slicing."""
        return {**super().state(), "slicing": dataclasses.asdict(self.slicing)}

    def load_state(self, state: dict, source: str = "state") -> None:
        if isinstance(state, dict) and state.get("slicing") != dataclasses.asdict(self.slicing):
            raise ValueError(f"{source}: saved with slicing {state.get('slicing')!r}; this matrix has "
                             f"{dataclasses.asdict(self.slicing)!r}")
        super().load_state({k: v for k, v in state.items() if k != "slicing"}, source)
