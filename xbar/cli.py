"""The ``xbar`` command line: the parser and :func:`main`; each command lives in its module of
:mod:`xbar.commands`.

Every command's ``--help`` ends with an example.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from xbar.commands.device import load_device
from xbar.commands.options import Formatter, Parser
from xbar.commands.run import with_settings

__all__ = ["build_parser", "main", "load_device", "with_settings"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``xbar`` and its commands (choices from the description's fields,
    :func:`crossbar.settings.allowed`)."""
    from crossbar import __version__

    from xbar.commands import command_modules

    parser = Parser(
        prog="xbar", formatter_class=Formatter,
        description="Memristor-crossbar simulator for LSTM networks.",
        epilog="example:\n  xbar reproduce airline")
    parser.add_argument("--version", action="version", version=f"xbar {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in command_modules():
        command.add_parser(sub)
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
