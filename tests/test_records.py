"""Records behave as the dataclasses they replace: checked side by side with ``@dataclass``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from narrative_vcs import records
from narrative_vcs.records import field as rfield
from narrative_vcs.records import record


@record
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    note: str = field(default="", compare=False)


@dataclass(frozen=True)
class PointDC:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    note: str = field(default="", compare=False)


@record
class Labelled(Point):
    label: str = "here"


@record(frozen=False)
class Counter:
    count: int = 0
    seen: dict[str, int] = field(default_factory=dict)


@record(frozen=False, slots=True)
class Slotted:
    name: str
    size: int | None = None


@record
class Checked:
    value: int
    doubled: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")
        object.__setattr__(self, "doubled", 2 * self.value)


@record
class KeywordOnly:
    a: int
    b: int = field(default=2, kw_only=True)


@record
class OwnMethods:
    a: int

    def __repr__(self) -> str:
        return "mine"

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 7


def test_construction_defaults_and_factories_match_dataclasses() -> None:
    assert (Point(1).x, Point(1).y, Point(1).tags, Point(1).note) == (1, 0, [], "")
    assert Point(1).tags is not Point(1).tags  # a new list each time
    assert Point(1, 2, ["a"], "n") == Point(x=1, y=2, tags=["a"], note="n")
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, z=3)  # type: ignore[call-arg]


def test_equality_hash_and_repr_match_dataclasses() -> None:
    for a, b in [((1, 2), (1, 2)), ((1, 2), (1, 3))]:
        assert (Point(*a) == Point(*b)) == (PointDC(*a) == PointDC(*b))
    assert Point(1, note="x") == Point(1, note="y")  # compare=False
    assert Point(1) != PointDC(1) and Point(1) != (1, 0)  # type: ignore[comparison-overlap]
    with pytest.raises(TypeError):
        hash(Point(1))  # a list field: unhashable, as with dataclasses
    assert hash(Checked(2)) == hash(Checked(2))
    assert len({Checked(1), Checked(1), Checked(2)}) == 2
    assert repr(Point(1, 2, ["t"], "n")) == repr(PointDC(1, 2, ["t"], "n")).replace("PointDC", "Point")
    nan: Any = float("nan")
    assert Point(nan) == Point(nan) and PointDC(nan) == PointDC(nan)  # identity first, as tuples


def test_frozen_records_refuse_changes_and_mutable_ones_take_them() -> None:
    p = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.x  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.other = 1  # type: ignore[attr-defined]
    c = Counter()
    c.count += 1
    assert c == Counter(1) and c.count == 1
    with pytest.raises(TypeError):
        hash(c)  # mutable: unhashable, as a mutable dataclass is


def test_slots_inheritance_post_init_and_keyword_only() -> None:
    s = Slotted("a")
    assert not hasattr(s, "__dict__") and s.size is None
    s.size = 3
    assert s == Slotted("a", 3)
    labelled = Labelled(1, 2, label="there")
    assert (labelled.x, labelled.y, labelled.label) == (1, 2, "there")
    assert labelled != Point(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        labelled.label = "x"  # type: ignore[misc]
    assert Checked(3).doubled == 6
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)
    with pytest.raises(TypeError):
        KeywordOnly(1, 3)  # type: ignore[misc]
    assert KeywordOnly(1, b=3).b == 3 and KeywordOnly(1).b == 2


def test_dataclass_functions_work_on_records() -> None:
    p = Point(1, 2, ["t"])
    assert dataclasses.is_dataclass(p)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags", "note"]
    assert dataclasses.replace(p, y=5) == Point(1, 5, ["t"])
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "tags": ["t"], "note": ""}
    assert dataclasses.replace(Checked(2), value=4).doubled == 8


def test_methods_a_class_defines_are_kept() -> None:
    assert repr(OwnMethods(1)) == "mine" and OwnMethods(1) == OwnMethods(2) and hash(OwnMethods(3)) == 7


@record
class Native:
    """A record declared with records.field, as gvcs's own records are."""

    name: str
    items: list[int] = rfield(default_factory=list)
    hidden: int = rfield(default=0, repr=False, compare=False)


def test_records_own_field_replace_and_asdict() -> None:
    a = Native("a", [1], 5)
    assert repr(a) == "Native(name='a', items=[1])" and a == Native("a", [1], 6)
    assert records.replace(a, name="b") == Native("b", [1]) and records.replace(a, name="b").hidden == 5
    assert records.asdict(a) == {"name": "a", "items": [1], "hidden": 5} == dataclasses.asdict(a)
    assert dataclasses.replace(a, items=[2]).items == [2]
    assert [f.name for f in dataclasses.fields(Native)] == ["name", "items", "hidden"]
    assert Native.__match_args__ == ("name", "items", "hidden")
    match Native("m"):
        case Native(name, items):
            assert (name, items) == ("m", [])
    with pytest.raises(ValueError):
        records.replace(Checked(1), doubled=3)


def test_a_record_costs_nothing_until_used() -> None:
    """Declaring records imports no dataclasses; the first instance compiles its __init__."""
    code = (
        "import sys\n"
        "from narrative_vcs.records import record, field\n"
        "@record\n"
        "class R:\n"
        "    a: int\n"
        "    b: list[int] = field(default_factory=list)\n"
        "init = R.__init__\n"
        "r = R(1)\n"
        "assert R.__init__ is not init and r.b == [] and R(2, [3]).b == [3]\n"
        "assert 'dataclasses' not in sys.modules, 'imported early'\n"
        "import dataclasses\n"
        "assert dataclasses.is_dataclass(r) and dataclasses.replace(r, a=5).a == 5\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
