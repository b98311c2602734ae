"""What an array draws for its devices when it is built: each device's window gain, fault and drift
exponent, and the conductances the devices start at (siemens), in the order the array's generator gives
them (the same seed gives the same devices)."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from crossbar.devices.models import DeviceModel

FAULT_NONE, FAULT_STUCK_LOW, FAULT_STUCK_HIGH = 0, 1, 2
"""Codes of the fault map: a working device, one stuck at its window's low end, one stuck at its high end."""


def draw_device_spread(device: DeviceModel, rng: np.random.Generator,
                       shape: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Each device's window gain (log-normal, 1 without device-to-device spread), fault code and drift
    exponent (None for a device without drift), drawn from ``rng`` in that order."""
    if device.window_spread_sigma_relative > 0.0:
        gain = np.exp(device.window_spread_sigma_relative * rng.standard_normal(shape))
    else:
        gain = np.ones(shape)
    u = rng.random(shape)
    faults = np.full(shape, FAULT_NONE, dtype=np.int8)
    faults[u < device.stuck_at_gmin_fraction] = FAULT_STUCK_LOW
    faults[(u >= device.stuck_at_gmin_fraction)
           & (u < device.stuck_at_gmin_fraction + device.stuck_at_gmax_fraction)] = FAULT_STUCK_HIGH
    if device.drift_nu != 0.0 or device.drift_nu_sigma != 0.0:
        drift_nu = device.drift_nu + device.drift_nu_sigma * rng.standard_normal(shape)
    else:
        drift_nu = None
    return gain, faults, drift_nu


def draw_starting_conductance(device: DeviceModel, rng: np.random.Generator, gain: np.ndarray,
                              g_low: np.ndarray) -> np.ndarray:
    """The devices' conductances before any write, siemens, faults not yet applied: uniform in the device's
    ``initial_conductance_range`` scaled by each window gain, else each device's window low end."""
    if device.initial_conductance_range is not None:
        low, high = device.initial_conductance_range
        return rng.uniform(low, high, gain.shape) * gain
    return g_low.copy()


def apply_faults(g: np.ndarray, faults: np.ndarray, g_low: np.ndarray, g_high: np.ndarray) -> np.ndarray:
    """``g`` with the stuck devices at their stuck values (a new array)."""
    g = np.where(faults == FAULT_STUCK_LOW, g_low, g)
    return np.where(faults == FAULT_STUCK_HIGH, g_high, g)
