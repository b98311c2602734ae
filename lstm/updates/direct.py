"""``sgd``: each change written at once as conductance changes (Li et al.'s method, the default).

Each pair's devices are asked to move by ``+-k dW / 2`` and the device's programming scheme turns that into
its pulses (:meth:`mapping.MappedMatrix.apply_update`): Li et al.'s RESET and SET gate voltages on
``li2019``, ``round(dG / step)`` identical pulses on a pulse-law device, a measured table's mean step on a
table device. A change smaller than half a step is lost. With ``update.pulse_trains = "stochastic"``
(plain SGD) each rank-one term of the gradient goes onto the pairs as coincidences of pulse streams
instead (:mod:`lstm.updates.stochastic`).
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from lstm.updates.base import UpdateAlgorithm


class DirectUpdate(UpdateAlgorithm):
    """Write each mini-batch's change at once (see the module text)."""

    supports_pulse_trains = True

    def apply(self, delta: Dict[str, np.ndarray]) -> None:
        hw = self.hardware
        if self.pulse_trains is not None:
            lr, terms = self.rank_one_terms(delta)
            if lr > 0.0:
                for name, (inputs, errors) in terms.items():
                    self.pulse_trains.write(hw.matrices[name], inputs, errors, lr, self.structural_masks[name])
            return
        for name, d in delta.items():
            hw.matrices[name].apply_update(*hw.split_bias(d))

    def counts(self) -> Dict[str, int]:
        return self.pulse_train_counts()
