"""``gvcs read``: the story at a revision as one text (text, markdown, HTML or EPUB); ``gvcs stats``: its
words and pages per branch, actor and tag.

The layout and the renderers are in :mod:`narrative_vcs.reading`, the EPUB in :mod:`narrative_vcs.epub`
(ebooklib is imported only for ``--format epub``). A file given with ``-o`` is written whole beside its
place and renamed over it, so an error never leaves half a book.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .common import Context, emit_json, out, write_file

if TYPE_CHECKING:
    from pathlib import Path

    from narrative_vcs.reading import ReadingOrder, TitlePage
    from narrative_vcs.repository import Repository, StorySnapshot

__all__ = ["add_commands", "cmd_read", "cmd_stats"]

FORMATS = ("text", "markdown", "html", "epub")


def add_commands(sub: Any, command: Any, json_flag: Any) -> None:
    """Register ``read`` and ``stats`` (``command`` and ``json_flag`` are ``cli.main``'s helpers)."""
    p = command(sub, "read", "reading:cmd_read", "the story at a revision as one text, in reading order")
    p.add_argument(
        "rev", nargs="?", default="HEAD", metavar="REV", help="the revision to read (default: HEAD)"
    )
    p.add_argument("--from", dest="start", default=None, metavar="PAGE", help="start reading at PAGE")
    p.add_argument(
        "--format", default="text", metavar="FORMAT", help="text, markdown, html or epub (default: text)"
    )
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="write FILE (default: stdout)")
    p.add_argument("--json", action="store_true", help="the reading order as JSON (see docs/json.md)")
    p = command(sub, "stats", "reading:cmd_stats", "words and pages per branch, actor and tag")
    p.add_argument("rev", nargs="?", default=None, metavar="REV", help="one revision (default: every branch)")
    json_flag(p)


def cmd_read(args: argparse.Namespace) -> int:
    """``gvcs read [REV] [--from PAGE] [--format F] [-o FILE]``."""
    from narrative_vcs.errors import BadInput, NotFound
    from narrative_vcs.reading import reading_order, render

    if args.json and (args.format != "text" or args.output is not None):
        raise BadInput("--json cannot be combined with --format or -o")
    if args.format not in FORMATS:
        raise BadInput(f"unknown format {args.format!r}: use one of {', '.join(FORMATS)}")
    to_stdout = args.output is None or args.output == "-"
    if args.format == "epub" and to_stdout:
        raise BadInput("--format epub writes a file: give -o FILE")
    ctx = Context(args)
    repo = ctx.repo
    commit = repo.resolve(args.rev)
    snapshot = repo.read_story(commit)
    if args.start is not None and args.start not in snapshot.pages:
        raise NotFound(f"page {args.start!r} not found at {args.rev}")
    order = reading_order(snapshot.pages, args.start)
    if args.json:
        emit_json(_order_json(order, snapshot, args.rev))
        return 0
    title = _title_page(repo, snapshot, args.rev, args.start)
    if args.format == "epub":
        from narrative_vcs.epub import epub_bytes

        data = epub_bytes(order, snapshot.pages, title)
    else:
        data = render(args.format, order, snapshot.pages, title).encode()
    if to_stdout:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        _write_file(ctx.cwd / args.output, args.output, data)
    return 0


def _write_file(path: Path, shown: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`cli.common.write_file`)."""
    write_file(path, shown, lambda stream: stream.write(data))


def _order_json(order: ReadingOrder, snapshot: StorySnapshot, rev: str) -> dict[str, Any]:
    from narrative_vcs.reading import word_count

    pages = snapshot.pages
    return {
        "rev": rev,
        "commit": snapshot.commit,
        "sections": [
            {
                "label": s.label,
                "kind": s.kind,
                "depth": s.depth,
                "forks_from": s.forks_from,
                "rejoins": s.rejoins,
                "pages": [
                    {
                        "page": e.page,
                        "title": pages[e.page].title,
                        "position": e.position,
                        "words": word_count(pages[e.page]),
                        "alternate_of": e.alternate_of,
                        "forks_to": list(e.forks_to),
                    }
                    for e in s.entries
                ],
            }
            for s in order.sections
        ],
    }


def _title_page(repo: Repository, snapshot: StorySnapshot, rev: str, start: str | None) -> TitlePage:
    from datetime import UTC, datetime

    from narrative_vcs.reading import TitlePage

    assert snapshot.commit is not None
    info = repo.commits.get(snapshot.commit)
    branches = repo.branches()
    branch = rev if rev in branches else None
    if branch is None and rev == "HEAD":
        head = repo.head_branch()
        branch = head if head in branches and branches[head] == snapshot.commit else None
    when = datetime.fromtimestamp(info.time, UTC).strftime("%Y-%m-%d %H:%M UTC")
    authors = tuple(f"{a.name} ({a.kind})" for a in snapshot.actors.values())
    title = snapshot.story.title if snapshot.story else "Untitled story"
    return TitlePage(title, str(snapshot.commit), branch, when, authors, start)


def cmd_stats(args: argparse.Namespace) -> int:
    """``gvcs stats [REV] [--json]``: per branch (or one revision), per actor, per tag."""
    from narrative_vcs.stats import page_writers, story_stats

    ctx = Context(args)
    repo = ctx.repo
    if args.rev is None:
        targets = sorted(repo.branches().items())
    else:
        targets = [(args.rev, repo.resolve(args.rev))]
    found = []
    for name, commit in targets:
        snapshot = repo.read_story(commit)
        found.append((name, story_stats(commit, snapshot.pages, page_writers(repo, commit))))
    if args.json:
        emit_json([{"rev": name, **stats.to_json()} for name, stats in found])
        return 0
    for i, (name, stats) in enumerate(found):
        if i:
            out("")
        out(f"{name} ({stats.commit[:10]}): {stats.total.pages:,} pages, {stats.total.words:,} words")
        _table("actor", {k: (v.pages, v.words) for k, v in stats.actors.items()})
        _table("tag", {k: (v.pages, v.words) for k, v in stats.tags.items()})
    return 0


def _table(kind: str, rows: dict[str, tuple[int, int]]) -> None:
    """``  actor        pages   words`` and one row per key, most words first."""
    if not rows:
        return
    width = max(len(kind), *(len(k) for k in rows))
    out(f"  {kind:<{width}}  {'pages':>7}  {'words':>9}")
    for key, (pages, words) in sorted(rows.items(), key=lambda kv: (-kv[1][1], kv[0])):
        out(f"  {key:<{width}}  {pages:>7,}  {words:>9,}")
