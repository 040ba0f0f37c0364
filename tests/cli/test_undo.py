"""The undo commands through the real CLI: restore, reset, stash, commit --amend, switch --detach,
branch -m, and A..B / A...B ranges in log and diff."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import Gvcs, Result, ok, one_line_error


def page(story: Path, name: str) -> Path:
    return story / "pages" / f"{name}.md"


def append(story: Path, name: str, words: str) -> None:
    path = page(story, name)
    path.write_text(path.read_text(encoding="utf-8") + f"\n{words}\n", encoding="utf-8")


def head(gvcs: Gvcs, story: Path, rev: str = "HEAD") -> str:
    shown = ok(gvcs("log", "-n", "1", "--json", rev, cwd=story)).out
    return str(json.loads(shown)[0]["id"])


def status(gvcs: Gvcs, story: Path) -> dict[str, object]:
    return dict(json.loads(ok(gvcs("status", "--json", cwd=story)).out))


def changed(gvcs: Gvcs, story: Path) -> list[str]:
    return [str(c["path"]) for c in status(gvcs, story)["changes"]]  # type: ignore[attr-defined]


def subjects(result: Result) -> list[str]:
    """The subjects of ``log --oneline``, without the ids and ref names."""
    return [re.sub(r"^[0-9a-f]+ (\([^)]*\) )?", "", line) for line in result.out.splitlines()]


def git_fsck(story: Path) -> None:
    done = subprocess.run(
        ["git", "--git-dir", str(story / ".gvcs"), "fsck", "--strict", "--no-dangling"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def two(gvcs: Gvcs, story: Path) -> Path:
    """The story with a second commit on main that changes the opening."""
    append(story, "opening", "The second version of the opening.")
    ok(gvcs("commit", "-m", "Second version", cwd=story))
    return story


def protect_main(gvcs: Gvcs, story: Path) -> None:
    with (story / "story.yaml").open("a", encoding="utf-8") as f:
        f.write("protected: [main]\n")
    ok(gvcs("commit", "-m", "Protect main", cwd=story))


# --- restore -----------------------------------------------------------------------------------------


def test_restore_a_page_by_id_or_path(gvcs: Gvcs, two: Path) -> None:
    committed = page(two, "opening").read_bytes()
    append(two, "opening", "An edit I regret.")
    append(two, "second", "Another one.")
    ok(gvcs("restore", "opening", cwd=two))
    assert page(two, "opening").read_bytes() == committed
    assert changed(gvcs, two) == ["pages/second.md"]
    ok(gvcs("restore", "pages/second.md", cwd=two))
    assert status(gvcs, two)["clean"]


def test_restore_from_an_older_commit(gvcs: Gvcs, two: Path) -> None:
    ok(gvcs("restore", "--source", "HEAD~1", "opening", cwd=two))
    assert "The second version" not in page(two, "opening").read_text()
    assert changed(gvcs, two) == ["pages/opening.md"]  # the old text shows as a change to commit
    ok(gvcs("restore", "opening", cwd=two))
    assert "The second version" in page(two, "opening").read_text()


def test_restore_a_directory_brings_back_a_removed_file_and_leaves_new_ones(gvcs: Gvcs, two: Path) -> None:
    page(two, "second").unlink()
    append(two, "opening", "Changed.")
    ok(gvcs("page", "new", "third", "--title", "Third", cwd=two))
    out = ok(gvcs("restore", "pages", cwd=two)).out
    assert "restored pages/opening.md" in out and "restored pages/second.md" in out
    assert page(two, "second").exists()
    assert page(two, "third").exists()  # in no commit: left alone, as git leaves untracked files
    assert changed(gvcs, two) == ["pages/third.md"]
    ok(gvcs("restore", ".", cwd=two))
    assert page(two, "third").exists()


def test_restore_with_a_source_removes_what_the_source_lacks(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("page", "new", "third", "--title", "Third", cwd=story))
    ok(gvcs("commit", "-m", "Third", cwd=story))
    ok(gvcs("restore", "--source", "HEAD~1", "pages", cwd=story))
    assert not page(story, "third").exists()
    assert changed(gvcs, story) == ["pages/third.md"]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["nowhere"], 2, "nowhere: no such file or page"),
        (["pages/opening.md", "ghost"], 2, "ghost: no such file or page"),
        (["--source", "no-such-rev", "opening"], 2, "unknown revision 'no-such-rev'"),
        ([], 2, "at least one PATH or PAGE"),
        (["../outside"], 2, "no such file or page"),
    ],
)
def test_restore_refuses_bad_input_and_writes_nothing(
    gvcs: Gvcs, two: Path, args: list[str], code: int, says: str
) -> None:
    append(two, "opening", "Kept edit.")
    before = page(two, "opening").read_bytes()
    line = one_line_error(gvcs("restore", *args, cwd=two), code)
    assert says in line
    assert page(two, "opening").read_bytes() == before


# --- reset -------------------------------------------------------------------------------------------


def test_reset_keeps_the_files_and_the_reflog_keeps_the_commit(gvcs: Gvcs, two: Path) -> None:
    second = head(gvcs, two)
    out = ok(gvcs("reset", "HEAD~1", cwd=two)).out
    assert "main is now at" in out and f"it was at {second[:10]}" in out
    assert subjects(ok(gvcs("log", "--oneline", cwd=two))) == ["First pages"]
    assert "The second version" in page(two, "opening").read_text()  # the files stay
    assert changed(gvcs, two) == ["pages/opening.md"]
    reflog = ok(gvcs("reflog", cwd=two)).out.splitlines()
    assert reflog[0].endswith("main@{0}: reset: moving to HEAD~1")
    assert reflog[1].startswith(second[:10])
    ok(gvcs("reset", "main@{1}", cwd=two))  # back where it was
    assert head(gvcs, two) == second
    assert status(gvcs, two)["clean"]
    git_fsck(two)


def test_soft_and_mixed_are_the_same_without_an_index(gvcs: Gvcs, two: Path) -> None:
    ok(gvcs("reset", "--soft", "HEAD~1", cwd=two))
    assert changed(gvcs, two) == ["pages/opening.md"]
    ok(gvcs("commit", "-m", "Squashed again", cwd=two))
    assert subjects(ok(gvcs("log", "--oneline", cwd=two))) == ["Squashed again", "First pages"]


def test_reset_hard_makes_the_files_the_commits_and_leaves_untracked_ones(gvcs: Gvcs, two: Path) -> None:
    append(two, "second", "Uncommitted, thrown away.")
    ok(gvcs("page", "new", "draft", "--title", "Draft", cwd=two))
    out = ok(gvcs("reset", "--hard", "HEAD~1", cwd=two)).out
    assert out.startswith("HEAD is now at ")
    assert "The second version" not in page(two, "opening").read_text()
    assert "thrown away" not in page(two, "second").read_text()
    assert page(two, "draft").exists()
    assert changed(gvcs, two) == ["pages/draft.md"]


def test_reset_hard_head_discards_every_change(gvcs: Gvcs, two: Path) -> None:
    append(two, "opening", "Nope.")
    page(two, "second").unlink()
    ok(gvcs("reset", "--hard", cwd=two))
    assert status(gvcs, two)["clean"]


def test_reset_is_refused_on_a_protected_branch(gvcs: Gvcs, story: Path) -> None:
    protect_main(gvcs, story)
    before = head(gvcs, story)
    line = one_line_error(gvcs("reset", "--hard", "HEAD~1", cwd=story), 1)
    assert "main is protected: it only moves forward" in line
    assert head(gvcs, story) == before
    assert "protected: [main]" in (story / "story.yaml").read_text()
    assert status(gvcs, story)["clean"]


def test_reset_in_a_detached_head_moves_head_only(gvcs: Gvcs, two: Path) -> None:
    main = head(gvcs, two)
    ok(gvcs("switch", "--detach", "HEAD", cwd=two))
    ok(gvcs("reset", "--hard", "HEAD~1", cwd=two))
    assert head(gvcs, two, "main") == main
    assert head(gvcs, two) != main
    assert status(gvcs, two)["detached"]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--soft", "--hard", "HEAD"], 2, "not allowed with argument"),
        (["no-such"], 2, "unknown revision 'no-such'"),
        (["HEAD~9"], 2, "history is not that long"),
        (["main@{99}"], 2, "the reflog of main has only"),
    ],
)
def test_reset_refuses_bad_input(gvcs: Gvcs, two: Path, args: list[str], code: int, says: str) -> None:
    before = head(gvcs, two)
    line = one_line_error(gvcs("reset", *args, cwd=two), code)
    assert says in line
    assert head(gvcs, two) == before


# --- stash -------------------------------------------------------------------------------------------


def test_stash_push_list_show_and_pop(gvcs: Gvcs, two: Path) -> None:
    append(two, "opening", "Half a thought.")
    ok(gvcs("page", "new", "draft", "--title", "Draft", cwd=two))
    page(two, "second").unlink()
    edited = {p: page(two, p).read_bytes() for p in ("opening", "draft")}
    out = ok(gvcs("stash", "-m", "thinking", cwd=two)).out
    assert "stash@{0}: On main: thinking" in out
    assert status(gvcs, two)["clean"]
    assert not page(two, "draft").exists() and page(two, "second").exists()
    assert ok(gvcs("stash", "list", cwd=two)).out == "stash@{0}: On main: thinking\n"
    shown = ok(gvcs("stash", "show", cwd=two)).out
    assert "pages/draft.md" in shown and "pages/opening.md" in shown and "pages/second.md" in shown
    ok(gvcs("stash", "pop", cwd=two))
    assert {p: page(two, p).read_bytes() for p in ("opening", "draft")} == edited
    assert not page(two, "second").exists()
    assert ok(gvcs("stash", "list", cwd=two)).out == ""
    git_fsck(two)


def test_stashes_stack_newest_first(gvcs: Gvcs, two: Path) -> None:
    append(two, "opening", "First aside.")
    ok(gvcs("stash", "push", "-m", "one", cwd=two))
    append(two, "second", "Second aside.")
    ok(gvcs("stash", "push", "-m", "two", cwd=two))
    listed = ok(gvcs("stash", "list", "--json", cwd=two)).out
    assert [s["name"] for s in json.loads(listed)] == ["stash@{0}", "stash@{1}"]
    assert ok(gvcs("stash", "list", cwd=two)).out.splitlines() == [
        "stash@{0}: On main: two",
        "stash@{1}: On main: one",
    ]
    ok(gvcs("stash", "apply", "stash@{1}", cwd=two))  # applied, kept
    assert "First aside." in page(two, "opening").read_text()
    assert len(ok(gvcs("stash", "list", cwd=two)).out.splitlines()) == 2
    ok(gvcs("stash", "drop", "1", cwd=two))
    assert ok(gvcs("stash", "list", cwd=two)).out == "stash@{0}: On main: two\n"
    ok(gvcs("stash", "pop", cwd=two))
    assert "Second aside." in page(two, "second").read_text()


def test_a_stash_moves_to_another_branch(gvcs: Gvcs, two: Path) -> None:
    append(two, "second", "Meant for a branch.")
    ok(gvcs("stash", cwd=two))
    ok(gvcs("switch", "-c", "side", "HEAD~1", cwd=two))
    ok(gvcs("stash", "pop", cwd=two))
    assert "Meant for a branch." in page(two, "second").read_text()
    assert changed(gvcs, two) == ["pages/second.md"]
    ok(gvcs("commit", "-m", "On the side", cwd=two))


def test_pop_refuses_a_clash_and_keeps_everything(gvcs: Gvcs, two: Path) -> None:
    lines = page(two, "opening").read_text().splitlines()
    lines[-1] = "The stashed ending."
    page(two, "opening").write_text("\n".join(lines) + "\n")
    ok(gvcs("stash", cwd=two))
    lines[-1] = "A different ending, here."
    page(two, "opening").write_text("\n".join(lines) + "\n")
    here = page(two, "opening").read_bytes()
    line = one_line_error(gvcs("stash", "pop", cwd=two), 1)
    assert "cannot apply stash@{0}: pages/opening.md changed here too" in line
    assert page(two, "opening").read_bytes() == here
    assert len(ok(gvcs("stash", "list", cwd=two)).out.splitlines()) == 1


def test_the_stash_is_no_branch(gvcs: Gvcs, two: Path) -> None:
    append(two, "opening", "Aside.")
    ok(gvcs("stash", cwd=two))
    assert "stash" not in ok(gvcs("branch", cwd=two)).out
    assert subjects(ok(gvcs("log", "--oneline", cwd=two))) == ["Second version", "First pages"]
    assert "Aside." in ok(gvcs("page", "show", "opening", "--rev", "stash@{0}", cwd=two)).out


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["stash"], 1, "no local changes to save"),
        (["stash", "pop"], 2, "no stash entries"),
        (["stash", "drop", "stash@{3}"], 2, "no stash entries"),
        (["stash", "frobnicate"], 2, "invalid choice"),
    ],
)
def test_stash_refuses_bad_input(gvcs: Gvcs, two: Path, args: list[str], code: int, says: str) -> None:
    line = one_line_error(gvcs(*args, cwd=two), code)
    assert says in line


def test_a_stash_that_does_not_exist(gvcs: Gvcs, two: Path) -> None:
    append(two, "opening", "Aside.")
    ok(gvcs("stash", cwd=two))
    assert "stash@{4} does not exist" in one_line_error(gvcs("stash", "pop", "stash@{4}", cwd=two), 2)
    assert "is not a stash" in one_line_error(gvcs("stash", "drop", "stash@{x}", cwd=two), 2)


# --- commit --amend ----------------------------------------------------------------------------------


def test_amend_the_message_keeps_the_parent(gvcs: Gvcs, two: Path) -> None:
    old, parent = head(gvcs, two), head(gvcs, two, "HEAD~1")
    out = ok(gvcs("commit", "--amend", "-m", "Second version, better said", cwd=two)).out
    assert "Second version, better said (amended)" in out
    new = head(gvcs, two)
    assert new != old and head(gvcs, two, "HEAD~1") == parent
    assert subjects(ok(gvcs("log", "--oneline", cwd=two))) == ["Second version, better said", "First pages"]
    assert old[:10] in ok(gvcs("reflog", cwd=two)).out  # the old commit is kept
    git_fsck(two)


def test_amend_takes_the_work_tree_and_keeps_the_message(gvcs: Gvcs, two: Path) -> None:
    append(two, "second", "Forgot this.")
    ok(gvcs("commit", "--amend", cwd=two))
    assert subjects(ok(gvcs("log", "--oneline", cwd=two))) == ["Second version", "First pages"]
    assert status(gvcs, two)["clean"]
    diff = ok(gvcs("diff", "--stat", "HEAD~1", "HEAD", cwd=two)).out
    assert "pages/opening.md" in diff and "pages/second.md" in diff


def test_amend_is_refused_once_on_a_protected_branch(gvcs: Gvcs, story: Path) -> None:
    protect_main(gvcs, story)
    before = head(gvcs, story)
    line = one_line_error(gvcs("commit", "--amend", "-m", "Rewrite", cwd=story), 1)
    assert "it is on the protected branch main" in line
    ok(gvcs("switch", "-c", "side", cwd=story))  # the same commit, reached from a branch of one's own
    line = one_line_error(gvcs("commit", "--amend", "-m", "Rewrite", cwd=story), 1)
    assert "it is on the protected branch main" in line
    assert head(gvcs, story, "side") == before
    append(story, "opening", "New on side.")
    ok(gvcs("commit", "-m", "Side work", cwd=story))
    ok(gvcs("commit", "--amend", "-m", "Side work, amended", cwd=story))  # not on main: fine


def test_an_event_commit_is_not_amended(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("gift", "mint", "mara", "5", cwd=story))
    before = head(gvcs, story)
    line = one_line_error(gvcs("commit", "--amend", "-m", "Mint more", cwd=story), 1)
    assert "a gift.txn.v1 commit" in line
    assert head(gvcs, story) == before


def test_commit_without_a_message(gvcs: Gvcs, two: Path) -> None:
    append(two, "opening", "Words.")
    assert "commit needs a message" in one_line_error(gvcs("commit", cwd=two), 2)


# --- switch --detach ---------------------------------------------------------------------------------


def test_switch_detach_at_a_tag_and_back(gvcs: Gvcs, two: Path) -> None:
    ok(gvcs("tag", "v1", "HEAD~1", cwd=two))
    out = ok(gvcs("switch", "--detach", "v1", cwd=two)).out
    assert out.startswith("HEAD is now at ") and "(detached)" in out
    assert "The second version" not in page(two, "opening").read_text()
    assert ok(gvcs("status", cwd=two)).out.startswith("HEAD detached at ")
    assert "HEAD is detached" in one_line_error(gvcs("commit", "-m", "x", cwd=two), 1)
    ok(gvcs("switch", "main", cwd=two))
    assert "The second version" in page(two, "opening").read_text()
    assert "unknown revision 'v9'" in one_line_error(gvcs("switch", "--detach", "v9", cwd=two), 2)


# --- branch -m ---------------------------------------------------------------------------------------


def test_rename_the_current_branch(gvcs: Gvcs, two: Path) -> None:
    tip = head(gvcs, two)
    assert ok(gvcs("branch", "-m", "trunk", cwd=two)).out.startswith("Renamed branch main to trunk")
    assert ok(gvcs("branch", cwd=two)).out.startswith("* trunk ")
    assert "main" not in ok(gvcs("branch", cwd=two)).out
    assert status(gvcs, two)["branch"] == "trunk"
    assert head(gvcs, two) == tip
    append(two, "opening", "On trunk.")
    ok(gvcs("commit", "-m", "On trunk", cwd=two))
    git_fsck(two)


def test_rename_another_branch(gvcs: Gvcs, two: Path) -> None:
    ok(gvcs("branch", "side", "HEAD~1", cwd=two))
    ok(gvcs("branch", "-m", "side", "draft", cwd=two))
    names = [b["name"] for b in json.loads(ok(gvcs("branch", "--json", cwd=two)).out)]
    assert names == ["draft", "main"]
    assert status(gvcs, two)["branch"] == "main"


def test_a_protected_branch_is_not_renamed(gvcs: Gvcs, story: Path) -> None:
    protect_main(gvcs, story)
    line = one_line_error(gvcs("branch", "-m", "main", "trunk", cwd=story), 1)
    assert "main is protected: it cannot be deleted" in line
    names = [b["name"] for b in json.loads(ok(gvcs("branch", "--json", cwd=story)).out)]
    assert names == ["main"]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["-m", "ghost", "other"], 2, "branch 'ghost' not found"),
        (["-m", "main", "bad..name"], 2, "bad..name"),
        (["-m"], 2, "branch -m takes [OLD] NEW"),
        (["-m", "-d", "main"], 2, "not allowed with argument"),
    ],
)
def test_rename_refuses_bad_input(gvcs: Gvcs, two: Path, args: list[str], code: int, says: str) -> None:
    ok(gvcs("branch", "side", cwd=two))
    line = one_line_error(gvcs("branch", *args, cwd=two), code)
    assert says in line
    names = [b["name"] for b in json.loads(ok(gvcs("branch", "--json", cwd=two)).out)]
    assert names == ["main", "side"]


def test_rename_onto_an_existing_branch_is_refused(gvcs: Gvcs, two: Path) -> None:
    ok(gvcs("branch", "side", cwd=two))
    assert "branch side already exists" in one_line_error(gvcs("branch", "-m", "main", "side", cwd=two), 2)


# --- ranges ------------------------------------------------------------------------------------------


@pytest.fixture
def forked(gvcs: Gvcs, two: Path) -> Path:
    """main: First pages, Second version, Main only; side (from Second version): Side one, Side two."""
    ok(gvcs("switch", "-c", "side", cwd=two))
    for n in ("one", "two"):
        append(two, "second", f"Side {n}.")
        ok(gvcs("commit", "-m", f"Side {n}", cwd=two))
    ok(gvcs("switch", "main", cwd=two))
    append(two, "opening", "Main only.")
    ok(gvcs("commit", "-m", "Main only", cwd=two))
    return two


def test_log_ranges(gvcs: Gvcs, forked: Path) -> None:
    def log(*revs: str) -> list[str]:
        return subjects(ok(gvcs("log", "--oneline", *revs, cwd=forked)))

    assert log("main..side") == ["Side two", "Side one"]
    assert log("side..main") == ["Main only"]
    assert log("side..") == ["Main only"]  # an empty side is HEAD
    assert sorted(log("main...side")) == ["Main only", "Side one", "Side two"]
    assert log("side", "^main") == ["Side two", "Side one"]
    assert log("main..main") == []
    graph = ok(gvcs("log", "--graph", "--oneline", "main..side", cwd=forked)).out
    assert "Side one" in graph and "Second version" not in graph
    as_json = json.loads(ok(gvcs("log", "--json", "main..side", cwd=forked)).out)
    assert [c["subject"] for c in as_json] == ["Side two", "Side one"]


def test_diff_ranges(gvcs: Gvcs, forked: Path) -> None:
    def stat(*revs: str) -> str:
        return ok(gvcs("diff", "--stat", *revs, cwd=forked)).out

    assert stat("main..side") == stat("main", "side")
    three = stat("main...side")  # from where side left main: only side's own change
    assert "pages/second.md" in three and "pages/opening.md" not in three
    assert "pages/opening.md" in stat("main..side")


@pytest.mark.parametrize(
    ("command", "code", "says"),
    [
        (["log", "main..ghost"], 2, "unknown revision 'ghost'"),
        (["log", "main....side"], 2, "unknown revision '.side'"),
        (["diff", "main..side", "main"], 2, "two revisions or one range"),
        (["diff", "ghost...main"], 2, "unknown revision 'ghost'"),
    ],
)
def test_bad_ranges(gvcs: Gvcs, forked: Path, command: list[str], code: int, says: str) -> None:
    assert says in one_line_error(gvcs(*command, cwd=forked), code)


# --- on a Neo4j store --------------------------------------------------------------------------------


@pytest.mark.neo4j
def test_undo_on_a_neo4j_store(gvcs: Gvcs, tmp_path: Path, neo4j_uri: str) -> None:
    """The same commands on a story whose history lives in Neo4j (stashes are refs there too)."""
    from narrative_vcs.graph.neo4j import open_neo4j

    objects, _refs, _access = open_neo4j(neo4j_uri)
    objects.server.clear()
    objects.close()
    ok(gvcs("init", "n4", "--title", "Night Shift", "--store", neo4j_uri))
    root = tmp_path / "n4"
    ok(gvcs("actor", "add", "mara", "--name", "Mara Ink", cwd=root))
    ok(gvcs("page", "new", "opening", "--title", "Opening", cwd=root))
    ok(gvcs("commit", "-m", "Opening", cwd=root))
    append(root, "opening", "Second words.")
    ok(gvcs("commit", "-m", "Second", cwd=root))
    append(root, "opening", "Put aside.")
    ok(gvcs("stash", "-m", "aside", cwd=root))
    assert ok(gvcs("stash", "list", cwd=root)).out == "stash@{0}: On main: aside\n"
    ok(gvcs("stash", "pop", cwd=root))
    assert "Put aside." in page(root, "opening").read_text()
    ok(gvcs("commit", "--amend", "-m", "Second, with more", cwd=root))
    assert subjects(ok(gvcs("log", "--oneline", cwd=root))) == ["Second, with more", "Opening"]
    ok(gvcs("reset", "--hard", "HEAD~1", cwd=root))
    assert "Second words." not in page(root, "opening").read_text()
    ok(gvcs("reset", "main@{1}", cwd=root))
    ok(gvcs("restore", "opening", cwd=root))
    assert status(gvcs, root)["clean"]
    ok(gvcs("branch", "-m", "trunk", cwd=root))
    assert status(gvcs, root)["branch"] == "trunk"
    assert subjects(ok(gvcs("log", "--oneline", "trunk~1..trunk", cwd=root))) == ["Second, with more"]
    line = one_line_error(gvcs("switch", "--detach", "HEAD~1", cwd=root), 1)
    assert "switch --detach needs an embedded store" in line
