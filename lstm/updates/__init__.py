"""In-situ update algorithms: how the optimizer's change of the weights reaches the devices.

``sgd`` (Li et al.'s method: at once, as conductance changes), ``mixed_precision`` (a digital accumulator,
Nandakumar et al. 2020), ``tiki_taka_v2`` (fast arrays and a digital transfer buffer, Gokmen 2021),
``chopped_tiki_taka_v2`` and ``agad`` (sign choppers and an on-the-fly reference, Rasch et al. 2024);
chosen by :class:`UpdateSpec` (the experiment file's ``[update]``).
"""

from lstm.updates.base import UpdateAlgorithm
from lstm.updates.registry import UPDATE_ALGORITHMS, make_algorithm, register_update_algorithm
from lstm.updates.spec import UpdateSpec

__all__ = ["UPDATE_ALGORITHMS", "UpdateAlgorithm", "UpdateSpec", "make_algorithm", "register_update_algorithm"]
