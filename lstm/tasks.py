"""The tasks and their data, shipped inside the package (``lstm/data``, provenance in its README).

- :func:`airline`: Li et al.'s regression. 144 monthly totals (thousands of
  passengers) scaled to 0..1 over the whole series, as the authors' scaler
  does. The network reads the series month by month as one sequence and
  predicts the next month at every step. The first two thirds of the 143
  (month, next month) pairs train (95 pairs); the whole series is predicted
  and the test error is taken on the last 48 months, in thousands of
  passengers.
- :func:`vowels`: speaker identification on UCI Japanese Vowels (original
  split: 270 training and 370 test utterances, 9 speakers, 7 to 29 frames of
  12 LPC coefficients), standing in for Li et al.'s gait identification. The
  features are divided by 1.25 times their largest magnitude on the training
  set, so inputs lie within +-1 as the crossbar's read voltages need, with
  head-room for unseen frames (test frames reach 1.135 times the training
  maximum, i.e. 0.91 after scaling). Sequences are padded to 29 frames with a
  mask; the label is read at the last valid frame.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Optional

import numpy as np

from lstm.train import Dataset


def _data_file(name: str):
    return resources.files("lstm.data").joinpath(name)


@dataclass
class AirlineTask:
    """The airline series and its split.

    Attributes
    ----------
    passengers : ndarray, shape (144,)
        Thousands of passengers per month, January 1949 to December 1960.
    months : list of str
        ``YYYY-MM`` of each month.
    scaled : ndarray, shape (144,)
        ``(passengers - min) / (max - min)``.
    train : Dataset
        One sequence of the first 95 months, targets the months after them.
    full : Dataset
        One sequence of the 143 inputs, targets months 2..144.
    n_train : int
        95.
    """

    passengers: np.ndarray
    months: list
    scaled: np.ndarray
    train: Dataset
    full: Dataset
    n_train: int

    @property
    def low(self) -> float:
        return float(self.passengers.min())

    @property
    def high(self) -> float:
        return float(self.passengers.max())

    def unscale(self, values) -> np.ndarray:
        """Scaled values back to thousands of passengers."""
        return np.asarray(values) * (self.high - self.low) + self.low

    def test_rmse(self, predictions) -> float:
        """RMSE over the test months (the last 48 targets), thousands of passengers.

        Parameters
        ----------
        predictions : array_like, shape (143,)
            Scaled predictions of months 2..144 (output of the full sequence).
        """
        p = np.asarray(predictions, dtype=np.float64).reshape(-1)
        if p.shape != (len(self.scaled) - 1,):
            raise ValueError(f"predictions have shape {p.shape}; ({len(self.scaled) - 1},) required")
        truth = self.passengers[1:]
        return float(np.sqrt(np.mean((self.unscale(p)[self.n_train:] - truth[self.n_train:]) ** 2)))

    def persistence_rmse(self) -> float:
        """Test RMSE of 'next month = this month', thousands of passengers."""
        return self.test_rmse(self.scaled[:-1])


def airline() -> AirlineTask:
    """Load the airline task (see the module text)."""
    with _data_file("airline_passengers.csv").open() as f:
        rows = list(csv.DictReader(f))
    passengers = np.array([float(r["Passengers"]) for r in rows])
    months = [r["Date"] for r in rows]
    scaled = (passengers - passengers.min()) / (passengers.max() - passengers.min())
    n_pairs = len(scaled) - 1
    n_train = (2 * n_pairs) // 3
    x = scaled[:-1].reshape(1, -1, 1)
    y = scaled[1:].reshape(1, -1, 1)
    train = Dataset(x[:, :n_train], y[:, :n_train], np.ones((1, n_train)))
    full = Dataset(x, y, np.ones((1, n_pairs)))
    return AirlineTask(passengers, months, scaled, train, full, n_train)


@dataclass
class VowelsTask:
    """Japanese Vowels speaker identification.

    Attributes
    ----------
    train, test : Dataset
        x (n, 29, 12) scaled, y (n,) speaker index 0..8, mask (n, 29).
    scale : ndarray, shape (12,)
        Divisor of each feature (1.25 x its largest magnitude on the training set).
    n_classes : int
        9.
    """

    train: Dataset
    test: Dataset
    scale: np.ndarray
    n_classes: int = 9

    @staticmethod
    def accuracy(probabilities, labels) -> float:
        """Fraction of sequences whose most probable class is the label."""
        return float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(labels)))


VOWELS_HEADROOM = 1.25


def vowels(max_length: Optional[int] = None) -> VowelsTask:
    """Load the Japanese Vowels task (see the module text)."""
    utterances = {}
    with _data_file("japanese_vowels.csv").open() as f:
        for r in csv.DictReader(f):
            key = (r["split"], int(r["utterance"]))
            entry = utterances.setdefault(key, {"speaker": int(r["speaker"]) - 1, "frames": []})
            entry["frames"].append((int(r["t"]), [float(r[f"lpc{k}"]) for k in range(1, 13)]))
    length = max(len(u["frames"]) for u in utterances.values()) if max_length is None else max_length

    def build(split):
        keys = sorted(k for k in utterances if k[0] == split)
        x = np.zeros((len(keys), length, 12))
        mask = np.zeros((len(keys), length))
        y = np.zeros(len(keys), dtype=np.int64)
        for n, key in enumerate(keys):
            frames = [v for _, v in sorted(utterances[key]["frames"])][:length]
            x[n, :len(frames)] = frames
            mask[n, :len(frames)] = 1.0
            y[n] = utterances[key]["speaker"]
        return x, y, mask

    x_train, y_train, m_train = build("train")
    x_test, y_test, m_test = build("test")
    scale = VOWELS_HEADROOM * np.abs(x_train[m_train == 1]).max(axis=0)
    x_train /= scale
    x_test /= scale
    if np.abs(x_test).max() > 1.0:
        raise ValueError(f"vowels: a test frame reaches {np.abs(x_test).max():.3f} after scaling; the crossbar "
                         "inputs must stay within +-1 (raise VOWELS_HEADROOM)")
    return VowelsTask(Dataset(x_train, y_train, m_train), Dataset(x_test, y_test, m_test), scale)
