"""Periphery presets: the array size, converters, weight slices and energy of a published accelerator.

A periphery preset is everything around the devices: pair it with any device
preset (``crossbar.preset``). Each preset follows its paper where the paper
gives a number and says where it does not. Two differences hold for every
preset here, because an LSTM's inputs ``[x; h]`` are signed where a CNN's
(after ReLU) are not:

- the DAC has a sign bit beside the paper's input bits, and a bit-serial
  cycle drives each bit with its input's sign;
- the column currents are therefore signed, and the ADC has a sign bit
  beside the paper's bits (the converter's energy follows with
  :meth:`crossbar.EnergyCosts.for_adc`).

``isaac``
    Shafiee et al., "ISAAC: a convolutional neural network accelerator with
    in-situ analog arithmetic in crossbars", ISCA 2016, pp. 14-26,
    doi:10.1109/ISCA.2016.12; Table 6 (one IMA: eight 128 x 128 arrays of
    2-bit cells, 8 x 128 1-bit DACs at 4 mW, eight 8-bit 1.28 GS/s ADCs at
    16 mW, a read cycle of 100 ns).

    - 128 x 128 arrays; 16-bit weights in 2-bit slices (8 devices a sign-free
      weight), offset encoding: the paper's biased columns, whose offset is
      taken off digitally here from the input sum (the paper subtracts a unit
      column's current).
    - 16-bit inputs (plus the sign: 17 bits), one bit a cycle (16 cycles of
      100 ns), each cycle converted (shift and add in the digital).
    - SAR ADC, 8 bits plus the sign (9), one converter for the 128 columns
      of an array; one LSB is one device level at a full input bit
      (``adc_range_by="cell_step"``): the paper's converter resolves every
      level of a column's sum (it saves its ninth bit by flipping weights,
      which is not modelled).
    - Energy and time: an ADC conversion 16 mW / (8 x 1.28 GS/s) = 1.5625 pJ
      in 1/1.28 GS/s = 0.78 ns; a 1-bit DAC conversion 4 mW / (1024 DACs x
      10 MHz) = 0.39 pJ; a read cycle 100 ns.

``prime``
    Chi et al., "PRIME: a novel processing-in-memory architecture for neural
    network computation in ReRAM-based main memory", ISCA 2016, pp. 27-39,
    doi:10.1109/ISCA.2016.13.

    - 256 x 256 arrays; 8-bit weights in two 4-bit cells each way
      (differential: the paper's positive and negative arrays).
    - 6-bit inputs (plus the sign: 7 bits) driven by 3-bit drivers in two
      cycles, each converted.
    - The paper's reconfigurable sense amplifier, 6 bits (plus the sign: 7),
      modelled as a ramp converter (one comparator a column on a shared
      ramp, as CrossSim's PRIME configuration does); its full scale from the
      outputs' range (the paper sets it per application).
    - Energy: the paper gives no per-operation costs, so the converters'
      energy and time are this package's ramp model
      (:meth:`crossbar.EnergyCosts.for_adc`) and the rest its defaults.

The choices of slices, drivers and converters agree with Sandia CrossSim's
ISAAC and PRIME configurations (``simulator/configs``, its readme).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Dict, Optional

import crossbar
from crossbar.validation import check_choice, check_int

from mapping.mapped import ADC_RANGE_MODES
from mapping.sliced import WeightSlicing


@dataclass(frozen=True)
class PeripheryPreset:
    """The periphery of an accelerator: validated when built.

    Parameters
    ----------
    name : str
    array_rows, array_cols : int
        Word lines and bit lines of one array.
    dac : crossbar.DAC
        Row drivers (``v_max`` is replaced by the encoding's read voltage where the chip is built).
    adc_bits : int
        Column converter resolution, sign included.
    adc_circuit : crossbar.ADCCircuit
    adc_range_by : str
        One of :data:`mapping.ADC_RANGE_MODES` (not ``calibration``: the weights are sliced).
    slicing : WeightSlicing
    costs : crossbar.EnergyCosts
        Per-operation energy and time of the paper's converters, before
        :meth:`crossbar.EnergyCosts.for_adc` rescales them to other bits.
    """

    name: str
    array_rows: int
    array_cols: int
    dac: crossbar.DAC
    adc_bits: int
    adc_circuit: crossbar.ADCCircuit
    adc_range_by: str
    slicing: WeightSlicing
    costs: crossbar.EnergyCosts

    def __post_init__(self):
        check_int("periphery.array_rows", self.array_rows, 2)
        check_int("periphery.array_cols", self.array_cols, 2)
        if not isinstance(self.dac, crossbar.DAC):
            raise ValueError(f"periphery.dac={self.dac!r} is not allowed; a crossbar.DAC")
        check_int("periphery.adc_bits", self.adc_bits, 2, 24)
        if not isinstance(self.adc_circuit, crossbar.ADCCircuit):
            raise ValueError(f"periphery.adc_circuit={self.adc_circuit!r} is not allowed; a crossbar.ADCCircuit")
        check_choice("periphery.adc_range_by", self.adc_range_by, [m for m in ADC_RANGE_MODES if m != "calibration"])
        if not isinstance(self.slicing, WeightSlicing):
            raise ValueError(f"periphery.slicing={self.slicing!r} is not allowed; a mapping.WeightSlicing")
        if not isinstance(self.costs, crossbar.EnergyCosts):
            raise ValueError(f"periphery.costs={self.costs!r} is not allowed; a crossbar.EnergyCosts")

    def energy_costs(self, adc_bits: Optional[int] = None, adc_circuit: Optional[crossbar.ADCCircuit] = None,
                     array_cols: Optional[int] = None) -> crossbar.EnergyCosts:
        """The costs for this periphery's converters, or for other ``adc_bits``, circuit or array width
        (scaled from the paper's by :meth:`crossbar.EnergyCosts.for_adc`)."""
        bits = self.adc_bits if adc_bits is None else adc_bits
        circuit = self.adc_circuit if adc_circuit is None else adc_circuit
        cols = self.array_cols if array_cols is None else array_cols
        return self.costs.for_adc(circuit, bits, cols)

    def describe(self) -> str:
        """One paragraph for people: arrays, drivers, slices, converters, energy in pJ."""
        d, s, c = self.dac, self.slicing, self.energy_costs()
        drive = (f"{d.bits}-bit inputs, {d.bits_per_cycle} bit(s) a cycle ({d.cycles} cycles, "
                 f"{'each converted' if d.conversion == 'per_bit' else 'accumulated'})" if d.bit_serial
                 else f"{d.bits}-bit inputs at once")
        return (f"{self.name}: {self.array_rows} x {self.array_cols} arrays; {s.weight_bits}-bit weights in "
                f"{s.n_slices} slices of {s.bits_per_slice} bit(s), {s.encoding}; {drive}; {self.adc_bits}-bit "
                f"{self.adc_circuit.kind} ADC ({self.adc_circuit.n_converters(self.array_cols)} per array, "
                f"range by {self.adc_range_by}); ADC {c.adc_energy * 1e12:.3g} pJ in {c.adc_time * 1e9:.3g} ns, "
                f"DAC {c.dac_energy * 1e12:.3g} pJ, read cycle {c.read_time * 1e9:.3g} ns")


def _isaac() -> PeripheryPreset:
    """ISAAC (Shafiee et al., ISCA 2016): see :mod:`mapping.periphery`."""
    return PeripheryPreset(
        name="isaac", array_rows=128, array_cols=128,
        dac=crossbar.DAC(bits=17, bit_serial=True, bits_per_cycle=1, conversion="per_bit"),
        adc_bits=9, adc_circuit=crossbar.ADCCircuit("sar", columns_per_converter=128), adc_range_by="cell_step",
        slicing=WeightSlicing(16, 2, "offset"),
        costs=crossbar.EnergyCosts(adc_energy=16e-3 / (8 * 1.28e9), adc_time=1 / 1.28e9, adc_count=1.0,
                                   dac_energy=4e-3 / (8 * 128 * 1e7), read_time=100e-9, adc_reference_bits=8))


def _prime() -> PeripheryPreset:
    """PRIME (Chi et al., ISCA 2016): see :mod:`mapping.periphery`."""
    return PeripheryPreset(
        name="prime", array_rows=256, array_cols=256,
        dac=crossbar.DAC(bits=7, bit_serial=True, bits_per_cycle=3, conversion="per_bit"),
        adc_bits=7, adc_circuit=crossbar.ADCCircuit("ramp"), adc_range_by="outputs",
        slicing=WeightSlicing(8, 4, "differential"), costs=crossbar.EnergyCosts())


_PERIPHERIES = {"isaac": _isaac, "prime": _prime}


def periphery_names() -> list:
    """Names accepted by :func:`periphery_preset`."""
    return sorted(_PERIPHERIES)


def periphery_preset(name: str) -> PeripheryPreset:
    """The periphery of a named accelerator (see :func:`periphery_names` and the module text)."""
    if name not in _PERIPHERIES:
        raise ValueError(f"periphery={name!r} is not known; choose one of {periphery_names()}")
    return _PERIPHERIES[name]()


def periphery_doc(name: str) -> str:
    """Where a periphery preset's numbers come from: its section of the module text."""
    periphery_preset(name)
    text = inspect.cleandoc(__doc__)
    start = text.index(f"``{name}``")
    rest = [text.index(f"``{other}``") for other in periphery_names() if text.index(f"``{other}``") > start]
    end = min(rest) if rest else text.index("The choices of slices")
    return text[start:end].strip()


def all_peripheries() -> Dict[str, PeripheryPreset]:
    """Every periphery preset by name."""
    return {name: periphery_preset(name) for name in periphery_names()}
