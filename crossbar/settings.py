"""What a setting of a description is: its unit, meaning, allowed values and bounds, said once.

Every frozen spec of the description tree (the device, the converters, the
array, the wires, the mapping's encoding and slicing, an experiment's
sections) declares its fields with :func:`setting`, which attaches a
:class:`Setting` as the field's ``metadata["setting"]``. From that one
declaration come the dotted names and their units (``xbar sweep
--list-params``), the kind a swept value is read as, the allowed values and
the validation at construction (:func:`check_settings`).

A spec class names its dotted prefix with the class attribute ``SECTION``
(``"adc"``: the file's ``[adc]``).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Tuple, Union

from crossbar.validation import check_choice, check_finite, check_int, check_range

SI_UNITS = ("S", "V", "s", "ohm", "Hz", "S/V", "J", "A")
"""Units a bound's message names (a ratio's ``1`` or a count's noun is left out)."""

KINDS = ("float", "int", "bool", "choice", "text", "ints", "texts")
"""Kinds of a setting: a number, a whole number, true/false, one of a list, a name or path, lists."""


@dataclass(frozen=True)
class Setting:
    """One field's description.

    Parameters
    ----------
    unit : str
        SI unit (``S``, ``V``, ``s``, ``ohm``, ``Hz``), ``1`` for a ratio, a count's noun (``bits``,
        ``devices``) or ``""`` for a word.
    doc : str
        What the field is, in a few words (the ``--list-params`` page).
    choices : tuple of str, or a callable returning them, optional
        The allowed words (a callable for a list known only at run time, e.g. the device presets).
    low, high : float, optional
        Bounds checked at construction (``low_open``/``high_open``: excluded).
    kind : str, optional
        One of :data:`KINDS`; default from the field's type (``choice`` where there are choices).
    listed : bool
        Whether the field is a dotted parameter (settable with ``--set`` and sweepable).
    written_at_default : bool
        Whether a file written from the spec holds the field at its default. False for fields added after
        results files were first written, so that a description that does not use them keeps its identity
        (a sweep's point keys, a results file's experiment).
    """

    unit: str = ""
    doc: str = ""
    choices: Union[Tuple[str, ...], Callable[[], Tuple[str, ...]], None] = None
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    kind: Optional[str] = None
    listed: bool = True
    written_at_default: bool = True

    def __post_init__(self):
        if self.kind is not None:
            check_choice("kind", self.kind, KINDS)

    def allowed(self) -> Tuple[str, ...]:
        """The allowed words (empty when any value of the type is allowed)."""
        if self.choices is None:
            return ()
        return tuple(self.choices() if callable(self.choices) else self.choices)


def setting(default=dataclasses.MISSING, *, default_factory=dataclasses.MISSING, unit: str = "", doc: str = "",
            choices=None, low: Optional[float] = None, high: Optional[float] = None, low_open: bool = False,
            high_open: bool = False, kind: Optional[str] = None, listed: bool = True,
            written_at_default: bool = True):
    """A dataclass field carrying its :class:`Setting` (``metadata["setting"]``)."""
    described = Setting(unit, doc, choices, low, high, low_open, high_open, kind, listed, written_at_default)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"setting": described})


def described(spec) -> Setting:
    """The :class:`Setting` of a dataclass field (an empty one where the field declares none)."""
    return spec.metadata.get("setting", Setting())


def allowed(cls, name: str) -> Tuple[str, ...]:
    """The allowed words of field ``name`` of a spec class (what a command line offers as its choices)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return described(f).allowed()
    raise ValueError(f"{cls.__name__} has no field {name!r}")


def kind_of(cls, field: dataclasses.Field) -> str:
    """The kind of a field: its setting's, ``choice`` where it has choices, else from its type
    (``Optional[X]`` as ``X``; a tuple of int: ``ints``, of str: ``texts``)."""
    info = described(field)
    if info.kind is not None:
        return info.kind
    if info.choices is not None:
        return "choice"
    hint = typing.get_type_hints(cls)[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is Union and len(args) == 1:
        hint = args[0]
    if hint is bool:
        return "bool"
    if hint is int:
        return "int"
    if hint is str:
        return "text"
    if typing.get_origin(hint) is tuple:
        return "ints" if typing.get_args(hint)[0] is int else "texts"
    return "float"


def listed_fields(cls) -> Iterator[dataclasses.Field]:
    """The fields of a spec class that are dotted parameters, in declaration order."""
    return (f for f in dataclasses.fields(cls) if described(f).listed)


def left_out_at_default(cls) -> Tuple[str, ...]:
    """The fields of a spec class that a file leaves out at their defaults (``written_at_default=False``)."""
    return tuple(f.name for f in dataclasses.fields(cls) if not described(f).written_at_default)


def check_settings(spec, prefix: Optional[str] = None) -> None:
    """Check every field of ``spec`` against its setting: choices, whole numbers, bounds, true/false.

    A field whose default is None may be None. ``ValueError`` names ``prefix.field`` (``prefix``: the
    class's ``SECTION``), the value and what is allowed.
    """
    prefix = getattr(type(spec), "SECTION", "") if prefix is None else prefix
    for f in dataclasses.fields(spec):
        info = described(f)
        value = getattr(spec, f.name)
        if value is None and f.default is None:
            continue
        name = f"{prefix}.{f.name}" if prefix else f.name
        kind = kind_of(type(spec), f)
        if kind == "choice":
            check_choice(name, value, info.allowed())
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{name}={value!r} is not allowed; true or false")
        elif kind == "int":
            check_int(name, value, info.low, info.high)
        elif kind == "float":
            if isinstance(value, bool) or isinstance(value, str):  # float(True) and float("1") would pass
                raise ValueError(f"{name}={value!r} is not allowed; a finite real number is required")
            check_finite(name, value)
            if info.low is not None or info.high is not None:
                check_range(name, value, info.low, info.high, low_open=info.low_open, high_open=info.high_open,
                            unit=info.unit if info.unit in SI_UNITS else "")
