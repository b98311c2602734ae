"""What an update algorithm is: how in-situ training turns the optimizer's change into pulses on a chip.

The trainer (:class:`lstm.hardware.InSituTrainer`) computes a batch's gradients in software from the
activations the arrays gave, the optimizer turns them into a change of each weight matrix, and the
algorithm writes that change onto the devices: straight away as conductance changes (``sgd``, Li et al.'s
method), through a digital accumulator (``mixed_precision``), or through a second, fast array whose
content is read back and transferred (the Tiki-Taka family). An algorithm keeps its own state (digital
buffers, choppers, counters), which a checkpoint saves and a resume restores, and may place arrays of its
own on the chip (the fast arrays), whose reads and pulses count in the chip's energy like any other.

A new algorithm is one subclass of :class:`UpdateAlgorithm` and one call of
:func:`lstm.updates.register_update_algorithm`; ``[update] algorithm`` then names it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Dict, Tuple

import numpy as np


class UpdateAlgorithm(ABC):
    """How a change of the weights reaches the devices (see the module text).

    Parameters
    ----------
    spec : lstm.updates.UpdateSpec
        The algorithm's settings.
    hardware : lstm.hardware.HardwareNetwork
        The network on its chip; its weight matrices are ``hardware.matrices``.
    rng : numpy.random.Generator
        The algorithm's own draws (choppers), from the run's seed.
    """

    settings_used: ClassVar[Tuple[str, ...]] = ()
    """The fields of :class:`~lstm.updates.UpdateSpec` this algorithm reads (the others must stay at their
    defaults, so that a setting that would do nothing is refused)."""

    needs_counted_pulses: ClassVar[bool] = False
    """Whether it writes whole pulses (:meth:`mapping.MappedMatrix.apply_pulse_counts`): a device written by
    gate voltages (Li et al.'s two-pulse scheme) is refused."""

    def __init__(self, spec, hardware, rng: np.random.Generator):
        self.spec = spec
        self.hardware = hardware
        self.rng = rng
        if self.needs_counted_pulses and hardware.chip.device.two_pulse is not None:
            raise ValueError(f"update.algorithm={spec.algorithm!r} counts whole pulses; device "
                             f"{hardware.chip.device.name!r} is written by Li et al.'s two-pulse scheme (every "
                             "device of a region SET again at each write): use update.algorithm='sgd' or a "
                             "pulse-law or measured-table device")

    def logical_changes(self, delta: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The network-shaped changes of the weight matrices (rows ``[x; h; 1]``) as each matrix's logical
        rows (:meth:`mapping.MappedMatrix.logical_change`), weight units."""
        hw = self.hardware
        return {name: hw.matrices[name].logical_change(*hw.split_bias(d)) for name, d in delta.items()}

    @abstractmethod
    def apply(self, delta: Dict[str, np.ndarray]) -> None:
        """Write one mini-batch's change of each weight matrix (network-shaped, weight units) onto the chip."""

    def state(self) -> Dict[str, np.ndarray]:
        """The algorithm's own state (buffers, choppers, counters) as named arrays; empty when it has none."""
        return {}

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Take a :meth:`state`; ``ValueError`` naming ``source`` when it is another algorithm's or malformed."""
        if state:
            raise ValueError(f"{source}: update state {sorted(state)} given; update.algorithm="
                             f"{self.spec.algorithm!r} keeps none")

    def counts(self) -> Dict[str, int]:
        """What the algorithm did besides the devices' own counters (transfers, digital accumulations)."""
        return {}
