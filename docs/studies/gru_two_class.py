"""A GRU on a small univariate two-class task, in software and in situ on li2019 (docs/physics.md).

One feature, 24 steps, noisy sines (class 0) against noisy square waves (class 1) of random frequency,
phase and amplitude, 127 sequences of which the runner holds out 60 for the test; GRU 16, a softmax
head, RMSprop 0.01, batch 10, 60 epochs; seeds 0 to 2. Settings are given as dotted names::

    python docs/studies/gru_two_class.py                                  # Li et al.'s writes (sgd)
    python docs/studies/gru_two_class.py update.algorithm=mixed_precision update.threshold_steps=0.5

Prints each seed's test accuracy in software and in situ, and the means.
"""

import os
import sys
import tempfile

import numpy as np

from xbar import runner
from xbar.experiment import load_experiment

EXPERIMENT = """[data]
path = "{path}"
test_fraction = {test_fraction}

[network]
cell = "gru"
hidden = [16]

[hardware]
preset = "li2019"
way = "in_situ"

[training]
epochs = 60
optimizer = "rmsprop"
learning_rate = 0.01
batch_size = 10
"""


def waves(path: str, n: int = 127, steps: int = 24, noise: float = 0.3, seed: int = 7) -> None:
    """Write the task's sequences (x: (n, steps, 1), y: (n,)) to an NPZ file."""
    rng = np.random.default_rng(seed)
    x, y = np.zeros((n, steps, 1)), np.zeros(n, dtype=int)
    t = np.arange(steps)
    for i in range(n):
        kind = i % 2
        wave = np.sin(rng.uniform(0.15, 0.6) * t + rng.uniform(0, 6.28))
        x[i, :, 0] = (wave if kind == 0 else np.sign(wave)) * rng.uniform(0.5, 1.0) + noise * rng.standard_normal(steps)
        y[i] = kind
    np.savez(path, x=x, y=y)


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv) -> None:
    values = {name: _value(v) for name, v in (a.split("=", 1) for a in argv)}
    with tempfile.TemporaryDirectory() as folder:
        waves(os.path.join(folder, "waves.npz"))
        with open(os.path.join(folder, "experiment.toml"), "w") as f:
            f.write(EXPERIMENT.format(path=os.path.join(folder, "waves.npz"), test_fraction=60 / 127))
        base = load_experiment(os.path.join(folder, "experiment.toml"))
        software, hardware = [], []
        for seed in (0, 1, 2):
            result = runner.run(base.with_values({**values, "training.seed": seed}), progress=False)
            software.append(100 * result["software"]["test_accuracy"])
            hardware.append(100 * result["hardware"]["test_accuracy"])
            print(f"seed {seed}: software {software[-1]:.1f} %, in situ {hardware[-1]:.1f} %", flush=True)
    print(f"mean: software {np.mean(software):.1f} %, in situ {np.mean(hardware):.1f} %")


if __name__ == "__main__":
    main(sys.argv[1:])
