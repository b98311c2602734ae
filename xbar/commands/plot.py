"""``xbar plot``: a sweep's results drawn."""

from __future__ import annotations

import os
import sys

from xbar.commands.checks import check_output_folder
from xbar.commands.options import Formatter


def add_parser(sub) -> None:
    """Add ``xbar plot`` to the subcommands ``sub``: its options, help and example."""
    p = sub.add_parser("plot", help="plot a sweep's results", formatter_class=Formatter,
                       description="Each metric against a varied parameter with the spread over seeds, the "
                                   "software baseline as a line, one curve per value of a second parameter; "
                                   "PNG and PDF.",
                       epilog="example:\n  xbar plot noise.jsonl --out noise.png")
    p.add_argument("results", help="a results file of xbar sweep")
    p.add_argument("--out", default="sweep.png", help="figure path; .png and .pdf are written")
    p.add_argument("--metric", default=None, help="default the first hardware metric")
    p.add_argument("--x", default=None, help="parameter on the x axis (default the first varied)")
    p.add_argument("--by", default=None, help="one curve per value of this parameter")
    p.set_defaults(func=run)


def run(args) -> int:
    """Draw the results file's figures; exit code 0."""
    from xbar import sweep

    from xbar.results import damaged_summary, read_results

    if not os.path.exists(args.results):
        raise ValueError(f"{args.results} does not exist; give a results file of xbar sweep (its --out)")
    if os.path.isdir(args.results):
        raise ValueError(f"{args.results} is a folder; give a results file of xbar sweep (its --out)")
    contents = read_results(args.results)
    check_output_folder(os.path.dirname(os.path.abspath(args.out)), "--out")
    if contents.damaged:
        print(f"xbar plot: warning: {damaged_summary(args.results, contents)}; they were skipped and left "
              "as they are", file=sys.stderr)
    for path in sweep.plot_results(args.results, args.out, metric=args.metric, x=args.x, by=args.by):
        print(f"figure: {path}")
    return 0
