"""``sgd``: each change written at once as conductance changes (Li et al.'s method, the default).

Each pair's devices are asked to move by ``+-k dW / 2`` and the device's programming scheme turns that into
its pulses (:meth:`mapping.MappedMatrix.apply_update`): Li et al.'s RESET and SET gate voltages on
``li2019``, ``round(dG / step)`` identical pulses on a pulse-law device, a measured table's mean step on a
table device. A change smaller than half a step is lost.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from lstm.updates.base import UpdateAlgorithm


class DirectUpdate(UpdateAlgorithm):
    """Write each mini-batch's change at once (see the module text)."""

    def apply(self, delta: Dict[str, np.ndarray]) -> None:
        hw = self.hardware
        for name, d in delta.items():
            hw.matrices[name].apply_update(*hw.split_bias(d))
