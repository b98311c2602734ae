"""Numba kernels of the physical layer, each beside its plain numpy reference.

The references (``*_reference``) compute the same mathematics with numpy,
using the same random streams (``rng.standard_normals``), so the tests can
compare kernel and reference number for number.

Units: voltages in volts, conductances in siemens, currents in amperes.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .rng import FIRST_NORMAL, fill_normals, standard_normals

# --------------------------------------------------------------- quantization
# Rounding is to the nearest code, ties to even, in kernels and references
# alike (np.rint in numpy), so the two agree to the last bit.
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52


@numba.njit(cache=True, inline="always")
def round_half_even(x):
    """``np.rint(x)`` for ``|x| < 2**51`` by two additions, which vectorise (a libm call does not)."""
    return (x + _ROUND_MAGIC) - _ROUND_MAGIC


@numba.njit(cache=True)
def quantize_grid(x, origin, step, code_min, code_max):
    """Round ``x`` to the grid ``origin + code * step``, codes in [code_min, code_max].

    Values beyond the outermost codes take them (a converter saturates) and are
    counted, so callers can report or refuse them.

    Returns
    -------
    out : ndarray, same shape as ``x``
    n_saturated : int
    """
    flat = x.ravel()
    out = np.empty(flat.shape[0])
    n_saturated = 0
    lo = float(code_min)
    hi = float(code_max)
    for k in range(flat.shape[0]):
        code = round_half_even((flat[k] - origin) / step)
        if code > hi or code < lo:
            n_saturated += 1
        out[k] = origin + min(max(code, lo), hi) * step
    return out.reshape(x.shape), n_saturated


def quantize_grid_reference(x, origin, step, code_min, code_max):
    """numpy reference of :func:`quantize_grid`."""
    code = np.rint((x - origin) / step)
    n_saturated = int(np.count_nonzero((code > code_max) | (code < code_min)))
    return origin + np.clip(code, code_min, code_max) * step, n_saturated


# ----------------------------------------------- the converters of a read
# Each converter's arithmetic is written once, as a scalar kernel (inlined by LLVM into the read's vectorised
# loops, crossbar.read_kernels) beside its numpy twin for arrays, which gives the same bits (tested):
#   DAC: dac_one / dac_reference (DAC.convert, the read's twin and the plan's ideal read use the twin);
#   read noise: noisy_current / noisy_current_reference;
#   uniform ADC: adc_one / adc_reference (ADC.convert and the read's twin use the twin);
#   the circuit ADCs' steps live in crossbar.adc_circuits beside their twins.
@numba.njit(cache=True, error_model="numpy")
def dac_one(v, v_limit, dac_step, dac_top):
    """One drive voltage ``v`` through the DAC: the driven voltage (V), its signed code and whether ``v`` is
    beyond ``v_limit`` or NaN.

    Scalars only, so that LLVM inlines it into its callers' vectorised loops
    (a function that takes arrays would cost reference counting on every
    call). Not inlined at Numba's level: that re-types each copy and took a
    second and a half of the planned product's cold compile, for the same
    machine code. ``dac_step`` 0 (no DAC) leaves ``v`` as it is, code 0.

    Parameters
    ----------
    v : float
        Asked voltage, volts.
    v_limit : float
        Largest ``|v|`` that is not a bad drive, volts.
    dac_step : float
        Volts per code (0: no DAC).
    dac_top : float
        Largest code magnitude.

    Returns
    -------
    volts : float
        ``code * dac_step`` (``v`` without DAC).
    code : float
        The signed code, an integer value in ``[-dac_top, dac_top]`` (rounded half to even).
    bad : bool
    """
    bad = not (abs(v) <= v_limit)  # also catches NaN
    code = 0.0
    if dac_step > 0.0:
        code = min(max(round_half_even(v / dac_step), -dac_top), dac_top)
        v = code * dac_step
    return v, code, bad


def dac_reference(v, v_limit, dac_step, dac_top):
    """numpy twin of :func:`dac_one` for an array of voltages ``v`` (V): the same bits.

    Returns
    -------
    volts : ndarray, same shape as ``v``
    codes : ndarray, same shape (zeros without DAC)
    bad : ndarray of bool, same shape
    """
    v = np.asarray(v, dtype=np.float64)
    bad = ~(np.abs(v) <= v_limit)
    if dac_step > 0.0:
        codes = np.clip(np.rint(v / dac_step), -dac_top, dac_top) + 0.0  # + 0.0: the kernel's rounding has no -0
        return codes * dac_step, codes, bad
    return v, np.zeros(v.shape), bad


@numba.njit(cache=True, error_model="numpy")
def noisy_current(current, variance, normal, use_noise):
    """``current + sqrt(variance) normal`` (A), in float64, the standard deviation taken in float32 (``variance``
    and ``normal`` are float32); ``current`` itself without noise."""
    i = np.float64(current)
    if use_noise:
        i += np.float64(np.sqrt(variance)) * np.float64(normal)
    return i


def noisy_current_reference(current, variance, normals, use_noise):
    """numpy twin of :func:`noisy_current` for arrays (float64 currents, A)."""
    current = np.asarray(current).astype(np.float64)
    if not use_noise:
        return current
    return current + np.sqrt(variance).astype(np.float64) * normals


@numba.njit(cache=True, error_model="numpy")
def adc_one(current, adc_step, adc_top):
    """One current (A) through the uniform ADC: the converted current (A) and whether it hit the end codes
    (its rounded code beyond ``+-adc_top``). ``adc_step`` 0 (no ADC) leaves it as it is."""
    saturated = False
    if adc_step > 0.0:
        code = round_half_even(current / adc_step)
        saturated = abs(code) > adc_top
        current = min(max(code, -adc_top), adc_top) * adc_step
    return current, saturated


def adc_reference(currents, adc_step, adc_top):
    """numpy twin of :func:`adc_one` for an array of currents (A): the converted currents and a boolean
    array of the saturated ones."""
    currents = np.asarray(currents, dtype=np.float64)
    if adc_step <= 0.0:
        return currents, np.zeros(currents.shape, dtype=bool)
    code = np.rint(currents / adc_step) + 0.0  # + 0.0: the kernel's rounding gives no -0
    return np.clip(code, -adc_top, adc_top) * adc_step, np.abs(code) > adc_top


@numba.njit(cache=True, error_model="numpy")
def convert_one(current, variance, normal, use_noise, adc_step, adc_top):
    """One output through read noise and the ADC: ``ADC(current + sqrt(variance) normal)``, amperes
    (:func:`noisy_current`, then :func:`adc_one`).

    Returns
    -------
    value : float
        The converted current, amperes.
    saturated : bool
        Whether it hit the ADC's end codes.
    """
    return adc_one(noisy_current(current, variance, normal, use_noise), adc_step, adc_top)


def float32_is_enough(read_noise_sigma_relative: float, rows: int) -> bool:
    """Whether a product may run in float32 without its rounding mattering.

    float32 rounding of a ``rows``-term sum is at most about ``5e-8 * rows`` of
    the sum of magnitudes; read noise of relative sigma ``s`` is at least
    ``s / sqrt(rows)`` of it. Requiring rounding below 1 % of the noise gives
    ``s >= 5e-6 * rows`` (128 rows: ``s >= 6.4e-4``).
    """
    return read_noise_sigma_relative >= 5e-6 * rows


# ---------------------------------------------------------- pulse updates
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
