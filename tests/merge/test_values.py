"""The merge combinators: scalar, three-way set, counter, per-key mapping."""

from __future__ import annotations

from narrative_vcs.merge.values import MISSING, Conflicted, Merged, counter, mapping, scalar, set3


def test_scalar_takes_the_side_that_changed_and_conflicts_when_both_differ() -> None:
    assert scalar("a", "a", "b") == Merged("b")
    assert scalar("a", "b", "a") == Merged("b")
    assert scalar("a", "b", "b") == Merged("b")
    assert scalar("a", "b", "c") == Conflicted("a", "b", "c")


def test_set3_keeps_both_additions_and_both_removals() -> None:
    assert set3(["p", "q"], ["p", "q", "x"], ["p", "q", "y"]) == ["p", "q", "x", "y"]
    assert set3(["p", "q"], ["q"], ["p", "q", "y"]) == ["q", "y"]


def test_counter_adds_both_deltas() -> None:
    assert counter(10, 15, 7) == 12


def test_mapping_merges_per_key_and_reports_a_delete_against_an_edit() -> None:
    merged, conflicts = mapping({"a": 1, "b": 2}, {"a": 5, "b": 2}, {"a": 1}, scalar)
    assert merged == {"a": 5} and conflicts == {}
    merged, conflicts = mapping({"a": 1}, {}, {"a": 2}, scalar)
    assert conflicts == {"a": Conflicted(1, MISSING, 2)}
