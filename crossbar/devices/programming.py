"""Programming schemes: how a technology's devices are written, behind one interface.

A :class:`ProgrammingScheme` offers what a layer above needs and nothing of
the physics: :meth:`~ProgrammingScheme.program_once` (an open-loop write of
a region towards target conductances; :meth:`CrossbarArray.program` repeats
it for write-and-verify) and :meth:`~ProgrammingScheme.move` (change a
region's conductances by given amounts, as in-situ training asks). Each
scheme turns those into its own pulses:

- :class:`TwoPulseProgramming`, Li et al. 2019 (Nature Machine Intelligence
  1, 49): a RESET then a SET whose transistor gate voltage sets the
  conductance, ``G = gate_slope * Vg + gate_intercept``; a move steps every
  device's SET gate voltage by ``dG / gate_slope``, RESETs the devices whose
  gate voltage goes down, and SETs them all (the authors' simulator does the
  same: every device is re-noised at every update).
- :class:`PulseLawProgramming`: identical pulses whose step follows the
  device's :class:`~crossbar.PulseUpdateLaw`; a move sends
  ``round(dG / step_up)`` potentiating or ``round(-dG / step_down)``
  depressing pulses to each device. One-shot programming is modelled as a
  closed-loop write landing on the target with the device's programming noise.

Conductances in siemens, gate voltages in volts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol, Tuple

import numpy as np

from crossbar.devices import pulse_kernels
from crossbar.numerics.random_streams import stream_seeds
from crossbar.registry import Registry
from crossbar.validation import LARGEST_FLOAT_COUNT


class WritableArray(Protocol):
    """What a scheme asks of the array it writes (:class:`crossbar.CrossbarArray` is the one): its state, the
    write paths it calls back and the start and keeping of a write. Named here so that the schemes need not
    import the array that picks them (the array imports :func:`scheme_for`)."""

    rows: int
    shape: Tuple[int, int]
    device: Any
    peripherals: Any
    rng: np.random.Generator
    gain: np.ndarray
    g_low: np.ndarray
    g_high: np.ndarray
    stuck: np.ndarray
    gate_voltage: np.ndarray
    table_index: Any

    @property
    def conductance(self) -> np.ndarray: ...

    def apply_pulses(self, n_pulses) -> int: ...

    def step_gate_voltages(self, gate_step, rows: slice = ..., cols: slice = ..., written=...) -> Tuple[int, int]: ...

    def write_passive(self, n_pulses, scheme) -> Tuple[int, int]: ...

    def _write_start(self, written) -> np.ndarray: ...

    def _store_write(self, g: np.ndarray, written, pulses: int, row_steps: int, stuck_kept: bool = ...) -> None: ...


class ProgrammingScheme(ABC):
    """How a technology is written (see the module text).

    A scheme of one's own is a subclass registered in
    :data:`PROGRAMMING_SCHEMES`; a device model names it by
    :attr:`crossbar.DeviceModel.programming`, and :func:`scheme_for` builds it
    with :meth:`for_device`.
    """

    name = "scheme"

    @classmethod
    def for_device(cls, device) -> "ProgrammingScheme":
        """The scheme for ``device`` (a :class:`crossbar.DeviceModel`); by default ``cls(device)``."""
        return cls(device)

    @abstractmethod
    def program_once(self, array: WritableArray, target: np.ndarray, mask: np.ndarray) -> int:
        """One open-loop write of the devices in ``mask`` towards ``target`` (both (rows, cols)); return pulses."""

    @abstractmethod
    def move(self, array: WritableArray, delta: np.ndarray, rows: slice, cols: slice) -> Tuple[int, int]:
        """Change the devices of a region by ``delta`` (S, the region's shape); return (pulses, n_limited)."""

    def move_selected(self, array: WritableArray, delta: np.ndarray, rows: slice, cols: slice,
                      written: np.ndarray) -> Tuple[int, int]:
        """:meth:`move` of the devices ``written`` selects (bool, the region's shape) only, the others left
        alone. By default :meth:`move` of ``delta`` with 0 outside the selection, right for a scheme that
        sends nothing for a change of 0; a scheme that writes every device it is given (Li et al.'s SETs)
        overrides it."""
        return self.move(array, np.where(written, delta, 0.0), rows, cols)


class TwoPulseProgramming(ProgrammingScheme):
    """Li et al.'s RESET-then-SET scheme (see the module text and :class:`crossbar.TwoPulseScheme`)."""

    name = "two_pulse"

    def __init__(self, scheme):
        self.scheme = scheme

    @classmethod
    def for_device(cls, device):
        if device.two_pulse is None:
            raise ValueError(f"device {device.name!r}: programming='two_pulse' needs the device's two_pulse "
                             "settings (a crossbar.TwoPulseScheme); give them, or another programming scheme")
        return cls(device.two_pulse)

    def program_once(self, array, target, mask):
        s = self.scheme
        vg = s.gate_voltage_for(target)
        g = array._write_start(mask)
        pulse_kernels.two_pulse_update(g, mask, vg, s.gate_slope, s.gate_intercept, s.reset_conductance,
                                 array.device.program_noise_sigma, array.gain, array.stuck | ~mask,
                                 stream_seeds(array.rng, array.rows))
        array.gate_voltage = np.where(mask, vg, array.gate_voltage)
        n_devices = int(np.count_nonzero(mask))
        array._store_write(g, mask, pulses=2 * n_devices, row_steps=2 * int(np.count_nonzero(mask.any(axis=1))),
                           stuck_kept=True)
        return 2 * n_devices

    def move(self, array, delta, rows, cols):
        return array.step_gate_voltages(delta / self.scheme.gate_slope, rows, cols)

    def move_selected(self, array, delta, rows, cols, written):
        return array.step_gate_voltages(np.where(written, delta / self.scheme.gate_slope, 0.0), rows, cols, written)


class PulseLawProgramming(ProgrammingScheme):
    """Identical pulses with the device's pulse law (see the module text and :class:`crossbar.PulseUpdateLaw`)."""

    name = "pulse_law"

    def __init__(self, law):
        self.law = law

    @classmethod
    def for_device(cls, device):
        return cls(device.pulse_law)

    def program_once(self, array, target, mask):
        d = array.device
        if self.law.kind == "table":  # a measured device takes pulses: as many as its mean step says
            delta = np.where(mask, array.gain * target - array.conductance, 0.0)
            n = np.where(mask, self.pulses_for(delta, array), 0)
            array.apply_pulses(n)
            return int(np.count_nonzero(mask))
        # the device maps the nominal window onto its own (device-to-device spread)
        nominal = array.gain * target
        g = nominal + d.program_sigma(nominal) * array.rng.standard_normal(array.shape)
        g = np.where(mask, np.minimum(np.maximum(g, array.g_low), array.g_high), array._write_start(mask))
        n_devices = int(np.count_nonzero(mask))
        array._store_write(g, mask, pulses=n_devices, row_steps=int(np.count_nonzero(mask.any(axis=1))))
        return n_devices

    def pulses_for(self, delta: np.ndarray, array=None, rows=slice(None), cols=slice(None)) -> np.ndarray:
        """Whole pulses for conductance changes ``delta`` (S): ``round(dG / step_up)`` up, ``round(dG / step_down)``
        down (negative counts depress). A table device divides by its table's mean step at each device's
        conductance now (``array``'s devices ``rows, cols``)."""
        law = self.law
        if law.kind == "table":
            if array is None:
                raise ValueError("a table device's pulse counts depend on each device's conductance; give the array")
            g = array.conductance[rows, cols]
            up = delta >= 0
            step = np.abs(law.pulse_table().mean_step(g, up, array.table_index[rows, cols]))
            n = np.where(step > 0.0, np.rint(delta / np.where(step > 0.0, step, 1.0)), 0)
            # near a bound the mean step vanishes: a write gives at most MAX_TABLE_PULSES at once
            return np.clip(n, -MAX_TABLE_PULSES, MAX_TABLE_PULSES).astype(np.int64)
        return _whole_counts(delta, np.where(delta >= 0, np.rint(delta / law.step_up), np.rint(delta / law.step_down)))

    def move(self, array, delta, rows, cols):
        n = np.zeros(array.shape, dtype=np.int64)
        n[rows, cols] = self.pulses_for(delta, array, rows, cols)
        scheme = array.peripherals.write_scheme
        if scheme is not None:  # a passive array: cell by cell, disturbing the others
            return array.write_passive(n, scheme)[0], 0
        return array.apply_pulses(n), 0


def _whole_counts(delta: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``counts`` (whole floats) as int64, or ``ValueError`` naming the first change ``delta`` (S) whose count
    an int64 cannot hold (a conversion would wrap it)."""
    bad = ~(np.abs(counts) <= LARGEST_FLOAT_COUNT)
    if bad.any():
        where = tuple(int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f"a change of {delta[where]:.3g} S (device {', '.join(str(k + 1) for k in where)} of the "
                         f"region, counted from 1) asks for {counts[where]:.3g} pulses; a count holds at most "
                         "9.22e18 (2^63 - 1) pulses: make the update smaller (a lower learning rate)")
    return counts.astype(np.int64)


MAX_TABLE_PULSES = 1000
"""Most pulses one write gives a table device (its mean step vanishes towards a bound)."""


PROGRAMMING_SCHEMES = Registry("programming scheme", ProgrammingScheme)
"""The programming schemes by the word :attr:`crossbar.DeviceModel.programming` names them by."""
PROGRAMMING_SCHEMES.register("two_pulse", TwoPulseProgramming, builtin=True)
PROGRAMMING_SCHEMES.register("pulse_law", PulseLawProgramming, builtin=True)


def register_programming_scheme(name: str, cls: type) -> type:
    """Register a :class:`ProgrammingScheme` subclass under ``name`` (see
    :meth:`crossbar.registry.Registry.register`)."""
    return PROGRAMMING_SCHEMES.register(name, cls)


def programming_scheme_names():
    """The registered programming schemes' names (the allowed words of ``device.programming``)."""
    return PROGRAMMING_SCHEMES.names()


def scheme_for(device) -> ProgrammingScheme:
    """The programming scheme of a device model: the one it names (``programming``), else its two-pulse
    scheme if it has one, else its pulse law."""
    if getattr(device, "programming", None) is not None:
        return PROGRAMMING_SCHEMES.lookup(device.programming).for_device(device)
    if device.two_pulse is not None:
        return TwoPulseProgramming(device.two_pulse)
    return PulseLawProgramming(device.pulse_law)
