"""The parser classes and argument types of the ``xbar`` command line."""

from __future__ import annotations

import argparse


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written: their line breaks kept."""


class Parser(argparse.ArgumentParser):
    """Argument errors in one line, exit code 2, like every other error of ``xbar``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def whole_number(text: str, low: int) -> int:
    """``text`` as a whole number of at least ``low``; refused (argparse's one-line error) otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} is below {low}")
    return value


def non_negative(text: str) -> int:
    """A whole number, 0 or more (seeds)."""
    return whole_number(text, 0)


def positive(text: str) -> int:
    """A whole number, 1 or more (epochs, seeds, sizes)."""
    return whole_number(text, 1)


def at_least_two(text: str) -> int:
    """A whole number, 2 or more (an array's rows and columns)."""
    return whole_number(text, 2)
