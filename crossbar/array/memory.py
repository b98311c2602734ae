"""What an array's per-device state costs in memory, estimated before it is built, and the refusal of
arrays that would not fit (bytes)."""

from __future__ import annotations

from crossbar.array.streams import fluctuation_state
from crossbar.devices.models import DeviceModel
from crossbar.validation import CHECKED_BYTES, check_memory

BYTES_PER_DEVICE = 192
"""Peak bytes of an array's per-device state while it is built and first programmed (about twice the
96 it keeps: conductances, window, faults, drift, clocks; measured 67 bytes a device at its peak for
``ideal``), before any read noise with memory."""


def estimated_array_bytes(rows: int, cols: int, device: DeviceModel) -> float:
    """Bytes an array of ``rows x cols`` devices of ``device`` takes at its peak, estimated without building it:
    :data:`BYTES_PER_DEVICE` a device, and twice its read noise with memory's sources and traps (measured on
    one device)."""
    per_device = BYTES_PER_DEVICE
    if device.temporal_noise.is_on:
        one = fluctuation_state(device, (1, 1), (0, []))
        per_device += 2 * one.nbytes
    return float(rows) * float(cols) * per_device


def check_array_memory(rows: int, cols: int, device: DeviceModel, count: int = 1) -> None:
    """Refuse ``count`` arrays of ``rows x cols`` devices whose estimated bytes (:func:`estimated_array_bytes`)
    exceed the memory available: ``ValueError`` in one line with the size, the estimate and the memory."""
    needed = count * estimated_array_bytes(rows, cols, device)
    if needed > CHECKED_BYTES:
        what = f"{count} array(s)" if count > 1 else "an array"
        check_memory(f"{what} of {rows} x {cols} devices ({count * rows * cols:,} devices of {device.name})",
                     needed)
