"""The commands of ``xbar``, a module each: ``add_parser(sub)`` adds the command, its options and its help to
the subcommands ``sub`` (and points ``func`` at the module's ``run``); ``run(args)`` does it and returns the
exit code. :mod:`xbar.cli` builds the parser from them and runs one.

:mod:`~xbar.commands.options` holds the parser classes and argument types they share,
:mod:`~xbar.commands.checks` the checks made before any long work.
"""

from __future__ import annotations

import importlib
from typing import List

COMMANDS = ("presets", "reproduce", "sweep", "run", "plot", "map", "adc", "device", "info")
"""The commands, in the order ``xbar --help`` lists them; each is the module ``xbar.commands.NAME``."""


def command_modules() -> List:
    """The modules of :data:`COMMANDS`, in their order (imported here: each imports its heavy packages only
    when it runs)."""
    return [importlib.import_module(f"xbar.commands.{name}") for name in COMMANDS]
