"""Commands that read history: log, show, diff and blame.

``log`` streams: commits are walked lazily and written in chunks, so the first lines of a long history
appear at once and ``gvcs log | head`` stops the walk early.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from narrative_vcs.records import record

from .common import Context, commit_json, decoration, emit_json, format_time, parse_time
from .pager import paint
from .semdiff_text import semantic_lines

if TYPE_CHECKING:
    from narrative_vcs.history import CommitInfo
    from narrative_vcs.repository import Repository
    from narrative_vcs.semdiff import SemanticChange

__all__ = ["cmd_blame", "cmd_diff", "cmd_log", "cmd_show"]

CHUNK = 512  # lines per write: few system calls, and output still starts at once


# --- log --------------------------------------------------------------------------------------------


def cmd_log(args: argparse.Namespace) -> int:
    """``gvcs log``: history newest first, or with ``--graph`` in topological order with the DAG."""
    import gc

    # A long log makes a few hundred thousand objects (commits, their ids and subjects) and no cycles:
    # the cyclic collector would find nothing and only walk them again and again, a fifth of a
    # 100,000-commit log. It runs again once the command is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _log(args)
    finally:
        if collecting:
            gc.enable()


def _log(args: argparse.Namespace) -> int:
    from narrative_vcs.errors import BadInput

    ctx = Context(args)
    if args.max_count is not None and args.max_count < 0:
        raise BadInput("-n must not be negative")
    revs = _log_revs(ctx, args)
    refs = ctx.decorations()
    if args.graph:
        if any(v is not None for v in (args.filter_actor, args.kind, args.page, args.since, args.until)):
            raise BadInput("--graph cannot be combined with --actor, --kind, --page, --since or --until")
        if args.json or args.patch:
            raise BadInput("--graph cannot be combined with --json or -p")
        _write_lines(_graph(ctx, revs, refs, args))
        return 0
    commits = _limited(_walk(ctx.repo, revs, args), args.max_count)
    if args.json:
        _write_lines(
            _json_array(json.dumps(_log_json(ctx.repo, c, refs, args), ensure_ascii=False) for c in commits)
        )
    elif args.oneline and not args.patch:
        # A few refs, many commits: each decoration (and its colour) is worked out once.
        marks = {oid: paint("bold-green", decoration(names)) for oid, names in refs.items()}
        if paint.on:
            _write_lines(f"{paint('yellow', c.id[:10])}{marks.get(c.id, '')} {c.subject}" for c in commits)
        else:
            _write_lines(f"{c.id[:10]}{marks.get(c.id, '')} {c.subject}" for c in commits)
    else:
        patch = ctx.repo if args.patch else None
        _write_lines(_full_entries(commits, refs, patch, oneline=args.oneline, word_diff=args.word_diff))
    return 0


def _log_json(
    repo: Repository, info: CommitInfo, refs: dict[str, list[str]], args: argparse.Namespace
) -> dict[str, Any]:
    data = commit_json(info, refs)
    if args.patch:
        data["changes"] = [c.to_json() for c in repo.semantic_changes(info.id)]
    return data


def _log_revs(ctx: Context, args: argparse.Namespace) -> list[str]:
    from narrative_vcs.errors import NotFound

    revs = list(args.revs)
    if args.all:
        repo = ctx.repo
        revs += [f"refs/heads/{name}" for name in repo.branches()]
        revs += [f"refs/tags/{name}" for name in repo.tags()]
        if not revs:
            raise NotFound("no commits yet: commit something first (gvcs commit -m MESSAGE)")
    return revs or ["HEAD"]


def _walk(repo: Repository, revs: list[str], args: argparse.Namespace) -> Iterator[CommitInfo]:
    filters = (args.filter_actor, args.kind, args.page, args.since, args.until)
    if all(v is None for v in filters):
        return repo.walk(revs)
    return repo.iter_log(
        revs,
        actor=args.filter_actor,
        kind=args.kind,
        page=args.page,
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until, end_of_day=True) if args.until else None,
    )


def _limited(commits: Iterator[CommitInfo], limit: int | None) -> Iterator[CommitInfo]:
    if limit is None:
        return commits
    import itertools

    return itertools.islice(commits, limit)


def _write_lines(lines: Iterable[str]) -> None:
    """Write lines in chunks as they are produced."""
    chunk: list[str] = []
    write = sys.stdout.write
    for line in lines:
        chunk.append(line)
        if len(chunk) >= CHUNK:
            write("\n".join(chunk) + "\n")
            chunk.clear()
    if chunk:
        write("\n".join(chunk) + "\n")


def _json_array(items: Iterable[str]) -> Iterator[str]:
    """A JSON array with one item a line, produced as the items come."""
    yield "["
    previous: str | None = None
    for item in items:
        if previous is not None:
            yield previous + ","
        previous = "  " + item
    if previous is not None:
        yield previous
    yield "]"


def _full_entries(
    commits: Iterable[CommitInfo],
    refs: dict[str, list[str]],
    patch: Repository | None = None,
    *,
    oneline: bool = False,
    word_diff: bool = False,
) -> Iterator[str]:
    """Log entries; with ``patch`` (``log -p``) each followed by its semantic diff vs its first parent."""
    first = True
    for info in commits:
        if not first:
            yield ""
        first = False
        if oneline:
            mark = paint("bold-green", decoration(refs.get(info.id)))
            yield f"{paint('yellow', info.id[:10])}{mark} {info.subject}"
        else:
            yield from _header(info, refs)
        if patch is not None:
            changes = patch.semantic_changes(info.id)
            if changes:
                yield ""
                yield from semantic_lines(changes, word_diff=word_diff)


def _header(info: CommitInfo, refs: dict[str, list[str]], *, trailers: bool = False) -> Iterator[str]:
    yield paint("yellow", f"commit {info.id}") + paint("bold-green", decoration(refs.get(info.id)))
    if len(info.parents) > 1:
        yield "Merge:  " + " ".join(p[:10] for p in info.parents)
    yield f"Author: {info.actor_name} <{info.actor}@actors.gvcs>"
    yield f"Date:   {format_time(info.time, info.offset)}"
    if info.kind != "edit":
        yield f"Kind:   {info.kind}"
    yield ""
    for line in info.message.rstrip("\n").split("\n"):
        yield f"    {line}" if line else ""
    if trailers and info.trailers:
        yield ""
        for key, value in info.trailers.items():
            yield f"    {key}: {value}"


def _graph(
    ctx: Context, revs: list[str], refs: dict[str, list[str]], args: argparse.Namespace
) -> Iterator[str]:
    from .graph import graph_lines, topo_order

    repo = ctx.repo
    commits = topo_order(repo.walk(revs))
    if args.oneline:

        def label(c: CommitInfo) -> str:
            return f"{c.id[:10]}{decoration(refs.get(c.id))} {c.subject}"

    else:

        def label(c: CommitInfo) -> str:
            when = format_time(c.time, c.offset)[:16]
            return f"{c.id[:10]}{decoration(refs.get(c.id))} {c.subject}  [{c.actor}, {when}]"

    return graph_lines(commits, label, args.max_count)


# --- show and diff ----------------------------------------------------------------------------------


@record
class TextChange:
    """One changed file with both sides' contents (None: absent on that side)."""

    path: str
    status: str
    old_id: str | None
    new_id: str | None
    old: bytes | None
    new: bytes | None

    def lines(self) -> list[str]:
        """The unified line diff, without line ends."""
        import difflib

        a = _text_lines(self.old)
        b = _text_lines(self.new)
        old_name = "/dev/null" if self.old is None else f"a/{self.path}"
        new_name = "/dev/null" if self.new is None else f"b/{self.path}"
        diff = difflib.unified_diff(a, b, old_name, new_name, n=3, lineterm="")
        return list(diff)

    def counts(self, lines: list[str]) -> tuple[int, int]:
        body = lines[2:]
        plus = sum(1 for line in body if line.startswith("+"))
        minus = sum(1 for line in body if line.startswith("-"))
        return plus, minus

    def semantic(self) -> SemanticChange:
        """The semantic diff of this file (pages: fields, links, paragraphs)."""
        from narrative_vcs.semdiff import diff_file

        return diff_file(self.path, self.old, self.new, old_blob=self.old_id, new_blob=self.new_id)

    def to_json(self) -> dict[str, Any]:
        from narrative_vcs.repository import path_kind

        lines = self.lines()
        plus, minus = self.counts(lines)
        kind, item = path_kind(self.path)
        return {
            "path": self.path,
            "kind": kind,
            "id": item,
            "status": self.status,
            "old": self.old_id,
            "new": self.new_id,
            "insertions": plus,
            "deletions": minus,
            "diff": lines,
        }


def _text_lines(data: bytes | None) -> list[str]:
    return [] if data is None else data.decode("utf-8", errors="replace").splitlines()


def _committed_changes(repo: Repository, changes: Iterable[Any]) -> list[TextChange]:
    return [
        TextChange(
            c.path,
            c.status,
            c.old,
            c.new,
            None if c.old is None else repo.read_blob(c.old),
            None if c.new is None else repo.read_blob(c.new),
        )
        for c in changes
    ]


def _diff_text(changes: list[TextChange]) -> Iterator[str]:
    for change in changes:
        yield f"diff --git a/{change.path} b/{change.path}"
        if change.status == "added":
            yield "new file"
        elif change.status == "removed":
            yield "deleted file"
        yield from change.lines()


def _stat_text(changes: list[TextChange]) -> Iterator[str]:
    rows = []
    for change in changes:
        plus, minus = change.counts(change.lines())
        rows.append((change.path, plus, minus))
    width = max((len(p) for p, _, _ in rows), default=0)
    for path, plus, minus in rows:
        yield f" {path:<{width}} | {plus + minus:>4} {'+' * min(plus, 40)}{'-' * min(minus, 40)}"
    total_plus = sum(r[1] for r in rows)
    total_minus = sum(r[2] for r in rows)
    yield f" {len(rows)} file(s) changed, {total_plus} insertion(s)(+), {total_minus} deletion(s)(-)"


def cmd_show(args: argparse.Namespace) -> int:
    """``gvcs show [REV]``: the commit header, the files it changed and their semantic diff.

    ``--lines`` shows the unified line diff instead (and its JSON form with ``--json``).
    """
    ctx = Context(args)
    repo = ctx.repo
    info = repo.commit_info(args.rev)
    refs = ctx.decorations()
    if args.lines:
        changes = _committed_changes(repo, repo.changes(info.id))
        if args.json:
            emit_json({"commit": commit_json(info, refs), "changes": [c.to_json() for c in changes]})
            return 0
        body = list(_diff_text(changes))
        files = [(c.status, c.path) for c in changes]
    else:
        semantic = repo.semantic_changes(info.id)
        if args.json:
            emit_json({"commit": commit_json(info, refs), "changes": [c.to_json() for c in semantic]})
            return 0
        body = list(semantic_lines(semantic, word_diff=args.word_diff))
        files = [(c.status, c.path) for c in semantic]
    lines = list(_header(info, refs, trailers=True))
    lines.append("")
    lines += [f" {status:<9} {path}" for status, path in files]
    lines.append("")
    lines += body
    _write_lines(lines)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """``gvcs diff [REV [REV]]``: the work tree against HEAD or REV, or one revision against another.

    The default is the semantic diff; ``--lines`` the unified line diff; ``--stat`` a summary per file.
    """
    from narrative_vcs.errors import BadInput

    ctx = Context(args)
    repo = ctx.repo
    if len(args.revs) > 2:
        raise BadInput("diff takes at most two revisions")
    ranged = len(args.revs) == 1 and ".." in args.revs[0]
    old_id: str | None
    new_id: str | None
    if len(args.revs) == 2 or ranged:
        if ranged:
            old_id, new_id = repo.diff_sides(args.revs[0])
        else:
            if any(".." in rev for rev in args.revs):
                raise BadInput("diff takes two revisions or one range (A..B, A...B), not both")
            old_id, new_id = repo.resolve(args.revs[0]), repo.resolve(args.revs[1])
        changes = _committed_changes(repo, repo.diff(old_id, str(new_id)))
        target = new_id
    else:
        changes, old_id = _worktree_changes(ctx, args.revs[0] if args.revs else None)
        target = None
    if args.lines or args.stat:
        if args.json:
            emit_json({"from": old_id, "to": target or "worktree", "changes": [c.to_json() for c in changes]})
        else:
            _write_lines(_stat_text(changes) if args.stat else _diff_text(changes))
        return 0
    semantic = [c.semantic() for c in changes]
    if args.json:
        emit_json({"from": old_id, "to": target or "worktree", "changes": [c.to_json() for c in semantic]})
    else:
        _write_lines(semantic_lines(semantic, word_diff=args.word_diff))
    return 0


def _worktree_changes(ctx: Context, rev: str | None) -> tuple[list[TextChange], str | None]:
    worktree = ctx.worktree
    repo = ctx.repo
    if rev is None:
        base, found = worktree.commit_id, worktree.status()
    else:
        base = repo.resolve(rev)
        found = worktree.compare(repo.commits.get(base).tree)
    for c in found:
        if c.problem and c.new is None and c.status != "removed":  # a link, a pipe: nothing to read
            sys.stderr.write(f"gvcs: warning: {c.path} {c.problem}; not shown\n")
    changes = [
        TextChange(
            c.path,
            c.status,
            c.old,
            c.new,
            None if c.old is None else repo.read_blob(c.old),
            worktree.read(c.path) if c.new is not None else None,
        )
        for c in found
        if not (c.problem and c.new is None and c.status != "removed")
    ]
    return changes, base


# --- blame ------------------------------------------------------------------------------------------


def cmd_blame(args: argparse.Namespace) -> int:
    """``gvcs blame PAGE``: each paragraph of a page with the commit and actor that last changed it."""
    ctx = Context(args)
    repo = ctx.repo
    commit = repo.resolve(args.rev)
    entries = repo.blame(args.page, commit)
    if args.json:
        emit_json({"page": args.page, "rev": commit, "paragraphs": [e.to_json() for e in entries]})
        return 0
    width = max((len(e.commit.actor) for e in entries), default=0)
    lines: list[str] = []
    for entry in entries:
        info = entry.commit
        prefix = f"{info.id[:10]} {info.actor:<{width}} {format_time(info.time, info.offset)[:16]} "
        for k, text in enumerate(entry.text.split("\n")):
            lines.append((prefix if k == 0 else " " * len(prefix)) + "| " + text)
    _write_lines(lines)
    return 0
