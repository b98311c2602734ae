"""The training loop: mini-batches, history, early stopping, resumable checkpoints.

The loop is the same in software and on hardware: a *trainer* computes the
gradients of a batch and applies the optimizer's changes. The software trainer
keeps the weights in memory; the hardware trainers (``lstm.hardware``) write
the changes into the devices.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np
from tqdm.auto import tqdm

from crossbar.validation import as_float_array, check_int, make_generator

from crossbar.files import load_arrays, save_arrays
from lstm.network import Network
from lstm.optim import Optimizer, OptimizerConfig


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
    """Per-epoch record of a run, and what became of it.

    Attributes
    ----------
    epoch : list of int
        Epochs run, from 0.
    loss : list of float
        Mean training loss of each epoch.
    metric : list of float
        The metric that chooses (a validation error: lower is better; NaN without one).
    watch : list of float
        A watched error (e.g. on the test data) recorded after each epoch: it chooses nothing
        (NaN without one).
    seconds : list of float
        Wall time of each epoch, s.
    kept : int or None
        The epoch (from 0) whose weights the run ended with.
    stopped : str
        Why training ended: ``"epochs"`` (all ran) or ``"patience"`` (no improvement of ``metric`` for
        ``patience`` epochs); empty before the end.
    """

    epoch: List[int] = field(default_factory=list)
    loss: List[float] = field(default_factory=list)
    metric: List[float] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)
    watch: List[float] = field(default_factory=list)
    kept: Optional[int] = None
    stopped: str = ""

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "loss": self.loss, "metric": self.metric, "seconds": self.seconds,
                "watch": self.watch, "kept": self.kept, "stopped": self.stopped}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        watch = list(d["watch"]) if "watch" in d else [float("nan")] * len(d["epoch"])
        return cls(list(d["epoch"]), list(d["loss"]), list(d["metric"]), list(d["seconds"]), watch,
                   d.get("kept"), str(d.get("stopped", "")))


class SoftwareTrainer:
    """Exact gradients and weights held in memory: the software baseline."""

    def __init__(self, network: Network):
        self.network = network

    def gradients(self, batch: Dataset):
        return self.network.gradients(batch.x, batch.y, batch.mask)

    def apply(self, delta: Dict[str, np.ndarray]) -> None:
        for name, d in delta.items():
            self.network.params[name] += d * self.network.masks[name] if name in self.network.masks else d

    def identity(self) -> dict:
        """What a checkpoint of this trainer must match: the kind and every parameter's shape."""
        return {"trainer": "software",
                "params": {k: list(v.shape) for k, v in sorted(self.network.params.items())}}

    def state(self) -> Dict[str, np.ndarray]:
        return {f"param:{k}": v for k, v in self.network.params.items()}

    def check_state(self, state: Dict[str, np.ndarray], source: str = "state") -> Dict[str, np.ndarray]:
        """The parameters of a :meth:`state`, checked against the network; ``ValueError`` naming ``source``."""
        params = {k[6:]: v for k, v in state.items() if k.startswith("param:")}
        if sorted(params) != sorted(self.network.params):
            raise ValueError(f"{source}: parameters {sorted(params)}; this network has {sorted(self.network.params)}")
        return {k: as_float_array(f"{source}: parameter {k}", v, shape=self.network.params[k].shape)
                for k, v in params.items()}

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        self.network.set_params(self.check_state(state, source))


CHECKPOINT_FORMAT = "xbar-checkpoint/1"
"""Marker of a training checkpoint written by :func:`fit`."""


def _data_fingerprint(data: Dataset) -> dict:
    digest = hashlib.sha256()
    for a in (data.x, data.y, data.mask):
        a = np.ascontiguousarray(a)
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(a.tobytes())
    return {"sequences": len(data), "shape": list(data.x.shape), "sha256": digest.hexdigest()[:16]}


def _run_identity(trainer, train: Dataset, batch_size: int, optimizer: OptimizerConfig, seed) -> dict:
    """What a checkpoint must match to be resumed by this run (the epoch count may grow)."""
    identity = trainer.identity() if hasattr(trainer, "identity") else {"trainer": type(trainer).__name__}
    return {**identity, "optimizer": dataclasses.asdict(optimizer), "batch_size": batch_size,
            "seed": seed if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else repr(seed),
            "train": _data_fingerprint(train)}


def _differences(here: dict, there: dict, prefix: str = "") -> List[str]:
    out = []
    for k in sorted(set(here) | set(there)):
        a, b = here.get(k), there.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k} is {b!r} there, {a!r} here")
    return out


def _save_checkpoint(path: str, arrays: Dict[str, np.ndarray], meta: dict) -> None:
    """Write atomically and durably (:func:`crossbar.files.write_atomically`): a kill mid-write leaves the
    previous checkpoint whole and at most a ``<path>.partial``, which the next run removes."""
    save_arrays(path, meta, arrays)


def _load_checkpoint(path: str, identity: dict) -> tuple:
    """(meta, arrays) of a checkpoint of this run; ``ValueError`` naming the file for anything else."""
    meta, arrays = load_arrays(path, CHECKPOINT_FORMAT, f"checkpoint {path}", "a checkpoint")
    differences = _differences(identity, meta.get("run", {}))
    if differences:
        raise ValueError(f"checkpoint {path} belongs to another run: {'; '.join(differences[:3])}")
    for key in ("epoch", "rng", "history", "best", "waited"):
        if key not in meta:
            raise ValueError(f"checkpoint {path}: no {key!r} in its record; damaged")
    return meta, arrays


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


KEEPS = ("last", "best")
"""What a run ends with: the weights of its last epoch, or of its best by the validation metric."""


def _copy_state(state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """A state whose arrays are copies (a trainer's state may hold its live arrays)."""
    return {k: np.array(v, copy=True) for k, v in state.items()}


def _restore(trainer, state: Dict[str, np.ndarray], source: str) -> None:
    """Bring a trainer back to a state of this run; a trainer with ``restore_best`` says what that keeps."""
    restore = getattr(trainer, "restore_best", None)
    if restore is not None:
        restore(state, source)
    else:
        trainer.load_state(state, source)


def fit(trainer, train: Dataset, epochs: int, batch_size: int, optimizer: OptimizerConfig,
        seed=0, metric: Optional[Callable[[], float]] = None, patience: Optional[int] = None,
        checkpoint: Optional[str] = None, progress: bool = True, description: str = "training",
        keep: str = "last", watch: Optional[Callable[[], float]] = None) -> History:
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
        Called after each epoch: the error that chooses (a validation error; lower is better), for
        early stopping and ``keep="best"``; recorded in the history. It must leave the trainer as it
        found it (the runner scores a chip on a snapshot).
    patience : int, optional
        Stop when ``metric`` has not improved for this many epochs (needs ``metric``).
    checkpoint : str, optional
        Path of an ``.npz`` written after every epoch; if it exists, training
        resumes from it (same numbers as without the interruption). A checkpoint
        that holds more epochs than ``epochs`` is refused (``ValueError``), and one
        of a run that stopped early resumes as stopped.
    progress : bool
        Show a progress bar.
    keep : {"last", "best"}
        End with the weights of the last epoch, or of the epoch with the lowest ``metric`` (needs
        ``metric``): the trainer's state of that epoch is put back (``trainer.restore_best`` if it
        has one, else ``load_state``).
    watch : callable, optional
        Called after each epoch and recorded in ``history.watch``; it chooses nothing.

    Returns
    -------
    History
        With ``kept`` (the epoch ended with) and ``stopped`` (``"epochs"`` or ``"patience"``).
    """
    _check_fit(train, epochs, batch_size, keep, patience, metric)
    opt = Optimizer(optimizer)
    rng = make_generator(seed)
    identity = _run_identity(trainer, train, batch_size, optimizer, seed) if checkpoint else None
    if identity is not None:
        identity.update({**({"keep": keep} if keep != "last" else {}),
                         **({"patience": patience} if patience is not None else {})})
    history, best, waited, start, best_state = _resume(trainer, checkpoint, identity, epochs, opt, rng, keep)
    best_epoch = history.kept
    stop = history.stopped == "patience"
    bar = tqdm(range(start, epochs), desc=description, disable=not progress or stop, initial=start,
               total=epochs, leave=False)
    for epoch in (() if stop else bar):
        t0 = time.perf_counter()
        losses = train_epoch(trainer, train, batch_size, opt, rng, epoch)
        _record_epoch(history, bar, epoch, losses, t0, metric, watch)
        if metric is not None:
            best, waited, best_epoch, best_state, stop = _choose_epoch(
                trainer, history, epoch, keep, patience, best, waited, best_epoch, best_state, stop)
        history.kept = best_epoch if keep == "best" else epoch
        history.stopped = "patience" if stop else ("epochs" if epoch == epochs - 1 else "")
        if checkpoint:
            _save_epoch(checkpoint, trainer, opt, rng, identity, epoch, history, best, waited, best_state)
        if stop:
            break
    bar.close()
    if keep == "best" and best_state is not None and history.kept != history.epoch[-1]:
        _restore(trainer, best_state, f"the state of epoch {history.kept + 1}")
    if not history.stopped:
        history.stopped = "epochs"
    return history


def _check_fit(train: Dataset, epochs: int, batch_size: int, keep: str, patience: Optional[int],
               metric: Optional[Callable[[], float]]) -> None:
    """Check the choices of :func:`fit` before it trains.

    Parameters
    ----------
    train : Dataset
    epochs, batch_size : int
    keep : {"last", "best"}
    patience : int, optional
    metric : callable, optional

    Raises
    ------
    ValueError
        A count out of range, an unknown ``keep``, ``keep="best"`` or ``patience`` without a
        ``metric``, or an empty ``train``.
    """
    check_int("epochs", epochs, 1)
    check_int("batch_size", batch_size, 1)
    if keep not in KEEPS:
        raise ValueError(f"keep={keep!r} is not allowed; choose one of {', '.join(map(repr, KEEPS))}")
    if patience is not None:
        check_int("patience", patience, 1)
    if metric is None and (keep == "best" or patience is not None):
        what = "keep='best'" if keep == "best" else f"patience={patience}"
        raise ValueError(f"{what} needs a metric to choose by (a validation split); none was given")
    if len(train) == 0:
        raise ValueError("train is empty: no sequences to learn from")


def _resume(trainer, checkpoint: Optional[str], identity: Optional[dict], epochs: int, opt: Optimizer,
            rng: np.random.Generator, keep: str) -> tuple:
    """Where :func:`fit` starts: afresh, or from the checkpoint of this run if there is one.

    Parameters
    ----------
    trainer : SoftwareTrainer or a hardware trainer
        Given the checkpoint's state.
    checkpoint : str, optional
        Its path; a ``.partial`` beside it (a write that a kill cut short) is removed.
    identity : dict, optional
        The run's identity, which the checkpoint must match.
    epochs : int
        The epochs asked for; a checkpoint that holds more is refused.
    opt : Optimizer
        Given the checkpoint's optimizer state.
    rng : numpy.random.Generator
        Given the checkpoint's generator state.
    keep : {"last", "best"}

    Returns
    -------
    tuple
        ``(history, best, waited, start, best_state)``: the history so far, the best metric, the
        epochs waited since it, the first epoch to run, and the best epoch's state (``keep="best"``).

    Raises
    ------
    ValueError
        A checkpoint of another run, of more epochs, or damaged.
    """
    history = History()
    best, waited, start, best_state = np.inf, 0, 0, None
    if checkpoint and os.path.exists(checkpoint + ".partial"):
        os.remove(checkpoint + ".partial")  # a write that a kill cut short; the checkpoint itself is whole
    if not (checkpoint and os.path.exists(checkpoint)):
        return history, best, waited, start, best_state
    meta, arrays = _load_checkpoint(checkpoint, identity)
    held = meta["epoch"] + 1 if isinstance(meta["epoch"], int) else None
    if held is not None and held > epochs:
        raise ValueError(f"checkpoint {checkpoint} holds {held} epochs; this run asks for {epochs}: ask for "
                         f"{held} or more, or start without that checkpoint")
    network = getattr(trainer, "network", None)
    opt.load_state({k[4:]: v for k, v in arrays.items() if k.startswith("opt:")},
                   None if network is None else {k: v.shape for k, v in network.params.items()},
                   f"checkpoint {checkpoint}")
    trainer.load_state({k: v for k, v in arrays.items() if not k.startswith(("opt:", "best:"))},
                       f"checkpoint {checkpoint}")
    if keep == "best":
        best_state = {k[5:]: v for k, v in arrays.items() if k.startswith("best:")}
        if not best_state:
            raise ValueError(f"checkpoint {checkpoint}: no best epoch's state in it; damaged")
    try:
        rng.bit_generator.state = meta["rng"]
        history = History.from_dict(meta["history"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"checkpoint {checkpoint}: damaged record ({error})") from None
    best, waited, start = meta["best"], meta["waited"], meta["epoch"] + 1
    return history, best, waited, start, best_state


def _record_epoch(history: History, bar, epoch: int, losses, t0: float,
                  metric: Optional[Callable[[], float]], watch: Optional[Callable[[], float]]) -> None:
    """Append an epoch to the history (``metric`` and ``watch`` are called here) and to the progress bar.

    Parameters
    ----------
    history : History
        Appended to.
    bar : tqdm
        Its postfix shows the loss (and metric).
    epoch : int
    losses : sequence of float
        The batches' losses; their mean is recorded.
    t0 : float
        ``time.perf_counter()`` at the epoch's start.
    metric, watch : callable, optional
        Called once each, in that order; NaN is recorded for one not given.
    """
    history.epoch.append(epoch)
    history.loss.append(float(np.mean(losses)))
    history.metric.append(float(metric()) if metric is not None else float("nan"))
    history.watch.append(float(watch()) if watch is not None else float("nan"))
    history.seconds.append(time.perf_counter() - t0)
    postfix = {"loss": f"{history.loss[-1]:.4g}"}
    if metric is not None:
        postfix["metric"] = f"{history.metric[-1]:.4g}"
    bar.set_postfix(postfix, refresh=False)  # the bar redraws at its own pace, not every epoch


def _choose_epoch(trainer, history: History, epoch: int, keep: str, patience: Optional[int], best: float,
                  waited: int, best_epoch: Optional[int], best_state, stop: bool) -> tuple:
    """Weigh the epoch just recorded by its metric: the new best, or one more epoch waited.

    Parameters
    ----------
    trainer : SoftwareTrainer or a hardware trainer
        Its state is copied when the epoch is the best and ``keep="best"``.
    history : History
        Its last metric is the epoch's.
    epoch : int
    keep : {"last", "best"}
    patience : int, optional
    best, waited, best_epoch, best_state, stop
        The choice so far.

    Returns
    -------
    tuple
        ``(best, waited, best_epoch, best_state, stop)`` after this epoch; ``stop`` when ``patience``
        epochs have passed without improvement.
    """
    if history.metric[-1] < best:
        best, waited, best_epoch = history.metric[-1], 0, epoch
        if keep == "best":
            best_state = _copy_state(trainer.state())
    else:
        waited += 1
        stop = patience is not None and waited >= patience
    return best, waited, best_epoch, best_state, stop


def _save_epoch(checkpoint: str, trainer, opt: Optimizer, rng: np.random.Generator, identity: Optional[dict],
                epoch: int, history: History, best: float, waited: int, best_state) -> None:
    """Write the checkpoint of an epoch: the trainer's, optimizer's and best epoch's states and the record.

    Parameters
    ----------
    checkpoint : str
        Its path.
    trainer : SoftwareTrainer or a hardware trainer
    opt : Optimizer
    rng : numpy.random.Generator
        Its state is recorded, for a resumed run to shuffle alike.
    identity : dict, optional
        The run's identity.
    epoch : int
    history : History
    best : float
        The best metric so far.
    waited : int
        Epochs since it.
    best_state : dict of ndarray, optional
        The best epoch's state (``keep="best"``).
    """
    arrays = dict(trainer.state())
    arrays.update({f"opt:{k}": v for k, v in opt.state().items()})
    if best_state is not None:
        arrays.update({f"best:{k}": v for k, v in best_state.items()})
    _save_checkpoint(checkpoint, arrays, {"format": CHECKPOINT_FORMAT, "run": identity, "epoch": epoch,
                                          "rng": rng.bit_generator.state, "history": history.to_dict(),
                                          "best": best, "waited": waited})
