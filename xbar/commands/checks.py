"""Checks shared by the commands, made before any long work: output folders and figure paths, and the
kernels compiled before a progress bar starts."""

from __future__ import annotations

import os
import sys


def check_output_folder(folder: str, option: str) -> None:
    """Make ``folder`` (and its parents) and check a file can be written in it, before any long work."""
    import tempfile

    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(f"{option} {folder}: cannot write there ({error.strerror or error})") from None


def check_figure_path(path: str, option: str) -> None:
    """Refuse a figure's path whose format matplotlib does not write or whose folder cannot be written,
    before any work."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    if suffix not in formats:
        raise ValueError(f"{option} {path}: a figure's file ends in one of "
                         f"{', '.join('.' + f for f in sorted(formats))}")
    check_output_folder(os.path.dirname(os.path.abspath(path)), option)


def closest(word: str, names) -> str:
    """``closest: a, b`` of ``names`` to ``word`` (difflib), or all of a few."""
    import difflib

    names = list(names)
    close = difflib.get_close_matches(str(word), names, n=4, cutoff=0.5)
    return f"closest: {', '.join(close)}" if close else f"one of {', '.join(names[:12])}" + \
        (f" ... ({len(names)} in all)" if len(names) > 12 else "")


def warm_up_kernels(say: bool) -> None:
    """Compile (or load) the kernels before any progress bar starts, saying so when it is the first run."""
    from lstm.warmup import kernels_cached, warm_up

    if say and not kernels_cached():
        print("compiling kernels (first run only, about a minute)...", file=sys.stderr, flush=True)
    warm_up()
