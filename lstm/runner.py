"""The one runner of an :class:`~lstm.experiment.Experiment`: software twin and hardware, side by side.

:func:`train` trains one way (``None``: software) and scores the test data;
:func:`run` does both, writes the figures (PNG and PDF) and the data behind
them (metrics per epoch, predictions, confusion matrix, conductances, the
result) and can keep the trained chip. ``xbar run``, ``xbar reproduce``,
``xbar sweep``, the benchmarks and the notebooks all go through here.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .experiment import Experiment
from .hardware import (HardwareAwareTrainer, HardwareConfig, HardwareNetwork, InSituTrainer, li2019_corners,
                       programming_weight_noise)
from .network import Network, NetworkConfig
from .problems import Problem, load_problem
from .train import History, SoftwareTrainer, fit


def problem_of(exp: Experiment) -> Problem:
    """The experiment's data as a :class:`~lstm.problems.Problem` (its split drawn from ``training.seed``)."""
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


def hardware_config(exp: Experiment, network: Network, way: Optional[str] = None) -> HardwareConfig:
    """The chip of the experiment for a way (its encoding differs between in situ and ex situ)."""
    way = exp.hardware.way if way is None else way
    return HardwareConfig(preset=exp.hardware.preset, device=exp.device_model(),
                          ideal_converters=exp.hardware.ideal_converters, array_rows=exp.array.rows,
                          array_cols=exp.array.cols, n_arrays=exp.array.count, corners=corners(exp, network),
                          encoding=exp.encoding_config(way), adc_range=exp.adc.range, wires=exp.wires.resistance(),
                          dac_bits=exp.dac.bits, adc_bits=exp.adc.bits, adc_range_by=exp.adc.range_by,
                          adc_circuit=exp.adc.circuit(), slicing=exp.slicing.weights(),
                          dac_bit_serial=exp.dac.inputs == "bit_serial", dac_conversion=exp.dac.conversion,
                          read_scheme=exp.array.read_scheme,
                          write_scheme=exp.array.writes(), dac_bits_per_cycle=exp.dac.bits_per_cycle,
                          device_read_scheme=exp.array.device_read_scheme,
                          device_read_voltage=exp.array.device_read_voltage,
                          seconds_per_read=exp.array.seconds_per_read, seconds_per_write=exp.array.seconds_per_write,
                          periphery=None if exp.hardware.periphery == "none" else exp.hardware.periphery)


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
    """One training run: its test metric, history, network, chip (None in software) and test outputs."""

    metric: float
    history: History
    network: Network
    hardware: Optional[HardwareNetwork]
    outputs: np.ndarray


CALIBRATION_SEQUENCES = 256
"""Training sequences an ADC calibration runs (``adc.range_by = "calibration"``)."""


def calibrate(hw: HardwareNetwork, problem: Problem) -> None:
    """Calibrate the chip's ADCs on the first :data:`CALIBRATION_SEQUENCES` training sequences when its
    configuration asks for it (``adc_range_by="calibration"``); otherwise nothing."""
    if hw.config.adc_range_by != "calibration" or hw.chip.adc_bits is None:
        return
    n = min(CALIBRATION_SEQUENCES, len(problem.train.x))
    hw.calibrate_adcs(problem.train.x[:n], problem.train.mask[:n])


def build_trainer(exp: Experiment, problem: Problem, way: Optional[str]):
    """``(trainer, network, hardware or None)`` of one way (``None`` or ``"software"``: the twin)."""
    way = None if way == "software" else way
    net = Network(network_config(exp, problem), seed=exp.training.seed)
    if way == "in_situ":
        hw = HardwareNetwork(net, hardware_config(exp, net, way), seed=exp.training.seed)
        start(hw, exp.hardware.start)
        return InSituTrainer(hw), net, hw
    if way == "hardware_aware":
        noise = programming_weight_noise(hardware_config(exp, net, way))
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
        Score the test data after every epoch (the history's metric, as an error to minimise).
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
    trainer, net, hw = build_trainer(exp, problem, way)

    def predict():
        return (hw or net).predict(problem.test_x, problem.test_mask)

    metric = (lambda: problem.error(problem.score(predict()))) if track else None
    t = exp.training
    if trained is not None and way in ("ex_situ_one_shot", "ex_situ_write_verify"):
        net.set_params(trained.get_params())
        history = History()
    else:
        history = fit(trainer, problem.train, t.epochs, t.batch_size, exp.optimizer_config(), seed=t.seed,
                      metric=metric, progress=progress,
                      description=f"{way} ({exp.hardware.preset})" if way else "software", checkpoint=checkpoint)
    if way in ("ex_situ_one_shot", "ex_situ_write_verify", "hardware_aware"):
        hw = HardwareNetwork(net, hardware_config(exp, net, way), seed=t.seed)
        method = "write_verify" if way == "ex_situ_write_verify" else "one_shot"
        device = exp.device_model()
        tolerance = max(device.program_noise_sigma / 2, 1e-3 * device.g_max)
        hw.program(method=method, **({"tolerance": tolerance} if method == "write_verify" else {}))
        calibrate(hw, problem)
    if hw is not None and exp.hardware.seconds_before_test > 0.0:
        hw.let_time_pass(exp.hardware.seconds_before_test)
    if save_chip is not None and hw is not None:
        hw.save(save_chip)
    outputs = predict()
    return TrainResult(problem.score(outputs), history, net, hw, outputs)


# --------------------------------------------------------------------------- a whole run
def run(exp: Experiment, out: Optional[str] = None, progress: bool = True, save_chip: bool = False,
        checkpoint: Optional[str] = None) -> dict:
    """Train the software twin and the experiment's way, score both, and write what a reader needs.

    Writes into ``out`` (if given): ``result.json``; ``history.csv`` (loss and
    test metric per epoch of both runs); ``predictions.csv`` (truth, software,
    hardware per test sequence, or per step); ``confusion_software.csv`` and
    ``confusion_hardware.csv`` (classification); ``conductances.npz`` (every
    array's true conductances, S) and ``conductances_array<k>.csv`` for up to
    16 arrays; figures ``history``, ``predictions`` or ``confusion``,
    ``conductance_map``, ``conductance_histogram`` as PNG and PDF;
    ``chip.npz`` with ``save_chip``, the trained chip just before the test (:meth:`HardwareNetwork.load`
    reads it; its test outputs are those of the run, bit for bit).

    Returns
    -------
    dict
        ``{"experiment", "software": {metric}, "hardware": {metric, "energy_J", ...}, "way", "seconds", "files"}``
    """
    began = time.perf_counter()
    problem = problem_of(exp)
    way = exp.hardware.way
    sw = train(exp, problem, None, progress=progress, track=True,
               checkpoint=None if checkpoint is None else os.path.join(checkpoint, "software.npz"))
    result = {"experiment": exp.to_dict(), "data": problem.name, "way": way, "metric": problem.metric,
              "software": {problem.metric: sw.metric}}
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
        counts = hw.counters()
        result["hardware"] = {problem.metric: hw_run.metric, "energy_J": hw.energy(),
                              "programming_pulses": int(counts.programming_pulses),
                              "adc_saturations": int(counts.adc_saturations),
                              "arrays": len(hw.chip.arrays)}
    files = []
    if out:
        os.makedirs(out, exist_ok=True)
        files += _write_data(out, problem, sw, hw_run)
        files += _write_figures(out, problem, sw, hw_run, exp)
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


def _write_data(out: str, problem: Problem, sw: TrainResult, hw: Optional[TrainResult]) -> list:
    files = []
    runs = [("software", sw)] + ([("hardware", hw)] if hw is not None else [])
    epochs = max(len(r.history.loss) for _, r in runs)
    header, columns = ["epoch"], []
    for name, r in runs:
        header += [f"{name}_loss", f"{name}_{problem.metric}"]
        metric = [m if np.isnan(m) else (1.0 - m if problem.metric == "test_accuracy" else m) for m in r.history.metric]
        columns += [r.history.loss, metric]
    rows = [[e + 1] + [c[e] if e < len(c) else "" for c in columns] for e in range(epochs)]
    files.append(_write_csv(os.path.join(out, "history.csv"), header, rows))
    if problem.kind == "classification":
        header = ["sequence", "truth"] + [f"{name}" for name, _ in runs]
        preds = [problem.predictions(r.outputs) for _, r in runs]
        rows = [[i, problem.classes[t]] + [problem.classes[p[i]] for p in preds]
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
            for index in np.ndindex(*truth.shape):
                rows.append(list(index) + [truth[index]] + [float(p[index]) for p in preds])
            dims = ["sequence", "step", "output"][:truth.ndim] if truth.ndim == 3 else ["sequence", "output"]
            header = dims + ["truth"] + [name for name, _ in runs]
        files.append(_write_csv(os.path.join(out, "predictions.csv"), header, rows))
    if hw is not None:
        chip = hw.hardware.chip
        arrays = chip.conductances()
        path = os.path.join(out, "conductances.npz")
        np.savez_compressed(path, **{f"array{k}": g for k, g in enumerate(arrays)})
        files.append(path)
        for k, g in enumerate(arrays[:16]):
            files.append(_write_csv(os.path.join(out, f"conductances_array{k + 1}.csv"),
                                    ["row"] + [f"col{j + 1}_uS" for j in range(g.shape[1])],
                                    [[i + 1] + list(np.round(row * 1e6, 6)) for i, row in enumerate(g)]))
    return files


def _write_figures(out: str, problem: Problem, sw: TrainResult, hw: Optional[TrainResult], exp: Experiment) -> list:
    from .figures import save_figure, plt, microsiemens

    files = []
    runs = [("software", sw)] + ([(f"{exp.hardware.way}, {exp.hardware.preset}", hw)] if hw is not None else [])
    fig, (ax_loss, ax_metric) = plt().subplots(1, 2, figsize=(9, 3.6))
    for name, r in runs:
        if r.history.loss:
            ax_loss.semilogy(np.arange(1, len(r.history.loss) + 1), r.history.loss, label=name)
            metric = np.array(r.history.metric)
            if not np.all(np.isnan(metric)):
                shown = 100 * (1 - metric) if problem.metric == "test_accuracy" else metric
                ax_metric.plot(np.arange(1, len(shown) + 1), shown, label=name)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_metric.set_xlabel("epoch")
    ax_metric.set_ylabel("test accuracy (%)" if problem.metric == "test_accuracy" else "test RMSE")
    for ax in (ax_loss, ax_metric):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    files += save_figure(fig, out, "history")
    if problem.kind == "classification":
        r_name, r = runs[-1]
        matrix = confusion(problem, r.outputs)
        k = len(problem.classes)
        fig, ax = plt().subplots(figsize=(max(4.0, 1.2 + 0.42 * k), max(3.4, 1.0 + 0.38 * k)))
        im = ax.imshow(matrix, cmap="Blues")
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=7,
                            color="white" if matrix[i, j] > matrix.max() / 2 else "black")
        ax.set_xticks(range(k), problem.classes, rotation=90 if k > 12 else 0)
        ax.set_yticks(range(k), problem.classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{r_name}: {100 * r.metric:.1f} % of {len(problem.test_truth)}", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
        files += save_figure(fig, out, "confusion")
    else:
        fig, ax = plt().subplots(figsize=(5, 4))
        truth = np.asarray(problem.test_truth).ravel()
        for name, r in runs:
            pred = np.asarray(problem.predictions(r.outputs)).ravel()
            if problem.name == "airline":
                pred = pred[-truth.size:]
            ax.plot(truth, pred[:truth.size], ".", markersize=3, label=f"{name} (RMSE {r.metric:.3g})")
        low, high = float(truth.min()), float(truth.max())
        ax.plot([low, high], [low, high], "k--", linewidth=0.8)
        ax.set_xlabel("truth")
        ax.set_ylabel("predicted")
        ax.legend(fontsize=8)
        files += save_figure(fig, out, "predictions")
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
