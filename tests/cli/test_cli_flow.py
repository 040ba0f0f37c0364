"""The whole flow as a user runs it: init, actors, pages, commit, branches, log, show, diff, tag, blame."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Gvcs, ok, one_line_error


def test_init_writes_story_yaml_uncommitted(gvcs: Gvcs, tmp_path: Path) -> None:
    result = ok(gvcs("init", "tale", "--title", "A Tale"))
    assert "Initialised" in result.out
    assert (tmp_path / "tale" / ".gvcs" / "HEAD").is_file()
    assert (tmp_path / "tale" / "story.yaml").read_text() == "title: A Tale\n"
    status = ok(gvcs("status", cwd=tmp_path / "tale"))
    assert "no commits yet" in status.out
    assert "added:    story.yaml" in status.out


def test_first_actor_becomes_the_configured_actor(gvcs: Gvcs, tmp_path: Path) -> None:
    ok(gvcs("init", "tale"))
    root = tmp_path / "tale"
    one_line_error(gvcs("whoami", cwd=root), 2)
    added = ok(gvcs("actor", "add", "mara", "--name", "Mara Ink", cwd=root))
    assert "acting as mara" in added.out
    second = ok(gvcs("actor", "add", "bot", "--name", "Bot", "--kind", "agent", cwd=root))
    assert "acting as" not in second.out
    assert ok(gvcs("whoami", cwd=root)).out.startswith("mara  Mara Ink (human)  [from config]")
    assert "[from env]" in ok(gvcs("whoami", cwd=root, actor="bot")).out
    assert "[from flag]" in ok(gvcs("--actor", "mara", "whoami", cwd=root, actor="bot")).out
    listing = ok(gvcs("actor", "list", cwd=root)).out
    assert "bot   Bot (agent)" in listing and "mara  Mara Ink (human)" in listing


def test_commit_then_clean_status_and_log(gvcs: Gvcs, story: Path) -> None:
    assert "nothing to commit, work tree clean" in ok(gvcs("status", cwd=story)).out
    log = ok(gvcs("log", cwd=story)).out
    assert log.startswith("commit ")
    assert "(HEAD -> main)" in log.splitlines()[0]
    assert "Author: Mara Ink <mara@actors.gvcs>" in log
    assert "    First pages" in log
    one_line_error(gvcs("commit", "-m", "again", cwd=story), 1)


def test_commit_records_trailers_for_git(gvcs: Gvcs, story: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    out = subprocess.run(
        [git, f"--git-dir={story / '.gvcs'}", "log", "--format=%an|%B", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("Mara Ink|First pages")
    assert "Gvcs-Actor: mara" in out and "Gvcs-Kind: edit" in out


def test_branch_switch_and_graph(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("branch", "side", cwd=story))
    assert re.search(r"^\* main ", ok(gvcs("branch", cwd=story)).out, re.M)
    ok(gvcs("switch", "side", cwd=story))
    assert re.search(r"^\* side ", ok(gvcs("branch", cwd=story)).out, re.M)
    page = story / "pages" / "second.md"
    page.write_text(page.read_text() + "\nThe side branch speaks.\n")
    ok(gvcs("--actor", "bot", "commit", "-m", "Side words", cwd=story))
    ok(gvcs("switch", "main", cwd=story))
    assert "The side branch speaks." not in page.read_text()
    ok(gvcs("page", "new", "third", "--title", "Third", "--follows", "second", cwd=story))
    ok(gvcs("commit", "-m", "Main words", cwd=story))
    graph = ok(gvcs("log", "--graph", "--all", "--oneline", cwd=story)).out.splitlines()
    assert graph[0].startswith("* ") and "Main words" in graph[0] and "(HEAD -> main)" in graph[0]
    assert graph[1].startswith("| * ") and "(side) Side words" in graph[1]
    assert graph[2] == "|/"
    assert graph[3].startswith("* ") and "First pages" in graph[3]
    ok(gvcs("switch", "-c", "fresh", cwd=story))
    assert "On branch fresh" in ok(gvcs("status", cwd=story)).out


def test_log_filters(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("page", "new", "third", "--title", "Third", cwd=story))
    ok(gvcs("--actor", "bot", "commit", "-m", "Bot page", cwd=story))
    by_bot = ok(gvcs("log", "--oneline", "--actor", "bot", cwd=story)).out.splitlines()
    assert len(by_bot) == 1 and by_bot[0].endswith("Bot page")
    touching = ok(gvcs("log", "--oneline", "--page", "opening", cwd=story)).out.splitlines()
    assert len(touching) == 1 and touching[0].endswith("First pages")
    assert ok(gvcs("log", "--oneline", "--since", "2000-01-01", "-n", "1", cwd=story)).out.count("\n") == 1
    assert ok(gvcs("log", "--oneline", "--until", "2000-01-01", cwd=story)).out == ""
    assert ok(gvcs("log", "--oneline", "--kind", "merge", cwd=story)).out == ""
    assert ok(gvcs("log", "--oneline", "HEAD~1", cwd=story)).out.strip().endswith("First pages")


def test_show_diff_tag_blame(gvcs: Gvcs, story: Path) -> None:
    page = story / "pages" / "opening.md"
    page.write_text(page.read_text() + "\nA second paragraph by the bot.\n")
    diff = ok(gvcs("diff", "--lines", cwd=story)).out
    assert "diff --git a/pages/opening.md b/pages/opening.md" in diff
    assert "+A second paragraph by the bot." in diff
    assert "1 file(s) changed, 2 insertion(s)(+)" in ok(gvcs("diff", "--stat", cwd=story)).out
    paragraph = "+ ¶2\n    A second paragraph by the bot."
    assert paragraph in ok(gvcs("diff", cwd=story)).out
    ok(gvcs("--actor", "bot", "commit", "-m", "Bot adds a paragraph", cwd=story))
    assert ok(gvcs("diff", cwd=story)).out == ""
    show = ok(gvcs("show", cwd=story)).out
    assert "Bot adds a paragraph" in show and "Gvcs-Actor: bot" in show
    assert " modified  pages/opening.md" in show and paragraph in show
    assert "+A second paragraph by the bot." in ok(gvcs("show", "--lines", cwd=story)).out
    two = ok(gvcs("diff", "HEAD~1", "HEAD", cwd=story)).out
    assert "modified pages/opening.md\n" + paragraph in two
    assert paragraph in ok(gvcs("diff", "HEAD~1", cwd=story)).out
    ok(gvcs("tag", "v1", "HEAD~1", cwd=story))
    assert ok(gvcs("tag", cwd=story)).out.startswith("v1 ")
    assert "(tag: v1) First pages" in ok(gvcs("log", "--oneline", cwd=story)).out
    blame = ok(gvcs("blame", "opening", cwd=story)).out.splitlines()
    assert (
        " mara " in blame[0] and " bot " in blame[1] and blame[1].endswith("| A second paragraph by the bot.")
    )
    assert len(ok(gvcs("blame", "opening", "--rev", "v1", cwd=story)).out.splitlines()) == 1


def test_page_show_list_and_time_travel(gvcs: Gvcs, story: Path) -> None:
    listing = ok(gvcs("page", "list", cwd=story)).out
    assert "second   Second  (follows opening)" in listing
    shown = ok(gvcs("page", "show", "second", cwd=story)).out
    assert shown.startswith("---\ntitle: Second\nfollows: [opening]\n")
    assert ok(gvcs("page", "show", "second", "--rev", "HEAD", cwd=story)).out == shown
    assert ok(gvcs("page", "show", "second", "--as-of", "2100-01-01", cwd=story)).out == shown
    one_line_error(gvcs("page", "show", "second", "--as-of", "2000-01-01T00:00:00Z", cwd=story), 2)


def test_delete_page_and_branch(gvcs: Gvcs, story: Path) -> None:
    (story / "pages" / "second.md").unlink()
    assert "removed:  pages/second.md" in ok(gvcs("status", cwd=story)).out
    ok(gvcs("commit", "-m", "Cut second", cwd=story))
    assert "second" not in ok(gvcs("page", "list", "--rev", "HEAD", cwd=story)).out
    ok(gvcs("branch", "gone", cwd=story))
    ok(gvcs("branch", "-d", "gone", cwd=story))
    one_line_error(gvcs("branch", "-d", "main", cwd=story), 2)


def test_fsck_and_gc(gvcs: Gvcs, story: Path) -> None:
    assert ok(gvcs("fsck", cwd=story)).out.startswith("ok: ")
    assert "Packed" in ok(gvcs("gc", cwd=story)).out
    assert ok(gvcs("fsck", cwd=story)).out.startswith("ok: ")
    assert "First pages" in ok(gvcs("log", "--oneline", cwd=story)).out


def test_fsck_reports_problems_with_exit_1(gvcs: Gvcs, story: Path) -> None:
    head = (story / ".gvcs" / "refs" / "heads" / "main").read_text().strip()
    tree_line = subprocess.run(
        ["git", f"--git-dir={story / '.gvcs'}", "cat-file", "-p", head], capture_output=True, text=True
    ).stdout
    if not tree_line:
        pytest.skip("git is not installed")
    # Point a branch at a tree: a ref that does not name a commit.
    tree = tree_line.split()[1]
    (story / ".gvcs" / "refs" / "heads" / "broken").write_text(tree + "\n")
    result = gvcs("fsck", cwd=story)
    assert result.code == 1
    assert "refs/heads/broken" in result.out
    assert result.err.startswith("gvcs: error: fsck found")


def test_dash_c_runs_elsewhere(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    assert "First pages" in ok(gvcs("-C", str(story), "log", "--oneline", cwd=tmp_path)).out
    assert "First pages" in ok(gvcs("log", "--oneline", cwd=story / "pages")).out


def test_log_into_closed_pipe_is_silent(story: Path) -> None:
    import os
    import sys

    from .conftest import REPO_ROOT

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "log"],
        cwd=story,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader leaves at once, like `| head -0`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err
