"""The ``xbar`` command line.

Every command's ``--help`` ends with an example.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import List, Optional


def _cmd_presets(args) -> int:
    import crossbar

    if args.json:
        import dataclasses

        out = {name: dataclasses.asdict(crossbar.preset(name)) for name in crossbar.preset_names()}
        print(json.dumps(out, indent=1, default=str))
        return 0
    import mapping

    for name in crossbar.preset_names():
        print(crossbar.preset(name).describe())
        if args.verbose:
            print("  " + crossbar.preset_doc(name).replace("\n", "\n  "))
        print()
    print("periphery presets (hardware.periphery; pair one with any device above):\n")
    for name in mapping.periphery_names():
        print(mapping.periphery_preset(name).describe())
        if args.verbose:
            print("  " + mapping.periphery_doc(name).replace("\n", "\n  "))
        print()
    return 0


def _cmd_adc(args) -> int:
    import numpy as np

    import crossbar
    from crossbar.circuits.adc_metrics import enob, linearity, plot_transfer

    _check_adc_work(args)
    circuit = crossbar.ADCCircuit(args.kind, args.capacitor_mismatch_sigma, args.comparator_offset_sigma_lsb,
                                  args.amplifier_gain, args.columns_per_converter)
    array = crossbar.CrossbarArray(2, args.columns, crossbar.preset("ideal"), seed=args.seed)
    bank = array.converters(crossbar.ADC(args.bits, 1e-4, circuit))
    rows = []
    for k in range(bank.n_converters):
        shape = linearity(bank, k)
        rows.append((k, enob(bank, k), shape.max_dnl_lsb, shape.max_inl_lsb, shape.missing_codes.size,
                     bank.offsets_lsb[k]))
    print(f"{circuit.kind} ADC, {args.bits} bits, {bank.n_converters} converter(s) for {args.columns} columns "
          f"(seed {args.seed})")
    print(f"{'converter':>9} {'ENOB':>6} {'max|DNL|':>9} {'max|INL|':>9} {'missing':>8} {'offset':>8}")
    for k, bits, dnl, inl, missing, offset in rows:
        print(f"{k + 1:>9} {bits:6.2f} {dnl:9.3f} {inl:9.3f} {missing:8d} {offset:+8.3f}")
    values = np.array([r[1:5] for r in rows])
    print(f"{'mean':>9} {values[:, 0].mean():6.2f} {values[:, 1].mean():9.3f} {values[:, 2].mean():9.3f} "
          f"{values[:, 3].mean():8.2f}   (DNL, INL and offsets in LSB)")
    if args.out:
        plot_transfer(bank, args.out, converters=range(min(args.plot, bank.n_converters)))
        print(f"transfer curves: {args.out}")
    return 0


ADC_BITS = (2, 16)
"""``xbar adc``'s resolutions: it finds every code's transition of every converter (a 16-bit converter, about a
second). A 24-bit SAR would need 2^24 = 16.8 million unit capacitors matched to one part in 2^24 (6e-8):
precision SARs stop near 18 bits, with calibration, 24-bit converters are delta-sigma, and crossbars' column
converters have 4 to 10 bits."""

ADC_COLUMNS = (1, 1024)
"""``xbar adc``'s columns: up to those of the largest crossbar arrays made (1024)."""

ADC_CODES = 2 ** 20
"""Most codes ``xbar adc`` measures in all (converters times ``2^bits``): about 15 s."""


def _check_adc_work(args) -> None:
    """Refuse ``xbar adc`` settings outside its ranges, before any work, in one line that gives the range."""
    low, high = ADC_BITS
    if not low <= args.bits <= high:
        raise ValueError(f"--bits {args.bits} is out of range; xbar adc measures every code of every converter and "
                         f"allows {low}..{high} bits (a 24-bit SAR would need 2^24 = 16.8 million unit capacitors "
                         "matched to 6e-8; column converters of crossbars have 4 to 10 bits)")
    low, high = ADC_COLUMNS
    if not low <= args.columns <= high:
        raise ValueError(f"--columns {args.columns} is out of range; allowed {low}..{high} (the largest arrays made)")
    if args.columns_per_converter < 1:
        raise ValueError(f"--columns-per-converter {args.columns_per_converter} is out of range; allowed 1..columns")
    converters = -(-args.columns // args.columns_per_converter)
    if converters * 2 ** args.bits > ADC_CODES:
        raise ValueError(f"--bits {args.bits} with {converters} converter(s) measures {converters * 2 ** args.bits:,} "
                         f"codes; xbar adc measures at most {ADC_CODES:,} (about 15 s): fewer --columns, more "
                         "--columns-per-converter or fewer --bits")
    if args.plot < 0:
        raise ValueError(f"--plot {args.plot} is out of range; allowed 0..converters")
    if args.out:
        _check_figure_path(args.out, "--out")


def _check_figure_path(path: str, option: str) -> None:
    """Refuse a figure's path whose format matplotlib does not write or whose folder cannot be written,
    before any work."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    if suffix not in formats:
        raise ValueError(f"{option} {path}: a figure's file ends in one of "
                         f"{', '.join('.' + f for f in sorted(formats))}")
    _check_output_folder(os.path.dirname(os.path.abspath(path)), option)


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


def _cmd_device(args) -> int:
    import crossbar
    from crossbar.fitting.device_fit import (estimate_read_noise, fit_parametric, best_parametric, fit_table,
                                             plot_agreement, plot_fit_report, plot_response)

    window = _window(args.window)
    if args.seeds < 1 or args.seeds > 1000:
        raise ValueError(f"--seeds={args.seeds}: 1 to 1000 simulated runs are allowed")
    if args.max_pulses < 10:
        raise ValueError(f"--max-pulses={args.max_pulses}: at least 10 pulses a ramp are required")
    if args.action == "fit":
        if not args.out or not args.out.endswith(".toml"):
            raise ValueError(f"--out={args.out!r}: a DEVICE.toml path is required (the table goes beside it)")
        name = args.name if args.name is not None else os.path.basename(os.path.splitext(args.out)[0])
        if not name or not name.isprintable() or name != name.strip():
            raise ValueError(f"--name={name!r}: one line of printable characters, without leading or trailing "
                             "spaces, is required")
        _check_output_folder(os.path.dirname(os.path.abspath(args.out)), "--out")
        traces = _read_all_traces(args.inputs, window, args.read_voltage)
        table = fit_table(traces, n_bins=args.bins, source=f"fitted from {', '.join(args.inputs)}")
        read_noise = estimate_read_noise(traces, n_bins=args.bins)
        stem = os.path.splitext(args.out)[0]
        table.save(stem + ".npz")
        low = min(float(t.conductance.min()) for t in traces)
        high = max(float(t.conductance.max()) for t in traces)
        # the ramps stop where the measurement stopped, not the device: its window reaches one bin beyond
        margin = (high - low) / args.bins
        device = crossbar.DeviceModel(name=name, g_min=max(low - margin, 0.0), g_max=high + margin,
                                      read_noise_sigma=read_noise,
                                      pulse_law=crossbar.PulseUpdateLaw(kind="table", table=stem + ".npz"))
        data = device.to_dict()
        data["pulse_law"]["table"] = os.path.basename(stem + ".npz")
        from xbar.experiment import dump_toml

        with open(args.out, "w") as f:
            f.write(f"# {name}: a table device fitted by xbar device fit from {', '.join(args.inputs)}\n")
            f.write(f"# window: the ramps' {low * 1e6:.6g}..{high * 1e6:.6g} uS and one bin beyond either side; "
                    f"read_noise_sigma: the reads' white noise (lag-1 anti-correlation of the steps)\n")
            f.write(dump_toml({k: v for k, v in data.items() if v is not None}))
        ups = sum(t.up for t in traces)
        print(f"{len(traces)} ramps ({ups} up, {len(traces) - ups} down), {sum(t.conductance.size for t in traces)} "
              f"reads, {low * 1e6:.4g}..{high * 1e6:.4g} uS; device window {device.g_min * 1e6:.4g}.."
              f"{device.g_max * 1e6:.4g} uS (one bin beyond the reads)")
        print(f"read noise {read_noise * 1e6:.4g} uS (white, from the steps' lag-1 anti-correlation): in the "
              f"device as read_noise_sigma")
        print(f"table: {args.bins} bins x {table.quantiles.size} quantiles -> {stem}.npz")
        fits = fit_parametric(traces, n_bins=args.bins)
        for kind, (law, error) in fits.items():
            shape = f", nonlinearity {law.nonlinearity:.3g}" if kind == "exponential" else ""
            print(f"  {kind:<12} step up {law.step_up * 1e6:.4g} uS, down {law.step_down * 1e6:.4g} uS{shape}, "
                  f"cycle noise {100 * law.cycle_noise_sigma_relative:.3g} %: error {100 * error:.1f} % of the mean "
                  f"step{'  (best law)' if kind == best_parametric(fits) else ''}")
        _print_report(device, traces, args, read_noise, "  ")
        print(f"device: {args.out}")
        return 0
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
    _check_output_folder(os.path.dirname(os.path.abspath(out)), "--out")
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


def _cmd_info(args) -> int:
    import numba
    import numpy
    import scipy

    import crossbar

    print(f"xbar {crossbar.__version__} on Python {platform.python_version()} ({platform.machine()})")
    print(f"numpy {numpy.__version__}, scipy {scipy.__version__}, numba {numba.__version__}")
    print(f"cores {os.cpu_count()}, numba threads {numba.get_num_threads()} "
          f"(layer {numba.config.THREADING_LAYER}), NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '-')}")
    for var in ("XBAR_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        print(f"{var}={os.environ.get(var, '-')}")
    from threadpoolctl import threadpool_info

    from lstm.parallel import default_threads

    print(f"threads for a batch's parts in a hardware layer: {default_threads()}")
    for pool in threadpool_info():
        held = " (held to 1 inside the hardware layer)" if pool["user_api"] == "blas" else ""
        print(f"{pool['user_api']}: {pool['internal_api']} {pool.get('version')}, {pool['num_threads']} threads{held}")
    return 0


def _cmd_reproduce(args) -> int:
    import crossbar

    from xbar import reproduce

    progress = not args.json and not args.quiet
    if args.preset not in crossbar.preset_names():  # every choice checked before anything trains
        raise ValueError(f"--preset {args.preset!r} is not a device preset; "
                         f"{_closest(args.preset, crossbar.preset_names())} (xbar presets lists them)")
    if args.task == "noise" and args.preset != "li2019":
        raise ValueError(f"--preset {args.preset!r} with the noise study: it varies li2019's programming noise")
    if args.checkpoint and args.task == "noise":
        raise ValueError("--checkpoint applies to airline and vowels; the noise study runs 21 short trainings")
    if args.out:
        _check_output_folder(args.out, "--out")
    if args.checkpoint:
        _check_output_folder(args.checkpoint, "--checkpoint")
    _warm_up(progress)
    if args.task == "airline":
        result = reproduce.reproduce_airline(seed=args.seed, epochs=reproduce.AIRLINE_EPOCHS if args.epochs is None else args.epochs,
                                             out=args.out, progress=progress, start=args.start,
                                             checkpoint=args.checkpoint, preset=args.preset)
        key, unit = "test_rmse", " thousand passengers"
    elif args.task == "vowels":
        result = reproduce.reproduce_vowels(seed=args.seed, epochs=reproduce.VOWELS_EPOCHS if args.epochs is None else args.epochs,
                                            out=args.out, progress=progress, start=args.start,
                                            checkpoint=args.checkpoint, preset=args.preset)
        key, unit = "test_accuracy", ""
    else:
        result = reproduce.noise_study(epochs=reproduce.VOWELS_EPOCHS if args.epochs is None else args.epochs, out=args.out,
                                       progress=progress)
        if args.json:
            print(json.dumps(result))
            return 0
        print("programming noise (uS): " + ", ".join(f"{s:g}" for s in result["sigma_uS"]))
        for sigma, row in zip(result["sigma_uS"], result["hardware_accuracy"]):
            print(f"  {sigma:5.1f} uS: in situ {100 * sum(row) / len(row):.1f} % (seeds {result['seeds']})")
        print(f"  software: {100 * sum(result['software_accuracy']) / len(result['software_accuracy']):.1f} %")
        print(f"figure: {result.get('figures', ['-'])[0]}  ({result['seconds']:.0f} s)")
        return 0
    if args.json:
        print(json.dumps(result))
        return 0
    sw, hw = result["software"][key], result["hardware"][key]
    if key == "test_accuracy":
        print(f"{args.task}: test accuracy software {sw * 100:.1f} %, in situ on {args.preset} {hw * 100:.1f} %")
    else:
        print(f"{args.task}: test RMSE software {sw:.1f}{unit}, in situ on {args.preset} {hw:.1f}{unit} "
              f"(persistence {result['hardware']['persistence_rmse']:.1f})")
    print(f"seed {result['seed']}, {result['epochs']} epochs, {result['seconds']:.0f} s, "
          f"chip energy {result['hardware']['energy_J'] * 1e3:.3g} mJ")
    for path in result["figures"]:
        print(f"figure: {path}")
    return 0


def _cmd_sweep(args) -> int:
    from crossbar.validation import check_int

    from xbar import sweep
    from xbar.experiment import parameter_table

    file_seeds = None
    if args.file:
        experiment, vary, file_seeds = sweep.load_sweep_file(args.file)
        changes = {name: getattr(args, attr) for name, attr in (("hardware.way", "way"), ("hardware.preset", "preset"),
                                                                ("training.epochs", "epochs"))
                   if getattr(args, attr) is not None}
        if args.task is not None:
            raise ValueError("--task with --file: the file's [data] says what to learn")
        experiment = experiment.with_values(changes) if changes else experiment
        source = f"the experiment of {args.file}" + (" with the options given" if changes else "")
    else:
        experiment, vary = sweep.base_experiment(args.task, args.way, args.preset, args.epochs), {}
        given = [f"--{a} {getattr(args, a)}" for a in ("task", "way", "preset", "epochs")
                 if getattr(args, a) is not None]
        source = (f"Li et al.'s {experiment.data.task} experiment, {experiment.hardware.way}"
                  + (f" ({', '.join(given)})" if given else
                     " (the default base: --task airline --way ex_situ_one_shot)")
                  + "; --file FILE shows a file's")
    if args.list_params:
        print(f"# values of {source}")
        print(parameter_table(experiment))
        return 0
    extra = sweep.parse_vary(args.vary or [], experiment)
    twice = sorted(set(extra) & set(vary))
    if twice:
        raise ValueError(f"--vary {twice[0]}: {args.file} varies it too ([vary]); give its values once")
    vary.update(extra)
    seeds = check_int("seeds", file_seeds if (file_seeds is not None and args.seeds is None) else (args.seeds or 1), 1)
    if not vary and seeds < 2 and not args.file:  # a file alone is one point: its experiment as it is
        raise ValueError("nothing to vary: give --vary NAME=VALUES, a sweep file's [vary], --seeds N (2 or "
                         "more) to run the experiment with N seeds, or --file EXPERIMENT to run it once "
                         "(xbar sweep --list-params lists the names)")
    check_int("--workers", args.workers, 1)
    if args.scheduler is None:
        from xbar.workers import check_worker_count

        check_worker_count(args.workers)
    todo = sweep.points(experiment, vary, seeds, args.seed)
    try:
        counts = sweep.run_sweep(todo, args.out, workers=args.workers, scheduler=args.scheduler,
                                 progress=not args.quiet, retry_failed=args.retry_failed,
                                 set_aside_damaged=args.set_aside_damaged)
    except sweep.SweepInterrupted as stop:
        c = stop.counts
        print(f"xbar sweep: interrupted; {c['done'] + c['failed']} point(s) stored in {args.out} by this run, "
              f"{c['skipped']} before; run the same command again to compute the rest", file=sys.stderr)
        return 130
    print(f"{len(todo)} points: {counts['done']} done now, {counts['failed']} failed now, "
          f"{counts['skipped']} already in {args.out}")
    if counts["failed_left"]:
        retry = "" if args.retry_failed else "; --retry-failed runs them again"
        print(f"{counts['failed_left']} point(s) of this sweep have failed (see their \"error\" in {args.out})"
              f"{retry}", file=sys.stderr)
        return 1
    return 0


def _cmd_plot(args) -> int:
    from xbar import sweep

    from xbar.results import damaged_summary, read_results

    if not os.path.exists(args.results):
        raise ValueError(f"{args.results} does not exist; give a results file of xbar sweep (its --out)")
    if os.path.isdir(args.results):
        raise ValueError(f"{args.results} is a folder; give a results file of xbar sweep (its --out)")
    contents = read_results(args.results)
    _check_output_folder(os.path.dirname(os.path.abspath(args.out)), "--out")
    if contents.damaged:
        print(f"xbar plot: warning: {damaged_summary(args.results, contents)}; they were skipped and left "
              "as they are", file=sys.stderr)
    for path in sweep.plot_results(args.results, args.out, metric=args.metric, x=args.x, by=args.by):
        print(f"figure: {path}")
    return 0


def _cmd_run(args) -> int:
    from xbar import runner
    from xbar.experiment import load_experiment

    experiment = with_settings(load_experiment(args.experiment), args.set)
    if args.chip:
        return _evaluate_chip(args, experiment)
    _check_save_chip(args, experiment)
    if args.out:
        _check_output_folder(args.out, "--out")
    _warm_up(not args.json and not args.quiet)
    result = runner.run(experiment, out=args.out, progress=not args.json and not args.quiet, save_chip=args.save_chip)
    if args.json:
        print(json.dumps(result, default=float))
        return 0
    metric = result["metric"]
    show = (lambda v: f"{100 * v:.1f} %") if metric == "test_accuracy" else (lambda v: f"{v:.4g}")
    line = f"{result['data']}: {metric.replace('_', ' ')} software {show(result['software'][metric])}"
    if "hardware" in result:
        hw = result["hardware"]
        line += (f", {result['way']} on {experiment.hardware.preset} {show(hw[metric])} "
                 f"({hw['arrays']} array(s), {hw['energy_J'] * 1e3:.3g} mJ, {hw['adc_saturations']} ADC saturations)")
    base = result["baseline"]
    line += f"; {base['name']} {show(base[metric])}"
    print(line)
    if experiment.training.validation > 0.0:
        for name, t in result["training"].items():
            if t.get("epochs_run"):
                print(f"{name}: {t['validation_sequences']} validation sequences, {t['epochs_run']} epochs run "
                      f"({'early stop' if t['epochs_run'] < experiment.training.epochs else 'all'}), epoch "
                      f"{t['epoch_kept']} kept")
    print(f"{result['seconds']:.0f} s; files in {args.out}" if args.out else f"{result['seconds']:.0f} s")
    return 0


def with_settings(experiment, settings):
    """``experiment`` with ``--set NAME VALUE`` (or ``NAME=VALUE``) pairs applied through
    :meth:`Experiment.with_values`, so the experiment run (and stored in ``result.json``) carries them; a
    name given twice is refused."""
    changes = {}
    for name, value in settings or []:
        if name in changes:
            raise ValueError(f"--set {name} is given twice ({changes[name]!r} and {value!r}); give it once")
        changes[name] = value
    return experiment.with_values(changes) if changes else experiment


def _evaluate_chip(args, experiment) -> int:
    """``xbar run EXP --chip CHIP``: the saved chip scored on the experiment's test data, nothing trained."""
    from xbar import runner

    if args.save_chip:
        raise ValueError("--chip scores a saved chip and trains nothing: leave --save-chip out")
    if not os.path.isfile(args.chip):
        raise ValueError(f"--chip {args.chip}: no such file (a chip.npz of xbar run --save-chip)")
    result = runner.evaluate_chip(experiment, args.chip)
    if args.json:
        print(json.dumps(result, default=float))
        return 0
    metric = result["metric"]
    show = (lambda v: f"{100 * v:.1f} %") if metric == "test_accuracy" else (lambda v: f"{v:.4g}")
    hw, base = result["hardware"], result["baseline"]
    print(f"{result['data']}: {metric.replace('_', ' ')} of the chip in {args.chip} {show(hw[metric])} "
          f"({hw['arrays']} array(s)); {base['name']} {show(base[metric])}")
    return 0


def _check_save_chip(args, experiment) -> None:
    """``--save-chip`` keeps a chip only with a folder and a way onto hardware: refused before anything runs."""
    if not getattr(args, "save_chip", False):
        return
    if not args.out:
        raise ValueError("--save-chip keeps the chip as OUT/chip.npz; give --out FOLDER")
    if experiment.hardware.way == "software":
        raise ValueError("--save-chip with hardware.way='software': no chip is trained; choose a way onto "
                         "hardware (--set hardware.way in_situ) or leave --save-chip out")


def _closest(word: str, names) -> str:
    """``closest: a, b`` of ``names`` to ``word`` (difflib), or all of a few."""
    import difflib

    names = list(names)
    close = difflib.get_close_matches(str(word), names, n=4, cutoff=0.5)
    return f"closest: {', '.join(close)}" if close else f"one of {', '.join(names[:12])}" + \
        (f" ... ({len(names)} in all)" if len(names) > 12 else "")


def _split_settings(argv: List[str]) -> List[str]:
    """``--set NAME=VALUE`` (and ``--set=NAME=VALUE``) as ``--set NAME VALUE``."""
    out, k = [], 0
    while k < len(argv):
        item = argv[k]
        if item == "--set" and k + 1 < len(argv) and "=" in argv[k + 1] and not argv[k + 1].startswith("-"):
            out += ["--set", *argv[k + 1].split("=", 1)]
            k += 2
            continue
        if item.startswith("--set=") and "=" in item[len("--set="):]:
            out += ["--set", *item[len("--set="):].split("=", 1)]
        else:
            out.append(item)
        k += 1
    return out


def _warm_up(say: bool) -> None:
    """Compile (or load) the kernels before any progress bar starts, saying so when it is the first run."""
    from lstm.warmup import kernels_cached, warm_up

    if say and not kernels_cached():
        print("compiling kernels (first run only, about a minute)...", file=sys.stderr, flush=True)
    warm_up()


def _check_output_folder(folder: str, option: str) -> None:
    """Make ``folder`` (and its parents) and check a file can be written in it, before any long work."""
    import tempfile

    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(f"{option} {folder}: cannot write there ({error.strerror or error})") from None


def _cmd_map(args) -> int:
    from xbar.experiment import li2019
    from crossbar import ArraySpec
    from crossbar.validation import CHECKED_BYTES, check_memory
    from mapping import ChipSpec

    from lstm.hardware import LAYOUT_BYTES_PER_ARRAY, estimated_arrays, place_network
    from lstm.network import Network, NetworkConfig
    from xbar.runner import corners as li2019_placement, network_config, problem_of

    if args.network in ("airline", "vowels"):
        exp = li2019(args.network)
        config = network_config(exp, problem_of(exp))
        corners = li2019_placement(exp, Network(config, seed=0))
    else:
        if args.inputs is None or not args.hidden or args.outputs is None:
            raise ValueError("a custom network needs --inputs, --hidden and --outputs")
        config = NetworkConfig(args.inputs, tuple(args.hidden), args.outputs, cell=args.cell, bias=not args.no_bias)
        corners = None
    stem = os.path.splitext(args.out)[0]
    _check_figure_path(args.out, "--out")
    hardware = ChipSpec(preset="ideal", corners=corners,
                        array=ArraySpec(rows=args.rows, cols=args.cols, count=1 if corners else None))
    arrays = estimated_arrays(config, hardware)
    if arrays > MAX_MAP_ARRAYS:
        count = f"{arrays:,.0f}" if arrays < 1e12 else f"{arrays:.3g}"
        raise ValueError(f"the network takes about {count} arrays of {args.rows} x {args.cols} devices; xbar map "
                         f"lays out at most {MAX_MAP_ARRAYS:,} (about a minute): larger --rows and --cols, or a "
                         "smaller network")
    if arrays * LAYOUT_BYTES_PER_ARRAY > CHECKED_BYTES:
        check_memory(f"the layout of about {arrays:,.0f} arrays", arrays * LAYOUT_BYTES_PER_ARRAY)
    chip = hardware.build()
    try:
        place_network(chip, config, hardware)  # shapes only: no weights, no devices
    except MemoryError:
        raise ValueError(f"placing the network on arrays of {args.rows} x {args.cols} devices ran out of memory; "
                         "smaller --rows and --cols") from None
    layout = chip.layout
    print(layout.table() if len(layout.blocks) <= MAX_BLOCKS_PRINTED else layout.summary())
    layout.to_csv(stem + ".csv")
    layout.save(args.out)
    print(f"figure: {args.out}\nevery block: {stem}.csv")
    return 0


MAX_BLOCKS_PRINTED = 200
"""``xbar map`` prints every block up to this many, else a summary per matrix (every block goes to the CSV)."""

MAX_MAP_ARRAYS = 100_000
"""Most arrays ``xbar map`` lays out (8 814 arrays took 3.8 s and 320 MB: about 45 s and 2.4 GB at the most)."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    """Argument errors in one line, exit code 2, like every other error of ``xbar``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _integer(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} is below {low}")
    return value


def _non_negative(text: str) -> int:
    return _integer(text, 0)


def _positive(text: str) -> int:
    return _integer(text, 1)


def _at_least_two(text: str) -> int:
    return _integer(text, 2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``xbar`` and its commands (choices from the description's fields,
    :func:`crossbar.settings.allowed`)."""
    from crossbar import AdcSpec
    from crossbar.settings import allowed

    from xbar.experiment import DataSection, HardwareSection, NetworkSection

    parser = _Parser(
        prog="xbar", formatter_class=_Formatter,
        description="Memristor-crossbar simulator for LSTM networks.",
        epilog="example:\n  xbar reproduce airline")
    from crossbar import __version__

    parser.add_argument("--version", action="version", version=f"xbar {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("presets", help="list the device and periphery presets and their parameters",
                       formatter_class=_Formatter,
                       description="List the device presets, their parameters in friendly units and their sources, "
                                   "then the periphery presets (arrays, converters, slices and energy of ISAAC and "
                                   "PRIME). --json prints the devices only.",
                       epilog="example:\n  xbar presets --verbose\n  xbar presets --json")
    p.add_argument("--verbose", action="store_true", help="also print where each preset's numbers come from")
    p.add_argument("--json", action="store_true", help="print every field in SI units as JSON")
    p.set_defaults(func=_cmd_presets)

    p = sub.add_parser("reproduce", help="reproduce Li et al. 2019 on a simulated 128x64 li2019 array",
                       formatter_class=_Formatter,
                       description="Train Li et al.'s networks in situ on one simulated 128x64 array of li2019 "
                                   "devices, and the same networks the same way in software; print both test "
                                   "metrics and write the figures.\n"
                                   "  airline: LSTM 15 + dense 1 (sigmoid), SGD 0.01 momentum 0.9, batch 1, "
                                   "800 epochs\n"
                                   "  vowels:  LSTM 14 + dense 9 (softmax), RMSprop 0.01, batch 50, 50 epochs\n"
                                   "  noise:   in-situ vowels accuracy against programming noise 0..12 uS",
                       epilog="example:\n  xbar reproduce airline --out out\n  xbar reproduce vowels --seed 3 --json")
    p.add_argument("task", choices=list(allowed(DataSection, "task")) + ["noise"])
    p.add_argument("--seed", type=_non_negative, default=0,
                   help="network initialisation, chip and data order (default 0)")
    p.add_argument("--epochs", type=_positive, default=None, help="override the paper's epoch count")
    p.add_argument("--out", default="out", help="directory for the figures (default ./out)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--checkpoint", metavar="DIR", default=None,
                   help="keep a checkpoint of each training in DIR after every epoch and resume from it "
                        "(an interrupted run loses at most one epoch; the numbers are those of an "
                        "uninterrupted run)")
    p.add_argument("--preset", default="li2019", help="device preset of the array (default li2019, the paper's)")
    p.add_argument("--start", choices=list(allowed(HardwareSection, "start")), default="programmed",
                   help="in-situ starting weights: the software twin's initial weights programmed one-shot "
                        "(default), or every device RESET and SET at 1.0 V as Li et al.")
    p.set_defaults(func=_cmd_reproduce)

    p = sub.add_parser("sweep", help="sweep any parameter of an experiment, locally or on a Dask cluster",
                       formatter_class=_Formatter,
                       description="Run a base experiment for every combination of the varied parameters and "
                                   "every seed, in parallel; store each finished point at once (JSON lines), so "
                                   "a rerun skips what is done. NAME is a dotted name (device.pulse_law.step_up, "
                                   "adc.bits, training.learning_rate; --list-params prints them all). VALUES: "
                                   "start:stop:count, log:start:stop:count, or a,b,c (words for a choice).",
                       epilog="example:\n  xbar sweep --task airline --way ex_situ_one_shot "
                              "--vary device.program_noise_sigma=0:6e-6:7 --seeds 3 --workers 2 --out noise.jsonl")
    p.add_argument("--vary", action="append", metavar="NAME=VALUES",
                   help="a dotted parameter and its values (repeatable; --list-params lists the names)")
    p.add_argument("--file", help="an experiment file (TOML, its sections) with a [vary] table; or the short "
                                  "form [experiment] task, way, preset, epochs, seeds")
    p.add_argument("--list-params", action="store_true",
                   help="print every parameter that can be varied, with its unit and value, and stop")
    p.add_argument("--task", choices=list(allowed(DataSection, "task")), default=None, help="a shipped task, Li et al.'s settings "
                                                                      "(default airline)")
    p.add_argument("--way", choices=list(allowed(HardwareSection, "way")), default=None, help="default ex_situ_one_shot")
    p.add_argument("--preset", default=None, help="device preset (default li2019)")
    p.add_argument("--epochs", type=_positive, default=None, help="training epochs (default the paper's)")
    p.add_argument("--seeds", type=_positive, default=None, help="seeds per point (default 1); with nothing "
                                                                  "varied, the experiment with N seeds")
    p.add_argument("--seed", type=_non_negative, default=0, help="first seed (default 0)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1; at most the "
                                                          "cores, and about 150 MB of free memory each)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, tcp://HOST:PORT "
                                                     "(refused after 10 s if it cannot be reached)")
    p.add_argument("--out", default="sweep.jsonl", help="results file (default sweep.jsonl); an existing "
                                                        "file must be a results file of the same experiment")
    p.add_argument("--retry-failed", action="store_true", help="run again the points stored as failed")
    p.add_argument("--set-aside-damaged", action="store_true",
                   help="move lines of the results file that are not records into FILE.damaged "
                        "(without it such a file is refused and left as it is)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("run", help="train and evaluate an experiment file: your data, network and device",
                       formatter_class=_Formatter,
                       description="Train the experiment's network in software and on the simulated chip "
                                   "(its way), score both on the held-out data, write figures (PNG and PDF) and "
                                   "the data behind them (result.json, history.csv, predictions.csv, "
                                   "confusion_*.csv, conductances) into --out. See docs/guide.md for the file.",
                       epilog="example:\n  xbar run experiment.toml --out results\n"
                              "  xbar run experiment.toml --set device.program_noise_sigma 2e-6 --json\n"
                              "  xbar run results/experiment.toml --chip results/chip.npz")
    p.add_argument("experiment", help="a TOML or JSON experiment file")
    p.add_argument("--out", default="out", help="folder for the figures and data (default ./out; '' for none)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--save-chip", action="store_true", help="keep the trained chip as OUT/chip.npz "
                                                            "(HardwareNetwork.load reads it)")
    p.add_argument("--set", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="change one dotted parameter, NAME VALUE or NAME=VALUE (repeatable; stored in "
                        "result.json's experiment; lists as 12,8)")
    p.add_argument("--chip", metavar="CHIP", help="train nothing: score a chip saved by --save-chip (OUT/chip.npz) "
                                                  "on the experiment's test data (the run's metric, bit for bit)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("plot", help="plot a sweep's results", formatter_class=_Formatter,
                       description="Each metric against a varied parameter with the spread over seeds, the "
                                   "software baseline as a line, one curve per value of a second parameter; "
                                   "PNG and PDF.",
                       epilog="example:\n  xbar plot noise.jsonl --out noise.png")
    p.add_argument("results", help="a results file of xbar sweep")
    p.add_argument("--out", default="sweep.png", help="figure path; .png and .pdf are written")
    p.add_argument("--metric", default=None, help="default the first hardware metric")
    p.add_argument("--x", default=None, help="parameter on the x axis (default the first varied)")
    p.add_argument("--by", default=None, help="one curve per value of this parameter")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("map", help="print and draw the layout of a network on arrays", formatter_class=_Formatter,
                       description="Place a network's matrices on 128x64 arrays (Li et al.'s networks at their "
                                   "corners, custom ones first fit), print the blocks and draw them.",
                       epilog="example:\n  xbar map airline --out airline_layout.png\n"
                              "  xbar map custom --inputs 40 --hidden 64 64 --outputs 10")
    p.add_argument("network", choices=["airline", "vowels", "custom"])
    p.add_argument("--inputs", type=_positive)
    p.add_argument("--hidden", type=_positive, nargs="+")
    p.add_argument("--outputs", type=_positive)
    p.add_argument("--cell", default="lstm", choices=list(allowed(NetworkSection, "cell")))
    p.add_argument("--no-bias", action="store_true")
    p.add_argument("--rows", type=_at_least_two, default=128, help="rows of an array (default 128)")
    p.add_argument("--cols", type=_at_least_two, default=64, help="columns of an array (default 64)")
    p.add_argument("--out", default="layout.png")
    p.set_defaults(func=_cmd_map)

    p = sub.add_parser("adc", help="build column converters and print their ENOB, DNL, INL and missing codes",
                       formatter_class=_Formatter,
                       description="Build the converters of one array's columns (mismatch drawn from the seed, as "
                                   "a chip's arrays draw theirs) and measure each: ENOB from a sine fit, DNL and INL "
                                   "from the transition levels, missing codes; draw the transfer curves.",
                       epilog="example:\n  xbar adc --kind sar --bits 8 --capacitor-mismatch-sigma 0.05 "
                              "--out sar.png\n  xbar adc --kind ramp --comparator-offset-sigma-lsb 0.5")
    p.add_argument("--kind", default="sar", choices=list(allowed(AdcSpec, "kind")))
    p.add_argument("--bits", type=int, default=8, help=f"{ADC_BITS[0]}..{ADC_BITS[1]}")
    p.add_argument("--capacitor-mismatch-sigma", type=float, default=0.0, help="SAR unit capacitor, relative")
    p.add_argument("--comparator-offset-sigma-lsb", type=float, default=0.0, help="LSB")
    p.add_argument("--amplifier-gain", type=float, default=None, help="open-loop gain (default ideal)")
    p.add_argument("--columns-per-converter", type=int, default=1)
    p.add_argument("--columns", type=int, default=8, help=f"columns of the array, {ADC_COLUMNS[0]}..{ADC_COLUMNS[1]}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="PNG of the transfer curves and DNL")
    p.add_argument("--plot", type=int, default=4, help="converters drawn")
    p.set_defaults(func=_cmd_adc)

    p = sub.add_parser("device", help="fit a device to measured pulse traces, or show a device's response",
                       formatter_class=_Formatter,
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
    p.set_defaults(func=_cmd_device)

    p = sub.add_parser("info", help="print versions and thread settings", formatter_class=_Formatter,
                       description="Print package versions, cores and the thread settings of Numba and BLAS.",
                       epilog="example:\n  xbar info")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``xbar`` console script."""
    parser = build_parser()
    argv = _split_settings(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a bad argument (2, one line already printed)
        return int(stop.code or 0)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except BrokenPipeError:  # the reader of our output left (xbar sweep --list-params | head): end quietly
        _quiet_stdout()
        return 0
    except (ValueError, OSError) as error:  # a user's error: one line, nothing half done
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"xbar {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"xbar {args.command}: interrupted", file=sys.stderr)
        return 130


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail on a closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
