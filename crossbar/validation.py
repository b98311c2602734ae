"""Checks shared by every configuration and every array operation.

A bad value raises ``ValueError`` naming the field, the value and what is
allowed. Nothing is clipped or coerced silently.
"""

from __future__ import annotations

import math
import os
from typing import Optional

import numpy as np


def check_finite(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not a number; a finite real number is required") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}={value!r} is not finite; a finite real number is required")
    return number


def check_range(
    name: str,
    value: float,
    low: Optional[float] = None,
    high: Optional[float] = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    unit: str = "",
) -> float:
    """Check ``low <= value <= high`` (or strict where ``*_open``); return the float."""
    number = check_finite(name, value)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        suffix = f" {unit}" if unit else ""
        raise ValueError(f"{name}={value!r} is out of range; allowed {left}{lo}, {hi}{right}{suffix}")
    return number


def check_int(name: str, value: int, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """Check ``value`` is an integer (bool excluded) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}={value!r} is not an integer; an integer is required")
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name}={value!r} is out of range; allowed integers in [{lo}, {hi}]")
    return int(value)


def check_choice(name: str, value: str, choices) -> str:
    """Check ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {sorted(choices)}")
    return value


def as_float_array(name: str, array, shape: Optional[tuple] = None, ndim: Optional[int] = None) -> np.ndarray:
    """Return ``array`` as a C-contiguous float64 array after checking it.

    Parameters
    ----------
    name : str
        Name used in error messages.
    array : array_like
        The data.
    shape : tuple, optional
        Required shape; ``None`` entries match any length.
    ndim : int, optional
        Required number of dimensions (implied by ``shape`` when given).

    Raises
    ------
    ValueError
        If the data are empty, have the wrong shape, or hold NaN or infinity.
    """
    try:
        out = np.ascontiguousarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} could not be read as an array of real numbers") from None
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and out.ndim != ndim:
        raise ValueError(f"{name} has shape {out.shape}; {ndim} dimensions required"
                         + (f", shape {_shape_text(shape)}" if shape is not None else ""))
    if shape is not None:
        for got, want in zip(out.shape, shape):
            if want is not None and got != want:
                raise ValueError(f"{name} has shape {out.shape}; shape {_shape_text(shape)} required")
    if out.size == 0:
        raise ValueError(f"{name} is empty (shape {out.shape}); at least one element is required")
    if not np.all(np.isfinite(out)):
        bad = int(np.count_nonzero(~np.isfinite(out)))
        raise ValueError(f"{name} holds {bad} NaN or infinite value(s); all values must be finite")
    return out


def as_bool_array(name: str, array, shape: tuple, shape_name: str = "shape") -> np.ndarray:
    """Return ``array`` as a numpy array after checking it holds booleans (a selection of devices or weights)
    of exactly ``shape``; ``shape_name`` says whose shape it must be in the error."""
    out = np.asarray(array)
    if out.dtype != bool or out.shape != tuple(shape):
        raise ValueError(f"{name} of dtype {out.dtype} and shape {out.shape}; a boolean array of {shape_name} "
                         f"{tuple(shape)} is required")
    return out


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"


def make_generator(seed) -> np.random.Generator:
    """Turn a seed (int, SeedSequence, Generator or None) into a ``numpy.random.Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer, np.random.SeedSequence)):
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed < 0:
            raise ValueError(f"seed={seed!r} is negative; a non-negative integer is required")
        return np.random.default_rng(seed)
    raise ValueError(f"seed={seed!r} is not allowed; give an int, a SeedSequence, a Generator or None")


def config_to_dict(config) -> dict:
    """A frozen configuration dataclass as plain JSON-ready values (nested ones as dicts, tuples as lists);
    a class's ``NEW_FIELDS_AT_DEFAULT`` (``{field: default}``) are left out at those defaults."""
    import dataclasses

    def plain(value):
        if dataclasses.is_dataclass(value):
            # fields added after files were first written stay out at their defaults (the files keep their bytes)
            quiet = getattr(type(value), "NEW_FIELDS_AT_DEFAULT", {})
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                    if not (f.name in quiet and getattr(value, f.name) == quiet[f.name])}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, np.generic):
            return value.item()
        return value

    return plain(config)


def config_from_dict(cls, data, source: str, nested: Optional[dict] = None):
    """Build the configuration dataclass ``cls`` from :func:`config_to_dict`'s values, validated as usual.

    ``nested`` maps a field name to the function that builds that field from
    its dict; lists become tuples. Unknown or missing fields raise
    ``ValueError`` naming ``source``.
    """
    import dataclasses

    if not isinstance(data, dict):
        raise ValueError(f"{source}: a table of {cls.__name__}'s fields is required, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{source}: {', '.join(unknown)} not known; {cls.__name__} has {', '.join(sorted(names))}")
    kwargs = {}
    for name, value in data.items():
        if nested and name in nested and value is not None:
            value = nested[name](value, f"{source}.{name}")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise ValueError(f"{source}: {error}") from None


# ------------------------------------------------------------ pulse counts
INT64_MAX = 2 ** 63 - 1
"""The most pulses a count can hold (one device's, or a write's in all): numpy's int64."""


LARGEST_FLOAT_COUNT = float(2 ** 63 - 1024)
"""The largest whole float a pulse count may be: the largest double an int64 holds (a larger one would wrap)."""


def check_pulse_counts(name: str, counts, shape: tuple):
    """Check signed pulse counts of shape ``shape``; return them as C-contiguous int64 and their total.

    Each count must be a whole number (an integer, or a float with no
    fraction) whose magnitude an int64 holds (at most ``2^63 - 1``), and so
    must the write's total of magnitudes: what cannot be counted is refused,
    never wrapped or cut.

    Returns
    -------
    counts : ndarray of int64, shape ``shape``
    total : int
        ``sum |counts|``, exact.
    """
    n = np.asarray(counts)
    if n.shape != tuple(shape):
        raise ValueError(f"{name} has shape {n.shape}; shape {tuple(shape)} required")
    if n.dtype == np.bool_ or not (np.issubdtype(n.dtype, np.integer) or np.issubdtype(n.dtype, np.floating)):
        raise ValueError(f"{name} has dtype {n.dtype}; whole numbers of pulses (integers) are required")
    if n.size == 0:
        return np.ascontiguousarray(n, dtype=np.int64), 0
    if np.issubdtype(n.dtype, np.floating):
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(n) | (n != np.round(n)) | (np.abs(n) > LARGEST_FLOAT_COUNT)
    elif np.issubdtype(n.dtype, np.unsignedinteger):
        bad = n > np.uint64(INT64_MAX)
    elif n.dtype == np.int64 and n.min() == -INT64_MAX - 1:  # its magnitude is no int64
        bad = n == -INT64_MAX - 1
    else:
        bad = None
    if bad is not None and bad.any():
        where = tuple(int(k) for k in np.argwhere(bad)[0])
        value = n[where].item()  # a plain number in the message (1e+20, not np.float64(1e+20))
        position = ", ".join(f"{k + 1}" for k in where)
        raise ValueError(f"{name}[{position}] (counted from 1) = {value!r}: whole numbers of pulses within "
                         f"+-{INT64_MAX} (2^63 - 1) are required ({int(bad.sum())} such count(s))")
    n = np.ascontiguousarray(n, dtype=np.int64)
    magnitude = np.abs(n)
    largest = int(magnitude.max())
    if largest < 2 ** 62 // n.size:  # the int64 sum cannot overflow
        total = int(magnitude.sum())
    else:  # exact beyond what an int64 sum holds
        total = sum(int(v) for v in magnitude[magnitude != 0].tolist())
    if total > INT64_MAX:
        raise ValueError(f"{name} asks for {total:.3e} pulses in all; a write can count at most {INT64_MAX} "
                         "(2^63 - 1): make the update smaller (in training, a lower learning rate)")
    return n, total


# ------------------------------------------------------------------ memory
def available_memory_bytes() -> Optional[int]:
    """Memory this process can still take, bytes: the system's ``MemAvailable`` (``/proc/meminfo``, else
    ``os.sysconf``), less what a cgroup limit leaves (``/sys/fs/cgroup/memory.max``); None if unknown."""
    available = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            return None
    try:
        with open("/sys/fs/cgroup/memory.max") as handle:
            limit = handle.read().strip()
        with open("/sys/fs/cgroup/memory.current") as handle:
            current = int(handle.read().strip())
        if limit != "max":
            available = min(available, max(int(limit) - current, 0))
    except (OSError, ValueError):
        pass
    return available


def bytes_text(n: float) -> str:
    """A byte count for people: ``"3.2 GB"`` (powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


CHECKED_BYTES = 64e6
"""Sizes whose estimate stays below this are not checked against the memory available (a look at
``/proc/meminfo`` for every small array would cost more than it saves)."""


def check_memory(what: str, needed_bytes: float) -> None:
    """Refuse work that needs more memory than is available, before anything is allocated.

    Raises ``ValueError`` in one line giving ``what`` (the size asked for), the
    estimate ``needed_bytes`` and the memory available; nothing when the
    available memory cannot be known.
    """
    available = available_memory_bytes()
    if available is not None and needed_bytes > available:
        raise ValueError(f"{what} needs about {bytes_text(needed_bytes)} of memory; {bytes_text(available)} is "
                         "available: make it smaller")
