"""Named extension points: one registry of classes per kind of thing a user may add.

A new ADC architecture, cell I-V, pulse update law or programming scheme is
one class (a subclass of its extension point's interface) and one call of
its registry's :meth:`Registry.register`; the settings that choose one by
name (``AdcSpec.kind``, ``PulseUpdateLaw.kind``, ``DeviceModel.cell_iv``,
``DeviceModel.programming``) take their allowed words from the registry when
they are validated, so an experiment file may name it at once. The
registries themselves live with what they hold:
:data:`crossbar.circuits.adc_architectures.ADC_ARCHITECTURES`,
:data:`crossbar.devices.cells.CELL_IV_MODELS`,
:data:`crossbar.devices.pulse_laws.PULSE_LAWS` and
:data:`crossbar.devices.programming.PROGRAMMING_SCHEMES`.
"""

from __future__ import annotations

import inspect
import re
from contextlib import contextmanager
from typing import Dict, Iterator, Tuple

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*\Z")
"""A registered name: lower-case letters, digits and underscores, starting with a letter (a word an
experiment file and a command line can hold)."""


class Registry:
    """Named classes of one extension point.

    Parameters
    ----------
    what : str
        What the registry holds, for messages (``"ADC architecture"``).
    interface : type
        The class every registered class must subclass.
    """

    def __init__(self, what: str, interface: type):
        self.what = what
        self.interface = interface
        self._classes: Dict[str, type] = {}
        self._builtin: set = set()

    def register(self, name: str, cls: type, builtin: bool = False) -> type:
        """Add ``cls`` under ``name``; return ``cls`` (so it may decorate a class).

        ``ValueError`` for a name that is not a lower-case word, one already
        registered, or a class that is not a subclass of :attr:`interface`.
        ``builtin`` marks the package's own (which :meth:`unregister` keeps).
        """
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValueError(f"{self.what} name={name!r} is not allowed; a lower-case word of letters, digits and "
                             "underscores starting with a letter is required (e.g. 'comparator')")
        if name in self._classes:
            raise ValueError(f"{self.what} name={name!r} is already registered (to "
                             f"{self._classes[name].__name__}); registered: {list(self.names())}")
        if not (isinstance(cls, type) and issubclass(cls, self.interface)):
            raise ValueError(f"{self.what} {name!r}: cls={cls!r} is not allowed; a subclass of "
                             f"{self.interface.__module__}.{self.interface.__qualname__} is required")
        if inspect.isabstract(cls):
            missing = sorted(getattr(cls, "__abstractmethods__", ()))
            raise ValueError(f"{self.what} {name!r}: cls={cls.__name__} is not allowed; it does not define "
                             f"{', '.join(missing)}, which a {self.interface.__name__} must")
        self._classes[name] = cls
        if builtin:
            self._builtin.add(name)
        return cls

    def unregister(self, name: str) -> None:
        """Remove a class registered by a user (``ValueError`` for a built-in one or an unknown name)."""
        self.lookup(name)
        if name in self._builtin:
            raise ValueError(f"{self.what} name={name!r} is built in and cannot be removed; user-registered: "
                             f"{[n for n in self.names() if n not in self._builtin]}")
        del self._classes[name]

    def lookup(self, name: str) -> type:
        """The class registered under ``name``; ``ValueError`` listing the registered names otherwise."""
        try:
            return self._classes[name]
        except (KeyError, TypeError):
            raise ValueError(f"{self.what} {name!r} is not registered; choose one of {list(self.names())}") from None

    def names(self) -> Tuple[str, ...]:
        """The registered names, built-ins first, then in order of registration."""
        return tuple(self._classes)

    def is_builtin(self, name: str) -> bool:
        """Whether ``name`` is one of the package's own (registered ``builtin``)."""
        return name in self._builtin

    def __contains__(self, name) -> bool:
        return name in self._classes

    @contextmanager
    def registered(self, name: str, cls: type) -> Iterator[type]:
        """Register ``cls`` under ``name`` for the ``with`` block only (tests, trials)."""
        self.register(name, cls)
        try:
            yield cls
        finally:
            self.unregister(name)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self.names())})"
