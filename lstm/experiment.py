"""One description of an experiment: data, network, device, converters, array, wires, way, training.

An :class:`Experiment` is what ``xbar run``, ``xbar reproduce``, ``xbar sweep``,
the benchmarks and the notebooks all run (:mod:`lstm.runner`). It is made of
sections, each a frozen, validated dataclass, and round-trips to TOML and JSON
(:meth:`Experiment.to_dict`, :meth:`Experiment.from_dict`,
:func:`load_experiment`, :meth:`Experiment.to_toml`)::

    [data]        task, or path, sequence, time, split, label or target, features, test_fraction, headroom
    [network]     cell, hidden, head, mode, loss, reduction, bias, forget_bias
    [hardware]    preset, way, ideal_converters, placement, start, periphery
    [device]      any field of the preset's DeviceModel to override ([device.pulse_law], [device.two_pulse])
    [encoding]    any field of mapping.Encoding to override
    [array]       rows, cols, count, read_scheme, write_scheme, write_voltage, switching_voltage,
                  device_read_scheme, device_read_voltage
    [adc]         bits, range, range_by, kind, capacitor_mismatch_sigma, comparator_offset_sigma_lsb,
                  amplifier_gain, columns_per_converter
    [dac]         bits, inputs, conversion, bits_per_cycle
    [slicing]     weight_bits, bits_per_slice, encoding
    [wires]       row_segment_ohms, col_segment_ohms (0 and 0: ideal wires)
    [training]    epochs, optimizer, learning_rate, momentum, clip_norm, batch_size, seed, validation,
                  patience, keep

``hardware.periphery`` (``isaac`` or ``prime``, :mod:`mapping.periphery`)
fills the fields of ``[array]``, ``[adc]``, ``[dac]`` and ``[slicing]`` that
the experiment leaves at their defaults with the accelerator's, and counts
energy with its converters' costs; a field set to another value wins. (To
give a preset field exactly its section default, write the preset's values
out instead of naming it.)

Every leaf is settable by its dotted name (``device.pulse_law.step_up``,
``adc.bits``, ``training.learning_rate``): :meth:`Experiment.with_values`.
:func:`parameters` lists the names with their units; the sweep varies them.
SI units throughout (siemens, volts, ohms, seconds).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Tuple

import crossbar
from crossbar.validation import check_choice, check_finite, check_int, check_range, config_to_dict
from mapping import ADC_RANGE_MODES, SLICE_ENCODINGS, Encoding, WeightSlicing, periphery_names, periphery_preset

from .cells import CELLS
from .network import HEADS, LOSSES, MODES, REDUCTIONS
from .optim import OPTIMIZERS

TASKS = ("airline", "vowels")
"""The tasks shipped with the package (``lstm/data``)."""
WAYS = ("software", "ex_situ_one_shot", "ex_situ_write_verify", "hardware_aware", "in_situ")
"""Ways onto hardware; ``software`` runs the twin only."""
HARDWARE_WAYS = WAYS[1:]
PLACEMENTS = ("first_fit", "li2019")
"""``li2019``: Li et al.'s blocks on one array (the shipped tasks' networks only)."""
STARTS = ("programmed", "li2019")
"""In-situ starting weights: the software twin's initial weights programmed, or Li's RESET and SET at 1.0 V."""
CELL_NAMES = tuple(sorted(CELLS))


def _check_optional_int(name, value, low=None, high=None):
    return None if value is None else check_int(name, value, low, high)


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{name}={value!r} is not allowed; true or false")
    return value


def _names(name, value) -> Optional[Tuple[str, ...]]:
    """A column name or a list of them, as a tuple of str (None stays None)."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if not items or not all(isinstance(v, str) and v for v in items):
        raise ValueError(f"{name}={value!r} is not allowed; a column name or a list of column names")
    return tuple(items)


# --------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class DataSection:
    """Where the sequences come from.

    Parameters
    ----------
    task : {"airline", "vowels"}, optional
        A shipped task; or give ``path``.
    path : str, optional
        A CSV (one row per time step) or NPZ file (``x`` as (sequences, steps,
        features), ``y``, optional ``lengths`` and ``split``).
    sequence : str
        CSV: the column naming each row's sequence.
    time : str, optional
        CSV: the column ordering the steps of a sequence (default: file order).
    split : str, optional
        CSV: the column saying ``train`` or ``test`` (default: a seeded random
        held-out ``test_fraction`` of the sequences).
    label : str, optional
        CSV: the class of each sequence (classification).
    target : str or list of str, optional
        CSV: the value(s) to predict (regression).
    features : list of str, optional
        CSV: the inputs (default every other column).
    test_fraction : float
        Held-out fraction of the sequences without a split column, in (0, 1).
    headroom : float
        Inputs are divided by ``headroom`` times their largest magnitude on the
        training sequences, so that they stay within the DAC's +-1 (>= 1).
    """

    task: Optional[str] = None
    path: Optional[str] = None
    sequence: str = "sequence"
    time: Optional[str] = None
    split: Optional[str] = None
    label: Optional[str] = None
    target: Optional[Tuple[str, ...]] = None
    features: Optional[Tuple[str, ...]] = None
    test_fraction: float = 0.25
    headroom: float = 1.25

    def __post_init__(self):
        if (self.task is None) == (self.path is None):
            raise ValueError(f"data: give task (one of {list(TASKS)}) or path, not {'both' if self.task else 'neither'}")
        if self.task is not None:
            check_choice("data.task", self.task, TASKS)
        if self.path is not None and (not isinstance(self.path, str) or not self.path):
            raise ValueError(f"data.path={self.path!r} is not allowed; a file path")
        object.__setattr__(self, "target", _names("data.target", self.target))
        object.__setattr__(self, "features", _names("data.features", self.features))
        for name in ("sequence", "time", "split", "label"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"data.{name}={value!r} is not allowed; a column name")
        if self.label is not None and self.target is not None:
            raise ValueError("data: give label (classification) or target (regression), not both")
        check_range("data.test_fraction", self.test_fraction, 0.0, 1.0, low_open=True, high_open=True)
        check_range("data.headroom", self.headroom, 1.0)


@dataclass(frozen=True)
class NetworkSection:
    """The network; ``head``, ``mode``, ``loss`` default from the data (softmax and cross-entropy for
    classes, identity and MSE for values; seq2vec for one label or target per sequence)."""

    cell: str = "lstm"
    hidden: Tuple[int, ...] = (16,)
    head: Optional[str] = None
    mode: Optional[str] = None
    loss: Optional[str] = None
    reduction: str = "mean"
    bias: bool = True
    forget_bias: float = 1.0

    def __post_init__(self):
        check_choice("network.cell", self.cell, CELL_NAMES)
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        if not hidden:
            raise ValueError("network.hidden=[] is not allowed; at least one recurrent layer")
        for k, h in enumerate(hidden):
            check_int(f"network.hidden[{k}]", h, 1)
        object.__setattr__(self, "hidden", hidden)
        for name, choices in (("head", HEADS), ("mode", MODES), ("loss", LOSSES)):
            if getattr(self, name) is not None:
                check_choice(f"network.{name}", getattr(self, name), choices)
        check_choice("network.reduction", self.reduction, REDUCTIONS)
        _check_bool("network.bias", self.bias)
        check_range("network.forget_bias", self.forget_bias, -10.0, 10.0)


@dataclass(frozen=True)
class HardwareSection:
    """Which technology, and which way onto it (see :data:`WAYS`, :data:`PLACEMENTS`, :data:`STARTS`);
    ``periphery`` names an accelerator's arrays, converters and slices (:func:`mapping.periphery_names`;
    ``"none"``: the sections' own); ``seconds_before_test`` lets that much simulated time pass on every
    array's clock between the end of training or programming and the test (drift, relaxation, read noise
    with memory), 0..1e10 s."""

    preset: str = "li2019"
    way: str = "in_situ"
    ideal_converters: bool = False
    placement: str = "first_fit"
    start: str = "programmed"
    periphery: str = "none"
    seconds_before_test: float = 0.0

    def __post_init__(self):
        check_choice("hardware.preset", self.preset, crossbar.preset_names())
        check_range("hardware.seconds_before_test", self.seconds_before_test, 0.0, 1e10, unit="s")
        check_choice("hardware.periphery", self.periphery, ("none", *periphery_names()))
        check_choice("hardware.way", self.way, WAYS)
        _check_bool("hardware.ideal_converters", self.ideal_converters)
        check_choice("hardware.placement", self.placement, PLACEMENTS)
        check_choice("hardware.start", self.start, STARTS)


@dataclass(frozen=True)
class ArraySection:
    """Array size (word lines x bit lines), how many arrays the chip has (None: as many as needed), and
    what a read does with the lines it neither drives nor senses (``read_scheme``, see
    :class:`crossbar.Peripherals`); ``write_scheme`` (``v_half`` or ``v_third``, None: no disturb) writes
    in-situ pulses cell by cell with their disturb (:class:`crossbar.WriteScheme`); ``device_read_scheme``
    (``grounded``, ``v_half`` or ``floating``) says what a read of one device does with the other lines, at
    ``device_read_voltage`` volts (:mod:`crossbar.device_reads`); ``seconds_per_read`` and
    ``seconds_per_write`` let simulated time pass on every array's clock at each read (a network's time
    step) and each write (an update), so drift and read noise with memory evolve as the network runs."""

    rows: int = 128
    cols: int = 64
    count: Optional[int] = None
    read_scheme: str = "grounded"
    write_scheme: Optional[str] = None
    write_voltage: float = 2.0
    switching_voltage: float = 0.25
    device_read_scheme: str = "grounded"
    device_read_voltage: float = 0.2
    seconds_per_read: float = 0.0
    seconds_per_write: float = 0.0

    def __post_init__(self):
        check_int("array.rows", self.rows, 2)
        check_int("array.cols", self.cols, 2)
        _check_optional_int("array.count", self.count, 1)
        check_choice("array.read_scheme", self.read_scheme, crossbar.peripherals.READ_SCHEMES)
        if self.write_scheme is not None:
            check_choice("array.write_scheme", self.write_scheme, crossbar.WRITE_SCHEMES)
        crossbar.Peripherals(read_scheme=self.read_scheme, write_scheme=self.writes(),
                             device_read_scheme=self.device_read_scheme, device_read_voltage=self.device_read_voltage,
                             seconds_per_read=self.seconds_per_read, seconds_per_write=self.seconds_per_write)

    def writes(self) -> Optional[crossbar.WriteScheme]:
        """The :class:`crossbar.WriteScheme` of ``write_scheme`` (None: writes disturb nothing)."""
        if self.write_scheme is None:
            return None
        return crossbar.WriteScheme(self.write_scheme, self.write_voltage, self.switching_voltage)


@dataclass(frozen=True)
class AdcSection:
    """Column converters: resolution (None: the preset's), full scale in output units or by another
    rule (``range_by``), and the circuit (``kind`` and its non-idealities, see
    :class:`crossbar.ADCCircuit`)."""

    bits: Optional[int] = None
    range: float = 6.0
    range_by: str = "outputs"
    kind: str = "uniform"
    capacitor_mismatch_sigma: float = 0.0
    comparator_offset_sigma_lsb: float = 0.0
    amplifier_gain: Optional[float] = None
    columns_per_converter: int = 1

    def __post_init__(self):
        _check_optional_int("adc.bits", self.bits, 2, 24)
        check_range("adc.range", self.range, 0.0, low_open=True)
        check_choice("adc.range_by", self.range_by, ADC_RANGE_MODES)
        self.circuit()

    def circuit(self) -> crossbar.ADCCircuit:
        """The :class:`crossbar.ADCCircuit` of these fields (validated there)."""
        return crossbar.ADCCircuit(self.kind, self.capacitor_mismatch_sigma, self.comparator_offset_sigma_lsb,
                                   self.amplifier_gain, self.columns_per_converter)


@dataclass(frozen=True)
class SlicingSection:
    """Bit slicing of the weights: ``weight_bits`` integers over slices of ``bits_per_slice`` (None: analog
    pairs), each slice ``differential`` or ``offset`` (:class:`mapping.WeightSlicing`). The inputs' bits are
    the DAC's (``[dac] inputs``)."""

    weight_bits: Optional[int] = None
    bits_per_slice: int = 2
    encoding: str = "differential"

    def __post_init__(self):
        _check_optional_int("slicing.weight_bits", self.weight_bits, 2, 16)
        check_int("slicing.bits_per_slice", self.bits_per_slice, 1, 8)
        check_choice("slicing.encoding", self.encoding, SLICE_ENCODINGS)
        self.weights()

    def weights(self) -> Optional[WeightSlicing]:
        """The :class:`mapping.WeightSlicing`, or None for analog weights."""
        if self.weight_bits is None:
            return None
        return WeightSlicing(self.weight_bits, self.bits_per_slice, self.encoding)


@dataclass(frozen=True)
class DacSection:
    """Row drivers: resolution (None: the preset's), and inputs driven all at once (``parallel``) or bit by
    bit (``bit_serial``), each bit's cycle converted (``per_bit``) or the cycles accumulated in the analog
    (``accumulate``), ``bits_per_cycle`` magnitude bits a cycle (:class:`crossbar.DAC`)."""

    bits: Optional[int] = None
    inputs: str = "parallel"
    conversion: str = "per_bit"
    bits_per_cycle: int = 1

    def __post_init__(self):
        _check_optional_int("dac.bits", self.bits, 2, 24)
        check_choice("dac.inputs", self.inputs, INPUT_MODES)
        check_choice("dac.conversion", self.conversion, crossbar.peripherals.INPUT_CONVERSIONS)
        if self.conversion != "per_bit" and self.inputs != "bit_serial":
            raise ValueError(f"dac.conversion={self.conversion!r} needs dac.inputs='bit_serial'")
        check_int("dac.bits_per_cycle", self.bits_per_cycle, 1, 23)
        if self.bits_per_cycle != 1 and self.inputs != "bit_serial":
            raise ValueError(f"dac.bits_per_cycle={self.bits_per_cycle!r} needs dac.inputs='bit_serial'")


@dataclass(frozen=True)
class WiresSection:
    """Wire resistance per segment, ohms; both 0: ideal wires."""

    row_segment_ohms: float = 0.0
    col_segment_ohms: float = 0.0

    def __post_init__(self):
        check_range("wires.row_segment_ohms", self.row_segment_ohms, 0.0, unit="ohm")
        check_range("wires.col_segment_ohms", self.col_segment_ohms, 0.0, unit="ohm")
        if (self.row_segment_ohms == 0.0) != (self.col_segment_ohms == 0.0):
            raise ValueError("wires: give both segment resistances (> 0), or both 0 for ideal wires; "
                             f"got row_segment_ohms={self.row_segment_ohms!r}, col_segment_ohms={self.col_segment_ohms!r}")

    def resistance(self) -> Optional[crossbar.WireResistance]:
        if self.row_segment_ohms == 0.0:
            return None
        return crossbar.WireResistance(self.row_segment_ohms, self.col_segment_ohms)


MAX_LEARNING_RATE = 1e3
"""The largest ``training.learning_rate`` taken: a step of a thousand times the gradient diverges for any
network and optimizer here, and in situ it asks for pulse counts no device can take (1e18 asked for more
than an int64 holds)."""
KEEPS = ("last", "best")
"""What a training ends with (``training.keep``): its last epoch's weights, or its best epoch's by validation."""


@dataclass(frozen=True)
class TrainingSection:
    """Training: epochs, optimizer and its settings, batch size, seed (of the network, chip and data order),
    a validation split, early stopping and which epoch to keep.

    Parameters
    ----------
    validation : float
        Fraction of the training sequences held out to validate on after every epoch, in [0, 1) (0: none,
        the default). Drawn from ``seed``; the rest train. The test data are never used to choose.
    patience : int, optional
        Stop after this many epochs without a better validation metric (>= 1; needs ``validation`` > 0);
        None: run every epoch.
    keep : {"last", "best"}
        End with the last epoch's weights, or with those of the epoch of the best validation metric
        (needs ``validation`` > 0). On a chip trained in situ, "best" puts the chip's state of that epoch
        back (see :func:`lstm.train.fit` and the user guide).
    """

    epochs: int = 50
    optimizer: str = "rmsprop"
    learning_rate: float = 0.01
    momentum: float = 0.0
    clip_norm: Optional[float] = None
    batch_size: int = 32
    seed: int = 0
    validation: float = 0.0
    patience: Optional[int] = None
    keep: str = "last"

    def __post_init__(self):
        check_int("training.epochs", self.epochs, 1)
        check_choice("training.optimizer", self.optimizer, OPTIMIZERS)
        check_range("training.learning_rate", self.learning_rate, 0.0, MAX_LEARNING_RATE, low_open=True)
        check_range("training.momentum", self.momentum, 0.0, 1.0, high_open=True)
        if self.clip_norm is not None:
            check_range("training.clip_norm", self.clip_norm, 0.0, low_open=True)
        check_int("training.batch_size", self.batch_size, 1)
        check_int("training.seed", self.seed, 0)
        check_range("training.validation", self.validation, 0.0, 1.0, high_open=True)
        if self.patience is not None:
            check_int("training.patience", self.patience, 1)
        check_choice("training.keep", self.keep, KEEPS)
        if self.validation == 0.0 and (self.keep == "best" or self.patience is not None):
            what = (f"training.keep={self.keep!r}" if self.keep == "best" else f"training.patience={self.patience}")
            raise ValueError(f"{what} needs a validation split to choose by: set training.validation to a fraction "
                             "in (0, 1) of the training sequences (the test data never choose)"
                             + (", or keep = 'last'" if self.keep == "best" else ", or leave patience out"))


_LEFT_OUT_AT_DEFAULT = {
    "array": ("read_scheme", "write_scheme", "write_voltage", "switching_voltage", "device_read_scheme",
              "device_read_voltage", "seconds_per_read", "seconds_per_write"),
    "adc": ("range_by", "kind", "capacitor_mismatch_sigma", "comparator_offset_sigma_lsb", "amplifier_gain",
            "columns_per_converter"),
    "slicing": ("weight_bits", "bits_per_slice", "encoding"),
    "dac": ("inputs", "conversion", "bits_per_cycle"),
    "hardware": ("periphery", "seconds_before_test"),
    "training": ("validation", "patience", "keep"),
}
"""Fields left out of :meth:`Experiment.to_dict` at their defaults: those added after results files were
first written, so that an experiment that does not use them keeps its identity (a sweep's point keys)."""

INPUT_MODES = ("parallel", "bit_serial")
"""How inputs are driven (``dac.inputs``)."""

SECTIONS = {"data": DataSection, "network": NetworkSection, "hardware": HardwareSection, "array": ArraySection,
            "adc": AdcSection, "dac": DacSection, "slicing": SlicingSection, "wires": WiresSection,
            "training": TrainingSection}
"""The sections that are dataclasses; ``device`` and ``encoding`` hold overrides."""


_PERIPHERY_SECTIONS = ("array", "adc", "dac", "slicing")
"""The sections whose fields a periphery preset fills."""


def periphery_values(name: str) -> dict:
    """The dotted names a periphery preset (:func:`mapping.periphery_preset`) sets, with its values."""
    p = periphery_preset(name)
    c = p.adc_circuit
    return {"array.rows": p.array_rows, "array.cols": p.array_cols,
            "adc.bits": p.adc_bits, "adc.range_by": p.adc_range_by, "adc.kind": c.kind,
            "adc.capacitor_mismatch_sigma": c.capacitor_mismatch_sigma,
            "adc.comparator_offset_sigma_lsb": c.comparator_offset_sigma_lsb,
            "adc.amplifier_gain": c.amplifier_gain, "adc.columns_per_converter": c.columns_per_converter,
            "dac.bits": p.dac.bits, "dac.inputs": "bit_serial" if p.dac.bit_serial else "parallel",
            "dac.conversion": p.dac.conversion, "dac.bits_per_cycle": p.dac.bits_per_cycle,
            "slicing.weight_bits": p.slicing.weight_bits, "slicing.bits_per_slice": p.slicing.bits_per_slice,
            "slicing.encoding": p.slicing.encoding}


def periphery_sections(name: str, given: Mapping[str, Any]) -> dict:
    """The sections of ``given`` (``array``, ``adc``, ``dac``, ``slicing``) with the periphery's values in
    every field left at its default; ``ValueError`` if the result is not a valid section."""
    changes = {section: {} for section in _PERIPHERY_SECTIONS}
    for dotted, value in periphery_values(name).items():
        section, key = dotted.split(".")
        if getattr(given[section], key) == getattr(SECTIONS[section](), key):
            changes[section][key] = value
    out = {}
    for section in _PERIPHERY_SECTIONS:
        try:
            out[section] = dataclasses.replace(given[section], **changes[section])
        except ValueError as error:
            raise ValueError(f"hardware.periphery={name!r} with [{section}] as given: {error}") from None
    return out


# --------------------------------------------------------------------------- the experiment
@dataclass(frozen=True)
class Experiment:
    """A whole experiment (see the module text). Validated when built: the device and the encoding
    overrides are applied and checked too."""

    data: DataSection
    network: NetworkSection = field(default_factory=NetworkSection)
    hardware: HardwareSection = field(default_factory=HardwareSection)
    device: Mapping[str, Any] = field(default_factory=dict)
    encoding: Mapping[str, Any] = field(default_factory=dict)
    array: ArraySection = field(default_factory=ArraySection)
    adc: AdcSection = field(default_factory=AdcSection)
    dac: DacSection = field(default_factory=DacSection)
    slicing: SlicingSection = field(default_factory=SlicingSection)
    wires: WiresSection = field(default_factory=WiresSection)
    training: TrainingSection = field(default_factory=TrainingSection)

    def __post_init__(self):
        for name, cls in SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; a {cls.__name__}")
        for name in ("device", "encoding"):
            if not isinstance(getattr(self, name), Mapping):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; a table of fields to override")
            object.__setattr__(self, name, _frozen_copy(getattr(self, name)))
        # the sections as given (what to_dict writes), then those with the periphery's values filled in
        object.__setattr__(self, "_given", {name: getattr(self, name) for name in _PERIPHERY_SECTIONS})
        if self.hardware.periphery != "none":
            for name, section in periphery_sections(self.hardware.periphery, self._given).items():
                object.__setattr__(self, name, section)
        self.device_model()
        self.encoding_config(self.hardware.way)
        if self.adc.range_by == "calibration" and self.hardware.way == "in_situ":
            raise ValueError("adc.range_by='calibration' with hardware.way='in_situ': the weights grow from their "
                             "start, so a range calibrated on them saturates later; choose outputs, array_max or "
                             "cell_step, or an ex-situ way")
        if self.slicing.weight_bits is not None and self.hardware.way == "in_situ":
            by = (f" (set by hardware.periphery={self.hardware.periphery!r})" if self.hardware.periphery != "none"
                  and self._given["slicing"].weight_bits is None else "")
            raise ValueError(f"slicing.weight_bits{by} with hardware.way='in_situ': sliced weights are programmed, "
                             "not trained by pulses; choose way ex_situ or hardware_aware, or leave weight_bits out")
        if self.slicing.weight_bits is not None and self.hardware.placement == "li2019":
            raise ValueError("slicing.weight_bits with hardware.placement='li2019': Li et al.'s corners hold "
                             "analog pairs; use placement first_fit")
        if self.hardware.placement == "li2019" and self.data.task is None:
            raise ValueError("hardware.placement='li2019' places the shipped tasks' networks; use first_fit for "
                             "your own data")

    # ---------------------------------------------------------------- resolved objects
    def device_model(self) -> crossbar.DeviceModel:
        """The preset's device with the overrides of ``[device]``, validated."""
        base = crossbar.preset(self.hardware.preset).to_dict()
        merged = _merge(base, self.device, "device")
        return crossbar.DeviceModel.from_dict(merged, "device")

    def encoding_config(self, way: Optional[str] = None) -> Encoding:
        """The encoding of a way with the overrides of ``[encoding]``: in situ Li et al.'s 100 uS per unit
        weight when the starting weights fit it (``fits``), ex situ the scale from the trained weights."""
        from crossbar.validation import config_from_dict

        way = self.hardware.way if way is None else way
        base = {"scale": "fits" if way == "in_situ" else "max_abs"}
        return config_from_dict(Encoding, {**base, **dict(self.encoding)}, "encoding")

    def optimizer_config(self):
        from .optim import OptimizerConfig

        t = self.training
        return OptimizerConfig(t.optimizer, t.learning_rate, momentum=t.momentum, clip_norm=t.clip_norm)

    # ---------------------------------------------------------------- dicts, TOML, dotted names
    def to_dict(self) -> dict:
        """Every section as plain values (None left out), the form of the TOML and JSON files."""
        out = {}
        for name in ("data", "network", "hardware", "device", "encoding", "array", "adc", "dac", "slicing", "wires",
                     "training"):
            value = self._given.get(name, getattr(self, name))
            table = config_to_dict(value) if dataclasses.is_dataclass(value) else _plain(value)
            for field_name in _LEFT_OUT_AT_DEFAULT.get(name, ()):
                if table.get(field_name) == getattr(SECTIONS[name](), field_name):
                    del table[field_name]
            table = _drop_none(table)
            if table or name not in _LEFT_OUT_AT_DEFAULT:
                out[name] = table
        return out

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "experiment") -> "Experiment":
        """An experiment from :meth:`to_dict`'s form; ``ValueError`` naming ``source`` and the key or value."""
        from crossbar.validation import config_from_dict

        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: a table of sections is required")
        known = set(SECTIONS) | {"device", "encoding"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: section(s) {', '.join(unknown)} not known; sections: {', '.join(sorted(known))}")
        if "data" not in data:
            raise ValueError(f"{source}: a [data] section is required (task = \"vowels\", or path = \"...\")")
        kwargs = {}
        for name in sorted(set(data) & known):
            if not isinstance(data[name], Mapping):
                raise ValueError(f"{source}: [{name}] is {toml_type(data[name])} ({_short(data[name])}); a table "
                                 f"is required ([{name}] and its keys on the lines below)")
        for name, section in SECTIONS.items():
            if name in data:
                kwargs[name] = config_from_dict(section, dict(data[name]), f"{source}: [{name}]")
        for name in ("device", "encoding"):
            if name in data:
                kwargs[name] = dict(data[name])
        try:
            return cls(**kwargs)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False)

    def to_toml(self) -> str:
        """The experiment as a TOML file's text (what :func:`load_experiment` reads back)."""
        return dump_toml(self.to_dict())

    def with_values(self, values: Mapping[str, Any]) -> "Experiment":
        """A copy with dotted names set (``{"device.pulse_law.step_up": 2e-6, "adc.bits": 6}``), validated.

        Whole-number fields refuse fractions (``adc.bits=6.5``); nothing is truncated.
        """
        data = self.to_dict()
        for name, value in values.items():
            spec = parameter(name, self)
            _set_path(data, name.split("."), spec.coerce(value))
        return Experiment.from_dict(data, "experiment")

    def value_of(self, name: str):
        """The value of a dotted name in this experiment (the device's and encoding's as resolved)."""
        parts = name.split(".")
        if parts[0] == "device":
            node = self.device_model().to_dict()
            for p in parts[1:]:
                node = node[p] if isinstance(node, dict) else None
            return node
        if parts[0] == "encoding":
            return getattr(self.encoding_config(), parts[1])
        return getattr(getattr(self, parts[0]), parts[1])


def _frozen_copy(mapping: Mapping) -> dict:
    return {str(k): (_frozen_copy(v) if isinstance(v, Mapping) else (tuple(v) if isinstance(v, list) else v))
            for k, v in mapping.items()}


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _drop_none(table: dict) -> dict:
    return {k: (_drop_none(v) if isinstance(v, dict) else v) for k, v in table.items() if v is not None}


def _merge(base: dict, overrides: Mapping, source: str) -> dict:
    """``base`` with ``overrides`` applied key by key (nested tables merged); unknown keys refused."""
    out = dict(base)
    for key, value in overrides.items():
        if key not in base:
            raise ValueError(f"{source}.{key} is not a field; fields: {', '.join(sorted(base))}")
        if isinstance(value, Mapping):
            if base[key] is None:
                raise ValueError(f"{source}.{key}: this device has no {key}; it cannot be changed")
            out[key] = _merge(base[key], value, f"{source}.{key}")
        else:
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _set_path(table: dict, path: List[str], value) -> None:
    for key in path[:-1]:
        table = table.setdefault(key, {})
    table[path[-1]] = value


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Parameter:
    """A dotted name that can be set and swept: its kind, unit and meaning."""

    name: str
    kind: str            # "float", "int", "bool", "choice", "text" (a name or a path), "ints" or "texts" (lists)
    unit: str
    doc: str
    choices: Tuple[str, ...] = ()

    def coerce(self, value):
        """``value`` as this parameter's type; ``ValueError`` naming it otherwise (never truncated)."""
        if self.kind == "text":
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{self.name}={value!r} is not allowed; a non-empty name or path is required")
            return value.strip()
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{self.name}={value!r} is not allowed; choose one of {list(self.choices)}")
            return value
        if self.kind == "bool":
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            if not isinstance(value, bool):
                raise ValueError(f"{self.name}={value!r} is not allowed; true or false")
            return value
        if self.kind in ("ints", "texts"):
            return self._coerce_list(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            value = check_finite(self.name, value)  # a number from text, or the error naming the parameter
        if self.kind == "int":
            if float(value) != int(value):
                raise ValueError(f"{self.name}={value!r} is not allowed; a whole number is required "
                                 "(it is never truncated)")
            return int(value)
        return float(value)

    def _coerce_list(self, value) -> tuple:
        wanted = "whole numbers" if self.kind == "ints" else "names"
        items = value
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("[") and text.endswith("]"):
                text = text[1:-1]
            items = [v.strip().strip("\"'") for v in text.split(",")] if text.strip() else []
        if isinstance(items, (int, float)) and not isinstance(items, bool) and self.kind == "ints":
            items = [items]
        if not isinstance(items, (list, tuple)) or not items:
            raise ValueError(f"{self.name}={value!r} is not allowed; a list of {wanted} is required, "
                             f"e.g. {'[12, 8]' if self.kind == 'ints' else '[a, b]'}")
        part = Parameter(self.name, "int" if self.kind == "ints" else "text", self.unit, self.doc)
        try:
            return tuple(part.coerce(v) for v in items)
        except ValueError:
            raise ValueError(f"{self.name}={value!r} is not allowed; a list of {wanted} is required, "
                             f"e.g. {'[12, 8]' if self.kind == 'ints' else '[a, b]'}") from None

    def parse(self, text: str) -> list:
        """Values of a ``--vary`` right-hand side for this parameter (see :func:`lstm.sweep.parse_values`):
        numbers as ranges or ``a,b,c``; words for a choice, text or true/false as ``a,b``; lists in brackets,
        ``[12,8],[16]`` (a bare ``8,16`` is the one-element lists ``[8]`` and ``[16]``)."""
        from .sweep import parse_values

        if self.kind in ("ints", "texts"):
            import re

            text = text.strip()
            groups = re.findall(r"\[([^\[\]]*)\]", text) if text.startswith("[") else text.split(",")
            if text.startswith("[") and re.sub(r"\[[^\[\]]*\]", "", text).replace(",", "").strip():
                raise ValueError(f"{self.name}: {text!r} is not understood; write lists in brackets, "
                                 "e.g. [12,8],[16]")
            if not [g for g in groups if g.strip()]:
                raise ValueError(f"{self.name}: no values in {text!r}")
            return [self.coerce(f"[{g}]") for g in groups]
        if self.kind in ("choice", "text", "bool"):
            values = [v.strip() for v in text.split(",") if v.strip()]
            if not values:
                raise ValueError(f"{self.name}: no values in {text!r}")
            return [self.coerce(v) for v in values]
        return [self.coerce(v) for v in parse_values(text)]


_UNITS = {
    "g_min": ("S", "lower end of the nominal conductance window"),
    "g_max": ("S", "upper end of the nominal conductance window"),
    "n_levels": ("levels", "programmable conductance levels (omit for continuous)"),
    "program_noise_sigma": ("S", "programming noise, absolute standard deviation"),
    "program_noise_sigma_relative": ("1", "programming noise relative to the target"),
    "read_noise_sigma_relative": ("1", "read noise relative to G, at every read"),
    "read_noise_sigma": ("S", "read noise floor (absolute), at every read"),
    "stuck_at_gmin_fraction": ("1", "fraction of devices stuck at g_min"),
    "stuck_at_gmax_fraction": ("1", "fraction of devices stuck at g_max"),
    "window_spread_sigma_relative": ("1", "device-to-device spread of the window (log-normal sigma)"),
    "drift_nu": ("1", "drift exponent, G = G0 (t/t0)^-nu"),
    "drift_nu_sigma": ("1", "device-to-device spread of nu"),
    "drift_t0": ("s", "drift reference time"),
    "iv_nonlinearity_per_volt": ("1/V", "k of the cells' read current G sinh(kV)/k (0: linear)"),
    "program_noise_model": ("", "a published fit of the programming error against G (omit: none)"),
    "relaxation_model": ("", "a published fit of the relaxation after each write (omit: none)"),
    "pulse_law.table": ("", "the table of a table device: a shipped name or an .npz path"),
    "pulse_law.step_up": ("S", "potentiation step per pulse"),
    "pulse_law.step_down": ("S", "depression step per pulse"),
    "pulse_law.nonlinearity": ("1", "exponent of the exponential pulse law"),
    "pulse_law.cycle_noise_sigma_relative": ("1", "pulse-to-pulse spread relative to the step"),
    "pulse_law.kind": ("", "pulse law"),
    "two_pulse.gate_slope": ("S/V", "SET conductance per volt of gate voltage"),
    "two_pulse.gate_intercept": ("S", "SET conductance at 0 V gate voltage"),
    "two_pulse.gate_voltage_min": ("V", "lowest SET gate voltage"),
    "two_pulse.gate_voltage_max": ("V", "highest SET gate voltage"),
    "two_pulse.set_voltage": ("V", "SET pulse amplitude"),
    "two_pulse.reset_voltage": ("V", "RESET pulse amplitude"),
    "two_pulse.reset_gate_voltage": ("V", "gate voltage during RESET"),
    "two_pulse.reset_conductance": ("S", "conductance after a RESET"),
    "two_pulse.initial_gate_voltage": ("V", "gate voltage of the in-situ start"),
    "encoding.siemens_per_weight": ("S", "conductance per unit weight of the fixed scale"),
    "encoding.percentile": ("%", "percentile of |w| that sets the percentile scale"),
    "encoding.v_read": ("V", "read voltage of an input of 1"),
    "encoding.input_limit": ("1", "largest |input| accepted"),
    "encoding.bias_input": ("1", "drive of the bias rows"),
    "encoding.bias_rows": ("rows", "rows given to a bias"),
    "encoding.scheme": ("", "where the two devices of a pair sit"),
    "encoding.scale": ("", "how the scale is chosen"),
    "data.test_fraction": ("1", "held-out fraction without a split column"),
    "data.headroom": ("1", "inputs divided by headroom x their largest training magnitude"),
    "network.forget_bias": ("1", "starting forget-gate bias"),
    "network.hidden": ("units", "recurrent layers' sizes, a list ([12, 8])"),
    "network.loss": ("", "loss (omit: cross_entropy for classes, mse for values)"),
    "network.reduction": ("", "loss over a batch: mean, or Li's half sum of squares"),
    "network.bias": ("", "bias rows in every matrix (true or false)"),
    "hardware.ideal_converters": ("", "leave out the DACs and ADCs even when the preset has them (true or false)"),
    "hardware.placement": ("", "where the blocks go on the arrays"),
    "data.task": ("", "a shipped task (or give data.path)"),
    "data.path": ("", "a CSV or NPZ file of sequences"),
    "data.sequence": ("", "CSV column naming each row's sequence"),
    "data.time": ("", "CSV column ordering a sequence's steps"),
    "data.split": ("", "CSV column saying train or test"),
    "data.label": ("", "CSV column of each sequence's class"),
    "data.target": ("", "CSV column(s) of the values to predict"),
    "data.features": ("", "CSV columns of the inputs (omit: every other column)"),
    "network.cell": ("", "recurrent cell"),
    "network.head": ("", "output head"),
    "network.mode": ("", "loss at every step or at the last"),
    "hardware.preset": ("", "device technology"),
    "hardware.way": ("", "way onto hardware"),
    "hardware.start": ("", "in-situ starting weights"),
    "array.rows": ("devices", "word lines per array"),
    "array.cols": ("devices", "bit lines per array"),
    "array.count": ("arrays", "arrays available (omit: as many as needed)"),
    "array.read_scheme": ("", "lines a read neither drives nor senses: grounded, floating, 1T1R cells off, or at V/2"),
    "array.write_scheme": ("", "passive writes that disturb half-selected cells (omit: none)"),
    "array.write_voltage": ("V", "pulse amplitude across a written cell"),
    "array.switching_voltage": ("V", "V0 of the switching kinetics sinh(V/V0)"),
    "array.device_read_scheme": ("", "lines a read of one device holds: grounded, at V/2, or floating"),
    "array.device_read_voltage": ("V", "read voltage of a device read (verify, read-back)"),
    "array.seconds_per_read": ("s", "simulated time each read (a time step) lets pass on the arrays' clocks"),
    "array.seconds_per_write": ("s", "simulated time each write (an update) lets pass on the arrays' clocks"),
    "temporal_noise.flicker_density_relative": ("1", "1/f read noise: A of S(f) = A G^2 / f (0: none)"),
    "temporal_noise.flicker_density_model": ("", "a published fit of the 1/f density against G (omit: none)"),
    "temporal_noise.flicker_sources": ("sources", "Lorentzian sources per device of the 1/f noise"),
    "temporal_noise.flicker_corner_min_hz": ("Hz", "lowest corner frequency of the 1/f noise"),
    "temporal_noise.flicker_corner_max_hz": ("Hz", "highest corner frequency of the 1/f noise"),
    "temporal_noise.telegraph_traps": ("traps", "random telegraph traps per device"),
    "temporal_noise.telegraph_amplitude_relative": ("1", "conductance change of an occupied trap, relative to G"),
    "temporal_noise.telegraph_dwell_min_s": ("s", "shortest mean dwell time of a trap"),
    "temporal_noise.telegraph_dwell_max_s": ("s", "longest mean dwell time of a trap"),
    "adc.bits": ("bits", "ADC resolution including the sign"),
    "adc.range": ("output units", "ADC full scale in units of each matrix's outputs"),
    "adc.range_by": ("", "how each matrix's ADC full scale is set"),
    "adc.kind": ("", "ADC architecture"),
    "adc.capacitor_mismatch_sigma": ("1", "SAR unit-capacitor mismatch, relative sigma"),
    "adc.comparator_offset_sigma_lsb": ("LSB", "comparator offset sigma (SAR per converter, ramp per column)"),
    "adc.amplifier_gain": ("1", "open-loop gain of the sense amplifier (omit: ideal)"),
    "adc.columns_per_converter": ("columns", "columns multiplexed onto one SAR converter"),
    "dac.bits": ("bits", "DAC resolution including the sign"),
    "slicing.weight_bits": ("bits", "weight resolution including the sign (omit: analog pairs)"),
    "slicing.bits_per_slice": ("bits", "bits one device holds"),
    "slicing.encoding": ("", "how a slice holds signed digits"),
    "dac.inputs": ("", "inputs all at once or bit by bit"),
    "dac.bits_per_cycle": ("bits", "magnitude bits a bit-serial cycle drives"),
    "hardware.periphery": ("", "an accelerator's arrays, converters, slices and energy (none: the sections')"),
    "hardware.seconds_before_test": ("s", "simulated time between the end of training or programming and the test"),
    "dac.conversion": ("", "bit-serial cycles converted per bit or accumulated"),
    "wires.row_segment_ohms": ("ohm", "word-line resistance per segment"),
    "wires.col_segment_ohms": ("ohm", "bit-line resistance per segment"),
    "training.epochs": ("epochs", "passes over the training set"),
    "training.learning_rate": ("1", "optimizer learning rate"),
    "training.momentum": ("1", "SGD momentum"),
    "training.clip_norm": ("1", "gradient clipping by global norm"),
    "training.batch_size": ("sequences", "sequences per update"),
    "training.seed": ("", "seed of the network, chip and data order"),
    "training.optimizer": ("", "optimizer"),
    "training.validation": ("1", "fraction of the training sequences held out to validate on (0: none)"),
    "training.patience": ("epochs", "epochs without a better validation metric before stopping (omit: none)"),
    "training.keep": ("", "weights kept: the last epoch's or the best by validation"),
}
_CHOICES = {"pulse_law.kind": crossbar.device.PULSE_LAW_KINDS,
            "program_noise_model": crossbar.device.PROGRAM_NOISE_MODELS,
            "temporal_noise.flicker_density_model": crossbar.temporal_noise.FLICKER_DENSITY_MODELS,
            "relaxation_model": crossbar.relaxation.RELAXATION_MODELS,
            "encoding.scheme": ("row_pairs", "column_pairs"),
            "encoding.scale": ("fixed", "fits", "max_abs", "percentile"), "network.cell": CELL_NAMES,
            "network.head": HEADS, "network.mode": MODES, "hardware.preset": None, "hardware.way": WAYS,
            "hardware.start": STARTS, "training.optimizer": OPTIMIZERS, "training.keep": KEEPS, "adc.kind": crossbar.ADC_KINDS,
            "adc.range_by": ADC_RANGE_MODES, "array.read_scheme": crossbar.peripherals.READ_SCHEMES,
            "array.write_scheme": crossbar.WRITE_SCHEMES,
            "array.device_read_scheme": crossbar.DEVICE_READ_SCHEMES,
            "slicing.encoding": SLICE_ENCODINGS,
            "dac.inputs": INPUT_MODES, "dac.conversion": crossbar.peripherals.INPUT_CONVERSIONS,
            "hardware.periphery": ("none", *periphery_names()), "data.task": TASKS, "network.loss": LOSSES,
            "network.reduction": REDUCTIONS, "hardware.placement": PLACEMENTS}
_TEXTS = {"pulse_law.table"}
"""Names whose values are names or paths (a table device's table), not numbers."""
_INTS = {"n_levels", "encoding.bias_rows", "array.rows", "array.cols", "array.count", "adc.bits", "dac.bits",
         "adc.columns_per_converter", "slicing.weight_bits", "temporal_noise.flicker_sources",
         "temporal_noise.telegraph_traps", "slicing.bits_per_slice", "dac.bits_per_cycle",
         "training.epochs", "training.batch_size", "training.seed", "training.patience"}


def parameters(experiment: Optional[Experiment] = None) -> List[Parameter]:
    """Every dotted name that can be set and swept, with its kind and unit: every field of the preset's
    device (``device.*``), of ``mapping.Encoding`` (``encoding.*``) and of every section.

    The device's names depend on its preset (``device.two_pulse.*`` exist for
    a two-pulse device only); without an experiment, those of ``li2019``.
    """
    preset = experiment.hardware.preset if experiment is not None else "li2019"
    device = crossbar.preset(preset).to_dict()
    names = []
    for key, value in device.items():
        if key in ("name", "initial_conductance_range", "read_noise_table"):
            continue
        if isinstance(value, dict):
            names += [f"{key}.{k}" for k in value]
        elif key == "two_pulse" and value is None:
            continue
        else:
            names.append(key)
    out = [_parameter(f"device.{n}", n) for n in names]
    out += [_parameter(n, n) for n in _UNITS if n.startswith("encoding.")]
    out += _section_parameters()
    return out


def _section_parameters() -> List[Parameter]:
    """A parameter for every field of every section, its kind from the field's type."""
    import typing

    out = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            name = f"{section}.{f.name}"
            kind = _kind_of(hints[f.name])
            if name in _CHOICES:
                out.append(_parameter(name, name))
            else:
                unit, doc = _UNITS.get(name, ("", ""))
                out.append(Parameter(name, kind, unit, doc))
    return out


def _kind_of(hint) -> str:
    """A parameter kind of a section field's type (``Optional[X]`` as ``X``)."""
    import typing

    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union and len(args) == 1:
        hint = args[0]
    if hint is bool:
        return "bool"
    if hint is int:
        return "int"
    if hint is float:
        return "float"
    if hint is str:
        return "text"
    if typing.get_origin(hint) is tuple:
        return "ints" if typing.get_args(hint)[0] is int else "texts"
    return "float"


def _parameter(name: str, key: str) -> Parameter:
    unit, doc = _UNITS.get(key, ("", ""))
    if key in _CHOICES:
        choices = _CHOICES[key] if _CHOICES[key] is not None else tuple(crossbar.preset_names())
        return Parameter(name, "choice", unit, doc, tuple(choices))
    if key in _TEXTS:
        return Parameter(name, "text", unit, doc)
    return Parameter(name, "int" if key in _INTS else "float", unit, doc)


def parameter(name: str, experiment: Optional[Experiment] = None) -> Parameter:
    """The :class:`Parameter` of a dotted name; ``ValueError`` naming the closest known names otherwise."""
    import difflib

    known = parameters(experiment)
    for p in known:
        if p.name == name:
            return p
    names = [p.name for p in known]
    close = difflib.get_close_matches(str(name), names, n=4, cutoff=0.6)
    tail = str(name).split(".")[-1]
    close += [n for n in names if n.split(".")[-1] == tail and n not in close][:4 - len(close)]
    hint = f"closest: {', '.join(close)}" if close else "no known name is close"
    raise ValueError(f"parameter {name!r} is not known; {hint} (xbar sweep --list-params lists all {len(names)})")


def parameter_table(experiment: Optional[Experiment] = None) -> str:
    """The names, their units, their values in ``experiment`` (or li2019's defaults) and what they are."""
    exp = experiment or Experiment(DataSection(task="vowels"))
    lines = [f"{'name':<52} {'unit':<13} {'value':<14} meaning"]
    for p in parameters(exp):
        try:
            value = exp.value_of(p.name)
        except (KeyError, AttributeError, TypeError):
            value = None
        shown = ("-" if value is None else f"{value:g}" if isinstance(value, float) else
                 str(value).lower() if isinstance(value, bool) else
                 "[" + ", ".join(str(v) for v in value) + "]" if isinstance(value, (tuple, list)) else str(value))
        extra = f" ({', '.join(p.choices)})" if p.choices else ""
        lines.append(f"{p.name:<52} {p.unit:<13} {shown:<14} {p.doc}{extra}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- files
def load_experiment(path: str) -> Experiment:
    """An experiment from a ``.toml`` or ``.json`` file; ``ValueError`` naming the file and the problem.

    A ``[vary]`` table (sweep files) is left out; :func:`read_experiment_file` returns it too.
    A relative ``data.path`` is taken relative to the file's folder.
    """
    experiment, _ = read_experiment_file(path)
    return experiment


def read_experiment_file(path: str) -> Tuple[Experiment, dict]:
    """``(experiment, vary)`` of a TOML or JSON file (``vary``: the ``[vary]`` table, possibly empty)."""
    return experiment_from_table(read_table_file(path, "experiment file"), path, "experiment file")


def read_table_file(path: str, what: str = "experiment file") -> dict:
    """The top-level table of a TOML (or ``.json``) file; ``ValueError`` naming the file otherwise (a missing,
    binary or malformed file, or one whose top level is not a table)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as error:
        raise ValueError(f"{what} {path}: cannot be read ({error.strerror or error})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{what} {path}: not a text file (byte {error.start} is not UTF-8); a TOML file "
                         "is required") from None
    try:
        data = json.loads(text) if path.endswith(".json") else tomllib.loads(text)
    except ValueError as error:
        raise ValueError(f"{what} {path}: cannot be read ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path}: its top level is {toml_type(data)}; a table of sections is required")
    return data


def experiment_from_table(data: dict, path: str, what: str = "experiment file") -> Tuple[Experiment, dict]:
    """``(experiment, vary)`` of a file's top-level table (``[vary]`` taken out); a relative ``data.path``
    and a fitted device's relative table are taken from the folder of ``path``."""
    data = dict(data)
    vary = data.pop("vary", {})
    if not isinstance(vary, Mapping):
        raise ValueError(f"{what} {path}: [vary] is {toml_type(vary)} ({_short(vary)}); a table is required "
                         "(NAME = \"VALUES\" or NAME = [values])")
    folder = os.path.dirname(os.path.abspath(path))
    law = data.get("device", {}).get("pulse_law") if isinstance(data.get("device"), dict) else None
    if isinstance(law, dict) and isinstance(law.get("table"), str) and law["table"].endswith(".npz") \
            and not os.path.isabs(law["table"]):  # a fitted device's table, from the file's folder
        law["table"] = os.path.normpath(os.path.join(folder, law["table"]))
    data_section = data.get("data")
    if isinstance(data_section, dict) and isinstance(data_section.get("path"), str):
        if data_section["path"] and not os.path.isabs(data_section["path"]):
            data_section["path"] = os.path.normpath(os.path.join(folder, data_section["path"]))
    return Experiment.from_dict(data, f"{what} {path}"), dict(vary)


def toml_type(value) -> str:
    """``value``'s type in TOML's words, with its article (for messages)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _short(value, limit: int = 40) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def dump_toml(table: Mapping, prefix: str = "") -> str:
    """A nested table of strings, numbers, booleans and lists as TOML text (enough for experiments); None
    values are left out (TOML has no null: an absent field takes its default, None in every table here)."""
    lines, subtables = [], []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            subtables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    out = []
    if lines:
        if prefix:
            out.append(f"[{prefix}]")
        out += lines
        out.append("")
    for key, value in subtables:
        out.append(dump_toml(value, f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key)))
    return "\n".join(out)


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"{value!r} cannot be written to TOML")


# --------------------------------------------------------------------------- Li et al.'s experiments
def li2019(task: str, seed: int = 0, epochs: Optional[int] = None, start: str = "programmed",
           noise_sigma: Optional[float] = None, way: str = "in_situ", preset: str = "li2019") -> Experiment:
    """Li et al.'s experiment on a shipped task, in situ on one 128x64 li2019 array.

    - ``airline``: LSTM 15 with bias and a forget-gate bias of 0, dense 1 with sigmoid, half the sum of
      squares, SGD 0.01 with momentum 0.9, batch 1, 800 epochs;
    - ``vowels``: LSTM 14 without bias, dense 9 with softmax, loss at the last step, RMSprop 0.01,
      batch 50, 50 epochs (Li's gait network's settings).

    ``noise_sigma`` (S) overrides the programming noise per pulse (li2019: 4 uS); ``way`` puts the
    network on the chip another way (ex situ, hardware-aware); ``preset`` another device on the same
    array (:func:`crossbar.preset_names`, table devices included).
    """
    check_choice("task", task, TASKS)
    if task == "airline":
        network = NetworkSection("lstm", (15,), head="sigmoid", mode="seq2seq", loss="mse", reduction="sum",
                                 forget_bias=0.0)
        training = TrainingSection(epochs=800 if epochs is None else epochs, optimizer="sgd",
                                   learning_rate=0.01, momentum=0.9, batch_size=1, seed=seed)
    else:
        network = NetworkSection("lstm", (14,), head="softmax", mode="seq2vec", loss="cross_entropy", bias=False)
        training = TrainingSection(epochs=50 if epochs is None else epochs, optimizer="rmsprop",
                                   learning_rate=0.01, batch_size=50, seed=seed)
    device = {} if noise_sigma is None else {"program_noise_sigma": noise_sigma}
    return Experiment(DataSection(task=task), network, HardwareSection(preset, way, placement="li2019",
                                                                        start=start),
                      device=device, array=ArraySection(128, 64, 1), training=training)
