"""``xbar map``: the layout of a network on arrays, printed and drawn."""

from __future__ import annotations

import os

from xbar.commands.checks import check_figure_path
from xbar.commands.options import Formatter, at_least_two, positive


MAX_BLOCKS_PRINTED = 200
"""``xbar map`` prints every block up to this many, else a summary per matrix (every block goes to the CSV)."""

MAX_MAP_ARRAYS = 100_000
"""Most arrays ``xbar map`` lays out (8 814 arrays took 3.8 s and 320 MB: about 45 s and 2.4 GB at the most)."""


def add_parser(sub) -> None:
    """Add ``xbar map`` to the subcommands ``sub``: its options, help and example."""
    from crossbar.settings import allowed

    from xbar.experiment import NetworkSection

    p = sub.add_parser("map", help="print and draw the layout of a network on arrays", formatter_class=Formatter,
                       description="Place a network's matrices on 128x64 arrays (Li et al.'s networks at their "
                                   "corners, custom ones first fit), print the blocks and draw them.",
                       epilog="example:\n  xbar map airline --out airline_layout.png\n"
                              "  xbar map custom --inputs 40 --hidden 64 64 --outputs 10")
    p.add_argument("network", choices=["airline", "vowels", "custom"])
    p.add_argument("--inputs", type=positive)
    p.add_argument("--hidden", type=positive, nargs="+")
    p.add_argument("--outputs", type=positive)
    p.add_argument("--cell", default="lstm", choices=list(allowed(NetworkSection, "cell")))
    p.add_argument("--no-bias", action="store_true")
    p.add_argument("--rows", type=at_least_two, default=128, help="rows of an array (default 128)")
    p.add_argument("--cols", type=at_least_two, default=64, help="columns of an array (default 64)")
    p.add_argument("--out", default="layout.png")
    p.set_defaults(func=run)


def run(args) -> int:
    """Place the network on arrays, print its blocks and write the figure and CSV; exit code 0."""
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
    check_figure_path(args.out, "--out")
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
