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

from ..errors import BadInput, Refused
from ..limits import load_json
from ..snapshot import check_path
from .files import atomic_write

__all__ = ["JOURNAL_FILE", "LOCK_FILE", "Journal", "WorkTreeLock"]

JOURNAL_FILE = "gvcs-journal.json"
LOCK_FILE = "gvcs-worktree.lock"
#: The largest journal read (a checkout of every file of a large story fits many times over).
MAX_JOURNAL = 256 << 20
#: How long a command waits for another one that is changing the work tree.
LOCK_WAIT_S = 10.0


class Journal:
    """The journal file of one work tree: what the operation in progress is doing."""

    def __init__(self, git_dir: Path) -> None:
        self.path = git_dir / JOURNAL_FILE
        self.entry: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        """The journal left in place (by this process or a dead one), or None. A journal that does not
        parse was cut short before its rename: its operation had not started. One that parses but is
        not a journal gvcs writes (edited by hand, damaged) is ignored too, never acted on."""
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(MAX_JOURNAL + 1)
            data = load_json(raw, JOURNAL_FILE, max_bytes=MAX_JOURNAL)
        except (FileNotFoundError, BadInput):
            return None
        return data if well_formed(data) else None

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

    @property
    def is_held(self) -> bool:
        """Whether this object holds the lock (an operation is under way in this process)."""
        return self._depth > 0

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


def _oid(value: Any) -> bool:
    return value is None or (isinstance(value, str) and len(value) == 40 and all(c in _HEX for c in value))


def _path(value: Any) -> bool:
    try:
        return isinstance(value, str) and check_path(value) == value
    except BadInput:
        return False


_HEX = frozenset("0123456789abcdef")


def well_formed(entry: Any) -> bool:
    """Whether ``entry`` has the shape :class:`Journal` writes: ids are object ids, paths are story
    paths, refs are under ``refs/``."""
    if not isinstance(entry, dict) or entry.get("version") != 1 or not isinstance(entry.get("op", ""), str):
        return False
    start, ref, files = entry.get("from") or {}, entry.get("ref"), entry.get("files")
    if not isinstance(start, dict) or not _oid(start.get("commit")):
        return False
    if ref is not None and not (
        isinstance(ref, dict)
        and isinstance(ref.get("name"), str)
        and ref["name"].startswith("refs/")
        and _oid(ref.get("old"))
        and _oid(ref.get("new"))
    ):
        return False
    if files is not None:
        if not isinstance(files, dict):
            return False
        trees_ok = all(files.get(k) in ("@from", "@state") or _oid(files.get(k)) for k in ("from", "to"))
        paths = files.get("paths")
        if not trees_ok or not (paths is None or (isinstance(paths, list) and all(_path(p) for p in paths))):
            return False
    write = entry.get("write") or {}
    if not isinstance(write, dict) or not all(_path(p) and _oid(b) for p, b in write.items()):
        return False
    normalise = entry.get("normalise") or {}
    if not isinstance(normalise, dict) or not all(
        _path(p) and isinstance(v, list) and len(v) == 2 and all(_oid(b) for b in v)
        for p, v in normalise.items()
    ):
        return False
    state, after = entry.get("state") or {}, entry.get("after") or {}
    if not isinstance(state, dict) or not _oid(state.get("commit")):
        return False
    if "branch" in state and state["branch"] is not None and not isinstance(state["branch"], str):
        return False
    if not isinstance(after, dict):
        return False
    drop = after.get("drop_ref")
    if drop is not None and not (
        isinstance(drop, dict)
        and isinstance(drop.get("name"), str)
        and drop.get("old") is not None
        and _oid(drop.get("old"))
    ):
        return False
    merge = after.get("merge_state", {})
    return merge is None or isinstance(merge, dict)
