"""narrative_vcs/rules/commits.py: who a commit says made it, its kind and its trailers."""

from __future__ import annotations

import pytest

from narrative_vcs.gate import RuleBroken
from narrative_vcs.repository import Repository

from .conftest import head
from .forge import forge, move

PAGE = b"---\ntitle: Hall\nfollows: []\nalternate_of: null\ntags: []\nglyphs: []\n---\nA hall.\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"email": "ada@example.com"}, r"its author <ada@example.com> is not an actor"),
        ({"email": "Ada@actors.gvcs"}, r"its author <Ada@actors.gvcs> is not an actor"),
        ({"trailers": {"Gvcs-Actor": "bot"}}, r"Gvcs-Actor says 'bot' but the author is 'ada'"),
        ({"kind": "gift"}, r"unknown kind 'gift' \(Gvcs-Kind\)"),
        ({"kind": "merge"}, r"a merge commit needs two parents"),
        ({"event_id": "e-1"}, r"an edit commit carries no Gvcs-Event or Gvcs-Event-Id: only events do"),
        ({"kind": "agent.emit.v1"}, r"an agent.emit.v1 event commit needs its Gvcs-Event-Id and Gvcs-Event"),
        ({"trailers": {"Gvcs-Proposal": "1"}}, r"only a merge carries Gvcs-Proposal"),
        (
            {"kind": "gift.txn.v1", "event_id": "e-1", "trailers": {"Gvcs-Event": "[1"}},
            r"its Gvcs-Event trailer is not JSON",
        ),
        (
            {"kind": "gift.txn.v1", "event_id": "e-1", "trailers": {"Gvcs-Event": "[" * 5000 + "]" * 5000}},
            r"its Gvcs-Event trailer: nested deeper than 64 levels",
        ),
    ],
)
def test_a_commit_says_who_made_it_and_what_it_is(
    story: Repository, kwargs: dict[str, object], message: str
) -> None:
    before = head(story)
    forged = forge(story, before, {"pages/hall.md": PAGE}, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(RuleBroken, match=message + r".*\(rule: commit-format\)$"):
        move(story, "main", forged)
    assert head(story) == before


def test_a_merge_has_two_parents_and_nothing_has_three(story: Repository) -> None:
    base = head(story)
    left = forge(story, base, {"pages/hall.md": PAGE})
    right = forge(story, base, {"pages/room.md": PAGE.replace(b"Hall", b"Room")})
    both = {"pages/hall.md": PAGE, "pages/room.md": PAGE.replace(b"Hall", b"Room")}
    three = forge(story, left, both, kind="merge", parents=(left, right, base))
    with pytest.raises(RuleBroken, match="a commit has at most two parents, this one has 3"):
        move(story, "main", three)
    edit = forge(story, left, both, parents=(left, right))
    with pytest.raises(RuleBroken, match="a merge has two parents and kind merge"):
        move(story, "main", edit)
    move(story, "main", forge(story, left, both, kind="merge", parents=(left, right)))


def test_the_event_kinds_are_the_topics_the_intake_commits() -> None:
    from narrative_vcs.events import INGESTED
    from narrative_vcs.rules.commits import EVENT_KINDS

    assert frozenset(INGESTED) == EVENT_KINDS
