"""Pulse update laws as an extension point: what one identical programming pulse does to a device.

A law is a :class:`PulseLaw` subclass registered in :data:`PULSE_LAWS` under
the word :attr:`crossbar.PulseUpdateLaw.kind` names it by. It is built from
the device's :class:`crossbar.PulseUpdateLaw` (its steps, nonlinearity) and
gives :meth:`PulseLaw.step`, the noise-free change of one pulse at each
device's conductance. The built-in laws (``linear``, ``soft_bounds``,
``exponential``, ``table``) have compiled kernels
(:func:`crossbar.devices.pulse_kernels.pulse_update`, the table's own), which
:func:`apply_law_pulses` keeps using, bit for bit; a registered law without
one is stepped pulse by pulse in numpy (:func:`law_pulses_reference`), and
refuses what it cannot do (pulse-to-pulse noise: it draws no noise).

Conductances in siemens.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from crossbar.devices import pulse_kernels
from crossbar.registry import Registry


class PulseLaw(ABC):
    """Interface of a pulse update law (see the module text).

    Parameters
    ----------
    settings : crossbar.PulseUpdateLaw
        The device's pulse-law settings (``step_up``, ``step_down`` in S, ``nonlinearity``).

    Attributes
    ----------
    kernel_code : int or None
        The law's code in the compiled pulse kernels; ``None`` for a law stepped in numpy.
    """

    kernel_code = None

    def __init__(self, settings):
        self.settings = settings

    @abstractmethod
    def step(self, g: np.ndarray, up: np.ndarray, g_low: np.ndarray, g_high: np.ndarray) -> np.ndarray:
        """Noise-free change of one pulse, S, for devices at conductances ``g`` (S) in windows ``[g_low,
        g_high]``; ``up`` True potentiates, False depresses. Element-wise on arrays of one shape."""

    def saturating_pulses(self, width: float):
        """Pulses up and down after which more leave a device of window ``width`` (S) where it is (see
        :meth:`crossbar.PulseUpdateLaw.saturating_pulses`). By default twice the pulses that cross the
        window at ``step_up`` and ``step_down`` a pulse."""
        s = self.settings
        return tuple(int(min(math.ceil(2 * width / step), 2 ** 62)) for step in (s.step_up, s.step_down))


class LinearLaw(PulseLaw):
    """``dG = +step_up`` or ``-step_down`` (hard bounds at the window)."""

    kernel_code = 0

    def step(self, g, up, g_low, g_high):
        return np.where(up, self.settings.step_up, -self.settings.step_down) + 0.0 * g


class SoftBoundsLaw(PulseLaw):
    """``dG = step_up (1 - w)`` or ``-step_down w``, ``w = (G - g_low) / (g_high - g_low)``."""

    kernel_code = 1

    def step(self, g, up, g_low, g_high):
        w = (g - g_low) / (g_high - g_low)
        return np.where(up, self.settings.step_up * (1.0 - w), -self.settings.step_down * w)


class ExponentialLaw(PulseLaw):
    """``dG = step_up exp(-nonlinearity w)`` or ``-step_down exp(-nonlinearity (1 - w))``."""

    kernel_code = 2

    def step(self, g, up, g_low, g_high):
        s = self.settings
        w = (g - g_low) / (g_high - g_low)
        return np.where(up, s.step_up * np.exp(-s.nonlinearity * w), -s.step_down * np.exp(-s.nonlinearity * (1.0 - w)))


class TableLaw(PulseLaw):
    """A measured table of steps against G (:mod:`crossbar.devices.pulse_tables`): its own kernel and spread."""

    kernel_code = 3

    def step(self, g, up, g_low, g_high):
        """The table's mean step at ``g`` (S, its first table's), signed; the table's kernel draws each step
        from the table's spread around it."""
        return self.settings.pulse_table().mean_step(g, up)


PULSE_LAWS = Registry("pulse law", PulseLaw)
"""The pulse update laws by the word :attr:`crossbar.PulseUpdateLaw.kind` names them by."""
for _name, _cls in (("linear", LinearLaw), ("soft_bounds", SoftBoundsLaw), ("exponential", ExponentialLaw),
                    ("table", TableLaw)):
    PULSE_LAWS.register(_name, _cls, builtin=True)


def register_pulse_law(name: str, cls: type) -> type:
    """Register a :class:`PulseLaw` subclass under ``name`` (see :meth:`crossbar.registry.Registry.register`)."""
    return PULSE_LAWS.register(name, cls)


def pulse_law_names():
    """The registered pulse laws' names (the allowed words of ``pulse_law.kind``)."""
    return PULSE_LAWS.names()


def law_pulses_reference(conductance, n_pulses, g_low, g_high, frozen, law: PulseLaw) -> int:
    """Apply ``n_pulses[i, j]`` pulses of ``law`` to each device, in place, pulse by pulse in numpy.

    Each pulse moves G by :meth:`PulseLaw.step` at the present G, clipped to
    the device's window; frozen devices do not move. Returns the pulses
    applied (frozen devices receive theirs too), as
    :func:`crossbar.devices.pulse_kernels.pulse_update` does.
    """
    n = np.asarray(n_pulses, dtype=np.int64)
    count, up = np.abs(n), n > 0
    g = conductance
    for p in range(int(count.max()) if count.size else 0):
        moving = (count > p) & ~frozen
        moved = np.minimum(np.maximum(g + law.step(g, up, g_low, g_high), g_low), g_high)
        g[...] = np.where(moving, moved, g)
    return int(count.sum())


def apply_law_pulses(conductance, n_pulses, g_low, g_high, frozen, settings, seeds) -> int:
    """Apply the pulses of the law ``settings`` (a :class:`crossbar.PulseUpdateLaw`, not a table) in place.

    A built-in law runs its compiled kernel
    (:func:`crossbar.devices.pulse_kernels.pulse_update`, the same call and
    bits as before the registry); a registered law without a kernel runs
    :func:`law_pulses_reference`, and refuses pulse-to-pulse noise (it draws
    none). Arguments as :func:`crossbar.devices.pulse_kernels.pulse_update`'s;
    returns the pulses applied.
    """
    if settings.kind == "table":
        raise ValueError("pulse_law.kind='table' is stepped by its table's kernel "
                         "(crossbar.devices.pulse_tables.table_pulse_update), not by apply_law_pulses")
    law = PULSE_LAWS.lookup(settings.kind)(settings)
    if law.kernel_code is not None:
        return pulse_kernels.pulse_update(conductance, n_pulses, g_low, g_high, frozen, law.kernel_code,
                                          settings.step_up, settings.step_down, settings.nonlinearity,
                                          settings.cycle_noise_sigma_relative, seeds)
    if settings.cycle_noise_sigma_relative != 0.0:
        raise ValueError(f"pulse_law.cycle_noise_sigma_relative={settings.cycle_noise_sigma_relative!r} is not "
                         f"allowed with pulse_law.kind={settings.kind!r}: a registered law without a compiled "
                         "kernel draws no pulse-to-pulse noise; 0 is required")
    return law_pulses_reference(conductance, n_pulses, g_low, g_high, frozen, law)
