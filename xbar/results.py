"""Results files of sweeps: JSON lines that belong to this project, never lost, one writer at a time.

A results file holds one record per finished point, one JSON object per
line. Every record carries the format marker ``"format": "xbar-sweep/1"``, its
experiment (the base experiment and the names of the varied parameters) and
its parameters, seed and metrics. The rules that keep a user's data safe:

- **A file that is not ours is never touched.** A file with content but no
  record of this format (a text file, a CSV) is refused with a one-line
  ``ResultsFileError`` naming the file, and left byte for byte as it was.
  So is a file of another experiment: the message says what differs.
- **Reading never writes** (:func:`read_results`).
- **Damaged lines are kept.** A line in the middle that is not a record is
  reported with its line number and left in place; only with the user's
  consent (``set_aside_damaged=True``, ``xbar sweep --set-aside-damaged``) is
  it moved into ``<file>.damaged``.
- **A torn last line is repaired.** A kill during a write can leave a last
  line without its newline that is not a whole record; the writer moves that
  fragment into ``<file>.damaged`` before it appends, so nothing is lost and
  the point it was writing is computed again. A whole last record without a
  newline gets one before the next record, so records are never glued.
- **One writer per file.** :class:`ResultsWriter` holds an advisory lock
  (``<file>.lock``, with the writer's process id) on the real file (symbolic
  links resolved) and a lock on the file itself (so two hard links of one file
  are one file too); a second writer is refused with a message naming the
  process that holds the file. Everything it changes, it changes in the real
  file (a symbolic link stays a link).

Records written by the first version (no format marker, the same keys) are
read as records of format 0.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from crossbar.files import append_durably, write_atomically

FORMAT = "xbar-sweep/1"
"""The marker every record of this version carries."""
LEGACY_KEYS = frozenset({"key", "experiment", "params", "seed", "status"})
"""Keys of a record of the first version, which had no marker."""


class ResultsFileError(ValueError):
    """A results file that cannot be used as asked; the message names the file and the reason."""


@dataclass
class Contents:
    """What a results file holds, as read (nothing is changed by reading).

    Attributes
    ----------
    records : list of dict
        The records, in file order.
    numbers : list of int
        The 1-based line number of each record.
    damaged : list of (int, str)
        Lines (1-based number, text) that are not records, the torn last line excluded.
    torn : bytes or None
        A last line without a newline that is not a whole record (a write cut short).
    missing_newline : bool
        The last line is a whole record without its newline.
    size : int
        Bytes in the file.
    """

    records: List[dict] = field(default_factory=list)
    numbers: List[int] = field(default_factory=list)
    damaged: List[Tuple[int, str]] = field(default_factory=list)
    torn: Optional[bytes] = None
    missing_newline: bool = False
    size: int = 0

    def latest(self) -> Dict[str, dict]:
        """The last record of each point key (a retried point supersedes its failure)."""
        out: Dict[str, dict] = {}
        for r in self.records:
            out[r["key"]] = r
        return out

    def experiment(self) -> Optional[dict]:
        """The experiment identity the records share (None for no records)."""
        return identity_of(self.records[0]) if self.records else None


def is_record(value) -> bool:
    """Whether a decoded JSON value is a record of this project (any format version)."""
    if not isinstance(value, dict):
        return False
    if value.get("format") == FORMAT:
        return LEGACY_KEYS <= value.keys()
    return "format" not in value and LEGACY_KEYS <= value.keys()


def identity_of(record: dict) -> dict:
    """The experiment a record belongs to: its base experiment and the names it varies."""
    return {"experiment": record.get("experiment"), "varied": sorted(record.get("params", {}))}


def describe_difference(here: dict, there: dict) -> str:
    """A short text of how two experiment identities differ (``there`` is the file's)."""
    parts = []
    a, b = here.get("experiment") or {}, there.get("experiment") or {}
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            parts.append(f"{k} is {b.get(k)!r} there, {a.get(k)!r} here")
    if here.get("varied") != there.get("varied"):
        parts.append(f"it varies {', '.join(there.get('varied')) or 'nothing'} there, "
                     f"{', '.join(here.get('varied')) or 'nothing'} here")
    return "; ".join(parts) or "the experiments differ"


def read_results(path: str) -> Contents:
    """Read a results file without changing it.

    Parameters
    ----------
    path : str
        The file; a missing or empty file holds no records.

    Raises
    ------
    ResultsFileError
        If the file has content but no record of this project (it is someone
        else's file), or its records belong to more than one experiment.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return Contents()
    except OSError as error:
        raise ResultsFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    contents = Contents(size=len(data))
    if not data.strip():
        return contents
    lines = data.split(b"\n")
    ends_with_newline = lines[-1] == b""
    if ends_with_newline:
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        last = number == len(lines) and not ends_with_newline
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            value = None
        if is_record(value):
            contents.records.append(value)
            contents.numbers.append(number)
            contents.missing_newline = last
        elif last:
            contents.torn = raw
        else:
            contents.damaged.append((number, raw.decode("utf-8", errors="replace")))
    if not contents.records and not (contents.torn or b"").startswith(b'{"format": "' + FORMAT.encode()):
        n_lines = len(contents.damaged) + (contents.torn is not None)
        raise ResultsFileError(f"{path} is not an xbar results file (none of its {n_lines} line(s) is a record "
                               f"of format {FORMAT}); it was left as it is. Choose another file")
    if not contents.records:  # only a first record cut short by a kill: ours, and empty
        return contents
    for number, r in zip(contents.numbers, contents.records):  # a hand-edited record: named by its line
        if not isinstance(r.get("params"), dict) or not isinstance(r.get("key"), str):
            what = "params" if not isinstance(r.get("params"), dict) else "key"
            wanted = "a table of parameter values" if what == "params" else "a text"
            raise ResultsFileError(f"{path} line {number}: {what} is {type(r.get(what)).__name__} "
                                   f"({json.dumps(r.get(what))[:40]}), {wanted} is required; it was left as it "
                                   "is. Repair or remove the line")
    first = identity_of(contents.records[0])
    for number, r in zip(contents.numbers[1:], contents.records[1:]):
        other = identity_of(r)
        if other != first:
            raise ResultsFileError(f"{path} mixes experiments (line {number}: "
                                   f"{describe_difference(other, first)}); split it before using it")
    return contents


def damaged_summary(path: str, contents: Contents) -> str:
    """One line naming the damaged lines of a file (first few line numbers)."""
    numbers = [n for n, _ in contents.damaged]
    shown = ", ".join(str(n) for n in numbers[:5]) + (", ..." if len(numbers) > 5 else "")
    return f"{path}: {len(numbers)} damaged line(s) that are not records (line {shown})"


class ResultsWriter:
    """The one writer of a results file: lock, checks, repair and appends.

    Use as a context manager. On entry it takes the lock, reads the file,
    refuses a file that is not ours or is another experiment's, refuses
    damaged lines unless ``set_aside_damaged`` (then moves them, with a torn
    last line, into ``<path>.damaged``) and repairs a torn last line. Each
    :meth:`append` writes one record on its own line, flushed and synced.

    Parameters
    ----------
    path : str
    identity : dict
        The experiment identity of the records to write (:func:`identity_of`).
    set_aside_damaged : bool
        Move damaged lines into ``<path>.damaged`` instead of refusing the file.
    """

    def __init__(self, path: str, identity: dict, set_aside_damaged: bool = False):
        self.path = path
        self.real = os.path.realpath(path)  # a symbolic link's file: locked, read and written there
        self.identity = identity
        self.set_aside_damaged = bool(set_aside_damaged)
        self.contents: Optional[Contents] = None
        self._lock: Optional[_Lock] = None
        self._held: Optional[int] = None
        self._newline_needed = False

    def __enter__(self) -> "ResultsWriter":
        directory = os.path.dirname(self.real)
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            raise ResultsFileError(f"{self.path}: its folder cannot be made ({error.strerror or error})") from None
        if os.path.isdir(self.real):
            raise ResultsFileError(f"{self.path} is a folder; a results file is required")
        self._lock = _Lock(self.real + ".lock")
        self._lock.acquire()
        try:
            self._hold_file()
            self._prepare()
        except BaseException:
            self._release()
            raise
        return self

    def _hold_file(self) -> None:
        """Lock the results file itself (when it exists): a writer through another hard link is refused."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        if self._held is not None:
            os.close(self._held)
            self._held = None
        try:
            fd = os.open(self.real, os.O_RDONLY)
        except FileNotFoundError:
            return
        except OSError as error:
            raise ResultsFileError(f"{self.path}: cannot be read ({error.strerror or error})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ResultsFileError(f"{self.path} is being written by another sweep through another name of the "
                                   "same file (a hard link); wait for it to finish or choose another --out") from None
        self._held = fd

    def _release(self) -> None:
        if self._held is not None:
            os.close(self._held)
            self._held = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _prepare(self) -> None:
        contents = read_results(self.real)
        if contents.records and contents.experiment() != self.identity:
            raise ResultsFileError(f"{self.path} holds another experiment "
                                   f"({describe_difference(self.identity, contents.experiment())}); "
                                   "it was left as it is. Choose another --out")
        if contents.damaged and not self.set_aside_damaged:
            raise ResultsFileError(damaged_summary(self.path, contents) + "; they were left as they are. "
                                   "Repair them, or pass --set-aside-damaged to move them into "
                                   f"{self.path}.damaged")
        # writable before anything is computed (the file itself is made by the first record)
        exists = os.path.exists(self.real)
        target = self.real if exists else os.path.dirname(self.real)
        if not os.access(target, os.W_OK):
            raise ResultsFileError(f"{self.path}: cannot be written (no write permission on "
                                   f"{'the file' if exists else 'its folder'})")
        if contents.damaged:
            self._set_aside(contents)
            self._hold_file()  # the records were written into a new file: lock that one
        elif contents.torn is not None:
            self._cut_torn(contents)
        self.contents = read_results(self.real)
        self._newline_needed = self.contents.missing_newline

    def _set_aside(self, contents: Contents) -> None:
        """Move the damaged lines (and a torn last line) into ``.damaged``; rewrite the records atomically."""
        with open(self.real, "rb") as f:
            data = f.read()
        keep, aside = [], []
        damaged = {n for n, _ in contents.damaged}
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        for number, raw in enumerate(lines, start=1):
            is_torn = contents.torn is not None and number == len(lines)
            (aside if (number in damaged or is_torn) else keep).append(raw)
        append_durably(self.real + ".damaged", b"".join(line + b"\n" for line in aside))
        kept = b"".join(line + b"\n" for line in keep if line.strip())
        write_atomically(self.real, lambda f: f.write(kept))

    def _cut_torn(self, contents: Contents) -> None:
        """Save a torn last line into ``.damaged`` and cut it off the file (it was never a whole record)."""
        append_durably(self.real + ".damaged", contents.torn + b"\n")
        with open(self.real, "r+b") as f:
            f.truncate(contents.size - len(contents.torn))
            f.flush()
            os.fsync(f.fileno())

    def append(self, record: dict) -> None:
        """Write one record on its own line, flushed and synced to disk."""
        if self._lock is None:
            raise RuntimeError("ResultsWriter.append outside its with-block")
        line = json.dumps(record).encode() + b"\n"
        if self._newline_needed:
            line = b"\n" + line
            self._newline_needed = False
        append_durably(self.real, line)
        if self._held is None:  # the first record made the file: hold it from now on
            self._hold_file()

    def __exit__(self, *exc) -> None:
        self._release()


class _Lock:
    """An advisory lock file holding the owner's process id (``fcntl.flock`` where it exists).

    The file is removed on release; a lock taken on a file that was removed
    meanwhile is taken again on the new one, so two holders never coexist.
    """

    def __init__(self, path: str):
        self.path = path
        self.fd: Optional[int] = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: exclusive creation instead
            fcntl = None
        while True:
            if fcntl is None:  # pragma: no cover
                try:
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR)
                except FileExistsError:
                    raise ResultsFileError(self._held_message()) from None
            else:
                fd = os.open(self.path, os.O_CREAT | os.O_RDWR)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    raise ResultsFileError(self._held_message()) from None
                try:  # the holder before us may have removed the file after we opened it
                    same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return

    def _held_message(self) -> str:
        try:
            with open(self.path) as f:
                pid = f.read().strip()
        except OSError:
            pid = "?"
        results = self.path[:-len(".lock")]
        return (f"{results} is being written by another sweep (process {pid or '?'}); "
                "wait for it to finish or choose another --out")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.remove(self.path)
        except OSError:
            pass
        os.close(self.fd)  # closing drops the flock
        self.fd = None
