"""Compile (or load from Numba's cache) the kernels a run needs, before any progress bar starts.

A progress bar's estimate of the time left is wrong by the whole compile time
when the first steps compile (an hour for a first epoch that took a minute to
compile); :func:`warm_up` runs a tiny network through every compiled path
first: the software layer forward and backward, the read engine on li2019
arrays with converters, an in-situ update and a read-back.
"""

from __future__ import annotations

import glob
import os

import numpy as np

_WARM = False


def kernels_cached() -> bool:
    """Whether Numba's cache holds the main kernels (else the next run compiles them, about a minute)."""
    import crossbar.read
    import lstm

    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if cache_dir:
        return bool(glob.glob(os.path.join(cache_dir, "**", "*.nbi"), recursive=True))
    kernels = [(crossbar.read, "kernels.read_product-*.nbi"), (lstm, "kernels.hardware_lstm_forward-*.nbi"),
               (lstm, "kernels.lstm_backward-*.nbi")]
    return all(glob.glob(os.path.join(os.path.dirname(m.__file__), "__pycache__", n)) for m, n in kernels)


def warm_up() -> None:
    """Run every compiled path once on a tiny network (once per process; the numbers of later runs do not change)."""
    global _WARM
    if _WARM:
        return
    import crossbar
    from mapping import ChipSpec

    from lstm.hardware import HardwareNetwork, InSituTrainer
    from lstm.network import make_network
    from lstm.train import Dataset

    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (2, 3, 2))
    y = rng.uniform(0.0, 1.0, (2, 3, 1))
    data = Dataset(x, y, np.ones((2, 3)))
    for batch in (data, data.subset([0])):  # a batch and a single vector take different products
        net = make_network(2, [3], 1, seed=0, head="sigmoid")
        net.gradients(batch.x, batch.y, batch.mask)
        hw = HardwareNetwork(net, ChipSpec(array=crossbar.ArraySpec(rows=16, cols=16)), seed=0)
        hw.program()
        trainer = InSituTrainer(hw)
        _, grads = trainer.gradients(batch)
        trainer.apply({k: -0.01 * g for k, g in grads.items()})
    _WARM = True
