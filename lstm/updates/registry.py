"""The update algorithms by the word ``[update] algorithm`` names them by."""

from __future__ import annotations

from crossbar.registry import Registry

from lstm.updates.base import UpdateAlgorithm
from lstm.updates.chopped import Agad, ChoppedTikiTakaV2
from lstm.updates.direct import DirectUpdate
from lstm.updates.mixed_precision import MixedPrecision
from lstm.updates.tiki_taka import TikiTakaV2

UPDATE_ALGORITHMS = Registry("update algorithm", UpdateAlgorithm)
"""The update algorithms: the built-ins and those a user registered."""
for _name, _cls in (("sgd", DirectUpdate), ("mixed_precision", MixedPrecision), ("tiki_taka_v2", TikiTakaV2),
                    ("chopped_tiki_taka_v2", ChoppedTikiTakaV2), ("agad", Agad)):
    UPDATE_ALGORITHMS.register(_name, _cls, builtin=True)


def register_update_algorithm(name: str, cls: type) -> type:
    """Register an :class:`~lstm.updates.base.UpdateAlgorithm` subclass under ``name`` (see
    :meth:`crossbar.registry.Registry.register`); ``[update] algorithm = name`` then selects it."""
    return UPDATE_ALGORITHMS.register(name, cls)


def make_algorithm(spec, hardware, rng) -> UpdateAlgorithm:
    """The algorithm ``spec.algorithm`` names, for ``hardware`` (a :class:`lstm.hardware.HardwareNetwork`)."""
    return UPDATE_ALGORITHMS.lookup(spec.algorithm)(spec, hardware, rng)
