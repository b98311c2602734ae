"""Whole-network speed as ratios against a plain float floor measured in the same run.

Rows:

1. LSTM inference on simulated hardware (``li2019``: read noise, 8-bit DAC and
   ADC; ex-situ programmed), one recurrent layer over the whole sequence
   (``HardwareNetwork.layer`` for inference, keeping the states but not the
   training caches, as ``predict`` does), against a plain numpy float32 LSTM forward of
   the same shape: per step, concatenate ``[x; h; 1]``, one matmul, the gates.
   Shapes are (input, hidden, batch, steps).
2. One training epoch of Li et al.'s two networks in situ on one li2019 array
   (forward on the arrays, backward in software, the update by pulses, the
   read-back) against one software epoch of the same network, interleaved
   like the inference rows.
   The same epoch of vowels on ``hfo2_soft_bounds`` arrays for each in-situ update algorithm
   (``sgd``, ``mixed_precision``, ``tiki_taka_v2``, ``chopped_tiki_taka_v2``, ``agad``; ``sgd`` and
   ``tiki_taka_v2`` with stochastic pulse trains, under plain SGD), and ``sgd`` and ``mixed_precision`` on
   ``li2019``.
3. The IR-drop solve of a 128 x 64 array: Numba block Gauss-Seidel against the
   scipy.sparse nodal LU.
4. An LSTM layer with 1 ohm wire segments against the same layer without wires,
   both compiled (the wires as each array's effective conductance, solved once
   when the conductances change): the price of IR drop in the compiled read.

5. An LSTM 1024 -> 1024 (2 050 li2019 arrays) at batch 1 and batch 64 over
   10 steps against the numpy float32 forward (targets: at most 3 and 2.5).
6. Building, placing and programming the arrays of an LSTM 1024 -> 1024
   against numpy drawing the same number of conductances (the floor of any
   per-device work; the target is under 5 s, ``--large`` adds 2048 -> 2048,
   under 20 s).
7. The large layers on one thread against every core (``threads=1`` as the
   work, the default as the floor): the ratio is the speed-up (target at least
   1.7 on 2 cores).

Times are medians of interleaved repeats (work, then floor, again and again),
so that both sides see the same machine load.

    python benchmarks/run.py [--json] [--repeats N] [--large]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import crossbar  # first: its thread settings must precede numpy's BLAS (crossbar.thread_environment)
import numpy as np

from mapping import ChipSpec, Encoding
from lstm import tasks
from lstm.hardware import HardwareNetwork
from lstm.network import make_network
from lstm.optim import Optimizer
from lstm.train import train_epoch
from xbar.experiment import li2019
from xbar.runner import build_trainer, problem_of

INFERENCE_SHAPES = [(1, 15, 1, 12), (1, 15, 32, 12), (50, 14, 32, 50), (128, 256, 64, 100), (64, 64, 256, 50)]


def float_lstm_forward(x, w, hidden: int) -> np.ndarray:
    """The floor: a plain numpy float32 LSTM layer, step by step.

    Parameters
    ----------
    x : ndarray of float32, shape (steps, batch, input)
    w : ndarray of float32, shape (input + hidden + 1, 4 hidden)
        Gate blocks i, f, g, o.

    Returns
    -------
    ndarray of float32, shape (batch, hidden): the last hidden state.
    """
    batch = x.shape[1]
    h = np.zeros((batch, hidden), np.float32)
    c = np.zeros((batch, hidden), np.float32)
    ones = np.ones((batch, 1), np.float32)
    for x_t in x:
        z = np.concatenate([x_t, h, ones], axis=1) @ w
        i = 1.0 / (1.0 + np.exp(-z[:, :hidden]))
        f = 1.0 / (1.0 + np.exp(-z[:, hidden:2 * hidden]))
        g = np.tanh(z[:, 2 * hidden:3 * hidden])
        o = 1.0 / (1.0 + np.exp(-z[:, 3 * hidden:]))
        c = f * c + i * g
        h = o * np.tanh(c)
    return h


def _busy_wait(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def interleaved(work, floor, repeats: int, budget: float = 0.05, settle: float = 0.2):
    """Median seconds per call of ``work`` and of ``floor``, measured alternately.

    Each repeat runs enough calls of each to take about ``budget`` seconds,
    and waits ``settle`` seconds before each block: the compiled kernels call
    scipy's OpenBLAS and the numpy floor numpy's, two thread pools whose
    workers spin for about 0.1 s after a call. Without the pause one side's
    spinning threads take a core from the other (measured: the 64x64 floor
    moved between 40 and 110 ms from one run to the next). The wait is busy,
    so that the core does not idle down its clock either.
    """
    work(), floor()  # compile, warm caches
    t0 = time.perf_counter()
    work()
    t1 = time.perf_counter()
    floor()
    t2 = time.perf_counter()
    n_work = max(1, int(budget / max(t1 - t0, 1e-7)))
    n_floor = max(1, int(budget / max(t2 - t1, 1e-7)))
    w, f = [], []
    for _ in range(repeats):
        _busy_wait(settle)
        t0 = time.perf_counter()
        for _ in range(n_work):
            work()
        t1 = time.perf_counter()
        _busy_wait(settle)
        t2 = time.perf_counter()
        for _ in range(n_floor):
            floor()
        t3 = time.perf_counter()
        w.append((t1 - t0) / n_work)
        f.append((t3 - t2) / n_floor)
    return float(np.median(w)), float(np.median(f))


def _row(name: str, shape, seconds: float, floor_seconds: float) -> dict:
    return {"name": name, "shape": list(shape), "seconds": seconds, "floor_seconds": floor_seconds,
            "ratio": seconds / floor_seconds}


def inference_rows(repeats: int):
    rows = []
    for n_in, hidden, batch, steps in INFERENCE_SHAPES:
        net = make_network(n_in, [hidden], 1, seed=0)
        hw = HardwareNetwork(net, ChipSpec(preset="li2019", encoding=Encoding(scale="max_abs")), seed=0)
        hw.program()
        x = np.random.default_rng(0).uniform(-1.0, 1.0, (steps, batch, n_in))
        mask = np.ones((batch, steps))
        x32 = x.astype(np.float32)
        w32 = net.params["layer0.W"].astype(np.float32)
        t, f = interleaved(lambda: hw.layer(0, x, mask, keep=False),
                           lambda: float_lstm_forward(x32, w32, hidden), repeats)
        rows.append(_row("LSTM layer on li2019 arrays (read noise, 8-bit DAC+ADC) vs numpy float32",
                         (n_in, hidden, batch, steps), t, f))
    return rows


def epoch_rows(repeats: int):
    """One in-situ epoch against one software epoch of the same network, interleaved as the inference rows.

    Both sides run :func:`lstm.train.train_epoch` (the body of ``fit``), each
    on its own trainer that keeps training from call to call.
    """
    rows = []
    for problem in ("airline", "vowels"):
        exp = li2019(problem)
        data = problem_of(exp)
        train = data.train
        epochs = {}
        for way in ("in_situ", None):
            trainer = build_trainer(exp, data, way)[0]
            opt, rng = Optimizer(exp.optimizer_config()), np.random.default_rng(0)
            epochs[way] = (lambda trainer=trainer, opt=opt, rng=rng:
                           train_epoch(trainer, train, exp.training.batch_size, opt, rng))
        t, f = interleaved(epochs["in_situ"], epochs[None], max(3, repeats // 3) if problem == "vowels" else repeats)
        rows.append(_row(f"one training epoch, {problem}: in situ on li2019 vs software",
                         (len(train), exp.training.batch_size), t, f))
    return rows


def algorithm_epoch_rows(repeats: int):
    """One in-situ vowels epoch of each update algorithm (:mod:`lstm.updates`) on ``hfo2_soft_bounds``
    arrays (and ``sgd`` and ``mixed_precision`` on ``li2019``) against one software epoch of the same network,
    interleaved; each side keeps training from call to call. The Tiki-Taka family reads every row of its fast
    arrays at every update (their default)."""
    rows = []
    plain_sgd = {"training.optimizer": "sgd", "training.learning_rate": 2.0}  # (what pulse trains need)
    cases = [(algorithm, {"hardware.preset": "hfo2_soft_bounds", "update.algorithm": algorithm})
             for algorithm in ("sgd", "mixed_precision", "tiki_taka_v2", "chopped_tiki_taka_v2", "agad")]
    cases += [("sgd, stochastic pulse trains, plain SGD", {"hardware.preset": "hfo2_soft_bounds",
                                                          "update.pulse_trains": "stochastic", **plain_sgd}),
              ("tiki_taka_v2, stochastic pulse trains, plain SGD",
               {"hardware.preset": "hfo2_soft_bounds", "update.algorithm": "tiki_taka_v2",
                "update.pulse_trains": "stochastic", **plain_sgd}),
              ("sgd", {"hardware.preset": "li2019"}),
              ("mixed_precision", {"hardware.preset": "li2019", "update.algorithm": "mixed_precision"})]
    for label, values in cases:
        if values.get("update.algorithm", "sgd") in ("tiki_taka_v2", "chopped_tiki_taka_v2", "agad"):
            values["array.count"] = 8  # room for the fast arrays beside Li et al.'s one array
        exp = li2019("vowels").with_values(values)
        data = problem_of(exp)
        epochs = {}
        for way in ("in_situ", None):
            trainer = build_trainer(exp, data, way)[0]
            opt, rng = Optimizer(exp.optimizer_config()), np.random.default_rng(0)
            epochs[way] = (lambda trainer=trainer, opt=opt, rng=rng:
                           train_epoch(trainer, data.train, exp.training.batch_size, opt, rng))
        t, f = interleaved(epochs["in_situ"], epochs[None], max(3, repeats // 3))
        rows.append(_row(f"one training epoch, vowels: in situ {label} on {values['hardware.preset']} vs software",
                         (len(data.train), exp.training.batch_size), t, f))
    return rows


def ir_drop_rows(repeats: int):
    rng = np.random.default_rng(0)
    device = crossbar.preset("li2019")
    low, high = device.programmable_range
    g = rng.uniform(low, high, (128, 64))
    v = rng.uniform(-0.2, 0.2, (1, 128))
    t, f = interleaved(lambda: crossbar.solve_iterative(v, g, 1.0, 1.0),
                       lambda: crossbar.solve_sparse(v, g, 1.0, 1.0), max(3, repeats // 3))
    return [_row("IR drop 1 ohm/segment: Numba block Gauss-Seidel vs scipy.sparse LU", (1, 128, 64), t, f)]


WIRES_SHAPE = (32, 64, 64, 50)


def wires_rows(repeats: int):
    """The compiled layer with wire resistance against the same layer without (target: at most 2)."""
    n_in, hidden, batch, steps = WIRES_SHAPE
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (steps, batch, n_in))
    mask = np.ones((batch, steps))
    layers = []
    for wires in (crossbar.WiresSpec(1.0, 1.0), crossbar.WiresSpec()):
        hw = HardwareNetwork(make_network(n_in, [hidden], 1, seed=0),
                             ChipSpec(encoding=Encoding(scale="max_abs"), wires=wires), seed=0)
        hw.program()
        layers.append(lambda hw=hw: hw.layer(0, x, mask, keep=False))
    t, f = interleaved(layers[0], layers[1], max(3, repeats // 3))
    return [_row("LSTM layer with 1 ohm wire segments vs without, both compiled (li2019)", WIRES_SHAPE, t, f)]


CONVERTER_SHAPE = (128, 256, 64, 20)


def converter_rows(repeats: int):
    """The compiled layer with SAR converters (mismatch, offsets), bit-serial inputs, or 8-bit weights in
    2-bit slices, each against the same layer with the uniform ADC and parallel inputs."""
    from mapping import SlicingSpec

    n_in, hidden, batch, steps = CONVERTER_SHAPE
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (steps, batch, n_in))
    mask = np.ones((batch, steps))

    def layer(**options):
        hw = HardwareNetwork(make_network(n_in, [hidden], 1, seed=0),
                             ChipSpec(encoding=Encoding(scale="max_abs"), **options), seed=0)
        hw.program()
        return lambda: hw.layer(0, x, mask, keep=False)

    floor = layer()
    rows = []
    for name, options in [
            ("SAR ADCs (2 % capacitor mismatch, 0.5 LSB offsets)",
             dict(adc=crossbar.AdcSpec(kind="sar", capacitor_mismatch_sigma=0.02, comparator_offset_sigma_lsb=0.5))),
            ("bit-serial inputs, 7 cycles converted per bit", dict(dac=crossbar.DacSpec(inputs="bit_serial"))),
            ("8-bit weights in 4 differential 2-bit slices", dict(slicing=SlicingSpec(8, 2)))]:
        t, f = interleaved(layer(**options), floor, max(3, repeats // 3))
        rows.append(_row(f"LSTM layer, {name}, vs uniform ADC and analog pairs (li2019)", CONVERTER_SHAPE, t, f))
    return rows


SCALE_SHAPES = [(1024, 1024, 1, 10), (1024, 1024, 64, 10)]
THREAD_SHAPES = [(128, 256, 64, 100), (64, 64, 256, 50), (1024, 1024, 1, 10), (1024, 1024, 64, 10)]


def _layer(n_in: int, hidden: int, batch: int, steps: int, threads=None):
    """A programmed li2019 layer and its inputs: (hardware network, x, mask)."""
    hw = HardwareNetwork(make_network(n_in, [hidden], 1, seed=0),
                         ChipSpec(preset="li2019", encoding=Encoding(scale="max_abs")), seed=0, threads=threads)
    hw.program()
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (steps, batch, n_in))
    return hw, x, np.ones((batch, steps))


def scale_rows(repeats: int):
    """The 1024 -> 1024 layer at batch 1 and 64 against the float floor."""
    rows = []
    for n_in, hidden, batch, steps in SCALE_SHAPES:
        hw, x, mask = _layer(n_in, hidden, batch, steps)
        x32, w32 = x.astype(np.float32), hw.network.params["layer0.W"].astype(np.float32)
        t, f = interleaved(lambda: hw.layer(0, x, mask, keep=False), lambda: float_lstm_forward(x32, w32, hidden),
                           max(3, repeats // 3))
        rows.append(_row(f"LSTM {n_in}->{hidden} on {len(hw.chip.arrays)} li2019 arrays vs numpy float32",
                         (n_in, hidden, batch, steps), t, f))
    return rows


def build_rows(large: bool = False):
    """Chip build, placement and programming of an LSTM n -> n, once each, against numpy drawing as many
    conductances (one repeat: a build takes seconds and its memory is freed between)."""
    rows = []
    for n in (1024, 2048) if large else (1024,):
        t0 = time.perf_counter()
        hw = HardwareNetwork(make_network(n, [n], 1, seed=0), ChipSpec(preset="li2019"), seed=0)
        arrays = hw.chip.arrays
        hw.program()
        t = time.perf_counter() - t0
        devices = sum(a.rows * a.cols for a in arrays)
        del hw, arrays
        t0 = time.perf_counter()
        np.random.default_rng(0).normal(50e-6, 1e-6, devices)
        f = time.perf_counter() - t0
        rows.append(_row(f"LSTM {n}->{n} chip: build, place, program vs numpy drawing as many G",
                         (n, n, devices), t, f))
    return rows


def thread_rows(repeats: int):
    """The large layers on one thread against all the usable cores: the ratio is the speed-up."""
    from lstm.parallel import default_threads

    rows = []
    for shape in THREAD_SHAPES:
        one, x, mask = _layer(*shape, threads=1)
        every = _layer(*shape)[0]
        t, f = interleaved(lambda: one.layer(0, x, mask, keep=False), lambda: every.layer(0, x, mask, keep=False),
                           max(3, repeats // 3))
        rows.append(_row(f"LSTM layer, 1 thread vs {default_threads()} threads (speed-up)", shape, t, f))
    return rows


def run(repeats: int = 15, large: bool = False):
    """All benchmark rows: dicts with name, shape, seconds, floor_seconds, ratio."""
    tasks.airline()  # data loaded before timing
    return (inference_rows(repeats) + epoch_rows(repeats) + algorithm_epoch_rows(repeats) + ir_drop_rows(repeats)
            + wires_rows(repeats)
            + converter_rows(repeats) + scale_rows(repeats) + build_rows(large) + thread_rows(repeats))


def machine() -> str:
    """One line on where the numbers came from."""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    import numba

    return (f"{model}, {os.cpu_count()} cores, numpy {np.__version__}, numba {numba.__version__}, "
            f"python {platform.python_version()}")


def table(rows, unit: str = "ms") -> str:
    """The rows as a fixed-width text table, times in ``unit`` ("ms" or "us")."""
    scale = {"ms": 1e3, "us": 1e6}[unit]
    lines = [f"{'benchmark':<74} {'shape':>15} {'time':>11} {'floor':>11} {'ratio':>6}"]
    for r in rows:
        lines.append(f"{r['name']:<74} {'x'.join(map(str, r['shape'])):>15} "
                     f"{r['seconds'] * scale:>9.3f}{unit} {r['floor_seconds'] * scale:>9.3f}{unit} {r['ratio']:>6.2f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats (median taken)")
    parser.add_argument("--large", action="store_true", help="also build the chip of an LSTM 2048 -> 2048")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats}; at least 1 is required")
    rows = run(args.repeats, args.large)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"# {machine()}")
        print(table(rows))


if __name__ == "__main__":
    main()
