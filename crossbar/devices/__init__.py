"""Devices: what one memristor does.

Models and pulse laws (:mod:`~crossbar.devices.models`), tables of steps fitted to measured traces
(:mod:`~crossbar.devices.pulse_tables`, built from :mod:`~crossbar.devices.measured_traces`), the pulse
kernels (:mod:`~crossbar.devices.pulse_kernels`), programming schemes
(:mod:`~crossbar.devices.programming`), relaxation and drift (:mod:`~crossbar.devices.relaxation`), 1/f
and telegraph read noise (:mod:`~crossbar.devices.temporal_noise`) and write disturb of half-selected
cells (:mod:`~crossbar.devices.disturb`). SI units: siemens, volts, seconds.
"""
