"""Circuits around the devices: converters and their metrics, wires, passive arrays, device reads, energy.

DACs and ADCs (:mod:`~crossbar.circuits.peripherals`, the ADC architectures in
:mod:`~crossbar.circuits.adc`, their arithmetic once in :mod:`~crossbar.circuits.conversion`, their
linearity in :mod:`~crossbar.circuits.adc_metrics`), wire resistance (:mod:`~crossbar.circuits.wires`),
selector-less arrays with bending cells (:mod:`~crossbar.circuits.passive`), reading one device's
conductance (:mod:`~crossbar.circuits.device_reads`) and the energy and latency of counted operations
(:mod:`~crossbar.circuits.energy`). SI units: volts, amperes, siemens, seconds, joules.
"""
