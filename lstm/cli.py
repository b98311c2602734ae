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
    for name in crossbar.preset_names():
        print(crossbar.preset(name).describe())
        if args.verbose:
            print("  " + crossbar.preset_doc(name).replace("\n", "\n  "))
        print()
    return 0


def _cmd_info(args) -> int:
    import numba
    import numpy
    import scipy

    import crossbar

    print(f"xbar {crossbar.__version__} on Python {platform.python_version()} ({platform.machine()})")
    print(f"numpy {numpy.__version__}, scipy {scipy.__version__}, numba {numba.__version__}")
    print(f"cores {os.cpu_count()}, numba threads {numba.get_num_threads()} "
          f"(layer {numba.config.THREADING_LAYER}), NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '-')}")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        print(f"{var}={os.environ.get(var, '-')}")
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            print(f"{pool['user_api']}: {pool['internal_api']} {pool.get('version')}, {pool['num_threads']} threads")
    except ImportError:
        print("threadpoolctl not installed: BLAS thread count unknown")
    return 0


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``xbar`` and its commands."""
    parser = argparse.ArgumentParser(
        prog="xbar", formatter_class=_Formatter,
        description="Memristor-crossbar simulator for LSTM networks.",
        epilog="example:\n  xbar presets --verbose")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("presets", help="list the device presets and their parameters", formatter_class=_Formatter,
                       description="List the device presets, their parameters in friendly units and their sources.",
                       epilog="example:\n  xbar presets --verbose\n  xbar presets --json")
    p.add_argument("--verbose", action="store_true", help="also print where each preset's numbers come from")
    p.add_argument("--json", action="store_true", help="print every field in SI units as JSON")
    p.set_defaults(func=_cmd_presets)

    p = sub.add_parser("info", help="print versions and thread settings", formatter_class=_Formatter,
                       description="Print package versions, cores and the thread settings of Numba and BLAS.",
                       epilog="example:\n  xbar info")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``xbar`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
