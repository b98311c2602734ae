"""The network on simulated crossbars: ex-situ, hardware-aware and in-situ (Li et al. 2019).

Every matrix product of every layer goes through ``mapping.MappedMatrix``;
activations and elementwise products stay digital. The same
:class:`lstm.network.Network` object runs on both backends: software
(``network.predict(x)``) and hardware (``HardwareNetwork.predict(x)``), so every
hardware number has its software twin.

A layer's matrix (rows ``[x; h; 1]``) is placed as weights for ``[x; h]`` and
bias rows for the ``1``; without biases, no bias rows. The column ADCs of a
matrix cover ``+-adc.range`` in units of its outputs (gate pre-activations:
sigmoid and tanh are saturated beyond about 4, so little is lost by clipping
there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

import crossbar
from crossbar.array.crossbar_array import estimated_array_bytes
from crossbar.files import load_arrays, save_arrays
from crossbar.validation import (CHECKED_BYTES, as_float_array, check_memory, check_range, config_from_dict,
                                 config_to_dict, make_generator)
from mapping import Chip, ChipSpec, MappedMatrix
from mapping.chip import named

from lstm import parallel
from lstm.cells import get_cell
from lstm.kernels import hardware_lstm_forward
from lstm.network import Network, NetworkConfig
from lstm.train import Dataset, SoftwareTrainer
from lstm.updates import UpdateSpec, make_algorithm

CHIP_FORMAT = "xbar-chip/1"

CALIBRATION_PERCENTILE = 99.9
"""Percentile of ``|I|`` over sample inputs that an ADC calibrated by :meth:`HardwareNetwork.calibrate_adcs`
reaches (rarer currents saturate)."""
"""Format of :meth:`HardwareNetwork.save` files."""


def place_network(chip: Chip, network: NetworkConfig, config: ChipSpec) -> Dict[str, MappedMatrix]:
    """Place every matrix of a network of this shape on ``chip`` (corners from ``config``, else first fit).

    Only the shapes matter: no weights are needed, so ``xbar map`` lays out networks of any size.
    A layer's rows ``[x; h; 1]`` become weight rows for ``[x; h]`` and bias rows for the ``1``.
    """
    cell = get_cell(network.cell)
    mapping = config.mapping
    matrices = {}
    for name, (rows, cols) in network.matrix_shapes().items():
        groups = None
        if name.startswith("layer"):
            hidden = network.hidden[int(name[5:].split(".")[0])]
            groups = [(g, hidden) for g in cell.gate_names]
        matrices[name] = mapping.place(chip, name.replace(".W", ""), rows - 1, cols, bias=network.bias,
                                       column_groups=groups, corner_of=name)
    return matrices


def estimated_arrays(network: NetworkConfig, config: ChipSpec) -> float:
    """Arrays a network of this shape takes, estimated before placing it: two devices a weight (a pair),
    times the slices of a sliced design, over the devices of an array (bias rows and half-filled arrays
    not counted: a lower bound)."""
    weights = sum(float(rows) * float(cols) for rows, cols in network.matrix_shapes().values())
    slicing = config.mapping.weights()
    slices = slicing.n_slices if slicing is not None else 1
    return 2.0 * slices * weights / (float(config.array.rows) * float(config.array.cols))


LAYOUT_BYTES_PER_ARRAY = 24e3
"""Bytes an array costs a placement of shapes only (its blocks, the layout, its figure and table): 19 kB
measured by ``xbar map`` of 8 814 arrays of 128 x 64 devices."""


def check_chip_memory(network: NetworkConfig, config: ChipSpec) -> None:
    """Refuse a chip whose arrays (:func:`estimated_arrays`, each
    :func:`crossbar.array.crossbar_array.estimated_array_bytes`)
    would not fit the memory available, before anything is placed: one line with the size, the estimate
    and the memory."""
    arrays = estimated_arrays(network, config)
    per_array = estimated_array_bytes(config.array.rows, config.array.cols, config.device_model())
    needed = arrays * (per_array + LAYOUT_BYTES_PER_ARRAY)
    if needed > CHECKED_BYTES:
        check_memory(f"a chip for hidden={list(network.hidden)} (about {arrays:,.0f} arrays of "
                     f"{config.array.rows} x {config.array.cols} devices)", needed)


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
    config : mapping.ChipSpec
        The chip's description (an experiment's: :meth:`xbar.experiment.Experiment.chip_spec`).
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

    def __init__(self, network: Network, config: ChipSpec = ChipSpec(), seed=0,
                 compiled: bool = True, threads: Optional[int] = None):
        if not isinstance(network, Network):
            raise ValueError(f"network={network!r} is not allowed; an lstm.Network is required")
        self.network = network
        self.config = config
        self.compiled = bool(compiled)
        self.threads = parallel.default_threads() if threads is None else parallel.check_threads(threads)
        check_chip_memory(network.config, config)
        self.chip = config.build(seed)
        self.matrices: Dict[str, MappedMatrix] = place_network(self.chip, network.config, config)
        self.auxiliary: Dict[str, MappedMatrix] = {}  # arrays of an update algorithm's own (fast arrays)
        self._read_back: Optional[Dict[str, np.ndarray]] = None
        self._calibration: Optional[Dict[str, np.ndarray]] = None  # each matrix's sample inputs

    # ------------------------------------------------------------ weights
    def split_bias(self, w: np.ndarray):
        """A network-shaped matrix (rows ``[x; h; 1]``) as (weights, bias), bias None without one."""
        return (w[:-1], w[-1]) if self.network.config.bias else (w[:-1], None)

    def place_auxiliary(self, name: str, n_rows: int, n_cols: int) -> MappedMatrix:
        """Place a matrix of an update algorithm's own (a fast array) on the chip, without bias rows, started
        at weights zero (:meth:`mapping.MappedMatrix.initialize`) with its ADC's full scale set by the
        mapping's rule (``adc.range_by``; calibration does not reach it: its range is the outputs'). Its
        reads and pulses count in :meth:`counters`; :meth:`state` and :meth:`save` hold it, and :meth:`load`
        places it again."""
        if name in self.matrices or name in self.auxiliary:
            raise ValueError(f"a matrix named {name!r} is already on the chip")
        try:
            mm = self.config.mapping.place(self.chip, name, n_rows, n_cols, bias=False, column_groups=None,
                                           corner_of=name)
        except ValueError as error:
            raise ValueError(f"{error} (an update algorithm's fast arrays need room beside the network's: "
                             "raise array.count, or leave it out for as many arrays as needed)") from None
        mm.initialize()
        if self.chip.adc_bits is not None:
            mm.set_adc_full_scale(self.config.mapping.adc_full_scale(mm))
        self.auxiliary[name] = mm
        return mm

    def all_matrices(self) -> Dict[str, MappedMatrix]:
        """The network's matrices, then the auxiliary ones (:meth:`place_auxiliary`)."""
        return {**self.matrices, **self.auxiliary}

    def program(self, method: str = "one_shot", **options) -> Dict[str, object]:
        """Ex-situ: write the network's present weights into the arrays."""
        reports = {}
        for name, mm in self.matrices.items():
            reports[name] = mm.program(*self.split_bias(self.network.params[name]), method=method, **options)
        self._set_adcs()
        self._read_back = None
        return reports

    def _set_adcs(self) -> None:
        """ADC full scale of each matrix, once its scale is known, as ``adc.range_by`` says
        (:meth:`mapping.MappedMatrix.adc_full_scale_by`)."""
        if self.chip.adc_bits is None:
            return
        mapping = self.config.mapping
        for name, mm in self.matrices.items():
            if mapping.adc_range_by != "calibration" or self._calibration is None:  # (no samples yet: the
                mm.set_adc_full_scale(mapping.adc_full_scale(mm))                    # outputs' range meanwhile)
            else:
                mm.calibrate_adc(self._calibration[name], percentile=CALIBRATION_PERCENTILE)

    def calibrate_adcs(self, x, mask=None) -> Dict[str, float]:
        """Set every matrix's ADC full scale from the currents that sample sequences give
        (``adc.range_by="calibration"``): the :data:`CALIBRATION_PERCENTILE` of ``|I|`` over the inputs each
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
        if self.config.mapping.adc_range_by != "calibration":
            raise ValueError(f"adc.range_by={self.config.mapping.adc_range_by!r}: calibrate_adcs needs "
                             "adc.range_by='calibration'")
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

    def record_drift_reference(self) -> None:
        """Take every matrix's drift reference read now, just after the last write
        (:meth:`mapping.MappedMatrix.record_drift_reference`); :meth:`compensate_drift` compares with it."""
        for mm in self.matrices.values():
            mm.record_drift_reference()

    def compensate_drift(self, mode: str) -> None:
        """Read every matrix's reference again and rescale its outputs digitally after the ADC,
        ``reference / now``, one gain a matrix (``"global"``) or one an output column (``"column"``);
        ``"none"`` changes nothing (:meth:`mapping.MappedMatrix.compensate_drift`)."""
        for mm in self.matrices.values():
            mm.compensate_drift(mode)

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
        if not (self.compiled and self.network.cell.name == "lstm") or plan.varies_between_reads or not plan.compiled:
            return None  # step by step: the devices move between the steps' reads (drift, 1/f noise on the clock),
            #              or a registered cell or ADC has no compiled kernel
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

    def gradients(self, x, y, mask=None, weights: Optional[Dict[str, np.ndarray]] = None,
                  factors: Optional[Dict[str, tuple]] = None):
        """Loss and gradients with the forward pass on the hardware (see ``Network.gradients``)."""
        return self.network.gradients(x, y, mask, product=self.product, weights=weights, layer=self.layer,
                                      factors=factors)

    # ------------------------------------------------------------ snapshot
    def state(self) -> Dict[str, np.ndarray]:
        """The chip's state (:meth:`mapping.Chip.state`), each matrix's scale, ADC and counters, and the
        weights last read back, as named arrays (no objects)."""
        out = {f"chip.{k}": v for k, v in self.chip.state().items()}
        out["matrices"] = np.array(json.dumps({name: mm.state() for name, mm in self.matrices.items()}))
        if self.auxiliary:
            out["auxiliary"] = np.array(json.dumps({name: mm.state() for name, mm in self.auxiliary.items()}))
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
        try:
            auxiliary = json.loads(str(state["auxiliary"])) if "auxiliary" in state else {}
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}: the auxiliary matrices' state cannot be read ({error})") from None
        if not isinstance(auxiliary, dict) or sorted(auxiliary) != sorted(self.auxiliary):
            saved = sorted(auxiliary) if isinstance(auxiliary, dict) else auxiliary
            raise ValueError(f"{source}: auxiliary matrices {saved} saved; this chip has {sorted(self.auxiliary)} "
                             "(an update algorithm's fast arrays)")
        self.chip.load_state({k[len("chip."):]: v for k, v in state.items() if k.startswith("chip.")}, source)
        for name, mm in self.all_matrices().items():
            mm.load_state({**matrices, **auxiliary}[name], f"{source}: matrix {name}")
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
        if self.auxiliary:
            meta["auxiliary"] = {name: [mm.n_in, mm.n_out] for name, mm in self.auxiliary.items()}
        save_arrays(path, meta, arrays)

    @classmethod
    def load(cls, path: str, compiled: bool = True, threads: Optional[int] = None) -> "HardwareNetwork":
        """A network saved by :meth:`save`; ``ValueError`` naming the file for a damaged, foreign or unknown one.

        ``compiled`` and ``threads`` are how to run it here (they change no number).
        """
        meta, arrays = load_arrays(path, CHIP_FORMAT, path, "a saved chip")
        try:
            config = ChipSpec.from_dict(meta["config"], f"{path}: config")
            net_config = config_from_dict(NetworkConfig, meta["network"], f"{path}: network")
            network = Network(net_config, seed=0)
            network.set_params(SoftwareTrainer(network).check_state(
                {k: v for k, v in arrays.items() if k.startswith("param:")}, path))
            hw = cls(network, config, seed=0, compiled=compiled, threads=threads)
            auxiliary = meta.get("auxiliary", {})
            if not (isinstance(auxiliary, dict)
                    and all(isinstance(s, list) and len(s) == 2 for s in auxiliary.values())):
                raise ValueError(f"auxiliary={auxiliary!r} in its record; {{name: [rows, cols]}} expected")
            for name, (rows, cols) in auxiliary.items():
                hw.place_auxiliary(name, rows, cols)
            hw.load_state({k[len("hardware:"):]: v for k, v in arrays.items() if k.startswith("hardware:")}, path)
        except KeyError as error:
            raise ValueError(f"{path}: no {error} in its record; damaged") from None
        except ValueError as error:
            raise named(path, error) from None
        return hw

    def counters(self) -> crossbar.OperationCounts:
        """All work done through the matrices so far: the arrays' and the column ADCs' (a matrix's own)."""
        total = crossbar.OperationCounts()
        for mm in self.all_matrices().values():
            total.accumulate(mm.counters)
        return total

    def energy(self) -> float:
        """Energy of all work on the chip so far (cells, DACs, ADCs, pulses), joules."""
        return self.counters().energy(self.chip.costs)


UPDATE_STREAM = 0x7570
"""Key of the update algorithm's random stream (its choppers) beside the run's seed."""


class InSituTrainer:
    """In-situ training, one batch at a time (Li et al.'s, and the update algorithms of :mod:`lstm.updates`).

    Forward pass on the arrays with the activations recorded; backward pass in
    software from those activations and the weights read back after the last
    update; the change written onto the devices by the update algorithm
    (``sgd``: at once with the device's scheme, li2019: RESET/SET with gate
    voltages); read back. Digital parameters (peepholes) are updated in
    software.

    Parameters
    ----------
    hardware : HardwareNetwork
    update : lstm.updates.UpdateSpec
        The update algorithm and its settings (default ``sgd``).
    seed : int
        Seed of the algorithm's own draws (choppers), beside the chip's.
    """

    def __init__(self, hardware: HardwareNetwork, update: Optional[UpdateSpec] = None, seed: int = 0):
        self.hardware = hardware
        self.network = hardware.network
        self.update = UpdateSpec() if update is None else update
        if not isinstance(self.update, UpdateSpec):
            raise ValueError(f"update={update!r} is not allowed; an lstm.updates.UpdateSpec is required")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), UPDATE_STREAM]))
        self.algorithm = make_algorithm(self.update, hardware, rng)

    def gradients(self, batch: Dataset):
        hw = self.hardware
        weights = hw._read_back if hw._read_back is not None else hw.read_weights()
        if not self.algorithm.needs_factors:
            return hw.gradients(batch.x, batch.y, batch.mask, weights=weights)
        factors = {}  # (the rank-one factors of the batch's gradients, for stochastic pulse trains)
        value, grads = hw.gradients(batch.x, batch.y, batch.mask, weights=weights, factors=factors)
        self.algorithm.take_factors({name: f for name, f in factors.items() if name in hw.matrices}, grads)
        return value, grads

    def apply(self, delta: Dict[str, np.ndarray]) -> None:
        hw = self.hardware
        self.algorithm.apply({name: d for name, d in delta.items() if name in hw.matrices})
        for name, d in delta.items():
            if name not in hw.matrices:
                self.network.params[name] += d
        # the software twin follows what the hardware holds (structural zeros stay zero)
        for name, w in hw.read_weights().items():
            self.network.params[name] = w * self.network.masks.get(name, 1.0)

    def identity(self) -> dict:
        """What a checkpoint of this trainer must match: the kind, the parameters and the chip."""
        hw = self.hardware
        out = {**SoftwareTrainer(self.network).identity(), "trainer": "in_situ",
               "chip": {"device": hw.chip.device.name, "arrays": len(hw.chip.arrays),
                        "array_shape": [hw.chip.array_rows, hw.chip.array_cols]}}
        if self.update != UpdateSpec():  # (sgd's checkpoints keep the identity they always had)
            out["update"] = config_to_dict(self.update)
        return out

    def state(self) -> Dict[str, np.ndarray]:
        """The software twin's parameters and the whole chip (:meth:`HardwareNetwork.state`)."""
        out = SoftwareTrainer(self.network).state()
        out.update({f"hardware:{k}": v for k, v in self.hardware.state().items()})
        out.update({f"update:{k}": v for k, v in self.algorithm.state().items()})
        out.update({f"update:pulse_trains.{k}": v for k, v in self.algorithm.pulse_train_state().items()})
        return out

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Take a :meth:`state`: the chip continues exactly where it was (conductances, clocks,
        generators, counters)."""
        hardware = {k[len("hardware:"):]: v for k, v in state.items() if k.startswith("hardware:")}
        if not hardware:
            raise ValueError(f"{source}: no chip in it (not saved by an in-situ run)")
        update = {k[len("update:"):]: v for k, v in state.items() if k.startswith("update:")}
        params = {k: v for k, v in state.items() if not k.startswith(("hardware:", "update:"))}
        SoftwareTrainer(self.network).check_state(params, source)
        self.hardware.load_state(hardware, source)
        trains = {k[len("pulse_trains."):]: update.pop(k) for k in list(update) if k.startswith("pulse_trains.")}
        self.algorithm.load_state(update, source)
        self.algorithm.load_pulse_train_state(trains, source)
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
        matrices = {name: mm.counters for name, mm in hw.all_matrices().items()}
        self.load_state(state, source)
        for a, counts in zip(hw.chip.arrays, arrays):
            a.counters = counts
        for name, mm in hw.all_matrices().items():
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


def programming_weight_noise(config: ChipSpec) -> float:
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


def evaluate_over_chips(network: Network, config: ChipSpec, seeds: Sequence[int], metric,
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


def evaluate_over_time(hw: HardwareNetwork, seconds: Sequence[float], metric,
                       compensation: str = "none") -> List[float]:
    """The metric after each time since programming (seconds, increasing): drift at work.

    The chip's clock is advanced to each time in turn; its devices drift by the
    device model's ``G(t) = G0 (t / t0)^-nu``. ``compensation`` (``"none"``,
    ``"global"``, ``"column"``): a drift reference read is taken first and the
    outputs rescaled after each time (:meth:`HardwareNetwork.compensate_drift`).
    """
    if compensation != "none":
        hw.record_drift_reference()
    values, now = [], 0.0
    for t in seconds:
        if t < now:
            raise ValueError(f"seconds must increase; {t} after {now}")
        hw.let_time_pass(t - now)
        hw.compensate_drift(compensation)
        now = t
        values.append(float(metric(hw)))
    return values
