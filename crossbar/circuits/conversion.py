"""The converters of a read, each written once: a scalar Numba kernel beside its numpy twin.

Units: voltages in volts, currents in amperes. The twins (``*_reference``) give the same bits as the
kernels (tested), so a read and its numpy twin agree number for number.
"""

from __future__ import annotations

import numba
import numpy as np

from crossbar.numerics.rounding import round_half_even

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
