"""Rectangular regions of an array given by two slices (rows, columns), checked to hold a device."""

from __future__ import annotations

from typing import Tuple

import numpy as np


def region_shape(shape: Tuple[int, int], rows: slice, cols: slice) -> Tuple[int, int]:
    """Shape of the region ``rows, cols`` of an array of ``shape``; it must hold a device (else ``ValueError``)."""
    if not isinstance(rows, slice) or not isinstance(cols, slice):
        raise ValueError(f"rows={rows!r}, cols={cols!r}: slices are required")
    selected = np.broadcast_to(np.zeros((), dtype=bool), shape)[rows, cols].shape
    if 0 in selected:
        raise ValueError(f"rows={rows!r}, cols={cols!r} select no device of a {shape[0]}x{shape[1]} array")
    return selected


def region_mask(shape: Tuple[int, int], rows: slice, cols: slice) -> np.ndarray:
    """Boolean mask of ``shape`` that is True on the region ``rows, cols`` (checked by :func:`region_shape`)."""
    region_shape(shape, rows, cols)
    region = np.zeros(shape, dtype=bool)
    region[rows, cols] = True
    return region
