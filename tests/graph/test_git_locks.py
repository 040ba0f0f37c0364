"""Ref locks in git's protocol: gvcs and git wait for, then refuse, each other's ``<ref>.lock``; a lock
that a killed gvcs left is recognised and removed by the next gvcs writer, a live one's never.

Locks are held by real processes: a real ``git update-ref --stdin`` transaction, a gvcs subprocess, or
a file created by hand with ``O_CREAT|O_EXCL`` as git creates its locks. Outcomes are asserted, not
durations.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from narrative_vcs.errors import BranchMoved
from narrative_vcs.graph.git import LOCKS_DIR, GitRefStore, RefLocked
from narrative_vcs.objects import hash_object
from narrative_vcs.refs import RefMove
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId, RefName

from ..cli.conftest import REPO_ROOT, ok, one_line_error, run_gvcs
from ..conftest import Writer

Git = Callable[..., str]
MAIN = RefName("refs/heads/main")
SIDE = RefName("refs/heads/side")
GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}

#: A gvcs process that holds the locks of argv[2:] until a line arrives on stdin (or it is killed).
HOLDER = """
import sys
from pathlib import Path
from narrative_vcs.graph.git import GitRefStore
with GitRefStore(Path(sys.argv[1])).locking(sys.argv[2:]):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


@pytest.fixture
def heads(disk_repo: Repository, disk_writer: Writer) -> dict[str, ObjectId]:
    """Two commits on main, a branch ``side`` at the first."""
    first = disk_writer.setup()
    disk_repo.create_branch("side")
    return {"first": first, "second": disk_writer.page("vault", "The vault door opens.")}


def hand_made_lock(path: Path) -> Path:
    """A lock file made as git makes one (exclusive create, no flock, no gvcs twin)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return path


def git_update_ref(git_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "update-ref", *args], capture_output=True, text=True, env=GIT_ENV
    )


def leftovers(git_dir: Path) -> list[str]:
    """Ref lock files (git's names) and gvcs's twins of them."""
    found = [str(p.relative_to(git_dir)) for p in (git_dir / "refs").rglob("*.lock")]
    found += [name for name in ("HEAD.lock", "packed-refs.lock") if (git_dir / name).exists()]
    twins = git_dir / LOCKS_DIR
    return found + ([f"{LOCKS_DIR}/{n}" for n in os.listdir(twins)] if twins.exists() else [])


@pytest.fixture
def holder(git_dir: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``holder(*refs)``: start a gvcs process holding those refs' locks; killed at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(*refs: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(git_dir), *refs],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.communicate()


# --- git waits for gvcs ----------------------------------------------------------------------------


def test_git_is_refused_while_gvcs_holds_a_ref_lock(
    git_dir: Path, heads: dict[str, ObjectId], git_cli: Git
) -> None:
    refs = GitRefStore(git_dir)
    with refs.locking([MAIN, "packed-refs"]):
        assert (git_dir / "refs" / "heads" / "main.lock").is_file()
        moved = git_update_ref(git_dir, MAIN, heads["first"])
        assert moved.returncode != 0 and "main.lock': File exists" in moved.stderr, moved.stderr
        packed = subprocess.run(
            ["git", f"--git-dir={git_dir}", "pack-refs", "--all"], capture_output=True, text=True, env=GIT_ENV
        )
        assert packed.returncode != 0 and "packed-refs.lock" in packed.stderr, packed.stderr
    assert refs.get(MAIN) == heads["second"]
    assert leftovers(git_dir) == []
    assert git_update_ref(git_dir, MAIN, heads["first"]).returncode == 0
    assert refs.get(MAIN) == heads["first"]
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")


# --- gvcs waits for git ----------------------------------------------------------------------------


def git_transaction(git_dir: Path, ref: str, new: str, old: str) -> subprocess.Popen[str]:
    """A real ``git update-ref --stdin`` transaction, prepared: git holds ``<ref>.lock`` until told
    ``commit`` or ``abort``."""
    proc = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "update-ref", "--stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=GIT_ENV,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"start\nupdate {ref} {new} {old}\nprepare\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "start: ok\n"
    assert proc.stdout.readline() == "prepare: ok\n"
    assert (git_dir / f"{ref}.lock").is_file()
    return proc


def finish(proc: subprocess.Popen[str], command: str) -> None:
    out, err = proc.communicate(f"{command}\n", timeout=60)
    assert proc.returncode == 0 and out == f"{command}: ok\n", err


def test_gvcs_refuses_while_git_holds_the_lock_and_git_then_commits(
    git_dir: Path, heads: dict[str, ObjectId], git_cli: Git
) -> None:
    git = git_transaction(git_dir, MAIN, heads["first"], heads["second"])
    refs = GitRefStore(git_dir, lock_timeout=0.2)
    with pytest.raises(RefLocked) as info:
        refs.set_if_equals(MAIN, heads["second"], hash_object("commit", b"gvcs"))
    assert str(git_dir / "refs" / "heads" / "main.lock") in str(info.value)
    assert info.value.exit_code == 1 and info.value.code == "CONFLICT"
    assert refs.get(MAIN) == heads["second"]
    finish(git, "commit")  # git's lock was left alone: its update goes through
    assert refs.get(MAIN) == heads["first"]
    # and gvcs's compare-and-swap sees what git wrote
    with pytest.raises(BranchMoved):
        refs.set_if_equals(MAIN, heads["second"], heads["second"])
    assert leftovers(git_dir) == []
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")


def test_gvcs_reads_the_ref_only_once_git_has_written_it(git_dir: Path, heads: dict[str, ObjectId]) -> None:
    git = git_transaction(git_dir, MAIN, heads["first"], heads["second"])
    refs = GitRefStore(git_dir, lock_timeout=120)
    errors: list[BaseException] = []

    def move() -> None:  # expects git's value: it can only hold it once git's lock is gone
        try:
            refs.set_if_equals(MAIN, heads["first"], heads["second"], who="Ada <ada@actors.gvcs>")
        except BaseException as exc:  # reported below
            errors.append(exc)

    waiting = threading.Thread(target=move)
    waiting.start()
    time.sleep(0.3)  # let it reach git's lock (it passes either way: it never reads before git is done)
    finish(git, "commit")
    waiting.join(timeout=120)
    assert not waiting.is_alive() and not errors, errors
    assert refs.get(MAIN) == heads["second"]
    assert [(e.old, e.new) for e in refs.reflog(MAIN)[-2:]] == [
        (heads["second"], heads["first"]),  # git's
        (heads["first"], heads["second"]),  # then gvcs's
    ]


def test_a_hand_made_lock_makes_every_kind_of_update_refuse_and_change_nothing(
    git_dir: Path, heads: dict[str, ObjectId]
) -> None:
    refs = GitRefStore(git_dir, lock_timeout=0.1)
    new = hash_object("commit", b"new")
    lock = hand_made_lock(git_dir / "refs" / "heads" / "side.lock")
    before = (refs.list(), refs.reflog(MAIN), refs.reflog(SIDE))
    with pytest.raises(RefLocked, match="refs/heads/side is locked by another process"):
        refs.update_many([RefMove(MAIN, heads["second"], new), RefMove(SIDE, heads["first"], new)])
    with pytest.raises(RefLocked):
        refs.remove_if_equals(SIDE, heads["first"])
    lock.unlink()
    packed = hand_made_lock(git_dir / "packed-refs.lock")
    with pytest.raises(RefLocked, match="packed-refs is locked"):
        refs.remove_if_equals(SIDE, heads["first"])  # deleting a ref rewrites packed-refs, as in git
    refs.set_if_equals(MAIN, heads["second"], new)  # a move needs no packed-refs lock
    packed.unlink()
    assert (refs.list(), refs.reflog(SIDE)) == ({**before[0], MAIN: new}, before[2])
    assert leftovers(git_dir) == []  # the locks taken before the refusal were given back


def test_a_hand_made_lock_stops_a_gvcs_commit_with_one_line(tmp_path: Path, git_cli: Git) -> None:
    ok(run_gvcs(tmp_path, "init", "story"))
    root = tmp_path / "story"
    ok(run_gvcs(root, "actor", "add", "mara", "--name", "Mara Ink"))
    ok(run_gvcs(root, "page", "new", "opening", "--title", "Opening"))
    ok(run_gvcs(root, "commit", "-m", "First"))
    git_dir = root / ".gvcs"
    main = git_dir / "refs" / "heads" / "main"
    head, log = main.read_text(), (git_dir / "logs" / "refs" / "heads" / "main").read_text()
    lock = hand_made_lock(main.with_name("main.lock"))
    page = root / "pages" / "opening.md"
    page.write_text(page.read_text() + "\nMore.\n")
    line = one_line_error(run_gvcs(root, "commit", "-m", "Blocked"), 1)
    assert line.startswith(f"gvcs: error: refs/heads/main is locked by another process ({lock});"), line
    assert main.read_text() == head and (git_dir / "logs" / "refs" / "heads" / "main").read_text() == log
    assert lock.is_file()  # not gvcs's to break
    lock.unlink()
    ok(run_gvcs(root, "commit", "-m", "Unblocked"))
    assert git_cli(git_dir, "rev-parse", "main~1").strip() == head.strip()


# --- gvcs and gvcs ---------------------------------------------------------------------------------


def test_a_lock_left_by_a_killed_gvcs_is_removed_by_the_next_gvcs_command(
    tmp_path: Path, git_cli: Git
) -> None:
    ok(run_gvcs(tmp_path, "init", "story"))
    root = tmp_path / "story"
    ok(run_gvcs(root, "actor", "add", "mara", "--name", "Mara Ink"))
    ok(run_gvcs(root, "page", "new", "opening", "--title", "Opening"))
    ok(run_gvcs(root, "commit", "-m", "First"))
    ok(run_gvcs(root, "branch", "side"))
    git_dir = root / ".gvcs"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(git_dir), MAIN, SIDE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert {"refs/heads/main.lock", "refs/heads/side.lock"} <= set(leftovers(git_dir))
    head = git_cli(git_dir, "rev-parse", "main").strip()
    assert git_update_ref(git_dir, SIDE, head).returncode != 0  # git sees the dead lock as a lock
    page = root / "pages" / "opening.md"
    page.write_text(page.read_text() + "\nAfter the crash.\n")
    ok(run_gvcs(root, "commit", "-m", "After the crash"))
    assert git_cli(git_dir, "rev-parse", "main~1").strip() == head
    # every lock the dead process left went, not only main's: git can move side again
    assert leftovers(git_dir) == []
    assert git_update_ref(git_dir, SIDE, git_cli(git_dir, "rev-parse", "main").strip()).returncode == 0
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")


def test_a_live_gvcs_lock_is_waited_for_never_broken(
    git_dir: Path, heads: dict[str, ObjectId], holder: Callable[..., subprocess.Popen[str]]
) -> None:
    proc = holder(MAIN)
    assert git_update_ref(git_dir, MAIN, heads["first"]).returncode != 0
    refs = GitRefStore(git_dir, lock_timeout=0.1)
    new = hash_object("commit", b"after the holder")
    done: list[BaseException | None] = []

    def move() -> None:
        try:
            refs.set_if_equals(MAIN, heads["second"], new)
            done.append(None)
        except BaseException as exc:  # reported below
            done.append(exc)

    waiting = threading.Thread(target=move)
    waiting.start()
    waiting.join(timeout=1)
    assert waiting.is_alive() and not done  # still queued behind the live holder, its lock intact
    assert (git_dir / "refs" / "heads" / "main.lock").is_file()
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n")  # the holder lets go
    proc.stdin.flush()
    assert proc.stdout.readline() == "released\n"
    waiting.join(timeout=120)
    assert done == [None]
    assert refs.get(MAIN) == new
    assert leftovers(git_dir) == []
