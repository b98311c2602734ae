"""Numba kernels of pulse updates (identical pulses of a law, Li et al.'s two-pulse scheme), each beside its
plain numpy reference.

The references (``*_reference``) compute the same mathematics with numpy, using the same random streams
(``random_streams.standard_normals``), so the tests can compare kernel and reference number for number.
Units: conductances in siemens, gate voltages in volts.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from crossbar.numerics.random_streams import FIRST_NORMAL, fill_normals, standard_normals

@numba.njit(cache=True, inline="always")
def _pulse_step(g, lo, hi, up, kind, step_up, step_down, nonlinearity):
    """Noise-free conductance change of one pulse at conductance ``g`` (S)."""
    w = (g - lo) / (hi - lo)
    if kind == 0:  # linear
        return step_up if up else -step_down
    if kind == 1:  # soft bounds
        return step_up * (1.0 - w) if up else -step_down * w
    # exponential
    if up:
        return step_up * math.exp(-nonlinearity * w)
    return -step_down * math.exp(-nonlinearity * (1.0 - w))


MAX_ROW_NORMALS = 2 ** 31
"""Most normals a row of a pulse kernel draws in one call (8 GB of float32; half a stream's period)."""


@numba.njit(cache=True)
def row_pulse_normals(n_pulses, frozen, i, seed, normals):
    """The normals of row ``i``'s pulses, one a pulse of each device that moves, from stream ``seed``, in
    ``normals`` (returned; grown when too short)."""
    needed = 0
    for j in range(n_pulses.shape[1]):
        if not frozen[i, j]:
            count = abs(n_pulses[i, j])
            if count < 0 or count > MAX_ROW_NORMALS or needed > MAX_ROW_NORMALS - count:
                raise ValueError("a row of a pulse kernel asks for more than 2^31 normals (count beyond what "
                                 "a write simulates); bound the counts first (CrossbarArray.apply_pulses does)")
            needed += count
    if needed > normals.shape[0]:
        normals = np.empty(needed, dtype=np.float32)
    fill_normals(seed, FIRST_NORMAL, normals[:needed])
    return normals


@numba.njit(cache=True)
def pulse_update(conductance, n_pulses, g_low, g_high, frozen, kind, step_up, step_down,
                 nonlinearity, cycle_noise, seeds):
    """Apply ``n_pulses[i, j]`` identical pulses to each device, in place.

    Positive counts potentiate, negative depress. Each pulse changes G by the
    pulse law's step at the present G, times ``1 + cycle_noise * N(0, 1)``;
    the device stays inside its own window ``[g_low, g_high]``. Frozen (stuck)
    devices do not move. Row ``i`` draws its noise from stream ``seeds[i]``,
    devices in column order, pulses in time order (only moving devices draw).

    Parameters
    ----------
    conductance : ndarray, shape (rows, cols), siemens, updated in place
    n_pulses : ndarray of int64, shape (rows, cols)
    g_low, g_high : ndarray, shape (rows, cols)
        Each device's window, siemens.
    frozen : ndarray of bool, shape (rows, cols)
    kind : int
        0 linear, 1 soft bounds, 2 exponential.
    step_up, step_down : float
        Siemens per pulse.
    nonlinearity, cycle_noise : float
    seeds : ndarray of uint64, shape (rows,)

    Returns
    -------
    int
        Number of pulses applied (frozen devices receive theirs too).
    """
    rows, cols = conductance.shape
    pulses = 0
    normals = np.empty(0, dtype=np.float32)
    for i in range(rows):
        drawn = 0  # normals of row i's stream used so far
        if cycle_noise > 0.0:  # the row's normals at once (the loop over them vectorises)
            normals = row_pulse_normals(n_pulses, frozen, i, seeds[i], normals)
        for j in range(cols):
            n = n_pulses[i, j]
            count = abs(n)
            pulses += count
            if count == 0 or frozen[i, j]:
                continue
            up = n > 0
            g = conductance[i, j]
            lo = g_low[i, j]
            hi = g_high[i, j]
            for _ in range(count):
                dg = _pulse_step(g, lo, hi, up, kind, step_up, step_down, nonlinearity)
                if cycle_noise > 0.0:
                    dg *= 1.0 + cycle_noise * np.float64(normals[drawn])
                    drawn += 1
                g = min(max(g + dg, lo), hi)
            conductance[i, j] = g
    return pulses


def pulse_steps_reference(g, g_low, width, up, kind, step_up, step_down, nonlinearity):
    """numpy twin of :func:`_pulse_step` for arrays: each device's noise-free change of one pulse, S."""
    w = (g - g_low) / width
    if kind == 0:
        return np.where(up, step_up, -step_down)
    if kind == 1:
        return np.where(up, step_up * (1.0 - w), -step_down * w)
    return np.where(up, step_up * np.exp(-nonlinearity * w), -step_down * np.exp(-nonlinearity * (1.0 - w)))


def pulse_update_reference(conductance, n_pulses, g_low, g_high, frozen, kind, step_up, step_down,
                           nonlinearity, cycle_noise, seeds):
    """numpy reference of :func:`pulse_update` (same streams, same order)."""
    g = conductance
    count = np.abs(n_pulses)
    active = (count > 0) & ~frozen
    # stream position of each device's first pulse: pulses of earlier columns
    # of the row (only devices that move consume normals)
    consumed = np.where(active, count, 0)
    if cycle_noise > 0.0 and ((count < 0).any() or (consumed.sum(axis=1, dtype=np.float64) > MAX_ROW_NORMALS).any()):
        raise ValueError("a row of a pulse kernel asks for more than 2^31 normals (count beyond what a write "
                         "simulates); bound the counts first (CrossbarArray.apply_pulses does)")
    offset = np.cumsum(consumed, axis=1) - consumed
    total = int(consumed.sum(axis=1).max()) if consumed.size else 0
    normals = standard_normals(seeds, max(total, 1)) if cycle_noise > 0.0 else None
    up = n_pulses > 0
    width = g_high - g_low
    rows = np.arange(g.shape[0])[:, None]
    for k in range(int(count.max()) if count.size else 0):
        moving = active & (count > k)
        dg = pulse_steps_reference(g, g_low, width, up, kind, step_up, step_down, nonlinearity)
        if normals is not None:
            index = np.minimum(offset + k, normals.shape[1] - 1)
            dg = dg * (1.0 + cycle_noise * normals[rows, index])
        g = np.where(moving, np.minimum(np.maximum(g + dg, g_low), g_high), g)
    conductance[...] = g
    return int(count.sum())


@numba.njit(cache=True)
def two_pulse_update(conductance, reset, gate_voltage, gate_slope, gate_intercept,
                     reset_conductance, pulse_sigma, gain, frozen, seeds):
    """Li et al.'s RESET-then-SET step on every device, in place.

    Devices with ``reset`` go to ``reset_conductance + sigma N``; then every
    device is SET: ``G = max(gain * (gate_slope * Vg + gate_intercept), G) + sigma N``,
    where ``gain`` is the device's own deviation (device-to-device spread).
    Conductance is floored at zero after each pulse (it cannot be negative).
    Frozen (stuck) devices do not move. Device (i, j) uses normals 2j (RESET)
    and 2j + 1 (SET) of row i's stream.

    Parameters
    ----------
    conductance : ndarray, shape (rows, cols), siemens, updated in place
    reset : ndarray of bool, shape (rows, cols)
    gate_voltage : ndarray, shape (rows, cols), volts
    gate_slope : float, S/V
    gate_intercept, reset_conductance, pulse_sigma : float, siemens
    gain : ndarray, shape (rows, cols), dimensionless
    frozen : ndarray of bool, shape (rows, cols)
    seeds : ndarray of uint64, shape (rows,)
    """
    rows, cols = conductance.shape
    normals = np.empty(2 * cols, dtype=np.float32)
    for i in range(rows):
        fill_normals(seeds[i], FIRST_NORMAL, normals)
        for j in range(cols):
            if frozen[i, j]:
                continue
            g = conductance[i, j]
            if reset[i, j]:
                g = max(reset_conductance + pulse_sigma * np.float64(normals[2 * j]), 0.0)
            g_set = gain[i, j] * (gate_slope * gate_voltage[i, j] + gate_intercept)
            g = max(max(g_set, g) + pulse_sigma * np.float64(normals[2 * j + 1]), 0.0)
            conductance[i, j] = g


@numba.njit(cache=True)
def two_pulse_step(conductance, gate_voltage, gate_step, gate_min, gate_max, gate_slope, gate_intercept,
                   reset_conductance, pulse_sigma, gain, frozen, seeds):
    """Li et al.'s update given as gate-voltage steps, in place: move, cut, RESET the falling, SET all.

    Each device's SET gate voltage becomes ``Vg + step`` cut to
    ``[gate_min, gate_max]``; devices whose gate voltage goes down are RESET
    first; then :func:`two_pulse_update` pulses every device. One compiled
    call for what an in-situ update does to a tile (a dozen numpy passes
    before, each paying its call overhead on tiles as small as the airline network's 34 x 60).

    Parameters
    ----------
    conductance : ndarray, shape (rows, cols), siemens, updated in place
    gate_voltage : ndarray, shape (rows, cols), volts
        The SET gate voltage each device last received; updated in place.
        Nothing changes if any is NaN (never programmed).
    gate_step : ndarray, shape (rows, cols), volts
    gate_min, gate_max : float, volts
    gate_slope, gate_intercept, reset_conductance, pulse_sigma, gain, frozen, seeds
        As :func:`two_pulse_update`.

    Returns
    -------
    n_limited : int
        Devices whose step was cut at the range (``|cut| > 1e-12`` V), or -1
        when a gate voltage was NaN and nothing was done.
    n_reset : int
        Devices RESET.
    """
    rows, cols = conductance.shape
    for i in range(rows):
        for j in range(cols):
            if np.isnan(gate_voltage[i, j]):
                return -1, 0
    reset = np.empty((rows, cols), dtype=np.bool_)
    limited = 0
    resets = 0
    for i in range(rows):
        for j in range(cols):
            old = gate_voltage[i, j]
            wanted = old + gate_step[i, j]
            new = min(max(wanted, gate_min), gate_max)
            limited += abs(new - wanted) > 1e-12
            reset[i, j] = new < old
            resets += new < old
            gate_voltage[i, j] = new
    two_pulse_update(conductance, reset, gate_voltage, gate_slope, gate_intercept, reset_conductance,
                     pulse_sigma, gain, frozen, seeds)
    return limited, resets


def two_pulse_step_reference(conductance, gate_voltage, gate_step, gate_min, gate_max, gate_slope,
                             gate_intercept, reset_conductance, pulse_sigma, gain, frozen, seeds):
    """numpy reference of :func:`two_pulse_step`."""
    if np.isnan(gate_voltage).any():
        return -1, 0
    wanted = gate_voltage + gate_step
    new = np.clip(wanted, gate_min, gate_max)
    reset = new < gate_voltage
    two_pulse_update_reference(conductance, reset, new, gate_slope, gate_intercept, reset_conductance,
                               pulse_sigma, gain, frozen, seeds)
    gate_voltage[...] = new
    return int(np.count_nonzero(np.abs(new - wanted) > 1e-12)), int(reset.sum())


def two_pulse_update_reference(conductance, reset, gate_voltage, gate_slope, gate_intercept,
                               reset_conductance, pulse_sigma, gain, frozen, seeds):
    """numpy reference of :func:`two_pulse_update`."""
    z = standard_normals(seeds, 2 * conductance.shape[1])
    g = np.where(reset, np.maximum(reset_conductance + pulse_sigma * z[:, 0::2], 0.0), conductance)
    g = np.maximum(np.maximum(gain * (gate_slope * gate_voltage + gate_intercept), g) + pulse_sigma * z[:, 1::2], 0.0)
    conductance[...] = np.where(frozen, conductance, g)
