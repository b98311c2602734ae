"""Sweeps of device non-idealities: points in parallel, each stored as soon as it is done.

A sweep is a base :class:`Experiment` (task, way onto hardware, device preset)
and the parameters to vary. Every point runs with every seed; a point's
result depends only on its parameters and seed, never on the worker count or
the order of completion. Results go to a JSON-lines file, one line per point,
written and flushed as each point finishes, so a killed sweep resumes and
recomputes only the points that were in flight.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import time
import traceback
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

import crossbar
from mapping import Encoding

TASKS = ("airline", "vowels")
WAYS = ("ex_situ_one_shot", "ex_situ_write_verify", "hardware_aware", "in_situ")


def _numeric_fields(cls) -> List[str]:
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(default, (int, float)) and not isinstance(default, bool) or f.name == "n_levels":
            out.append(f.name)
    return out


def parameter_names() -> List[str]:
    """Every name ``--vary`` accepts."""
    names = ["epochs", "hardware.adc_range"]
    names += [f"device.{n}" for n in _numeric_fields(crossbar.DeviceModel)]
    names += [f"encoding.{n}" for n in _numeric_fields(Encoding) if n != "bias_rows"]
    return sorted(names)


@dataclass(frozen=True)
class Experiment:
    """The base experiment of a sweep.

    Parameters
    ----------
    task : {"airline", "vowels"}
    way : {"ex_situ_one_shot", "ex_situ_write_verify", "hardware_aware", "in_situ"}
    preset : str
        Device preset; ``device.*`` parameters override its fields.
    epochs : int or None
        Training epochs; default the paper's (800 airline, 50 vowels).
    """

    task: str = "airline"
    way: str = "ex_situ_one_shot"
    preset: str = "li2019"
    epochs: Optional[int] = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r} is not allowed; choose one of {list(TASKS)}")
        if self.way not in WAYS:
            raise ValueError(f"way={self.way!r} is not allowed; choose one of {list(WAYS)}")
        crossbar.preset(self.preset)
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ValueError(f"epochs={self.epochs!r} is not allowed; a positive integer or None")


def parse_values(text: str) -> List[float]:
    """Values of one ``--vary`` right-hand side.

    ``a:b:n`` is ``n`` evenly spaced values from a to b; ``log:a:b:n`` is ``n``
    values evenly spaced in log10; ``a,b,c`` is a list; a single number is one value.
    """
    text = text.strip()
    try:
        if text.startswith("log:"):
            a, b, n = text[4:].split(":")
            a, b, n = float(a), float(b), int(n)
            if a <= 0 or b <= 0 or n < 1:
                raise ValueError
            return [float(v) for v in np.logspace(math.log10(a), math.log10(b), n)]
        if ":" in text:
            a, b, n = text.split(":")
            a, b, n = float(a), float(b), int(n)
            if n < 1:
                raise ValueError
            return [float(v) for v in np.linspace(a, b, n)]
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"range {text!r} is not understood; use start:stop:count, log:start:stop:count "
                         "(positive), or a,b,c") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"range {text!r} holds a value that is not finite")
    return values


def parse_vary(items: Sequence[str]) -> Dict[str, List[float]]:
    """``["device.program_noise_sigma=0:6e-6:7", ...]`` -> {name: values}, names checked."""
    out: Dict[str, List[float]] = {}
    valid = parameter_names()
    for item in items:
        if "=" not in item:
            raise ValueError(f"--vary {item!r}: write NAME=VALUES, e.g. device.program_noise_sigma=0:6e-6:7")
        name, text = item.split("=", 1)
        name = name.strip()
        if name not in valid:
            raise ValueError(f"parameter {name!r} is not known; valid names: {', '.join(valid)}")
        out[name] = parse_values(text)
    return out


def load_toml(path: str) -> Tuple[Dict[str, object], Dict[str, List[float]]]:
    """A sweep file: ``[experiment]`` (task, way, preset, epochs, seeds) and ``[vary]`` (name = "range" or list)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"sweep file {path!r} could not be read: {error}") from None
    experiment = dict(data.get("experiment", {}))
    vary_items = []
    for name, value in dict(data.get("vary", {})).items():
        text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        vary_items.append(f"{name}={text}")
    return experiment, parse_vary(vary_items)


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the base experiment, parameter values and a seed."""

    experiment: Experiment
    params: Tuple[Tuple[str, float], ...]
    seed: int

    @property
    def key(self) -> str:
        """Identity of the point in the results file."""
        text = json.dumps({"experiment": dataclasses.asdict(self.experiment), "params": list(self.params),
                           "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def points(experiment: Experiment, vary: Dict[str, List[float]], seeds: int, base_seed: int = 0) -> List[Point]:
    """Every combination of the varied values, each with seeds ``base_seed .. base_seed + seeds - 1``."""
    names = sorted(vary)
    combos = itertools.product(*(vary[n] for n in names)) if names else [()]
    return [Point(experiment, tuple(zip(names, combo)), base_seed + s) for combo in combos for s in range(seeds)]


def run_point(point: Point) -> dict:
    """Run one point; never raises: failures come back as a record with the error."""
    from . import __version__
    from .reproduce import AIRLINE_EPOCHS, PROBLEMS, VOWELS_EPOCHS, train_on_chip

    began = time.perf_counter()
    record = {"key": point.key, "experiment": dataclasses.asdict(point.experiment), "params": dict(point.params),
              "seed": point.seed, "version": __version__}
    try:
        params = dict(point.params)
        e = point.experiment
        epochs = int(params.get("epochs", e.epochs or (AIRLINE_EPOCHS if e.task == "airline" else VOWELS_EPOCHS)))
        device_changes = {k[7:]: v for k, v in params.items() if k.startswith("device.")}
        if "n_levels" in device_changes:
            device_changes["n_levels"] = int(device_changes["n_levels"])
        device = crossbar.preset(e.preset).replace(**device_changes)
        encoding_changes = {k[9:]: v for k, v in params.items() if k.startswith("encoding.")}
        adc_range = params.get("hardware.adc_range", 6.0)
        task = PROBLEMS[e.task].load()
        software = train_on_chip(e.task, point.seed, epochs, None, task=task)
        hardware = train_on_chip(e.task, point.seed, epochs, e.way, task=task, device=device, preset=e.preset,
                                 encoding_changes=encoding_changes, adc_range=adc_range, trained=software.network)
        name = PROBLEMS[e.task].metric
        metrics = {name: hardware.metric, f"software_{name}": software.metric}
        if not all(math.isfinite(v) for v in metrics.values()):
            raise FloatingPointError(f"a metric is not finite: {metrics}")
        record.update(status="ok", metrics=metrics)
    except Exception as error:  # a failed point is recorded and the sweep goes on
        record.update(status="failed", error=f"{type(error).__name__}: {error}",
                      traceback=traceback.format_exc(limit=3))
    record["seconds"] = time.perf_counter() - began
    return record


def read_results(path: str) -> List[dict]:
    """Records of a results file; a torn last line (a kill mid-write) is cut off the file."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    records, good = [], 0
    for line in data.split(b"\n"):
        if not line.strip():
            good += len(line) + 1
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
        good += len(line) + 1
    if good < len(data):
        with open(path, "r+b") as f:
            f.truncate(min(good, len(data)))
    return records


def _append(path: str, record: dict) -> None:
    line = (json.dumps(record) + "\n").encode()
    with open(path, "ab") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def run_sweep(todo: Sequence[Point], path: str, workers: int = 1, scheduler: Optional[str] = None,
              progress: bool = True, cluster=None) -> Dict[str, int]:
    """Run the points not yet in ``path``, store each as it finishes.

    Parameters
    ----------
    todo : sequence of Point
    path : str
        JSON-lines results file (created if missing).
    workers : int
        Local worker processes (ignored with a scheduler).
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``).
    cluster : object, optional
        A Dask cluster object to connect to instead of an address (tests).

    Returns
    -------
    dict
        Counts: ``done`` (this run), ``failed`` (this run), ``skipped`` (already stored).
    """
    from tqdm.auto import tqdm

    stored = {r["key"] for r in read_results(path)}
    pending = [p for p in todo if p.key not in stored]
    counts = {"done": 0, "failed": 0, "skipped": len(todo) - len(pending)}
    if not pending:
        return counts
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    bar = tqdm(total=len(pending), desc="sweep", disable=not progress)

    def record(result):
        _append(path, result)
        counts["done" if result["status"] == "ok" else "failed"] += 1
        bar.update(1)
        bar.set_postfix(done=counts["done"], failed=counts["failed"], left=len(pending) - bar.n, refresh=False)

    if scheduler is not None or cluster is not None:
        from dask.distributed import Client, as_completed

        with Client(cluster if cluster is not None else scheduler) as client:
            futures = client.map(run_point, pending, pure=False)
            for future in as_completed(futures):
                record(future.result())
    elif workers <= 1:
        for p in pending:
            record(run_point(p))
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed as done_first
        import multiprocessing

        # the worker processes fill the cores: each runs its batches on one thread (same numbers, see lstm.parallel)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_one_thread) as pool:
            for future in done_first([pool.submit(run_point, p) for p in pending]):
                record(future.result())
    bar.close()
    return counts


def _one_thread() -> None:
    os.environ["XBAR_THREADS"] = "1"


def plot_results(path: str, out: str, metric: Optional[str] = None, x: Optional[str] = None,
                 by: Optional[str] = None) -> List[str]:
    """Each metric against a varied parameter, mean and spread over seeds, the software baseline as a
    line, one curve per value of a second parameter. Writes ``out`` as PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [r for r in read_results(path) if r.get("status") == "ok"]
    if not records:
        raise ValueError(f"{path!r} holds no finished point to plot")
    varied = sorted({k for r in records for k in r["params"]})
    if not varied:
        raise ValueError(f"{path!r}: no parameter was varied")
    x = x or varied[0]
    if x not in varied:
        raise ValueError(f"x={x!r} was not varied; varied: {varied}")
    others = [v for v in varied if v != x]
    by = by if by is not None else (others[0] if others else None)
    metric = metric or next(k for k in records[0]["metrics"] if not k.startswith("software_"))
    fig, ax = plt.subplots(figsize=(6, 4))
    groups = sorted({r["params"].get(by) for r in records}, key=lambda v: (v is None, v)) if by else [None]
    for g in groups:
        rows = [r for r in records if by is None or r["params"].get(by) == g]
        xs = sorted({r["params"][x] for r in rows})
        values = [[r["metrics"][metric] for r in rows if r["params"][x] == v] for v in xs]
        label = f"{by} = {g:g}" if by else "hardware"
        ax.errorbar(xs, [np.mean(v) for v in values], yerr=[np.std(v) for v in values], marker="o", capsize=3,
                    label=label)
    baseline = [r["metrics"].get(f"software_{metric}") for r in records]
    baseline = [b for b in baseline if b is not None]
    if baseline:
        ax.axhline(float(np.mean(baseline)), color="k", linestyle="--", label="software")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    fig.tight_layout()
    stem = os.path.splitext(out)[0]
    paths = [stem + ".png", stem + ".pdf"]
    for p in paths:
        fig.savefig(p, dpi=130)
    plt.close(fig)
    return paths
