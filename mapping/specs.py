"""The mapping's description in an experiment file: the ``[slicing]`` section (the ``[encoding]`` section is
:class:`mapping.Encoding` itself, the ADC's ranging rule :class:`crossbar.AdcSpec`'s ``range_by``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from crossbar.settings import check_settings, setting

from mapping.sliced import SLICE_ENCODINGS, WeightSlicing


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
