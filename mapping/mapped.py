"""MappedMatrix: the seam between a network and the arrays.

``matvec(x)`` returns what the hardware computes for ``x @ W + b``:
inputs to read voltages, through the DAC, the arrays (read noise, IR drop),
the column ADCs, the digital sum of row tiles and the rescale. Shapes: ``W``
is (n_in, n_out), ``x`` is (batch, n_in). Conductances in siemens, voltages
in volts, currents in amperes; weights and inputs are dimensionless.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from crossbar import ADC, OperationCounts, ProgramReport
from crossbar.validation import as_float_array, check_choice, check_int, check_range

from .chip import Chip
from .encoding import (Encoding, RangeReport, bias_to_rows, choose_scale, pairs_to_weights,
                       weights_to_pairs)
from .layout import Block
from .plan import ProductPlan


@dataclass(frozen=True)
class Tile:
    """One piece of a matrix on one array.

    ``inputs`` and ``outputs`` are half-open ranges of the logical matrix
    (rows ``[x; bias]``, columns outputs); ``row0``, ``col0`` the 0-based corner.
    """

    array: int
    row0: int
    col0: int
    inputs: Tuple[int, int]
    outputs: Tuple[int, int]

    @property
    def n_inputs(self) -> int:
        return self.inputs[1] - self.inputs[0]

    @property
    def n_outputs(self) -> int:
        return self.outputs[1] - self.outputs[0]


@dataclass(frozen=True)
class MappingReport:
    """What ``program`` did: the scale, the weights out of range, and each tile's programming."""

    scale: float
    range: RangeReport
    tiles: List[ProgramReport] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"scale {self.scale * 1e6:.4g} uS per unit weight; {self.range}"]
        lines += [f"  tile {k}: {r}" for k, r in enumerate(self.tiles)]
        return "\n".join(lines)


@dataclass(frozen=True)
class UpdateReport:
    """What ``apply_update`` did.

    Attributes
    ----------
    pulses : int
        Programming pulses sent.
    n_limited : int
        Devices whose requested change hit a limit (the gate-voltage range of a
        two-pulse device, or a whole number of pulses rounding to zero is not
        counted; saturation of a pulse device at its window is physics, not
        counted here).
    """

    pulses: int
    n_limited: int


class MappedMatrix:
    """A weight matrix (and optional bias) placed on a chip's arrays.

    Parameters
    ----------
    chip : Chip
    name : str
        Label in the layout (``"lstm"``, ``"dense"``...).
    n_in, n_out : int
        Shape of ``W``.
    bias : bool
        Whether bias rows are placed.
    encoding : Encoding, optional
    corner : (array, row, col), optional
        0-based corner for a matrix that fits one array (Li et al. place the
        LSTM at column 1 and the dense layer beside it); otherwise first fit.
    column_groups : sequence of (str, int), optional
        Names and widths of consecutive output groups, for the layout only
        (an LSTM: ``[("i", h), ("f", h), ("g", h), ("o", h)]``).
    adc_full_scale : float, optional
        Full scale of this matrix's column ADCs, amperes (when the chip has
        ADCs); else call :meth:`calibrate_adc` before the first product.
    """

    def __init__(self, chip: Chip, name: str, n_in: int, n_out: int, bias: bool = True,
                 encoding: Optional[Encoding] = None, corner: Optional[Tuple[int, int, int]] = None,
                 column_groups: Optional[Sequence[Tuple[str, int]]] = None,
                 adc_full_scale: Optional[float] = None):
        if not isinstance(chip, Chip):
            raise ValueError(f"chip={chip!r} is not allowed; a mapping.Chip is required")
        self.chip = chip
        self.name = str(name)
        self.n_in = check_int("n_in", n_in, 1)
        self.n_out = check_int("n_out", n_out, 1)
        self.bias = bool(bias)
        self.encoding = Encoding() if encoding is None else encoding
        if not isinstance(self.encoding, Encoding):
            raise ValueError(f"encoding={encoding!r} is not allowed; a mapping.Encoding is required")
        self.n_bias = self.encoding.bias_rows if self.bias else 0
        self.n_logical = self.n_in + self.n_bias
        self.scale = self.encoding.siemens_per_weight if self.encoding.scale == "fixed" else None
        self.counters = OperationCounts()
        self.adc: Optional[ADC] = None
        if adc_full_scale is not None:
            self.set_adc_full_scale(adc_full_scale)
        self.tiles = self._place(corner, column_groups)
        self._arrays_used = tuple(sorted({t.array for t in self.tiles}))
        self._plan: Optional[ProductPlan] = None

    # ------------------------------------------------------------- placement
    @property
    def _row_pairs(self) -> bool:
        return self.encoding.scheme == "row_pairs"

    def _physical(self, n_inputs: int, n_outputs: int) -> Tuple[int, int]:
        return (2 * n_inputs, n_outputs) if self._row_pairs else (n_inputs, 2 * n_outputs)

    def _place(self, corner, column_groups) -> List[Tile]:
        chip = self.chip
        per_rows = chip.array_rows // 2 if self._row_pairs else chip.array_rows
        per_cols = chip.array_cols if self._row_pairs else chip.array_cols // 2
        row_cuts = list(range(0, self.n_logical, per_rows)) + [self.n_logical]
        col_cuts = list(range(0, self.n_out, per_cols)) + [self.n_out]
        pieces = [((row_cuts[a], row_cuts[a + 1]), (col_cuts[b], col_cuts[b + 1]))
                  for a in range(len(row_cuts) - 1) for b in range(len(col_cuts) - 1)]
        shapes = [self._physical(i[1] - i[0], o[1] - o[0]) for i, o in pieces]
        where = chip.allocate(self.name, shapes, corner)
        tiles = [Tile(k, r, c, i, o) for (k, r, c), (i, o) in zip(where, pieces)]
        groups = self._groups(column_groups)
        for t in tiles:
            for part, rows, cols in self._parts(t, groups):
                chip.add_block(Block(self.name, part, t.array, rows, cols))
        return tiles

    def _groups(self, column_groups):
        if column_groups is None:
            return [("", 0, self.n_out)]
        groups, start = [], 0
        for label, width in column_groups:
            groups.append((f" [{label}]", start, start + int(width)))
            start += int(width)
        if start != self.n_out:
            raise ValueError(f"column_groups cover {start} outputs; n_out={self.n_out} required")
        return groups

    def _parts(self, t: Tile, groups):
        """(part name, row range, col range) of every block of a tile."""
        weights = (t.inputs[0], min(t.inputs[1], self.n_in))
        biases = (max(t.inputs[0], self.n_in), t.inputs[1])
        for suffix, g0, g1 in groups:
            lo, hi = max(g0, t.outputs[0]), min(g1, t.outputs[1])
            if lo >= hi:
                continue
            c0, c1 = lo - t.outputs[0], hi - t.outputs[0]
            if self._row_pairs:
                cols = (t.col0 + c0, t.col0 + c1)
                for sign, offset in (("+", 0), ("-", t.n_inputs)):
                    for kind, (a, b) in (("W", weights), ("b", biases)):
                        if a < b:
                            rows = (t.row0 + offset + a - t.inputs[0], t.row0 + offset + b - t.inputs[0])
                            yield f"{kind}{sign}{suffix}", rows, cols
            else:
                cols = (t.col0 + 2 * c0, t.col0 + 2 * c1)
                for kind, (a, b) in (("W", weights), ("b", biases)):
                    if a < b:
                        yield f"{kind}+-{suffix}", (t.row0 + a - t.inputs[0], t.row0 + b - t.inputs[0]), cols

    def _region(self, t: Tile) -> Tuple[slice, slice]:
        h, w = self._physical(t.n_inputs, t.n_outputs)
        return slice(t.row0, t.row0 + h), slice(t.col0, t.col0 + w)

    def _split(self, g: np.ndarray, t: Tile) -> Tuple[np.ndarray, np.ndarray]:
        """(G+, G-) of a tile's region, each (n_inputs, n_outputs)."""
        if self._row_pairs:
            return g[:t.n_inputs], g[t.n_inputs:]
        return g[:, 0::2], g[:, 1::2]

    def _join(self, g_plus: np.ndarray, g_minus: np.ndarray) -> np.ndarray:
        """A tile's region from its (G+, G-)."""
        if self._row_pairs:
            return np.concatenate((g_plus, g_minus))
        region = np.empty((g_plus.shape[0], 2 * g_plus.shape[1]))
        region[:, 0::2], region[:, 1::2] = g_plus, g_minus
        return region

    @contextmanager
    def _counting(self):
        """Add the arrays' work done inside the block to this matrix's counters."""
        arrays = [self.chip.arrays[k] for k in self._arrays_used]  # the block touches only these
        before = [a.counters.copy() for a in arrays]
        try:
            yield
        finally:
            for a, b in zip(arrays, before):
                self.counters.accumulate_change(a.counters, b)

    # ----------------------------------------------------------- weights
    def _logical(self, weights, bias) -> np.ndarray:
        w = as_float_array("weights", weights, shape=(self.n_in, self.n_out))
        if self.bias:
            if bias is None:
                raise ValueError(f"{self.name}: bias of shape ({self.n_out},) is required (placed with bias=True)")
            b = as_float_array("bias", bias, shape=(self.n_out,))
            return np.concatenate((w, bias_to_rows(b, self.encoding)))
        if bias is not None:
            raise ValueError(f"{self.name}: a bias was given but the matrix was placed with bias=False")
        return w

    def program(self, weights, bias=None, method: str = "one_shot", **options) -> MappingReport:
        """Ex-situ: write ``W`` (and ``b``) into the arrays.

        Parameters
        ----------
        weights : array_like, shape (n_in, n_out)
        bias : array_like, shape (n_out,), when placed with a bias
        method : {"one_shot", "write_verify"}
        options
            Passed to :meth:`crossbar.CrossbarArray.program` (``tolerance``,
            ``max_rounds``, ``verify_margin_sigmas``).

        Returns
        -------
        MappingReport
        """
        check_choice("method", method, ("one_shot", "write_verify"))
        logical = self._logical(weights, bias)
        conductance_range = self.chip.device.programmable_range
        scale = choose_scale(self.encoding, logical, conductance_range)
        clip = self.encoding.clip_weights or self.encoding.scale == "percentile"
        g_plus, g_minus, report = weights_to_pairs(logical, scale, conductance_range, clip)
        self.scale = scale
        reports = []
        with self._counting():
            for t in self.tiles:
                rows, cols = self._region(t)
                i, o = slice(*t.inputs), slice(*t.outputs)
                target = self._join(g_plus[i, o], g_minus[i, o])
                reports.append(self.chip.arrays[t.array].program(target, method=method, rows=rows, cols=cols,
                                                                 **options))
        return MappingReport(scale, report, reports)

    def initialize(self) -> None:
        """Bring every device of the matrix to its starting state, weights zero.

        Two-pulse devices: RESET and SET at the scheme's ``initial_gate_voltage``
        (Li et al.: 1.0 V, about 218 uS) as the authors' simulator does; other
        devices: one-shot to the middle of the programmable range.
        """
        scheme = self.chip.device.two_pulse
        low, high = self.chip.device.programmable_range
        level = float(scheme.set_conductance(scheme.initial_gate_voltage)) if scheme else 0.5 * (low + high)
        if self.scale is None:
            self.scale = self.encoding.siemens_per_weight
        with self._counting():
            for t in self.tiles:
                rows, cols = self._region(t)
                shape = self._physical(t.n_inputs, t.n_outputs)
                self.chip.arrays[t.array].program(np.full(shape, level), rows=rows, cols=cols)

    def read_weights(self) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """The weights the hardware holds now, from a conductance read (with read noise).

        Returns
        -------
        W : ndarray, shape (n_in, n_out)
        b : ndarray, shape (n_out,), or None without bias
        """
        logical = np.empty((self.n_logical, self.n_out))
        with self._counting():
            for t in self.tiles:
                rows, cols = self._region(t)
                g_plus, g_minus = self._split(self.chip.arrays[t.array].read_conductance(rows, cols), t)
                logical[slice(*t.inputs), slice(*t.outputs)] = pairs_to_weights(g_plus, g_minus, self._scale())
        w = logical[:self.n_in]
        b = logical[self.n_in:].sum(axis=0) * self.encoding.bias_input if self.bias else None
        return w, b

    def _scale(self) -> float:
        if self.scale is None:
            raise ValueError(f"{self.name}: the scale is chosen from the weights; program() them first")
        return self.scale

    # ------------------------------------------------------------- product
    def set_adc_full_scale(self, full_scale: float) -> None:
        """Set the full scale (A) of this matrix's column ADCs (chip with ADCs only)."""
        if self.chip.adc_bits is None:
            raise ValueError(f"{self.name}: the chip has no ADCs (adc_bits=None)")
        self.adc = ADC(bits=self.chip.adc_bits, full_scale=full_scale)

    def calibrate_adc(self, x_samples, percentile: float = 100.0, margin: float = 1.0) -> ADC:
        """Choose the ADC full scale from the currents that sample inputs give now.

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
        currents = [self._drive(t, x, noise_free=True) for t in self.tiles]
        self.adc = ADC.calibrated(np.concatenate([c.ravel() for c in currents]), bits=self.chip.adc_bits,
                                  percentile=percentile, margin=margin)
        return self.adc

    def _check_inputs(self, x) -> np.ndarray:
        x = as_float_array("x", x, shape=(None, self.n_in))
        self.check_input_range(x)
        return x

    def check_input_range(self, x: np.ndarray) -> None:
        """Raise ``ValueError`` for inputs (any shape, finite) the DAC cannot drive (unless it clips)."""
        limit = self.encoding.input_limit
        # max and min: two passes without the temporary |x| (a layer's whole sequence is checked at once)
        if self.chip.dac is not None and not self.chip.dac.clip and (np.max(x) > limit or np.min(x) < -limit):
            raise ValueError(f"x: {int(np.count_nonzero(np.abs(x) > limit))} input(s) beyond +-{limit:g} "
                             f"(largest {np.max(np.abs(x)):.4g}); the DAC drives at most {limit:g} x v_read. "
                             "Scale the inputs")

    def _drive(self, t: Tile, x: np.ndarray, noise_free: bool = False) -> np.ndarray:
        """Column currents (A) of one tile for inputs ``x`` (batch, n_in), before the ADC."""
        e = self.encoding
        array = self.chip.arrays[t.array]
        batch = x.shape[0]
        rows, cols = self._region(t)
        inputs = np.empty((batch, t.n_inputs))
        n_x = max(0, min(t.inputs[1], self.n_in) - t.inputs[0])
        inputs[:, :n_x] = x[:, t.inputs[0]:t.inputs[0] + n_x]
        inputs[:, n_x:] = e.bias_input
        voltages = np.zeros((batch, array.rows))
        if self._row_pairs:
            voltages[:, t.row0:t.row0 + t.n_inputs] = inputs * e.v_read
            voltages[:, t.row0 + t.n_inputs:t.row0 + 2 * t.n_inputs] = -inputs * e.v_read
        else:
            voltages[:, t.row0:t.row0 + t.n_inputs] = inputs * e.v_read
        if noise_free:
            g = array.conductance
            if array.peripherals.dac is not None:
                voltages = array.peripherals.dac.convert(voltages)
            return voltages @ g[:, cols]
        return array.mvm(voltages)[:, cols]

    def _check_ready(self) -> float:
        scale = self._scale()
        if self.chip.adc_bits is not None and self.adc is None:
            raise ValueError(f"{self.name}: the chip has ADCs but this matrix's full scale is unset; "
                             "call calibrate_adc(x_samples) or set_adc_full_scale(amperes)")
        return scale

    @property
    def can_plan(self) -> bool:
        """Whether the compiled product applies (it does not model IR drop: with wires, tile by tile)."""
        return self.chip.peripherals.wires is None

    def plan(self) -> ProductPlan:
        """The compiled product of the conductances now (made again only after they change)."""
        self._check_ready()
        if not self.can_plan:
            raise ValueError(f"{self.name}: the compiled product does not model wire resistance; "
                             "use matvec_by_tile")
        if self._plan is None or not self._plan.settings_current():
            self._plan = ProductPlan(self)
        elif not self._plan.is_current():
            self._plan.refill()
        return self._plan

    def matvec(self, x) -> np.ndarray:
        """What the hardware computes for ``x @ W + b``.

        One compiled call over all tiles (:class:`~mapping.plan.ProductPlan`);
        with wire resistance, tile by tile (:meth:`matvec_by_tile`). Both give
        the same numbers from the same generators.

        Parameters
        ----------
        x : array_like, shape (batch, n_in)
            Inputs, dimensionless, within ``+-encoding.input_limit`` when the chip has a DAC.

        Returns
        -------
        ndarray, shape (batch, n_out)
        """
        if not self.can_plan:
            return self.matvec_by_tile(x)
        x = self._check_inputs(x)
        return self.plan().product(x)

    def matvec_by_tile(self, x) -> np.ndarray:
        """:meth:`matvec` computed tile by tile through ``CrossbarArray.mvm`` (the reference path)."""
        x = self._check_inputs(x)
        scale = self._check_ready()
        y = np.zeros((x.shape[0], self.n_out))
        with self._counting():
            for t in self.tiles:
                current = self._drive(t, x)
                if not self._row_pairs:
                    if self.adc is not None:
                        current = self._convert(current)
                    current = current[:, 0::2] - current[:, 1::2]
                elif self.adc is not None:
                    current = self._convert(current)
                y[:, slice(*t.outputs)] += current  # row tiles: partial sums added digitally
        return y / (self.encoding.v_read * scale)

    def _convert(self, current: np.ndarray) -> np.ndarray:
        converted, saturated = self.adc.convert(current)
        self.counters.adc_conversions += current.size
        self.counters.adc_saturations += int(saturated)
        return converted

    # --------------------------------------------------------------- update
    def apply_update(self, delta_weights, delta_bias=None) -> UpdateReport:
        """In-situ: change the weights by ``dW`` (and ``db``) with programming pulses.

        Two-pulse devices (``li2019``), Li et al.'s scheme: each pair's gate
        voltages move by ``+-k dW / (2 * gate_slope)`` so that the weight moves by
        ``dW`` (the authors' simulator moved each device by ``k dW``, the weight by
        ``2 dW``); gate voltages stay within the scheme's range (the change is
        cut there and counted in ``n_limited``); devices whose gate voltage goes
        down are RESET first; then every device of the matrix gets its SET pulse,
        changed or not, as in the authors' simulator, so all are re-noised.

        Pulse devices: each device of a pair gets ``round(k |dW| / (2 step))``
        pulses, potentiating G+ and depressing G- for a positive ``dW``.

        Parameters
        ----------
        delta_weights : array_like, shape (n_in, n_out)
        delta_bias : array_like, shape (n_out,), when placed with a bias

        Returns
        -------
        UpdateReport
        """
        delta = self._logical(delta_weights, delta_bias)
        scale = self._scale()
        scheme = self.chip.device.two_pulse
        pulses = limited = 0
        with self._counting():
            for t in self.tiles:
                array = self.chip.arrays[t.array]
                rows, cols = self._region(t)
                d = delta[slice(*t.inputs), slice(*t.outputs)]
                if scheme is not None:
                    step = scale * d / (2.0 * scheme.gate_slope)
                    try:  # (the array refuses devices that never had a SET gate voltage, touching none)
                        tile_pulses, tile_limited = array.step_gate_voltages(self._join(step, -step), rows, cols)
                    except ValueError as error:
                        raise ValueError(f"{self.name}: {error}; call initialize() or program() "
                                         "before apply_update()") from None
                    pulses += tile_pulses
                    limited += tile_limited
                else:
                    law = self.chip.device.pulse_law
                    change = 0.5 * scale * d
                    n_plus = np.where(change >= 0, np.rint(change / law.step_up), np.rint(change / law.step_down))
                    n_minus = np.where(change >= 0, -np.rint(change / law.step_down),
                                       -np.rint(change / law.step_up))
                    n = np.zeros(array.shape, dtype=np.int64)
                    n[rows, cols] = self._join(n_plus, n_minus).astype(np.int64)
                    pulses += array.apply_pulses(n)
        return UpdateReport(pulses=pulses, n_limited=limited)

    # ------------------------------------------------------------ snapshot
    def state(self) -> dict:
        """This matrix's own state, JSON-ready: its scale (S per unit weight), ADC full scale (A) and counters.

        The devices belong to the chip (:meth:`mapping.Chip.state`).
        """
        return {"name": self.name, "scale": self.scale,
                "adc_full_scale": None if self.adc is None else self.adc.full_scale,
                "counters": self.counters.to_dict()}

    def load_state(self, state: dict, source: str = "state") -> None:
        """Take a :meth:`state`; ``ValueError`` naming ``source`` when it is another matrix's or malformed."""
        if not isinstance(state, dict) or state.get("name") != self.name:
            got = state.get("name") if isinstance(state, dict) else state
            raise ValueError(f"{source}: the state of matrix {got!r}, not of {self.name!r}")
        scale = state.get("scale")
        if scale is not None:
            scale = check_range(f"{source}.scale", scale, 0.0, low_open=True, unit="S")
        counters = OperationCounts.from_dict(state.get("counters"), f"{source}.counters")
        full_scale = state.get("adc_full_scale")
        if full_scale is not None:
            self.set_adc_full_scale(check_range(f"{source}.adc_full_scale", full_scale, 0.0, low_open=True,
                                                unit="A"))
        else:
            self.adc = None
        self.scale = scale
        self.counters = counters

    # ---------------------------------------------------------------- costs
    def energy(self) -> float:
        """Energy of the work this matrix did so far, joules."""
        return self.counters.energy(self.chip.costs)

    def latency(self) -> float:
        """Time of the work this matrix did so far if nothing overlaps, seconds."""
        return self.counters.latency(self.chip.costs)

    @property
    def arrays_used(self) -> List[int]:
        """Indices of the chip's arrays that hold this matrix's tiles, ascending."""
        return list(self._arrays_used)

    def __repr__(self) -> str:
        return (f"MappedMatrix({self.name!r}, {self.n_in}x{self.n_out}{' + bias' if self.bias else ''}, "
                f"{len(self.tiles)} tile(s) on arrays {self.arrays_used}, {self.encoding.scheme})")
