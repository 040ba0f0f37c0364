"""``gvcs demo``: builds the sample story, refuses to overwrite, recreates only a previous demo."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Gvcs, ok, one_line_error


def test_demo_runs_and_refuses_a_second_run(gvcs: Gvcs, tmp_path: Path) -> None:
    first = ok(gvcs("demo"))
    root = tmp_path / "demo-story"
    assert "$ gvcs log --graph --all --oneline" in first.out
    assert "(HEAD -> main)" in first.out and "(tag: first-act)" in first.out
    assert "Try next:" in first.out
    assert json.loads((root / ".gvcs" / "gvcs.json").read_text())["demo"] is True
    assert "nothing to commit" in ok(gvcs("status", cwd=root)).out
    branches = {b["name"] for b in json.loads(ok(gvcs("branch", "--json", cwd=root)).out)}
    assert branches == {"main", "alt-ending", "agent-drafts"}
    pages = json.loads(ok(gvcs("page", "list", "--json", cwd=root)).out)
    assert len(pages) >= 12
    assert ok(gvcs("fsck", cwd=root)).out.startswith("ok:")

    line = one_line_error(gvcs("demo"), 1)
    assert "--force" in line
    (root / "pages" / "prologue.md").write_text("scribbled over\n")
    ok(gvcs("demo", "--force"))
    assert (root / "pages" / "prologue.md").read_text().startswith("---\ntitle: The Library of Pages\n")
    # Same fixed timestamps and content: the same commit ids every run.
    assert ok(gvcs("demo", "--force")).out == ok(gvcs("demo", "--force")).out


def test_demo_force_refuses_a_directory_that_is_not_a_demo(gvcs: Gvcs, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    assert "not a gvcs demo" in one_line_error(gvcs("demo", "precious", "--force"), 1)
    assert (precious / "notes.txt").read_text() == "keep me"
    ok(gvcs("init", "real"))
    assert "not a gvcs demo" in one_line_error(gvcs("demo", "real", "--force"), 1)
    assert (tmp_path / "real" / "story.yaml").is_file()
