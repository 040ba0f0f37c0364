"""Word and page counts per actor (the writer of each page's current version) and per tag."""

from __future__ import annotations

from narrative_vcs.objects import Page
from narrative_vcs.repository import Repository
from narrative_vcs.stats import page_writers, story_stats
from narrative_vcs.types import ObjectId

from .conftest import Writer


def test_a_page_counts_for_whoever_wrote_its_current_version(repo: Repository, writer: Writer) -> None:
    writer.setup()
    writer.page("door", "one two three", actor="ada", tags=("act-1",))
    writer.page("key", "four five", actor="bot", tags=("act-1", "fox"))
    head = writer.page("door", "one two three four", actor="cal", tags=("act-1",))
    writers = page_writers(repo, head)
    assert writers == {"door": "cal", "key": "bot"}
    stats = story_stats(head, repo.read_story(head).pages, writers).to_json()
    assert stats == {
        "commit": head,
        "pages": 2,
        "words": 6,
        "actors": {"bot": {"pages": 1, "words": 2}, "cal": {"pages": 1, "words": 4}},
        "tags": {"act-1": {"pages": 2, "words": 6}, "fox": {"pages": 1, "words": 2}},
    }


def test_a_merge_does_not_take_over_the_pages_it_brings(repo: Repository, writer: Writer) -> None:
    writer.setup()
    writer.page("door", "the door", actor="ada")
    repo.create_branch("side", "main")
    writer.page("key", "a key", actor="bot", branch="side")
    writer.page("lock", "a lock", actor="ada")
    outcome = repo.merge(
        "main", "side", actor="cal", expected_head=ObjectId(repo.resolve("main")), no_ff=True
    )
    assert outcome.commit is not None
    assert repo.commit_info(outcome.commit).actor == "cal"
    assert page_writers(repo, outcome.commit) == {"door": "ada", "key": "bot", "lock": "ada"}


def test_counts_of_pages_without_a_known_writer_go_under_unknown() -> None:
    pages = {"a": Page("a", "A", "x y", tags=("t",))}
    stats = story_stats(ObjectId("0" * 40), pages, {})
    assert {k: v.to_json() for k, v in stats.actors.items()} == {"(unknown)": {"pages": 1, "words": 2}}
