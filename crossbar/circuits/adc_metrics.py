"""How good the built converters are: transition levels, DNL, INL, missing codes, ENOB, and their figure.

Methods of IEEE Std 1241-2010: the transition level of code ``k`` is the
input at which the output steps from ``k - 1`` to ``k`` (found here by
bisection on the converter's exact decisions, which are monotone in the
input); DNL is each code's width over the mean width, less 1; INL is the
running sum of DNL; a missing code has no width. ENOB comes from a sine of
``amplitude_fraction`` of full scale, sampled coherently, fitted by least
squares at its known frequency (the three-parameter fit): ``ENOB = (SINAD_dB
- 1.76) / 6.02``.

Inputs, levels and widths in LSB of the converter's input (the analog value
over the nominal step); codes signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from crossbar.circuits.adc import ConverterBank, circuit_codes_reference
from crossbar.validation import check_int, check_range


def _codes_of_signal(bank: ConverterBank, converter: int, x_lsb: np.ndarray) -> np.ndarray:
    """Unclipped signed codes of converter ``converter`` for analog inputs (LSB, before gain and offset)."""
    gain = bank.circuit.gain_factor
    x = (x_lsb * gain if gain != 1.0 else x_lsb) + bank.offsets_lsb[converter]
    return circuit_codes_reference(x, bank.weights[converter], bank.half_codes)


def transitions(bank: ConverterBank, converter: int, tolerance_lsb: float = 1e-9) -> np.ndarray:
    """Transition levels of one converter, LSB of its input: entry ``j`` is where the code reaches
    ``-max_code + j`` (``2 * max_code`` levels, from the first code above the bottom one to the top).

    A missing code's two transitions coincide (to ``tolerance_lsb``).
    """
    check_int("converter", converter, 0, bank.n_converters - 1)
    top = bank.max_code
    targets = np.arange(-top, top + 1, dtype=np.float64)  # codes -top..top: where each one starts
    span = 2.0 ** bank.bits / bank.circuit.gain_factor + abs(bank.offsets_lsb[converter]) + 2.0
    low = np.full(targets.shape, -span)
    high = np.full(targets.shape, span)
    while np.max(high - low) > tolerance_lsb:
        middle = 0.5 * (low + high)
        reached = _codes_of_signal(bank, converter, middle) >= targets
        high = np.where(reached, middle, high)
        low = np.where(reached, low, middle)
    return high


@dataclass(frozen=True)
class Linearity:
    """Static linearity of one converter (IEEE 1241, see the module text).

    Attributes
    ----------
    dnl_lsb : ndarray, shape (2 * max_code,)
        Each code's width over the mean width, less 1 (codes ``-max_code`` to ``max_code - 1``: those
        between two transitions).
    inl_lsb : ndarray, same shape
        Running sum of the DNL.
    missing_codes : ndarray of int
        Codes between two transitions that no input gives.
    transitions_lsb : ndarray
        The transition levels (:func:`transitions`).
    """

    dnl_lsb: np.ndarray
    inl_lsb: np.ndarray
    missing_codes: np.ndarray
    transitions_lsb: np.ndarray

    @property
    def max_dnl_lsb(self) -> float:
        return float(np.max(np.abs(self.dnl_lsb)))

    @property
    def max_inl_lsb(self) -> float:
        return float(np.max(np.abs(self.inl_lsb)))


def linearity(bank: ConverterBank, converter: int, tolerance_lsb: float = 1e-9) -> Linearity:
    """DNL, INL and missing codes of one converter."""
    levels = transitions(bank, converter, tolerance_lsb)
    widths = np.diff(levels)  # codes -top .. top-1
    mean = (levels[-1] - levels[0]) / widths.size
    dnl = widths / mean - 1.0
    inl = np.cumsum(dnl)
    missing = np.flatnonzero(widths <= 10.0 * tolerance_lsb) - bank.max_code
    return Linearity(dnl, inl, missing.astype(np.int64), levels)


def enob(bank: ConverterBank, converter: int, samples: int = 4096, cycles: int = 127,
         amplitude_fraction: float = 0.95, phase: float = 0.3) -> float:
    """Effective number of bits of one converter from a coherently sampled sine (see the module text).

    Parameters
    ----------
    samples : int
        Points of the sine record (>= 64).
    cycles : int
        Periods in the record; coprime with ``samples`` so that every phase is visited.
    amplitude_fraction : float
        Amplitude over full scale (``max_code`` LSB), in (0, 1].
    phase : float
        Starting phase, radians.
    """
    check_int("samples", samples, 64)
    check_int("cycles", cycles, 1, samples // 2 - 1)
    if np.gcd(samples, cycles) != 1:
        raise ValueError(f"cycles={cycles} and samples={samples} share a factor; coprime values are required "
                         "(coherent sampling)")
    check_range("amplitude_fraction", amplitude_fraction, 0.0, 1.0, low_open=True)
    angle = 2.0 * np.pi * cycles * np.arange(samples) / samples + phase
    x = amplitude_fraction * bank.max_code * np.sin(angle)
    codes = np.clip(_codes_of_signal(bank, converter, x), -bank.max_code, bank.max_code)
    basis = np.stack([np.sin(angle), np.cos(angle), np.ones(samples)], axis=1)
    fit, *_ = np.linalg.lstsq(basis, codes, rcond=None)
    residual = codes - basis @ fit
    noise = float(np.mean(residual ** 2))
    signal = 0.5 * float(fit[0] ** 2 + fit[1] ** 2)
    if noise == 0.0:
        return float("inf")
    return (10.0 * np.log10(signal / noise) - 1.76) / 6.02


PLOT_POINTS = 2 ** 15
"""Most inputs :func:`plot_transfer` draws over the whole range (40 an LSB up to 12 bits)."""


def plot_transfer(bank: ConverterBank, path: str, converters: Optional[Sequence[int]] = None,
                  title: Optional[str] = None) -> None:
    """Draw the transfer curves (code against input) and DNL of some converters to ``path``.

    Parameters
    ----------
    converters : sequence of int, optional
        Which converters (0-based; default: up to the first four). The figure numbers them from 1.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = list(range(min(4, bank.n_converters))) if converters is None else [int(k) for k in converters]
    for k in chosen:
        check_int("converter", k, 0, bank.n_converters - 1)
    fig, (curve, zoom, dnl_axes) = plt.subplots(1, 3, figsize=(15, 4.2))
    top = bank.max_code
    # 40 points an LSB, at most PLOT_POINTS over the whole range (more than a figure's pixels); the zoom's own
    x = np.linspace(-(top + 1.5), top + 1.5, min(40 * (2 * top + 3), PLOT_POINTS))
    x_zoom = np.linspace(-8.0, 8.0, 641)
    for k in chosen:
        codes = np.clip(_codes_of_signal(bank, k, x), -top, top)
        shape = linearity(bank, k)
        label = (f"converter {k + 1}: ENOB {enob(bank, k):.2f}, DNL {shape.max_dnl_lsb:.2f}, "
                 f"{shape.missing_codes.size} missing")
        curve.step(x, codes, where="post", lw=0.8, label=label)
        zoom.step(x_zoom, np.clip(_codes_of_signal(bank, k, x_zoom), -top, top), where="post", lw=0.9)
        dnl_axes.plot(np.arange(-top, top), shape.dnl_lsb, lw=0.8)
    curve.plot(x, np.clip(np.rint(x), -top, top), "k:", lw=0.6, label="ideal")
    zoom.plot(x_zoom, np.clip(np.rint(x_zoom), -top, top), "k:", lw=0.6)
    zoom.set_title("around mid-scale (the MSB's transition)", fontsize=9)
    zoom.set_xlabel("input (LSB)")
    curve.set_xlabel("input (LSB)")
    curve.set_ylabel("code")
    curve.legend(fontsize=7)
    dnl_axes.axhline(-1.0, color="r", lw=0.5)
    dnl_axes.set_xlabel("code")
    dnl_axes.set_ylabel("DNL (LSB)")
    circuit = bank.circuit
    fig.suptitle(title or f"{circuit.kind} ADC, {bank.bits} bits, capacitor mismatch "
                 f"{circuit.capacitor_mismatch_sigma:g}, offset sigma {circuit.comparator_offset_sigma_lsb:g} LSB")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
