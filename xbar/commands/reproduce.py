"""``xbar reproduce``: Li et al. 2019's airline and vowels runs and the noise study."""

from __future__ import annotations

import json

from xbar.commands.checks import check_output_folder, closest, warm_up_kernels
from xbar.commands.options import Formatter, non_negative, positive


def add_parser(sub) -> None:
    """Add ``xbar reproduce`` to the subcommands ``sub``: its options, help and example."""
    from crossbar.settings import allowed

    from xbar.experiment import DataSection, HardwareSection

    p = sub.add_parser("reproduce", help="reproduce Li et al. 2019 on a simulated 128x64 li2019 array",
                       formatter_class=Formatter,
                       description="Train Li et al.'s networks in situ on one simulated 128x64 array of li2019 "
                                   "devices, and the same networks the same way in software; print both test "
                                   "metrics and write the figures.\n"
                                   "  airline: LSTM 15 + dense 1 (sigmoid), SGD 0.01 momentum 0.9, batch 1, "
                                   "800 epochs\n"
                                   "  vowels:  LSTM 14 + dense 9 (softmax), RMSprop 0.01, batch 50, 50 epochs\n"
                                   "  noise:   in-situ vowels accuracy against programming noise 0..12 uS",
                       epilog="example:\n  xbar reproduce airline --out out\n  xbar reproduce vowels --seed 3 --json")
    p.add_argument("task", choices=list(allowed(DataSection, "task")) + ["noise"])
    p.add_argument("--seed", type=non_negative, default=0,
                   help="network initialisation, chip and data order (default 0)")
    p.add_argument("--epochs", type=positive, default=None, help="override the paper's epoch count")
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
    p.set_defaults(func=run)


def run(args) -> int:
    """Train and print (or print as JSON) the chosen reproduction; exit code 0."""
    import crossbar

    from xbar import reproduce

    progress = not args.json and not args.quiet
    if args.preset not in crossbar.preset_names():  # every choice checked before anything trains
        raise ValueError(f"--preset {args.preset!r} is not a device preset; "
                         f"{closest(args.preset, crossbar.preset_names())} (xbar presets lists them)")
    if args.task == "noise" and args.preset != "li2019":
        raise ValueError(f"--preset {args.preset!r} with the noise study: it varies li2019's programming noise")
    if args.checkpoint and args.task == "noise":
        raise ValueError("--checkpoint applies to airline and vowels; the noise study runs 21 short trainings")
    if args.out:
        check_output_folder(args.out, "--out")
    if args.checkpoint:
        check_output_folder(args.checkpoint, "--checkpoint")
    warm_up_kernels(progress)
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
