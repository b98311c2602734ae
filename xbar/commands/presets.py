"""``xbar presets``: the device and periphery presets, as text or JSON."""

from __future__ import annotations

import json

from xbar.commands.options import Formatter


def add_parser(sub) -> None:
    """Add ``xbar presets`` to the subcommands ``sub``: its options, help and example."""
    p = sub.add_parser("presets", help="list the device and periphery presets and their parameters",
                       formatter_class=Formatter,
                       description="List the device presets, their parameters in friendly units and their sources, "
                                   "then the periphery presets (arrays, converters, slices and energy of ISAAC and "
                                   "PRIME). --json prints the devices only.",
                       epilog="example:\n  xbar presets --verbose\n  xbar presets --json")
    p.add_argument("--verbose", action="store_true", help="also print where each preset's numbers come from")
    p.add_argument("--json", action="store_true", help="print every field in SI units as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    """Print the presets; exit code 0."""
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
