"""narrative_vcs.gitwire apart from a server: what the pack writer is given."""

from __future__ import annotations

from narrative_vcs.gitwire import _delta_cycles
from narrative_vcs.types import ObjectId


def _ids(*names: str) -> list[ObjectId]:
    return [ObjectId(n * 40) for n in names]


def test_delta_chains_that_come_back_on_themselves_are_cut_once_each() -> None:
    a, b, c, d, e = _ids("a", "b", "c", "d", "e")
    # a -> b -> c -> a is a cycle; d -> a hangs off it; e -> (not a delta) is a plain chain.
    deltas = {a: (b, b""), b: (c, b""), c: (a, b""), d: (a, b""), e: (ObjectId("f" * 40), b"")}
    cut = _delta_cycles(deltas)
    assert len(cut) == 1 and cut <= {a, b, c}
    rest = {k: v for k, v in deltas.items() if k not in cut}
    for start in rest:  # every chain now ends at an object sent whole
        seen, oid = set(), start
        while oid in rest:
            assert oid not in seen
            seen.add(oid)
            oid = rest[oid][0]
    assert _delta_cycles({a: (b, b""), b: (a, b"")}) in ({a}, {b})
    assert _delta_cycles({a: (a, b"")}) == {a}
    assert _delta_cycles({}) == set()
