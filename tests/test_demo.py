"""The demo story, built in memory through the repository API."""

from __future__ import annotations

from narrative_vcs.demo import BASE_TIME, build_demo
from narrative_vcs.repository import Repository


def test_demo_story_shape() -> None:
    repo = Repository.memory()
    summary = build_demo(repo)
    assert set(summary.branches) == {"main", "alt-ending", "agent-drafts"}
    assert set(summary.tags) == {"first-act"}
    assert repo.head_branch() == "main"
    story = repo.read_story("main")
    assert len(story.pages) >= 12
    assert {a.kind for a in story.actors.values()} == {"human", "agent"}
    assert len(story.actors) == 3
    assert any(p.follows for p in story.pages.values())
    alt = repo.read_story("alt-ending").pages
    assert any(p.alternate_of for p in alt.values())
    for page in story.pages.values():
        assert 2 <= len([p for p in page.body.split("\n\n") if p.strip()]) <= 4


def test_demo_history_diverges_with_distinct_actors_and_times() -> None:
    repo = Repository.memory()
    build_demo(repo)
    commits = list(repo.walk(["main", "alt-ending", "agent-drafts"]))
    times = [c.time for c in commits]
    assert len(set(times)) == len(times) and min(times) == BASE_TIME
    assert {c.actor for c in commits} == {"imogen", "cop-e-right", "london-fox"}
    for branch in ("alt-ending", "agent-drafts"):
        own = [c for c in repo.walk([branch]) if c.id not in {m.id for m in repo.walk(["main"])}]
        assert len(own) >= 3
    assert repo.fsck().ok


def test_demo_is_deterministic() -> None:
    a, b = Repository.memory(), Repository.memory()
    assert build_demo(a).branches == build_demo(b).branches
