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

from crossbar.validation import as_float_array
from lstm.updates.stochastic import StochasticPulseTrains, logical_inputs, sgd_learning_rate


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

    supports_pulse_trains: ClassVar[bool] = False
    """Whether its rank-one writes may be stochastic pulse trains (``update.pulse_trains = "stochastic"``,
    :mod:`lstm.updates.stochastic`)."""

    def __init__(self, spec, hardware, rng: np.random.Generator):
        self.spec = spec
        self.hardware = hardware
        self.rng = rng
        self.pulse_trains = None
        self.structural_masks = {}
        self.factors = self.gradients = None
        device = hardware.chip.device
        stochastic = spec.pulse_trains == "stochastic"
        if (self.needs_counted_pulses or stochastic) and device.two_pulse is not None:
            what = (f"update.algorithm={spec.algorithm!r}" if self.needs_counted_pulses
                    else "update.pulse_trains='stochastic'")
            raise ValueError(f"{what} counts whole pulses; device {device.name!r} is written by Li et al.'s "
                             "two-pulse scheme (every device of a region SET again at each write): use "
                             "update.algorithm 'sgd' or 'mixed_precision' with summed pulse trains, or a "
                             "pulse-law or measured-table device")
        if stochastic:
            if not self.supports_pulse_trains:
                raise ValueError(f"update.pulse_trains='stochastic' is not allowed with update.algorithm="
                                 f"{spec.algorithm!r}: it writes no rank-one terms; use 'sgd' or a Tiki-Taka "
                                 "algorithm")
            trains_rng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
            self.pulse_trains = StochasticPulseTrains(spec, trains_rng)
            self.structural_masks = {name: self._structural_mask(name) for name in hardware.matrices}

    @property
    def needs_factors(self) -> bool:
        """Whether it writes the rank-one factors of each mini-batch's gradient (stochastic pulse trains):
        the trainer then hands them over through :meth:`take_factors` before each :meth:`apply`."""
        return self.pulse_trains is not None

    def logical_changes(self, delta: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The network-shaped changes of the weight matrices (rows ``[x; h; 1]``) as each matrix's logical
        rows (:meth:`mapping.MappedMatrix.logical_change`), weight units."""
        hw = self.hardware
        return {name: hw.matrices[name].logical_change(*hw.split_bias(d)) for name, d in delta.items()}

    def take_factors(self, factors: Dict[str, tuple], gradients: Dict[str, np.ndarray]) -> None:
        """Receive a mini-batch's rank-one factors, ``factors[name] = (inputs (N, rows), errors (N, outputs))``
        network-shaped, and its gradients (:meth:`lstm.Network.backward`), before :meth:`apply` writes its
        change; called when :attr:`needs_factors`."""
        self.factors, self.gradients = factors, gradients

    def rank_one_terms(self, delta: Dict[str, np.ndarray]):
        """The mini-batch's terms for stochastic pulse trains: ``(lr, {name: (inputs, errors)})``, inputs as
        each matrix's logical rows (N, n_logical), errors (N, n_out), weight units, ``lr`` the plain SGD
        learning rate of ``delta`` (:func:`lstm.updates.stochastic.sgd_learning_rate`); the factors are used
        once."""
        if self.factors is None:
            raise ValueError("update.pulse_trains='stochastic' needs each mini-batch's rank-one factors: train "
                             "with lstm.hardware.InSituTrainer (its gradients() hands them over)")
        lr = sgd_learning_rate(delta, self.gradients)
        terms = {}
        for name in delta:
            if name not in self.factors:
                raise ValueError(f"no rank-one factors of {name!r} were handed over; {sorted(self.factors)} were")
            inputs, errors = self.factors[name]
            rows, cols = self.hardware.network.params[name].shape
            inputs = as_float_array(f"factors[{name!r}] inputs", inputs, shape=(None, rows))
            errors = as_float_array(f"factors[{name!r}] errors", errors, shape=(inputs.shape[0], cols))
            terms[name] = (logical_inputs(self.hardware.matrices[name], inputs), errors)
        self.factors = self.gradients = None
        return lr, terms

    def _structural_mask(self, name: str):
        """Which pairs of matrix ``name`` carry weights (bool, (n_logical, n_out)), or None when all do (a
        GRU's matrices have structural zeros); fixed for a network, kept in ``structural_masks``."""
        mask = self.hardware.network.masks.get(name)
        if mask is None:
            return None
        return self.hardware.matrices[name].logical_change(*self.hardware.split_bias(mask)) != 0

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

    def pulse_train_counts(self) -> Dict[str, int]:
        """What the stochastic pulse trains did besides the devices' counters: the terms whose stream
        probability was held at 1 (``saturated_terms``); empty without them."""
        return {} if self.pulse_trains is None else {"saturated_terms": self.pulse_trains.saturated_terms}

    def pulse_train_state(self) -> Dict[str, np.ndarray]:
        """The stochastic pulse trains' state (their generator, saturated terms); empty without them."""
        return {} if self.pulse_trains is None else self.pulse_trains.state()

    def load_pulse_train_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Take a :meth:`pulse_train_state`; ``ValueError`` naming ``source`` when it does not fit."""
        if self.pulse_trains is None:
            if state:
                raise ValueError(f"{source}: pulse-train state {sorted(state)} given; update.pulse_trains is "
                                 "'summed'")
            return
        self.pulse_trains.load_state(state, source)
