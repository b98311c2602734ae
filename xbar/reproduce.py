"""Li et al. 2019 on one simulated 128 x 64 array: the airline and speaker-identification runs.

Each run is the experiment :func:`xbar.experiment.li2019` of its task, trained
in situ on the ``li2019`` chip and, the same way, in software (its twin), by
the one runner (:mod:`xbar.runner`); this module adds the paper's figures.
"""

from __future__ import annotations

import os
import time
from typing import Optional

import numpy as np

from xbar.experiment import li2019
from xbar.figures import microsiemens, plt, save_figure
from xbar.runner import TrainResult, problem_of, train

AIRLINE_EPOCHS = 800
VOWELS_EPOCHS = 50
VOWELS_NOISE = 4e-6  # the li2019 preset's noise per pulse, siemens (Li's gait simulation used 5.6e-6)


def _conductance_figures(hw, out: str, name: str) -> list:
    paths = []
    for suffix in ("png", "pdf"):
        p = os.path.join(out, f"{name}_conductance_map.{suffix}")
        hw.chip.save_layout(p)
        paths.append(p)
    used = np.zeros((hw.chip.array_rows, hw.chip.array_cols), dtype=bool)
    for b in hw.chip.layout.blocks:
        used[b.rows[0]:b.rows[1], b.cols[0]:b.cols[1]] = True
    g = hw.chip.arrays[0].conductance[used] * 1e6
    fig, ax = plt().subplots(figsize=(5, 3.5))
    ax.hist(g, bins=60, color="tab:blue")
    ax.set_xlabel(f"conductance ({microsiemens()})")
    ax.set_ylabel("devices")
    ax.set_title(f"{name}: {g.size} devices in use after training")
    return paths + save_figure(fig, out, f"{name}_conductance_histogram")


def checkpoint_path(folder: Optional[str], task: str, way: Optional[str], seed: int,
                    start: str = "programmed") -> Optional[str]:
    """Where a run keeps its checkpoint inside ``folder`` (None: no checkpoint)."""
    if folder is None:
        return None
    name = "software" if way is None else (f"{way}_{start}" if way == "in_situ" else way)
    return os.path.join(folder, f"{task}_{name}_seed{seed}.npz")


def reproduce_airline(seed: int = 0, epochs: int = AIRLINE_EPOCHS, out: Optional[str] = "out",
                      progress: bool = True, start: str = "programmed", checkpoint: Optional[str] = None,
                      preset: str = "li2019") -> dict:
    """Airline passengers in situ on one li2019 array, beside the same network trained in software.

    SGD 0.01 with momentum 0.9, batch 1 (the one 95-month sequence), ``epochs`` epochs; ``start``
    as in :func:`xbar.runner.start`. With a ``checkpoint`` folder both runs keep a checkpoint there
    after every epoch and resume from it (the same numbers as without the interruption).

    Returns
    -------
    dict
        ``{"task", "software": {"test_rmse"}, "hardware": {"test_rmse", ...}, "seed", "epochs", "seconds", "figures"}``
    """
    began = time.perf_counter()
    exp = li2019("airline", seed, epochs, start, preset=preset)
    problem = problem_of(exp)
    task = problem.extra["task"]
    sw = train(exp, problem, None, progress=progress, checkpoint=checkpoint_path(checkpoint, "airline", None, seed))
    hw_run = train(exp, problem, "in_situ", progress=progress,
                   checkpoint=checkpoint_path(checkpoint, "airline", "in_situ", seed, start))
    hw = hw_run.hardware
    sw_pred, hw_pred = sw.outputs[0, :, 0], hw_run.outputs[0, :, 0]
    result = {
        "task": "airline",
        "software": {"test_rmse": sw.metric},
        "hardware": {"test_rmse": hw_run.metric, "persistence_rmse": task.persistence_rmse(),
                     "energy_J": hw.energy(), "programming_pulses": int(hw.chip.counters().programming_pulses)},
        "seed": seed, "epochs": epochs, "start": start,
    }
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        fig, ax = plt().subplots(figsize=(8, 4))
        months = np.arange(1, 145)
        ax.plot(months, task.passengers, "k-", linewidth=1.2, label="truth")
        ax.plot(months[1:], task.passengers[:-1], color="0.5", linestyle="--", linewidth=0.9,
                label=f"persistence: next month = this month ({task.persistence_rmse():.1f})")
        ax.plot(months[1:], task.unscale(sw_pred), color="tab:blue", label=f"software ({sw.metric:.1f})")
        ax.plot(months[1:], task.unscale(hw_pred), color="tab:red", label=f"in situ, {preset} ({hw_run.metric:.1f})")
        ax.axvspan(task.n_train + 1.5, 144.5, color="0.92", label="test months")
        ax.set_xticks(np.arange(1, 145, 12), [m[2:4] for m in task.months[::12]])
        ax.set_xlabel("year (19xx)")
        ax.set_ylabel("passengers (thousands)")
        ax.set_title("Airline passengers predicted one month ahead (test RMSE in legend, thousands)")
        ax.legend(loc="upper left", fontsize=8)
        figures += save_figure(fig, out, "airline_prediction")
        fig, ax = plt().subplots(figsize=(5, 3.5))
        ax.semilogy(np.arange(1, len(sw.history.loss) + 1), sw.history.loss, label="software")
        ax.semilogy(np.arange(1, len(hw_run.history.loss) + 1), hw_run.history.loss, label="in situ")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (1/2 sum of squares)")
        ax.legend()
        figures += save_figure(fig, out, "airline_loss")
        figures += _conductance_figures(hw, out, "airline")
    result["figures"] = [f for f in figures if f.endswith(".png")]
    result["seconds"] = time.perf_counter() - began
    return result


def train_vowels(seed: int, epochs: int, way: Optional[str], noise_sigma: float = VOWELS_NOISE,
                 progress: bool = False, track: bool = False, start: str = "programmed",
                 checkpoint: Optional[str] = None, problem=None, preset: str = "li2019") -> TrainResult:
    """The speaker network on ``preset`` devices (li2019 with ``noise_sigma`` (S) per pulse), one way (None:
    software)."""
    exp = li2019("vowels", seed, epochs, start, noise_sigma=noise_sigma if preset == "li2019" else None,
                 way=way or "in_situ", preset=preset)
    return train(exp, problem or problem_of(exp), way, progress=progress, track=track, checkpoint=checkpoint)


def reproduce_vowels(seed: int = 0, epochs: int = VOWELS_EPOCHS, out: Optional[str] = "out",
                     progress: bool = True, start: str = "programmed", checkpoint: Optional[str] = None,
                     preset: str = "li2019") -> dict:
    """Speaker identification (Japanese Vowels) in situ on one li2019 array, beside software.

    RMSprop 0.01, batch 50, ``epochs`` epochs; the li2019 preset's 4 uS noise per pulse (Li's gait
    simulation used 5.6 uS: see :func:`noise_study`). In situ starts from the software twin's
    random initial weights, programmed one-shot, so both runs start from the same network.
    """
    from xbar.runner import confusion

    began = time.perf_counter()
    problem = problem_of(li2019("vowels"))
    sw = train_vowels(seed, epochs, None, progress=progress, track=True, problem=problem,
                      checkpoint=checkpoint_path(checkpoint, "vowels", None, seed))
    hw_run = train_vowels(seed, epochs, "in_situ", progress=progress, track=True, start=start, problem=problem,
                          checkpoint=checkpoint_path(checkpoint, "vowels", "in_situ", seed, start), preset=preset)
    hw = hw_run.hardware
    result = {"task": "vowels", "software": {"test_accuracy": sw.metric},
              "hardware": {"test_accuracy": hw_run.metric, "energy_J": hw.energy(),
                           "programming_pulses": int(hw.chip.counters().programming_pulses)},
              "seed": seed, "epochs": epochs, "start": start}
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        fig, ax = plt().subplots(figsize=(5.5, 3.8))
        for run, name in ((sw, "software"), (hw_run, f"in situ, {preset}")):
            epochs = np.arange(1, len(run.history.watch) + 1)
            ax.plot(epochs, 100 * (1 - np.array(run.history.watch)),
                    label=f"{name} ({run.metric * 100:.1f} % at the end)")
        ax.axhline(100 / 9, color="0.5", linestyle="--", linewidth=0.9, label="chance (1 in 9)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("test data watched after each epoch (chooses nothing)", fontsize=9)
        ax.legend(fontsize=8)
        figures += save_figure(fig, out, "vowels_accuracy")
        runs = [("software", sw), (f"in situ, {preset}", hw_run)]
        matrices = [confusion(problem, r.outputs) for _, r in runs]
        top = max(int(m.max()) for m in matrices)
        fig, axes = plt().subplots(1, 2, figsize=(9.2, 4))
        for ax, (name, r), matrix in zip(axes, runs, matrices):
            im = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=top)
            for i in range(9):
                for j in range(9):
                    if matrix[i, j]:
                        ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=7,
                                color="white" if matrix[i, j] > top / 2 else "black")
            ax.set_xticks(range(9), range(1, 10))
            ax.set_yticks(range(9), range(1, 10))
            ax.set_xlabel("predicted speaker")
            ax.set_ylabel("true speaker")
            ax.set_title(f"{name}: {r.metric * 100:.1f} % of 370")
        fig.colorbar(im, ax=axes[-1], shrink=0.8, label="test utterances")
        figures += save_figure(fig, out, "vowels_confusion")
        figures += _conductance_figures(hw, out, "vowels")
    result["figures"] = [f for f in figures if f.endswith(".png")]
    result["seconds"] = time.perf_counter() - began
    return result


def noise_study(sigmas_uS=(0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0), seeds=(0, 1, 2), epochs: int = VOWELS_EPOCHS,
                out: Optional[str] = "out", progress: bool = True) -> dict:
    """In-situ test accuracy of the speaker network against programming noise (0 to 3 % of 400 uS)."""
    from tqdm.auto import tqdm

    began = time.perf_counter()
    problem = problem_of(li2019("vowels"))
    software = [train_vowels(s, epochs, None, problem=problem).metric for s in seeds]
    table = []
    points = [(sigma, s) for sigma in sigmas_uS for s in seeds]
    for sigma, s in tqdm(points, desc="noise study", disable=not progress):
        table.append(train_vowels(s, epochs, "in_situ", noise_sigma=sigma * 1e-6, problem=problem).metric)
    acc = np.array(table).reshape(len(sigmas_uS), len(seeds))
    result = {"task": "noise_study", "sigma_uS": list(sigmas_uS), "seeds": list(seeds),
              "hardware_accuracy": acc.tolist(), "software_accuracy": software, "epochs": epochs}
    if out:
        os.makedirs(out, exist_ok=True)
        fig, ax = plt().subplots(figsize=(5.5, 3.8))
        ax.errorbar(sigmas_uS, 100 * acc.mean(axis=1), yerr=100 * acc.std(axis=1), marker="o", capsize=3,
                    label=f"in situ, mean +- std over {len(seeds)} seeds")
        ax.axhline(100 * np.mean(software), color="k", linestyle="--", label="software")
        ax.set_xlabel(f"programming noise per pulse ({microsiemens()})")
        ax.set_ylabel("test accuracy (%)")
        top = ax.secondary_xaxis("top", functions=(lambda s: s / 4.0, lambda p: p * 4.0))
        top.set_xlabel(f"% of 400 {microsiemens()}")
        ax.legend(fontsize=8)
        result["figures"] = [p for p in save_figure(fig, out, "vowels_noise_study") if p.endswith(".png")]
    result["seconds"] = time.perf_counter() - began
    return result
