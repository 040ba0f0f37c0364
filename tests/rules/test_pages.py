"""narrative_vcs/rules/pages.py: links point at pages that exist; reading order has no cycle."""

from __future__ import annotations

import pytest

from narrative_vcs.gate import RuleBroken
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet, Repository
from tests.conftest import Writer

from .conftest import head
from .forge import forge, move


def test_links_point_at_pages_that_exist(story: Repository) -> None:
    before = head(story)
    orphan = Page("hall", "Hall", "A hall.", ("nowhere",)).serialise()
    with pytest.raises(
        RuleBroken, match=r"page hall links to 'nowhere', which does not exist \(rule: pages\)"
    ):
        move(story, "main", forge(story, before, {"pages/hall.md": orphan}))
    alternate = Page("hall", "Hall", "A hall.", alternate_of="nowhere").serialise()
    with pytest.raises(RuleBroken, match="page hall links to 'nowhere'"):
        move(story, "main", forge(story, before, {"pages/hall.md": alternate}))
    assert head(story) == before


def test_a_cycle_in_one_commit(story: Repository, writer: Writer) -> None:
    both = (
        ChangeSet()
        .upsert_page(Page("p1", "P1", "One.", ("p2",)))
        .upsert_page(Page("p2", "P2", "Two.", ("p1",)))
    )
    with pytest.raises(
        RuleBroken, match=r"reading order would have a cycle: p\d -> p\d -> p\d \(rule: pages\)"
    ):
        writer.commit(both)


def test_a_cycle_closed_by_a_later_commit(story: Repository, writer: Writer) -> None:
    writer.page("p1", "One.", follows=("door",))
    writer.page("p2", "Two.", follows=("p1",))
    before = head(story)
    with pytest.raises(RuleBroken, match=r"reading order would have a cycle: door -> p2 -> p1 -> door"):
        writer.page("door", "The door.", follows=("p2",), title="Door")
    assert head(story) == before
    writer.page("door", "The door, again.", follows=("prologue",), title="Door")  # text edits cost nothing


def test_an_event_cannot_close_a_cycle_either(story: Repository, writer: Writer) -> None:
    writer.page("p1", "One.", follows=("door",))
    with pytest.raises(RuleBroken, match="reading order would have a cycle"):
        writer.event(
            "agent.emit.v1", {"page": "prologue", "body": "It begins.", "follows": ["p1"]}, actor="bot"
        )


def test_a_long_chain_in_one_commit_and_a_long_cycle(story: Repository, writer: Writer) -> None:
    """Many pages gaining a place to follow (an import): one search over them all, with the same
    answer and the same message as page by page."""
    from narrative_vcs.cycles import MANY

    count = MANY * 3
    chain = ChangeSet()
    for i in range(count):
        chain.upsert_page(Page(f"c{i}", f"C{i}", "Text.", (f"c{i - 1}",) if i else ("prologue",)))
    writer.commit(chain)
    before = head(story)
    ring = ChangeSet()
    for i in range(count):
        ring.upsert_page(Page(f"r{i}", f"R{i}", "Text.", (f"r{(i - 1) % count}",)))
    expected = " -> ".join(["r0", *(f"r{i}" for i in range(count - 1, 0, -1)), "r0"])
    with pytest.raises(RuleBroken, match=f"reading order would have a cycle: {expected} "):
        writer.commit(ring)
    assert head(story) == before
