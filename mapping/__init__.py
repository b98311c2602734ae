"""mapping: places weight matrices onto crossbar arrays.

Differential conductance pairs (:class:`Encoding`), the weight-to-conductance
scale, bias rows, tiling over fixed-size arrays of a :class:`Chip`, the
:class:`Layout` and its picture, :class:`MappedMatrix`, the seam a network
uses, weights in bit slices, and the periphery presets of published
accelerators (:mod:`mapping.periphery`). Imports ``crossbar`` only.
"""

import crossbar  # noqa: F401  (first: its thread settings precede numpy's, see crossbar.thread_environment)
from mapping.chip import Chip
from mapping.chip_spec import ChipSpec
from mapping.drift_compensation import DRIFT_COMPENSATIONS
from mapping.encoding import SCALE_BY, Encoding, RangeReport
from mapping.layout import Block, Layout
from mapping.mapped import ADC_RANGE_MODES, MappedMatrix, MappingReport, Tile, UpdateReport
from mapping.periphery import PeripheryPreset, all_peripheries, periphery_doc, periphery_names, periphery_preset
from mapping.sliced import SLICE_ENCODINGS, SlicedMatrix, SliceTile, WeightSlicing
from mapping.specs import MappingSpec, SlicingSpec

__all__ = ["ADC_RANGE_MODES", "DRIFT_COMPENSATIONS", "SCALE_BY", "Block", "Chip", "ChipSpec", "MappingSpec",
           "Encoding", "Layout", "MappedMatrix", "MappingReport", "RangeReport",
           "SLICE_ENCODINGS", "SliceTile", "SlicedMatrix", "SlicingSpec", "Tile", "UpdateReport", "WeightSlicing",
           "PeripheryPreset", "all_peripheries", "periphery_doc", "periphery_names", "periphery_preset"]

from crossbar import __version__  # one version for the three packages
