"""The devices defined by measured data held against their data (docs/physics.md): writes
gong2018_hfo2_agreement.png, taox_lut_agreement.png and the goodness-of-fit figures gong2018_hfo2_fit.png and
crosssim_fit.png (a table fitted to CrossSim's ramps) beside this file, and prints the reports.

    python docs/figures/measured_devices_agreement.py

- ``gong2018_hfo2``: Gong et al.'s file holds one ramp a direction, so the band is of its reads in windows
  of 50 pulses; 20 simulated ramps of the preset from the start of each ramp.
- ``taox_lut``: the TaOx data are tables, not traces: 100 devices of the preset (the ten measured devices'
  tables), settled to the bottom, pulsed up 40 times and back down, are the measured ramps; the fitter turns
  them into one table, whose 20 simulated ramps are held against them.
"""

import os
import tempfile

import crossbar
from crossbar.devices.pulse_tables import DATA_DIR, GONG_WINDOW
from crossbar.fitting.device_fit import (device_ramps, estimate_read_noise, fit_report, fit_table, format_fit_report,
                                         plot_agreement, plot_fit_report)
from crossbar.fitting.device_fit import read_traces

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    gong = read_traces(os.path.join(DATA_DIR, "gong2018_hfo2_pulses.csv"), window=GONG_WINDOW)
    shares = plot_agreement(crossbar.preset("gong2018_hfo2"), gong, os.path.join(HERE, "gong2018_hfo2_agreement.png"),
                            title="gong2018_hfo2 against Gong et al.'s one ramp a direction (10..100 uS)")
    print("gong2018_hfo2: simulated mean inside the reads' band", shares)
    report = fit_report(crossbar.preset("gong2018_hfo2"), gong)
    print("\n".join(format_fit_report(report)))
    plot_fit_report(report, os.path.join(HERE, "gong2018_hfo2_fit.png"),
                    "gong2018_hfo2 against Gong et al.'s ramps (green: the check holds, red: it does not)")
    crosssim = (read_traces(os.path.join(DATA_DIR, "crosssim_set_ramps.csv"), read_voltage=0.1)
                + read_traces(os.path.join(DATA_DIR, "crosssim_reset_ramps.csv"), read_voltage=0.1))
    with tempfile.TemporaryDirectory() as folder:  # what xbar device fit writes: window one bin beyond the reads
        table = os.path.join(folder, "crosssim.npz")
        fit_table(crosssim).save(table)
        low = min(t.conductance.min() for t in crosssim)
        high = max(t.conductance.max() for t in crosssim)
        fitted = crossbar.DeviceModel(name="crosssim", g_min=low - (high - low) / 20, g_max=high + (high - low) / 20,
                                      read_noise_sigma=estimate_read_noise(crosssim),
                                      pulse_law=crossbar.PulseUpdateLaw(kind="table", table=table))
        report = fit_report(fitted, crosssim)
    print("\n".join(format_fit_report(report)))
    plot_fit_report(report, os.path.join(HERE, "crosssim_fit.png"),
                    "a table fitted to CrossSim's SET/RESET ramps against them (green: the check holds, red: it does not)")
    ramps = device_ramps(crossbar.preset("taox_lut"), 100, 40, seed=1, settle_pulses=60)
    with tempfile.TemporaryDirectory() as folder:
        table = os.path.join(folder, "taox_fitted.npz")
        fit_table(ramps).save(table)
        fitted = crossbar.DeviceModel(name="taox_fitted", g_min=min(t.conductance.min() for t in ramps),
                                      g_max=max(t.conductance.max() for t in ramps),
                                      pulse_law=crossbar.PulseUpdateLaw(kind="table", table=table))
        shares = plot_agreement(fitted, ramps, os.path.join(HERE, "taox_lut_agreement.png"),
                                title="one table fitted to ramps of the ten measured TaOx devices, against them")
    print("taox_lut: fitted device's simulated mean inside the ramps' band", shares)


if __name__ == "__main__":
    main()
