"""Thousand-array networks end to end: build, place, program, infer and one in-situ training step.

For each case (an LSTM 1024 -> 1024, a 2-layer stack of them, an LSTM
2048 -> 2048 with ``--large``), on ``li2019`` arrays with every non-ideality
the preset has (programming and read noise, 8-bit DAC and ADC, the two-pulse
update) plus 1 ohm wire segments with ``--wires``:

- seconds to build the network, place its tiles, build and program the arrays;
- bytes of per-device state (the arrays) and of the read plans, per device;
- seconds a step of inference at batch 1 and of one in-situ training step
  (forward on the arrays, backward in software, the pulses, the read-back, and
  the read plans taking the new conductances: with wires, solving them again)
  at batch 8;
- the peak resident memory of the process.

    python benchmarks/scale.py [--large] [--wires] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import crossbar  # first: its thread settings must precede numpy's BLAS (crossbar.thread_environment)
import numpy as np

from lstm.hardware import HardwareNetwork, InSituTrainer
from lstm.network import make_network
from lstm.optim import Optimizer, OptimizerConfig
from lstm.train import Dataset
from mapping import ChipSpec

CASES = {"1024": (1024, [1024]), "1024x2": (1024, [1024, 1024]), "2048": (2048, [2048])}
STEPS = 10


def run_case(n_in: int, hidden, wires: bool) -> dict:
    """Times and memory of one network; see the module."""
    t0 = time.perf_counter()
    net = make_network(n_in, hidden, 1, seed=0)
    config = ChipSpec(preset="li2019", wires=crossbar.WiresSpec(1.0, 1.0) if wires else crossbar.WiresSpec())
    hw = HardwareNetwork(net, config, seed=0)
    t1 = time.perf_counter()
    arrays = hw.chip.arrays
    t2 = time.perf_counter()
    hw.program()
    t3 = time.perf_counter()
    rng = np.random.default_rng(0)
    x1 = rng.uniform(-1.0, 1.0, (1, STEPS, n_in))
    hw.predict(x1)  # makes the read plans (and solves the wires)
    t4 = time.perf_counter()
    hw.predict(x1)
    t5 = time.perf_counter()
    batch = Dataset(rng.uniform(-1.0, 1.0, (8, STEPS, n_in)), rng.uniform(-1.0, 1.0, (8, STEPS, 1)),
                    np.ones((8, STEPS)))
    trainer, optimizer = InSituTrainer(hw), Optimizer(OptimizerConfig())
    loss, grads = trainer.gradients(batch)
    trainer.apply(optimizer.step(grads))
    for mm in hw.matrices.values():  # the plans take the changed conductances (with wires: solve them again)
        mm.plan()
    t6 = time.perf_counter()
    devices = sum(a.rows * a.cols for a in arrays)
    plans = sum(mm.plan().memory_bytes for mm in hw.matrices.values())
    return {"network": f"{n_in}->" + "->".join(map(str, hidden)), "arrays": len(arrays), "devices": devices,
            "wires": wires, "place_s": t1 - t0, "build_s": t2 - t1, "program_s": t3 - t2,
            "first_inference_s": t4 - t3, "inference_step_s": (t5 - t4) / STEPS,
            "training_step_s": t6 - t5, "loss": float(loss),
            "array_bytes_per_device": hw.chip.memory_bytes() / devices, "plan_bytes_per_device": plans / devices,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also the LSTM 2048 -> 2048 (about 6 GB)")
    parser.add_argument("--wires", action="store_true", help="1 ohm wire segments on every array")
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")
    args = parser.parse_args(argv)
    rows = []
    for name, (n_in, hidden) in CASES.items():
        if name == "2048" and not args.large:
            continue
        rows.append(run_case(n_in, hidden, args.wires))
        if not args.json:
            r = rows[-1]
            print(f"{r['network']:>16}: {r['arrays']} arrays, {r['devices'] / 1e6:.1f} M devices; place "
                  f"{r['place_s']:.2f} s, build {r['build_s']:.1f} s, program {r['program_s']:.1f} s; "
                  f"inference {r['inference_step_s'] * 1e3:.1f} ms a step (batch 1, first call "
                  f"{r['first_inference_s']:.1f} s), in-situ step {r['training_step_s']:.1f} s (batch 8); "
                  f"{r['array_bytes_per_device']:.0f} + {r['plan_bytes_per_device']:.0f} bytes a device; "
                  f"peak {r['peak_rss_bytes'] / 1e9:.2f} GB", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
