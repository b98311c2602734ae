"""crossbar: the physical layer of the simulator.

Memristor devices (:class:`DeviceModel`, :func:`preset`), arrays of them
(:class:`CrossbarArray`), and the peripherals around an array (:class:`DAC`,
:class:`ADC`, :class:`WireResistance`), with counters turned into energy and
latency. It knows nothing of neural networks. SI units throughout: siemens,
volts, amperes, seconds.
"""

from .array import CrossbarArray, ProgramReport
from .device import DeviceModel, PulseUpdateLaw, TwoPulseScheme
from .energy import EnergyCosts, OperationCounts
from .peripherals import ADC, DAC, Peripherals
from .presets import all_presets, preset, preset_doc, preset_names, preset_peripherals
from .wires import WireResistance, solve_iterative, solve_sparse

__all__ = [
    "ADC", "DAC", "CrossbarArray", "DeviceModel", "EnergyCosts", "OperationCounts", "Peripherals",
    "ProgramReport", "PulseUpdateLaw", "TwoPulseScheme", "WireResistance", "all_presets", "preset",
    "preset_doc", "preset_names", "preset_peripherals", "solve_iterative", "solve_sparse",
]

__version__ = "0.1.0"
