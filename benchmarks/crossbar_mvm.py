"""Cost of the full non-ideal product against plain ``V @ G``, in the same run.

For a 128 x 64 ``li2019`` array (read noise on, 8-bit DAC, 8-bit ADC) at batch
1 and 256, prints the median time of ``CrossbarArray.mvm`` and of the float
floor ``V @ G`` (float64, numpy's BLAS), measured interleaved so that both see
the same machine load, and their ratio; once with BLAS on one thread and once
with its default threads (both sides alike). Also the IR-drop solve of the
same array, the Numba solver against the scipy.sparse reference.

    python benchmarks/crossbar_mvm.py [--json] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import platform

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import crossbar
from run import interleaved, table  # benchmarks/run.py: the same interleaved medians and table


def run(repeats: int = 30):
    """Benchmark rows: dicts with name, shape, seconds, floor_seconds, ratio."""
    rng = np.random.default_rng(0)
    device = crossbar.preset("li2019")
    low, high = device.programmable_range
    target = rng.uniform(low, high, (128, 64))
    probe = crossbar.CrossbarArray(128, 64, device, seed=1)
    probe.program(target)
    sample = rng.uniform(-0.2, 0.2, (256, 128)) @ probe.conductance
    peripherals = crossbar.Peripherals(dac=crossbar.DAC(bits=8, v_max=0.2),
                                       adc=crossbar.ADC.calibrated(sample, bits=8))
    array = crossbar.CrossbarArray(128, 64, device, seed=1, peripherals=peripherals)
    array.program(target)
    g = np.ascontiguousarray(array.conductance)
    rows = []
    default_threads = max([p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] or [1])
    for threads in sorted({1, default_threads}):
        with threadpool_limits(threads, user_api="blas"):
            for batch in (1, 256):
                v = rng.uniform(-0.2, 0.2, (batch, 128))
                t, f = interleaved(lambda: array.mvm(v), lambda: v @ g, repeats)
                rows.append({"name": f"mvm li2019 (read noise, 8-bit DAC+ADC) vs V @ G, BLAS threads {threads}",
                             "shape": [batch, 128, 64], "seconds": t, "floor_seconds": f, "ratio": t / f})
    v = rng.uniform(-0.2, 0.2, (1, 128))
    t, f = interleaved(lambda: crossbar.solve_iterative(v, g, 1.0, 1.0),
                       lambda: crossbar.solve_sparse(v, g, 1.0, 1.0), max(3, repeats // 5))
    rows.append({"name": "IR drop 1 ohm/segment: Numba block Gauss-Seidel vs scipy.sparse LU",
                 "shape": [1, 128, 64], "seconds": t, "floor_seconds": f, "ratio": t / f})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")
    parser.add_argument("--repeats", type=int, default=30, help="interleaved repeats (median taken)")
    args = parser.parse_args(argv)
    rows = run(args.repeats)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, "
              f"python {platform.python_version()}")
        print(table(rows, unit="us"))


if __name__ == "__main__":
    main()
