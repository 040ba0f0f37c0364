"""The work tree's journal and lock: an operation says what it is about to do before it touches a file.

A command that changes the work tree (commit, switch, merge, rebase, cherry-pick, revert, pull, reset,
restore, stash) holds the work tree's lock (``.gvcs/gvcs-worktree.lock``, an ``flock`` that the kernel
releases when the process dies) for as long as it runs, and writes the journal
(``.gvcs/gvcs-journal.json``) before its first change:

- ``op``: what it is (``switch``, ``commit``, ...), for the message that reports it;
- ``from``: the checkout it started from (branch, commit);
- ``ref``: the branch whose head the operation moves, and ``new``, the commit it moves it to once that
  commit is written (unknown for a merge or rebase until the ref has moved);
- ``files``: the tree the work-tree files are being moved from and the tree they are moving to (with
  ``force`` when local changes are meant to be discarded, as ``reset --hard`` does);
- ``state``: the checkout to record at the end; ``after``: the last steps (the merge state to keep,
  a stash to drop).

The journal is removed when the operation is done. If it is still there when the next command takes
the lock, its writer died: :class:`~narrative_vcs.worktree.WorkTree` finishes the operation when its
ref moved (or it moved none) and rolls it back otherwise, so the work tree holds the old state or the
new one, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import Refused
from .files import atomic_write

__all__ = ["JOURNAL_FILE", "LOCK_FILE", "Journal", "WorkTreeLock"]

JOURNAL_FILE = "gvcs-journal.json"
LOCK_FILE = "gvcs-worktree.lock"
#: How long a command waits for another one that is changing the work tree.
LOCK_WAIT_S = 10.0


class Journal:
    """The journal file of one work tree: what the operation in progress is doing."""

    def __init__(self, git_dir: Path) -> None:
        self.path = git_dir / JOURNAL_FILE
        self.entry: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        """The journal left in place (by this process or a dead one), or None. A journal that does not
        parse was cut short before its rename: its operation had not started."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) and data.get("version") == 1 else None

    def start(self, op: str, **facts: Any) -> None:
        """Record that ``op`` is about to change the work tree."""
        self.entry = {"version": 1, "op": op, "pid": os.getpid(), "started_ns": time.time_ns(), **facts}
        self._write()

    def update(self, **facts: Any) -> None:
        """Add what the operation has learnt (the commit it wrote, the files it is about to write)."""
        if self.entry is None:
            raise RuntimeError("no operation in progress")
        self.entry.update(facts)
        self._write()

    def finish(self) -> None:
        """The operation is done: forget it."""
        self.entry = None
        self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        atomic_write(self.path, (json.dumps(self.entry, indent=1, sort_keys=True) + "\n").encode())


class WorkTreeLock:
    """The work tree's lock: one command at a time changes its files, its state and its journal."""

    def __init__(self, git_dir: Path) -> None:
        self.path = git_dir / LOCK_FILE
        self._fd: int | None = None
        self._depth = 0

    @contextlib.contextmanager
    def held(self, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
        """Hold the lock in the block (re-entrant within this object)."""
        self.acquire(wait_s)
        try:
            yield
        finally:
            self.release()

    def acquire(self, wait_s: float = LOCK_WAIT_S) -> None:
        if self._depth:
            self._depth += 1
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    raise Refused(
                        f"another gvcs command{holder} is changing the work tree; wait for it and try again"
                    ) from None
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd, self._depth = fd, 1

    def release(self) -> None:
        if self._depth > 1:
            self._depth -= 1
            return
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
        self._fd, self._depth = None, 0


def _holder(fd: int) -> str:
    """`` (pid N)`` of the process holding the lock, as it wrote it, or nothing."""
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {text})" if text.isdigit() else ""
