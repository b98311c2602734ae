"""``xbar device``: a table device fitted to measured pulse traces (``fit``), or a device's simulated response
drawn, with its goodness of fit against traces (``show``); :func:`load_device` reads a preset's name or a device
TOML."""

from __future__ import annotations

import os
import sys

from xbar.commands.checks import check_output_folder
from xbar.commands.options import Formatter


def add_parser(sub) -> None:
    """Add ``xbar device`` to the subcommands ``sub``: its options, help and example."""
    p = sub.add_parser("device", help="fit a device to measured pulse traces, or show a device's response",
                       formatter_class=Formatter,
                       description="fit: read ramps of identical pulses (CSV, one ramp a column; currents with "
                                   "--read-voltage, normalised data with --window) and write a table device "
                                   "(DEVICE.toml, its table as DEVICE.npz beside it, with the reads' white noise), "
                                   "with the linear and soft-bounds laws' errors and its goodness of fit. show: "
                                   "print a device (a preset or a DEVICE.toml) and draw its simulated response; "
                                   "with --traces, print and draw its goodness of fit per direction and "
                                   "conductance range (band coverage of the mean, step-variance ratio, two-sample "
                                   "KS test of single-pulse steps; holds or does not hold).",
                       epilog="example:\n  xbar device fit set.csv reset.csv --read-voltage 0.1 --out mine.toml\n"
                              "  xbar device fit gong.csv --window 10e-6:100e-6 --out gong.toml\n"
                              "  xbar device show mine.toml --traces set.csv reset.csv --read-voltage 0.1\n"
                              "  xbar device show taox_lut")
    p.add_argument("action", choices=["fit", "show"])
    p.add_argument("inputs", nargs="+", help="fit: trace CSV files; show: one DEVICE (preset or .toml)")
    p.add_argument("--out", default=None, help="fit: DEVICE.toml to write; show: PNG (default NAME_response.png)")
    p.add_argument("--window", default=None, help="LO:HI siemens: map normalised traces onto this window")
    p.add_argument("--read-voltage", type=float, default=None, help="V: the traces are read currents at this voltage")
    p.add_argument("--bins", type=int, default=20, help="fit: conductance bins of the table")
    p.add_argument("--name", default=None, help="fit: the device's name (default the file's)")
    p.add_argument("--traces", nargs="+", default=None, help="show: measured trace CSVs to draw beside it")
    p.add_argument("--seeds", type=int, default=20, help="simulated runs of each ramp for the goodness of fit, "
                   "1..1000 (up to 10 drawn)")
    p.add_argument("--pulses", type=int, default=200, help="show without traces: pulses up, then down (>= 1)")
    p.add_argument("--max-pulses", type=int, default=20000, help="pulses of each ramp simulated for the goodness "
                   "of fit (longer ramps are cut, and it says so)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Fit a device to the traces (``fit``) or print and draw one (``show``); exit code 0."""
    window = _window(args.window)
    if args.seeds < 1 or args.seeds > 1000:
        raise ValueError(f"--seeds={args.seeds}: 1 to 1000 simulated runs are allowed")
    if args.max_pulses < 10:
        raise ValueError(f"--max-pulses={args.max_pulses}: at least 10 pulses a ramp are required")
    if args.action == "fit":
        return _fit(args, window)
    return _show(args, window)


def _fit(args, window) -> int:
    """``xbar device fit``: a table device (DEVICE.toml, its table DEVICE.npz beside it) fitted to the traces,
    with the parametric laws' errors and the goodness of fit printed."""
    from crossbar.fitting.device_fit import estimate_read_noise, fit_table

    if not args.out or not args.out.endswith(".toml"):
        raise ValueError(f"--out={args.out!r}: a DEVICE.toml path is required (the table goes beside it)")
    name = args.name if args.name is not None else os.path.basename(os.path.splitext(args.out)[0])
    if not name or not name.isprintable() or name != name.strip():
        raise ValueError(f"--name={name!r}: one line of printable characters, without leading or trailing "
                         "spaces, is required")
    check_output_folder(os.path.dirname(os.path.abspath(args.out)), "--out")
    traces = _read_all_traces(args.inputs, window, args.read_voltage)
    table = fit_table(traces, n_bins=args.bins, source=f"fitted from {', '.join(args.inputs)}")
    read_noise = estimate_read_noise(traces, n_bins=args.bins)
    stem = os.path.splitext(args.out)[0]
    table.save(stem + ".npz")
    device, low, high = _write_table_device(args, name, traces, read_noise, stem)
    ups = sum(t.up for t in traces)
    print(f"{len(traces)} ramps ({ups} up, {len(traces) - ups} down), {sum(t.conductance.size for t in traces)} "
          f"reads, {low * 1e6:.4g}..{high * 1e6:.4g} uS; device window {device.g_min * 1e6:.4g}.."
          f"{device.g_max * 1e6:.4g} uS (one bin beyond the reads)")
    print(f"read noise {read_noise * 1e6:.4g} uS (white, from the steps' lag-1 anti-correlation): in the "
          f"device as read_noise_sigma")
    print(f"table: {args.bins} bins x {table.quantiles.size} quantiles -> {stem}.npz")
    _print_parametric_laws(traces, args.bins)
    _print_report(device, traces, args, read_noise, "  ")
    print(f"device: {args.out}")
    return 0


def _write_table_device(args, name: str, traces, read_noise: float, stem: str):
    """Write ``args.out``, the table device over the traces' range and one bin beyond, its table
    ``stem.npz`` named relative to it; return the device and the traces' lowest and highest reads (S)."""
    import crossbar
    from xbar.experiment import dump_toml

    low = min(float(t.conductance.min()) for t in traces)
    high = max(float(t.conductance.max()) for t in traces)
    # the ramps stop where the measurement stopped, not the device: its window reaches one bin beyond
    margin = (high - low) / args.bins
    device = crossbar.DeviceModel(name=name, g_min=max(low - margin, 0.0), g_max=high + margin,
                                  read_noise_sigma=read_noise,
                                  pulse_law=crossbar.PulseUpdateLaw(kind="table", table=stem + ".npz"))
    data = device.to_dict()
    data["pulse_law"]["table"] = os.path.basename(stem + ".npz")
    with open(args.out, "w") as f:
        f.write(f"# {name}: a table device fitted by xbar device fit from {', '.join(args.inputs)}\n")
        f.write(f"# window: the ramps' {low * 1e6:.6g}..{high * 1e6:.6g} uS and one bin beyond either side; "
                f"read_noise_sigma: the reads' white noise (lag-1 anti-correlation of the steps)\n")
        f.write(dump_toml({k: v for k, v in data.items() if v is not None}))
    return device, low, high


def _print_parametric_laws(traces, bins: int) -> None:
    """Print each parametric law fitted to the traces, its steps and its error, the best one marked."""
    from crossbar.fitting.device_fit import best_parametric, fit_parametric

    fits = fit_parametric(traces, n_bins=bins)
    for kind, (law, error) in fits.items():
        shape = f", nonlinearity {law.nonlinearity:.3g}" if kind == "exponential" else ""
        print(f"  {kind:<12} step up {law.step_up * 1e6:.4g} uS, down {law.step_down * 1e6:.4g} uS{shape}, "
              f"cycle noise {100 * law.cycle_noise_sigma_relative:.3g} %: error {100 * error:.1f} % of the mean "
              f"step{'  (best law)' if kind == best_parametric(fits) else ''}")


def _show(args, window) -> int:
    """``xbar device show``: a device printed and its simulated response drawn; with ``--traces``, beside the
    data, with its goodness of fit printed and drawn."""
    from crossbar.fitting.device_fit import plot_agreement, plot_fit_report, plot_response

    if len(args.inputs) != 1:
        raise ValueError("xbar device show takes one DEVICE (a preset name or a device TOML)")
    if args.pulses < 1 or args.pulses > 1_000_000:
        raise ValueError(f"--pulses={args.pulses}: 1 to 1000000 pulses each way are allowed")
    device = load_device(args.inputs[0])
    traces = _read_all_traces(args.traces, window, args.read_voltage) if args.traces else None
    print(device.describe())
    if traces is None:  # the device's own ramp: from g_min up and back down
        from crossbar.fitting.device_fit import Trace
        import numpy as np

        traces = [Trace(np.full(args.pulses + 1, device.g_min), True),
                  Trace(np.full(args.pulses + 1, device.g_max), False)]
    else:
        traces = _bounded(traces, args.max_pulses)
    out = args.out or f"{device.name}_response.png"
    check_output_folder(os.path.dirname(os.path.abspath(out)), "--out")
    plot_response(device, traces, out, seeds=min(args.seeds, 10))
    print(f"figure: {out}")
    if args.traces:
        beside = os.path.splitext(out)[0] + "_agreement.png"
        plot_agreement(device, traces, beside, seeds=args.seeds, low=0.05, high=0.95)
        print(f"figure: {beside} (the data's band beside the simulated mean and band)")
        report = _print_report(device, traces, args, None, "")
        fit_figure = os.path.splitext(out)[0] + "_fit.png"
        plot_fit_report(report, fit_figure, f"{device.name} against {', '.join(os.path.basename(t) for t in args.traces)}"
                                            " (green: the check holds, red: it does not)")
        print(f"figure: {fit_figure} (the goodness of fit per direction and range)")
    return 0


def _window(text):
    """``LO:HI`` in siemens for --window."""
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"--window={text!r} is not allowed; LO:HI in siemens is required (10e-6:100e-6)") from None
    return (low, high)


def load_device(reference: str):
    """A device preset's name or a device TOML (``xbar device fit --out``): its :class:`crossbar.DeviceModel`,
    a relative table path taken from the file's folder."""
    import crossbar

    if reference in crossbar.preset_names():
        return crossbar.preset(reference)
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(reference, "rb") as f:
            data = tomllib.loads(f.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"device {reference!r}: not a preset ({', '.join(crossbar.preset_names())}) nor a "
                         f"readable device file ({error})") from None
    law = data.get("pulse_law") if isinstance(data, dict) else None
    if isinstance(law, dict) and isinstance(law.get("table"), str) and law["table"].endswith(".npz") \
            and not os.path.isabs(law["table"]):
        law["table"] = os.path.join(os.path.dirname(os.path.abspath(reference)), law["table"])
    return crossbar.DeviceModel.from_dict(data, f"device file {reference}")


def _read_all_traces(paths, window, read_voltage):
    from crossbar.fitting.device_fit import read_traces

    traces = []
    for path in paths:
        traces += read_traces(path, window=window, read_voltage=read_voltage)
    return traces


def _bounded(traces, max_pulses):
    """The ramps, each cut to its first ``max_pulses`` pulses for the simulations (said once when any is)."""
    from crossbar.fitting.device_fit import Trace

    if all(t.conductance.size <= max_pulses + 1 for t in traces):
        return traces
    print(f"agreement: each ramp's first {max_pulses} pulses simulated (--max-pulses)", file=sys.stderr)
    return [Trace(t.conductance[:max_pulses + 1], t.up, t.name) for t in traces]


def _print_report(device, traces, args, read_noise, indent):
    """Print :func:`crossbar.fitting.device_fit.fit_report` of the device against the (bounded) traces; return it."""
    from crossbar.fitting.device_fit import fit_report, format_fit_report

    traces = _bounded(traces, args.max_pulses)
    longest = max(t.conductance.size for t in traces)

    def progress(done, total):
        print(f"\r{indent}simulating {args.seeds} runs of each ramp: pulse {done} of {total}", end="",
              file=sys.stderr, flush=True)
        if done == total:
            print(file=sys.stderr)

    report = fit_report(device, traces, seeds=args.seeds, read_noise=read_noise,
                        progress=progress if longest > 2000 else None)
    for line in format_fit_report(report, indent):
        print(line)
    return report
