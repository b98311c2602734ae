"""crossbar: the physical layer of the simulator.

Memristor devices (:class:`DeviceModel`, :func:`preset`), arrays of them
(:class:`CrossbarArray`), the peripherals around an array (:class:`DAC`,
:class:`ADC`, :class:`WireResistance`), the one read engine of any regions of
arrays (:class:`ReadPlan`), and counters turned into energy and latency. It knows nothing of neural networks. SI units throughout: siemens,
volts, amperes, seconds.
"""

from crossbar import thread_environment  # noqa: F401  (first: it must run before numpy and Numba load their threads)
from crossbar.array.crossbar_array import CrossbarArray, ProgramReport
from crossbar.circuits.adc import ADC_KINDS, ADCCircuit, ConverterBank
from crossbar.circuits.device_reads import DEVICE_READ_SCHEMES
from crossbar.circuits.energy import EnergyCosts, OperationCounts
from crossbar.circuits.passive import PassiveSolution, SelectorCell, SinhCell, solve_passive
from crossbar.circuits.peripherals import ADC, DAC, Peripherals
from crossbar.circuits.wires import WireResistance, effective_conductance, solve_iterative, solve_sparse
from crossbar.devices.disturb import WRITE_SCHEMES, WriteScheme
from crossbar.devices.models import DeviceModel, PulseUpdateLaw, TwoPulseScheme
from crossbar.devices.relaxation import RELAXATION_MODELS
from crossbar.devices.temporal_noise import FLICKER_DENSITY_MODELS, TemporalReadNoise
from crossbar.presets import all_presets, preset, preset_doc, preset_names, preset_peripherals
from crossbar.read.plan import Drive, Read, ReadPlan
from crossbar.settings import Setting, check_settings, setting
from crossbar.specs import ADC_RANGE_MODES, INPUT_MODES, AdcSpec, ArraySpec, DacSpec, WiresSpec

__all__ = [
    "ADC", "ADC_KINDS", "ADC_RANGE_MODES", "ADCCircuit", "AdcSpec", "ArraySpec", "ConverterBank", "DAC", "DacSpec",
    "CrossbarArray", "DEVICE_READ_SCHEMES", "DeviceModel",
    "Drive", "INPUT_MODES",
    "EnergyCosts", "FLICKER_DENSITY_MODELS", "OperationCounts", "PassiveSolution", "RELAXATION_MODELS",
    "Peripherals", "ProgramReport", "PulseUpdateLaw", "Read", "ReadPlan", "SelectorCell", "Setting", "SinhCell",
    "TemporalReadNoise", "TwoPulseScheme",
    "WireResistance", "WiresSpec", "WRITE_SCHEMES", "WriteScheme",
    "all_presets", "check_settings", "effective_conductance", "preset", "preset_doc", "preset_names",
    "preset_peripherals", "setting",
    "solve_iterative", "solve_passive", "solve_sparse",
]

__version__ = "0.2.0"
