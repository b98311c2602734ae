"""One description of an experiment: data, network, device, converters, array, wires, way, training.

An :class:`Experiment` is what ``xbar run``, ``xbar reproduce``, ``xbar sweep``,
the benchmarks and the notebooks all run (:mod:`xbar.runner`). It is made of
sections, each a frozen, validated dataclass, and round-trips to TOML and JSON
(:meth:`Experiment.to_dict`, :meth:`Experiment.from_dict`,
:func:`load_experiment`, :meth:`Experiment.to_toml`)::

    [data]        task, or path, sequence, time, split, label or target, features, test_fraction, headroom
    [network]     cell, hidden, head, mode, loss, reduction, bias, forget_bias
    [hardware]    preset, way, ideal_converters, placement, start, periphery
    [device]      any field of the preset's DeviceModel to override ([device.pulse_law], [device.two_pulse])
    [encoding]    any field of mapping.Encoding to override
    [array]       rows, cols, count, read_scheme, write_scheme, write_voltage, switching_voltage,
                  device_read_scheme, device_read_voltage, seconds_per_read, seconds_per_write
    [adc]         bits, range, range_by, kind, capacitor_mismatch_sigma, comparator_offset_sigma_lsb,
                  amplifier_gain, columns_per_converter
    [dac]         bits, inputs, conversion, bits_per_cycle
    [slicing]     weight_bits, bits_per_slice, encoding
    [wires]       row_segment_ohms, col_segment_ohms (0 and 0: ideal wires), solver, tolerance,
                  max_iterations
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
import difflib
import json
import math
import os
import re
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, List, Mapping, Optional, Tuple

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

import numpy as np

import crossbar
from crossbar.settings import check_settings, described, kind_of, left_out_at_default, listed_fields, setting
from crossbar.validation import check_choice, check_finite, check_int, config_from_dict, config_to_dict
from mapping import DRIFT_COMPENSATIONS, ChipSpec, Encoding, SlicingSpec, periphery_names

from lstm.cells import CELLS
from lstm.network import HEADS, LOSSES, MODES, REDUCTIONS
from lstm.optim import OPTIMIZERS, OptimizerConfig
from lstm.updates import UPDATE_ALGORITHMS, UpdateSpec

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

    SECTION: ClassVar[str] = "data"

    task: Optional[str] = setting(None, choices=TASKS, doc="a shipped task (or give data.path)")
    path: Optional[str] = setting(None, doc="a CSV or NPZ file of sequences")
    sequence: str = setting("sequence", doc="CSV column naming each row's sequence")
    time: Optional[str] = setting(None, doc="CSV column ordering a sequence's steps")
    split: Optional[str] = setting(None, doc="CSV column saying train or test")
    label: Optional[str] = setting(None, doc="CSV column of each sequence's class")
    target: Optional[Tuple[str, ...]] = setting(None, doc="CSV column(s) of the values to predict")
    features: Optional[Tuple[str, ...]] = setting(None, doc="CSV columns of the inputs (omit: every other column)")
    test_fraction: float = setting(0.25, unit="1", doc="held-out fraction without a split column",
                                   low=0.0, high=1.0, low_open=True, high_open=True)
    headroom: float = setting(1.25, unit="1", doc="inputs divided by headroom x their largest training magnitude",
                              low=1.0)

    def __post_init__(self):
        if (self.task is None) == (self.path is None):
            raise ValueError(f"data: give task (one of {list(TASKS)}) or path, not {'both' if self.task else 'neither'}")
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
        check_settings(self)


@dataclass(frozen=True)
class NetworkSection:
    """The network; ``head``, ``mode``, ``loss`` default from the data (softmax and cross-entropy for
    classes, identity and MSE for values; seq2vec for one label or target per sequence)."""

    SECTION: ClassVar[str] = "network"

    cell: str = setting("lstm", choices=CELL_NAMES, doc="recurrent cell")
    hidden: Tuple[int, ...] = setting((16,), unit="units", doc="recurrent layers' sizes, a list ([12, 8])")
    head: Optional[str] = setting(None, choices=HEADS, doc="output head")
    mode: Optional[str] = setting(None, choices=MODES, doc="loss at every step or at the last")
    loss: Optional[str] = setting(None, choices=LOSSES,
                                  doc="loss (omit: cross_entropy for classes, mse for values)")
    reduction: str = setting("mean", choices=REDUCTIONS, doc="loss over a batch: mean, or Li's half sum of squares")
    bias: bool = setting(True, doc="bias rows in every matrix (true or false)")
    forget_bias: float = setting(1.0, unit="1", doc="starting forget-gate bias", low=-10.0, high=10.0)

    def __post_init__(self):
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        check_settings(self)
        if not hidden:
            raise ValueError("network.hidden=[] is not allowed; at least one recurrent layer")
        for k, h in enumerate(hidden):
            check_int(f"network.hidden[{k}]", h, 1)
        object.__setattr__(self, "hidden", hidden)


@dataclass(frozen=True)
class HardwareSection:
    """Which technology, and which way onto it (see :data:`WAYS`, :data:`PLACEMENTS`, :data:`STARTS`);
    ``periphery`` names an accelerator's arrays, converters and slices (:func:`mapping.periphery_names`;
    ``"none"``: the sections' own); ``seconds_before_test`` lets that much simulated time pass on every
    array's clock between the end of training or programming and the test (drift, relaxation, read noise
    with memory), 0..1e10 s; ``drift_compensation`` (``"none"``, ``"global"``, ``"column"``) takes a
    reference read after the last write and rescales the outputs after that time by ``reference / now``,
    one gain a matrix or one an output column (:class:`mapping.drift_compensation.DriftCompensation`)."""

    SECTION: ClassVar[str] = "hardware"

    preset: str = setting("li2019", choices=crossbar.preset_names, doc="device technology")
    way: str = setting("in_situ", choices=WAYS, doc="way onto hardware")
    ideal_converters: bool = setting(
        False, doc="leave out the DACs and ADCs even when the preset has them (true or false)")
    placement: str = setting("first_fit", choices=PLACEMENTS, doc="where the blocks go on the arrays")
    start: str = setting("programmed", choices=STARTS, doc="in-situ starting weights")
    periphery: str = setting("none", choices=lambda: ("none", *periphery_names()), written_at_default=False,
                             doc="an accelerator's arrays, converters, slices and energy (none: the sections')")
    seconds_before_test: float = setting(
        0.0, unit="s", doc="simulated time between the end of training or programming and the test",
        low=0.0, high=1e10, written_at_default=False)
    drift_compensation: str = setting(
        "none", choices=DRIFT_COMPENSATIONS, written_at_default=False,
        doc="rescale the outputs after seconds_before_test by a reference read: none, global or column")

    def __post_init__(self):
        check_settings(self)


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

    SECTION: ClassVar[str] = "training"

    epochs: int = setting(50, unit="epochs", doc="passes over the training set", low=1)
    optimizer: str = setting("rmsprop", choices=OPTIMIZERS, doc="optimizer")
    learning_rate: float = setting(0.01, unit="1", doc="optimizer learning rate", low=0.0, low_open=True,
                                   high=MAX_LEARNING_RATE)
    momentum: float = setting(0.0, unit="1", doc="SGD momentum", low=0.0, high=1.0, high_open=True)
    clip_norm: Optional[float] = setting(None, unit="1", doc="gradient clipping by global norm",
                                         low=0.0, low_open=True)
    batch_size: int = setting(32, unit="sequences", doc="sequences per update", low=1)
    seed: int = setting(0, doc="seed of the network, chip and data order", low=0)
    validation: float = setting(0.0, unit="1", low=0.0, high=1.0, high_open=True, written_at_default=False,
                                doc="fraction of the training sequences held out to validate on (0: none)")
    patience: Optional[int] = setting(
        None, unit="epochs", low=1, written_at_default=False,
        doc="epochs without a better validation metric before stopping (omit: none)")
    keep: str = setting("last", choices=KEEPS, written_at_default=False,
                        doc="weights kept: the last epoch's or the best by validation")

    def __post_init__(self):
        check_settings(self)
        if self.validation == 0.0 and (self.keep == "best" or self.patience is not None):
            what = (f"training.keep={self.keep!r}" if self.keep == "best" else f"training.patience={self.patience}")
            raise ValueError(f"{what} needs a validation split to choose by: set training.validation to a fraction "
                             "in (0, 1) of the training sequences (the test data never choose)"
                             + (", or keep = 'last'" if self.keep == "best" else ", or leave patience out"))


SECTIONS = {"data": DataSection, "network": NetworkSection, "hardware": HardwareSection,
            "array": crossbar.ArraySpec, "adc": crossbar.AdcSpec, "dac": crossbar.DacSpec,
            "slicing": SlicingSpec, "wires": crossbar.WiresSpec, "training": TrainingSection, "update": UpdateSpec}
"""The sections that are specs, in the file's order: the experiment's own (data, network, hardware,
training), the physical layer's and the mapping's (``crossbar.ArraySpec``, ``AdcSpec``, ``DacSpec``,
``WiresSpec``, ``mapping.SlicingSpec``) and the in-situ update algorithm's (``lstm.updates.UpdateSpec``);
``device`` (:class:`crossbar.DeviceModel`) and ``encoding``
(:class:`mapping.Encoding`) hold overrides of a preset and of a way's default."""

OVERRIDE_SECTIONS = {"device": crossbar.DeviceModel, "encoding": Encoding}
"""The sections that hold overrides, and the spec whose fields they override."""

FILE_ORDER = ("data", "network", "hardware", "device", "encoding", "array", "adc", "dac", "slicing", "wires",
              "training", "update")
"""The sections of an experiment file, in the order they are written."""


_PERIPHERY_SECTIONS = ("array", "adc", "dac", "slicing")
"""The sections whose fields a periphery preset fills."""


def periphery_values(name: str) -> dict:
    """The dotted names a periphery preset (:func:`mapping.periphery_preset`) sets to other than their
    defaults, with its values: those of its specs (:meth:`mapping.ChipSpec.for_periphery`)."""
    chip = ChipSpec.for_periphery(name)
    out = {}
    for section in _PERIPHERY_SECTIONS:
        spec, default = getattr(chip, section), SECTIONS[section]()
        for f in dataclasses.fields(spec):
            if getattr(spec, f.name) != getattr(default, f.name):
                out[f"{section}.{f.name}"] = getattr(spec, f.name)
    return out


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
    array: crossbar.ArraySpec = field(default_factory=crossbar.ArraySpec)
    adc: crossbar.AdcSpec = field(default_factory=crossbar.AdcSpec)
    dac: crossbar.DacSpec = field(default_factory=crossbar.DacSpec)
    slicing: SlicingSpec = field(default_factory=SlicingSpec)
    wires: crossbar.WiresSpec = field(default_factory=crossbar.WiresSpec)
    training: TrainingSection = field(default_factory=TrainingSection)
    update: UpdateSpec = field(default_factory=UpdateSpec)

    def __post_init__(self):
        for name, cls in SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; a {cls.__name__}")
        for name in OVERRIDE_SECTIONS:
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
        self._check_issue30_combinations()
        if self.update.pulse_trains != "summed" and self.hardware.way != "in_situ":
            raise ValueError(f"update.pulse_trains={self.update.pulse_trains!r} with hardware.way="
                             f"{self.hardware.way!r}: pulse trains write in-situ training's changes; choose "
                             "hardware.way 'in_situ' or leave update.pulse_trains out")
        if self.update.algorithm != "sgd" and self.hardware.way != "in_situ":
            raise ValueError(f"update.algorithm={self.update.algorithm!r} with hardware.way={self.hardware.way!r}: "
                             "an update algorithm writes in-situ training's changes; choose hardware.way "
                             "'in_situ' or leave update.algorithm out")
        if self.slicing.weight_bits is not None and self.hardware.placement == "li2019":
            raise ValueError("slicing.weight_bits with hardware.placement='li2019': Li et al.'s corners hold "
                             "analog pairs; use placement first_fit")
        if self.hardware.placement == "li2019" and self.data.task is None:
            raise ValueError("hardware.placement='li2019' places the shipped tasks' networks; use first_fit for "
                             "your own data")

    def _check_issue30_combinations(self) -> None:
        """Refuse, before anything trains, the combinations of the update algorithm, the scale per column and
        drift compensation with what cannot carry them."""
        algorithm = UPDATE_ALGORITHMS.lookup(self.update.algorithm)
        device = self.device_model()
        if algorithm.needs_counted_pulses and device.two_pulse is not None:
            raise ValueError(f"update.algorithm={self.update.algorithm!r} with device {device.name!r}: it counts whole "
                             "pulses and this device is written by Li et al.'s two-pulse scheme (every device of a "
                             "region SET again at each write); choose update.algorithm 'sgd' or 'mixed_precision' "
                             "or a pulse-law or measured-table device")
        stochastic = self.update.pulse_trains == "stochastic"
        if stochastic and device.two_pulse is not None:
            raise ValueError(f"update.pulse_trains='stochastic' with device {device.name!r}: coincidences are whole "
                             "pulses and this device is written by Li et al.'s two-pulse scheme; choose "
                             "update.pulse_trains 'summed' or a pulse-law or measured-table device")
        if stochastic and (self.training.optimizer != "sgd" or self.training.momentum != 0.0):
            raise ValueError(f"update.pulse_trains='stochastic' with training.optimizer={self.training.optimizer!r} "
                             f"and momentum {self.training.momentum!r}: it writes plain SGD's rank-one terms; use "
                             "training.optimizer 'sgd' with momentum 0")
        if self.slicing.weight_bits is not None:
            if self.encoding.get("scale_by", "matrix") != "matrix":
                raise ValueError(f"encoding.scale_by={self.encoding['scale_by']!r} with slicing.weight_bits: sliced "
                                 "weights share one weight step over their levels; 'matrix' is required")
            if self.hardware.drift_compensation != "none":
                raise ValueError(f"hardware.drift_compensation={self.hardware.drift_compensation!r} with "
                                 "slicing.weight_bits: sliced matrices have no drift reference; 'none' is required")

    # ---------------------------------------------------------------- resolved objects
    def device_model(self) -> crossbar.DeviceModel:
        """The preset's device with the overrides of ``[device]``, validated."""
        # the fields a device file leaves out at their defaults (the registered cell I-V, programming) too
        base = {**crossbar.DeviceModel.NEW_FIELDS_AT_DEFAULT, **crossbar.preset(self.hardware.preset).to_dict()}
        merged = _merge(base, self.device, "device")
        return crossbar.DeviceModel.from_dict(merged, "device")

    def encoding_config(self, way: Optional[str] = None) -> Encoding:
        """The encoding of a way with the overrides of ``[encoding]``: in situ Li et al.'s 100 uS per unit
        weight when the starting weights fit it (``fits``), ex situ the scale from the trained weights."""
        way = self.hardware.way if way is None else way
        base = {"scale": "fits" if way == "in_situ" else "max_abs"}
        return config_from_dict(Encoding, {**base, **dict(self.encoding)}, "encoding")

    def chip_spec(self, way: Optional[str] = None, corners: Optional[Mapping[str, Tuple[int, int, int]]] = None
                  ) -> ChipSpec:
        """The chip of this experiment for a way (default its own): the description tree's specs as they
        are (``[array]``, ``[adc]``, ``[dac]``, ``[wires]``, ``[slicing]``, with the periphery's values filled
        in), the device with its overrides, the way's encoding and the placement's ``corners``."""
        h = self.hardware
        return ChipSpec(preset=h.preset, device=self.device_model(), ideal_converters=h.ideal_converters,
                        periphery=None if h.periphery == "none" else h.periphery, array=self.array, adc=self.adc,
                        dac=self.dac, wires=self.wires, slicing=self.slicing, encoding=self.encoding_config(way),
                        corners=None if corners is None else dict(corners))

    def optimizer_config(self):
        t = self.training
        return OptimizerConfig(t.optimizer, t.learning_rate, momentum=t.momentum, clip_norm=t.clip_norm)

    # ---------------------------------------------------------------- dicts, TOML, dotted names
    def to_dict(self) -> dict:
        """Every section as plain values (None left out), the form of the TOML and JSON files."""
        out = {}
        for name in FILE_ORDER:
            value = self._given.get(name, getattr(self, name))
            table = config_to_dict(value) if dataclasses.is_dataclass(value) else _plain(value)
            optional = left_out_at_default(SECTIONS[name]) if name in SECTIONS else ()
            for field_name in optional:
                if table.get(field_name) == getattr(SECTIONS[name](), field_name):
                    del table[field_name]
            table = _drop_none(table)
            if table or not optional:
                out[name] = table
        return out

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "experiment") -> "Experiment":
        """An experiment from :meth:`to_dict`'s form; ``ValueError`` naming ``source`` and the key or value."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: a table of sections is required")
        known = set(SECTIONS) | set(OVERRIDE_SECTIONS)
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
        for name in OVERRIDE_SECTIONS:
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
MAX_POINTS = 100_000
"""The most points (values times seeds) a sweep may have; more is refused before any is made."""


def check_point_count(count: int, what: str) -> None:
    """Refuse more than :data:`MAX_POINTS` points (values times seeds) before any is made."""
    if count > MAX_POINTS:
        raise ValueError(f"{what} make(s) {count:.6g} points; a sweep may have at most {MAX_POINTS} "
                         "(split it into several sweeps, or use fewer values)")


def parse_values(text: str) -> List[float]:
    """Values of one ``--vary`` right-hand side.

    ``a:b:n`` is ``n`` evenly spaced values from a to b; ``log:a:b:n`` is ``n``
    values evenly spaced in log10; ``a,b,c`` is a list; a single number is one value.
    """
    text = text.strip()
    bad = ValueError(f"range {text!r} is not understood; use start:stop:count, log:start:stop:count "
                     "(positive), or a,b,c")
    if ":" in text:
        log = text.startswith("log:")
        try:
            a, b, n = text[4:].split(":") if log else text.split(":")
            a, b, n = float(a), float(b), int(n)
        except ValueError:
            raise bad from None
        if n < 1 or (log and (a <= 0 or b <= 0)):
            raise bad
        check_point_count(n, f"range {text!r}")  # before any value is made
        if log:
            return [float(v) for v in np.logspace(math.log10(a), math.log10(b), n)]
        return [float(v) for v in np.linspace(a, b, n)]
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise bad from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"range {text!r} holds a value that is not finite")
    return values


@dataclass(frozen=True)
class Parameter:
    """A dotted name that can be set and swept: its kind, unit and meaning."""

    name: str
    kind: str            # "float", "int", "bool", "choice", "text" (a name or a path), "ints" or "texts" (lists)
    unit: str
    doc: str
    choices: Tuple[str, ...] = ()
    optional: bool = False  # None is a value of it (``none`` or ``null`` as text): the field left unset

    NONE_WORDS: ClassVar[Tuple[str, ...]] = ("none", "null")

    def coerce(self, value):
        """``value`` as this parameter's type; ``ValueError`` naming it otherwise (never truncated). An
        optional parameter also takes None (``none`` or ``null`` as text): the field unset."""
        if self.optional and (value is None or (isinstance(value, str) and value.strip().lower() in self.NONE_WORDS)):
            return None
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
        unset = " (or none to leave it unset)" if self.optional else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            try:
                value = check_finite(self.name, value)  # a number from text, or the error naming the parameter
            except ValueError as error:
                if self.kind == "int":
                    raise ValueError(f"{self.name}={value!r} is not allowed; a whole number is required{unset}") from None
                raise ValueError(f"{error}{unset}") from None
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
        """Values of a ``--vary`` right-hand side for this parameter (see :func:`parse_values`):
        numbers as ranges or ``a,b,c``; words for a choice, text or true/false as ``a,b``; lists in brackets,
        ``[12,8],[16]`` (a bare ``8,16`` is the one-element lists ``[8]`` and ``[16]``)."""
        if self.kind in ("ints", "texts"):
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
        parts = [v.strip() for v in text.split(",")]
        if self.optional and any(v.lower() in self.NONE_WORDS for v in parts):  # none,2: a list, no ranges
            return [self.coerce(v) for v in parts if v]
        return [self.coerce(v) for v in parse_values(text)]


def parameters(experiment: Optional[Experiment] = None) -> List[Parameter]:
    """Every dotted name that can be set and swept, with its kind, unit and meaning, from the fields' settings
    (:func:`crossbar.settings.setting`): every field of the preset's device (``device.*``, its pulse law,
    two-pulse scheme and read noise with memory as ``device.pulse_law.*`` and so on), of
    :class:`mapping.Encoding` (``encoding.*``) and of every section (:data:`SECTIONS`).

    The device's names depend on its preset (``device.two_pulse.*`` exist for
    a two-pulse device only); without an experiment, those of ``li2019``.
    """
    preset = experiment.hardware.preset if experiment is not None else "li2019"
    out = spec_parameters(crossbar.preset(preset), "device")
    out += spec_parameters(Encoding, "encoding")
    for section, cls in SECTIONS.items():
        out += spec_parameters(cls, section)
    return out


def spec_parameters(spec, prefix: str) -> List[Parameter]:
    """A :class:`Parameter` for every listed field of a spec (a class, or an instance whose nested specs are
    listed as ``prefix.field.sub``; a nested spec that is None has none)."""
    cls = spec if isinstance(spec, type) else type(spec)
    out = []
    for f in listed_fields(cls):
        name = f"{prefix}.{f.name}"
        nested = None if isinstance(spec, type) else getattr(spec, f.name)
        if dataclasses.is_dataclass(nested):
            out += spec_parameters(nested, name)
            continue
        if nested is None and not isinstance(spec, type) and _is_spec_field(cls, f):
            continue
        info = described(f)
        out.append(Parameter(name, kind_of(cls, f), info.unit, info.doc, info.allowed(), _is_optional(cls, f)))
    return out


def _is_optional(cls, f: dataclasses.Field) -> bool:
    """Whether a field takes None (``Optional[int]``: ``training.patience``, ``training.clip_norm``)."""
    hint = typing.get_type_hints(cls)[f.name]
    return type(None) in typing.get_args(hint)


def _is_spec_field(cls, f: dataclasses.Field) -> bool:
    """Whether a field holds a nested spec (``Optional[TwoPulseScheme]``): a dataclass type."""
    hint = typing.get_type_hints(cls)[f.name]
    return any(dataclasses.is_dataclass(a) for a in (hint, *typing.get_args(hint)))


def parameter(name: str, experiment: Optional[Experiment] = None) -> Parameter:
    """The :class:`Parameter` of a dotted name; ``ValueError`` naming the closest known names otherwise."""
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
    device = data.get("device")
    law = device.get("pulse_law") if isinstance(device, dict) else None
    if isinstance(law, dict) and isinstance(law.get("table"), str) and law["table"].endswith(".npz"):
        # a fitted device's table, from the file's folder (copies: the caller's table stays as it was)
        data["device"] = {**device, "pulse_law": {**law, "table": beside_file(path, law["table"])}}
    data_section = data.get("data")
    if isinstance(data_section, dict) and isinstance(data_section.get("path"), str) and data_section["path"]:
        data["data"] = {**data_section, "path": beside_file(path, data_section["path"])}
    return Experiment.from_dict(data, f"{what} {path}"), dict(vary)


def beside_file(path: str, name: str) -> str:
    """``name`` as a file named in the file ``path``: an absolute name as it is, a relative one taken from
    ``path``'s folder (whichever folder the command runs in)."""
    if os.path.isabs(name):
        return name
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), name))


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
                      device=device, array=crossbar.ArraySpec(128, 64, 1), training=training)
