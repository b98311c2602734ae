"""ADC architectures as an extension point: how a column converter turns its input into a code.

An architecture is an :class:`AdcArchitecture` subclass registered in
:data:`ADC_ARCHITECTURES` under the word ``ADCCircuit.kind`` (``AdcSpec.kind``,
an experiment's ``[adc] kind``) names it by. A conversion runs in three
steps, as a read pipeline does: *prepare* (the current, amperes, through
the sense amplifier's gain into LSB, plus the comparator's offset; common to
all), *compute* (:meth:`AdcArchitecture.codes`, the architecture's own:
signed codes from that signal) and *finalize* (the codes clipped to the end
codes ``+-(2**(bits-1) - 1)``, and the inputs beyond half an LSB past them
counted as saturated; common to all). An architecture also validates its
circuit's settings (:meth:`AdcArchitecture.check`) and draws its converters'
bit levels (:meth:`AdcArchitecture.draw_weights`).

The built-ins (``uniform``, ``sar``, ``ramp``: see :mod:`crossbar.circuits.adc`)
are compiled into the read's kernels; a registered architecture is not, so a
read with it runs the read's numpy twin
(:func:`crossbar.read.kernels.read_product_reference`) with the
architecture's :meth:`~AdcArchitecture.codes`, and a compiled session of
reads (:meth:`crossbar.ReadPlan.session`) refuses it.

Units: currents in amperes; signals, levels and codes in LSB.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from crossbar.registry import Registry


def circuit_codes_reference(x, weights, half_codes):
    """numpy twin of :func:`crossbar.circuits.adc.circuit_code_one` for many inputs ``x`` (LSB) and their
    converters' ``weights`` (one row per input, or one row for all): the same codes, the same sums."""
    x = np.asarray(x, dtype=np.float64)
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), x.shape + (np.shape(weights)[-1],))
    accumulated = np.zeros(x.shape)
    code = np.zeros(x.shape)
    place = float(half_codes)
    for b in range(weights.shape[-1] - 1, -1, -1):
        trial = accumulated + weights[..., b]
        keep = x >= trial - half_codes - 0.5
        accumulated = np.where(keep, trial, accumulated)
        code = np.where(keep, code + place, code)
        place *= 0.5
    return code - half_codes


class AdcArchitecture(ABC):
    """Interface of an ADC architecture (see the module text).

    Parameters
    ----------
    circuit : crossbar.ADCCircuit
        The circuit's settings (its kind names this architecture).

    Attributes
    ----------
    compiled : bool
        Whether the read's compiled kernels convert with it (only the built-ins).
    """

    compiled = False

    def __init__(self, circuit):
        self.circuit = circuit

    def check(self) -> None:
        """Refuse settings of the circuit the architecture has no part for (``ValueError`` naming the field,
        its value and what is required). By default: no capacitor DAC, so no capacitor mismatch."""
        c = self.circuit
        if c.capacitor_mismatch_sigma != 0.0:
            raise ValueError(f"adc.capacitor_mismatch_sigma={c.capacitor_mismatch_sigma!r} is not allowed with "
                             f"adc.kind={c.kind!r}: it has no capacitor DAC; 0 is required")

    def draw_weights(self, bits: int, n_converters: int, rng: np.random.Generator) -> np.ndarray:
        """Bit levels of ``n_converters`` converters, LSB, shape (n_converters, bits), bit 0 first; by default
        the ideal ``2**b`` (nothing drawn from ``rng``)."""
        return np.tile(2.0 ** np.arange(bits), (n_converters, 1))

    @abstractmethod
    def codes(self, x, weights, half_codes) -> np.ndarray:
        """The compute step: signed codes (integer-valued floats) for signals ``x`` (LSB, after gain and
        offset) on converters of bit levels ``weights`` (LSB, broadcastable to ``x.shape + (bits,)``);
        ``half_codes`` is ``2**(bits-1)``. Codes beyond ``+-(half_codes - 1)`` are clipped afterwards."""


class _SuccessiveLevels(AdcArchitecture):
    """The built-ins' compute step: the largest level the input reaches, bit by bit
    (:func:`circuit_codes_reference`; the ideal levels give the uniform quantizer's codes)."""

    compiled = True

    def codes(self, x, weights, half_codes):
        return circuit_codes_reference(x, weights, half_codes)


class UniformAdc(_SuccessiveLevels):
    """The ideal quantizer, ``code = rint(I / LSB)``: no mismatch, no offset, an ideal amplifier."""

    def check(self):
        c = self.circuit
        for name in ("capacitor_mismatch_sigma", "comparator_offset_sigma_lsb"):
            if getattr(c, name) != 0.0:
                raise ValueError(f"adc.{name}={getattr(c, name)!r} is not allowed with adc.kind='uniform' "
                                 "(an ideal quantizer); choose adc.kind='sar' or 'ramp'")
        if c.amplifier_gain is not None:
            raise ValueError(f"adc.amplifier_gain={c.amplifier_gain!r} is not allowed with "
                             "adc.kind='uniform' (an ideal quantizer); choose adc.kind='sar' or 'ramp'")


class SarAdc(_SuccessiveLevels):
    """Successive approximation against a binary-weighted capacitor DAC with mismatch."""

    def check(self):
        """A SAR has every part the circuit settings name (capacitor DAC, comparator, amplifier): nothing to
        refuse."""

    def draw_weights(self, bits, n_converters, rng):
        """One normal per bit and one for the dummy, converter after converter: ``2**b`` unit capacitors
        of relative spread ``sigma`` each, the levels ``2**bits C_b / C_total``."""
        ideal = 2.0 ** np.arange(bits)
        sigma = self.circuit.capacitor_mismatch_sigma
        z = rng.standard_normal((n_converters, bits + 1))
        capacitors = ideal + sigma * np.sqrt(ideal) * z[:, :bits]  # sum of 2**b unit capacitors
        dummy = 1.0 + sigma * z[:, bits]
        if np.any(capacitors <= 0.0) or np.any(dummy <= 0.0):
            raise ValueError(f"adc.capacitor_mismatch_sigma={sigma!r} drew a capacitor of no size; "
                             "a smaller sigma is required")
        total = capacitors.sum(axis=1) + dummy
        return 2.0 ** bits * capacitors / total[:, None]


class RampAdc(_SuccessiveLevels):
    """Single slope: one shared ramp of ideal levels, a comparator (and its offset) per column."""

    def check(self):
        c = self.circuit
        if c.capacitor_mismatch_sigma != 0.0:
            raise ValueError(f"adc.capacitor_mismatch_sigma={c.capacitor_mismatch_sigma!r} is not allowed "
                             "with adc.kind='ramp': a ramp converter has no capacitor DAC; 0 is required")
        if c.columns_per_converter != 1:
            raise ValueError(f"adc.columns_per_converter={c.columns_per_converter!r} is not allowed with "
                             "adc.kind='ramp': every column has its own comparator on the shared ramp; "
                             "1 is required")


ADC_ARCHITECTURES = Registry("ADC architecture", AdcArchitecture)
"""The ADC architectures by the word ``ADCCircuit.kind`` names them by."""
for _name, _cls in (("uniform", UniformAdc), ("sar", SarAdc), ("ramp", RampAdc)):
    ADC_ARCHITECTURES.register(_name, _cls, builtin=True)


def register_adc_architecture(name: str, cls: type) -> type:
    """Register an :class:`AdcArchitecture` subclass under ``name`` (see
    :meth:`crossbar.registry.Registry.register`)."""
    return ADC_ARCHITECTURES.register(name, cls)


def adc_architecture_names():
    """The registered ADC architectures' names (the allowed words of ``adc.kind``)."""
    return ADC_ARCHITECTURES.names()
