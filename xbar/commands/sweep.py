"""``xbar sweep``: any parameter of an experiment varied, locally or on a Dask cluster."""

from __future__ import annotations

import sys

from xbar.commands.options import Formatter, non_negative, positive


def add_parser(sub) -> None:
    """Add ``xbar sweep`` to the subcommands ``sub``: its options, help and example."""
    from crossbar.settings import allowed

    from xbar.experiment import DataSection, HardwareSection

    p = sub.add_parser("sweep", help="sweep any parameter of an experiment, locally or on a Dask cluster",
                       formatter_class=Formatter,
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
    p.add_argument("--epochs", type=positive, default=None, help="training epochs (default the paper's)")
    p.add_argument("--seeds", type=positive, default=None, help="seeds per point (default 1); with nothing "
                                                                  "varied, the experiment with N seeds")
    p.add_argument("--seed", type=non_negative, default=0, help="first seed (default 0)")
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
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the sweep's points not yet stored; exit code 0, 1 when a point failed, 130 when interrupted."""
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
