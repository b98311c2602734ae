"""Fingerprints of the simulator's numbers: proof that a change keeps every number bit for bit.

Runs a broad, fast set of configurations (1 to 3 epochs, small arrays) through
the public entry points only and records, for each, what a reader could see:

- training and testing through :func:`xbar.runner.run` and :func:`xbar.runner.train`
  (Li et al.'s airline and vowels in situ; vowels in software, ex situ one-shot,
  ex situ write-and-verify and hardware-aware): metrics and per-epoch losses
  (``repr`` of the floats, full precision), energy, every operation counter,
  and the SHA-256 of the test outputs' bytes, of the trained parameters and of
  every array's conductances;
- variations of the hardware description through
  :meth:`xbar.experiment.Experiment.with_values` (ADC kinds and ranging, DAC
  bit-serial inputs, slicing, periphery presets, read schemes, device read
  schemes, bending cells, wires, 1/f and telegraph noise, drift, relaxation,
  time before the test, every device preset, ...);
- a saved chip (:meth:`lstm.hardware.HardwareNetwork.save`, ``load``): its test
  outputs after the reload, which must equal the run's;
- one ``xbar sweep`` point (in-process, ``--workers 1``): its record;
- the physical layer directly: :class:`crossbar.CrossbarArray` programmed one-shot and
  with write-and-verify, ``mvm``, ``apply_pulses``, ``read_conductance``, and
  :func:`crossbar.solve_passive` on a small array.

Usage::

    python benchmarks/fingerprints.py --out before.json     # on the old commit
    python benchmarks/fingerprints.py --out after.json      # on the new one
    python benchmarks/fingerprints.py --compare before.json after.json

``--compare`` prints every key whose value differs, or that is in one file only
(key, before, after), and exits 1 if there is any, 0 if the fingerprints are
identical. The ``meta`` part (commit, versions, seconds) is shown but never
counts as a difference. A configuration whose names (a dotted parameter, a
preset, a choice) are not known to the code being fingerprinted is skipped
with a note and listed under ``configurations.skipped``; one that raises is
recorded as an ``error`` fingerprint (so that ``--compare`` shows it).

``--chips DIR`` keeps the saved chips in DIR; ``--chips-from DIR`` reloads the
chips saved there (by an older version) instead of the ones just saved, so the
same keys prove that old chips still load and give the same outputs.

Only public names are used (no leading underscore), imported below in one
place, so that a redesign that moves modules changes at most these imports.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- imports (the only place to edit)
import argparse
import contextlib
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback

os.environ.setdefault("MPLBACKEND", "Agg")  # runner.run writes figures: headless

import crossbar  # first: its thread settings precede numpy's BLAS
import numpy as np

from crossbar import (ADC, ADCCircuit, DAC, CrossbarArray, Peripherals, SinhCell, WireResistance, preset, preset_names,
                      solve_passive)
from lstm.hardware import HardwareNetwork
from xbar import runner
from xbar.cli import main as xbar_main
from xbar.experiment import Experiment, li2019, parameters

# --------------------------------------------------------------------------- settings
EPOCHS = 2
"""Training epochs of every network run (short: fingerprints, not results)."""
COUNTER_NAMES = ("products", "input_vectors", "dac_conversions", "adc_conversions", "adc_saturations",
                 "device_reads", "programming_pulses", "row_pulse_steps", "cell_energy")
"""The operation counters fingerprinted (those of crossbar.OperationCounts today)."""
EX_SITU = ("ex_situ_one_shot", "ex_situ_write_verify")
FORMAT = "xbar-fingerprints/1"


# --------------------------------------------------------------------------- values as text
def number(value):
    """A number as JSON keeps it exactly: ints and bools as they are, floats as ``repr`` (full precision)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if value is None or isinstance(value, str):
        return value
    return repr(float(value))


def digest(*arrays) -> str:
    """``dtype shape ... sha256`` of arrays' bytes (C order), so a change of dtype or shape shows too."""
    h = hashlib.sha256()
    described = []
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        described.append(f"{a.dtype.str}{list(a.shape)}")
        h.update(a.dtype.str.encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return f"{' '.join(described)} sha256:{h.hexdigest()}"


def params_digest(params: dict) -> str:
    """One digest of a network's named parameters (sorted by name)."""
    names = sorted(params)
    return f"{','.join(names)} {digest(*[params[n] for n in names])}"


def file_digest(path: str) -> str:
    with open(path, "rb") as f:
        return "sha256:" + hashlib.sha256(f.read()).hexdigest()


# --------------------------------------------------------------------------- the record
class Fingerprints:
    """What a run of this script gathers: fingerprints by key, the configurations covered and skipped."""

    def __init__(self):
        self.values = {}
        self.covered = []
        self.skipped = {}
        self.errors = {}

    def put(self, key: str, value) -> None:
        if key in self.values:
            raise KeyError(f"fingerprint {key!r} twice")
        self.values[key] = value

    def section(self, name: str, work, *args) -> None:
        """Run ``work(prefix, *args)``; a missing name skips it, any other error is recorded under the name."""
        began = time.perf_counter()
        try:
            work(name, *args)
        except Unavailable as why:
            self.skipped[name] = str(why)
            print(f"  skipped {name}: {why}", file=sys.stderr, flush=True)
            return
        except Exception as error:  # recorded, so that --compare shows it; the other configurations go on
            text = f"{type(error).__name__}: {error}"
            self.errors[name] = text
            self.put(f"{name}/error", text)
            print(f"  ERROR {name}: {text}\n{traceback.format_exc(limit=4)}", file=sys.stderr, flush=True)
            return
        self.covered.append(name)
        print(f"  {name}: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)


class Unavailable(Exception):
    """A configuration's names are not known to this version of the code: skipped with a note."""


FP = Fingerprints()


# --------------------------------------------------------------------------- experiments
def check_names(exp: Experiment, values: dict) -> None:
    """:class:`Unavailable` unless every dotted name is a parameter of ``exp`` and every choice allowed."""
    known = {p.name: p for p in parameters(exp)}
    for name, value in values.items():
        if name not in known:
            raise Unavailable(f"parameter {name!r} is not known (xbar.experiment.parameters)")
        choices = known[name].choices
        if choices and value not in choices:
            raise Unavailable(f"{name}={value!r} is not one of {list(choices)}")


def vowels(way: str, **changes) -> Experiment:
    """Li et al.'s vowels experiment, :data:`EPOCHS` epochs, a way, and dotted names set (checked first)."""
    exp = li2019("vowels", epochs=EPOCHS, way=way)
    return with_values(exp, changes)


def with_values(exp: Experiment, changes: dict) -> Experiment:
    changes = {k.replace("__", "."): v for k, v in changes.items()}
    if "hardware.preset" in changes:  # the device's names depend on the preset: set it first
        check_names(exp, {"hardware.preset": changes["hardware.preset"]})
        exp = exp.with_values({"hardware.preset": changes.pop("hardware.preset")})
    check_names(exp, changes)
    return exp.with_values(changes) if changes else exp


def first_fit(exp: Experiment) -> Experiment:
    """The experiment placed first-fit on as many arrays as it needs (what slicing and peripheries need)."""
    data = exp.to_dict()
    data["hardware"]["placement"] = "first_fit"
    data.get("array", {}).pop("count", None)
    return Experiment.from_dict(data, "fingerprints")


def counters_of(hw) -> dict:
    counts = hw.counters()
    return {name: number(getattr(counts, name)) for name in COUNTER_NAMES}


def put_run(prefix: str, result, problem, hardware: bool) -> None:
    """The fingerprints of one :class:`xbar.runner.TrainResult`."""
    FP.put(f"{prefix}/metric", number(result.metric))
    FP.put(f"{prefix}/history/loss", [number(v) for v in result.history.loss])
    FP.put(f"{prefix}/history/metric", [number(v) for v in result.history.metric])
    FP.put(f"{prefix}/test_outputs", digest(result.outputs))
    FP.put(f"{prefix}/params", params_digest(result.network.get_params()))
    hw = result.hardware
    if hardware and hw is not None:
        FP.put(f"{prefix}/energy_J", number(hw.energy()))
        for name, value in counters_of(hw).items():
            FP.put(f"{prefix}/counters/{name}", value)
        arrays = hw.chip.conductances()
        FP.put(f"{prefix}/arrays", len(arrays))
        FP.put(f"{prefix}/conductances", digest(*arrays))
        for k, g in enumerate(arrays[:8]):
            FP.put(f"{prefix}/conductances/array{k}", digest(g))


def train_both(prefix: str, exp: Experiment, save_chip=None):
    """What :func:`xbar.runner.run` does, through :func:`xbar.runner.train`: the software twin (tracked),
    then the experiment's way (ex situ programmed from the twin's weights)."""
    problem = runner.problem_of(exp)
    way = exp.hardware.way
    sw = runner.train(exp, problem, None, track=True)
    put_run(f"{prefix}/software", sw, problem, hardware=False)
    if way == "software":
        return problem, sw, None
    hw = runner.train(exp, problem, way, trained=sw.network, track=way not in EX_SITU, save_chip=save_chip)
    put_run(f"{prefix}/hardware", hw, problem, hardware=True)
    return problem, sw, hw


def config(prefix: str, exp_factory) -> None:
    """One configuration: the experiment (its identity too) trained both ways."""
    exp = exp_factory()
    FP.put(f"{prefix}/experiment", "sha256:" + hashlib.sha256(
        json.dumps(exp.to_dict(), sort_keys=True).encode()).hexdigest())
    train_both(prefix, exp)


def put_result(prefix: str, result: dict) -> None:
    """:func:`xbar.runner.run`'s result, less its seconds and file names."""
    for key, value in sorted(result.items()):
        if key in ("seconds", "files"):
            continue
        if key == "experiment":
            FP.put(f"{prefix}/experiment", "sha256:" + hashlib.sha256(
                json.dumps(value, sort_keys=True).encode()).hexdigest())
        elif isinstance(value, dict):
            for k, v in sorted(value.items()):
                if isinstance(v, (dict, list)):  # resolved settings, what each training did
                    FP.put(f"{prefix}/{key}/{k}", "sha256:" + hashlib.sha256(
                        json.dumps(v, sort_keys=True, default=repr).encode()).hexdigest())
                else:
                    FP.put(f"{prefix}/{key}/{k}", number(v))
        else:
            FP.put(f"{prefix}/{key}", value if isinstance(value, str) else number(value))


def headline(prefix: str, task: str, chips: str, chips_from) -> None:
    """``runner.run`` of Li et al.'s experiment in situ (result and data files), ``runner.train`` of the
    same (outputs, conductances), and the chip saved at the test, reloaded: its outputs must be the run's."""
    exp = li2019(task, epochs=EPOCHS)
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        result = runner.run(exp, out=out, progress=False, save_chip=True)
        files = {}
        for name in sorted(os.listdir(out)):
            if name.endswith(".csv"):
                files[name] = file_digest(os.path.join(out, name))
        with np.load(os.path.join(out, "conductances.npz")) as z:
            conductances = digest(*[z[k] for k in sorted(z.files, key=lambda s: int(s[5:]))])
    put_result(f"{prefix}/run", result)
    for name, d in files.items():
        FP.put(f"{prefix}/run/files/{name}", d)
    FP.put(f"{prefix}/run/files/conductances.npz", conductances)

    chip = os.path.join(chips, f"{task}_in_situ.npz")
    problem, sw, hw = train_both(f"{prefix}/train", exp, save_chip=chip)
    source = chip if chips_from is None else os.path.join(chips_from, f"{task}_in_situ.npz")
    loaded = HardwareNetwork.load(source)
    outputs = loaded.predict(problem.test_x, problem.test_mask)
    FP.put(f"saved_chip/{task}_in_situ/reloaded_test_outputs", digest(outputs))
    FP.put(f"saved_chip/{task}_in_situ/reloaded_equals_run", bool(np.array_equal(outputs, hw.outputs)))
    FP.put(f"saved_chip/{task}_in_situ/reloaded_metric", number(problem.score(outputs)))
    FP.put(f"saved_chip/{task}_in_situ/reloaded_conductances", digest(*loaded.chip.conductances()))


def sweep_point(prefix: str) -> None:
    """One ``xbar sweep`` point, in this process: its record's status, key, parameters and metrics."""
    exp = li2019("vowels", epochs=EPOCHS, way="ex_situ_one_shot")
    check_names(exp, {"adc.bits": 6})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sweep.jsonl")
        argv = ["sweep", "--task", "vowels", "--way", "ex_situ_one_shot", "--epochs", str(EPOCHS),
                "--vary", "adc.bits=6", "--seeds", "1", "--workers", "1", "--out", path, "--quiet"]
        with contextlib.redirect_stdout(io.StringIO()):
            code = xbar_main(argv)
        FP.put(f"{prefix}/exit_code", code)
        with open(path) as f:
            records = [json.loads(line) for line in f if line.strip()]
    records = [r for r in records if "status" in r]  # the results, not the file's header
    FP.put(f"{prefix}/records", len(records))
    for r in records:
        FP.put(f"{prefix}/status", r["status"])
        FP.put(f"{prefix}/key", r["key"])
        FP.put(f"{prefix}/params", json.dumps(r["params"], sort_keys=True))
        FP.put(f"{prefix}/seed", r["seed"])
        FP.put(f"{prefix}/experiment", "sha256:" + hashlib.sha256(
            json.dumps(r["experiment"], sort_keys=True).encode()).hexdigest())
        for k, v in sorted(r.get("metrics", {}).items()):
            FP.put(f"{prefix}/metrics/{k}", number(v))
        for k, v in sorted(r.get("resolved", {}).items()):
            FP.put(f"{prefix}/resolved/{k}", v if isinstance(v, str) else number(v))


# --------------------------------------------------------------------------- the physical layer
X_ROWS, X_COLS = 16, 8


def inputs(batch: int = 5, rows: int = X_ROWS, v_max: float = 0.2) -> np.ndarray:
    """A fixed input: a smooth, signed pattern within +-v_max (no random numbers)."""
    i = np.arange(batch)[:, None]
    j = np.arange(rows)[None, :]
    return v_max * np.sin(0.7 * i + 1.3 * j + 0.1)


def targets(device, rows: int = X_ROWS, cols: int = X_COLS) -> np.ndarray:
    low, high = device.programmable_range
    return low + (high - low) * (np.arange(rows * cols).reshape(rows, cols) % 23) / 22.0


def pulses(rows: int = X_ROWS, cols: int = X_COLS) -> np.ndarray:
    return ((np.arange(rows * cols).reshape(rows, cols) * 7) % 11 - 5).astype(np.int64)


def put_report(prefix: str, report) -> None:
    for name in ("method", "rounds", "pulses", "device_reads", "residual_rms", "within_tolerance", "tolerance",
                 "n_stuck", "n_failed"):
        value = getattr(report, name)
        FP.put(f"{prefix}/{name}", value if isinstance(value, str) else number(value))


def array_physics(prefix: str, name: str, method: str, peripherals_factory=None, later_seconds: float = 0.0) -> None:
    """A 16 x 8 array of a preset: programmed, read (mvm, compiled and twin), pulsed, read device by device."""
    if name not in preset_names():
        raise Unavailable(f"preset {name!r} is not known (crossbar.preset_names)")
    device = preset(name)
    peripherals = peripherals_factory() if peripherals_factory is not None else Peripherals(
        dac=DAC(8, 0.2), adc=ADC(8, full_scale=X_ROWS * 0.2 * device.g_max / 4))
    array = CrossbarArray(X_ROWS, X_COLS, device, seed=7, peripherals=peripherals)
    FP.put(f"{prefix}/initial", digest(array.conductance))
    tolerance = max(device.program_noise_sigma / 2, 1e-3 * device.g_max) if method == "write_verify" else None
    report = array.program(targets(device), method=method, tolerance=tolerance)
    put_report(f"{prefix}/program", report)
    FP.put(f"{prefix}/programmed", digest(array.conductance))
    v = inputs()
    FP.put(f"{prefix}/mvm", digest(array.mvm(v)))
    FP.put(f"{prefix}/mvm_reference", digest(array.mvm(v, reference=True)))
    if device.two_pulse is None:
        FP.put(f"{prefix}/apply_pulses/applied", number(array.apply_pulses(pulses())))
        FP.put(f"{prefix}/apply_pulses/conductance", digest(array.conductance))
    FP.put(f"{prefix}/read_conductance", digest(array.read_conductance()))
    FP.put(f"{prefix}/read_conductance_region", digest(array.read_conductance(slice(2, 9), slice(1, 5))))
    if later_seconds:
        array.advance_time(later_seconds)
        FP.put(f"{prefix}/after_{later_seconds:g}s/conductance", digest(array.conductance))
        FP.put(f"{prefix}/after_{later_seconds:g}s/mvm", digest(array.mvm(v)))
    for key, value in {n: number(getattr(array.counters, n)) for n in COUNTER_NAMES}.items():
        FP.put(f"{prefix}/counters/{key}", value)
    FP.put(f"{prefix}/energy_J", number(array.energy()))
    FP.put(f"{prefix}/time_s", number(array.time))


def passive_physics(prefix: str) -> None:
    """:func:`crossbar.solve_passive` on an 8 x 6 array: linear cells, bending cells, floating lines."""
    rows, cols = 8, 6
    g = 1e-6 * (5.0 + (np.arange(rows * cols).reshape(rows, cols) * 13) % 90)
    v = inputs(3, rows)
    solutions = {
        "linear": solve_passive(g, v, 1.0, 1.5),
        "linear_no_wires": solve_passive(g, v, 0.0, 0.0),
        "sinh_k5": solve_passive(g, v, 2.0, 2.0, cell=SinhCell(5.0)),
        "sinh_k5_damped": solve_passive(g, v, 2.0, 2.0, cell=SinhCell(5.0), method="damped",
                                        max_iterations=2000),
        "floating": solve_passive(g, v, 1.0, 1.0, floating_word_lines=np.arange(rows) % 3 == 2,
                                  floating_bit_lines=np.arange(cols) % 4 == 3),
        "bit_lines_held": solve_passive(g, v, 1.0, 1.0, bit_line_voltages=np.full(cols, 0.05)),
    }
    for name, s in solutions.items():
        FP.put(f"{prefix}/{name}/output_currents", digest(s.output_currents))
        FP.put(f"{prefix}/{name}/device_currents", digest(s.device_currents))
        FP.put(f"{prefix}/{name}/node_voltages", digest(s.word_line_voltages, s.bit_line_voltages))
    FP.put(f"{prefix}/effective_conductance", digest(crossbar.effective_conductance(g, 1.0, 1.5)))


# --------------------------------------------------------------------------- what is covered
def configurations():
    """``(key, experiment factory)`` of every network configuration beyond the headline runs, group by group."""
    return [*_way_configurations(), *_converter_configurations(), *_slicing_and_periphery_configurations(),
            *_scheme_configurations(), *_wire_noise_and_drift_configurations(), *_device_and_cell_configurations(),
            *_airline_configurations()]


def _way_configurations():
    """``(key, experiment factory)`` of the ways onto hardware, Li et al.'s starting weights and ideal converters."""
    c = []
    # the ways onto hardware
    for way in ("software", "ex_situ_one_shot", "ex_situ_write_verify", "hardware_aware"):
        c.append((f"vowels/{way}", lambda way=way: vowels(way)))
    c.append(("vowels/in_situ/start_li2019", lambda: with_values(li2019("vowels", epochs=EPOCHS, start="li2019"), {})))
    c.append(("vowels/ex_situ_one_shot/ideal_converters", ex_situ_ideal_converters))
    return c


def _converter_configurations():
    """``(key, experiment factory)`` of the ADC's kinds, ranging and circuits, and the DAC's resolutions and
    bit-serial inputs."""
    one_shot = "ex_situ_one_shot"
    c = []
    # ADC kinds, ranging and circuits (docs/sweeps/vowels_adc_*.toml)
    c.append(("vowels/ex_situ_one_shot/adc_uniform_6bit", lambda: vowels(one_shot, adc__kind="uniform", adc__bits=6)))
    c.append(("vowels/ex_situ_one_shot/adc_sar_6bit", lambda: vowels(
        one_shot, adc__kind="sar", adc__bits=6, adc__capacitor_mismatch_sigma=0.02,
        adc__comparator_offset_sigma_lsb=0.5)))
    c.append(("vowels/ex_situ_one_shot/adc_ramp_6bit", lambda: vowels(
        one_shot, adc__kind="ramp", adc__bits=6, adc__comparator_offset_sigma_lsb=0.5)))
    c.append(("vowels/in_situ/adc_sar_6bit", lambda: vowels(
        "in_situ", adc__kind="sar", adc__bits=6, adc__capacitor_mismatch_sigma=0.02,
        adc__comparator_offset_sigma_lsb=0.5)))
    c.append(("vowels/in_situ/adc_ramp_4bit", lambda: vowels(
        "in_situ", adc__kind="ramp", adc__bits=4, adc__comparator_offset_sigma_lsb=0.5)))
    c.append(("vowels/ex_situ_one_shot/adc_sar_muxed_finite_gain", lambda: vowels(
        one_shot, adc__kind="sar", adc__bits=6, adc__columns_per_converter=4, adc__amplifier_gain=1000.0,
        adc__comparator_offset_sigma_lsb=0.3)))
    for by in ("array_max", "cell_step", "calibration"):
        c.append((f"vowels/ex_situ_one_shot/adc_range_by_{by}", lambda by=by: vowels(
            one_shot, adc__range_by=by, adc__bits=6)))
    c.append(("vowels/ex_situ_one_shot/adc_range_by_calibration_sinh_k8", lambda: vowels(
        one_shot, adc__range_by="calibration", adc__bits=6, device__iv_nonlinearity_per_volt=8.0)))
    c.append(("vowels/ex_situ_one_shot/adc_range_3", lambda: vowels(one_shot, adc__range=3.0, adc__bits=5)))
    # DAC
    c.append(("vowels/ex_situ_one_shot/dac_6bit", lambda: vowels(one_shot, dac__bits=6)))
    c.append(("vowels/ex_situ_one_shot/dac_bit_serial", lambda: vowels(one_shot, dac__inputs="bit_serial")))
    c.append(("vowels/ex_situ_one_shot/dac_bit_serial_accumulate", lambda: vowels(
        one_shot, dac__inputs="bit_serial", dac__conversion="accumulate")))
    c.append(("vowels/ex_situ_one_shot/dac_bit_serial_2_bits_per_cycle_sar", lambda: vowels(
        one_shot, dac__inputs="bit_serial", dac__bits_per_cycle=2, adc__kind="sar", adc__bits=6)))
    c.append(("vowels/in_situ/dac_bit_serial", lambda: vowels("in_situ", dac__inputs="bit_serial")))
    return c


def _slicing_and_periphery_configurations():
    """``(key, experiment factory)`` of weight slicing and the periphery presets."""
    one_shot = "ex_situ_one_shot"
    c = []
    # slicing (docs/sweeps/vowels_slicing.toml)
    for bits, enc, adc in ((1, "differential", 8), (2, "differential", 6), (2, "offset", 8), (4, "offset", 6),
                           (4, "differential", 8)):
        c.append((f"vowels/ex_situ_one_shot/slicing_8bit_{bits}_per_slice_{enc}_adc{adc}", lambda b=bits, e=enc, a=adc:
                  with_values(first_fit(vowels(one_shot)), {"slicing.weight_bits": 8, "slicing.bits_per_slice": b,
                                                            "slicing.encoding": e, "adc.bits": a})))
    # periphery presets (docs/sweeps/vowels_periphery.toml)
    for periphery in ("isaac", "prime"):
        for dev in ("li2019", "ideal"):
            c.append((f"vowels/ex_situ_one_shot/periphery_{periphery}/{dev}", lambda p=periphery, d=dev:
                      with_values(first_fit(vowels(one_shot)), {"hardware.periphery": p, "hardware.preset": d})))
    c.append(("vowels/hardware_aware/periphery_isaac", lambda: with_values(
        first_fit(vowels("hardware_aware")), {"hardware.periphery": "isaac"})))
    return c


def _scheme_configurations():
    """``(key, experiment factory)`` of read and write schemes of arrays and devices, and cells whose current
    bends with the voltage."""
    one_shot = "ex_situ_one_shot"
    c = []
    # read schemes (docs/sweeps/vowels_read_schemes.toml)
    for scheme in ("floating", "v_half", "1t1r"):
        c.append((f"vowels/ex_situ_one_shot/read_scheme_{scheme}", lambda s=scheme: vowels(
            one_shot, array__read_scheme=s)))
    for scheme in ("floating", "v_half"):
        c.append((f"vowels/in_situ/read_scheme_{scheme}", lambda s=scheme: vowels("in_situ", array__read_scheme=s)))
    c.append(("vowels/ex_situ_one_shot/read_scheme_floating_wires_1ohm", lambda: vowels(
        one_shot, array__read_scheme="floating", wires__row_segment_ohms=1.0, wires__col_segment_ohms=1.0)))
    # device read schemes (docs/sweeps/vowels_device_reads.toml)
    for scheme in ("grounded", "v_half", "floating"):
        for way in ("in_situ", "ex_situ_write_verify"):
            c.append((f"vowels/{way}/hfo2_soft_bounds/device_read_scheme_{scheme}", lambda s=scheme, w=way: vowels(
                w, hardware__preset="hfo2_soft_bounds", array__device_read_scheme=s)))
    # passive writes with disturb
    for scheme in ("v_half", "v_third"):
        c.append((f"vowels/in_situ/hfo2_soft_bounds/write_scheme_{scheme}", lambda s=scheme: vowels(
            "in_situ", hardware__preset="hfo2_soft_bounds", array__write_scheme=s)))
    # bending cells (docs/sweeps/vowels_nonlinear_cells.toml)
    for k in (5.0, 10.0):
        for drive in ("parallel", "bit_serial"):
            c.append((f"vowels/ex_situ_one_shot/iv_nonlinearity_{k:g}_per_volt/{drive}", lambda k=k, d=drive: vowels(
                one_shot, device__iv_nonlinearity_per_volt=k, dac__inputs=d)))
    c.append(("vowels/in_situ/iv_nonlinearity_10_per_volt", lambda: vowels(
        "in_situ", device__iv_nonlinearity_per_volt=10.0)))
    for scheme in ("1t1r", "v_half"):  # (bending cells behind wires or floating lines are refused)
        c.append((f"vowels/ex_situ_one_shot/iv_nonlinearity_5_per_volt/read_scheme_{scheme}", lambda s=scheme: vowels(
            one_shot, device__iv_nonlinearity_per_volt=5.0, array__read_scheme=s)))
    return c


def _wire_noise_and_drift_configurations():
    """``(key, experiment factory)`` of wire resistance, read noise with memory, drift, and time after programming."""
    one_shot = "ex_situ_one_shot"
    c = []
    # wires
    c.append(("vowels/ex_situ_one_shot/wires_1ohm", lambda: vowels(
        one_shot, wires__row_segment_ohms=1.0, wires__col_segment_ohms=1.0)))
    c.append(("vowels/ex_situ_write_verify/wires_2ohm_0.5ohm", lambda: vowels(
        "ex_situ_write_verify", wires__row_segment_ohms=2.0, wires__col_segment_ohms=0.5)))
    c.append(("vowels/in_situ/wires_1ohm", lambda: vowels(
        "in_situ", wires__row_segment_ohms=1.0, wires__col_segment_ohms=1.0)))
    # read noise with memory (docs/sweeps/vowels_read_noise_memory.toml)
    noise = {"array.seconds_per_read": 1e-3, "array.seconds_per_write": 1e-2,
             "device.temporal_noise.telegraph_dwell_min_s": 1e-3, "device.temporal_noise.telegraph_dwell_max_s": 10.0}
    c.append(("vowels/in_situ/flicker_1e-4", lambda: with_values(vowels("in_situ"), {
        **noise, "device.temporal_noise.flicker_density_relative": 1e-4})))
    c.append(("vowels/in_situ/telegraph_2_traps_0.05", lambda: with_values(vowels("in_situ"), {
        **noise, "device.temporal_noise.telegraph_traps": 2,
        "device.temporal_noise.telegraph_amplitude_relative": 0.05})))
    c.append(("vowels/ex_situ_one_shot/flicker_and_telegraph/seconds_before_test_10", lambda: with_values(
        vowels(one_shot), {**noise, "device.temporal_noise.flicker_density_relative": 1e-3,
                           "device.temporal_noise.telegraph_traps": 2,
                           "device.temporal_noise.telegraph_amplitude_relative": 0.05,
                           "hardware.seconds_before_test": 10.0})))
    # drift (docs/sweeps/vowels_drift_in_training.toml)
    c.append(("vowels/in_situ/drift_nu_0.05/seconds_per_write_1", lambda: vowels(
        "in_situ", device__drift_t0=1e-3, device__drift_nu=0.05, array__seconds_per_read=1e-3,
        array__seconds_per_write=1.0)))
    c.append(("vowels/ex_situ_one_shot/drift_nu_0.05_sigma_0.01/seconds_before_test_3600", lambda: vowels(
        one_shot, device__drift_nu=0.05, device__drift_nu_sigma=0.01, hardware__seconds_before_test=3600.0)))
    # time after programming, relaxation (docs/sweeps/vowels_time_after_programming.toml)
    for dev in ("li2019", "hfo2_soft_bounds", "falcone2025_cmo_hfox"):
        for seconds in (1.0, 86400.0):
            c.append((f"vowels/ex_situ_one_shot/{dev}/seconds_before_test_{seconds:g}", lambda d=dev, s=seconds:
                      vowels(one_shot, hardware__preset=d, hardware__seconds_before_test=s)))
    c.append(("vowels/ex_situ_write_verify/falcone2025_cmo_hfox/seconds_before_test_3600", lambda: vowels(
        "ex_situ_write_verify", hardware__preset="falcone2025_cmo_hfox", hardware__seconds_before_test=3600.0)))
    c.append(("vowels/ex_situ_one_shot/hfo2_soft_bounds/relaxation_falcone/seconds_before_test_10", lambda: vowels(
        one_shot, hardware__preset="hfo2_soft_bounds", device__relaxation_model="falcone2025_cmo_hfox",
        hardware__seconds_before_test=10.0)))
    return c


def _device_and_cell_configurations():
    """``(key, experiment factory)`` of every device preset, device details, encodings and cells."""
    one_shot = "ex_situ_one_shot"
    c = []
    # every device preset (docs/sweeps/vowels_measured_devices.toml), in situ and ex situ
    for dev in preset_names():
        for way in ("in_situ", one_shot):
            c.append((f"vowels/{way}/preset_{dev}", lambda d=dev, w=way: vowels(w, hardware__preset=d)))
    # device details
    c.append(("vowels/ex_situ_one_shot/hfo2_soft_bounds/stuck_and_spread", lambda: vowels(
        one_shot, hardware__preset="hfo2_soft_bounds", device__stuck_at_gmin_fraction=0.02,
        device__stuck_at_gmax_fraction=0.01, device__window_spread_sigma_relative=0.05)))
    c.append(("vowels/ex_situ_one_shot/hfo2_soft_bounds/program_noise_milo2021", lambda: vowels(
        one_shot, hardware__preset="hfo2_soft_bounds", device__program_noise_model="milo2021_hfo2")))
    c.append(("vowels/in_situ/program_noise_sigma_2e-6", lambda: vowels("in_situ", device__program_noise_sigma=2e-6)))
    # encodings and cells
    c.append(("vowels/ex_situ_one_shot/encoding_column_pairs_percentile", lambda: with_values(
        first_fit(vowels(one_shot)), {"encoding.scheme": "column_pairs", "encoding.scale": "percentile",
                                      "encoding.percentile": 99.0})))
    for cell in ("peephole", "gru"):
        c.append((f"vowels/in_situ/cell_{cell}", lambda cell=cell: with_values(
            first_fit(vowels("in_situ")), {"network.cell": cell})))
    c.append(("vowels/ex_situ_one_shot/cell_coupled", lambda: with_values(
        first_fit(vowels(one_shot)), {"network.cell": "coupled"})))
    return c


def _airline_configurations():
    """``(key, experiment factory)`` of airline beyond the headline runs."""
    c = []
    # airline beyond the headline
    c.append(("airline/ex_situ_one_shot", lambda: with_values(li2019("airline", epochs=EPOCHS,
                                                                     way="ex_situ_one_shot"), {})))
    c.append(("airline/ex_situ_one_shot/adc_sar_dac_bit_serial", lambda: with_values(
        li2019("airline", epochs=EPOCHS, way="ex_situ_one_shot"), {
            "adc.kind": "sar", "adc.bits": 6, "adc.capacitor_mismatch_sigma": 0.02, "dac.inputs": "bit_serial"})))
    return c

def ex_situ_ideal_converters() -> Experiment:
    """Vowels ex situ with ideal converters (``hardware.ideal_converters``, a section field, not a parameter)."""
    exp = li2019("vowels", epochs=EPOCHS, way="ex_situ_one_shot")
    data = exp.to_dict()
    data["hardware"]["ideal_converters"] = True
    return Experiment.from_dict(data, "fingerprints")


def physics_configurations():
    """``(key, work, args)`` of the physical layer's fingerprints."""
    out = []
    for name in preset_names():
        for method in ("one_shot", "write_verify"):
            out.append((f"physics/array/{name}/{method}", array_physics, (name, method, None, 3600.0)))

    def li(adc_circuit=None, wires=None, bit_serial=False, read_scheme="grounded", device_read_scheme="grounded"):
        g = preset("li2019").g_max
        return lambda: Peripherals(dac=DAC(8, 0.2, bit_serial=bit_serial),
                                   adc=ADC(6, full_scale=X_ROWS * 0.2 * g / 4, circuit=adc_circuit or ADCCircuit()),
                                   wires=wires, read_scheme=read_scheme, device_read_scheme=device_read_scheme)

    out += [
        ("physics/array/li2019/adc_sar", array_physics,
         ("li2019", "one_shot", li(ADCCircuit("sar", 0.02, 0.5)))),
        ("physics/array/li2019/adc_ramp", array_physics,
         ("li2019", "one_shot", li(ADCCircuit("ramp", 0.0, 0.5)))),
        ("physics/array/li2019/adc_sar_muxed", array_physics,
         ("li2019", "one_shot", li(ADCCircuit("sar", 0.01, 0.2, 1000.0, 4)))),
        ("physics/array/li2019/dac_bit_serial", array_physics, ("li2019", "one_shot", li(bit_serial=True))),
        ("physics/array/li2019/wires_1ohm", array_physics,
         ("li2019", "one_shot", li(wires=WireResistance(1.0, 1.0)))),
        ("physics/array/hfo2_soft_bounds/device_read_floating", array_physics,
         ("hfo2_soft_bounds", "write_verify", li(device_read_scheme="floating"))),
        ("physics/array/hfo2_soft_bounds/device_read_v_half_wires", array_physics,
         ("hfo2_soft_bounds", "write_verify", li(wires=WireResistance(1.0, 1.0), device_read_scheme="v_half"))),
        ("physics/passive", passive_physics, ()),
    ]
    return out


# --------------------------------------------------------------------------- compare
def compare(before_path: str, after_path: str) -> int:
    with open(before_path) as f:
        before = json.load(f)
    with open(after_path) as f:
        after = json.load(f)
    for key in sorted(set(before.get("meta", {})) | set(after.get("meta", {}))):
        b, a = before.get("meta", {}).get(key), after.get("meta", {}).get(key)
        if b != a:
            print(f"meta (not counted) {key}: {b!r} -> {a!r}")
    fb, fa = before["fingerprints"], after["fingerprints"]
    missing = object()
    differences = 0
    for key in sorted(set(fb) | set(fa)):
        b, a = fb.get(key, missing), fa.get(key, missing)
        if b != a:
            differences += 1
            print(f"DIFFERENT {key}\n  before: {'(absent)' if b is missing else json.dumps(b)}\n"
                  f"  after:  {'(absent)' if a is missing else json.dumps(a)}")
    cb, ca = before["configurations"], after["configurations"]
    covered_b, covered_a = cb.get("covered", []), ca.get("covered", [])
    for name in [n for n in covered_b if n not in covered_a]:
        differences += 1
        print(f"DIFFERENT configuration {name}: covered before, not after "
              f"({ca.get('skipped', {}).get(name) or ca.get('errors', {}).get(name) or 'absent'})")
    for name in [n for n in covered_a if n not in covered_b]:
        differences += 1
        print(f"DIFFERENT configuration {name}: covered after, not before "
              f"({cb.get('skipped', {}).get(name) or cb.get('errors', {}).get(name) or 'absent'})")
    for what in ("skipped", "errors"):
        for name in sorted(set(cb.get(what, {})) | set(ca.get(what, {}))):
            b, a = cb.get(what, {}).get(name), ca.get(what, {}).get(name)
            if b != a:
                differences += 1
                print(f"DIFFERENT {what} {name}\n  before: {b}\n  after:  {a}")
    print(f"{len(set(fb) | set(fa))} fingerprints of {len(cb.get('covered', []))} (before) and "
          f"{len(ca.get('covered', []))} (after) configurations: "
          f"{'identical' if differences == 0 else f'{differences} difference(s)'}")
    return 1 if differences else 0


# --------------------------------------------------------------------------- main
def commit() -> str:
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the fingerprints' JSON there (also printed unless --quiet)")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"),
                        help="print every difference of two fingerprint files; exit 1 if any")
    parser.add_argument("--chips", metavar="DIR", help="keep the saved chips in DIR (default a temporary folder)")
    parser.add_argument("--chips-from", metavar="DIR",
                        help="reload the chips saved in DIR (by an older version) instead of those just saved")
    parser.add_argument("--only", metavar="TEXT", help="only the configurations whose key contains TEXT")
    parser.add_argument("--quiet", action="store_true", help="do not print the JSON")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)

    began = time.perf_counter()
    chips_tmp = None
    chips = args.chips
    if chips is None:
        chips_tmp = tempfile.TemporaryDirectory()
        chips = chips_tmp.name
    os.makedirs(chips, exist_ok=True)

    def wanted(key):
        return args.only is None or args.only in key

    todo = [(f"{task}/in_situ/headline", headline, (task, chips, args.chips_from)) for task in ("airline", "vowels")]
    todo += [(key, config, (factory,)) for key, factory in configurations()]
    todo.append(("sweep/vowels_ex_situ_one_shot_adc_bits_6", sweep_point, ()))
    todo += physics_configurations()
    keys = [k for k, _, _ in todo]
    if len(set(keys)) != len(keys):
        raise SystemExit(f"configuration keys twice: {sorted(k for k in set(keys) if keys.count(k) > 1)}")
    for key, work, args_ in todo:
        if wanted(key):
            FP.section(key, work, *args_)
    if chips_tmp is not None:
        chips_tmp.cleanup()

    seconds = time.perf_counter() - began
    result = {
        "format": FORMAT,
        "meta": {"commit": commit(), "python": platform.python_version(), "numpy": np.__version__,
                 "machine": platform.machine(), "seconds": round(seconds, 1),
                 "chips_from": args.chips_from, "only": args.only},
        "configurations": {"covered": FP.covered, "skipped": FP.skipped, "errors": FP.errors},
        "fingerprints": FP.values,
    }
    text = json.dumps(result, indent=1, sort_keys=False)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if not args.quiet:
        print(text)
    print(f"{len(FP.values)} fingerprints of {len(FP.covered)} configurations "
          f"({len(FP.skipped)} skipped, {len(FP.errors)} errors) in {seconds:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
