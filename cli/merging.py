"""``gvcs merge``, ``gvcs conflicts`` and ``gvcs resolve``: merging branches in the work tree."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import Context, emit_json, out

__all__ = ["cmd_merge", "cmd_conflicts", "cmd_resolve", "cmd_rebase", "cmd_cherry_pick", "cmd_revert"]


def cmd_merge(args: argparse.Namespace) -> int:
    """``gvcs merge BRANCH``; ``--continue`` commits a resolved merge; ``--abort`` undoes it."""
    from narrative_vcs.errors import BadInput

    ctx = Context(args)
    worktree = ctx.worktree
    if args.abort or args.cont:
        if args.source or args.strategy or args.no_ff or (args.abort and args.cont):
            raise BadInput("--continue and --abort take no branch or other option (but -m with --continue)")
        if args.abort:
            worktree.abort_merge()
            if args.json:
                emit_json({"status": "aborted", "branch": worktree.branch, "commit": worktree.commit_id})
                return 0
            out(f"Merge aborted; the work tree is back at {worktree.where}")
            return 0
        result = worktree.continue_merge(ctx.actor(), args.message)
        changed = len(result.changes)
        if args.json:
            emit_json(
                {"status": "merged", "branch": result.branch, "commit": result.commit, "changed": changed}
            )
            return 0
        out(f"[{result.branch} {result.commit[:10]}] merge committed with {changed} file(s) changed")
        return 0
    if not args.source:
        raise BadInput("merge needs a BRANCH (or --continue / --abort)")
    outcome = worktree.merge(
        args.source, ctx.actor(), strategy=args.strategy, no_ff=args.no_ff, message=args.message
    )
    if args.json:
        emit_json(
            {
                "status": outcome.status,
                "branch": worktree.branch,
                "source": args.source,
                "commit": outcome.commit,
                "conflicts": [
                    {"kind": c.kind, "path": c.path, "message": c.message} for c in outcome.conflicts
                ]
                if outcome.status == "conflicts"
                else [],
            }
        )
        return 1 if outcome.status == "conflicts" else 0
    if outcome.status == "up-to-date":
        out("Already up to date.")
    elif outcome.status == "fast-forward":
        out(f"Fast-forward {worktree.branch} to {outcome.commit[:10] if outcome.commit else ''}")
    elif outcome.status == "merged":
        bases = ", ".join(b[:10] for b in outcome.preview.bases) or "none"
        out(f"Merged {args.source} into {worktree.branch}: {outcome.commit[:10] if outcome.commit else ''}")
        out(f" merge base {bases}; {len(outcome.preview.result.changed)} file(s) taken from {args.source}")
    else:
        conflicts = outcome.conflicts
        out(f"Merge of {args.source} into {worktree.branch} stopped: {len(conflicts)} conflict(s)")
        for c in conflicts:
            out(f"  {c.kind:13} {c.path}: {c.message.split(': ', 1)[-1]}")
        out("Resolve them (edit the files, or gvcs resolve PAGE --ours|--theirs|--union|--file F),")
        out("then gvcs merge --continue; or gvcs merge --abort to undo.")
        return 1
    return 0


def cmd_conflicts(args: argparse.Namespace) -> int:
    """``gvcs conflicts``: the conflicts of the merge in progress and whether each is resolved."""
    conflicts = Context(args).worktree.conflicts()
    if args.json:
        emit_json([_public(c) for c in conflicts])
        return 0
    if not conflicts:
        out("No conflicts.")
    for c in conflicts:
        mark = "resolved" if c["resolved"] else "open"
        out(f"{mark:9} {c['kind']:13} {c['path']}: {c['message'].split(': ', 1)[-1]}")
    return 0


def _public(conflict: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in conflict.items() if k != "written"}


def cmd_resolve(args: argparse.Namespace) -> int:
    """``gvcs resolve PAGE (--ours|--theirs|--union|--file F)``: settle one conflicted file."""
    from narrative_vcs.errors import BadInput, NotFound

    ctx = Context(args)
    path = args.item if "/" in args.item else f"pages/{args.item}.md"
    data = None
    if args.file:
        try:
            data = Path(args.file).read_bytes()
        except OSError as exc:
            raise NotFound(f"cannot read {args.file}: {exc.strerror}") from None
    side = args.side
    if (side is None) == (data is None):
        raise BadInput("resolve needs exactly one of --ours, --theirs, --union or --file F")
    ctx.worktree.resolve(path, side=side, data=data)
    if args.json:
        emit_json({"path": path, "resolved": True, "side": side, "file": args.file})
        return 0
    out(f"Resolved {path} ({side or 'from ' + args.file})")
    return 0


def cmd_rebase(args: argparse.Namespace) -> int:
    """``gvcs rebase ONTO``: replay the current branch's own commits on top of ONTO."""
    ctx = Context(args)
    worktree = ctx.worktree
    new = worktree.rebase(args.onto, ctx.actor())
    if args.json:
        emit_json(
            {"branch": worktree.branch, "onto": args.onto, "commits": list(new), "head": worktree.commit_id}
        )
        return 0
    now = (worktree.commit_id or "")[:10]
    out(f"Rebased {len(new)} commit(s) of {worktree.where} onto {args.onto}; now at {now}")
    return 0


def cmd_cherry_pick(args: argparse.Namespace) -> int:
    """``gvcs cherry-pick REV``: apply one commit's change on the current branch."""
    return _replay(args, "cherry-pick")


def cmd_revert(args: argparse.Namespace) -> int:
    """``gvcs revert REV``: a new commit that undoes REV's change."""
    return _replay(args, "revert")


def _replay(args: argparse.Namespace, action: str) -> int:
    ctx = Context(args)
    worktree = ctx.worktree
    oid = worktree.replay(action, args.rev, ctx.actor())
    if args.json:
        emit_json({"branch": worktree.branch, "commit": oid, "subject": ctx.repo.commits.get(oid).subject})
        return 0
    out(f"[{worktree.where} {oid[:10]}] {ctx.repo.commits.get(oid).subject}")
    return 0


def add_commands(sub: Any, command: Any, json_flag: Any) -> None:
    """Register the merge commands on the ``gvcs`` parser."""
    p = command(sub, "merge", "merging:cmd_merge", "merge a branch into the current one")
    p.add_argument("source", nargs="?", metavar="BRANCH", help="the branch (or revision) to merge in")
    p.add_argument("--strategy", choices=("ours", "theirs", "union"), help="settle conflicts this way")
    p.add_argument("--no-ff", action="store_true", help="make a merge commit even if a fast-forward would do")
    p.add_argument("-m", dest="message", help="the merge commit's message")
    p.add_argument("--continue", dest="cont", action="store_true", help="commit a resolved merge")
    p.add_argument("--abort", action="store_true", help="undo a merge stopped by conflicts")
    json_flag(p)

    p = command(sub, "conflicts", "merging:cmd_conflicts", "list the conflicts of the merge in progress")
    json_flag(p)

    p = command(sub, "resolve", "merging:cmd_resolve", "settle one conflicted file of the merge")
    p.add_argument("item", metavar="PAGE", help="a page id or a file path")
    side = p.add_mutually_exclusive_group()
    sides = {
        "ours": "keep this branch's side",
        "theirs": "take the merged-in branch's side",
        "union": "keep both sides, ours first",
    }
    for name, text in sides.items():
        side.add_argument(f"--{name}", dest="side", action="store_const", const=name, help=text)
    p.add_argument("--file", metavar="F", help="take the resolved content from file F")
    json_flag(p)

    p = command(sub, "rebase", "merging:cmd_rebase", "replay the current branch's commits on top of ONTO")
    p.add_argument("onto", metavar="ONTO", help="the branch or commit to replay on")
    json_flag(p)
    p = command(sub, "cherry-pick", "merging:cmd_cherry_pick", "apply one commit's change here")
    p.add_argument("rev", metavar="REV", help="the commit")
    json_flag(p)
    p = command(sub, "revert", "merging:cmd_revert", "make a commit that undoes REV")
    p.add_argument("rev", metavar="REV", help="the commit")
    json_flag(p)
