"""ADC circuits: what a column converter is built from, and the converters of one array as built.

Three architectures share one signed code range, ``-(2**(bits-1) - 1)`` to
``2**(bits-1) - 1`` codes of ``full_scale / (2**(bits-1) - 1)`` amperes each
(see :class:`crossbar.ADC`):

- ``uniform``: the ideal quantizer, ``code = rint(I / LSB)``.
- ``sar``: successive approximation (charge redistribution). The column's
  current, through a sense amplifier of finite open-loop gain ``A`` (closed
  loop ``A / (1 + A)``), is compared bit by bit, MSB first, with the levels of
  a binary-weighted capacitor DAC. Bit ``b`` is ``2**b`` unit capacitors, each
  with relative mismatch ``capacitor_mismatch_sigma`` (so its weight has
  relative spread ``sigma / sqrt(2**b)``); with a unit dummy, the levels are
  ``2**bits sum_b d_b C_b / C_total`` LSB. A comparator offset (in LSB) shifts
  every decision. Columns may share one converter (a multiplexer in front):
  they share its capacitors and its offset. A small MSB capacitor leaves a
  band of codes that no input reaches (missing codes).
- ``ramp`` (single slope): one ramp, shared by all columns, climbs through the
  levels; each column's comparator stops its counter when the ramp passes its
  signal. The levels are ideal; each column's comparator offset shifts its
  codes, a pure per-column shift.

The code is the largest ``k`` whose threshold the input reaches; a
threshold is the level less half an LSB (mid-tread, as ``rint``). With no
mismatch, no offset and an ideal amplifier, SAR and ramp give the uniform
quantizer's codes, code for code (ties of exactly half an LSB aside).
Mismatch is drawn once, when an array's converters are built
(:meth:`crossbar.CrossbarArray.converters`), from the array's own seed, and is
kept by its saved state. The digital side knows nothing of the mismatch: code
``k`` means ``k`` LSB.

References: J. McCreary and P. Gray, "All-MOS charge redistribution
analog-to-digital conversion techniques", IEEE JSSC 10(6), 1975 (the SAR's
capacitor DAC); IEEE Std 1241-2010 (ENOB by a sine fit, DNL and INL from the
transition levels).

Units: currents in amperes; offsets, levels and transitions in LSB (one code
step of the converter's input).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, Optional

import numba
import numpy as np

from crossbar.circuits.adc_architectures import ADC_ARCHITECTURES, adc_architecture_names, circuit_codes_reference
from crossbar.validation import check_choice, check_int, check_range

ADC_KINDS = ("uniform", "sar", "ramp")
"""The built-in ADC architectures (one of one's own: :func:`crossbar.register_adc_architecture`)."""


@dataclass(frozen=True)
class ADCCircuit:
    """What a column converter is built from (see the module text). Validated when built.

    Parameters
    ----------
    kind : str
        ``"uniform"`` (ideal quantizer), ``"sar"``, ``"ramp"`` or a registered architecture
        (:mod:`crossbar.circuits.adc_architectures`).
    capacitor_mismatch_sigma : float
        Relative standard deviation of one unit capacitor of a SAR's DAC (0..0.2).
    comparator_offset_sigma_lsb : float
        Standard deviation of each comparator's offset, LSB (SAR: one per
        converter; ramp: one per column).
    amplifier_gain : float or None
        Open-loop gain of the sense amplifier in front of the converter (> 1):
        the converted signal is ``A / (1 + A)`` of the current. ``None``: ideal.
    columns_per_converter : int
        Columns multiplexed onto one SAR converter (1: one per column).
        Conversions of a shared converter run one after the other.
    """

    kind: str = "uniform"
    capacitor_mismatch_sigma: float = 0.0
    comparator_offset_sigma_lsb: float = 0.0
    amplifier_gain: Optional[float] = None
    columns_per_converter: int = 1

    def __post_init__(self):
        check_choice("adc.kind", self.kind, adc_architecture_names())
        check_range("adc.capacitor_mismatch_sigma", self.capacitor_mismatch_sigma, 0.0, 0.2)
        check_range("adc.comparator_offset_sigma_lsb", self.comparator_offset_sigma_lsb, 0.0, 1e3, unit="LSB")
        if self.amplifier_gain is not None:
            check_range("adc.amplifier_gain", self.amplifier_gain, 1.0, low_open=True)
        check_int("adc.columns_per_converter", self.columns_per_converter, 1)
        self.architecture.check()

    @property
    def architecture(self):
        """The registered :class:`crossbar.circuits.adc_architectures.AdcArchitecture` of :attr:`kind`, built
        on this circuit."""
        return ADC_ARCHITECTURES.lookup(self.kind)(self)

    @property
    def is_uniform(self) -> bool:
        """Whether every converter gives the ideal quantizer's codes (the fast path of a read)."""
        return self.kind == "uniform"

    @property
    def gain_factor(self) -> float:
        """Closed-loop gain of the sense amplifier, ``A / (1 + A)`` (1 when ideal)."""
        return 1.0 if self.amplifier_gain is None else self.amplifier_gain / (1.0 + self.amplifier_gain)

    def n_converters(self, cols: int) -> int:
        """Converters of an array of ``cols`` columns."""
        return -(-cols // self.columns_per_converter)


# ------------------------------------------------------------------ conversion
# A circuit converter's arithmetic, written once: scalar kernels (inlined into the read's loops,
# crossbar.read.kernels) and their numpy twins for arrays (ConverterBank.convert and the read's twin), which
# give the same bits (tested).
@numba.njit(cache=True, error_model="numpy", inline="always")
def circuit_signal_one(current, lsb, gain, offset):
    """What a converter's comparators see for one current (A), LSB: ``gain I / LSB + offset``."""
    x = current / lsb
    if gain != 1.0:
        x = x * gain
    return x + offset


@numba.njit(cache=True, error_model="numpy")
def sar_keeps(x, trial, half_codes):
    """One bit of a successive approximation: whether the bit whose trial level (the levels kept so far
    plus its own, LSB, offset binary) is ``trial`` is kept for input ``x`` (LSB): ``x`` reaches the trial
    level less ``half_codes`` and half an LSB (mid-tread, as ``rint``)."""
    return x >= trial - half_codes - 0.5


@numba.njit(cache=True, error_model="numpy", inline="always")
def circuit_end_one(x, code, top):
    """A converter's signed ``code`` clipped to ``+-top`` and whether its input ``x`` (LSB) saturates: it
    reaches half an LSB beyond an end code (as ``rint`` does)."""
    return min(max(code, -top), top), (x >= top + 0.5 or x <= -(top + 0.5))


@numba.njit(cache=True, error_model="numpy", inline="always")
def circuit_code_one(x, weights, half_codes):
    """The code of one converter for input ``x`` (LSB, after gain and offset), signed.

    A successive approximation, MSB first, against the levels of the bit
    ``weights`` (LSB, bit 0 first), each bit decided by :func:`sar_keeps`. Returns an
    integer-valued float from ``-half_codes`` to ``half_codes - 1``.
    """
    accumulated = 0.0
    code = 0.0
    place = float(half_codes)
    for b in range(weights.shape[0] - 1, -1, -1):
        trial = accumulated + weights[b]
        keep = sar_keeps(x, trial, half_codes)
        # selects, not branches: the loop over a batch's inputs vectorises
        accumulated = trial if keep else accumulated
        code = code + place if keep else code
        place *= 0.5
    return code - half_codes


def circuit_convert_reference(currents, lsb, gain, offsets, weights, half_codes, codes=circuit_codes_reference):
    """numpy twin of a whole circuit conversion (:func:`circuit_signal_one`, :func:`circuit_code_one`,
    :func:`circuit_end_one`) for many currents (A) on their converters.

    Parameters
    ----------
    currents : ndarray
    lsb : float
        Amperes per code.
    gain : float
        Closed-loop gain of the sense amplifiers.
    offsets : ndarray, broadcastable to ``currents``
        Each current's converter's comparator offset, LSB.
    weights : ndarray, shape ``currents.shape + (bits,)`` or broadcastable to it
        Each current's converter's bit levels, LSB.
    half_codes : float
        ``2**(bits-1)``.
    codes : callable, optional
        The compute step, ``codes(x, weights, half_codes)``: an architecture's
        :meth:`~crossbar.circuits.adc_architectures.AdcArchitecture.codes` (default: the built-ins').

    Returns
    -------
    codes : ndarray, signed integer values clipped to ``+-(half_codes - 1)``
    saturated : ndarray of bool
    """
    x = np.asarray(currents, dtype=np.float64) / lsb
    if gain != 1.0:
        x = x * gain
    x = x + offsets
    top = half_codes - 1.0
    saturated = (x >= top + 0.5) | (x <= -(top + 0.5))
    return np.clip(codes(x, weights, half_codes), -top, top), saturated


class ConverterBank:
    """The column converters of one array as built: each converter's bit weights and comparator offset.

    Parameters
    ----------
    circuit : ADCCircuit
    bits : int
        Resolution including the sign (2..24).
    cols : int
        Columns of the array.
    weights : ndarray, shape (n_converters, bits)
        Level of each bit, LSB, bit 0 first (ideal: ``2**b``).
    offsets_lsb : ndarray, shape (n_converters,)
        Comparator offsets, LSB, added to the converted signal.
    """

    def __init__(self, circuit: ADCCircuit, bits: int, cols: int, weights, offsets_lsb):
        if not isinstance(circuit, ADCCircuit):
            raise ValueError(f"circuit={circuit!r} is not allowed; a crossbar.ADCCircuit is required")
        self.circuit = circuit
        self.bits = check_int("adc.bits", bits, 2, 24)
        self.cols = check_int("cols", cols, 1)
        n = circuit.n_converters(cols)
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        offsets = np.ascontiguousarray(offsets_lsb, dtype=np.float64)
        if weights.shape != (n, self.bits) or not np.all(np.isfinite(weights)) or np.any(weights <= 0.0):
            raise ValueError(f"weights has shape {weights.shape}; ({n}, {self.bits}) positive finite levels are "
                             "required")
        if offsets.shape != (n,) or not np.all(np.isfinite(offsets)):
            raise ValueError(f"offsets_lsb has shape {offsets.shape}; ({n},) finite values are required")
        self.weights, self.offsets_lsb = weights, offsets
        self.column_converter = np.arange(cols, dtype=np.int64) // circuit.columns_per_converter

    @classmethod
    def draw(cls, circuit: ADCCircuit, bits: int, cols: int, rng: np.random.Generator) -> "ConverterBank":
        """Build the converters of ``cols`` columns, their mismatch drawn from ``rng``.

        A SAR's converters draw their capacitors (one normal per bit and one
        for the dummy, converter after converter), then every converter its
        offset, whatever the sigmas: the same seed gives the same normals at
        every sigma, so a sweep of a sigma scales one draw (common random
        numbers) and 0 gives the ideal levels exactly.
        """
        n = circuit.n_converters(cols)
        weights = circuit.architecture.draw_weights(bits, n, rng)  # a SAR's capacitors (the ideal levels else)
        offsets = circuit.comparator_offset_sigma_lsb * rng.standard_normal(n) + 0.0  # + 0.0: no -0.0
        return cls(circuit, bits, cols, weights, offsets)

    @property
    def n_converters(self) -> int:
        return self.weights.shape[0]

    @property
    def half_codes(self) -> int:
        """``2**(bits-1)``: the offset-binary code of 0."""
        return 2 ** (self.bits - 1)

    @property
    def max_code(self) -> int:
        return self.half_codes - 1


    def convert(self, currents, lsb_amperes: float, columns=None):
        """Codes of currents (A) on the converters of ``columns`` (default: currents (..., cols)).

        Returns
        -------
        codes : ndarray of float (integer values), from ``-max_code`` to ``max_code``
        saturated : ndarray of bool
            Inputs beyond the end codes' thresholds.
        """
        currents = np.asarray(currents, dtype=np.float64)
        if columns is None:
            if currents.shape[-1] != self.cols:
                raise ValueError(f"currents has shape {currents.shape}; (..., {self.cols}) is required")
            columns = np.arange(self.cols)
        converters = self.column_converter[np.asarray(columns)]
        return circuit_convert_reference(currents, lsb_amperes, self.circuit.gain_factor,
                                         self.offsets_lsb[converters], self.weights[converters], self.half_codes,
                                         self.circuit.architecture.codes)

    # ------------------------------------------------------------ saved state
    def state(self, prefix: str) -> Dict[str, np.ndarray]:
        """The bank as named arrays (keys ``prefix + ...``): its design, weights and offsets."""
        from crossbar.validation import config_to_dict

        return {prefix + "design": np.array(json.dumps({"circuit": config_to_dict(self.circuit), "bits": self.bits,
                                                        "cols": self.cols})),
                prefix + "weights": self.weights.copy(), prefix + "offsets_lsb": self.offsets_lsb.copy()}

    @classmethod
    def from_state(cls, state: Dict[str, np.ndarray], prefix: str, source: str) -> "ConverterBank":
        """A bank from :meth:`state`'s entries; ``ValueError`` naming ``source`` when they do not fit."""
        from crossbar.validation import config_from_dict

        try:
            design = json.loads(str(state[prefix + "design"]))
            circuit = config_from_dict(ADCCircuit, design["circuit"], f"{source}.circuit")
            return cls(circuit, design["bits"], design["cols"], state[prefix + "weights"],
                       state[prefix + "offsets_lsb"])
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"{source}: the converters cannot be read ({type(error).__name__}: {error})") from None
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None

    def __repr__(self) -> str:
        return (f"ConverterBank({self.circuit.kind}, {self.bits} bits, {self.n_converters} converter(s) for "
                f"{self.cols} columns)")


def ideal_bank(bits: int, cols: int) -> ConverterBank:
    """Converters of the uniform quantizer's codes (no mismatch, no offset): for comparisons."""
    return ConverterBank(ADCCircuit(), bits, cols, np.tile(2.0 ** np.arange(bits), (cols, 1)), np.zeros(cols))
