"""The network on simulated crossbars: ex-situ, hardware-aware and in-situ (Li et al. 2019).

Every matrix product of every layer goes through ``mapping.MappedMatrix``;
activations and elementwise products stay digital. The same
:class:`lstm.network.Network` object runs on both backends: software
(``network.predict(x)``) and hardware (``HardwareNetwork.predict(x)``), so every
hardware number has its software twin.

A layer's matrix (rows ``[x; h; 1]``) is placed as weights for ``[x; h]`` and
bias rows for the ``1``; without biases, no bias rows. The column ADCs of a
matrix cover ``+-adc_range`` in units of its outputs (gate pre-activations:
sigmoid and tanh are saturated beyond about 4, so little is lost by clipping
there).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

import crossbar
from crossbar.array import estimated_array_bytes
from crossbar.validation import (CHECKED_BYTES, as_float_array, check_choice, check_int, check_memory, check_range,
                                 config_from_dict, config_to_dict, make_generator)
from mapping import (ADC_RANGE_MODES, Chip, Encoding, MappedMatrix, SlicedMatrix, WeightSlicing, periphery_names,
                     periphery_preset)
from mapping.chip import named

from . import parallel
from .kernels import hardware_lstm_forward
from .cells import get_cell
from .network import Network, NetworkConfig
from crossbar.files import load_arrays, save_arrays
from .train import Dataset, SoftwareTrainer

CHIP_FORMAT = "xbar-chip/1"

CALIBRATION_PERCENTILE = 99.9
"""Percentile of ``|I|`` over sample inputs that an ADC calibrated by :meth:`HardwareNetwork.calibrate_adcs`
reaches (rarer currents saturate)."""
"""Format of :meth:`HardwareNetwork.save` files."""


@dataclass(frozen=True)
class HardwareConfig:
    """How the network goes onto the chip. Validated when built.

    Parameters
    ----------
    preset : str
        Device technology (``crossbar.preset_names()``).
    device : crossbar.DeviceModel, optional
        Overrides the preset's device (e.g. another programming noise).
    ideal_converters : bool
        Leave out the DAC and ADC even when the preset has them.
    array_rows, array_cols : int
        Size of each array (Li et al.: 128 x 64).
    n_arrays : int, optional
        Arrays available (Li et al.: 1).
    corners : dict, optional
        Matrix name -> (array, row, col) corner; default first fit.
    encoding : mapping.Encoding
        Default ``Encoding()``: row pairs, Li et al.'s 100 uS per unit weight
        when the weights fit it, else the scale from the weights (``fits``),
        so that any network programs; ``Encoding(scale="fixed")`` refuses
        weights beyond the pairs' range instead.
    adc_range : float
        ADC full scale in output units of each matrix (> 0), with ``adc_range_by="outputs"``.
    adc_range_by : str
        How each matrix's ADC full scale is set (:data:`mapping.ADC_RANGE_MODES`): ``"outputs"``
        (``adc_range`` output units), ``"array_max"`` (the largest current a
        column of its tiles can carry), ``"cell_step"`` (one LSB is one
        device step at an input of 1) or ``"calibration"`` (the 99.9th
        percentile of the currents that sample sequences give,
        :meth:`HardwareNetwork.calibrate_adcs`; ``outputs`` until then).
    adc_circuit : crossbar.ADCCircuit
        Architecture and non-idealities of the column ADCs (default the uniform quantizer).
    slicing : mapping.WeightSlicing, optional
        Weights as integers held in bit slices (:class:`mapping.SlicedMatrix`); ``None``: analog pairs.
        Sliced weights are programmed ex situ (in-situ updates are refused).
    dac_bit_serial : bool
        Inputs driven bit by bit (:class:`crossbar.DAC` ``bit_serial``).
    dac_conversion : str
        ``"per_bit"`` or ``"accumulate"`` (with ``dac_bit_serial``).
    read_scheme : str
        What a read does with the lines of an array it neither drives nor senses
        (:data:`crossbar.peripherals.READ_SCHEMES`: ``grounded``, ``floating``, ``1t1r`` or ``v_half``).
    write_scheme : crossbar.WriteScheme, optional
        Passive in-situ writes, cell by cell, that disturb half-selected cells; ``None``: no disturb.
    device_read_scheme : str
        What a read of one device (verify, read-back) does with the other lines: ``grounded``, ``v_half``
        or ``floating`` (:mod:`crossbar.device_reads`).
    device_read_voltage : float
        Read voltage of a device read, volts.
    seconds_per_read, seconds_per_write : float
        Simulated seconds each read (a network's time step) and each write (an update) let pass on every
        array's clock (:class:`crossbar.Peripherals`), so drift and read noise with memory evolve during
        inference and training as one mechanism. 0: the clock moves only by ``advance_time``.
    dac_bits_per_cycle : int
        Magnitude bits a bit-serial cycle drives (:class:`crossbar.DAC` ``bits_per_cycle``).
    periphery : str, optional
        A periphery preset (:func:`mapping.periphery_names`) whose converter energy and time the chip
        counts with (:meth:`crossbar.EnergyCosts.for_adc` scales them to this configuration's ADC);
        ``None``: :class:`crossbar.EnergyCosts` defaults. The preset's arrays, converters and slices are
        set by :meth:`for_periphery` (or an experiment's ``hardware.periphery``), not by this field.
    dac_bits, adc_bits : int, optional
        Converter resolutions including the sign (2..24); default the preset's (8 and 8 for li2019).
    wires : crossbar.WireResistance, optional
    """

    preset: str = "li2019"
    device: Optional[crossbar.DeviceModel] = None
    ideal_converters: bool = False
    array_rows: int = 128
    array_cols: int = 64
    n_arrays: Optional[int] = None
    corners: Optional[Dict[str, Tuple[int, int, int]]] = None
    encoding: Encoding = field(default_factory=Encoding)
    adc_range: float = 6.0
    wires: Optional[crossbar.WireResistance] = None
    dac_bits: Optional[int] = None
    adc_bits: Optional[int] = None
    adc_range_by: str = "outputs"
    adc_circuit: crossbar.ADCCircuit = field(default_factory=crossbar.ADCCircuit)
    slicing: Optional[WeightSlicing] = None
    dac_bit_serial: bool = False
    dac_conversion: str = "per_bit"
    read_scheme: str = "grounded"
    write_scheme: Optional[crossbar.WriteScheme] = None
    dac_bits_per_cycle: int = 1
    periphery: Optional[str] = None
    device_read_scheme: str = "grounded"
    device_read_voltage: float = 0.2
    seconds_per_read: float = 0.0
    seconds_per_write: float = 0.0

    def __post_init__(self):
        crossbar.preset(self.preset)
        if self.device is not None and not isinstance(self.device, crossbar.DeviceModel):
            raise ValueError(f"device={self.device!r} is not allowed; a crossbar.DeviceModel or None")
        check_range("adc_range", self.adc_range, 0.0, low_open=True)
        for name in ("dac_bits", "adc_bits"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 2, 24)
        if self.wires is not None and not isinstance(self.wires, crossbar.WireResistance):
            raise ValueError(f"wires={self.wires!r} is not allowed; a crossbar.WireResistance or None")
        if not isinstance(self.encoding, Encoding):
            raise ValueError(f"encoding={self.encoding!r} is not allowed; a mapping.Encoding")
        check_choice("adc_range_by", self.adc_range_by, ADC_RANGE_MODES)
        if self.slicing is not None and not isinstance(self.slicing, WeightSlicing):
            raise ValueError(f"slicing={self.slicing!r} is not allowed; a mapping.WeightSlicing or None")
        if self.slicing is not None and self.adc_range_by == "calibration":
            raise ValueError("adc_range_by='calibration' with sliced weights: choose outputs, array_max or cell_step")
        if self.slicing is not None and self.corners:
            raise ValueError("corners are not allowed with sliced weights (a tile set per slice); leave them out")
        if not isinstance(self.dac_bit_serial, bool):
            raise ValueError(f"dac_bit_serial={self.dac_bit_serial!r} is not allowed; True or False is required")
        check_choice("dac_conversion", self.dac_conversion, crossbar.peripherals.INPUT_CONVERSIONS)
        if self.periphery is not None:
            check_choice("periphery", self.periphery, periphery_names())
        check_int("dac_bits_per_cycle", self.dac_bits_per_cycle, 1, 23)
        if self.dac_bits_per_cycle != 1 and not self.dac_bit_serial:
            raise ValueError(f"dac_bits_per_cycle={self.dac_bits_per_cycle!r} needs bit-serial row DACs "
                             "(dac_bit_serial=True); leave it 1")
        check_choice("read_scheme", self.read_scheme, crossbar.peripherals.READ_SCHEMES)
        crossbar.Peripherals(read_scheme=self.read_scheme, write_scheme=self.write_scheme,
                             device_read_scheme=self.device_read_scheme,
                             device_read_voltage=self.device_read_voltage, seconds_per_read=self.seconds_per_read,
                             seconds_per_write=self.seconds_per_write)  # the combination is checked
        if self.device_read_scheme != "grounded" and self.device_model().two_pulse is not None:
            raise ValueError(f"device_read_scheme={self.device_read_scheme!r} with device "
                             f"{self.device_model().name!r}: two-pulse cells sit behind access transistors, which "
                             "shut out the unselected cells of a device read; leave it 'grounded'")
        if self.write_scheme is not None and self.device_model().two_pulse is not None:
            raise ValueError(f"write_scheme with device {self.device_model().name!r}: two-pulse writes go through "
                             "access transistors (1T1R); leave it out")
        bend = self.device_model().iv_nonlinearity_per_volt
        if bend != 0.0 and (self.wires is not None or self.read_scheme == "floating"):
            path = "through wires" if self.wires else "through floating lines"
            raise ValueError(f"device {self.device_model().name!r} has cells that bend (iv_nonlinearity_per_volt="
                             f"{bend:g} /V) and the reads go {path}: each cell's voltage would depend on the "
                             "others, a solve per input vector; use "
                             "ideal wires and a grounded, 1t1r or v_half read scheme, or linear cells")
        if self.read_scheme == "v_half" and self.peripherals().dac is None:
            raise ValueError(f"read_scheme='v_half' holds the unused lines at half the DAC's v_max, and this chip "
                             f"has no DAC (ideal_converters={self.ideal_converters}, preset {self.preset!r}); give "
                             "dac_bits or choose another read scheme")
        if self.dac_bit_serial and self.peripherals().dac is None:
            raise ValueError(f"dac_bit_serial=True needs row DACs, and this chip has none (ideal_converters="
                             f"{self.ideal_converters}, preset {self.preset!r}); give dac_bits")
        if not isinstance(self.adc_circuit, crossbar.ADCCircuit):
            raise ValueError(f"adc_circuit={self.adc_circuit!r} is not allowed; a crossbar.ADCCircuit")
        if not self.adc_circuit.is_uniform and self.peripherals().adc is None:
            raise ValueError(f"adc_circuit kind={self.adc_circuit.kind!r} needs column ADCs, and this chip has "
                             f"none (ideal_converters={self.ideal_converters}, preset {self.preset!r} without "
                             "ADC and no adc_bits); give adc_bits or leave the kind 'uniform'")

    def peripherals(self) -> crossbar.Peripherals:
        """The DAC and ADC of the chip: none with ``ideal_converters``, else the preset's with these bits."""
        if self.ideal_converters:
            return crossbar.Peripherals()
        found = crossbar.preset_peripherals(self.preset)
        dac, adc = found.dac, found.adc
        if self.dac_bits is not None or (dac is not None and self.dac_bit_serial):
            dac = crossbar.DAC(bits=self.dac_bits if self.dac_bits is not None else dac.bits,
                               v_max=dac.v_max if dac else 0.2, clip=dac.clip if dac else False,
                               bit_serial=self.dac_bit_serial, conversion=self.dac_conversion,
                               bits_per_cycle=self.dac_bits_per_cycle)

        if self.adc_bits is not None or adc is not None:
            adc = crossbar.ADC(bits=self.adc_bits if self.adc_bits is not None else adc.bits,
                               full_scale=adc.full_scale if adc else 1e-4, circuit=self.adc_circuit)
        return crossbar.Peripherals(dac=dac, adc=adc)

    def device_model(self) -> crossbar.DeviceModel:
        return self.device if self.device is not None else crossbar.preset(self.preset)

    def energy_costs(self) -> crossbar.EnergyCosts:
        """Per-operation costs of this chip: the periphery preset's (or the defaults) for its ADC."""
        costs = crossbar.EnergyCosts() if self.periphery is None else periphery_preset(self.periphery).costs
        adc = self.peripherals().adc
        return costs if adc is None else costs.for_adc(adc.circuit, adc.bits, self.array_cols)

    @classmethod
    def for_periphery(cls, name: str, **changes) -> "HardwareConfig":
        """A configuration with a periphery preset's arrays, converters, slices and costs
        (:mod:`mapping.periphery`); ``changes`` set any field after them."""
        p = periphery_preset(name)
        fields = dict(periphery=name, array_rows=p.array_rows, array_cols=p.array_cols, dac_bits=p.dac.bits,
                      dac_bit_serial=p.dac.bit_serial, dac_conversion=p.dac.conversion,
                      dac_bits_per_cycle=p.dac.bits_per_cycle, adc_bits=p.adc_bits, adc_circuit=p.adc_circuit,
                      adc_range_by=p.adc_range_by, slicing=p.slicing)
        return cls(**{**fields, **changes})

    def to_dict(self) -> dict:
        """Every field as JSON-ready values (SI units; the device in full)."""
        return config_to_dict(dataclasses.replace(self, device=self.device_model()))

    @classmethod
    def from_dict(cls, data: dict, source: str = "hardware") -> "HardwareConfig":
        """A configuration from :meth:`to_dict`'s values, validated; ``ValueError`` naming ``source`` otherwise."""
        return config_from_dict(cls, data, source, nested={
            "device": crossbar.DeviceModel.from_dict,
            "encoding": lambda d, s: config_from_dict(Encoding, d, s),
            "wires": lambda d, s: config_from_dict(crossbar.WireResistance, d, s),
            "adc_circuit": lambda d, s: config_from_dict(crossbar.ADCCircuit, d, s),
            "slicing": lambda d, s: config_from_dict(WeightSlicing, d, s),
            "write_scheme": lambda d, s: config_from_dict(crossbar.WriteScheme, d, s),
            "corners": lambda d, s: {str(k): tuple(int(x) for x in v) for k, v in d.items()}})


def build_chip(config: HardwareConfig, seed=0) -> Chip:
    """An empty chip of the configuration's technology, converters and wires (arrays come as blocks need them)."""
    peripherals = config.peripherals()
    adc = peripherals.adc
    costs = config.energy_costs()
    return Chip(config.device_model(), config.array_rows, config.array_cols, n_arrays=config.n_arrays,
                dac=peripherals.dac, adc_bits=None if adc is None else adc.bits, wires=config.wires, seed=seed,
                adc_circuit=None if adc is None else adc.circuit, costs=costs, read_scheme=config.read_scheme,
                write_scheme=config.write_scheme, device_read_scheme=config.device_read_scheme,
                device_read_voltage=config.device_read_voltage, seconds_per_read=config.seconds_per_read,
                seconds_per_write=config.seconds_per_write)


def place_network(chip: Chip, network: NetworkConfig, config: HardwareConfig) -> Dict[str, MappedMatrix]:
    """Place every matrix of a network of this shape on ``chip`` (corners from ``config``, else first fit).

    Only the shapes matter: no weights are needed, so ``xbar map`` lays out networks of any size.
    A layer's rows ``[x; h; 1]`` become weight rows for ``[x; h]`` and bias rows for the ``1``.
    """
    cell = get_cell(network.cell)
    corners = config.corners or {}
    matrices = {}
    for name, (rows, cols) in network.matrix_shapes().items():
        groups = None
        if name.startswith("layer"):
            hidden = network.hidden[int(name[5:].split(".")[0])]
            groups = [(g, hidden) for g in cell.gate_names]
        if config.slicing is not None:
            matrices[name] = SlicedMatrix(chip, name.replace(".W", ""), rows - 1, cols, config.slicing,
                                          bias=network.bias, encoding=config.encoding, column_groups=groups)
        else:
            matrices[name] = MappedMatrix(chip, name.replace(".W", ""), rows - 1, cols, bias=network.bias,
                                          encoding=config.encoding, corner=corners.get(name), column_groups=groups)
    return matrices


def estimated_arrays(network: NetworkConfig, config: HardwareConfig) -> float:
    """Arrays a network of this shape takes, estimated before placing it: two devices a weight (a pair),
    times the slices of a sliced design, over the devices of an array (bias rows and half-filled arrays
    not counted: a lower bound)."""
    weights = sum(float(rows) * float(cols) for rows, cols in network.matrix_shapes().values())
    slices = config.slicing.n_slices if config.slicing is not None else 1
    return 2.0 * slices * weights / (float(config.array_rows) * float(config.array_cols))


LAYOUT_BYTES_PER_ARRAY = 24e3
"""Bytes an array costs a placement of shapes only (its blocks, the layout, its figure and table): 19 kB
measured by ``xbar map`` of 8 814 arrays of 128 x 64 devices."""


def check_chip_memory(network: NetworkConfig, config: HardwareConfig) -> None:
    """Refuse a chip whose arrays (:func:`estimated_arrays`, each :func:`crossbar.array.estimated_array_bytes`)
    would not fit the memory available, before anything is placed: one line with the size, the estimate
    and the memory."""
    arrays = estimated_arrays(network, config)
    per_array = estimated_array_bytes(config.array_rows, config.array_cols, config.device_model())
    needed = arrays * (per_array + LAYOUT_BYTES_PER_ARRAY)
    if needed > CHECKED_BYTES:
        check_memory(f"a chip for hidden={list(network.hidden)} (about {arrays:,.0f} arrays of "
                     f"{config.array_rows} x {config.array_cols} devices)", needed)


def li2019_corners(network: Network) -> Dict[str, Tuple[int, int, int]]:
    """Li et al.'s placement: the LSTM block at column 1, the dense block right of it, both from row 1."""
    if len(network.config.hidden) != 1:
        raise ValueError("Li et al.'s one-array placement holds one recurrent layer")
    lstm_cols = network.params["layer0.W"].shape[1]
    return {"layer0.W": (0, 0, 0), "head.W": (0, 0, lstm_cols)}


class HardwareNetwork:
    """A network whose matrices live on a simulated chip.

    Parameters
    ----------
    network : Network
        Its parameters are the software twin; digital parameters (peepholes)
        are used from it directly.
    config : HardwareConfig
    seed : int or None
        The chip (device spread, faults, every noise draw).
    compiled : bool
        Run each matrix product as one compiled read of its tiles
        (:class:`crossbar.ReadPlan`), and standard LSTM layers over the whole
        sequence in one compiled kernel (:func:`lstm.kernels.hardware_lstm_forward`),
        wire resistance included. False goes step by step through the read's
        numpy twin: the reference, with the same bits from the same generators.
    threads : int, optional
        Threads of the compiled reads (see :mod:`lstm.parallel`); default
        ``XBAR_THREADS`` or the usable cores. The numbers do not depend on it.
    """

    def __init__(self, network: Network, config: HardwareConfig = HardwareConfig(), seed=0,
                 compiled: bool = True, threads: Optional[int] = None):
        if not isinstance(network, Network):
            raise ValueError(f"network={network!r} is not allowed; an lstm.Network is required")
        self.network = network
        self.config = config
        self.compiled = bool(compiled)
        self.threads = parallel.default_threads() if threads is None else parallel.check_threads(threads)
        check_chip_memory(network.config, config)
        self.chip = build_chip(config, seed)
        self.matrices: Dict[str, MappedMatrix] = place_network(self.chip, network.config, config)
        self._read_back: Optional[Dict[str, np.ndarray]] = None
        self._calibration: Optional[Dict[str, np.ndarray]] = None  # each matrix's sample inputs

    # ------------------------------------------------------------ weights
    def _split(self, w: np.ndarray):
        return (w[:-1], w[-1]) if self.network.config.bias else (w[:-1], None)

    def program(self, method: str = "one_shot", **options) -> Dict[str, object]:
        """Ex-situ: write the network's present weights into the arrays."""
        reports = {}
        for name, mm in self.matrices.items():
            reports[name] = mm.program(*self._split(self.network.params[name]), method=method, **options)
        self._set_adcs()
        self._read_back = None
        return reports

    def _set_adcs(self) -> None:
        """ADC full scale of each matrix, once its scale is known, as ``adc_range_by`` says
        (:meth:`mapping.MappedMatrix.adc_full_scale_by`)."""
        if self.chip.adc_bits is None:
            return
        for name, mm in self.matrices.items():
            if self.config.adc_range_by != "calibration":
                mm.set_adc_full_scale(mm.adc_full_scale_by(self.config.adc_range_by, self.config.adc_range))
            elif self._calibration is None:  # no samples yet: the outputs' range meanwhile
                mm.set_adc_full_scale(mm.adc_full_scale_by("outputs", self.config.adc_range))
            else:
                mm.calibrate_adc(self._calibration[name], percentile=CALIBRATION_PERCENTILE)

    def calibrate_adcs(self, x, mask=None) -> Dict[str, float]:
        """Set every matrix's ADC full scale from the currents that sample sequences give
        (``adc_range_by="calibration"``): the :data:`CALIBRATION_PERCENTILE` of ``|I|`` over the inputs each
        matrix sees when the network (its software twin, the weights it holds now) runs ``x``.

        The samples are kept: a later :meth:`program` or :meth:`initialize` calibrates again on them.

        Parameters
        ----------
        x : array_like, shape (batch, time, n_inputs)
        mask : array_like, shape (batch, time), optional

        Returns
        -------
        dict
            Each matrix's full scale, amperes.
        """
        if self.config.adc_range_by != "calibration":
            raise ValueError(f"adc_range_by={self.config.adc_range_by!r}: calibrate_adcs needs "
                             "adc_range_by='calibration'")
        if self.chip.adc_bits is None:
            raise ValueError("the chip has no ADCs to calibrate")
        _, cache = self.network.forward(x, mask, keep=True)
        valid = cache.mask.T.astype(bool)  # (time, batch): the steps that count
        samples = {}
        for k in range(len(self.network.config.hidden)):
            stacked = cache.inputs[k]  # (time, batch, n_in + hidden + 1): drop the constant
            samples[f"layer{k}.W"] = stacked[valid][:, :-1]
        # the head sees every valid step (seq2seq) or each sequence's last state (seq2vec)
        head = (cache.head_inputs[cache.mask.astype(bool)] if self.network.config.mode == "seq2seq"
                else cache.head_inputs)
        samples["head.W"] = head[:, :-1]
        self._calibration = samples
        self._set_adcs()
        return {name: mm.adc.full_scale for name, mm in self.matrices.items()}

    def let_time_pass(self, seconds: float) -> None:
        """Advance every array's clock by ``seconds`` (s, >= 0): drift, relaxation and read noise with memory
        move on, from each device's own last write (:meth:`crossbar.CrossbarArray.advance_time`)."""
        seconds = check_range("seconds", seconds, 0.0, unit="s")
        for array in self.chip.arrays:
            array.advance_time(seconds)
        self._read_back = None

    def initialize(self) -> None:
        """In-situ start: every device at its initial state (Li: RESET, SET at 1.0 V), weights about zero."""
        for mm in self.matrices.values():
            mm.initialize()
        self._set_adcs()
        self._read_back = None

    def read_weights(self) -> Dict[str, np.ndarray]:
        """Weights the hardware holds now (a conductance read of every device), network layout."""
        out = {}
        for name, mm in self.matrices.items():
            w, b = mm.read_weights()
            out[name] = np.vstack([w, (b if b is not None else np.zeros(w.shape[1]))[None, :]])
        self._read_back = out
        return out

    # ------------------------------------------------------------ products
    def product(self, name: str, inputs: np.ndarray) -> np.ndarray:
        """``inputs @ W`` on the arrays (inputs are ``[x; h; 1]``; the 1 drives the bias rows)."""
        with parallel.numba_threads(self.threads):
            return self.matrices[name].matvec(inputs[:, :-1], reference=not self.compiled)

    def layer(self, k: int, inputs: np.ndarray, mask: np.ndarray, keep: bool = True) -> Optional[tuple]:
        """Standard LSTM layer ``k`` over the whole sequence on the arrays, compiled (see ``Network.forward``).

        ``keep`` False (inference) keeps only the last step's caches besides the states.
        None (go step by step) for other cells, when not ``compiled``, or when the devices move between the
        steps' reads (``crossbar.ReadPlan.varies_between_reads``).
        """
        mm = self.matrices[f"layer{k}.W"]
        plan = mm.plan()
        if not (self.compiled and self.network.cell.name == "lstm") or plan.varies_between_reads:
            return None  # step by step: the devices move between the steps' reads (drift, 1/f noise on the clock)
        time, batch, _ = inputs.shape
        mm.check_input_range(inputs)
        session = plan.session(time)  # one read a step, its seeds drawn now

        inputs, mask, keep = np.ascontiguousarray(inputs), np.ascontiguousarray(mask), bool(keep)

        def part(rows, chunks=False):
            b0, b1 = rows  # each part's rows draw their own noise streams (those of rows b0..b1 of the batch)
            # every argument given: an omitted default sends Numba's dispatcher down its slow path each call
            return hardware_lstm_forward(inputs, mask, session.compiled, keep, b0, b1 - b0, chunks)

        parts = parallel.batch_parts(batch, time * session.multiply_adds(1), self.threads)
        if len(parts) == 1 and self.threads > 1 and session.parallel_chunks:
            with parallel.numba_threads(self.threads):  # one call: its reads' column chunks fill the cores
                results = [part(parts[0], True)]
        elif len(parts) == 1:
            results = [part(parts[0])]
        else:
            results = parallel.run_parts(part, parts)
        if len(results) == 1:
            caches = results[0][:5]
        else:  # the parts' rows side by side (axis 1 is the batch in every cache)
            caches = tuple(np.concatenate([r[i] for r in results], axis=1) for i in range(5))
        # summed over the whole batch's rows in one order, whatever the parts
        power = np.concatenate([r[5] for r in results]).sum(axis=0)
        session.finish(batch, sum(r[6] for r in results), power, sum(r[7] for r in results), counts=mm.counters)
        return tuple(caches)

    def predict(self, x, mask=None) -> np.ndarray:
        """Outputs of the network computed on the hardware."""
        return self.network.predict(x, mask, product=self.product, layer=self.layer)

    def gradients(self, x, y, mask=None, weights: Optional[Dict[str, np.ndarray]] = None):
        """Loss and gradients with the forward pass on the hardware (see ``Network.gradients``)."""
        return self.network.gradients(x, y, mask, product=self.product, weights=weights, layer=self.layer)

    # ------------------------------------------------------------ snapshot
    def state(self) -> Dict[str, np.ndarray]:
        """The chip's state (:meth:`mapping.Chip.state`), each matrix's scale, ADC and counters, and the
        weights last read back, as named arrays (no objects)."""
        out = {f"chip.{k}": v for k, v in self.chip.state().items()}
        out["matrices"] = np.array(json.dumps({name: mm.state() for name, mm in self.matrices.items()}))
        for name, w in (self._read_back or {}).items():
            out[f"read_back.{name}"] = w.copy()
        return out

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Take a :meth:`state` of a network on the same chip; ``ValueError`` naming ``source`` otherwise."""
        if "matrices" not in state:
            raise ValueError(f"{source}: no hardware state in it (saved by another kind of run)")
        try:
            matrices = json.loads(str(state["matrices"]))
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}: the matrices' state cannot be read ({error})") from None
        if not isinstance(matrices, dict) or sorted(matrices) != sorted(self.matrices):
            got = sorted(matrices) if isinstance(matrices, dict) else matrices
            raise ValueError(f"{source}: matrices {got} saved; this network has {sorted(self.matrices)}")
        read_back = {name[len("read_back."):]: v for name, v in state.items() if name.startswith("read_back.")}
        if read_back and sorted(read_back) != sorted(self.matrices):
            raise ValueError(f"{source}: read-back weights of {sorted(read_back)}; this network has "
                             f"{sorted(self.matrices)}")
        read_back = {name: as_float_array(f"{source}: read_back.{name}", w, shape=self.network.params[name].shape)
                     for name, w in read_back.items()}
        self.chip.load_state({k[len("chip."):]: v for k, v in state.items() if k.startswith("chip.")}, source)
        for name, mm in self.matrices.items():
            mm.load_state(matrices[name], f"{source}: matrix {name}")
        self._read_back = read_back or None

    # ------------------------------------------------------------ save and load
    def save(self, path: str) -> None:
        """Write everything that makes this chip this chip to ``path`` (``.npz``, no pickles), atomically.

        The configuration, the network (its shape and parameters), every
        array's true conductances, fault map, per-device spreads, drift clocks
        and random generator, each matrix's scale, ADC and counters, and the
        weights last read back. :meth:`load` gives a network whose next reads
        and updates are those this one would have made, bit for bit.
        """
        arrays = {f"hardware:{k}": v for k, v in self.state().items()}
        arrays.update({f"param:{k}": v for k, v in self.network.params.items()})
        meta = {"format": CHIP_FORMAT, "config": self.config.to_dict(),
                "network": config_to_dict(self.network.config)}
        save_arrays(path, meta, arrays)

    @classmethod
    def load(cls, path: str, compiled: bool = True, threads: Optional[int] = None) -> "HardwareNetwork":
        """A network saved by :meth:`save`; ``ValueError`` naming the file for a damaged, foreign or unknown one.

        ``compiled`` and ``threads`` are how to run it here (they change no number).
        """
        meta, arrays = load_arrays(path, CHIP_FORMAT, path, "a saved chip")
        try:
            config = HardwareConfig.from_dict(meta["config"], f"{path}: config")
            net_config = config_from_dict(NetworkConfig, meta["network"], f"{path}: network")
            network = Network(net_config, seed=0)
            network.set_params(SoftwareTrainer(network).check_state(
                {k: v for k, v in arrays.items() if k.startswith("param:")}, path))
            hw = cls(network, config, seed=0, compiled=compiled, threads=threads)
            hw.load_state({k[len("hardware:"):]: v for k, v in arrays.items() if k.startswith("hardware:")}, path)
        except KeyError as error:
            raise ValueError(f"{path}: no {error} in its record; damaged") from None
        except ValueError as error:
            raise named(path, error) from None
        return hw

    def counters(self) -> crossbar.OperationCounts:
        """All work done through the matrices so far: the arrays' and the column ADCs' (a matrix's own)."""
        total = crossbar.OperationCounts()
        for mm in self.matrices.values():
            total.accumulate(mm.counters)
        return total

    def energy(self) -> float:
        """Energy of all work on the chip so far (cells, DACs, ADCs, pulses), joules."""
        return self.counters().energy(self.chip.costs)


class InSituTrainer:
    """Li et al.'s in-situ training, one batch at a time.

    Forward pass on the arrays with the activations recorded; backward pass in
    software from those activations and the weights read back after the last
    update; the change written with the device's scheme (li2019: RESET/SET
    with gate voltages); read back. Digital parameters (peepholes) are
    updated in software.
    """

    def __init__(self, hardware: HardwareNetwork):
        self.hardware = hardware
        self.network = hardware.network

    def gradients(self, batch: Dataset):
        hw = self.hardware
        weights = hw._read_back if hw._read_back is not None else hw.read_weights()
        return hw.gradients(batch.x, batch.y, batch.mask, weights=weights)

    def apply(self, delta: Dict[str, np.ndarray]) -> None:
        hw = self.hardware
        for name, d in delta.items():
            if name in hw.matrices:
                hw.matrices[name].apply_update(*hw._split(d))
            else:
                self.network.params[name] += d
        # the software twin follows what the hardware holds (structural zeros stay zero)
        for name, w in hw.read_weights().items():
            self.network.params[name] = w * self.network.masks.get(name, 1.0)

    def identity(self) -> dict:
        """What a checkpoint of this trainer must match: the kind, the parameters and the chip."""
        hw = self.hardware
        return {**SoftwareTrainer(self.network).identity(), "trainer": "in_situ",
                "chip": {"device": hw.chip.device.name, "arrays": len(hw.chip.arrays),
                         "array_shape": [hw.chip.array_rows, hw.chip.array_cols]}}

    def state(self) -> Dict[str, np.ndarray]:
        """The software twin's parameters and the whole chip (:meth:`HardwareNetwork.state`)."""
        out = SoftwareTrainer(self.network).state()
        out.update({f"hardware:{k}": v for k, v in self.hardware.state().items()})
        return out

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Take a :meth:`state`: the chip continues exactly where it was (conductances, clocks,
        generators, counters)."""
        hardware = {k[len("hardware:"):]: v for k, v in state.items() if k.startswith("hardware:")}
        if not hardware:
            raise ValueError(f"{source}: no chip in it (not saved by an in-situ run)")
        params = {k: v for k, v in state.items() if not k.startswith("hardware:")}
        SoftwareTrainer(self.network).check_state(params, source)
        self.hardware.load_state(hardware, source)
        SoftwareTrainer(self.network).load_state(params, source)
        if self.hardware._read_back is None:  # the twin holds the last read-back: a new read would draw noise
            self.hardware._read_back = {name: self.network.params[name].copy() for name in self.hardware.matrices}

    def restore_best(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Go back to a :meth:`state` of this run (``training.keep = "best"``): the conductances, clocks,
        generators and the twin as they were then. A simulator's convenience: a real chip cannot un-write
        its devices and would re-program the kept weights. The work counters (and so the energy) keep
        everything done since: the later epochs' reads and pulses were spent."""
        hw = self.hardware
        arrays = [a.counters for a in hw.chip.arrays]
        matrices = {name: mm.counters for name, mm in hw.matrices.items()}
        self.load_state(state, source)
        for a, counts in zip(hw.chip.arrays, arrays):
            a.counters = counts
        for name, mm in hw.matrices.items():
            mm.counters = matrices[name]


class HardwareAwareTrainer(SoftwareTrainer):
    """Software training with the hardware's weight noise injected in the forward pass.

    Each forward pass multiplies by ``W + N(0, sigma_w)`` with ``sigma_w`` the
    weight noise of one-shot programming (``sqrt(2) sigma / k``, or what
    ``weight_noise`` says), drawn afresh for every batch; gradients flow
    through as if the noise were a constant (straight-through). Then the
    weights are programmed ex situ. Weights live in software, as for
    :class:`~lstm.train.SoftwareTrainer`.
    """

    def __init__(self, network: Network, weight_noise: float, seed=0):
        super().__init__(network)
        check_range("weight_noise", weight_noise, 0.0)
        self.weight_noise = weight_noise
        self.rng = make_generator(seed)

    def identity(self) -> dict:
        return {**super().identity(), "trainer": "hardware_aware", "weight_noise": self.weight_noise}

    def state(self) -> Dict[str, np.ndarray]:
        """The parameters and the state of the noise generator."""
        return {**super().state(), "noise_rng": np.array(json.dumps(self.rng.bit_generator.state))}

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        if "noise_rng" not in state:
            raise ValueError(f"{source}: no noise generator in it (not saved by a hardware-aware run)")
        try:
            rng_state = json.loads(str(state["noise_rng"]))
            generator = np.random.Generator(type(self.rng.bit_generator)())
            generator.bit_generator.state = rng_state
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as error:
            raise ValueError(f"{source}: the noise generator's state cannot be read ({error})") from None
        super().load_state({k: v for k, v in state.items() if k != "noise_rng"}, source)
        self.rng = generator

    def gradients(self, batch: Dataset):
        net = self.network
        noisy = {name: net.params[name] + self.weight_noise * self.rng.standard_normal(net.params[name].shape)
                 * net.masks.get(name, 1.0) for name in net.matrix_names()}
        product = lambda name, inputs: inputs @ noisy[name]  # noqa: E731
        return net.gradients(batch.x, batch.y, batch.mask, product=product, weights=noisy)


def programming_weight_noise(config: HardwareConfig) -> float:
    """Weight noise of one-shot programming, ``sqrt(2) * sigma / k`` (dimensionless)."""
    device = config.device_model()
    low, high = device.programmable_range
    sigma = float(device.program_sigma(0.5 * (low + high)))
    return float(np.sqrt(2.0) * sigma / config.encoding.siemens_per_weight)


@dataclass
class Spread:
    """A metric over several simulated chips: every value, its mean and standard deviation."""

    values: List[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values))

    def __str__(self) -> str:
        return f"{self.mean:.4g} +- {self.std:.2g} over {len(self.values)} chips"


def evaluate_over_chips(network: Network, config: HardwareConfig, seeds: Sequence[int], metric,
                        method: str = "one_shot", **options) -> Spread:
    """Program the network ex situ on one simulated chip per seed and evaluate each.

    Parameters
    ----------
    metric : callable
        ``metric(hardware_network) -> float``, e.g. a test accuracy.
    method, options
        Programming method and its options (``tolerance``...).
    """
    values = []
    for seed in seeds:
        hw = HardwareNetwork(network, config, seed=seed)
        hw.program(method=method, **options)
        values.append(float(metric(hw)))
    return Spread(values)


def evaluate_over_time(hw: HardwareNetwork, seconds: Sequence[float], metric) -> List[float]:
    """The metric after each time since programming (seconds, increasing): drift at work.

    The chip's clock is advanced to each time in turn; its devices drift by the
    device model's ``G(t) = G0 (t / t0)^-nu``.
    """
    values, now = [], 0.0
    for t in seconds:
        if t < now:
            raise ValueError(f"seconds must increase; {t} after {now}")
        hw.let_time_pass(t - now)
        now = t
        values.append(float(metric(hw)))
    return values
