"""MappedMatrix: the seam between a network and the arrays.

``matvec(x)`` returns what the hardware computes for ``x @ W + b``:
inputs to read voltages, through the DAC, the arrays (read noise, IR drop),
the column ADCs, the digital sum of row tiles and the rescale (by one scale a
matrix, or each output by its column's own, ``Encoding.scale_by``; times a drift
gain, :class:`mapping.drift_compensation.DriftCompensation`). Its placement
on the arrays is :class:`mapping.tiles.TilePlacement`'s, its ADCs' full scale
:class:`mapping.adc_ranging.AdcRanging`'s. Shapes: ``W``
is (n_in, n_out), ``x`` is (batch, n_in). Conductances in siemens, voltages
in volts, currents in amperes; weights and inputs are dimensionless.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from crossbar import ADC, ADC_RANGE_MODES, Drive, OperationCounts, ProgramReport, Read, ReadPlan
from crossbar.validation import as_bool_array, as_float_array, check_choice, check_int, check_range

from mapping.adc_ranging import AdcRanging
from mapping.chip import Chip
from mapping.drift_compensation import DriftCompensation
from mapping.encoding import (Encoding, RangeReport, bias_to_rows, choose_scales, pairs_to_weights, weights_to_pairs)
from mapping.pair_writes import CountedPulses
from mapping.tiles import Tile, TilePlacement

__all__ = ["ADC_RANGE_MODES", "MappedMatrix", "MappingReport", "Tile", "UpdateReport"]


@dataclass(frozen=True)
class MappingReport:
    """What ``program`` did: the scale (S per unit weight: a float, or one per column), the weights out of
    range, and each tile's programming."""

    scale: object
    range: RangeReport
    tiles: List[ProgramReport] = field(default_factory=list)

    def __str__(self) -> str:
        scale = (f"scale {self.scale * 1e6:.4g} uS per unit weight" if np.ndim(self.scale) == 0 else
                 f"scale per column {np.min(self.scale) * 1e6:.4g}..{np.max(self.scale) * 1e6:.4g} uS per unit weight")
        lines = [f"{scale}; {self.range}"]
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


class MappedMatrix(TilePlacement, AdcRanging, DriftCompensation, CountedPulses):
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
        self._plan: Optional[ReadPlan] = None
        self._plan_unit = None  # the output unit (A; a float, or one per output) the plan was made with
        self.output_gain: Optional[np.ndarray] = None  # digital gain per output (drift compensation), or None
        self.drift_reference: Optional[np.ndarray] = None

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
        scale = choose_scales(self.encoding, logical, conductance_range)
        clip = self.encoding.clip_weights or self.encoding.scale == "percentile"
        g_plus, g_minus, report = weights_to_pairs(logical, scale, conductance_range, clip)
        self.scale = scale
        self.output_gain = self.drift_reference = None  # new conductances: an earlier drift reference is stale
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
        """Bring every device of the matrix to its starting state, weights zero up to the noise
        (:meth:`crossbar.CrossbarArray.initialize`: Li et al.'s RESET and SET at 1.0 V for li2019)."""
        if self.scale is None:  # (no weights to choose from: every column at siemens_per_weight)
            self.scale = self.encoding.siemens_per_weight
        self.output_gain = self.drift_reference = None  # new conductances: an earlier drift reference is stale
        with self._counting():
            for t in self.tiles:
                rows, cols = self._region(t)
                self.chip.arrays[t.array].initialize(rows, cols)

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
                logical[slice(*t.inputs), slice(*t.outputs)] = pairs_to_weights(g_plus, g_minus, self._tile_scale(t))
        w = logical[:self.n_in]
        b = logical[self.n_in:].sum(axis=0) * self.encoding.bias_input if self.bias else None
        return w, b

    def _scale(self):
        """The scale, S per unit weight: a float, or an array (n_out,) with ``encoding.scale_by="column"``."""
        if self.scale is None:
            raise ValueError(f"{self.name}: the scale is chosen from the weights; program() them first")
        return self.scale

    def _tile_scale(self, t: Tile):
        """The scale of tile ``t``'s outputs (the matrix's float, or its columns' part of a scale per column)."""
        scale = self._scale()
        return scale if np.ndim(scale) == 0 else scale[slice(*t.outputs)]

    def _output_unit(self):
        """Amperes of an output of 1 for the read plan: ``v_read k``, one float for one scale without gain,
        else one per output (``v_read k_j / gain_j``: the scale per column and the drift gain restored
        digitally after the ADC)."""
        unit = self.encoding.v_read * self._scale()
        if self.output_gain is None:
            return unit
        return np.broadcast_to(unit, (self.n_out,)) / self.output_gain

    # ------------------------------------------------------------- product
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

    def _check_ready(self) -> float:
        scale = self._scale()
        if self.chip.adc_bits is not None and self.adc is None:
            raise ValueError(f"{self.name}: the chip has ADCs but this matrix's full scale is unset; "
                             "call calibrate_adc(x_samples) or set_adc_full_scale(amperes)")
        return scale

    def reads(self) -> List[Read]:
        """The physical reads of this matrix, one per tile (:class:`crossbar.Read`).

        Row pairs: the tile's ``G+`` rows driven at ``+V`` and its ``G-`` rows at
        ``-V``, each column into its output. Column pairs: the rows at ``+V``, the
        plus column into its output, the minus column subtracted from it.
        """
        out = []
        for t in self.tiles:
            array = self.chip.arrays[t.array]
            n = t.n_inputs
            if self._row_pairs:
                drives = (Drive((t.row0, t.row0 + n), t.inputs[0], 1), Drive((t.row0 + n, t.row0 + 2 * n),
                                                                              t.inputs[0], -1))
                outputs = tuple((o, 1) for o in range(*t.outputs))
            else:
                drives = (Drive((t.row0, t.row0 + n), t.inputs[0], 1),)
                outputs = tuple((t.outputs[0] + q // 2, 1 - 2 * (q % 2)) for q in range(2 * t.n_outputs))
            out.append(Read(array, drives, (t.col0, t.col0 + len(outputs)), outputs))
        return out

    def plan(self) -> ReadPlan:
        """The compiled read of this matrix (:class:`crossbar.ReadPlan`), current with the arrays.

        Made again when the ADC or the scale changes; refreshed in place when
        only the conductances changed.
        """
        self._check_ready()
        unit = self._output_unit()
        if self._plan is None or self._plan.adc is not self.adc or not _same_unit(self._plan_unit, unit):
            e = self.encoding
            self._plan = ReadPlan(self.reads(), self.n_in, self.n_out, volts_per_input=e.v_read,
                                  constant_input=e.bias_input, output_unit=unit, dac=self.chip.dac,
                                  adc=self.adc, **self._plan_options())
            self._plan_unit = unit
        return self._plan.current()

    def _ideal_plan(self) -> ReadPlan:
        """A read plan of this matrix without ADC, for its ideal read (:meth:`crossbar.ReadPlan.ideal_read`)
        before the ADC's range is set."""
        e = self.encoding
        return ReadPlan(self.reads(), self.n_in, self.n_out, volts_per_input=e.v_read, constant_input=e.bias_input,
                        output_unit=e.v_read * (1.0 if self.scale is None else self.scale), dac=self.chip.dac, adc=None,
                        **self._plan_options())

    def _plan_options(self) -> dict:
        """More arguments of the plan's :class:`crossbar.ReadPlan` (a subclass's digital corrections)."""
        return {}

    def matvec(self, x, reference: bool = False) -> np.ndarray:
        """What the hardware computes for ``x @ W + b``: one read of the matrix's plan (:meth:`plan`).

        Parameters
        ----------
        x : array_like, shape (batch, n_in)
            Inputs, dimensionless, within ``+-encoding.input_limit`` when the chip has a DAC.
        reference : bool
            Compute with the read's numpy twin, read by read (the same numbers, draws and counts).

        Returns
        -------
        ndarray, shape (batch, n_out)
        """
        x = self._check_inputs(x)
        return self.plan().read(x, reference=reference, counts=self.counters)

    def matvec_reference(self, x) -> np.ndarray:
        """:meth:`matvec` by the read's numpy twin: the reference of the compiled path."""
        return self.matvec(x, reference=True)

    def record_reads(self, calls: int, batch: int, saturated: np.ndarray, power: np.ndarray) -> None:
        """Count reads of :meth:`plan` run by a caller's compiled loop (see :meth:`crossbar.ReadPlan.record`)."""
        self.counters.accumulate(self.plan().record(calls, batch, saturated, power))

    # --------------------------------------------------------------- update
    def apply_update(self, delta_weights, delta_bias=None) -> UpdateReport:
        """In-situ: change the weights by about ``dW`` (and ``db``), asking the devices for conductance changes.

        Each pair's devices are asked to move by ``+k dW / 2`` (G+) and
        ``-k dW / 2`` (G-), ``k`` the scale (its column's ``k_j`` with a scale per
        column), so that ``G+ - G-`` moves by ``k dW``;
        the array's programming scheme (:meth:`crossbar.CrossbarArray.move`)
        turns that into its pulses. How far a weight really moves is the
        device's physics, not ``dW``: under Li et al.'s scheme every device of
        the matrix is SET again at every update (re-noised), and a raised
        device is not RESET first, so a small raise moves more than asked
        (see the README's measurements).

        Parameters
        ----------
        delta_weights : array_like, shape (n_in, n_out)
        delta_bias : array_like, shape (n_out,), when placed with a bias

        Returns
        -------
        UpdateReport
        """
        return self.apply_logical_update(self._logical(delta_weights, delta_bias))

    def logical_change(self, delta_weights, delta_bias=None) -> np.ndarray:
        """A change of the weights (and bias) as the change of this matrix's logical rows, shape
        (n_logical, n_out): the weight rows, then the bias rows (``db / (bias_input * bias_rows)`` each)."""
        return self._logical(delta_weights, delta_bias)

    def apply_logical_update(self, delta: np.ndarray, written: Optional[np.ndarray] = None) -> UpdateReport:
        """:meth:`apply_update` of a change of the logical rows (:meth:`logical_change`), shape
        (n_logical, n_out), weight units; ``written`` (bool, that shape), when given, selects the pairs
        written, the others left alone (not SET again under Li et al.'s scheme); a tile with none is skipped."""
        delta = as_float_array("delta", delta, shape=(self.n_logical, self.n_out))
        if written is not None:
            written = as_bool_array(f"{self.name}: written", written, delta.shape)
        half = 0.5 * self._scale() * delta  # siemens per device of a pair
        pulses = limited = 0
        with self._counting():
            for t in self.tiles:
                rows, cols = self._region(t)
                where = (slice(*t.inputs), slice(*t.outputs))
                d = half[where]
                pairs = None if written is None else self._join(written[where], written[where])
                if pairs is not None and not pairs.any():
                    continue
                try:  # (an array refuses devices that never had a SET gate voltage, touching none)
                    tile_pulses, tile_limited = self.chip.arrays[t.array].move(self._join(d, -d), rows, cols,
                                                                               written=pairs)
                except ValueError as error:
                    hint = ("; call initialize() or program() before apply_update()"
                            if "never programmed" in str(error) else "")
                    raise ValueError(f"{self.name}: {error}{hint}") from None
                pulses += tile_pulses
                limited += tile_limited
        return UpdateReport(pulses=pulses, n_limited=limited)

    # ------------------------------------------------------------ snapshot
    def state(self) -> dict:
        """This matrix's own state, JSON-ready: its scale (S per unit weight; a list with a scale per column), ADC
        full scale (A), counters, and its drift reference and gain when it has them.

        The devices belong to the chip (:meth:`mapping.Chip.state`).
        """
        state = {"name": self.name, "scale": self.scale if np.ndim(self.scale) == 0 else self.scale.tolist(),
                 "adc_full_scale": None if self.adc is None else self.adc.full_scale,
                 "counters": self.counters.to_dict()}
        state.update(self.drift_state())  # (nothing without a drift reference: older states stay as they were)
        return state

    def load_state(self, state: dict, source: str = "state") -> None:
        """Take a :meth:`state`; ``ValueError`` naming ``source`` when it is another matrix's or malformed."""
        if not isinstance(state, dict) or state.get("name") != self.name:
            got = state.get("name") if isinstance(state, dict) else state
            raise ValueError(f"{source}: the state of matrix {got!r}, not of {self.name!r}")
        scale = _checked_scale(state.get("scale"), self.n_out, f"{source}.scale")
        counters = OperationCounts.from_dict(state.get("counters"), f"{source}.counters")
        full_scale = state.get("adc_full_scale")
        if full_scale is not None:
            self.set_adc_full_scale(check_range(f"{source}.adc_full_scale", full_scale, 0.0, low_open=True,
                                                unit="A"))
        else:
            self.adc = None
        self.load_drift_state(state, source)
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


def _same_unit(a, b) -> bool:
    """Whether two output units (a float, or one per output; None: no plan yet) are the same."""
    if a is None or np.ndim(a) != np.ndim(b):
        return False
    return a == b if np.ndim(a) == 0 else bool(np.array_equal(a, b))


def _checked_scale(scale, n_out: int, source: str):
    """A saved scale: None, a float > 0 or a list of ``n_out`` of them (S per unit weight); ``ValueError``
    naming ``source`` otherwise."""
    if scale is None:
        return None
    if np.ndim(scale) == 0:
        return check_range(source, scale, 0.0, low_open=True, unit="S")
    scale = as_float_array(source, scale, shape=(n_out,))
    if not np.all(scale > 0.0):
        raise ValueError(f"{source}: every column's scale must be > 0 S; got {scale.min():.4g}")
    return scale
