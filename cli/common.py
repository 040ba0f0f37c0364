"""What every command needs: the repository and work tree of the current directory, the acting actor,
time parsing, output helpers. The core is imported inside functions to keep start-up fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from narrative_vcs.history import CommitInfo
    from narrative_vcs.repository import Repository
    from narrative_vcs.worktree import Recovered, WorkTree

__all__ = ["Context", "emit_json", "format_time", "out", "parse_time", "progress", "write_file"]


def out(text: str) -> None:
    """Write ``text`` and a newline to stdout."""
    sys.stdout.write(text + "\n")


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON (stable key order as built)."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def format_time(seconds: int, offset_minutes: int = 0) -> str:
    """A commit time as ``2026-11-21 10:00:00 +0000`` in the commit's own offset."""
    from datetime import UTC, datetime, timedelta

    tz_delta = timedelta(minutes=offset_minutes)
    moment = datetime.fromtimestamp(seconds, UTC) + tz_delta
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f" {sign}{hours:02d}{minutes:02d}"


def parse_time(value: str, *, end_of_day: bool = False) -> int:
    """Unix seconds from ISO 8601 (``2026-11-21``, ``2026-11-21T10:00:00Z``) or unix seconds.

    Times without a zone are UTC. A bare date means its first second, or with ``end_of_day`` its last,
    so ``--until 2026-11-21`` includes that day.
    """
    from datetime import UTC, datetime, timedelta

    from narrative_vcs.errors import BadInput

    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"invalid time {value!r}: use ISO 8601 (2026-11-21, 2026-11-21T10:00:00Z) or unix seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and len(text) == 10:
        moment += timedelta(days=1, seconds=-1)
    return int(moment.timestamp())


class Context:
    """The directory a command runs in, opened lazily: root, config, repository and work tree."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.recovered: Recovered | None = None
        self.cwd = Path(args.directory) if args.directory else Path.cwd()
        if args.directory and not self.cwd.is_dir():
            from narrative_vcs.errors import BadInput

            raise BadInput(f"cannot change to {args.directory!r}: no such directory")

    @cached_property
    def root(self) -> Path:
        from narrative_vcs.graph.factory import find_root

        return find_root(self.cwd)

    @cached_property
    def repo(self) -> Repository:
        from narrative_vcs.graph.factory import open_repository

        return open_repository(self.root)

    @cached_property
    def worktree(self) -> WorkTree:
        """The work tree, with an operation a killed command left half done finished or rolled back
        first (and a note saying so on stderr)."""
        from narrative_vcs.worktree import WorkTree

        worktree = WorkTree(self.root, self.repo)
        self.recovered = worktree.recover()
        if self.recovered is not None:
            sys.stderr.write(f"gvcs: note: {self.recovered}\n")
        return worktree

    def config(self) -> dict[str, Any]:
        from narrative_vcs.graph.factory import load_config

        return load_config(self.root)

    def actor_source(self) -> tuple[str, str] | None:
        """The acting actor and where it was set: flag, then env ``GVCS_ACTOR``, then the config."""
        if self.args.actor:
            return self.args.actor, "flag"
        env = os.environ.get("GVCS_ACTOR")
        if env:
            return env, "env"
        configured = self.config().get("actor")
        if isinstance(configured, str) and configured:
            return configured, "config"
        return None

    def actor(self) -> str:
        """The acting actor's id, or a bad-input error saying how to set one."""
        from narrative_vcs.errors import BadInput
        from narrative_vcs.objects import validate_id

        found = self.actor_source()
        if found is None:
            raise BadInput(
                "no actor: pass --actor ID, set GVCS_ACTOR, or add one with 'gvcs actor add ID --name NAME'"
            )
        return validate_id("actor", found[0])

    def decorations(self) -> dict[str, list[str]]:
        """Ref names per commit id, in git's style: ``HEAD -> main``, ``tag: v1``, other branches."""
        repo = self.repo
        current = repo.head_branch()
        found: dict[str, list[str]] = {}
        branches = repo.branches()
        if current in branches:
            found.setdefault(branches[current], []).append(f"HEAD -> {current}")
        for name, oid in sorted(repo.tags().items()):
            found.setdefault(oid, []).append(f"tag: {name}")
        for name, oid in sorted(branches.items()):
            if name != current:
                found.setdefault(oid, []).append(name)
        return found


def decoration(names: Iterable[str] | None) -> str:
    """`` (HEAD -> main, tag: v1)`` or the empty string."""
    names = list(names or ())
    return f" ({', '.join(names)})" if names else ""


def commit_json(info: CommitInfo, refs: dict[str, list[str]]) -> dict[str, Any]:
    """A commit as JSON: the core's fields plus ``refs`` (its decorations)."""
    data = info.to_json()
    data["refs"] = refs.get(info.id, [])
    return data


def progress(verb: str, unit: str = "commits") -> Any:
    """On a terminal, a line that counts ``unit`` (commits, objects, pages) with their rate and the
    time left (as git's ``Writing objects: 45% (450/1000), 1.2 MiB | 3.4 MiB/s``); elsewhere nothing.
    The caller passes None instead under ``--json``."""
    if not sys.stderr.isatty():
        return None
    import time

    started = time.monotonic()
    shown = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - shown[0] < 0.1:
            return  # at most ten lines a second
        shown[0] = now
        elapsed = now - started
        percent = 100 * done // total if total else 100
        line = f"\r{verb} {unit}: {percent}% ({done}/{total})"
        if done and elapsed > 0:
            rate = done / elapsed
            line += f", {rate:,.0f} {unit}/s"
            if done < total:
                line += f", {_duration((total - done) / rate)} left"
            else:
                line += f", done in {_duration(elapsed)}"
        end = "\n" if done == total else ""
        sys.stderr.write(f"{line}\x1b[K{end}")  # erase what a longer line left
        sys.stderr.flush()

    return show


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def write_file(path: Path, shown: str, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` atomically: ``write`` fills a temporary file in the same directory, which is
    renamed over ``path`` once complete (keeping the mode of the file it replaces); ``shown`` is how
    errors name it. Nothing is left half-written."""
    import contextlib
    import tempfile

    from narrative_vcs.errors import BadInput

    if path.is_dir():
        raise BadInput(f"cannot write {shown}: it is a directory")
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise BadInput(f"cannot write {shown}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, _file_mode(path))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _file_mode(path: Path) -> int:
    """The mode of the file being replaced, or what a new file gets under the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
