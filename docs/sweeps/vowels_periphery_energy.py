"""Energy and time of one vowels test sequence on each periphery (the README's periphery table).

python docs/sweeps/vowels_periphery_energy.py

Seed 0 of ``vowels_periphery.toml`` on li2019 devices: the network trained in
software, programmed one shot, then the test set read once with the chip's
counters taken before and after. Prints a markdown table: cell, DAC and ADC
energy per sequence (nJ), ADC conversions and read cycles per sequence, and
the latency per sequence if nothing overlaps (us).
"""

import os
import sys

from xbar import runner
from xbar.sweep import load_sweep_file

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    base, _, _ = load_sweep_file(os.path.join(HERE, "vowels_periphery.toml"))
    print("| periphery | accuracy | cells (nJ) | DACs (nJ) | ADCs (nJ) | conversions | read cycles | latency (us) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for periphery in ("none", "isaac", "prime"):
        exp = base.with_values({"hardware.periphery": periphery})
        problem = runner.problem_of(exp)
        software = runner.train(exp, problem, None)
        run = runner.train(exp, problem, exp.hardware.way, trained=software.network)
        hw = run.hardware
        before = hw.counters()
        hw.predict(problem.test_x, problem.test_mask)
        after = hw.counters()
        n = problem.test_x.shape[0]
        costs = hw.chip.costs
        cells = (after.cell_energy - before.cell_energy) / n
        dacs = (after.dac_conversions - before.dac_conversions) * costs.dac_energy / n
        conversions = (after.adc_conversions - before.adc_conversions) / n
        adcs = conversions * costs.adc_energy
        cycles = (after.input_vectors - before.input_vectors) / n
        latency = cycles * costs.read_time + conversions * costs.adc_time / costs.adc_count
        print(f"| {periphery} | {100 * run.metric:.1f} % | {cells * 1e9:.3g} | {dacs * 1e9:.3g} | {adcs * 1e9:.3g} "
              f"| {conversions:.0f} | {cycles:.0f} | {latency * 1e6:.3g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
