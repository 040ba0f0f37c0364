"""``gvcs fsck`` on a store damaged on disk: every problem listed, one line each, exit 1; and every other
command reading a damaged ref file stops with one line, never a traceback.

Each test damages a story made by the real CLI as a person or a crash would (a file emptied, garbage
written, a pack index deleted) and runs the real ``gvcs``; where git has an opinion, ``git fsck`` is
asked too.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from narrative_vcs.graph.git import TEMP_GRACE_SECONDS, GitObjectStore

from .conftest import Gvcs, Result, ok, one_line_error

Git = Callable[..., str]


def problems(result: Result, count: int | None = None) -> list[str]:
    """The lines of a failed ``gvcs fsck``: exit 1, one ``fsck found N problem(s)`` line on stderr."""
    assert result.code == 1, f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"
    assert "Traceback" not in result.err
    lines = result.out.splitlines()
    assert result.err == f"gvcs: error: fsck found {len(lines)} problem(s)\n", result.err
    if count is not None:
        assert len(lines) == count, lines
    return lines


def git_fsck_fails(git_cli: Git, git_dir: Path) -> str:
    """Run ``git fsck`` and expect it to fail; return what it said on stderr."""
    import subprocess

    result = subprocess.run(["git", f"--git-dir={git_dir}", "fsck"], capture_output=True, text=True)
    assert result.returncode != 0, result.stdout + result.stderr
    return result.stderr


def head_of(story: Path) -> str:
    return (story / ".gvcs" / "refs" / "heads" / "main").read_text().strip()


def commit_more(gvcs: Gvcs, story: Path, *messages: str) -> list[str]:
    """A commit per message (each appends to a page); their ids, oldest first."""
    ids = []
    for message in messages:
        page = story / "pages" / "opening.md"
        page.write_text(page.read_text() + f"\n{message}.\n")
        ok(gvcs("commit", "-m", message, cwd=story))
        ids.append(head_of(story))
    return ids


def packs(story: Path) -> list[Path]:
    """The pack indexes, oldest first (each commit writes one pack)."""
    found = (story / ".gvcs" / "objects" / "pack").glob("pack-*.idx")
    return sorted(found, key=lambda p: p.stat().st_mtime_ns)


def writable(path: Path) -> Path:
    os.chmod(path, 0o644)  # objects and packs are written read-only, as git writes them
    return path


# --- a clean story ---------------------------------------------------------------------------------


def test_a_clean_story_passes_and_the_rules_audit_still_runs(gvcs: Gvcs, story: Path, git_cli: Git) -> None:
    commit_more(gvcs, story, "Two")
    ok(gvcs("tag", "v1", cwd=story))
    ok(gvcs("branch", "topic/one", cwd=story))
    ok(gvcs("branch", "-d", "topic/one", cwd=story))  # its reflog and directory go with it
    assert ok(gvcs("fsck", cwd=story)).out.startswith("ok: ")
    assert ok(gvcs("fsck", "--rules", cwd=story)).out.startswith("ok: ")
    git_cli(story / ".gvcs", "fsck", "--strict", "--no-dangling")
    # every reflog line gvcs wrote is one git reads (an ident with an <email>)
    assert git_cli(story / ".gvcs", "reflog", "show", "--format=%gs", "refs/tags/v1").strip() == "tag: HEAD"


def test_a_rev_without_rules_is_bad_input(gvcs: Gvcs, story: Path) -> None:
    assert "REV goes with --rules" in one_line_error(gvcs("fsck", "HEAD", cwd=story), 2)


# --- refs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "shown"), [("garbage\n", "'garbage'"), ("", "''"), ("\xff\xfe\n", "'��'")]
)
def test_a_branch_file_that_is_not_an_id(
    gvcs: Gvcs, story: Path, git_cli: Git, content: str, shown: str
) -> None:
    (story / ".gvcs" / "refs" / "heads" / "main").write_bytes(content.encode("latin-1"))
    assert problems(gvcs("fsck", cwd=story)) == [f"ref refs/heads/main holds {shown}, not a commit id"]
    git_fsck_fails(git_cli, story / ".gvcs")
    # any command reading the branch stops with one line (exit 1: the store is damaged)
    assert "refs/heads/main holds" in one_line_error(gvcs("log", cwd=story), 1)


def test_garbage_in_head(gvcs: Gvcs, story: Path) -> None:
    (story / ".gvcs" / "HEAD").write_text("garbage\n")
    assert problems(gvcs("fsck", cwd=story)) == ["ref HEAD holds 'garbage', not a commit id"]
    assert "ref HEAD holds 'garbage'" in one_line_error(gvcs("log", cwd=story), 1)


def test_head_naming_a_tag_or_itself(gvcs: Gvcs, story: Path, git_cli: Git) -> None:
    ok(gvcs("tag", "v1", cwd=story))
    (story / ".gvcs" / "HEAD").write_text("ref: refs/tags/v1\n")
    assert problems(gvcs("fsck", cwd=story)) == ["HEAD points at 'refs/tags/v1', not at a branch"]
    assert "HEAD points to something strange" in git_fsck_fails(git_cli, story / ".gvcs")
    (story / ".gvcs" / "HEAD").write_text("ref: HEAD\n")  # a loop
    assert problems(gvcs("fsck", cwd=story)) == ["HEAD points at 'HEAD', not at a branch"]
    assert "nested too deep" in one_line_error(gvcs("log", cwd=story), 1)


def test_a_detached_head_at_a_commit_is_fine_and_at_a_missing_one_is_not(
    gvcs: Gvcs, story: Path, git_cli: Git
) -> None:
    first = head_of(story)
    commit_more(gvcs, story, "Two")
    (story / ".gvcs" / "HEAD").write_text(first + "\n")
    assert ok(gvcs("fsck", cwd=story)).out.startswith("ok: ")
    git_cli(story / ".gvcs", "fsck", "--strict", "--no-dangling")
    missing = "deadbeef" * 5
    (story / ".gvcs" / "HEAD").write_text(missing + "\n")
    assert problems(gvcs("fsck", cwd=story)) == [f"HEAD points at a missing object ({missing})"]
    git_fsck_fails(git_cli, story / ".gvcs")


def test_refs_at_a_tree_and_a_missing_object(gvcs: Gvcs, story: Path, git_cli: Git) -> None:
    tree = git_cli(story / ".gvcs", "rev-parse", "main^{tree}").strip()
    missing = "deadbeef" * 5
    (story / ".gvcs" / "refs" / "heads" / "to-tree").write_text(tree + "\n")
    (story / ".gvcs" / "refs" / "tags" / "gone").write_text(missing + "\n")
    assert problems(gvcs("fsck", cwd=story)) == [
        f"ref refs/heads/to-tree points at a tree ({tree})",
        f"ref refs/tags/gone points at a missing object ({missing})",
    ]
    git_fsck_fails(git_cli, story / ".gvcs")


def test_annotated_tags_made_by_git(gvcs: Gvcs, story: Path, git_cli: Git) -> None:
    git_dir = story / ".gvcs"
    env = "-c", "user.name=Ada", "-c", "user.email=ada@actors.gvcs"
    git_cli(git_dir, *env, "tag", "-a", "-m", "the first release", "v1", "main")
    git_cli(git_dir, *env, "tag", "-a", "-m", "a tag of a tag", "v1-again", "v1")
    assert ok(gvcs("fsck", cwd=story)).out.startswith("ok: ")
    blob = git_cli(git_dir, "rev-parse", "main:story.yaml").strip()
    git_cli(git_dir, *env, "tag", "-a", "-m", "a tag of a file", "on-a-blob", blob)
    tag = git_cli(git_dir, "rev-parse", "on-a-blob").strip()
    assert problems(gvcs("fsck", cwd=story)) == [
        f"ref refs/tags/on-a-blob points at tag {tag}, which points at a blob ({blob})"
    ]


def test_packed_refs_written_by_git_then_damaged(gvcs: Gvcs, story: Path, git_cli: Git) -> None:
    git_dir = story / ".gvcs"
    ok(gvcs("tag", "v1", cwd=story))
    git_cli(git_dir, "pack-refs", "--all")  # main and v1 now live in packed-refs only
    assert not (git_dir / "refs" / "heads" / "main").exists()
    assert ok(gvcs("fsck", cwd=story)).out.startswith("ok: ")
    packed = git_dir / "packed-refs"
    text = packed.read_text()
    v1 = git_cli(git_dir, "rev-parse", "v1").strip()
    packed.write_text(text + "junk\n^" + "a" * 40 + "\n" + "c0ffee refs/heads/short\n")
    found = problems(gvcs("fsck", cwd=story))
    lines = len(text.splitlines())
    assert found == [
        f"packed-refs:{lines + 1}: not '<id> <ref>': 'junk'",
        f"packed-refs:{lines + 2}: not a peeled id after a ref: '^{'a' * 40}'",
        f"packed-refs:{lines + 3}: not '<id> <ref>': 'c0ffee refs/heads/short'",
    ]
    assert "unexpected line" in git_fsck_fails(git_cli, git_dir)
    assert f"packed-refs:{lines + 1}" in one_line_error(gvcs("log", cwd=story), 1)
    assert f"packed-refs:{lines + 1}" in one_line_error(gvcs("branch", cwd=story), 1)
    # a ref that parses is still checked: point v1 at a missing object
    missing = "deadbeef" * 5
    packed.write_text(text.replace(f"{v1} refs/tags/v1", f"{missing} refs/tags/v1"))
    assert problems(gvcs("fsck", cwd=story)) == [f"ref refs/tags/v1 points at a missing object ({missing})"]
    packed.write_text(text.rstrip("\n"))
    assert problems(gvcs("fsck", cwd=story)) == [
        f"packed-refs:{lines}: the last line has no newline (cut short?)"
    ]


def test_reflog_lines_that_are_not_gits_format(gvcs: Gvcs, story: Path) -> None:
    log = story / ".gvcs" / "logs" / "refs" / "heads" / "main"
    good = log.read_text()
    # a name without an <email> (older gvcs wrote such lines: still read, no damage), garbage, a torn line
    bare = good.splitlines()[0].replace("Mara Ink <mara@actors.gvcs>", "mara")
    log.write_text(f"{good}{bare}\ngarbage line\n{good.splitlines()[0][:50]}")
    n = len(good.splitlines())
    assert problems(gvcs("fsck", cwd=story)) == [
        f"logs/refs/heads/main:{n + 2}: not a reflog entry: 'garbage line'",
        f"logs/refs/heads/main:{n + 3}: the last line has no newline (cut short?)",
    ]
    log.write_text(f"{good}{bare}\n")
    assert ok(gvcs("fsck", cwd=story))
    assert ok(gvcs("log", "--oneline", cwd=story)).out  # a damaged reflog does not stop a reader


# --- objects and packs -----------------------------------------------------------------------------


def test_an_unreadable_commit_in_the_middle_of_history_does_not_stop_fsck(
    gvcs: Gvcs, story: Path, git_cli: Git
) -> None:
    first = head_of(story)
    second, third = commit_more(gvcs, story, "Two", "Three")
    git_dir = story / ".gvcs"
    # every object loose, so one object can be damaged alone
    store = GitObjectStore(git_dir)
    for oid in list(store):
        store.put(*store.get(oid))
    for path in (git_dir / "objects" / "pack").glob("pack-*"):
        path.unlink()
    writable(git_dir / "objects" / second[:2] / second[2:]).write_bytes(b"garbage")
    (git_dir / "refs" / "heads" / "broken").write_text("nonsense\n")
    found = problems(gvcs("fsck", cwd=story))
    assert f"object {second}: object {second} cannot be read: loose object is corrupt" in found
    assert f"commit {third}: its parent is an unreadable object ({second})" in found
    assert "ref refs/heads/broken holds 'nonsense', not a commit id" in found
    assert len(found) == 3, found
    assert first not in "\n".join(found)  # the root is past the damage: not walked, not reported
    git_fsck_fails(git_cli, git_dir)


def test_a_deleted_pack_index(gvcs: Gvcs, story: Path, git_cli: Git) -> None:
    """Exit 1 (it was 2, "object not found", from the first commit the walk could not read)."""
    first = head_of(story)
    second, third = commit_more(gvcs, story, "Two", "Three")
    oldest = packs(story)[0]  # the first commit's pack
    oldest.unlink()
    found = problems(gvcs("fsck", cwd=story))
    assert f"commit {second}: missing parent {first}" in found
    git_fsck_fails(git_cli, story / ".gvcs")
    # once old enough not to be a writer's pack between its two renames, the pack itself is named
    old = time.time() - TEMP_GRACE_SECONDS - 60
    os.utime(oldest.with_suffix(".pack"), (old, old))
    named = problems(gvcs("fsck", cwd=story))
    assert named[0] == (
        f"{oldest.with_suffix('.pack')}: its index {oldest.name} is missing, so its objects cannot be read "
        "(git index-pack rebuilds it)"
    )
    assert named[1:] == found
    assert third == head_of(story)


@pytest.mark.parametrize("damage", ["junk", "truncated", "checksum", "no-pack"])
def test_a_damaged_pack_index(gvcs: Gvcs, story: Path, git_cli: Git, damage: str) -> None:
    second, _ = commit_more(gvcs, story, "Two", "Three")
    idx = writable(packs(story)[1])  # the pack of the second commit
    data = bytearray(idx.read_bytes())
    if damage == "junk":
        data = bytearray(b"junk\n")
        expected = f"{idx}: not a version 2 pack index"
    elif damage == "truncated":
        data = data[: len(data) - 30]
        expected = f"{idx}: truncated"
    elif damage == "checksum":
        data[1032 + 20 * int.from_bytes(data[1028:1032], "big")] ^= 0xFF  # a CRC: only the checksum tells
        expected = f"{idx}: index checksum does not match its content"
    else:
        idx.with_suffix(".pack").unlink()
        expected = f"{idx}: its pack {idx.with_suffix('.pack').name} is missing"
    idx.write_bytes(bytes(data))
    found = problems(gvcs("fsck", cwd=story))
    assert any(line.startswith(expected) for line in found), found
    if damage != "checksum":  # the index still finds the objects: only the checksum is wrong
        assert any(second in line for line in found if line != expected), found
    git_fsck_fails(git_cli, story / ".gvcs")


def test_a_corrupt_byte_in_a_pack(gvcs: Gvcs, story: Path, git_cli: Git) -> None:
    commit_more(gvcs, story, "Two")
    pack = writable(packs(story)[-1].with_suffix(".pack"))
    data = bytearray(pack.read_bytes())
    data[-21] ^= 0xFF  # the last byte of the last object
    pack.write_bytes(bytes(data))
    found = problems(gvcs("fsck", cwd=story))
    assert f"{pack}: pack checksum does not match its content" in found
    git_fsck_fails(git_cli, story / ".gvcs")


# --- everything at once, as JSON -------------------------------------------------------------------


def test_every_problem_is_listed_and_json_says_so(gvcs: Gvcs, story: Path) -> None:
    git_dir = story / ".gvcs"
    ok(gvcs("branch", "side", cwd=story))
    (git_dir / "refs" / "heads" / "side").write_text("")
    (git_dir / "packed-refs").write_text("junk\n")
    with open(git_dir / "logs" / "refs" / "heads" / "main", "a") as log:
        log.write("garbage\n")
    result = gvcs("fsck", "--json", cwd=story)
    assert result.code == 1 and not result.err
    report = json.loads(result.out)
    assert report["ok"] is False
    assert report["problems"] == [
        "packed-refs:1: not '<id> <ref>': 'junk'",
        "ref refs/heads/side holds '', not a commit id",
        "logs/refs/heads/main:2: not a reflog entry: 'garbage'",
    ]
    assert problems(gvcs("fsck", cwd=story)) == report["problems"]
