"""Writing files so that a crash or a kill never leaves a half-written one in place of a whole one."""

from __future__ import annotations

import os
from typing import BinaryIO, Callable


def write_atomically(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through ``write(file)`` into ``<path>.partial``, sync it, then rename it over ``path``.

    A crash or kill at any moment leaves either the old file or the new one
    whole; at most a ``<path>.partial`` stays behind, which the next write
    replaces (and which callers may remove on start). The folder is synced
    too, so the rename itself survives a power cut.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".partial"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - folders cannot be opened on some systems
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def append_durably(path: str, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing), flushed and synced to disk before returning."""
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
