"""What an experiment learns and how it is scored: the shipped tasks and a user's own sequences.

:func:`load_problem` turns an experiment's ``[data]`` section into a
:class:`Problem`: the training sequences, the test inputs, the number of
features and outputs, and the score of a network's test outputs
(``test_accuracy`` for classes, ``test_rmse`` for values, in the data's own
units).

Your own data:

- **CSV**, one row per time step: a column naming the sequence
  (``data.sequence``), optionally one ordering its steps (``data.time``) and
  one saying ``train`` or ``test`` (``data.split``); the class of each
  sequence (``data.label``, classification, read at the last step) or the
  value(s) to predict (``data.target``, regression: at every step for
  ``seq2seq``, at the last step for ``seq2vec``); the inputs
  (``data.features``, default every other column). Like the shipped
  ``japanese_vowels.csv``.
- **NPZ**: ``x`` (sequences, steps, features); ``y`` as class indices
  (sequences,) of an integer type, or values (sequences,), (sequences,
  outputs), (sequences, steps) or (sequences, steps, outputs); optional
  ``lengths`` (sequences,) of valid steps and ``split`` (sequences,) of
  ``"train"``/``"test"``.

Without a split, a seeded random ``data.test_fraction`` of the sequences is
held out. Inputs are divided by ``data.headroom`` times their largest
magnitude on the training sequences, so that they lie within the DAC's +-1; a
test value beyond +-1 after that is refused (raise ``headroom``), never
clipped. Regression targets are standardised on the training sequences and
the test RMSE is given back in the targets' own units.
"""

from __future__ import annotations

import csv
import math
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np

from crossbar.validation import as_float_array

from lstm import tasks
from lstm.train import Dataset


@dataclass
class Problem:
    """A task's data and its score (see the module text).

    Attributes
    ----------
    name : str
    kind : {"classification", "regression"}
    metric : {"test_accuracy", "test_rmse"}
    train : Dataset
    test_x, test_mask : ndarray
        Inputs of the test evaluation, (n, steps, features) and (n, steps) or None.
    n_inputs, n_outputs : int
    mode : {"seq2seq", "seq2vec"}
        What the targets are: one per step, or one per sequence.
    score : callable
        ``score(outputs) -> metric`` for the network's outputs on ``test_x``.
    classes : list of str
        Class names (classification).
    test_truth : ndarray
        What the test outputs are compared with: class indices, or values in their own units.
    unscale : callable
        Network outputs to the targets' own units (regression).
    test_ids : list, optional
        The user's own name of each test sequence (its ``data.sequence`` value in a CSV, its index in
        the NPZ's ``x``); None for the shipped tasks.
    """

    name: str
    kind: str
    metric: str
    train: Dataset
    test_x: np.ndarray
    test_mask: Optional[np.ndarray]
    n_inputs: int
    n_outputs: int
    mode: str
    score: Callable
    classes: List[str] = field(default_factory=list)
    test_truth: Optional[np.ndarray] = None
    unscale: Callable = staticmethod(lambda v: v)
    extra: dict = field(default_factory=dict)
    test_ids: Optional[list] = None

    def evaluate(self, outputs: np.ndarray, data: Dataset) -> float:
        """The metric of the network's ``outputs`` on sequences of the training kind (``data``, e.g. a
        validation split): accuracy, or RMSE in the targets' own units over the valid steps."""
        y = np.asarray(data.y)
        if self.kind == "classification":
            hit = np.argmax(outputs, axis=-1) == y
            return float(np.mean(hit if y.ndim == 1 else hit[data.mask == 1]))
        err = np.asarray(self.unscale(outputs)) - np.asarray(self.unscale(y))
        if y.ndim == 3:  # one target a step: the valid steps
            err = err[data.mask == 1]
        return float(np.sqrt(np.mean(err ** 2)))

    def error(self, metric: float) -> float:
        """Something to minimise from the metric (tracked per epoch)."""
        return 1.0 - metric if self.metric == "test_accuracy" else metric

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """Class indices or values in the targets' units from the network's test outputs."""
        if self.kind == "classification":
            return np.argmax(outputs, axis=-1)
        return self.unscale(outputs)


def load_problem(data, seed: int = 0, mode: Optional[str] = None) -> Problem:
    """The :class:`Problem` of a ``DataSection``.

    ``seed`` draws the held-out split when there is none. ``mode`` (the
    network's, if set): ``seq2vec`` takes per-step targets at each sequence's
    last step; ``seq2seq`` needs targets at every step. Default: what the data hold.
    """
    if data.task == "airline":
        return _airline()
    if data.task == "vowels":
        return _vowels()
    path = data.path
    if not os.path.exists(path):
        raise ValueError(f"data.path={path!r}: no such file")
    if path.lower().endswith(".npz"):
        x, y, lengths, split, classes, names = _read_npz(path)
        ids = list(range(x.shape[0]))
    elif path.lower().endswith((".csv", ".tsv", ".txt")):
        x, y, lengths, split, classes, names, ids = _read_csv(path, data)
    else:
        raise ValueError(f"data.path={path!r}: a .csv or .npz file is required")
    return _user_problem(os.path.basename(path), x, y, lengths, split, classes, data, seed, names, mode, ids)


# ------------------------------------------------------------------ the shipped tasks
def _airline() -> Problem:
    task = tasks.airline()
    return Problem("airline", "regression", "test_rmse", task.train, task.full.x, None, 1, 1, "seq2seq",
                   lambda out: task.test_rmse(out[0, :, 0]), test_truth=task.passengers[1:],
                   unscale=task.unscale, extra={"task": task})


def _vowels() -> Problem:
    task = tasks.vowels()
    return Problem("vowels", "classification", "test_accuracy", task.train, task.test.x, task.test.mask, 12,
                   task.n_classes, "seq2vec", lambda out: task.accuracy(out, task.test.y),
                   classes=[str(k + 1) for k in range(task.n_classes)], test_truth=task.test.y,
                   extra={"task": task})


# ------------------------------------------------------------------ files
def _read_npz(path: str):
    try:
        with np.load(path, allow_pickle=False) as f:
            content = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as error:
        raise ValueError(f"data.path={path!r}: not a readable .npz ({type(error).__name__}: {error})") from None
    for key in ("x", "y"):
        if key not in content:
            raise ValueError(f"{path}: no {key!r} array; an NPZ of x (sequences, steps, features) and y is required")
        if np.iscomplexobj(content[key]):
            raise ValueError(f"{path}: {key} is complex ({content[key].dtype}); real numbers are required")
    x = as_float_array(f"{path}: x", content["x"], ndim=3)
    y = content["y"]
    n, steps = x.shape[:2]
    allowed = (f"y of shape ({n},) (class indices as integers, or values), ({n}, outputs), ({n}, {steps}) or "
               f"({n}, {steps}, outputs) is required")
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"{path}: y has shape {y.shape}, x has {n} sequences; {allowed}")
    if y.ndim > 3 or (y.ndim == 3 and y.shape[1] != steps) or 0 in y.shape:
        raise ValueError(f"{path}: y has shape {y.shape}; {allowed}")
    if np.issubdtype(y.dtype, np.integer) and y.ndim != 1:
        raise ValueError(f"{path}: y holds integers (class indices) of shape {y.shape}; one class a sequence, "
                         f"shape ({n},), is required (floats for values to predict)")
    lengths = content.get("lengths")
    if lengths is not None:
        lengths = np.asarray(lengths)
        if lengths.shape != (x.shape[0],) or not np.issubdtype(lengths.dtype, np.integer) \
                or lengths.min() < 1 or lengths.max() > x.shape[1]:
            raise ValueError(f"{path}: lengths must be whole numbers 1..{x.shape[1]}, one per sequence")
    split = content.get("split")
    if split is not None:
        split = np.asarray(split).astype(str)
        if split.shape != (x.shape[0],) or not set(np.unique(split)) <= {"train", "test"}:
            raise ValueError(f"{path}: split must hold 'train' or 'test' for each sequence")
    if np.issubdtype(y.dtype, np.integer):
        classes = [str(c) for c in np.unique(y)]
        y = np.searchsorted(np.unique(y), y)
    else:
        y = as_float_array(f"{path}: y", y)
        classes = []
    return x, y, lengths, split, classes, [f"x{k}" for k in range(x.shape[2])]


def _read_csv(path: str, data):
    columns, rows = _csv_rows(path)
    features = _feature_columns(path, columns, data)
    sequences, order = {}, []
    for line, row in enumerate(rows, start=2):
        key = row[data.sequence]
        if key not in sequences:
            sequences[key] = []
            order.append(key)
        step = _number(path, row, data.time, line) if data.time else len(sequences[key])
        sequences[key].append((step, line, row))
    steps = max(len(v) for v in sequences.values())
    n = len(order)
    x = np.zeros((n, steps, len(features)))
    lengths = np.zeros(n, dtype=np.int64)
    split = np.empty(n, dtype=object) if data.split else None
    labels = []
    targets = np.zeros((n, steps, len(data.target))) if data.target else None
    for s, key in enumerate(order):
        frames = sorted(sequences[key], key=lambda item: item[0])
        lengths[s] = len(frames)
        for t, (_, line, row) in enumerate(frames):
            x[s, t] = [_number(path, row, c, line) for c in features]
            if targets is not None:
                targets[s, t] = [_number(path, row, c, line) for c in data.target]
        if split is not None:
            split[s] = _sequence_split(path, key, frames, data.split)
        if data.label is not None:
            labels.append(_sequence_label(path, frames, data.label))
    if data.label is not None:
        classes = sorted(set(labels), key=_natural)
        y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    else:
        classes = []
        y = targets
    return x, y, lengths, None if split is None else split.astype(str), classes, features, order


def _csv_rows(path: str):
    """The CSV file's column names and rows (dicts), refused when unreadable, empty, with a column name twice
    or a row whose field count is not the header's."""
    try:  # utf-8-sig: a byte-order mark (as spreadsheets write) is not part of the first column's name
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"data.path={path!r}: cannot be read as CSV ({error})") from None
    if not rows:
        raise ValueError(f"{path}: no rows")
    seen = {}
    for k, name in enumerate(columns, start=1):
        if name in seen:
            raise ValueError(f"{path}: column {name!r} appears twice (columns {seen[name]} and {k}); column names "
                             "must be distinct")
        seen[name] = k
    for line, row in enumerate(rows, start=2):
        if None in row:  # csv.DictReader's key for fields beyond the header
            raise ValueError(f"{path}, line {line}: {len(columns) + len(row[None])} fields, the header has "
                             f"{len(columns)}; every row must have one field a column")
        if any(v is None for v in row.values()):
            got = sum(v is not None for v in row.values())
            raise ValueError(f"{path}, line {line}: {got} fields, the header has {len(columns)}; every row must "
                             "have one field a column")
    return columns, rows


def _feature_columns(path: str, columns, data):
    """The input columns: ``data.features``, or every column the data section does not name otherwise; every
    named column checked to exist."""
    wanted = [data.sequence, data.time, data.split, data.label] + list(data.target or [])
    for name in [c for c in wanted if c is not None] + list(data.features or []):
        if name not in columns:
            raise ValueError(f"{path}: no column {name!r}; its columns: {', '.join(columns)}")
    if data.label is None and data.target is None:
        raise ValueError(f"{path}: say what to predict: data.label (a class per sequence) or data.target")
    reserved = {data.sequence, data.time, data.split, data.label, *(data.target or [])}
    features = list(data.features) if data.features else [c for c in columns if c not in reserved]
    if not features:
        raise ValueError(f"{path}: no input columns left")
    return features


def _number(path: str, row, name: str, line: int) -> float:
    """The row's field ``name`` as a finite float, refused with the file's line otherwise."""
    try:
        value = float(row[name])
    except (TypeError, ValueError):
        raise ValueError(f"{path}, line {line}: {name}={row[name]!r} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"{path}, line {line}: {name}={row[name]!r} is not finite")
    return value


def _sequence_split(path: str, key, frames, column: str) -> str:
    """A sequence's split, 'train' or 'test', the same on every one of its rows."""
    values = {row[column].strip().lower() for _, _, row in frames}
    if len(values) != 1 or not values <= {"train", "test"}:
        raise ValueError(f"{path}: sequence {key!r} has split {sorted(values)}; one of 'train' or 'test'")
    return values.pop()


def _sequence_label(path: str, frames, column: str) -> str:
    """A sequence's class: the label of its last step, which must not be empty."""
    _, line, row = frames[-1]
    if not row[column].strip():
        raise ValueError(f"{path}, line {line}: {column} (data.label) is empty; every sequence needs a "
                         "class at its last step")
    return row[column]


def _natural(text):
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


# ------------------------------------------------------------------ a user's problem
def _user_problem(name, x, y, lengths, split, classes, data, seed, feature_names, mode=None, ids=None) -> Problem:
    n, steps, features = x.shape
    if n < 2:
        raise ValueError(f"{name}: {n} sequence(s); at least 2 are needed (one to train, one to test)")
    mask = np.zeros((n, steps))
    lengths = np.full(n, steps) if lengths is None else lengths
    for s in range(n):
        mask[s, :lengths[s]] = 1.0
    test = _test_sequences(name, n, split, data, seed)
    train_idx, test_idx = np.flatnonzero(~test), np.flatnonzero(test)
    x, scale = _scaled_inputs(name, x, mask, train_idx, test_idx, data, feature_names)
    extra = {"scale": scale, "features": feature_names, "test_index": test_idx}
    test_ids = None if ids is None else [ids[i] for i in test_idx]
    if classes:
        if mode == "seq2seq":
            raise ValueError(f"{name}: a class per sequence is read at its last step; network.mode must be "
                             "seq2vec for classification")
        y = np.asarray(y, dtype=np.int64)
        train = Dataset(x[train_idx], y[train_idx], mask[train_idx])
        truth = y[test_idx]
        return Problem(name, "classification", "test_accuracy", train, x[test_idx], mask[test_idx], features,
                       len(classes), "seq2vec",
                       lambda out: float(np.mean(np.argmax(out, axis=-1) == truth)), classes=classes,
                       test_truth=truth, extra=extra, test_ids=test_ids)
    return _regression_problem(name, x, y, lengths, mask, train_idx, test_idx, data, mode, extra, test_ids)


def _test_sequences(name, n: int, split, data, seed) -> np.ndarray:
    """Which sequences are held out for the test: the file's split, else ``data.test_fraction`` of them drawn
    from the seed; both sides must keep at least one."""
    if split is None:
        rng = np.random.default_rng(seed)
        test = np.zeros(n, dtype=bool)
        test[rng.permutation(n)[:max(1, int(round(data.test_fraction * n)))]] = True
    else:
        test = split == "test"
    if test.all() or not test.any():
        raise ValueError(f"{name}: the split leaves {int((~test).sum())} training and {int(test.sum())} test "
                         "sequences; both must be at least 1")
    return test


def _scaled_inputs(name, x, mask, train_idx, test_idx, data, feature_names):
    """The inputs divided by ``data.headroom`` times each feature's training maximum, padding zero, and that
    scale; refused when the scale overflows or a test value lands beyond +-1 (the DAC's range)."""
    largest = np.abs(x[train_idx][mask[train_idx] == 1]).max(axis=0)
    with np.errstate(over="ignore"):
        scale = data.headroom * largest
    for k in np.flatnonzero(~np.isfinite(scale)):
        raise ValueError(f"{name}: feature {feature_names[k]!r} reaches {largest[k]:.4g}; data.headroom="
                         f"{data.headroom:g} times that overflows float64 (values up to "
                         f"{np.finfo(float).max / data.headroom:.3g} are allowed): rescale the column")
    scale[scale == 0.0] = 1.0
    x = x / scale
    test_values = np.abs(x[test_idx][mask[test_idx] == 1])
    beyond = test_values > 1.0
    if beyond.any():
        raise ValueError(f"{name}: {int(beyond.sum())} test input value(s) beyond +-1 after scaling by "
                         f"{data.headroom:g} x the training maximum; the DAC cannot drive them. Raise "
                         f"data.headroom to {_headroom_needed(data.headroom, float(test_values.max()))} or more")
    return x * mask[:, :, None], scale  # padding is zero


def _regression_problem(name, x, y, lengths, mask, train_idx, test_idx, data, mode, extra, test_ids) -> Problem:
    """A regression problem: targets standardised by the training targets' mean and spread, scored by the RMSE
    of the unscaled predictions (every step's for seq2seq, the last step's for seq2vec)."""
    n, steps, features = x.shape
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim == 2 and y.shape[1] == steps and steps > 1 and data.path.lower().endswith(".npz"):
        y = y[:, :, None]  # (sequences, steps): one value per step
    per_step = y.ndim == 3
    mode = mode or ("seq2seq" if per_step else "seq2vec")
    if mode == "seq2seq" and not per_step:
        raise ValueError(f"{name}: one target per sequence; network.mode='seq2seq' needs a target at every step")
    if mode == "seq2vec" and per_step:
        y = y[np.arange(n), lengths - 1]  # each sequence's target at its last step
    flat = y[train_idx][mask[train_idx] == 1] if mode == "seq2seq" else y[train_idx]
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = flat.mean(axis=0), flat.std(axis=0)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise ValueError(f"{name}: the training targets' mean or spread overflows float64 (largest magnitude "
                         f"{np.abs(flat).max():.4g}); rescale the targets")
    std[std == 0.0] = 1.0
    scaled = (y - mean) / std
    train = Dataset(x[train_idx], scaled[train_idx], mask[train_idx])
    truth = y[test_idx]
    test_mask = mask[test_idx]

    def unscale(values):
        return np.asarray(values) * std + mean

    def rmse(out):
        err = unscale(out) - truth
        if mode == "seq2seq":
            err = err[test_mask == 1]
        return float(np.sqrt(np.mean(err ** 2)))

    extra.update(target_mean=mean, target_std=std,
                 targets=list(data.target) if data.target else [f"y{k}" for k in range(y.shape[-1])])
    return Problem(name, "regression", "test_rmse", train, x[test_idx], test_mask, features, y.shape[-1], mode,
                   rmse, test_truth=truth, unscale=unscale, extra=extra, test_ids=test_ids)


def _headroom_needed(headroom: float, largest: float) -> str:
    """The smallest ``data.headroom``, rounded up to 3 significant digits, under which every test input
    stays within the DAC's range (the largest is ``largest`` times the range at ``headroom``)."""

    needed = headroom * largest
    step = 10.0 ** (math.floor(math.log10(needed)) - 2)
    value = math.ceil(needed / step) * step
    if float(f"{value:.3g}") < needed * (1 + 1e-9):  # exactly at the need, float rounding could tip it over
        value += step
    return f"{value:.3g}"
