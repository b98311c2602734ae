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


def save_arrays(path: str, meta: dict, arrays: dict) -> None:
    """Write ``arrays`` (plain numpy arrays) and a JSON record ``meta`` into one ``.npz``, atomically."""
    import json

    import numpy as np

    write_atomically(path, lambda f: np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays))


def load_arrays(path: str, file_format: str, label: str, what: str):
    """``(meta, arrays)`` of a file written by :func:`save_arrays` with ``meta["format"] == file_format``.

    Nothing is unpickled. A damaged file, one without a record, or one of
    another format raises ``ValueError`` starting with ``label`` (the file as
    the caller names it) and saying what it is not (``what``).
    """
    import json
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except KeyError:
        raise ValueError(f"{label}: not {what} of xbar (no __meta__ entry)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ValueError(f"{label}: damaged or not {what} ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''})") from None
    version = meta.get("format") if isinstance(meta, dict) else None
    if version != file_format:
        raise ValueError(f"{label}: format {version!r} is not known; this xbar reads {file_format!r} "
                         "(an older or foreign file)")
    return meta, arrays
