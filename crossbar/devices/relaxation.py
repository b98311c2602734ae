"""Conductance relaxation after a write, from published fits, as a function of each device's time since it.

After a write a filament relaxes: the conductance moves on its own, by a mean
shift and a spread that both grow with the logarithm of the time since the
write. Each write draws one standard normal ``z`` per written device (from a
stream of the array's seed of its own); the device then sits at
``G_written + mu(t) + sigma(t) z``, ``t`` the time since its last write on the
array's clock (:attr:`crossbar.CrossbarArray.time`), so relaxation between
training steps and after training is one mechanism with drift.

- ``falcone2025_cmo_hfox``: CMO/HfOx ReRAM, Falcone et al., arXiv:2502.04524
  (Lombardo et al., DRC 2024; the coefficients as IBM aihwkit's
  ``ReRamCMONoiseModel`` carries them). The paper follows the distribution of
  a state programmed to about 50 uS at 0.2 % acceptance from 1 s to 10 years
  (its Fig. 3e and insets) and fits its mean, ``-0.08900 ln(t / 1 s) +
  49.9238`` uS, and its standard deviation, ``s(t) = 0.04201 ln(t / 1 s) +
  0.41183`` uS, and finds the relaxation independent of the programmed
  conductance (Fig. 3d). So:

  - the mean moves by ``mu = -0.0762 - 0.08900 ln(t / 1 s)`` uS at any G
    (the fit's intercept less the 50 uS target: an offset, as the paper finds
    the relaxation independent of G; aihwkit instead scales the target by
    49.92/50, which agrees at 50 uS and differs by at most 0.06 uS over
    10..90 uS);
  - ``s(t)`` is the whole spread at time ``t`` of a device programmed as the
    paper's were, its programming error included: the relaxation adds
    ``sqrt(s(t)^2 - s_p^2)``, ``s_p = 0.00081107 + 0.00106879 * 50 =
    0.05425`` uS the programming error at 0.2 % acceptance of the 50 uS
    state the fit was taken on, so that with that programming error
    (``falcone2025_cmo_hfox_0.2pct``) the spread is exactly ``s(t)`` at 50
    uS (0.412 uS at 1 s, 0.509 uS at 10 s) and within 2 % of it over
    10..90 uS.

  The fit starts at 1 s; before it the shift and the added spread grow in
  proportion to ``t`` from 0 at the write (an assumption of this package:
  the fit says nothing earlier).
"""

from __future__ import annotations

import numpy as np

RELAXATION_MODELS = ("falcone2025_cmo_hfox",)
"""Published fits of conductance relaxation (:class:`crossbar.DeviceModel` ``relaxation_model``)."""

FALCONE_MEAN_PER_LN_T = -0.08900206
"""uS per ln(t / 1 s): the slope of the mean of Falcone et al.'s 50 uS state (aihwkit's decay_dict mean)."""
FALCONE_MEAN_OFFSET = 49.92383444 - 50.0
"""uS: the intercept of that mean at 1 s less its 50 uS target."""
FALCONE_SPREAD_PER_LN_T = 0.04201137
"""uS per ln(t / 1 s): the slope of the standard deviation of that state."""
FALCONE_SPREAD_AT_1S = 0.41183342
"""uS: that standard deviation at 1 s."""
FALCONE_PROGRAM_NOISE_AT_02PCT = (0.00081107, 0.00106879)
"""(uS, uS per uS): Falcone et al.'s programming error at 0.2 % acceptance, ``sigma = a + b G`` (the
``falcone2025_cmo_hfox_0.2pct`` program-noise model of :func:`crossbar.devices.models.program_noise_model_sigma`)."""
FALCONE_PROGRAMMED_SPREAD = FALCONE_PROGRAM_NOISE_AT_02PCT[0] + FALCONE_PROGRAM_NOISE_AT_02PCT[1] * 50.0
"""uS: the programming error at 0.2 % acceptance of the 50 uS state, part of the fitted spread."""

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
    mean = (FALCONE_MEAN_OFFSET * onset + FALCONE_MEAN_PER_LN_T * late)
    whole = FALCONE_SPREAD_PER_LN_T * late + FALCONE_SPREAD_AT_1S
    sigma = np.sqrt(np.maximum(whole * whole - FALCONE_PROGRAMMED_SPREAD ** 2, 0.0)) * onset
    return (mean + sigma * np.asarray(z)) * 1e-6
