"""Bad input: one line on stderr, exit 2, nothing half-written. Refusals: exit 1, nothing changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from narrative_vcs.graph.factory import open_repository
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet

from .conftest import Gvcs, ok, one_line_error

BAD_IDS = ["../x", "A B", "", "a" * 101]


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except the store's logs, for before/after comparisons."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "logs" not in p.parts
    }


@pytest.mark.parametrize("bad", BAD_IDS)
def test_invalid_page_ids(gvcs: Gvcs, story: Path, bad: str) -> None:
    before = _snapshot(story)
    line = one_line_error(gvcs("page", "new", bad, "--title", "X", cwd=story), 2)
    assert "invalid page id" in line
    assert _snapshot(story) == before


@pytest.mark.parametrize("bad", BAD_IDS)
def test_invalid_actor_ids(gvcs: Gvcs, story: Path, bad: str) -> None:
    before = _snapshot(story)
    line = one_line_error(gvcs("actor", "add", bad, "--name", "X", cwd=story), 2)
    assert "invalid actor id" in line
    assert _snapshot(story) == before


@pytest.mark.parametrize(
    "args",
    [
        ["show", "nosuchrev"],
        ["log", "nosuchrev"],
        ["diff", "HEAD", "nosuchrev"],
        ["blame", "opening", "--rev", "nosuchrev"],
        ["branch", "x", "nosuchrev"],
        ["tag", "x", "nosuchrev"],
        ["show", "HEAD~5"],
    ],
)
def test_unknown_revision(gvcs: Gvcs, story: Path, args: list[str]) -> None:
    before = _snapshot(story)
    one_line_error(gvcs(*args, cwd=story), 2)
    assert _snapshot(story) == before


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["log", "-n"],
        ["log", "-n", "x"],
        ["log", "--since", "yesterday"],
        ["page", "show", "missing"],
        ["page", "new", "x"],
        ["page", "new", "x", "--title", "X", "--follows", "missing"],
        ["page", "new", "opening", "--title", "Again"],
        ["actor", "add", "mara", "--name", "Again"],
        ["actor", "add", "x", "--name", "X", "--kind", "robot"],
        ["switch", "nowhere"],
        ["branch", "bad name"],
        ["branch", "main"],
        ["diff", "a", "b", "c"],
        ["blame", "missing"],
    ],
)
def test_bad_input_exit_2(gvcs: Gvcs, story: Path, args: list[str]) -> None:
    before = _snapshot(story)
    one_line_error(gvcs(*args, cwd=story), 2)
    assert _snapshot(story) == before


def test_outside_a_repository(gvcs: Gvcs, tmp_path: Path) -> None:
    assert "not a gvcs repository" in one_line_error(gvcs("log", cwd=tmp_path), 2)
    one_line_error(gvcs("-C", str(tmp_path / "nope"), "log"), 2)


def test_broken_front_matter_commits_nothing(gvcs: Gvcs, story: Path) -> None:
    head = (story / ".gvcs" / "refs" / "heads" / "main").read_text()
    (story / "pages" / "x.md").write_text("---\ntitle: X\nfollows: [opening\n---\nBody\n")
    line = one_line_error(gvcs("commit", "-m", "Broken", cwd=story), 2)
    assert line.startswith("gvcs: error: pages/x.md:3: ")
    assert (story / ".gvcs" / "refs" / "heads" / "main").read_text() == head
    assert "added:    pages/x.md" in ok(gvcs("status", cwd=story)).out


def test_missing_title_names_the_line(gvcs: Gvcs, story: Path) -> None:
    (story / "pages" / "x.md").write_text("---\nfollows: []\n---\nBody\n")
    assert "pages/x.md:2: " in one_line_error(gvcs("commit", "-m", "No title", cwd=story), 2)


@pytest.mark.parametrize("name", ["A B.md", "notes.txt", "sub/page.md"])
def test_badly_named_files_are_refused(gvcs: Gvcs, story: Path, name: str) -> None:
    head = (story / ".gvcs" / "refs" / "heads" / "main").read_text()
    path = story / "pages" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\ntitle: X\n---\nBody\n")
    line = one_line_error(gvcs("commit", "-m", "Bad name", cwd=story), 2)
    assert f"pages/{name}" in line
    assert (story / ".gvcs" / "refs" / "heads" / "main").read_text() == head
    assert "!" in ok(gvcs("status", cwd=story)).out


def test_commit_without_actor(gvcs: Gvcs, tmp_path: Path) -> None:
    ok(gvcs("init", "tale"))
    assert "no actor" in one_line_error(gvcs("commit", "-m", "x", cwd=tmp_path / "tale"), 2)


def test_unknown_actor(gvcs: Gvcs, story: Path) -> None:
    (story / "pages" / "opening.md").write_text("---\ntitle: Opening\n---\nNew body.\n")
    line = one_line_error(gvcs("--actor", "ghost", "commit", "-m", "Boo", cwd=story), 2)
    assert "unknown actor 'ghost'" in line


def test_stale_head_is_refused_and_ref_unchanged(gvcs: Gvcs, story: Path) -> None:
    (story / "pages" / "opening.md").write_text("---\ntitle: Opening\n---\nMy edit.\n")
    # Another process commits to main after this work tree was checked out.
    repo = open_repository(story)
    head = repo.branch_head("main")
    theirs = repo.commit(
        "main",
        ChangeSet().upsert_page(Page("other", "Other")),
        actor="bot",
        message="Meanwhile",
        expected_head=head,
    )
    repo.close()
    ref = story / ".gvcs" / "refs" / "heads" / "main"
    line = one_line_error(gvcs("commit", "-m", "Mine", cwd=story), 1)
    assert "branch moved" in line and "gvcs switch main" in line
    assert ref.read_text().strip() == theirs
    assert "Warning: main moved" in ok(gvcs("status", cwd=story)).out
    # Updating keeps the edit (the other commit touched another page); then the commit goes in.
    ok(gvcs("switch", "main", cwd=story))
    assert (story / "pages" / "other.md").is_file()
    assert "My edit." in (story / "pages" / "opening.md").read_text()
    ok(gvcs("commit", "-m", "Mine", cwd=story))
    assert ok(gvcs("log", "--oneline", "-n", "2", cwd=story)).out.splitlines()[1].endswith("Meanwhile")


def test_update_refuses_when_the_same_file_changed(gvcs: Gvcs, story: Path) -> None:
    (story / "pages" / "opening.md").write_text("---\ntitle: Opening\n---\nMine.\n")
    repo = open_repository(story)
    repo.commit(
        "main",
        ChangeSet().upsert_page(Page("opening", "Opening", "Theirs.")),
        actor="bot",
        message="Theirs",
        expected_head=repo.branch_head("main"),
    )
    repo.close()
    assert "pages/opening.md" in one_line_error(gvcs("switch", "main", cwd=story), 1)
    assert "Mine." in (story / "pages" / "opening.md").read_text()


def test_switch_refuses_with_uncommitted_changes(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("branch", "side", cwd=story))
    (story / "pages" / "opening.md").write_text("---\ntitle: Opening\n---\nUnsaved.\n")
    assert "uncommitted" in one_line_error(gvcs("switch", "side", cwd=story), 1)
    assert "Unsaved." in (story / "pages" / "opening.md").read_text()
    assert "On branch main" in ok(gvcs("status", cwd=story)).out


def test_a_file_named_pages_deletes_no_page(gvcs: Gvcs, story: Path) -> None:
    """A regular file where the pages directory belongs is refused: it does not read as every page
    removed."""
    shutil.rmtree(story / "pages")
    (story / "pages").write_text("not a directory\n")
    assert "pages: is a file, but pages/ is a directory" in one_line_error(
        gvcs("commit", "-m", "x", cwd=story), 2
    )
    listed = json.loads(ok(gvcs("page", "list", "--rev", "HEAD", "--json", cwd=story)).out)
    assert len(listed) == 2
    status = json.loads(ok(gvcs("status", "--json", cwd=story)).out)
    assert [c["path"] for c in status["changes"]] == ["pages"]
