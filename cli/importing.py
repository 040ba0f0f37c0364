"""``gvcs import twee|twine|vault SOURCE`` and ``gvcs export twee [REV]``: stories in and out of Twine
and markdown vaults.

The mapping from names to pages is in :mod:`narrative_vcs.importing`, Twine's formats in
:mod:`narrative_vcs.twine`, vaults in :mod:`narrative_vcs.vault`. An import reads the whole source and
every page it touches before it writes anything: a bad file changes nothing. It writes the work tree
only; ``gvcs commit`` records it (or ``--commit``, when the work tree has no other changes). A page an
earlier import of the same source brought whose passage or note has left it is reported as gone, and
removed with ``--prune``. On a terminal, a progress line counts the pages written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import Context, emit_json, out

if TYPE_CHECKING:
    from narrative_vcs.importing import ImportPlan
    from narrative_vcs.objects import Page, Story
    from narrative_vcs.worktree import WorkTree

__all__ = ["add_commands", "cmd_export", "cmd_import"]


def add_commands(sub: Any, command: Any, json_flag: Any) -> None:
    """Register ``import`` and ``export`` (``command`` and ``json_flag`` are ``cli.main``'s helpers)."""
    p = command(
        sub, "import", "importing:cmd_import", "bring a Twine story or a markdown vault into the work tree"
    )
    kinds = p.add_subparsers(dest="kind", metavar="<twee|twine|vault>", parser_class=type(p))
    kinds.required = True
    for kind, source, help_text in (
        ("twee", "FILE", "a Twee 3 text file"),
        ("twine", "FILE", "a Twine 2 archive or published story (HTML)"),
        ("vault", "DIR", "a folder of markdown notes (Obsidian-style [[links]])"),
    ):
        a = kinds.add_parser(kind, help=help_text, description=f"import {help_text}")
        a.add_argument(
            "source", metavar=source, help=f"the {'folder' if kind == 'vault' else 'file'} to read"
        )
        a.add_argument(
            "--commit",
            action="store_true",
            help="commit the import as the acting actor (the work tree must have no other changes)",
        )
        a.add_argument(
            "-m", "--message", default=None, help="with --commit: the message (default: Import SOURCE)"
        )
        a.add_argument(
            "--prune",
            action="store_true",
            help=f"remove the pages an earlier import of this {'vault' if kind == 'vault' else 'file'} "
            f"brought whose {'note' if kind == 'vault' else 'passage'} is no longer in it (default: keep "
            "them and list them as gone)",
        )
        json_flag(a)
    p = command(sub, "export", "importing:cmd_export", "write the story at a revision in another format")
    formats = p.add_subparsers(dest="kind", metavar="<twee>", parser_class=type(p))
    formats.required = True
    a = formats.add_parser("twee", help="Twee 3 text", description="the story at REV as Twee 3 text")
    a.add_argument(
        "rev", nargs="?", default="HEAD", metavar="REV", help="the revision to export (default: HEAD)"
    )
    a.add_argument("-o", "--output", default=None, metavar="FILE", help="write FILE (default: stdout)")
    json_flag(a)


def cmd_import(args: argparse.Namespace) -> int:
    """``gvcs import KIND SOURCE``: plan in memory, then write the pages and story.yaml (and, with
    ``--prune``, remove the pages whose passage or note left the source)."""
    import os
    import shlex

    from narrative_vcs.errors import BadInput

    from .common import progress

    if args.message is not None and not args.commit:
        raise BadInput("-m goes with --commit: gvcs import ... --commit -m MESSAGE")
    ctx = Context(args)
    worktree = ctx.worktree
    actor = ctx.actor() if args.commit else None
    if args.commit:
        worktree.require_clean("import --commit")
    existing = _worktree_pages(worktree)
    record = _worktree_story(worktree)
    source = Path(args.source) if Path(args.source).is_absolute() else ctx.cwd / args.source
    # The source's own name (a vault's folder name, even given as "." or "notes/") marks its pages.
    source_name = Path(os.path.normpath(source)).name or args.source
    plan = _plan(args.kind, source, args.source, source_name, existing, record)
    files: dict[str, bytes | None] = {**plan.files(), **(plan.prune(existing) if args.prune else {})}
    pruned = args.prune and bool(plan.gone)
    worktree.write_files(
        files, op=f"import {args.kind}", progress=None if args.json else progress("Writing", "pages")
    )
    commit = None
    if actor is not None and (plan.pages or plan.story or pruned):
        message = args.message or f"Import {Path(args.source).name}"
        commit = worktree.commit(message, actor).commit
    if args.json:
        emit_json(plan.to_json(args.kind, args.source, pruned=pruned) | {"commit": commit})
        return 0
    for name, page_id in plan.mapping.items():
        state = "added" if page_id in plan.added else "updated" if page_id in plan.updated else "unchanged"
        out(f"  {state + ':':<11}{name} -> pages/{page_id}.md")
    what = "note" if args.kind == "vault" else "passage"
    for name, page_id in plan.gone.items():
        fate = "removed" if pruned else "kept"
        out(f"  {'gone:':<11}{name} -> pages/{page_id}.md ({fate}; its {what} is no longer in {args.source})")
    story_note = f", story.yaml (title: {plan.story.title})" if plan.story else ""
    counts = f"{len(plan.added)} added, {len(plan.updated)} updated, {len(plan.unchanged)} unchanged"
    if plan.gone:
        counts += f", {len(plan.gone)} gone ({'removed' if pruned else 'kept'})"
    out(f"Imported {args.source}: {counts}{story_note}")
    if commit is not None:
        out(f"[{worktree.branch} {commit[:10]}] committed by {actor}")
    elif plan.pages or plan.story or pruned:
        out(f"Commit with: gvcs commit -m 'Import {Path(args.source).name}'")
    if plan.gone and not pruned:
        out(f"Remove the gone pages with: gvcs import {args.kind} {shlex.quote(args.source)} --prune")
    return 0


def _plan(
    kind: str, path: Path, shown: str, name: str, existing: dict[str, Page], record: Story | None
) -> ImportPlan:
    from narrative_vcs import twine

    if kind == "vault":
        from narrative_vcs.vault import parse_vault, plan_import

        return plan_import(parse_vault(_read_vault(path, shown)), existing, record, name)
    text = _read_text(path, shown)
    story = twine.parse_twee(text, shown) if kind == "twee" else twine.parse_html(text, shown)
    return twine.plan_import(story, existing, record, name)


def _read_text(path: Path, shown: str) -> str:
    from narrative_vcs.errors import InvalidFile, NotFound

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{shown}: no such file") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidFile(shown, line, f"not UTF-8 text ({exc.reason})") from None


def _read_vault(root: Path, shown: str) -> dict[str, bytes]:
    """Every ``.md`` file under ``root`` (hidden folders such as ``.obsidian`` left out), by its path
    relative to ``root``; symbolic links are not followed."""
    from narrative_vcs.errors import BadInput

    if not root.is_dir():
        raise BadInput(f"{shown}: not a directory")
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*.md")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or path.is_symlink() or not path.is_file():
            continue
        files[relative.as_posix()] = path.read_bytes()
    return files


def _worktree_pages(worktree: WorkTree) -> dict[str, Page]:
    from narrative_vcs.objects import Page

    pages: dict[str, Page] = {}
    for page_id in worktree.pages():
        data = worktree.read(f"pages/{page_id}.md")
        if data is not None:
            pages[page_id] = Page.parse(page_id, data)
    return pages


def _worktree_story(worktree: WorkTree) -> Story | None:
    from narrative_vcs.objects import Story

    data = worktree.read(Story.PATH)
    return None if data is None else Story.parse(data)


def cmd_export(args: argparse.Namespace) -> int:
    """``gvcs export twee [REV] [-o FILE]``."""
    import sys

    from narrative_vcs.twine import export_twee

    from .reading import _write_file

    ctx = Context(args)
    repo = ctx.repo
    snapshot = repo.read_story(repo.resolve(args.rev))
    text = export_twee(snapshot.story, snapshot.pages)
    to_file = args.output is not None and args.output != "-"
    if to_file:
        _write_file(ctx.cwd / args.output, args.output, text.encode())
    if args.json:
        report = {
            "format": "twee",
            "rev": args.rev,
            "commit": snapshot.commit,
            "passages": len(snapshot.pages),
        }
        emit_json(report | ({"output": args.output} if to_file else {"text": text}))
    elif to_file:
        out(f"Wrote {args.output}: {len(snapshot.pages)} passage(s) of {args.rev}")
    else:
        sys.stdout.write(text)
    return 0
