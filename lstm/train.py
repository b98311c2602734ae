"""The training loop: mini-batches, history, early stopping, resumable checkpoints.

The loop is the same in software and on hardware: a *trainer* computes the
gradients of a batch and applies the optimizer's changes. The software trainer
keeps the weights in memory; the hardware trainers (``lstm.hardware``) write
the changes into the devices.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np
from tqdm.auto import tqdm

from crossbar.validation import check_int, make_generator

from .network import Network
from .optim import Optimizer, OptimizerConfig


@dataclass
class Dataset:
    """Sequences, targets and the mask of valid steps.

    Attributes
    ----------
    x : ndarray, shape (n, time, features)
    y : ndarray
        Targets: (n, time, outputs) or (n, outputs) for regression; class
        indices (n,) or (n, time) for classification.
    mask : ndarray, shape (n, time)
    """

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:
        return self.x.shape[0]

    def subset(self, index) -> "Dataset":
        return Dataset(self.x[index], self.y[index], self.mask[index])


@dataclass
class History:
    """Per-epoch record of a run."""

    epoch: List[int] = field(default_factory=list)
    loss: List[float] = field(default_factory=list)
    metric: List[float] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "loss": self.loss, "metric": self.metric, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(list(d["epoch"]), list(d["loss"]), list(d["metric"]), list(d["seconds"]))


class SoftwareTrainer:
    """Exact gradients and weights held in memory: the software baseline."""

    def __init__(self, network: Network):
        self.network = network

    def gradients(self, batch: Dataset):
        return self.network.gradients(batch.x, batch.y, batch.mask)

    def apply(self, delta: Dict[str, np.ndarray]) -> None:
        for name, d in delta.items():
            self.network.params[name] += d * self.network.masks[name] if name in self.network.masks else d

    def state(self) -> Dict[str, np.ndarray]:
        return {f"param:{k}": v for k, v in self.network.params.items()}

    def load_state(self, state: Dict[str, np.ndarray]) -> None:
        self.network.set_params({k[6:]: v for k, v in state.items() if k.startswith("param:")})


def _save_checkpoint(path: str, arrays: Dict[str, np.ndarray], meta: dict) -> None:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".npz")
    os.close(fd)
    np.savez(tmp, __meta__=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)


def train_epoch(trainer, train: Dataset, batch_size: int, opt: Optimizer, rng: np.random.Generator,
                epoch: int = 0) -> List[float]:
    """One pass over ``train`` in mini-batches shuffled by ``rng``; the loss of each batch.

    Raises ``FloatingPointError`` (naming ``epoch``) when a loss is not finite.
    """
    order = rng.permutation(len(train))
    losses = []
    for k in range(0, len(train), batch_size):
        value, grads = trainer.gradients(train.subset(order[k:k + batch_size]))
        if not np.isfinite(value):
            raise FloatingPointError(f"loss is {value} at epoch {epoch}: training diverged")
        trainer.apply(opt.step(grads))
        losses.append(value)
    return losses


def fit(trainer, train: Dataset, epochs: int, batch_size: int, optimizer: OptimizerConfig,
        seed=0, metric: Optional[Callable[[], float]] = None, patience: Optional[int] = None,
        checkpoint: Optional[str] = None, progress: bool = True, description: str = "training") -> History:
    """Train for ``epochs`` passes over ``train`` in shuffled mini-batches.

    Parameters
    ----------
    trainer : SoftwareTrainer or a hardware trainer
        Has ``gradients(batch) -> (loss, grads)``, ``apply(delta)``, ``state()``, ``load_state()``.
    train : Dataset
    epochs, batch_size : int
    optimizer : OptimizerConfig
    seed : int
        Seeds the shuffling; with the checkpoint it makes a resumed run equal an uninterrupted one.
    metric : callable, optional
        Called after each epoch (e.g. a validation error; lower is better for
        early stopping); recorded in the history.
    patience : int, optional
        Stop when ``metric`` has not improved for this many epochs.
    checkpoint : str, optional
        Path of an ``.npz`` written after every epoch; if it exists, training
        resumes from it (same numbers as without the interruption).
    progress : bool
        Show a progress bar.

    Returns
    -------
    History
    """
    check_int("epochs", epochs, 1)
    check_int("batch_size", batch_size, 1)
    if len(train) == 0:
        raise ValueError("train is empty: no sequences to learn from")
    opt = Optimizer(optimizer)
    rng = make_generator(seed)
    history = History()
    best, waited, start = np.inf, 0, 0
    if checkpoint and os.path.exists(checkpoint):
        with np.load(checkpoint) as data:
            meta = json.loads(str(data["__meta__"]))
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
        trainer.load_state({k: v for k, v in arrays.items() if not k.startswith("opt:")})
        opt.load_state({k[4:]: v for k, v in arrays.items() if k.startswith("opt:")})
        rng.bit_generator.state = meta["rng"]
        history = History.from_dict(meta["history"])
        best, waited, start = meta["best"], meta["waited"], meta["epoch"] + 1
    bar = tqdm(range(start, epochs), desc=description, disable=not progress, initial=start, total=epochs,
               leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        losses = train_epoch(trainer, train, batch_size, opt, rng, epoch)
        history.epoch.append(epoch)
        history.loss.append(float(np.mean(losses)))
        history.metric.append(float(metric()) if metric is not None else float("nan"))
        history.seconds.append(time.perf_counter() - t0)
        postfix = {"loss": f"{history.loss[-1]:.4g}"}
        if metric is not None:
            postfix["metric"] = f"{history.metric[-1]:.4g}"
        bar.set_postfix(postfix, refresh=False)  # the bar redraws at its own pace, not every epoch
        stop = False
        if patience is not None and metric is not None:
            if history.metric[-1] < best:
                best, waited = history.metric[-1], 0
            else:
                waited += 1
                stop = waited >= patience
        if checkpoint:
            arrays = dict(trainer.state())
            arrays.update({f"opt:{k}": v for k, v in opt.state().items()})
            _save_checkpoint(checkpoint, arrays, {"epoch": epoch, "rng": rng.bit_generator.state,
                                                  "history": history.to_dict(), "best": best, "waited": waited})
        if stop:
            break
    bar.close()
    return history
