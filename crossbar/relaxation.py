"""Conductance relaxation after a write, from published fits, as a function of each device's time since it.

After a write a filament relaxes: the conductance moves on its own, by a mean
shift and a spread that both grow with the logarithm of the time since the
write. Each write draws one standard normal ``z`` per written device (from a
stream of the array's seed of its own); the device then sits at
``G_written + mu(t) + sigma(t) z``, ``t`` the time since its last write on the
array's clock (:attr:`crossbar.CrossbarArray.time`), so relaxation between
training steps and after training is one mechanism with drift.

- ``falcone2025_cmo_hfox``: CMO/HfOx ReRAM, Falcone et al., arXiv:2502.04524
  (Lombardo et al., DRC 2024): ``mu = -0.089 ln(t / 1 s)`` uS, ``sigma =
  0.042 ln(t / 1 s) + 0.412`` uS, independent of G. The fit starts at 1 s;
  before it both grow in proportion to ``t`` from 0 at the write (an
  assumption of this package: the fit says nothing earlier).
"""

from __future__ import annotations

import numpy as np

RELAXATION_MODELS = ("falcone2025_cmo_hfox",)
"""Published fits of conductance relaxation (:class:`crossbar.DeviceModel` ``relaxation_model``)."""

RELAXATION_STREAM = 0x2E1
"""Spawn-key entry of the seed of an array's relaxation draws."""


def relaxation_shift(model: str, seconds_since_write, z) -> np.ndarray:
    """Each device's move since its last write, siemens: ``mu(t) + sigma(t) z`` of the fit ``model``.

    Parameters
    ----------
    seconds_since_write : array_like
        Time since each device's last write, seconds (>= 0).
    z : array_like
        Each device's standard normal of its last write.
    """
    if model != "falcone2025_cmo_hfox":
        raise ValueError(f"relaxation_model={model!r} is not known; choose one of {list(RELAXATION_MODELS)}")
    t = np.maximum(np.asarray(seconds_since_write, dtype=np.float64), 0.0)
    late = np.log(np.maximum(t, 1.0))
    onset = np.minimum(t, 1.0)  # 0 at the write, 1 from the fit's first second on
    mean = -0.089 * late
    sigma = 0.042 * late + 0.412 * onset
    return (mean + sigma * np.asarray(z)) * 1e-6
