"""``xbar run``: an experiment file trained and scored, or a saved chip scored."""

from __future__ import annotations

import json
import os

from xbar.commands.checks import check_output_folder, warm_up_kernels
from xbar.commands.options import Formatter


def add_parser(sub) -> None:
    """Add ``xbar run`` to the subcommands ``sub``: its options, help and example."""
    p = sub.add_parser("run", help="train and evaluate an experiment file: your data, network and device",
                       formatter_class=Formatter,
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
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the experiment (or score ``--chip``) and print the result; exit code 0."""
    from xbar import runner
    from xbar.experiment import load_experiment

    experiment = with_settings(load_experiment(args.experiment), args.set)
    if args.chip:
        return _evaluate_chip(args, experiment)
    _check_save_chip(args, experiment)
    if args.out:
        check_output_folder(args.out, "--out")
    warm_up_kernels(not args.json and not args.quiet)
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
