"""Li et al. 2019 on one simulated 128 x 64 array: the airline and speaker-identification runs.

Each run trains the network in situ on the ``li2019`` chip and, the same way,
in software (its twin), prints both test metrics and writes the figures.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import crossbar
from mapping import Encoding

from .hardware import (HardwareAwareTrainer, HardwareConfig, HardwareNetwork, InSituTrainer, li2019_corners,
                       programming_weight_noise)
from .network import Network, make_network
from .optim import OptimizerConfig
from .train import History, SoftwareTrainer, fit
from . import tasks

AIRLINE_EPOCHS = 800
VOWELS_EPOCHS = 50
VOWELS_NOISE = 4e-6  # the li2019 preset's noise per pulse, siemens (Li's gait simulation used 5.6e-6)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def airline_network(seed: int):
    """LSTM 15 with bias, dense 1 with sigmoid, summed squared error (Li et al.).

    The forget-gate bias starts at 0, as in the authors' code: this series asks
    the cell to follow the present month rather than integrate the past.
    """
    return make_network(1, [15], 1, seed=seed, head="sigmoid", loss="mse", reduction="sum", forget_bias=0.0)


def vowels_network(seed: int):
    """LSTM 14 without bias (12 inputs), dense 9 with softmax, loss at the last step."""
    return make_network(12, [14], 9, seed=seed, head="softmax", loss="cross_entropy", mode="seq2vec", bias=False)


def vowels_corners(network):
    """LSTM block at row 1, column 1 (52 rows x 56 columns); nine classes do not fit in the
    8 columns right of it, so the dense block (28 rows x 9 columns) sits below it, from row 53."""
    lstm_rows = 2 * (network.params["layer0.W"].shape[0] - 1)
    return {"layer0.W": (0, 0, 0), "head.W": (0, lstm_rows, 0)}


def _save(fig, out: str, name: str, plt) -> str:
    """Lay out, write ``out/name`` and close a figure; return its path."""
    fig.tight_layout()
    path = os.path.join(out, name)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _conductance_figures(hw: HardwareNetwork, out: str, name: str, plt) -> list:
    paths = []
    p = os.path.join(out, f"{name}_conductance_map.png")
    hw.chip.save_layout(p)
    paths.append(p)
    used = np.zeros((hw.chip.array_rows, hw.chip.array_cols), dtype=bool)
    for b in hw.chip.layout.blocks:
        used[b.rows[0]:b.rows[1], b.cols[0]:b.cols[1]] = True
    g = hw.chip.arrays[0].conductance[used] * 1e6
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(g, bins=60, color="tab:blue")
    ax.set_xlabel("conductance (uS)")
    ax.set_ylabel("devices")
    ax.set_title(f"{name}: {g.size} devices in use after training")
    paths.append(_save(fig, out, f"{name}_conductance_histogram.png", plt))
    return paths


def _start(hw: HardwareNetwork, start: str) -> None:
    """Bring the chip to its starting weights: ``programmed`` (the software twin's random initial
    weights, one shot: both runs start from the same network) or ``li2019`` (every device RESET and
    SET at 1.0 V as Li et al., all weights zero up to the noise)."""
    if start == "programmed":
        hw.program()
    elif start == "li2019":
        hw.initialize()
    else:
        raise ValueError(f"start={start!r} is not allowed; choose 'programmed' or 'li2019'")


def checkpoint_path(folder: Optional[str], problem: str, way: Optional[str], seed: int,
                    start: str = "programmed") -> Optional[str]:
    """Where a run of :func:`train_on_chip` keeps its checkpoint inside ``folder`` (None: no checkpoint)."""
    if folder is None:
        return None
    name = "software" if way is None else (f"{way}_{start}" if way == "in_situ" else way)
    return os.path.join(folder, f"{problem}_{name}_seed{seed}.npz")


def reproduce_airline(seed: int = 0, epochs: int = AIRLINE_EPOCHS, out: Optional[str] = "out",
                      progress: bool = True, start: str = "programmed", checkpoint: Optional[str] = None) -> dict:
    """Airline passengers in situ on one li2019 array, beside the same network trained in software.

    SGD 0.01 with momentum 0.9, batch 1 (the one 95-month sequence), ``epochs`` epochs; ``start``
    as in :func:`_start`. With a ``checkpoint`` folder both runs keep a checkpoint there after every
    epoch and resume from it (the same numbers as without the interruption).

    Returns
    -------
    dict
        ``{"task", "software": {"test_rmse"}, "hardware": {"test_rmse", ...}, "seed", "epochs", "seconds", "figures"}``
    """
    began = time.perf_counter()
    task = tasks.airline()
    sw = train_on_chip("airline", seed, epochs, None, task=task, progress=progress,
                       checkpoint=checkpoint_path(checkpoint, "airline", None, seed))
    hw_run = train_on_chip("airline", seed, epochs, "in_situ", task=task, start=start, progress=progress,
                           checkpoint=checkpoint_path(checkpoint, "airline", "in_situ", seed, start))
    sw_history, hw_history, hw = sw.history, hw_run.history, hw_run.hardware
    sw_pred, hw_pred = sw.outputs[0, :, 0], hw_run.outputs[0, :, 0]
    result = {
        "task": "airline",
        "software": {"test_rmse": task.test_rmse(sw_pred)},
        "hardware": {"test_rmse": task.test_rmse(hw_pred), "persistence_rmse": task.persistence_rmse(),
                     "energy_J": hw.energy(), "programming_pulses": int(hw.chip.counters().programming_pulses)},
        "seed": seed, "epochs": epochs, "start": start,
    }
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        plt = _plt()
        fig, ax = plt.subplots(figsize=(8, 4))
        months = np.arange(1, 145)
        ax.plot(months, task.passengers, "k--", label="truth")
        ax.plot(months[1:], task.unscale(sw_pred), color="tab:blue", label=f"software ({result['software']['test_rmse']:.1f})")
        ax.plot(months[1:], task.unscale(hw_pred), color="tab:red",
                label=f"in situ, li2019 ({result['hardware']['test_rmse']:.1f})")
        ax.axvspan(task.n_train + 1.5, 144.5, color="0.92", label="test months")
        ax.set_xticks(np.arange(1, 145, 12), [m[2:4] for m in task.months[::12]])
        ax.set_xlabel("year (19xx)")
        ax.set_ylabel("passengers (thousands)")
        ax.set_title("Airline passengers predicted one month ahead (test RMSE in legend)")
        ax.legend(loc="upper left", fontsize=8)
        figures.append(_save(fig, out, "airline_prediction.png", plt))
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.semilogy(sw_history.loss, label="software")
        ax.semilogy(hw_history.loss, label="in situ")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (1/2 sum of squares)")
        ax.legend()
        figures.append(_save(fig, out, "airline_loss.png", plt))
        figures += _conductance_figures(hw, out, "airline", plt)
    result["figures"] = figures
    result["seconds"] = time.perf_counter() - began
    return result


@dataclass(frozen=True)
class Problem:
    """What differs between the two tasks: network, placement, optimizer, batch and score."""

    name: str
    metric: str                                   # "test_rmse" (lower is better) or "test_accuracy"
    load: Callable
    network: Callable[[int], Network]
    corners: Callable[[Network], dict]
    optimizer: OptimizerConfig
    batch_size: int
    test_inputs: Callable                         # task -> (x, mask)
    score: Callable                               # (task, outputs) -> metric
    error: Callable                               # metric -> something to minimise (tracked per epoch)


PROBLEMS = {
    "airline": Problem("airline", "test_rmse", tasks.airline, lambda s: airline_network(s),
                       lambda n: li2019_corners(n), OptimizerConfig("sgd", 0.01, momentum=0.9), 1,
                       lambda t: (t.full.x, None), lambda t, out: t.test_rmse(out[0, :, 0]), lambda m: m),
    "vowels": Problem("vowels", "test_accuracy", tasks.vowels, lambda s: vowels_network(s),
                      lambda n: vowels_corners(n), OptimizerConfig("rmsprop", 0.01), 50,
                      lambda t: (t.test.x, t.test.mask), lambda t, out: t.accuracy(out, t.test.y),
                      lambda m: 1.0 - m),
}


@dataclass
class TrainResult:
    """One training run: its test metric, history, network, chip (None in software) and test outputs."""

    metric: float
    history: History
    network: Network
    hardware: Optional[HardwareNetwork]
    outputs: np.ndarray


def default_epochs(problem: str) -> int:
    """The paper's epoch count of a task (800 airline, 50 vowels)."""
    return AIRLINE_EPOCHS if problem == "airline" else VOWELS_EPOCHS


def way_encoding(way: Optional[str], encoding_changes: Optional[dict] = None) -> Encoding:
    """The encoding of a way onto hardware: in situ the fixed scale (Li et al.'s 100 uS per unit weight),
    ex situ the whole range for the known weights (``max_abs``); ``encoding_changes`` override either."""
    return Encoding(**{"scale": "fixed" if way == "in_situ" else "max_abs", **(encoding_changes or {})})


def build_trainer(problem: str, seed: int, way: Optional[str], device: crossbar.DeviceModel,
                  preset: str = "li2019", encoding_changes: Optional[dict] = None, adc_range: float = 6.0,
                  start: str = "programmed"):
    """The network, its chip configuration and the trainer of one way of training (see :func:`train_on_chip`).

    Returns
    -------
    trainer, network, hardware (in situ only, else None), HardwareConfig
    """
    spec = PROBLEMS[problem]
    net = spec.network(seed)
    encoding = way_encoding(way, encoding_changes)
    config = HardwareConfig(preset=preset, n_arrays=1, corners=spec.corners(net), device=device, encoding=encoding,
                            adc_range=adc_range)
    if way == "in_situ":
        hw = HardwareNetwork(net, config, seed=seed)
        _start(hw, start)
        return InSituTrainer(hw), net, hw, config
    if way == "hardware_aware":
        return HardwareAwareTrainer(net, programming_weight_noise(config), seed=seed), net, None, config
    return SoftwareTrainer(net), net, None, config


def train_on_chip(problem: str, seed: int, epochs: int, way: Optional[str], task=None,
                  device: Optional[crossbar.DeviceModel] = None, preset: str = "li2019",
                  encoding_changes: Optional[dict] = None, adc_range: float = 6.0, start: str = "programmed",
                  trained: Optional[Network] = None, progress: bool = False, track: bool = False,
                  checkpoint: Optional[str] = None) -> TrainResult:
    """Train one of Li et al.'s networks in software or onto one simulated 128x64 array.

    Parameters
    ----------
    problem : {"airline", "vowels"}
    way : None (software), "in_situ", "ex_situ_one_shot", "ex_situ_write_verify" or "hardware_aware"
    task : the loaded task, to save reloading it
    device : crossbar.DeviceModel, optional
        Default: the ``preset``'s device.
    encoding_changes, adc_range
        Adjust the mapping (ex situ spreads the known weights over the whole range: ``max_abs``).
    start : str
        In-situ starting weights (see :func:`_start`).
    trained : Network, optional
        Ex situ: a network already trained in software, programmed as it is instead of training again.
    track : bool
        Record the test error after every epoch in the history.
    checkpoint : str, optional
        A checkpoint file written after every epoch and resumed from (see :func:`lstm.train.fit`).
    """
    spec = PROBLEMS[problem]
    task = task or spec.load()
    x_test, mask_test = spec.test_inputs(task)
    device = device or crossbar.preset(preset)
    trainer, net, hw, config = build_trainer(problem, seed, way, device, preset, encoding_changes, adc_range, start)
    if hw is not None:
        predict = lambda: hw.predict(x_test, mask_test)  # noqa: E731
    else:
        predict = lambda: net.predict(x_test, mask_test)  # noqa: E731
    metric = (lambda: spec.error(spec.score(task, predict()))) if track else None
    if trained is not None and way in ("ex_situ_one_shot", "ex_situ_write_verify"):
        net.set_params(trained.get_params())
        history = History()
    else:
        history = fit(trainer, task.train, epochs, spec.batch_size, spec.optimizer, seed=seed, metric=metric,
                      progress=progress, description=f"{way} ({preset})" if way else "software",
                      checkpoint=checkpoint)
    if way in ("ex_situ_one_shot", "ex_situ_write_verify", "hardware_aware"):
        hw = HardwareNetwork(net, config, seed=seed)
        method = "write_verify" if way == "ex_situ_write_verify" else "one_shot"
        tolerance = max(device.program_noise_sigma / 2, 1e-3 * device.g_max)
        hw.program(method=method, **({"tolerance": tolerance} if method == "write_verify" else {}))
    outputs = hw.predict(x_test, mask_test) if hw is not None else predict()
    return TrainResult(spec.score(task, outputs), history, net, hw, outputs)


def train_vowels(seed: int, epochs: int, hardware: Optional[str], noise_sigma: float = VOWELS_NOISE,
                 progress: bool = False, track: bool = False, task=None, start: str = "programmed",
                 checkpoint: Optional[str] = None):
    """The speaker network on li2019 devices with ``noise_sigma`` per pulse (see :func:`train_on_chip`).

    Returns (accuracy, history, hardware network or None, probabilities).
    """
    device = crossbar.preset("li2019").replace(program_noise_sigma=noise_sigma)
    r = train_on_chip("vowels", seed, epochs, hardware, task=task, device=device, start=start, progress=progress,
                      track=track, checkpoint=checkpoint)
    return r.metric, r.history, r.hardware, r.outputs


def reproduce_vowels(seed: int = 0, epochs: int = VOWELS_EPOCHS, out: Optional[str] = "out",
                     progress: bool = True, start: str = "programmed", checkpoint: Optional[str] = None) -> dict:
    """Speaker identification (Japanese Vowels) in situ on one li2019 array, beside software.

    RMSprop 0.01, batch 50, ``epochs`` epochs; the li2019 preset's 4 uS noise per pulse (Li's gait
    simulation used 5.6 uS: see :func:`noise_study`). In situ starts from the software twin's
    random initial weights, programmed one-shot, so both runs start from the same network.
    """
    began = time.perf_counter()
    task = tasks.vowels()
    sw_acc, sw_history, _, _ = train_vowels(seed, epochs, None, progress=progress, track=True, task=task,
                                            checkpoint=checkpoint_path(checkpoint, "vowels", None, seed))
    hw_acc, hw_history, hw, probabilities = train_vowels(
        seed, epochs, "in_situ", progress=progress, track=True, task=task, start=start,
        checkpoint=checkpoint_path(checkpoint, "vowels", "in_situ", seed, start))
    result = {"task": "vowels", "software": {"test_accuracy": sw_acc},
              "hardware": {"test_accuracy": hw_acc, "energy_J": hw.energy(),
                           "programming_pulses": int(hw.chip.counters().programming_pulses)},
              "seed": seed, "epochs": epochs, "start": start}
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        plt = _plt()
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(100 * (1 - np.array(sw_history.metric)), label=f"software ({sw_acc * 100:.1f} %)")
        ax.plot(100 * (1 - np.array(hw_history.metric)), label=f"in situ, li2019 ({hw_acc * 100:.1f} %)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.legend()
        figures.append(_save(fig, out, "vowels_accuracy.png", plt))
        confusion = np.zeros((9, 9), dtype=int)
        np.add.at(confusion, (task.test.y, np.argmax(probabilities, axis=1)), 1)
        fig, ax = plt.subplots(figsize=(4.6, 4))
        im = ax.imshow(confusion, cmap="Blues")
        for i in range(9):
            for j in range(9):
                if confusion[i, j]:
                    ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize=7,
                            color="white" if confusion[i, j] > confusion.max() / 2 else "black")
        ax.set_xticks(range(9), range(1, 10))
        ax.set_yticks(range(9), range(1, 10))
        ax.set_xlabel("predicted speaker")
        ax.set_ylabel("true speaker")
        ax.set_title(f"in situ: {hw_acc * 100:.1f} % of 370")
        fig.colorbar(im, ax=ax, shrink=0.8)
        figures.append(_save(fig, out, "vowels_confusion.png", plt))
        figures += _conductance_figures(hw, out, "vowels", plt)
    result["figures"] = figures
    result["seconds"] = time.perf_counter() - began
    return result


def noise_study(sigmas_uS=(0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0), seeds=(0, 1, 2), epochs: int = VOWELS_EPOCHS,
                out: Optional[str] = "out", progress: bool = True) -> dict:
    """In-situ test accuracy of the speaker network against programming noise (0 to 3 % of 400 uS)."""
    from tqdm.auto import tqdm

    began = time.perf_counter()
    task = tasks.vowels()
    software = [train_vowels(s, epochs, None, task=task)[0] for s in seeds]
    table = []
    points = [(sigma, s) for sigma in sigmas_uS for s in seeds]
    for sigma, s in tqdm(points, desc="noise study", disable=not progress):
        table.append((sigma, s, train_vowels(s, epochs, "in_situ", noise_sigma=sigma * 1e-6, task=task)[0]))
    acc = np.array([a for _, _, a in table]).reshape(len(sigmas_uS), len(seeds))
    result = {"task": "noise_study", "sigma_uS": list(sigmas_uS), "seeds": list(seeds),
              "hardware_accuracy": acc.tolist(), "software_accuracy": software, "epochs": epochs}
    if out:
        os.makedirs(out, exist_ok=True)
        plt = _plt()
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        ax.errorbar(sigmas_uS, 100 * acc.mean(axis=1), yerr=100 * acc.std(axis=1), marker="o", capsize=3,
                    label=f"in situ, mean +- std over {len(seeds)} seeds")
        ax.axhline(100 * np.mean(software), color="k", linestyle="--", label="software")
        ax.set_xlabel("programming noise per pulse (uS)")
        ax.set_ylabel("test accuracy (%)")
        top = ax.secondary_xaxis("top", functions=(lambda s: s / 4.0, lambda p: p * 4.0))
        top.set_xlabel("% of 400 uS")
        ax.legend(fontsize=8)
        result["figures"] = [_save(fig, out, "vowels_noise_study.png", plt)]
    result["seconds"] = time.perf_counter() - began
    return result
