"""Sweeps of device non-idealities: points in parallel, each stored as soon as it is done.

A sweep is a base :class:`~xbar.experiment.Experiment` and the dotted names
to vary (:func:`xbar.experiment.parameters`). Every point runs with every seed; a point's
result depends only on its parameters and seed, never on the worker count or
the order of completion. Results go to a JSON-lines file, one line per point,
written and flushed as each point finishes, so a killed sweep resumes and
recomputes only the points that were in flight.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from crossbar.validation import check_int

from xbar.experiment import (MAX_POINTS, Experiment, beside_file, check_point_count,  # noqa: F401
                         experiment_from_table, li2019, parameter, parse_values, read_table_file,
                         toml_type)  # (MAX_POINTS, parse_values: sweep's)
from xbar.results import FORMAT, ResultsWriter, read_results

def parse_vary(items: Sequence[str], experiment: Optional[Experiment] = None) -> Dict[str, list]:
    """``["device.program_noise_sigma=0:6e-6:7", "hardware.way=in_situ,ex_situ_one_shot"]`` -> {name: values}.

    Names are checked against :func:`xbar.experiment.parameters` of ``experiment``; whole-number
    parameters refuse fractions, choices refuse other words.
    """
    out: Dict[str, list] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--vary {item!r}: write NAME=VALUES, e.g. device.program_noise_sigma=0:6e-6:7")
        name, text = item.split("=", 1)
        name = name.strip()
        if name in out:
            raise ValueError(f"--vary {name} is given twice; give all its values once "
                             f"({name}=a,b,c)")
        out[name] = parameter(name, experiment).parse(text)
    return out


def load_sweep_file(path: str) -> Tuple[Experiment, Dict[str, list], Optional[int]]:
    """A sweep file: an experiment's sections (or the short ``[experiment]`` table: task, way, preset,
    epochs), ``[vary]`` (name = "range" or a list) and ``seeds`` (in ``[experiment]`` or ``[sweep]``).

    A relative ``data.path`` is taken from the file's folder (as :func:`xbar.experiment.load_experiment`
    does). A table of the wrong type, an unknown key or a bad value is a ``ValueError`` naming the file.

    Returns (base experiment, vary, seeds or None).
    """
    data = read_table_file(path, "sweep file")
    for key in ("experiment", "sweep", "vary"):
        if key in data and not isinstance(data[key], dict):
            value = data[key]
            raise ValueError(f"sweep file {path}: [{key}] is {toml_type(value)} ({value!r:.40}); a table is "
                             f"required ([{key}] and its keys on the lines below)")
    vary_table = data.pop("vary", {})
    seeds = None
    if "experiment" in data:  # the short form: Li et al.'s experiment of a task
        short = dict(data.pop("experiment"))
        seeds = short.pop("seeds", None)
        unknown = set(short) - {"task", "way", "preset", "epochs"}
        if unknown:
            raise ValueError(f"sweep file {path}: [experiment] keys {sorted(unknown)} are not known; "
                             "use task, way, preset, epochs, seeds (or the full sections of an experiment)")
        if data:
            raise ValueError(f"sweep file {path}: [{sorted(data)[0]}] beside the short [experiment] table; give "
                             "[experiment] and [vary] only, or an experiment's sections and [vary]")
        for key, wanted in (("task", str), ("way", str), ("preset", str), ("epochs", int)):
            if key in short and (not isinstance(short[key], wanted) or isinstance(short[key], bool)):
                raise ValueError(f"sweep file {path}: [experiment] {key} is {toml_type(short[key])} "
                                 f"({short[key]!r:.40}); {'a string' if wanted is str else 'an integer'} is required")
        try:
            experiment = base_experiment(**short)
        except ValueError as error:
            raise ValueError(f"sweep file {path}: {error}") from None
    else:
        seeds = dict(data.pop("sweep", {})).get("seeds")
        experiment, _ = experiment_from_table(data, path, "sweep file")
    vary_items = []
    for name, value in vary_table.items():
        if isinstance(value, dict):
            raise ValueError(f"sweep file {path}: [vary] {name} is a table; a string of values "
                             "(\"0:6e-6:7\") or an array ([4, 6, 8]) is required")
        if name == "data.path":  # files named relative to the sweep file, as its [data] path is
            value = [beside_file(path, v) if isinstance(v, str) else v
                     for v in (value if isinstance(value, list) else str(value).split(","))]
        text = ",".join(_vary_text(v) for v in value) if isinstance(value, list) else _vary_text(value)
        vary_items.append(f"{name}={text}")
    try:
        vary = parse_vary(vary_items, experiment)
    except ValueError as error:
        raise ValueError(f"sweep file {path}: [vary] {error}") from None
    return experiment, vary, seeds


def _vary_text(value) -> str:
    """One value of a ``[vary]`` array as ``--vary`` text (lists in brackets, booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(_vary_text(v) for v in value) + "]"
    return str(value)


def base_experiment(task: Optional[str] = None, way: Optional[str] = None, preset: Optional[str] = None,
                    epochs: Optional[int] = None) -> Experiment:
    """Li et al.'s experiment of a shipped task (default airline) with another way, preset or epochs."""
    experiment = li2019(task or "airline", epochs=epochs, way=way or "ex_situ_one_shot")
    if preset is not None:
        experiment = experiment.with_values({"hardware.preset": preset})
    return experiment


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the base experiment, parameter values and a seed."""

    experiment: Experiment
    params: Tuple[Tuple[str, object], ...]
    seed: int

    @property
    def key(self) -> str:
        """Identity of the point in the results file."""
        text = json.dumps({"experiment": self.experiment.to_dict(), "params": list(self.params),
                           "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def identity(self) -> dict:
        """The experiment this point belongs to (what a results file holds one of)."""
        return {"experiment": self.experiment.to_dict(), "varied": sorted(n for n, _ in self.params)}

    def describe(self) -> str:
        """``name=value, ..., seed=s`` for messages."""
        return ", ".join([f"{n}={v:g}" if isinstance(v, float) else f"{n}={v}" for n, v in self.params]
                         + [f"seed={self.seed}"])

    def resolved(self) -> Experiment:
        """The point's experiment: the base with its values and seed, built and validated."""
        values = dict(self.params)
        values["training.seed"] = self.seed
        try:
            return self.experiment.with_values(values)
        except ValueError as error:
            raise ValueError(f"point {self.describe()}: {error}") from None


def points(experiment: Experiment, vary: Dict[str, list], seeds: int, base_seed: int = 0) -> List[Point]:
    """Every combination of the varied values, each with seeds ``base_seed .. base_seed + seeds - 1``.

    Values are checked and stored as their parameter's type (whole numbers as integers, never truncated);
    a value given twice is refused, and so is a sweep of more than :data:`MAX_POINTS` points, before any
    point is made. A varied ``training.seed`` is each point's seed (then ``seeds`` is 1 and ``base_seed``
    0: the seeds are those varied).
    """
    check_int("seeds", seeds, 1)
    check_int("seed", base_seed, 0)
    names = sorted(vary)
    values = {}
    for n in names:
        spec = parameter(n, experiment)
        values[n] = [spec.coerce(v) for v in vary[n]]
        seen = set()
        for v in values[n]:
            if v in seen:
                raise ValueError(f"--vary {n}: the value {v:g} is given twice; give each value once"
                                 if isinstance(v, float) else f"--vary {n}: the value {v} is given twice; "
                                 "give each value once")
            seen.add(v)
    count = seeds
    for n in names:
        count *= len(values[n])
    check_point_count(count, " x ".join([f"{len(values[n])} values of {n}" for n in names] + [f"{seeds} seed(s)"]))
    combos = itertools.product(*(values[n] for n in names)) if names else [()]
    if "training.seed" in values:
        if seeds != 1 or base_seed != 0:
            raise ValueError("training.seed is varied: each point runs with its varied seed; leave out --seeds "
                             "and --seed (or give --seeds N --seed S without varying training.seed)")
        at = names.index("training.seed")
        return [Point(experiment, tuple(zip(names, combo)), combo[at]) for combo in combos]
    return [Point(experiment, tuple(zip(names, combo)), base_seed + s) for combo in combos for s in range(seeds)]


def validate(todo: Sequence[Point]) -> None:
    """Build and check every point's experiment, and read its data, before anything runs; the first bad
    one raises ``ValueError`` naming the point (a missing data file, a headroom too small for a split)."""
    from xbar import runner

    loaded = set()
    for p in todo:
        exp = p.resolved()
        key = json.dumps([exp.to_dict()["data"], exp.network.mode, exp.training.seed], sort_keys=True)
        if key in loaded:
            continue
        try:
            runner.problem_of(exp)
        except (ValueError, OSError) as error:
            text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(f"point {p.describe()}: {text}") from None
        loaded.add(key)


_interrupt_requested = False
"""Set by the sweep's Ctrl-C handler: an error raised while it is set is the interrupt, not a failure."""


def _interrupted(error: BaseException) -> bool:
    """Whether ``error`` is a Ctrl-C in disguise (Numba turns one inside a kernel into a ``SystemError``)."""
    from xbar.workers import stop_requested

    if _interrupt_requested or stop_requested():
        return True
    seen = error
    while seen is not None:
        if isinstance(seen, (KeyboardInterrupt, SystemExit)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def run_point(point: Point) -> dict:
    """Run one point; an error of the computation comes back as a ``failed`` record, a Ctrl-C is raised."""
    from lstm import __version__
    from xbar import runner

    began = time.perf_counter()
    record = {"format": FORMAT, "key": point.key, "experiment": point.experiment.to_dict(),
              "params": dict(point.params), "seed": point.seed, "version": __version__}
    try:
        exp = point.resolved()
        problem = runner.problem_of(exp)
        software = runner.train(exp, problem, None)
        name = problem.metric
        metrics = {f"software_{name}": software.metric}
        if exp.hardware.way != "software":
            metrics[name] = runner.train(exp, problem, exp.hardware.way, trained=software.network).metric
        if not all(math.isfinite(v) for v in metrics.values()):
            raise FloatingPointError(f"a metric is not finite: {metrics}")
        resolved = {n: exp.value_of(n) for n, _ in point.params}
        resolved.update({"training.epochs": exp.training.epochs, "training.seed": exp.training.seed})
        record.update(status="ok", metrics=metrics, resolved=resolved,
                      baseline={**runner.baseline(problem), "data": problem.name})
    except Exception as error:  # a failed point is recorded and the sweep goes on
        if _interrupted(error):
            raise KeyboardInterrupt from error
        record.update(status="failed", error=f"{type(error).__name__}: {error}",
                      traceback=traceback.format_exc(limit=3))
    record["seconds"] = time.perf_counter() - began
    return record


def expected_cost(point: Point) -> float:
    """A point's relative cost (epochs times a data and way factor), for longest-first scheduling."""
    values = dict(point.params)
    exp = point.experiment
    epochs = values.get("training.epochs", exp.training.epochs)
    per_epoch = {"airline": 1.0, "vowels": 20.0}.get(exp.data.task, 20.0)
    way = values.get("hardware.way", exp.hardware.way)
    factor = {"in_situ": 4.0, "hardware_aware": 2.2, "software": 1.0}.get(way, 2.0)
    return float(epochs) * per_epoch * factor


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the finished points are stored; ``counts`` says how many."""

    def __init__(self, counts: Dict[str, int]):
        super().__init__("sweep interrupted")
        self.counts = counts


def run_sweep(todo: Sequence[Point], path: str, workers: int = 1, scheduler: Optional[str] = None,
              progress: bool = True, cluster=None, retry_failed: bool = False,
              set_aside_damaged: bool = False, connect_timeout_s: float = 10.0) -> Dict[str, int]:
    """Run the points not yet in ``path``, store each as it finishes.

    Every point is resolved and validated first, the results file is locked
    and checked (see :mod:`xbar.results`) and a scheduler is reached before
    anything runs; a bad value, a foreign file or an unreachable scheduler
    raises ``ValueError`` with nothing written. Ctrl-C stops the sweep at once,
    keeps every finished record, marks nothing as failed and raises
    :class:`SweepInterrupted`; a rerun computes the interrupted points.

    Parameters
    ----------
    todo : sequence of Point
        All of one experiment.
    path : str
        JSON-lines results file (created if missing).
    workers : int
        Local worker processes (ignored with a scheduler); they stay warm
        across points and take the longest points first.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``).
    cluster : object, optional
        A Dask cluster object to connect to instead of an address (tests).
    retry_failed : bool
        Run again the points whose stored record failed.
    set_aside_damaged : bool
        Move damaged lines of the file into ``<path>.damaged`` instead of refusing it.
    connect_timeout_s : float
        How long to try to reach the scheduler, seconds.

    Returns
    -------
    dict
        ``done`` and ``failed`` (this run), ``skipped`` (already stored and ok),
        ``failed_before`` (stored as failed and not retried), ``failed_left``
        (points of ``todo`` whose latest record is a failure).
    """
    from tqdm.auto import tqdm

    _check_sweep(todo, workers, scheduler, cluster)
    with ResultsWriter(path, todo[0].identity, set_aside_damaged=set_aside_damaged) as writer:
        pending, counts, outcome = _pending(todo, writer.contents.latest(), retry_failed)
        client = _connect(scheduler, cluster, connect_timeout_s) if (pending and (scheduler or cluster)) else None
        bar = tqdm(total=len(pending), desc="sweep", disable=not progress or not pending)

        def store(result: dict) -> None:
            writer.append(result)
            good = result["status"] == "ok"
            counts["done" if good else "failed"] += 1
            outcome[result["key"]] = "ok" if good else "failed"
            bar.update(1)
            bar.set_postfix(done=counts["done"], failed=counts["failed"], left=len(pending) - bar.n, refresh=False)

        try:
            _run_interruptibly(pending, workers, client, store)
        except KeyboardInterrupt:
            raise SweepInterrupted(_finish(counts, outcome)) from None
        finally:
            bar.close()
            if client is not None:
                client.close()
    return _finish(counts, outcome)


def _check_sweep(todo: Sequence[Point], workers: int, scheduler: Optional[str], cluster) -> None:
    """Refuse a bad worker count, no points, points of several experiments or an invalid point, before the
    results file is opened."""
    check_int("workers", workers, 1)
    if workers > 1 and scheduler is None and cluster is None:
        from xbar.workers import check_worker_count

        check_worker_count(workers)
    if not todo:
        raise ValueError("no points to run")
    identities = {json.dumps(p.identity, sort_keys=True) for p in todo}
    if len(identities) != 1:
        raise ValueError("the points belong to more than one experiment; run each in its own results file")
    validate(todo)


def _pending(todo: Sequence[Point], stored: Dict[str, dict], retry_failed: bool):
    """The points to run (longest first), the counts so far and each point's outcome so far, from the
    records already stored."""
    ok = {k for k, r in stored.items() if r.get("status") == "ok"}
    failed = {k for k, r in stored.items() if r.get("status") != "ok"}
    pending = [p for p in todo if p.key not in ok and (retry_failed or p.key not in failed)]
    counts = {"done": 0, "failed": 0, "skipped": sum(p.key in ok for p in todo),
              "failed_before": 0 if retry_failed else sum(p.key in failed for p in todo), "failed_left": 0}
    pending.sort(key=expected_cost, reverse=True)  # longest first: the last to finish start first
    outcome = {p.key: ("ok" if p.key in ok else "failed" if p.key in failed else None) for p in todo}
    return pending, counts, outcome


def _run_interruptibly(pending: List[Point], workers: int, client, store) -> None:
    """Run the pending points on the Dask client, in this process or on a pool, passing each result to
    ``store``; Ctrl-C raises KeyboardInterrupt at once and marks the interruption requested meanwhile."""
    global _interrupt_requested
    previous = signal.getsignal(signal.SIGINT) if _main_thread() else None

    def on_interrupt(signum, frame):
        global _interrupt_requested
        _interrupt_requested = True
        raise KeyboardInterrupt

    try:
        if previous is not None:
            signal.signal(signal.SIGINT, on_interrupt)
        if client is not None:
            _run_dask(client, pending, store)
        elif workers <= 1 or len(pending) <= 1:
            for p in pending:
                store(run_point(p))
        else:
            _run_pool(pending, workers, store)
    finally:
        _interrupt_requested = False
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _finish(counts: Dict[str, int], outcome: Dict[str, Optional[str]]) -> Dict[str, int]:
    counts["failed_left"] = sum(v == "failed" for v in outcome.values())
    return counts


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


WORKER_ENVIRONMENT = {"XBAR_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                      "OMP_NUM_THREADS": "1"}
"""The environment of a local sweep worker: one thread each."""


def _run_pool(pending: Sequence[Point], workers: int, store) -> None:
    from xbar.workers import WorkerPool

    # the worker processes fill the cores: each runs on one thread, its reads, Numba's pool and the BLAS
    # (the same numbers, see lstm.parallel), so that no idle thread of one worker spins on another's core
    with WorkerPool(min(workers, len(pending)), environment=WORKER_ENVIRONMENT) as pool:
        for index, good, value in pool.map_unordered(run_point, pending):
            if good:
                store(value)
            else:  # the worker died or run_point itself raised: a failure of this point, not of the sweep
                p = pending[index]
                store({"format": FORMAT, "key": p.key, "experiment": p.experiment.to_dict(),
                       "params": dict(p.params), "seed": p.seed, "status": "failed", "error": value.splitlines()[0],
                       "traceback": value, "seconds": 0.0})


def _connect(scheduler: Optional[str], cluster, timeout_s: float):
    """A Dask client, or ``ValueError`` naming the address when it cannot be reached in ``timeout_s``."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs Dask: pip install 'xbar-lstm[cluster]'") from None
    try:
        return Client(cluster if cluster is not None else scheduler, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as error:
        raise ValueError(f"the Dask scheduler {scheduler!r} could not be reached within {timeout_s:g} s "
                         f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None


def _run_dask(client, pending: Sequence[Point], store) -> None:
    from dask.distributed import as_completed

    futures = [client.submit(run_point, p, pure=False, priority=expected_cost(p)) for p in pending]
    try:
        for future in as_completed(futures):
            store(future.result())
    except BaseException:
        client.cancel(futures)
        raise


def plot_results(path: str, out: str, metric: Optional[str] = None, x: Optional[str] = None,
                 by: Optional[str] = None) -> List[str]:
    """Each metric against a varied parameter, mean and spread over seeds, the software baseline as a
    line, one curve per value of a second parameter. Writes ``out`` as PNG and PDF.

    Axes carry the parameters' meaning and units (:func:`xbar.experiment.parameters`; SI values in friendly
    units, µS rather than 1e-6 S), accuracies are in percent, whole-number parameters get whole-number
    ticks, and the legend says what the error bars are and over how many seeds the means are taken. A
    sweep that varies only the seed is drawn against the seed.

    Reads ``path`` without changing it (damaged lines are left in place and skipped; see
    :func:`xbar.results.read_results`), and checks every choice and record before drawing: a missing file,
    or a record edited into something else, is a ``ValueError`` naming the file and the line.
    """
    from xbar.figures import metric_label, plt as pyplot

    plt = pyplot()
    rows = _plotted_rows(path)
    records = [r for _, r in rows]
    varied, x, by, metric = _plot_choices(path, rows, metric, x, by)
    x_axis = _Axis(x, [_x_value(r, x, varied) for r in records], records[0].get("experiment"))
    by_axis = _Axis(by, [r["params"][by] for r in records], records[0].get("experiment")) if by else None
    percent = metric.endswith("accuracy")
    scale = 100.0 if percent else 1.0
    fig, ax = plt.subplots(figsize=(8.4, 4.2))
    counts = _draw_groups(ax, records, metric, scale, varied, x, x_axis, by, by_axis)
    _draw_baselines(ax, records, metric, scale)
    x_axis.apply(ax)
    ax.set_ylabel(metric_label(metric, records[0].get("baseline", {}).get("data")))
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    _draw_legend(ax, counts, x == "seed" and not varied)
    fig.tight_layout()
    stem = os.path.splitext(out)[0]
    paths = [stem + ".png", stem + ".pdf"]
    for p in paths:
        fig.savefig(p, dpi=130)
    plt.close(fig)
    return paths


def _plotted_rows(path: str) -> List[Tuple[int, dict]]:
    """The finished points of a results file, each its latest record, checked for drawing.

    Parameters
    ----------
    path : str
        A results file of ``xbar sweep``.

    Returns
    -------
    list of (int, dict)
        The line number and record of each point whose latest record is ``ok``.

    Raises
    ------
    ValueError
        A missing file, one with no finished point, or a record edited into something else.
    """
    if not os.path.exists(path):
        raise ValueError(f"{path} does not exist; give a results file of xbar sweep (its --out)")
    contents = read_results(path)
    latest = {}
    for number, r in zip(contents.numbers, contents.records):
        latest[r["key"]] = (number, r)
    rows = [(n, r) for n, r in latest.values() if r.get("status") == "ok"]
    if not rows:
        raise ValueError(f"{path} holds no finished point to plot ({len(latest)} point(s), none ok)")
    for number, r in rows:
        _check_plotted(path, number, r)
    return rows


def _plot_choices(path: str, rows: List[Tuple[int, dict]], metric: Optional[str], x: Optional[str],
                  by: Optional[str]) -> Tuple[List[str], str, Optional[str], str]:
    """The parameters and metric to draw: those asked for, checked, or the first of each.

    Parameters
    ----------
    path : str
        The results file (named in errors).
    rows : list of (int, dict)
        Line numbers and records (:func:`_plotted_rows`).
    metric, x, by : str, optional
        The choices asked for.

    Returns
    -------
    tuple
        ``(varied, x, by, metric)``: the varied parameters in the order they were varied, the one along
        the x axis (``"seed"`` when only the seed was), the one a curve each (or None), and the metric.

    Raises
    ------
    ValueError
        A choice that was not varied or measured, or a record without the metric.
    """
    records = [r for _, r in rows]
    varied = list(dict.fromkeys(k for r in records for k in r["params"]))  # in the order they were varied
    x = x or (varied[0] if varied else "seed")
    if x not in varied and not (x == "seed" and not varied):
        raise ValueError(f"--x {x!r} was not varied; varied: {', '.join(varied) or 'nothing (only the seed)'}")
    others = [v for v in varied if v != x]
    if by is not None and by not in others:
        raise ValueError(f"--by {by!r} is not another varied parameter; choose one of {', '.join(others) or 'none'}")
    by = by if by is not None else (others[0] if others else None)
    metrics = [k for k in records[0]["metrics"] if not k.startswith("software_")] or list(records[0]["metrics"])
    metric = metric or metrics[0]
    if metric not in metrics:
        raise ValueError(f"--metric {metric!r} is not in {path}; its metrics: {', '.join(metrics)}")
    for number, r in rows:
        if metric not in r["metrics"]:
            raise ValueError(f"{path} line {number}: the record has no metric {metric!r} (its metrics: "
                             f"{', '.join(r['metrics'])}); repair or remove the line")
    return varied, x, by, metric


def _x_value(record: dict, name: str, varied: List[str]):
    """A record's value of ``name``: its seed where only the seed was varied, else its parameter."""
    return record["seed"] if name == "seed" and not varied else record["params"][name]


def _draw_groups(ax, records: List[dict], metric: str, scale: float, varied: List[str], x: str,
                 x_axis: "_Axis", by: Optional[str], by_axis: Optional["_Axis"]) -> List[int]:
    """Draw one curve per value of ``by``: the metric's mean and std over seeds at each ``x``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    records : list of dict
    metric : str
    scale : float
        100 for accuracies (percent), else 1.
    varied : list of str
    x : str
    x_axis : _Axis
    by : str, optional
    by_axis : _Axis, optional

    Returns
    -------
    list of int
        The number of seeds at each point drawn.
    """
    seeds_only = x == "seed" and not varied
    groups = sorted({_hashable(r["params"].get(by)) for r in records}, key=_order) if by else [None]
    counts = []
    for g in groups:
        chosen = [r for r in records if by is None or _hashable(r["params"].get(by)) == g]
        xs = sorted({_hashable(_x_value(r, x, varied)) for r in chosen}, key=_order)
        values = [[scale * r["metrics"][metric] for r in chosen if _hashable(_x_value(r, x, varied)) == v]
                  for v in xs]
        counts += [len(v) for v in values]
        label = f"{by_axis.short} = {by_axis.show(g)}" if by else "hardware"
        positions = [x_axis.position(v) for v in xs]
        if seeds_only:
            ax.plot(positions, [v[0] for v in values], "o", label=f"{label}, one point per seed")
        else:
            ax.errorbar(positions, [np.mean(v) for v in values], yerr=[np.std(v) for v in values], marker="o",
                        capsize=3, label=label)
    return counts


def _draw_baselines(ax, records: List[dict], metric: str, scale: float) -> None:
    """Draw the software twin's mean and the data's reference baseline as horizontal lines, where known.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    records : list of dict
    metric : str
    scale : float
        100 for accuracies (percent), else 1.
    """
    baseline = [r["metrics"].get(f"software_{metric}") for r in records]
    baseline = [scale * b for b in baseline if b is not None]
    n_seeds = len({r["seed"] for r in records})
    if baseline:
        ax.axhline(float(np.mean(baseline)), color="k", linestyle="--",
                   label=f"software twin, mean over {n_seeds} seeds" if n_seeds > 1 else "software twin")
    reference = _reference_line(records, metric)
    if reference is not None:
        name, what, value = reference
        ax.axhline(scale * value, color="tab:gray", linestyle=":", label=f"{name} ({what})")


def _draw_legend(ax, counts: List[int], seeds_only: bool) -> None:
    """Place the legend beside the axes, titled with what the error bars are and over how many seeds.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    counts : list of int
        The number of seeds at each point drawn.
    seeds_only : bool
        Only the seed was varied (one point per seed, no title).
    """
    low, high = min(counts), max(counts)
    title = None
    if not seeds_only:
        spread = (f"{low}" if low == high else f"{low} to {high}")
        title = (f"hardware: mean \N{PLUS-MINUS SIGN} std over {spread} seeds" if high > 1
                 else "hardware: one seed a point (no error bars)")
    ax.legend(fontsize=8, title=title, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0)


def _check_plotted(path: str, number: int, record: dict) -> None:
    """A finished record's parameters and metrics as :func:`plot_results` reads them, or ``ValueError`` naming
    the file and line (a hand-edited record)."""
    where = f"{path} line {number}"
    params, metrics = record.get("params"), record.get("metrics")
    if not isinstance(params, dict):
        raise ValueError(f"{where}: params is {type(params).__name__}, a table of parameter values is required; "
                         "repair or remove the line")
    for name, value in params.items():
        if not isinstance(value, (int, float, str, bool, list)) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"{where}: params {name}={value!r} is not a value of a parameter; repair or "
                             "remove the line")
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError(f"{where}: metrics is {metrics!r:.40}, a table of metric values is required; repair "
                         "or remove the line")
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}: metric {name}={value!r:.40} is not a finite number; repair or remove "
                             "the line")
    if isinstance(record.get("seed"), bool) or not isinstance(record.get("seed"), int):
        raise ValueError(f"{where}: seed={record.get('seed')!r:.40} is not a whole number; repair or remove "
                         "the line")
    if "training.seed" in params and params["training.seed"] != record["seed"]:
        raise ValueError(f"{where}: a point of training.seed={params['training.seed']!r} that ran with seed "
                         f"{record['seed']} (written before a varied seed was the seed run); remove the line "
                         "and run the sweep again")


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def _order(value):
    """Sort numbers by value, then everything else by its text (None last)."""
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "\N{MICRO SIGN}"),
             (1e-9, "n"), (1e-12, "p"))
_SI_UNITS = ("S", "V", "s", "ohm", "Hz", "S/V", "J", "A")


class _Axis:
    """How a parameter is drawn: its words and unit from its metadata, SI values in friendly units,
    whole-number ticks for whole numbers, words and lists as categories."""

    def __init__(self, name: str, values: list, experiment: Optional[dict]):
        self.name = name
        if name == "seed":
            unit, doc, kind = "", "seed", "int"
        else:
            try:
                spec = parameter(name, _experiment_of(experiment))
                unit, doc, kind = spec.unit, spec.doc, spec.kind
            except ValueError:  # a name of an older version: drawn as it is
                unit, doc, kind = "", "", "float"
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        self.numeric = len(numbers) == len(values) and kind in ("int", "float")
        self.integer = self.numeric and all(float(v).is_integer() for v in numbers) and kind == "int"
        self.factor, self.unit = 1.0, unit
        if self.numeric and unit in _SI_UNITS:
            largest = max((abs(v) for v in numbers if v != 0), default=1.0)
            self.factor, prefix = next(((f, p) for f, p in _PREFIXES if largest >= f * 0.999), _PREFIXES[-1])
            self.unit = prefix + ("\N{GREEK CAPITAL LETTER OMEGA}" if unit == "ohm" else unit)
        words = doc.split(" (omit")[0].split(" (")[0] if doc else name
        self.short = words.split(",")[0] if len(words.split(",")[0]) <= 40 else name
        shown_unit = "" if self.unit in ("", "1") else f" ({self.unit})"
        self.label = f"{words}{shown_unit}" + (f"\n{name}" if name != "seed" else "")
        self.short = f"{self.short}{shown_unit}"
        self.categories = None if self.numeric else sorted({_hashable(v) for v in values}, key=_order)

    def position(self, value):
        if self.categories is not None:
            return self.categories.index(_hashable(value))
        return value / self.factor

    def show(self, value) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and self.numeric:
            return f"{value / self.factor:g}"
        if isinstance(value, tuple):
            return "[" + ", ".join(str(v) for v in value) + "]"
        return str(value).lower() if isinstance(value, bool) else str(value)

    def apply(self, ax) -> None:
        from matplotlib.ticker import MaxNLocator

        ax.set_xlabel(self.label)
        if self.categories is not None:
            ax.set_xticks(range(len(self.categories)))
            ax.set_xticklabels([self.show(v) for v in self.categories])
            return
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
        if self.integer:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _experiment_of(table: Optional[dict]):
    """The experiment of a record (for its device's parameter names), or None."""
    try:
        return Experiment.from_dict(table) if isinstance(table, dict) else None
    except (ValueError, TypeError, KeyError):
        return None


def _reference_line(records, metric: str):
    """``(name, what, value)`` of the baseline every record scored alike (chance, persistence, mean: the
    data decide it, not the varied parameters), or None where the records hold none (older files) or
    disagree (the data were varied)."""
    seen = set()
    for r in records:
        base = r.get("baseline")
        value = base.get(metric) if isinstance(base, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        seen.add((str(base.get("name")), str(base.get("what")), float(value)))
    return seen.pop() if len(seen) == 1 else None
