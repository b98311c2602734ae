"""One crossbar array: its conductances and the ways to write and read them (:class:`CrossbarArray`)."""

from crossbar.array.crossbar_array import CrossbarArray, ProgramReport

__all__ = ["CrossbarArray", "ProgramReport"]
