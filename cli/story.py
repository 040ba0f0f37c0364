"""Commands that create and change the story: init, actor, whoami, page, status, commit, branch,
switch, tag, fsck, gc and demo."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .common import Context, emit_json, out, parse_time
from .common import progress as _progress

#: Files a commit names in its summary before it gives a count instead (``-v`` names them all).
SHOWN_FILES = 10

__all__ = [
    "cmd_actor_add",
    "cmd_actor_list",
    "cmd_branch",
    "cmd_commit",
    "cmd_demo",
    "cmd_fsck",
    "cmd_gc",
    "cmd_init",
    "cmd_page_list",
    "cmd_page_new",
    "cmd_page_show",
    "cmd_status",
    "cmd_switch",
    "cmd_tag",
    "cmd_whoami",
]


# --- init, actors -----------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """``gvcs init [DIR] [--title T]``: an empty repository, an empty ``pages/`` and an uncommitted
    story.yaml (a placeholder that a branch's first commit made elsewhere replaces on switch)."""
    from narrative_vcs.graph.factory import init_repository, redact
    from narrative_vcs.objects import Story
    from narrative_vcs.worktree import WorkTree

    ctx = Context(args)
    root = (ctx.cwd / args.path).resolve()
    title = args.title or _title_from(root.name)
    story = Story(title)  # validate before anything is created
    store = args.store or os.environ.get("GVCS_STORE") or None
    repo = init_repository(root, store=store)
    worktree = WorkTree(root, repo)
    if not worktree.exists(Story.PATH):
        worktree.write(Story.PATH, story.serialise())
        _remember_init_story(root, story.serialise())
    (root / "pages").mkdir(exist_ok=True)
    worktree.save_state()
    if args.json:
        emit_json(
            {
                "root": str(root),
                "store": "git" if store in (None, "git") else redact(str(store)),
                "title": story.title,
            }
        )
        return 0
    if store in (None, "git"):
        out(f"Initialised an empty gvcs repository in {root / '.gvcs'}")
    else:
        out(f"Initialised an empty gvcs repository in {root}, its history in {redact(str(store))}")
    out(f"Wrote story.yaml (title: {story.title}). Next: gvcs actor add ID --name NAME")
    return 0


# The story.yaml that init wrote is a placeholder until the first commit: a branch that gets its first
# commit from elsewhere (a push, a server, a worker) brings its own, and switching to it must not stop
# at the placeholder. Its digest is kept so that a story.yaml the user edited is never dropped.
INIT_STORY_KEY = "init_story_sha256"


def _remember_init_story(root: Path, data: bytes) -> None:
    import hashlib

    from narrative_vcs.graph.factory import load_config, save_config

    config = load_config(root)
    config[INIT_STORY_KEY] = hashlib.sha256(data).hexdigest()
    save_config(root, config)


def _drop_init_placeholder(ctx: Context, target: str) -> None:
    """Before the work tree's first checkout of a branch that has commits, remove the story.yaml that
    init wrote if it is still exactly as written (the branch's own story.yaml takes its place)."""
    import hashlib

    from narrative_vcs.graph.factory import save_config

    worktree = ctx.worktree
    config = ctx.config()
    digest = config.get(INIT_STORY_KEY)
    if not digest or worktree.commit_id is not None or ctx.repo.branch_head(target) is None:
        return
    path = ctx.root / "story.yaml"
    changes = worktree.status()
    if [c.path for c in changes] != ["story.yaml"] or not path.is_file():
        return
    if hashlib.sha256(path.read_bytes()).hexdigest() == digest:
        path.unlink()
        del config[INIT_STORY_KEY]
        save_config(ctx.root, config)


def _title_from(name: str) -> str:
    words = name.replace("-", " ").replace("_", " ").split()
    return " ".join(w.capitalize() for w in words) or "Untitled Story"


def cmd_actor_add(args: argparse.Namespace) -> int:
    """``gvcs actor add ID --name NAME [--kind K]``: write actors/ID.yaml in the work tree."""
    from narrative_vcs.errors import BadInput
    from narrative_vcs.graph.factory import save_config
    from narrative_vcs.objects import Actor

    ctx = Context(args)
    actor = Actor(args.id, args.name, args.kind, args.archetype)
    worktree = ctx.worktree
    if worktree.exists(actor.path):
        raise BadInput(f"actor {actor.id!r} already exists ({actor.path})")
    worktree.write(actor.path, actor.serialise())
    config = ctx.config()
    acting = not config.get("actor")
    if acting:
        config["actor"] = actor.id
        save_config(ctx.root, config)
    if args.json:
        emit_json(
            {"id": actor.id, "name": actor.name, "kind": actor.kind, "path": actor.path, "acting": acting}
        )
        return 0
    out(f"Added {actor.kind} {actor.id} ({actor.name}) in {actor.path}; commit to record it")
    if acting:
        out(f"You are now acting as {actor.id} (set in .gvcs/gvcs.json; override with --actor or GVCS_ACTOR)")
    return 0


def cmd_actor_list(args: argparse.Namespace) -> int:
    """``gvcs actor list``: the actors in the work tree."""
    from narrative_vcs.errors import InvalidFile
    from narrative_vcs.objects import Actor

    ctx = Context(args)
    worktree = ctx.worktree
    rows: list[dict[str, Any]] = []
    for actor_id in worktree.actors():
        path = f"actors/{actor_id}.yaml"
        try:
            actor = Actor.parse(actor_id, worktree.read(path) or b"", path)
            rows.append(
                {"id": actor.id, "name": actor.name, "kind": actor.kind, "archetype": actor.archetype}
            )
        except InvalidFile as exc:
            rows.append({"id": actor_id, "name": None, "kind": None, "archetype": None, "error": str(exc)})
    if getattr(args, "json", False):
        emit_json(rows)
        return 0
    if not rows:
        out("No actors yet. Add one: gvcs actor add ID --name NAME [--kind human|agent]")
    width = max((len(r["id"]) for r in rows), default=0)
    for row in rows:
        detail = row.get("error") or f"{row['name']} ({row['kind']})"
        out(f"{row['id']:<{width}}  {detail}")
    return 0


def cmd_whoami(args: argparse.Namespace) -> int:
    """``gvcs whoami``: the acting actor and where it came from."""
    from narrative_vcs.errors import BadInput, GvcsError
    from narrative_vcs.objects import Actor

    ctx = Context(args)
    actor_id = ctx.actor()
    source = (ctx.actor_source() or ("", ""))[1]
    record: Actor | None = None
    data = ctx.worktree.read(f"actors/{actor_id}.yaml")
    try:
        record = Actor.parse(actor_id, data) if data is not None else ctx.repo.read_actor(actor_id)
    except (GvcsError, BadInput):
        record = None
    if args.json:
        emit_json(
            {
                "actor": actor_id,
                "source": source,
                "name": record.name if record else None,
                "kind": record.kind if record else None,
            }
        )
        return 0
    known = f"{record.name} ({record.kind})" if record else "not in the story yet"
    out(f"{actor_id}  {known}  [from {source}]")
    return 0


# --- pages ------------------------------------------------------------------------------------------


def cmd_page_new(args: argparse.Namespace) -> int:
    """``gvcs page new ID --title T``: write pages/ID.md in the work tree, refusing an existing id."""
    from narrative_vcs.errors import BadInput
    from narrative_vcs.objects import Page, validate_id

    ctx = Context(args)
    page_id = validate_id("page", args.id)
    for target in [*args.follows, *([args.alternate_of] if args.alternate_of else [])]:
        validate_id("page", target)
    worktree = ctx.worktree
    page = Page(
        page_id,
        args.title,
        body=f"Write the page here. Link to other pages like [[{(args.follows or [page_id])[0]}]].\n",
        follows=tuple(args.follows),
        alternate_of=args.alternate_of,
        tags=tuple(args.tags),
    )
    if worktree.exists(page.path):
        raise BadInput(f"page {page_id!r} already exists ({page.path})")
    for target in [*page.follows, *([page.alternate_of] if page.alternate_of else [])]:
        if not worktree.exists(f"pages/{target}.md"):
            raise BadInput(f"page {target!r} does not exist in the work tree (pages/{target}.md)")
    worktree.write(page.path, page.serialise())
    if args.json:
        emit_json({"id": page_id, "path": page.path, "title": page.title, "follows": list(page.follows)})
        return 0
    out(f"Wrote {page.path}; edit it, then: gvcs commit -m 'Add {page_id}'")
    return 0


def cmd_page_list(args: argparse.Namespace) -> int:
    """``gvcs page list [--rev REV]``: pages with their titles and links."""
    ctx = Context(args)
    rev = getattr(args, "rev", None)
    rows = _committed_pages(ctx, rev) if rev else _worktree_pages(ctx)
    if getattr(args, "json", False):
        emit_json(rows)
        return 0
    if not rows:
        out("No pages yet. Write one: gvcs page new ID --title TITLE")
    width = max((len(r["id"]) for r in rows), default=0)
    for row in rows:
        if row.get("error"):
            out(f"{row['id']:<{width}}  ! {row['error']}")
            continue
        links = [f"follows {', '.join(row['follows'])}"] if row["follows"] else []
        if row["alternate_of"]:
            links.append(f"alternate of {row['alternate_of']}")
        suffix = f"  ({'; '.join(links)})" if links else ""
        out(f"{row['id']:<{width}}  {row['title']}{suffix}")
    return 0


def _page_row(page: Any) -> dict[str, Any]:
    return {
        "id": page.id,
        "title": page.title,
        "follows": list(page.follows),
        "alternate_of": page.alternate_of,
        "tags": list(page.tags),
        "links": list(page.links()),
    }


def _worktree_pages(ctx: Context) -> list[dict[str, Any]]:
    from narrative_vcs.errors import InvalidFile
    from narrative_vcs.objects import Page

    rows = []
    for page_id in ctx.worktree.pages():
        path = f"pages/{page_id}.md"
        try:
            rows.append(_page_row(Page.parse(page_id, ctx.worktree.read(path) or b"", path)))
        except InvalidFile as exc:
            rows.append({"id": page_id, "error": str(exc)})
    return rows


def _committed_pages(ctx: Context, rev: str) -> list[dict[str, Any]]:
    story = ctx.repo.read_story(rev)
    return [_page_row(page) for page in story.pages.values()]


def cmd_page_show(args: argparse.Namespace) -> int:
    """``gvcs page show ID [--rev REV] [--as-of TIME]``: the work tree's copy, or a committed one."""
    from narrative_vcs.errors import NotFound
    from narrative_vcs.objects import Page, validate_id

    ctx = Context(args)
    page_id = validate_id("page", args.id)
    source = "worktree"
    if args.rev is None and args.as_of is None:
        data = ctx.worktree.read(f"pages/{page_id}.md")
        if data is None:
            raise NotFound(f"page {page_id!r} not found in the work tree (try --rev HEAD)")
        page = Page.parse(page_id, data)
    else:
        as_of = parse_time(args.as_of) if args.as_of else None
        commit = ctx.repo.at(args.rev or "HEAD", as_of)
        page = ctx.repo.read_page(page_id, commit)
        source = commit
    if args.json:
        emit_json({"source": source, **_page_row(page), "body": page.body})
        return 0
    sys.stdout.write(page.serialise().decode())
    return 0


# --- status and commit ------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    """``gvcs status``: files added, modified or removed since the checkout."""
    ctx = Context(args)
    worktree = ctx.worktree
    changes = worktree.status()
    head = ctx.repo.branch_head(worktree.branch) if worktree.branch is not None else worktree.commit_id
    if args.json:
        emit_json(
            {
                "branch": worktree.branch,
                "detached": worktree.detached,
                "commit": worktree.commit_id,
                "branch_head": head,
                "clean": not changes,
                "recovered": str(ctx.recovered) if ctx.recovered else None,
                "merging": worktree.merge_state() is not None,
                "changes": [c.to_json() for c in changes],
            }
        )
        return 0
    if worktree.branch is None:
        out(f"HEAD detached at {str(worktree.commit_id)[:10]} (gvcs switch BRANCH to go back to a branch)")
    else:
        out(f"On branch {worktree.branch}" + ("" if worktree.commit_id else " (no commits yet)"))
    if worktree.merge_state() is not None:
        out("A merge is in progress: resolve the conflicts, then gvcs merge --continue (or --abort)")
    if head != worktree.commit_id:
        out(
            f"Warning: {worktree.branch} moved to {str(head)[:10]} since this checkout "
            f"({str(worktree.commit_id)[:10]}); commits are refused until: gvcs switch {worktree.branch}"
        )
    if not changes:
        out("nothing to commit, work tree clean")
        return 0
    out("Changes to commit (gvcs commit -m MESSAGE takes them all):")
    for change in changes:
        note = f"   ! {change.problem}" if change.problem else ""
        out(f"  {change.status + ':':<10}{change.path}{note}")
    return 0


def cmd_commit(args: argparse.Namespace) -> int:
    """``gvcs commit -m MSG``: commit every change in the work tree on the current branch."""
    from narrative_vcs.errors import BadInput, BranchMoved

    if args.message is None and not args.amend:
        raise BadInput("commit needs a message: gvcs commit -m MESSAGE")
    ctx = Context(args)
    actor = ctx.actor()
    worktree = ctx.worktree
    try:
        if args.amend:
            result = worktree.amend(actor, args.message)
        else:
            result = worktree.commit(args.message, actor)
    except BranchMoved as exc:
        # Say how to get out of it: update the work tree (keeping edits), then commit again.
        hint = f" (update with 'gvcs switch {worktree.branch}', then commit again)"
        sys.stderr.write(f"gvcs: error: {exc}{hint}\n")
        return exc.exit_code
    counts: dict[str, int] = {}
    for change in result.changes:
        counts[change.status] = counts.get(change.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    subject = ctx.repo.commits.get(result.commit).subject
    if args.json:
        emit_json(
            {
                "branch": result.branch,
                "commit": result.commit,
                "subject": subject,
                "actor": actor,
                "amended": bool(args.amend),
                "changes": [{"path": c.path, "status": c.status} for c in result.changes],
                "normalised": list(result.normalised),
            }
        )
        return 0
    out(f"[{result.branch} {result.commit[:10]}] {subject}" + (" (amended)" if args.amend else ""))
    out(f" {len(result.changes)} file(s) changed ({summary}) by {actor}")
    if result.normalised:
        if args.verbose or len(result.normalised) <= SHOWN_FILES:
            out(f" rewrote in canonical form: {', '.join(result.normalised)}")
        else:  # an import of thousands of pages: a count, the list behind -v
            out(f" rewrote {len(result.normalised)} file(s) in canonical form (-v lists them)")
    if args.verbose:
        for change in result.changes:
            out(f"  {change.status:9} {change.path}")
    return 0


# --- branches and tags ------------------------------------------------------------------------------


def cmd_branch(args: argparse.Namespace) -> int:
    """``gvcs branch`` lists; ``branch NAME [START]`` creates; ``branch -d NAME`` deletes."""
    from narrative_vcs.errors import BadInput

    ctx = Context(args)
    repo = ctx.repo
    who = (ctx.actor_source() or ("", ""))[0]
    if args.delete:
        if not args.name or args.start:
            raise BadInput("branch -d takes exactly one branch NAME")
        oid = repo.delete_branch(args.name, who=who)
        out(f"Deleted branch {args.name} (was {oid[:10]})")
        return 0
    if args.move:
        if not args.name:
            raise BadInput("branch -m takes [OLD] NEW")
        worktree = ctx.worktree
        old, new = (args.name, args.start) if args.start else (worktree.branch, args.name)
        if old is None:
            raise BadInput("HEAD is detached: name the branch to rename (gvcs branch -m OLD NEW)")
        oid = worktree.rename_branch(old, new, who=who)
        out(f"Renamed branch {old} to {new} ({oid[:10]})")
        return 0
    if args.name:
        start = args.start or ctx.worktree.commit_id or "HEAD"
        oid = repo.create_branch(args.name, start, who=who)
        out(f"Created branch {args.name} at {oid[:10]}")
        return 0
    return _list_branches(ctx, args.json)


def _list_branches(ctx: Context, as_json: bool) -> int:
    repo = ctx.repo
    current = repo.head_branch()
    branches = repo.branches()
    rows: list[dict[str, Any]] = [
        {"name": name, "commit": oid, "current": name == current, "subject": repo.commits.get(oid).subject}
        for name, oid in sorted(branches.items())
    ]
    if as_json:
        emit_json(rows)
        return 0
    if current and current not in branches:
        out(f"* {current} (no commits yet)")
    width = max((len(r["name"]) for r in rows), default=0)
    for row in rows:
        mark = "*" if row["current"] else " "
        out(f"{mark} {row['name']:<{width}}  {row['commit'][:10]} {row['subject']}")
    return 0


def cmd_switch(args: argparse.Namespace) -> int:
    """``gvcs switch NAME`` checks a branch out; ``switch -c NAME [START]`` creates it first (at the
    current commit, or START); ``switch --detach REV`` checks a tag or commit out with HEAD detached."""
    from narrative_vcs.errors import BadInput

    ctx = Context(args)
    worktree = ctx.worktree
    if args.detach:
        if args.create or args.start:
            raise BadInput("switch --detach takes one REV (a tag, a commit, main~2) and no -c")
        detached = worktree.detach(args.name)
        if args.json:
            emit_json({"branch": None, "commit": detached, "detached": True, "created": False})
            return 0
        out(f"HEAD is now at {detached[:10]} {ctx.repo.commits.get(detached).subject} (detached)")
        return 0
    if args.create:
        created = worktree.create_branch(args.name, args.start)
        if args.json:
            emit_json({"branch": args.name, "commit": created, "detached": False, "created": True})
            return 0
        at = f" at {created[:10]}" if created else ""
        out(f"Switched to a new branch '{args.name}'{at}")
        return 0
    if args.start:
        raise BadInput("switch NAME takes no START (use switch -c NAME START to create a branch there)")
    previous = worktree.branch
    _drop_init_placeholder(ctx, args.name)
    oid = worktree.switch(args.name)
    if args.json:
        emit_json({"branch": args.name, "commit": oid, "detached": False, "created": False})
        return 0
    at = f" ({oid[:10]} {ctx.repo.commits.get(oid).subject})" if oid else ""
    verb = "Updated" if previous == args.name else "Switched to"
    out(f"{verb} branch '{args.name}'{at}")
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    """``gvcs recover``: finish or roll back a work-tree command that was killed (every command does it
    first anyway); say what was done."""
    ctx = Context(args)
    ctx.worktree  # noqa: B018 - opening the work tree recovers it
    if args.json:
        found = ctx.recovered
        emit_json(
            None
            if found is None
            else {"op": found.op, "finished": found.finished, "pid": found.pid, "kept": found.kept}
        )
        return 0
    if ctx.recovered is None:
        out("Nothing to recover: no command was interrupted.")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    """``gvcs tag`` lists tags; ``tag NAME [REV]`` tags a revision; ``tag -d NAME`` deletes."""
    from narrative_vcs.errors import BadInput

    ctx = Context(args)
    repo = ctx.repo
    if args.delete:
        if not args.name or args.rev:
            raise BadInput("tag -d takes exactly one tag NAME")
        repo.delete_tag(args.name)
        out(f"Deleted tag {args.name}")
        return 0
    if args.name:
        who = (ctx.actor_source() or ("", ""))[0]
        oid = repo.create_tag(args.name, args.rev or "HEAD", who=who)
        out(f"Tagged {oid[:10]} as {args.name}")
        return 0
    rows = [
        {"name": name, "commit": oid, "subject": repo.commits.get(oid).subject}
        for name, oid in sorted(repo.tags().items())
    ]
    if args.json:
        emit_json(rows)
        return 0
    for row in rows:
        out(f"{row['name']}  {row['commit'][:10]} {row['subject']}")
    return 0


# --- maintenance ------------------------------------------------------------------------------------


def cmd_fsck(args: argparse.Namespace) -> int:
    """``gvcs fsck``: check every object and ref; exit 1 and list the problems if there are any."""
    ctx = Context(args)
    if args.rules:
        return _fsck_rules(ctx, args)
    if args.rev is not None:
        from narrative_vcs.errors import BadInput

        raise BadInput("REV goes with --rules (gvcs fsck --rules REV)")
    from narrative_vcs.errors import CorruptObject, GvcsError

    from .serve import open_served

    repo = open_served(args)  # --store, else this repository; not a repository at all: bad input (exit 2)
    try:
        report = repo.fsck()
    except GvcsError as exc:  # a store too damaged to read on: corruption (exit 1), never bad input
        raise CorruptObject(f"fsck stopped: {exc}") from None
    if args.json:
        emit_json(
            {"ok": report.ok, "objects": report.objects, "refs": report.refs, "problems": report.problems}
        )
        return 0 if report.ok else 1
    if report.ok:
        out(f"ok: {report.objects} objects and {report.refs} refs checked, no problems")
        return 0
    for problem in report.problems:
        out(problem)
    sys.stderr.write(f"gvcs: error: fsck found {len(report.problems)} problem(s)\n")
    return 1


def _fsck_rules(ctx: Context, args: argparse.Namespace) -> int:
    """``gvcs fsck --rules [REV]``: every commit checked against the story's rules."""
    from .serve import open_served

    report = open_served(args).fsck_rules(args.rev, progress=_progress("Checking"))
    if args.json:
        emit_json(report.to_json())
        return 0 if report.ok else 1
    if report.ok:
        out(f"ok: {report.commits} commits of {report.refs} ref(s) follow the story's rules")
        return 0
    for problem in report.problems:
        out(str(problem))
    sys.stderr.write(
        f"gvcs: error: {len(report.problems)} commit(s) or move(s) break the story's rules "
        f"({report.commits} commits checked)\n"
    )
    return 1


def cmd_gc(args: argparse.Namespace) -> int:
    """``gvcs gc``: pack every object of the store into one pack."""
    from narrative_vcs.errors import Refused
    from narrative_vcs.graph.git import GitObjectStore

    ctx = Context(args)
    store = ctx.repo.objects
    if not isinstance(store, GitObjectStore):
        raise Refused("gc packs the embedded git store; this repository uses another store")
    count = store.pack(full=True, progress=None if args.json else _progress("Writing", "objects"))
    if args.json:
        emit_json({"objects": count, "packs": store.pack_count()})
        return 0
    out(f"Packed {count} objects into {store.pack_count()} pack(s)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``gvcs demo [DIR] [--force]``: build the sample story, check out main, show the graph."""
    from .demo_cmd import run_demo

    ctx = Context(args)
    return run_demo(Path(ctx.cwd / args.path), force=args.force)
