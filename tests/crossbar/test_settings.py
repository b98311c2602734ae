"""A field's setting (unit, meaning, choices, bounds) said once: parameters, validation and choices from it."""

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Optional

import pytest

import crossbar
from crossbar.settings import allowed, check_settings, described, kind_of, left_out_at_default, setting
from xbar.experiment import SECTIONS, parameters


@dataclass(frozen=True)
class Toy:
    SECTION: ClassVar[str] = "toy"

    mode: str = setting("a", choices=("a", "b"), doc="a word")
    count: Optional[int] = setting(None, unit="items", doc="a whole number", low=1, high=4)
    level: float = setting(0.5, unit="V", doc="a voltage", low=0.0, high=1.0, high_open=True)
    on: bool = setting(False, doc="a switch", written_at_default=False)

    def __post_init__(self):
        check_settings(self)


def test_a_spec_is_checked_from_its_settings():
    assert Toy(count=None) == Toy()
    with pytest.raises(ValueError, match=r"toy.mode='c' is not allowed; choose one of \['a', 'b'\]"):
        Toy(mode="c")
    with pytest.raises(ValueError, match=r"toy.count=5 is out of range; allowed integers in \[1, 4\]"):
        Toy(count=5)
    with pytest.raises(ValueError, match=r"toy.level=1.0 is out of range; allowed \[0, 1\) V"):
        Toy(level=1.0)
    with pytest.raises(ValueError, match="toy.on=1 is not allowed; true or false"):
        Toy(on=1)
    kinds = {f.name: kind_of(Toy, f) for f in dataclasses.fields(Toy)}
    assert kinds == {"mode": "choice", "count": "int", "level": "float", "on": "bool"}
    assert allowed(Toy, "mode") == ("a", "b") and left_out_at_default(Toy) == ("on",)


def test_every_parameter_has_its_meaning_and_the_adc_kinds_come_from_one_tuple():
    names = [p.name for p in parameters()]
    assert len(names) == len(set(names))
    assert all(p.doc for p in parameters())
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            assert f"{section}.{f.name}" in names, f"{section}.{f.name}"
            assert described(f).doc
    assert allowed(crossbar.AdcSpec, "kind") == crossbar.ADC_KINDS
    assert {p.name: p.choices for p in parameters()}["adc.kind"] == crossbar.ADC_KINDS
