"""How weights become conductances: differential pairs, the scale, bias rows.

A weight ``w`` is held by a pair of devices around the middle ``g_mid`` of the
device's programmable range: ``G+ = g_mid + k w / 2`` and ``G- = g_mid - k w / 2``,
so ``G+ - G- = k w`` with ``k`` the scale in siemens per unit weight (Li et al.:
100 uS). The largest weight a pair can hold is ``(g_high - g_low) / k``.

Two placements of the pair (``scheme``):

- ``row_pairs`` (Li et al. 2019): G+ in one block of rows driven by ``+V``, G-
  in a block below it driven by ``-V``; the column current is
  ``sum_i V_i (G+_i - G-_i)``, converted once.
- ``column_pairs``: G+ and G- in adjacent columns on the same rows, each column
  converted, then subtracted digitally.

Inputs ``x`` (dimensionless, ``|x| <= input_limit``) drive ``V = x * v_read``;
outputs come back as ``y = I / (v_read * k)``. Bias rows are driven at
``bias_input``. Conductances in siemens, voltages in volts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Optional, Tuple

import numpy as np

from crossbar.settings import setting
from crossbar.validation import check_choice, check_int, check_range

SCHEMES = ("row_pairs", "column_pairs")
SCALE_MODES = ("fixed", "fits", "max_abs", "percentile")
SCALE_BY = ("matrix", "column")
"""What one scale covers (``Encoding.scale_by``): the whole matrix, or each output column on its own."""


@dataclass(frozen=True)
class Encoding:
    """Configuration of the weight-to-conductance encoding. Validated when built.

    Parameters
    ----------
    scheme : {"row_pairs", "column_pairs"}
        Where the two devices of a pair sit (see the module text).
    scale : {"fixed", "fits", "max_abs", "percentile"}
        ``fixed``: ``k = siemens_per_weight``. ``fits`` (the default):
        ``siemens_per_weight`` when every weight fits the pairs' range at it,
        else ``max_abs``: Li et al.'s 100 uS per unit weight for networks that
        fit, and any other network still programs. ``max_abs``: ``k`` such
        that the largest weight (bias included) uses the whole programmable
        range. ``percentile``: such that the given percentile of ``|w|`` does;
        larger weights are clipped and reported.
    scale_by : {"matrix", "column"}
        ``matrix``: one scale ``k`` for the whole matrix. ``column``: each
        output column ``j`` its own ``k_j``, chosen by ``scale`` from column
        ``j``'s weights (its bias row included), restored digitally after the
        ADC (output ``j`` is divided by ``v_read k_j``), so a column of small
        weights is not programmed at the scale a few large weights elsewhere
        set (below the programming noise). Bit-sliced weights take ``matrix`` only.
    siemens_per_weight : float
        ``k`` of the fixed scale, S per unit weight (Li et al.: 100 uS).
    percentile : float
        Percentile of ``|w|`` for the ``percentile`` scale, in (0, 100].
    clip_weights : bool
        Clip weights the pairs cannot hold instead of raising ``ValueError``.
    v_read : float
        Read voltage of an input of 1, volts (Li et al.: 0.2 V).
    input_limit : float
        Largest ``|x|`` accepted (the DAC's range is ``input_limit * v_read``).
    bias_input : float
        Input value driving the bias rows (dimensionless, ``0 < b <= input_limit``).
    bias_rows : int
        Rows given to a bias; the bias is shared evenly among them.
    """

    SECTION: ClassVar[str] = "encoding"
    NEW_FIELDS_AT_DEFAULT: ClassVar[dict] = {"scale_by": "matrix"}
    """Fields added after chips were first saved: written only when set otherwise (saved chips and results
    keep the form they had)."""

    scheme: str = setting("row_pairs", choices=SCHEMES, doc="where the two devices of a pair sit")
    scale: str = setting("fits", choices=SCALE_MODES, doc="how the scale is chosen")
    scale_by: str = setting("matrix", choices=SCALE_BY, written_at_default=False,
                            doc="one scale a matrix, or one a column restored digitally after the ADC")
    siemens_per_weight: float = setting(100e-6, unit="S", doc="conductance per unit weight of the fixed scale")
    percentile: float = setting(99.0, unit="%", doc="percentile of |w| that sets the percentile scale")
    clip_weights: bool = setting(False, doc="clip weights the pairs cannot hold", listed=False)
    v_read: float = setting(0.2, unit="V", doc="read voltage of an input of 1")
    input_limit: float = setting(1.0, unit="1", doc="largest |input| accepted")
    bias_input: float = setting(1.0, unit="1", doc="drive of the bias rows")
    bias_rows: int = setting(1, unit="rows", doc="rows given to a bias")

    def __post_init__(self):
        check_choice("encoding.scheme", self.scheme, SCHEMES)
        check_choice("encoding.scale", self.scale, SCALE_MODES)
        check_choice("encoding.scale_by", self.scale_by, SCALE_BY)
        check_range("encoding.siemens_per_weight", self.siemens_per_weight, 0.0, low_open=True, unit="S")
        check_range("encoding.percentile", self.percentile, 0.0, 100.0, low_open=True)
        if not isinstance(self.clip_weights, bool):
            raise ValueError(f"encoding.clip_weights={self.clip_weights!r} is not allowed; True or False")
        check_range("encoding.v_read", self.v_read, 0.0, low_open=True, unit="V")
        check_range("encoding.input_limit", self.input_limit, 0.0, low_open=True)
        check_range("encoding.bias_input", self.bias_input, 0.0, self.input_limit, low_open=True)
        check_int("encoding.bias_rows", self.bias_rows, 1, 64)


@dataclass(frozen=True)
class RangeReport:
    """Weights that did not fit the pairs' range.

    Attributes
    ----------
    n_weights : int
        Weights (bias rows included) checked.
    n_outside : int
        How many lie beyond ``max_weight``.
    max_weight : float
        Largest ``|w|`` a pair can hold at this scale.
    largest : float
        Largest ``|w|`` asked for.
    clipped : bool
        Whether the outside weights were clipped (else nothing was programmed).
    """

    n_weights: int
    n_outside: int
    max_weight: float
    largest: float
    clipped: bool

    def __str__(self) -> str:
        if self.n_outside == 0:
            return f"all {self.n_weights} weights within +-{self.max_weight:.4g}"
        return (f"{self.n_outside} of {self.n_weights} weights beyond +-{self.max_weight:.4g} "
                f"(largest {self.largest:.4g}, {self.largest / self.max_weight:.2f}x)"
                + (", clipped" if self.clipped else ""))


def choose_scale(encoding: Encoding, weights: np.ndarray, conductance_range: Tuple[float, float]) -> float:
    """Siemens per unit weight for ``weights`` under ``encoding`` (S)."""
    low, high = conductance_range
    if encoding.scale == "fixed":
        return encoding.siemens_per_weight
    magnitude = np.abs(weights)
    if encoding.scale == "fits":
        if float(np.max(magnitude)) <= (high - low) / encoding.siemens_per_weight:
            return encoding.siemens_per_weight
        return choose_scale(replace(encoding, scale="max_abs"), weights, conductance_range)
    reference = (float(np.max(magnitude)) if encoding.scale == "max_abs"
                 else float(np.percentile(magnitude, encoding.percentile)))
    if reference <= 0.0:
        return encoding.siemens_per_weight  # all zero: any scale holds them
    return (high - low) / reference


def choose_scales(encoding: Encoding, weights: np.ndarray, conductance_range: Tuple[float, float]):
    """The scale of ``weights`` (n_logical, n_out) as ``encoding.scale_by`` says: one float (S per unit
    weight, :func:`choose_scale`), or for ``column`` an array (n_out,) of each column's own."""
    if encoding.scale_by == "matrix":
        return choose_scale(encoding, weights, conductance_range)
    return np.array([choose_scale(encoding, weights[:, j], conductance_range) for j in range(weights.shape[1])])


def weights_to_pairs(weights: np.ndarray, scale: float, conductance_range: Tuple[float, float],
                     clip: bool) -> Tuple[np.ndarray, np.ndarray, RangeReport]:
    """Conductances (G+, G-) in siemens of a weight array, and its range report.

    Raises
    ------
    ValueError
        If weights lie beyond the pairs' range and ``clip`` is False; the
        message says how many and by how much.
    """
    low, high = conductance_range
    middle = 0.5 * (low + high)
    max_weight = (high - low) / scale  # per column (n_out,) for a scale per column
    magnitude = np.abs(weights)
    outside = magnitude > max_weight * (1 + 1e-12)
    holds = max_weight if np.ndim(scale) == 0 else float(np.min(max_weight))  # (the tightest column's)
    report = RangeReport(n_weights=int(weights.size), n_outside=int(np.count_nonzero(outside)),
                         max_weight=holds, largest=float(magnitude.max()), clipped=bool(clip and outside.any()))
    if report.n_outside and not clip:
        raise ValueError(f"weights: {report}; at {np.max(scale) * 1e6:.4g} uS per unit weight the device pairs "
                         f"hold +-{holds:.4g}. Choose another scale or set clip_weights=True")
    w = np.clip(weights, -max_weight, max_weight)
    g_plus, g_minus = middle + 0.5 * scale * w, middle - 0.5 * scale * w
    if np.ndim(scale):  # every column's largest weight sits on the range's ends: keep its rounding inside
        g_plus, g_minus = np.clip(g_plus, low, high), np.clip(g_minus, low, high)
    return g_plus, g_minus, report


def pairs_to_weights(g_plus: np.ndarray, g_minus: np.ndarray, scale: float) -> np.ndarray:
    """Weights held by pairs of conductances (S): ``(G+ - G-) / k`` (``k`` a float, or one per column)."""
    return (g_plus - g_minus) / scale


def bias_to_rows(bias: Optional[np.ndarray], encoding: Encoding) -> np.ndarray:
    """Weights of the bias rows, shape (bias_rows, n_out): ``b / (bias_input * bias_rows)`` each."""
    return np.repeat((bias / (encoding.bias_input * encoding.bias_rows))[None, :], encoding.bias_rows, axis=0)
