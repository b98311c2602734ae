"""The nominal step of a device: how far one pulse moves it, up and down, at the middle of its window.

Update algorithms that count whole pulses (mixed precision, Tiki-Taka's transfers) divide an accumulated
change by this step: Nandakumar et al.'s ``epsilon``, aihwkit's ``dw_min``. A real device's steps scatter
around it (cycle noise, device-to-device spread, a measured table's random steps); the algorithm's point is
to count pulses by the nominal step and let the devices do what they do.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from crossbar.devices.pulse_kernels import pulse_steps_reference


def nominal_steps(device) -> Tuple[float, float]:
    """Mean conductance change of one potentiating and of one depressing pulse at the middle of the
    window, siemens, both positive.

    Pulse laws (:class:`crossbar.PulseUpdateLaw`): the law's step there (``linear``: ``step_up``,
    ``step_down``; ``soft_bounds``: half of them; ``exponential``: ``step * exp(-nonlinearity / 2)``);
    measured tables: the first table's mean step there. ``ValueError`` for a device without a pulse law (Li
    et al.'s two-pulse scheme is written by gate voltages, not by counted pulses).

    Parameters
    ----------
    device : crossbar.DeviceModel

    Returns
    -------
    (float, float)
        Step up and step down, S.
    """
    law = device.pulse_law
    if device.two_pulse is not None:
        raise ValueError(f"device {device.name!r} is written by gate voltages (two-pulse scheme), not by counted "
                         "pulses: it has no nominal pulse step")
    if law is None:
        raise ValueError(f"device {device.name!r} has no pulse law: it has no nominal pulse step")
    middle = 0.5 * (device.g_min + device.g_max)
    if law.kind == "table":
        table = law.pulse_table()
        up, down = (float(abs(table.mean_step(np.array([middle]), flag)[0])) for flag in (True, False))
    else:
        width = device.g_max - device.g_min
        up, down = (abs(float(np.ravel(pulse_steps_reference(np.array([middle]), device.g_min, width, flag,
                                                             law.kind_code, law.step_up, law.step_down,
                                                             law.nonlinearity))[0]))
                    for flag in (True, False))
    if not (up > 0.0 and down > 0.0):
        raise ValueError(f"device {device.name!r}: its mean pulse step at the middle of its window is "
                         f"{up:g} S up and {down:g} S down; counting pulses needs both > 0")
    return up, down
