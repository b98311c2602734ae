"""How weights go onto a chip, in one spec (:class:`MappingSpec`: encoding, slicing, placement, the ADCs'
ranging), and the experiment file's ``[slicing]`` section (:class:`SlicingSpec`).

The experiment file keeps its sections: ``[encoding]`` is :class:`mapping.Encoding` itself, ``[slicing]``
:class:`SlicingSpec`, and the ranging rule stays in ``[adc]`` (``adc.range``, ``adc.range_by``: the fields of
:class:`crossbar.AdcSpec`, whose dotted names results files and sweeps already hold);
:attr:`mapping.ChipSpec.mapping` gathers them into a :class:`MappingSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from crossbar import ADC_RANGE_MODES
from crossbar.settings import check_settings, setting
from crossbar.validation import check_choice, check_range

from mapping.chip import Chip
from mapping.encoding import Encoding
from mapping.mapped import MappedMatrix
from mapping.sliced import SLICE_ENCODINGS, SlicedMatrix, WeightSlicing


@dataclass(frozen=True)
class SlicingSpec:
    """Bit slicing of the weights: ``weight_bits`` integers over slices of ``bits_per_slice`` (None: analog
    pairs), each slice ``differential`` or ``offset`` (:class:`mapping.WeightSlicing`). The inputs' bits are
    the DAC's (``[dac] inputs``)."""

    SECTION: ClassVar[str] = "slicing"

    weight_bits: Optional[int] = setting(None, unit="bits", low=2, high=16, written_at_default=False,
                                         doc="weight resolution including the sign (omit: analog pairs)")
    bits_per_slice: int = setting(2, unit="bits", doc="bits one device holds", low=1, high=8,
                                  written_at_default=False)
    encoding: str = setting("differential", choices=SLICE_ENCODINGS, written_at_default=False,
                            doc="how a slice holds signed digits")

    def __post_init__(self):
        check_settings(self)
        self.weights()

    def weights(self) -> Optional[WeightSlicing]:
        """The :class:`mapping.WeightSlicing`, or None for analog weights."""
        if self.weight_bits is None:
            return None
        return WeightSlicing(self.weight_bits, self.bits_per_slice, self.encoding)


@dataclass(frozen=True)
class MappingSpec:
    """How a network's weights go onto a chip (validated when built).

    Parameters
    ----------
    encoding : mapping.Encoding
        Differential pairs, the weight-to-conductance scale and the bias rows.
    slicing : SlicingSpec
        Weights as integers in bit slices (``weight_bits`` None: analog pairs).
    corners : dict, optional
        Placement: matrix name -> 0-based (array, row, col) corner of a matrix that fits one array; the
        others first fit (:meth:`mapping.Chip.allocate`). Not with sliced weights (a tile set per slice).
    adc_range : float
        Full scale of each matrix's column ADCs in units of its outputs (``range_by="outputs"``), > 0.
    adc_range_by : str
        How each matrix's ADC full scale is set (:data:`mapping.ADC_RANGE_MODES`,
        :meth:`mapping.MappedMatrix.adc_full_scale_by`); ``calibration`` (from sample inputs) not with
        sliced weights.
    """

    encoding: Encoding = field(default_factory=Encoding)
    slicing: SlicingSpec = field(default_factory=SlicingSpec)
    corners: Optional[Dict[str, Tuple[int, int, int]]] = None
    adc_range: float = 6.0
    adc_range_by: str = "outputs"

    def __post_init__(self):
        for name, cls in (("encoding", Encoding), ("slicing", SlicingSpec)):
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; a mapping.{cls.__name__}")
        check_range("adc.range", self.adc_range, 0.0, low_open=True, unit="output units")
        check_choice("adc.range_by", self.adc_range_by, ADC_RANGE_MODES)
        self._check_corners()
        sliced = self.slicing.weight_bits is not None
        if sliced and self.adc_range_by == "calibration":
            raise ValueError("adc.range_by='calibration' with sliced weights: choose outputs, array_max or "
                             "cell_step")
        if sliced and self.corners:
            raise ValueError("corners are not allowed with sliced weights (a tile set per slice); leave them out")

    def _check_corners(self) -> None:
        if self.corners is None:
            return
        if not isinstance(self.corners, dict):
            raise ValueError(f"corners={self.corners!r} is not allowed; a table of matrix name -> "
                             "[array, row, col] or None")
        for name, corner in self.corners.items():
            if (not isinstance(name, str) or not isinstance(corner, (tuple, list)) or len(corner) != 3
                    or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0
                               for v in corner)):
                raise ValueError(f"corners[{name!r}]={corner!r} is not allowed; [array, row, col], whole "
                                 "numbers >= 0")

    def weights(self) -> Optional[WeightSlicing]:
        """The weights' :class:`mapping.WeightSlicing`, or None for analog pairs."""
        return self.slicing.weights()

    def place(self, chip: Chip, name: str, n_in: int, n_out: int, bias: bool = True,
              column_groups: Optional[Sequence[Tuple[str, int]]] = None,
              corner_of: Optional[str] = None) -> Union[MappedMatrix, SlicedMatrix]:
        """A matrix of ``n_in x n_out`` weights (and bias rows) placed on ``chip`` with this encoding: in bit
        slices (:class:`mapping.SlicedMatrix`) or as analog pairs (:class:`mapping.MappedMatrix`) at the
        corner ``corners`` gives under ``corner_of`` (default ``name``), else first fit."""
        slicing = self.weights()
        if slicing is not None:
            return SlicedMatrix(chip, name, n_in, n_out, slicing, bias=bias, encoding=self.encoding,
                                column_groups=column_groups)
        corner = (self.corners or {}).get(name if corner_of is None else corner_of)
        return MappedMatrix(chip, name, n_in, n_out, bias=bias, encoding=self.encoding, corner=corner,
                            column_groups=column_groups)

    def adc_full_scale(self, matrix: MappedMatrix) -> float:
        """A matrix's ADC full scale (A) by ``adc_range_by`` (:meth:`mapping.MappedMatrix.adc_full_scale_by`);
        with ``calibration``, the outputs' range until sample inputs calibrate it
        (:meth:`mapping.MappedMatrix.calibrate_adc`)."""
        mode = "outputs" if self.adc_range_by == "calibration" else self.adc_range_by
        return matrix.adc_full_scale_by(mode, self.adc_range)
