"""Small three-way merge combinators, the Irmin way: each kind of value owns its merge.

::

        base
       /    \\
    ours    theirs      ->  Merged(value) | Conflicted(base, ours, theirs)

``scalar`` takes the side that changed (both changed alike: that value; differently: a conflict);
``set3`` merges lists as sets (additions and removals of both sides, order kept, never a conflict);
``counter`` adds both sides' deltas to the base; ``mapping`` lifts a value merge to the keys of a dict.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from ..records import record

__all__ = ["Merged", "Conflicted", "Outcome", "scalar", "set3", "counter", "mapping", "MISSING"]

T = TypeVar("T")
H = TypeVar("H", bound=Hashable)


class _Missing:
    """The value of a key or file that does not exist on one side."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@record
class Merged(Generic[T]):
    value: T


@record
class Conflicted(Generic[T]):
    base: T
    ours: T
    theirs: T


Outcome = Merged[T] | Conflicted[T]


def scalar(base: T, ours: T, theirs: T) -> Outcome[T]:
    """The side that changed; equal changes merge; different changes conflict."""
    if ours == theirs or theirs == base:
        return Merged(ours)
    if ours == base:
        return Merged(theirs)
    return Conflicted(base, ours, theirs)


def set3(base: Sequence[H], ours: Sequence[H], theirs: Sequence[H]) -> list[H]:
    """A three-way set merge: what either side added, minus what either side removed.

    Order: ours, then what only theirs added. Both sides adding different links is clean.
    """
    removed = (set(base) - set(ours)) | (set(base) - set(theirs))
    out: list[H] = []
    for item in (*ours, *theirs):
        if item not in removed and item not in out:
            out.append(item)
    return out


def counter(base: int, ours: int, theirs: int) -> int:
    """base + Δours + Δtheirs: two gifts to one actor both count."""
    return ours + theirs - base


def mapping(
    base: Mapping[str, T],
    ours: Mapping[str, T],
    theirs: Mapping[str, T],
    merge_value: Callable[[T, T, T], Outcome[T]],
) -> tuple[dict[str, T], dict[str, Conflicted[T]]]:
    """Merge dicts key by key; a key missing on a side is :data:`MISSING` there.

    Returns the merged dict (keys in ours' order, then theirs' new keys) and the conflicts by key.
    """
    merged: dict[str, T] = {}
    conflicts: dict[str, Conflicted[T]] = {}
    for key in dict.fromkeys([*ours, *theirs, *base]):
        b, o, t = base.get(key, MISSING), ours.get(key, MISSING), theirs.get(key, MISSING)
        outcome = scalar(b, o, t) if MISSING in (b, o, t) else merge_value(b, o, t)
        if isinstance(outcome, Conflicted):
            conflicts[key] = outcome
        elif outcome.value is not MISSING:
            merged[key] = outcome.value
    return merged, conflicts
