"""``gvcs init`` gives a work tree with ``pages/``, and the first ``gvcs switch`` to a branch whose first
commit was made elsewhere (a push into the story) takes that branch, on the disk and the Neo4j stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from narrative_vcs.graph.neo4j import open_neo4j

from .conftest import Gvcs, ok, one_line_error
from .test_remote import add_page, head


@pytest.fixture(params=["git", "neo4j"])
def store(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the embedded store, else the test server's URI with its database emptied."""
    if request.param == "git":
        yield None
        return
    uri: str = request.getfixturevalue("neo4j_uri")
    objects, _refs, _access = open_neo4j(uri)
    objects.server.clear()
    objects.close()
    yield uri


def _init(gvcs: Gvcs, name: str, store: str | None) -> None:
    ok(gvcs("init", name, "--title", "A Tale", *(["--store", store] if store else [])))


def _push_first_commit(gvcs: Gvcs, tmp_path: Path, story: Path, store: str | None) -> str:
    """Another work tree makes the story's first commit and pushes it to ``story``'s store."""
    ok(gvcs("init", "elsewhere", "--title", "Night Shift"))
    other = tmp_path / "elsewhere"
    ok(gvcs("actor", "add", "mara", "--name", "Mara Ink", cwd=other))
    first = add_page(gvcs, other, "opening")
    ok(gvcs("remote", "add", "hub", store or str(story), cwd=other))
    ok(gvcs("push", "hub", "main", cwd=other))
    return first


def test_init_makes_pages_and_the_first_switch_takes_a_pushed_branch(
    gvcs: Gvcs, tmp_path: Path, store: str | None
) -> None:
    _init(gvcs, "tale", store)
    story = tmp_path / "tale"
    assert (story / "pages").is_dir() and not list((story / "pages").iterdir())
    assert "added:    story.yaml" in ok(gvcs("status", cwd=story)).out
    first = _push_first_commit(gvcs, tmp_path, story, store)
    ok(gvcs("switch", "main", cwd=story))
    assert head(gvcs, story)["id"] == first
    assert (story / "story.yaml").read_text() == "title: Night Shift\n"
    assert (story / "pages" / "opening.md").is_file()
    assert "nothing to commit, work tree clean" in ok(gvcs("status", cwd=story)).out


def test_a_story_yaml_edited_after_init_is_never_dropped(
    gvcs: Gvcs, tmp_path: Path, store: str | None
) -> None:
    _init(gvcs, "tale", store)
    story = tmp_path / "tale"
    (story / "story.yaml").write_text("title: My Own Title\n")
    _push_first_commit(gvcs, tmp_path, story, store)
    assert "story.yaml changed both here and on the branch" in one_line_error(
        gvcs("switch", "main", cwd=story), 1
    )
    assert (story / "story.yaml").read_text() == "title: My Own Title\n"
