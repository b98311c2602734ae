"""crossbar: the physical layer of the simulator.

Memristor devices (:class:`DeviceModel`, :func:`preset`), arrays of them
(:class:`CrossbarArray`), the peripherals around an array (:class:`DAC`,
:class:`ADC`, :class:`WireResistance`), the one read engine of any regions of
arrays (:class:`ReadPlan`), and counters turned into energy and latency. Named extension points (an ADC
architecture, a cell I-V, a pulse law, a programming scheme: one class and one ``register_*`` call, see
:mod:`crossbar.registry`). It knows nothing of neural networks. SI units throughout: siemens,
volts, amperes, seconds.
"""

from crossbar import thread_environment  # noqa: F401  (first: it must run before numpy and Numba load their threads)
from crossbar.array.crossbar_array import CrossbarArray, ProgramReport
from crossbar.circuits.adc import ADC_KINDS, ADCCircuit, ConverterBank
from crossbar.circuits.adc_architectures import ADC_ARCHITECTURES, AdcArchitecture, register_adc_architecture
from crossbar.circuits.device_reads import DEVICE_READ_SCHEMES
from crossbar.circuits.energy import EnergyCosts, OperationCounts
from crossbar.circuits.passive import LawCell, PassiveSolution, SelectorCell, SinhCell, solve_passive
from crossbar.circuits.peripherals import ADC, DAC, Peripherals
from crossbar.circuits.wires import WireResistance, effective_conductance, solve_iterative, solve_sparse
from crossbar.devices.cells import CELL_IV_MODELS, CellIV, register_cell_iv
from crossbar.devices.disturb import WRITE_SCHEMES, WriteScheme
from crossbar.devices.models import DeviceModel, PulseUpdateLaw, TwoPulseScheme
from crossbar.devices.programming import PROGRAMMING_SCHEMES, ProgrammingScheme, register_programming_scheme
from crossbar.devices.pulse_laws import PULSE_LAWS, PulseLaw, apply_law_pulses, register_pulse_law
from crossbar.devices.relaxation import RELAXATION_MODELS
from crossbar.devices.temporal_noise import FLICKER_DENSITY_MODELS, TemporalReadNoise
from crossbar.presets import all_presets, preset, preset_doc, preset_names, preset_peripherals
from crossbar.read.plan import Drive, Read, ReadPlan
from crossbar.registry import Registry
from crossbar.settings import Setting, check_settings, setting
from crossbar.specs import ADC_RANGE_MODES, INPUT_MODES, AdcSpec, ArraySpec, DacSpec, WiresSpec

__all__ = [
    "ADC_ARCHITECTURES", "AdcArchitecture", "CELL_IV_MODELS", "CellIV", "LawCell", "PROGRAMMING_SCHEMES", "PULSE_LAWS",
    "ProgrammingScheme", "PulseLaw", "Registry", "apply_law_pulses", "register_adc_architecture",
    "register_cell_iv", "register_programming_scheme", "register_pulse_law",
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
