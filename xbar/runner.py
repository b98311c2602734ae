"""The one runner of an :class:`~xbar.experiment.Experiment`: software twin and hardware, side by side.

:func:`train` trains one way (``None``: software) and scores the test data;
:func:`run` does both, writes the figures (PNG and PDF) and the data behind
them (metrics per epoch, predictions, confusion matrices, conductances, the
result) and can keep the trained chip. ``xbar run``, ``xbar reproduce``,
``xbar sweep``, the benchmarks and the notebooks all go through here, so one
experiment and seed give one answer whichever runs it.

Scoring during training (a validation split, ``training.validation``, and the
watched test curve of ``track``) reads the chip on a snapshot: the chip's
state (conductances, clocks, generators, counters, energy) is taken before
the reads and put back after them (:func:`unchanged`), so that a scored run
trains exactly as an unscored one and spends nothing on the scoring. The test
data are scored for the result once, at the end; the watched test curve
chooses nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from crossbar.validation import config_to_dict
from mapping import ChipSpec

from lstm.hardware import HardwareAwareTrainer, HardwareNetwork, InSituTrainer, li2019_corners, programming_weight_noise
from lstm.network import Network, NetworkConfig
from lstm.train import Dataset, History, SoftwareTrainer, fit
from lstm.updates import UpdateSpec
from xbar.experiment import Experiment, parameters
from xbar.problems import Problem, load_problem

VALIDATION_STREAM = 0x7A1D
"""Spawn-key entry of the seed sequence (``training.seed``) that draws the validation split."""


def problem_of(exp: Experiment) -> Problem:
    """The experiment's data as a :class:`~xbar.problems.Problem` (its split drawn from ``training.seed``)."""
    return load_problem(exp.data, seed=exp.training.seed, mode=exp.network.mode)


def network_config(exp: Experiment, problem: Problem) -> NetworkConfig:
    """The network of the experiment for this data: heads, modes and losses default from the data."""
    n = exp.network
    classification = problem.kind == "classification"
    head = n.head or ("softmax" if classification else "identity")
    loss = n.loss or ("cross_entropy" if head == "softmax" else "mse")
    return NetworkConfig(problem.n_inputs, n.hidden, problem.n_outputs, cell=n.cell, head=head,
                         mode=n.mode or problem.mode, loss=loss, reduction=n.reduction, bias=n.bias,
                         forget_bias=n.forget_bias)


def corners(exp: Experiment, network: Network):
    """Li et al.'s placement of the shipped tasks' networks (``hardware.placement = "li2019"``), else None."""
    if exp.hardware.placement != "li2019":
        return None
    if exp.data.task == "airline":
        return li2019_corners(network)
    lstm_rows = 2 * (network.params["layer0.W"].shape[0] - 1)
    # nine classes do not fit the 8 columns right of the LSTM block: the dense block sits below it
    return {"layer0.W": (0, 0, 0), "head.W": (0, lstm_rows, 0)}


def chip_spec(exp: Experiment, network: Network, way: Optional[str] = None) -> ChipSpec:
    """The chip of the experiment for a way (its encoding differs between in situ and ex situ), with the
    corners of its placement (:func:`corners`)."""
    return exp.chip_spec(way, corners(exp, network))


def start(hw: HardwareNetwork, how: str) -> None:
    """Bring the chip to its in-situ starting weights: ``programmed`` (the software twin's random initial
    weights, one shot: both runs start from the same network) or ``li2019`` (every device RESET and SET
    at 1.0 V as Li et al., all weights zero up to the noise)."""
    if how == "programmed":
        hw.program()
    elif how == "li2019":
        hw.initialize()
    else:
        raise ValueError(f"start={how!r} is not allowed; choose 'programmed' or 'li2019'")


@dataclass
class TrainResult:
    """One training run: its test metric, history, network, chip (None in software), test outputs and
    what the training did (``training``: validation size, epochs run, epoch kept, why it stopped)."""

    metric: float
    history: History
    network: Network
    hardware: Optional[HardwareNetwork]
    outputs: np.ndarray
    training: dict = None


def split_validation(exp: Experiment, train: Dataset) -> tuple:
    """``(training part, validation part or None)`` of the training sequences: ``training.validation``
    of them held out, drawn from ``training.seed`` (a stream of its own); ``ValueError`` naming the field
    when that leaves no sequence on either side."""
    fraction = exp.training.validation
    if fraction == 0.0:
        return train, None
    n = len(train)
    held = int(round(fraction * n))
    if held < 1 or held >= n:
        raise ValueError(f"training.validation={fraction:g} holds out {held} of the {n} training sequence(s); at "
                         "least 1 must be held out and 1 left to train on (0 for no validation split)")
    rng = np.random.default_rng(np.random.SeedSequence(exp.training.seed, spawn_key=(VALIDATION_STREAM,)))
    order = rng.permutation(n)
    return train.subset(np.sort(order[held:])), train.subset(np.sort(order[:held]))


def unchanged(hw: Optional[HardwareNetwork], score):
    """``score()`` with the chip put back as it was before it (its whole :meth:`HardwareNetwork.state`:
    conductances, clocks, generators, counters and energy, the weights last read back): scoring reads
    change nothing that follows. Without a chip, ``score()``."""
    if hw is None:
        return score()
    state = hw.state()
    try:
        return score()
    finally:
        hw.load_state(state, "the chip before a scoring read")


CALIBRATION_SEQUENCES = 256
"""Training sequences an ADC calibration runs (``adc.range_by = "calibration"``)."""


def calibrate(hw: HardwareNetwork, train) -> None:
    """Calibrate the chip's ADCs on the first :data:`CALIBRATION_SEQUENCES` training sequences (a
    :class:`~lstm.train.Dataset`, or a :class:`~xbar.problems.Problem`'s) when its configuration asks for
    it (``adc.range_by="calibration"``); otherwise nothing."""
    if hw.config.adc.range_by != "calibration" or hw.chip.adc_bits is None:
        return
    train = train.train if isinstance(train, Problem) else train
    n = min(CALIBRATION_SEQUENCES, len(train.x))
    hw.calibrate_adcs(train.x[:n], train.mask[:n])


def build_trainer(exp: Experiment, problem: Problem, way: Optional[str]):
    """``(trainer, network, hardware or None)`` of one way (``None`` or ``"software"``: the twin)."""
    way = None if way == "software" else way
    net = Network(network_config(exp, problem), seed=exp.training.seed)
    if way == "in_situ":
        hw = HardwareNetwork(net, chip_spec(exp, net, way), seed=exp.training.seed)
        start(hw, exp.hardware.start)
        return InSituTrainer(hw, exp.update, seed=exp.training.seed), net, hw
    if way == "hardware_aware":
        noise = programming_weight_noise(chip_spec(exp, net, way))
        return HardwareAwareTrainer(net, noise, seed=exp.training.seed), net, None
    return SoftwareTrainer(net), net, None


def train(exp: Experiment, problem: Optional[Problem] = None, way: Optional[str] = "experiment",
          trained: Optional[Network] = None, progress: bool = False, track: bool = False,
          checkpoint: Optional[str] = None, save_chip: Optional[str] = None) -> TrainResult:
    """Train one way and score it on the test data.

    Parameters
    ----------
    exp : Experiment
    problem : Problem, optional
        The loaded data (to share it between runs); default :func:`problem_of`.
    way : str or None
        ``None`` or ``"software"``: the software twin; a hardware way; default the experiment's.
    trained : Network, optional
        Ex situ: a network trained in software already, programmed as it is.
    track : bool
        Watch the test data after every epoch (``history.watch``, as an error): a watch on a snapshot of
        the chip (:func:`unchanged`), which changes nothing and chooses nothing. The history's ``metric``
        is the validation error (``training.validation``), which early stopping
        (``training.patience``) and ``training.keep = "best"`` choose by.
    checkpoint : str, optional
        A checkpoint written after every epoch and resumed from (:func:`lstm.train.fit`).
    save_chip : str, optional
        Keep the trained chip there (:meth:`HardwareNetwork.save`), taken just before the test (after the
        experiment's ``hardware.seconds_before_test``): a reloaded chip gives the same test outputs, bit for
        bit.
    """
    problem = problem or problem_of(exp)
    way = exp.hardware.way if way == "experiment" else way
    way = None if way == "software" else way
    fit_data, validation = split_validation(exp, problem.train)
    trainer, net, hw = build_trainer(exp, problem, way)

    def predict():
        return (hw or net).predict(problem.test_x, problem.test_mask)

    def validation_error():
        outputs = unchanged(hw, lambda: (hw or net).predict(validation.x, validation.mask))
        return problem.error(problem.evaluate(outputs, validation))

    watch = (lambda: problem.error(problem.score(unchanged(hw, predict)))) if track else None
    t = exp.training
    if trained is not None and way in ("ex_situ_one_shot", "ex_situ_write_verify"):
        net.set_params(trained.get_params())
        history = History()
    else:
        history = fit(trainer, fit_data, t.epochs, t.batch_size, exp.optimizer_config(), seed=t.seed,
                      metric=validation_error if validation is not None else None, patience=t.patience,
                      keep=t.keep, watch=watch, progress=progress,
                      description=f"{way} ({exp.hardware.preset})" if way else "software", checkpoint=checkpoint)
    if way in ("ex_situ_one_shot", "ex_situ_write_verify", "hardware_aware"):
        hw = HardwareNetwork(net, chip_spec(exp, net, way), seed=t.seed)
        method = "write_verify" if way == "ex_situ_write_verify" else "one_shot"
        device = exp.device_model()
        tolerance = max(device.program_noise_sigma / 2, 1e-3 * device.g_max)
        hw.program(method=method, **({"tolerance": tolerance} if method == "write_verify" else {}))
        calibrate(hw, fit_data)
    compensation = exp.hardware.drift_compensation
    if hw is not None and compensation != "none":
        hw.record_drift_reference()
    if hw is not None and exp.hardware.seconds_before_test > 0.0:
        hw.let_time_pass(exp.hardware.seconds_before_test)
        hw.compensate_drift(compensation)  # (no time passed: nothing drifted, and a gain of two reads is noise)
    if save_chip is not None and hw is not None:
        hw.save(save_chip)
    outputs = predict()
    training = {"training_sequences": len(fit_data),
                "validation_sequences": 0 if validation is None else len(validation),
                "epochs_run": len(history.epoch), "epoch_kept": None if history.kept is None else history.kept + 1,
                "stopped": history.stopped or None, "keep": t.keep, "patience": t.patience}
    if trained is not None and not history.epoch:
        training.update(epochs_run=0, stopped=None, note="programmed from the software twin's kept weights")
    return TrainResult(problem.score(outputs), history, net, hw, outputs, training)


# --------------------------------------------------------------------------- a whole run
def baseline(problem: Problem) -> dict:
    """What a network must beat, scored on the test data like it (``{"name", "what", <metric>}``).

    Classification: ``chance``, always the most frequent training class. Regression: ``persistence``
    where targets come a step apart (the airline series: next month = this month, 48.0 thousand
    passengers; per-step targets: each step's target is the previous step's, scored from the second
    valid step), else ``mean`` (always the training targets' mean).
    """
    if problem.kind == "classification":
        majority = int(np.argmax(np.bincount(np.asarray(problem.train.y).ravel(), minlength=len(problem.classes))))
        return {"name": "chance", "what": f"always the most frequent training class ({problem.classes[majority]})",
                problem.metric: float(np.mean(np.asarray(problem.test_truth) == majority))}
    if problem.name == "airline" and "task" in problem.extra:
        return {"name": "persistence", "what": "next month = this month",
                problem.metric: problem.extra["task"].persistence_rmse()}
    truth = np.asarray(problem.test_truth, dtype=np.float64)
    if problem.mode == "seq2seq" and truth.ndim == 3 and truth.shape[1] > 1:
        both = (problem.test_mask[:, 1:] == 1) & (problem.test_mask[:, :-1] == 1)
        err = (truth[:, 1:] - truth[:, :-1])[both]
        return {"name": "persistence", "what": "each step's target = the previous step's (from the second step)",
                problem.metric: float(np.sqrt(np.mean(err ** 2)))}
    mean = np.asarray(problem.unscale(np.zeros(truth.shape[-1])))  # standardised targets: mean 0
    err = truth - mean
    if truth.ndim == 3:
        err = err[problem.test_mask == 1]
    return {"name": "mean", "what": "always the training targets' mean",
            problem.metric: float(np.sqrt(np.mean(err ** 2)))}


RECORDED_WHEN_SET = {"encoding.scale_by": "matrix", "hardware.drift_compensation": "none",
                     **{f"update.{f.name}": f.default for f in dataclasses.fields(UpdateSpec)}}
"""Parameters added after runs were first recorded (issue 30: the scale per column, drift compensation, the
update algorithm and its settings), with their defaults: a run's resolved settings list them only when set
otherwise, so the records of runs that do not use them stay as they were."""


def resolved_settings(exp: Experiment, problem: Problem) -> dict:
    """Every setting as the run used it: the network resolved for the data (inputs, outputs, mode, head,
    loss) and every dotted parameter's value (periphery and device presets filled in; a converter left to
    its preset shows as None here, and :func:`run` adds the chip's own under ``"chip"``)."""
    values = {}
    for p in parameters(exp):
        value = exp.value_of(p.name)
        if p.name in RECORDED_WHEN_SET and value == RECORDED_WHEN_SET[p.name]:
            continue
        values[p.name] = list(value) if isinstance(value, tuple) else value
    return {"network": config_to_dict(network_config(exp, problem)), "parameters": values}


def evaluate_chip(exp: Experiment, path: str) -> dict:
    """Score a chip saved by ``xbar run --save-chip`` (:meth:`HardwareNetwork.save`) on the experiment's
    test data, as it is in the file: no training, no programming, no time passing (the file holds the chip
    just before the run's test, ``hardware.seconds_before_test`` already spent), so the metric is the run's,
    bit for bit.

    The chip's network must be the one the experiment builds for its data (inputs, hidden sizes, outputs,
    cell, head, mode, loss); ``ValueError`` naming the file and the first differences otherwise.

    Returns
    -------
    dict
        ``{"data", "metric", "chip", "hardware": {metric, "energy_J", "programming_pulses",
        "adc_saturations", "arrays"}, "baseline"}``: the chip's counters and energy include all work done
        on it before it was saved and the test read.
    """
    problem = problem_of(exp)
    hw = HardwareNetwork.load(path)
    wanted = config_to_dict(network_config(exp, problem))
    held = config_to_dict(hw.network.config)
    differences = [f"{k}: chip {held.get(k)!r}, experiment {wanted.get(k)!r}"
                   for k in sorted(set(wanted) | set(held)) if wanted.get(k) != held.get(k)]
    if differences:
        raise ValueError(f"{path}: the saved chip holds another network than the experiment builds for its data "
                         f"({'; '.join(differences[:3])})")
    outputs = hw.predict(problem.test_x, problem.test_mask)
    return {"data": problem.name, "metric": problem.metric, "chip": path,
            "hardware": chip_summary(hw, problem.metric, problem.score(outputs)), "baseline": baseline(problem)}


def chip_summary(hw: HardwareNetwork, metric: str, value: float) -> dict:
    """A chip's line of a result: its test metric, energy (J) of all work on it, programming pulses, ADC
    saturations and arrays."""
    counts = hw.counters()
    return {metric: value, "energy_J": hw.energy(), "programming_pulses": int(counts.programming_pulses),
            "adc_saturations": int(counts.adc_saturations), "arrays": len(hw.chip.arrays)}


def run(exp: Experiment, out: Optional[str] = None, progress: bool = True, save_chip: bool = False,
        checkpoint: Optional[str] = None) -> dict:
    """Train the software twin and the experiment's way, score both, and write what a reader needs.

    The metrics are those :func:`train` gives without watching (``xbar sweep`` of the same experiment and
    seed gives the same bits): the test curve watched here reads a snapshot of the chip.

    Writes into ``out`` (if given): ``experiment.toml`` (the experiment as run, ``--set`` values in: what
    ``xbar run OUT/experiment.toml --chip OUT/chip.npz`` scores a saved chip against); ``result.json`` (the
    metrics, the baseline, the experiment, every
    resolved setting and what each training did: validation size, epochs run, epoch kept, why it stopped);
    ``history.csv`` (per epoch of both runs: training loss, validation metric with ``training.validation``,
    and the test metric watched, which chooses nothing); ``predictions.csv`` (truth, software, hardware per
    test sequence, named by the user's own sequence ids, or per step); ``confusion_software.csv`` and
    ``confusion_hardware.csv`` (classification); ``conductances.npz`` (every array's true conductances, S,
    ``array1``, ``array2``, ...) and ``conductances_array<k>.csv`` for up to 16 arrays; figures
    ``history``, ``predictions`` or ``confusion``, ``conductance_map``, ``conductance_histogram`` as PNG and
    PDF; ``chip.npz`` with ``save_chip``, the trained chip just before the test (:meth:`HardwareNetwork.load`
    reads it; its test outputs are those of the run, bit for bit).

    Returns
    -------
    dict
        ``{"experiment", "data", "way", "metric", "software": {metric}, "hardware": {metric, "energy_J", ...},
        "baseline": {"name", "what", metric}, "settings", "training": {"software", "hardware"}, "seconds",
        "files"}``
    """
    began = time.perf_counter()
    problem = problem_of(exp)
    way = exp.hardware.way
    sw = train(exp, problem, None, progress=progress, track=True,
               checkpoint=None if checkpoint is None else os.path.join(checkpoint, "software.npz"))
    result = {"experiment": exp.to_dict(), "data": problem.name, "way": way, "metric": problem.metric,
              "software": {problem.metric: sw.metric}, "baseline": baseline(problem),
              "settings": resolved_settings(exp, problem), "training": {"software": sw.training}}
    hw_run = None
    if way != "software":
        chip_path = os.path.join(out, "chip.npz") if (save_chip and out) else None
        if chip_path:
            os.makedirs(out, exist_ok=True)
        hw_run = train(exp, problem, way, trained=sw.network, progress=progress, track=way not in (
            "ex_situ_one_shot", "ex_situ_write_verify"),
            checkpoint=None if checkpoint is None or way != "in_situ" else os.path.join(checkpoint, f"{way}.npz"),
            save_chip=chip_path)
        hw = hw_run.hardware
        result["hardware"] = chip_summary(hw, problem.metric, hw_run.metric)
        result["training"]["hardware"] = hw_run.training
        result["settings"]["chip"] = {"adc_bits": hw.chip.adc_bits,
                                      "dac_bits": None if hw.chip.dac is None else hw.chip.dac.bits,
                                      "array_rows": hw.chip.array_rows, "array_cols": hw.chip.array_cols,
                                      "arrays": len(hw.chip.arrays), "device": hw.chip.device.name}
    files = []
    if out:
        os.makedirs(out, exist_ok=True)
        files += _write_data(out, problem, sw, hw_run)
        files += _write_figures(out, problem, sw, hw_run, exp, result["baseline"])
        path = os.path.join(out, "experiment.toml")  # the experiment as run (--set values in), for --chip
        with open(path, "w") as f:
            f.write(exp.to_toml())
        files.append(path)
        if save_chip and hw_run is not None:
            files.append(os.path.join(out, "chip.npz"))
    result["seconds"] = time.perf_counter() - began
    result["files"] = files
    if out:
        path = os.path.join(out, "result.json")
        with open(path, "w") as f:
            json.dump(result, f, indent=1, default=float)
        result["files"].append(path)
    return result


def _write_csv(path: str, header, rows) -> str:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def confusion(problem: Problem, outputs: np.ndarray) -> np.ndarray:
    """Counts (true class, predicted class) of the test sequences."""
    k = len(problem.classes)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (problem.test_truth, np.argmax(outputs, axis=-1)), 1)
    return matrix


def _metric_word(problem: Problem) -> str:
    return problem.metric[len("test_"):]  # "accuracy" or "rmse"


def _write_data(out: str, problem: Problem, sw: TrainResult, hw: Optional[TrainResult]) -> list:
    files = []
    runs = [("software", sw)] + ([("hardware", hw)] if hw is not None else [])
    epochs = max(len(r.history.loss) for _, r in runs)
    word = _metric_word(problem)
    header, columns = ["epoch"], []
    for name, r in runs:
        header.append(f"{name}_loss")
        columns.append(r.history.loss)
        if not all(np.isnan(r.history.metric)):
            header.append(f"{name}_validation_{word}")
            columns.append([problem.error(m) for m in r.history.metric])
        if r.history.watch and not all(np.isnan(r.history.watch)):
            header.append(f"{name}_test_{word}_watched")
            columns.append([problem.error(m) for m in r.history.watch])
    rows = [[e + 1] + [c[e] if e < len(c) else "" for c in columns] for e in range(epochs)]
    files.append(_write_csv(os.path.join(out, "history.csv"), header, rows))
    ids = problem.test_ids if problem.test_ids is not None else list(range(len(problem.test_x)))
    if problem.kind == "classification":
        header = ["sequence", "truth"] + [f"{name}" for name, _ in runs]
        preds = [problem.predictions(r.outputs) for _, r in runs]
        rows = [[ids[i], problem.classes[t]] + [problem.classes[p[i]] for p in preds]
                for i, t in enumerate(problem.test_truth)]
        files.append(_write_csv(os.path.join(out, "predictions.csv"), header, rows))
        for name, r in runs:
            matrix = confusion(problem, r.outputs)
            files.append(_write_csv(os.path.join(out, f"confusion_{name}.csv"), ["truth \\ predicted"] + problem.classes,
                                    [[c] + list(row) for c, row in zip(problem.classes, matrix)]))
    else:
        preds = [problem.predictions(r.outputs) for _, r in runs]
        truth = np.asarray(problem.test_truth)
        rows = []
        if problem.name == "airline":
            for m in range(truth.shape[0]):
                rows.append([m + 2, truth[m]] + [float(p[0, m, 0]) for p in preds])
            header = ["month", "truth"] + [name for name, _ in runs]
        else:
            targets = problem.extra.get("targets") or [f"y{k}" for k in range(truth.shape[-1])]
            for index in np.ndindex(*truth.shape):
                if truth.ndim == 3 and problem.test_mask[index[0], index[1]] != 1:
                    continue  # padding past the sequence's end
                # steps counted from 1 as the figures count them, outputs by the target's own name
                place = [index[1] + 1] if truth.ndim == 3 else []
                rows.append([ids[index[0]]] + place + [targets[index[-1]], truth[index]]
                            + [float(p[index]) for p in preds])
            dims = ["sequence", "step", "target"] if truth.ndim == 3 else ["sequence", "target"]
            header = dims + ["truth"] + [name for name, _ in runs]
        files.append(_write_csv(os.path.join(out, "predictions.csv"), header, rows))
    if hw is not None:
        chip = hw.hardware.chip
        arrays = chip.conductances()
        path = os.path.join(out, "conductances.npz")
        np.savez_compressed(path, **{f"array{k + 1}": g for k, g in enumerate(arrays)})
        files.append(path)
        for k, g in enumerate(arrays[:16]):
            files.append(_write_csv(os.path.join(out, f"conductances_array{k + 1}.csv"),
                                    ["row"] + [f"col{j + 1}_uS" for j in range(g.shape[1])],
                                    [[i + 1] + list(np.round(row * 1e6, 6)) for i, row in enumerate(g)]))
    return files


def _shown(problem: Problem, value: float) -> float:
    """A metric as drawn: accuracy in percent, RMSE as it is."""
    return 100.0 * value if problem.metric == "test_accuracy" else value


def _write_figures(out: str, problem: Problem, sw: TrainResult, hw: Optional[TrainResult], exp: Experiment,
                   base: Optional[dict] = None) -> list:
    from xbar.figures import metric_label, microsiemens, plt, save_figure

    files = []
    base = base or baseline(problem)
    runs = [("software", sw)] + ([(f"{exp.hardware.way}, {exp.hardware.preset}", hw)] if hw is not None else [])
    fig, (ax_loss, ax_metric) = plt().subplots(1, 2, figsize=(10, 3.8))
    colors = ["tab:blue", "tab:red"]
    for (name, r), color in zip(runs, colors):
        if not r.history.loss:
            continue
        epochs = np.arange(1, len(r.history.loss) + 1)
        loss = np.asarray(r.history.loss)
        # a log axis over less than a decade labels only minor ticks (1.175x10^0): linear there
        wide = loss.min() > 0 and loss.max() / loss.min() >= 10
        (ax_loss.semilogy if wide else ax_loss.plot)(epochs, loss, color=color, label=name)
        validation = np.array(r.history.metric)
        if not np.all(np.isnan(validation)):
            ax_metric.plot(epochs, [_shown(problem, problem.error(m)) for m in validation], color=color,
                           label=f"{name}, validation")
            if r.history.kept is not None:
                k = r.history.kept
                ax_metric.plot([k + 1], [_shown(problem, problem.error(validation[k]))], "o", color=color,
                               markersize=6, label=f"{name}, epoch kept ({k + 1})")
        watch = np.array(r.history.watch)
        if watch.size and not np.all(np.isnan(watch)):
            ax_metric.plot(epochs, [_shown(problem, problem.error(m)) for m in watch], ":", color=color,
                           label=f"{name}, test (watched only: chooses nothing)")
    ax_metric.axhline(_shown(problem, base[problem.metric]), color="0.4", linestyle="--", linewidth=0.9,
                      label=f"{base['name']}, test")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_metric.set_xlabel("epoch")
    ax_metric.set_ylabel(metric_label(problem.metric, problem.name, "validation or test"))
    for ax in (ax_loss, ax_metric):
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, framealpha=0.6)  # the kept epoch's marker shows through
    files += save_figure(fig, out, "history")
    if problem.kind == "classification":
        k = len(problem.classes)
        side = max(3.6, 1.0 + 0.4 * k)
        fig, axes = plt().subplots(1, len(runs), figsize=(side * len(runs) + 0.6, side), squeeze=False)
        matrices = [confusion(problem, r.outputs) for _, r in runs]
        top = max(int(m.max()) for m in matrices) or 1
        for ax, (name, r), matrix in zip(axes[0], runs, matrices):
            im = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=top)
            for i in range(k):
                for j in range(k):
                    if matrix[i, j]:
                        ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=7,
                                color="white" if matrix[i, j] > top / 2 else "black")
            ax.set_xticks(range(k), problem.classes, rotation=90 if k > 12 else 0)
            ax.set_yticks(range(k), problem.classes)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(f"{name}: {100 * r.metric:.1f} % of {len(problem.test_truth)}\n"
                         f"({base['name']}: {100 * base[problem.metric]:.1f} %)", fontsize=9)
        fig.colorbar(im, ax=axes[0, -1], shrink=0.8, label="test sequences")
        files += save_figure(fig, out, "confusion")
    else:
        files += _regression_figure(out, problem, runs, base)
    if hw is not None:
        chip = hw.hardware.chip
        for path in (os.path.join(out, "conductance_map.png"), os.path.join(out, "conductance_map.pdf")):
            chip.save_layout(path)
            files.append(path)
        g = np.concatenate([a.ravel() for a in chip.conductances()]) * 1e6
        fig, ax = plt().subplots(figsize=(5, 3.5))
        ax.hist(g, bins=60, color="tab:blue")
        ax.set_xlabel(f"conductance ({microsiemens()})")
        ax.set_ylabel("devices")
        ax.set_title(f"{g.size} devices after training", fontsize=9)
        files += save_figure(fig, out, "conductance_histogram")
    return files


REGRESSION_SEQUENCES_DRAWN = 4
"""Test sequences the regression figure of per-step targets draws over their steps."""


def _regression_figure(out: str, problem: Problem, runs, base: dict) -> list:
    """Predictions against time (airline: months, per-step targets: steps of the first test sequences) with
    the truth and the baseline; one value a sequence: predicted against true, with the baseline's line."""
    from xbar.figures import save_figure, plt

    colors = ["tab:blue", "tab:red"]
    label = f"{base['name']} (RMSE {base[problem.metric]:.3g})"
    if problem.name == "airline" and "task" in problem.extra:
        task = problem.extra["task"]
        fig, ax = plt().subplots(figsize=(8, 4))
        months = np.arange(1, len(task.passengers) + 1)
        ax.plot(months, task.passengers, "k-", linewidth=1.2, label="truth")
        ax.plot(months[1:], task.passengers[:-1], color="0.5", linestyle="--", linewidth=0.9, label=label)
        for (name, r), color in zip(runs, colors):
            ax.plot(months[1:], task.unscale(r.outputs[0, :, 0]), color=color, label=f"{name} (RMSE {r.metric:.3g})")
        ax.axvspan(task.n_train + 1.5, months[-1] + 0.5, color="0.92", label="test months")
        ax.set_xticks(months[::12], [m[:4] for m in task.months[::12]])
        ax.set_xlabel("month")
        ax.set_ylabel("passengers (thousands)")
        ax.set_title("one month ahead; test RMSE in thousand passengers", fontsize=9)
        ax.legend(loc="upper left", fontsize=7)
        return save_figure(fig, out, "predictions")
    truth = np.asarray(problem.test_truth, dtype=np.float64)
    ids = problem.test_ids if problem.test_ids is not None else list(range(len(truth)))
    target = (problem.extra.get("targets") or ["target"])[0]
    if truth.ndim == 3:
        drawn = min(REGRESSION_SEQUENCES_DRAWN, truth.shape[0])
        preds = [np.asarray(problem.predictions(r.outputs)) for _, r in runs]  # unscaled once, not a panel
        fig, axes = plt().subplots(drawn, 1, figsize=(7, 1.9 * drawn + 0.6), sharex=True, squeeze=False)
        for s, ax in enumerate(axes[:, 0]):
            steps = np.flatnonzero(problem.test_mask[s] == 1)
            t = steps + 1
            ax.plot(t, truth[s, steps, 0], "k-", linewidth=1.2, label="truth")
            if base["name"] == "persistence" and len(steps) > 1:
                ax.plot(t[1:], truth[s, steps[:-1], 0], color="0.5", linestyle="--", linewidth=0.9, label=label)
            for (name, r), pred, color in zip(runs, preds, colors):
                ax.plot(t, pred[s, steps, 0], color=color, label=f"{name} (RMSE {r.metric:.3g})")
            ax.set_ylabel(f"{target}\nsequence {ids[s]}", fontsize=8)
        axes[-1, 0].set_xlabel("time step")
        axes[0, 0].set_title(f"test sequences: {target} over time (RMSE in its own units; "
                             f"{drawn} of {truth.shape[0]} drawn)", fontsize=9)
        axes[0, 0].legend(fontsize=7, loc="best")
        return save_figure(fig, out, "predictions")
    fig, ax = plt().subplots(figsize=(5, 4.2))
    flat = truth.ravel()
    for (name, r), color in zip(runs, colors):
        pred = np.asarray(problem.predictions(r.outputs)).ravel()
        ax.plot(flat, pred[:flat.size], ".", color=color, markersize=4, label=f"{name} (RMSE {r.metric:.3g})")
    low, high = float(flat.min()), float(flat.max())
    ax.plot([low, high], [low, high], "k-", linewidth=0.8, label="prediction = truth")
    if base["name"] == "mean":
        mean = float(np.asarray(problem.unscale(np.zeros(truth.shape[-1]))).ravel()[0])
        ax.axhline(mean, color="0.5", linestyle="--", linewidth=0.9, label=label)
    ax.set_xlabel(f"true {target} (its own units)")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title("one value a test sequence", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, out, "predictions")
