"""Undo commands: ``restore``, ``reset``, ``stash`` (and ``commit --amend`` and ``branch -m`` in
:mod:`.story`). The work is done by :class:`~narrative_vcs.worktree.WorkTree`, journaled like every
command that changes the work tree."""

from __future__ import annotations

import argparse

from .common import Context, emit_json, out

__all__ = [
    "cmd_reflog",
    "cmd_reset",
    "cmd_restore",
    "cmd_stash_apply",
    "cmd_stash_drop",
    "cmd_stash_list",
    "cmd_stash_pop",
    "cmd_stash_push",
    "cmd_stash_show",
]


def cmd_restore(args: argparse.Namespace) -> int:
    """``gvcs restore PATH|PAGE... [--source REV]``: files as the checked-out commit (or REV) has them."""
    ctx = Context(args)
    written = ctx.worktree.restore(args.paths, args.source)
    if args.json:
        emit_json({"source": args.source or "HEAD", "restored": list(written)})
        return 0
    if not written:
        out("Nothing to restore: the files already hold that.")
        return 0
    source = args.source or "HEAD"
    for path in written:
        out(f"restored {path} (from {source})")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    """``gvcs reset [--soft|--mixed|--hard] [REV]``: move the current branch to REV."""
    ctx = Context(args)
    worktree = ctx.worktree
    before = worktree.commit_id
    mode = args.mode or "mixed"
    who = (ctx.actor_source() or ("", ""))[0]
    target = worktree.reset(args.rev, mode, who=who)
    subject = ctx.repo.commits.get(target).subject
    if args.json:
        emit_json(
            {
                "branch": worktree.branch,
                "mode": mode,
                "old": before,
                "new": target,
                "differ": [c.path for c in worktree.status()] if mode != "hard" else [],
            }
        )
        return 0
    if mode == "hard":
        out(f"HEAD is now at {target[:10]} {subject}")
    else:
        changes = worktree.status()
        out(f"{worktree.where} is now at {target[:10]} {subject}")
        if changes:
            out(f"{len(changes)} file(s) differ from it, kept in the work tree (see gvcs status)")
    if before and before != target:
        out(f"(it was at {before[:10]}: see gvcs reflog; gvcs reset {before[:10]} goes back)")
    return 0


def _stash_actor(ctx: Context) -> str:
    found = ctx.actor_source()
    return found[0] if found else "gvcs"


def cmd_stash_push(args: argparse.Namespace) -> int:
    """``gvcs stash [push] [-m MESSAGE]``: put every uncommitted change aside."""
    ctx = Context(args)
    entry = ctx.worktree.stash_push(_stash_actor(ctx), args.message)
    if args.json:
        emit_json(entry.to_json())
        return 0
    out(f"Saved the uncommitted changes as {entry.name}: {entry.message}")
    return 0


def cmd_stash_list(args: argparse.Namespace) -> int:
    """``gvcs stash list``: the stashes, newest first."""
    ctx = Context(args)
    entries = ctx.worktree.stash_list()
    if args.json:
        emit_json([e.to_json() for e in entries])
        return 0
    for entry in entries:
        out(f"{entry.name}: {entry.message}")
    return 0


def cmd_stash_show(args: argparse.Namespace) -> int:
    """``gvcs stash show [STASH]``: the files a stash changes."""
    ctx = Context(args)
    entry = ctx.worktree.stash_entry(args.stash)
    repo = ctx.repo
    changes = list(repo.diff(entry.base, entry.commit))
    if args.json:
        emit_json({**entry.to_json(), "changes": [{"path": c.path, "status": c.status} for c in changes]})
        return 0
    for change in changes:
        out(f"  {change.status + ':':<10}{change.path}")
    return 0


def cmd_stash_pop(args: argparse.Namespace) -> int:
    return _stash_apply(args, drop=True)


def cmd_stash_apply(args: argparse.Namespace) -> int:
    return _stash_apply(args, drop=False)


def _stash_apply(args: argparse.Namespace, *, drop: bool) -> int:
    ctx = Context(args)
    entry, written = ctx.worktree.stash_pop(args.stash, drop=drop)
    if args.json:
        emit_json({**entry.to_json(), "changed": list(written), "dropped": drop})
        return 0
    for path in written:
        out(f"  changed:  {path}")
    if drop:
        out(f"Dropped {entry.name} ({entry.commit[:10]})")
    else:
        out(f"Applied {entry.name} ({entry.commit[:10]}); it is kept (gvcs stash drop to forget it)")
    return 0


def cmd_stash_drop(args: argparse.Namespace) -> int:
    """``gvcs stash drop [STASH]``: forget a stash."""
    ctx = Context(args)
    entry = ctx.worktree.stash_drop(args.stash)
    if args.json:
        emit_json({**entry.to_json(), "dropped": True})
        return 0
    out(f"Dropped {entry.name} ({entry.commit[:10]})")
    return 0


def cmd_reflog(args: argparse.Namespace) -> int:
    """``gvcs reflog [BRANCH]``: where a branch (default: the current one) has pointed, newest first."""
    from narrative_vcs.errors import BadInput, NotFound
    from narrative_vcs.refs import TAGS, branch_ref
    from narrative_vcs.types import RefName

    ctx = Context(args)
    repo = ctx.repo
    name = args.ref or repo.head_branch()
    if name is None:
        raise BadInput("HEAD is detached: name a branch (gvcs reflog BRANCH)")
    ref = RefName(name) if name.startswith("refs/") else branch_ref(name)
    if repo.refs.get(ref) is None and not name.startswith(TAGS):
        raise NotFound(f"branch {name!r} not found")
    entries = list(reversed(repo.refs.reflog(ref)))
    short = ref.removeprefix("refs/heads/")
    if args.json:
        emit_json(
            [
                {
                    "name": f"{short}@{{{i}}}",
                    "old": e.old,
                    "new": e.new,
                    "who": e.who,
                    "time": e.time,
                    "message": e.message,
                }
                for i, e in enumerate(entries)
            ]
        )
        return 0
    for i, entry in enumerate(entries):
        out(f"{entry.new[:10]} {short}@{{{i}}}: {entry.message or '(no message)'}")
    return 0
