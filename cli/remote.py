"""``gvcs remote``, ``push``, ``pull`` and ``clone``: moving history between a repository and a store.

A remote is a name for another story store, kept in the repository's settings: a Neo4j database
(``neo4j://user:password@host:7687[/database]``) or another repository on disk (a directory). Only the
objects the other side lacks travel; refs move by compare-and-swap. ``refs/remotes/NAME/BRANCH``
remembers where each branch of a remote was at the last push or pull.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import Context, emit_json, out

if TYPE_CHECKING:
    from narrative_vcs.repository import Repository
    from narrative_vcs.transfer import TransferResult

__all__ = ["cmd_clone", "cmd_pull", "cmd_push", "cmd_remote_add", "cmd_remote_list", "cmd_remote_remove"]


def _remotes(ctx: Context) -> dict[str, str]:
    found = ctx.config().get("remotes")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _check_name(name: str) -> str:
    from narrative_vcs.refs import validate_ref_name

    validate_ref_name("remote", name)
    if "/" in name:
        from narrative_vcs.errors import BadInput

        raise BadInput(f"invalid remote name {name!r}: no '/'")
    return name


def _check_location(location: str, base: Path) -> str:
    """A remote's location as stored: a store URI as given, a directory made absolute."""
    from narrative_vcs.errors import BadInput

    if "://" in location:
        from narrative_vcs.graph.neo4j import parse_neo4j_uri

        parse_neo4j_uri(location)  # refuses anything that is not a Neo4j URI
        return location
    path = (base / location).resolve()
    if not (path / ".gvcs").is_dir():
        raise BadInput(f"{location!r} is neither a neo4j:// URI nor a gvcs repository")
    return str(path)


def open_location(location: str) -> Repository:
    """The repository of a remote: a store URI or a repository directory."""
    from narrative_vcs.graph.factory import open_repository, open_store

    if "://" in location:
        return open_store(location)
    return open_repository(Path(location))


def cmd_remote_add(args: argparse.Namespace) -> int:
    """``gvcs remote add NAME LOCATION``."""
    from narrative_vcs.errors import BadInput
    from narrative_vcs.graph.factory import redact, save_config

    ctx = Context(args)
    name = _check_name(args.name)
    location = _check_location(args.location, ctx.cwd)
    config = ctx.config()
    remotes = _remotes(ctx)
    if name in remotes:
        raise BadInput(f"remote {name!r} already exists ({redact(remotes[name])})")
    remotes[name] = location
    config["remotes"] = remotes
    save_config(ctx.root, config)
    out(f"Added remote {name}: {redact(location)}")
    return 0


def cmd_remote_remove(args: argparse.Namespace) -> int:
    """``gvcs remote remove NAME``: forget a remote and its remote-tracking refs."""
    from narrative_vcs.errors import NotFound
    from narrative_vcs.graph.factory import save_config

    ctx = Context(args)
    remotes = _remotes(ctx)
    if args.name not in remotes:
        raise NotFound(f"no remote {args.name!r}")
    repo = ctx.repo
    for ref, oid in repo.refs.list(f"refs/remotes/{args.name}/").items():
        repo.refs.remove_if_equals(ref, oid, who="gvcs remote", message="remote removed")
    del remotes[args.name]
    config = ctx.config()
    config["remotes"] = remotes
    save_config(ctx.root, config)
    out(f"Removed remote {args.name}")
    return 0


def cmd_remote_list(args: argparse.Namespace) -> int:
    """``gvcs remote [-v] [--json]``."""
    from narrative_vcs.graph.factory import redact

    remotes = _remotes(Context(args))
    if args.json:
        emit_json([{"name": n, "location": redact(loc)} for n, loc in sorted(remotes.items())])
        return 0
    for name, location in sorted(remotes.items()):
        out(f"{name}\t{redact(location)}" if args.verbose else name)
    return 0


def _remote(ctx: Context, name: str) -> tuple[str, Repository]:
    from narrative_vcs.errors import NotFound

    remotes = _remotes(ctx)
    if name not in remotes:
        known = ", ".join(sorted(remotes)) or "none; add one with gvcs remote add NAME URI"
        raise NotFound(f"no remote {name!r} (remotes: {known})")
    return remotes[name], open_location(remotes[name])


def _progress(verb: str) -> Any:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        sys.stderr.write(f"\r{verb} commits: {done}/{total}{end}")
        sys.stderr.flush()

    return show


def _branch(ctx: Context, given: str | None) -> str:
    from narrative_vcs.errors import BadInput

    if given:
        return given
    current = ctx.repo.head_branch()
    if current is None:
        raise BadInput("no current branch: name the BRANCH")
    return current


def _transfer_json(result: TransferResult) -> dict[str, Any]:
    return {
        "ref": result.ref,
        "old": result.old,
        "new": result.new,
        "commits": result.commits,
        "objects": result.objects,
        "up_to_date": result.up_to_date,
    }


def _report(result: TransferResult, json_out: bool, what: str) -> None:
    if json_out:
        emit_json(_transfer_json(result))
    elif result.up_to_date:
        out(f"{what}: everything up to date ({result.ref})")
    else:
        old = result.old[:10] if result.old else "(new)"
        sent = f"{result.commits} commit{'' if result.commits == 1 else 's'}, {result.objects} objects"
        out(f"{what}: {old}..{result.new[:10]} {result.ref} ({sent})")


def cmd_push(args: argparse.Namespace) -> int:
    """``gvcs push NAME [BRANCH] [--force]``: send a branch's missing history to a remote."""
    from narrative_vcs.graph.factory import redact
    from narrative_vcs.transfer import copy_branch

    ctx = Context(args)
    name = _check_name(args.remote)
    location, remote = _remote(ctx, name)
    branch = _branch(ctx, args.branch)
    repo = ctx.repo
    try:
        result = copy_branch(repo, remote, branch, force=args.force, progress=_progress("Writing"))
    finally:
        remote.close()
    _track(repo, name, branch, result.new)
    _report(result, args.json, f"To {redact(location)}")
    return 0


def _track(repo: Repository, remote: str, branch: str, head: Any) -> None:
    """Move ``refs/remotes/REMOTE/BRANCH`` to where the remote's branch now is."""
    from narrative_vcs.refs import validate_ref_name
    from narrative_vcs.types import RefName

    ref = RefName(f"refs/remotes/{remote}/{validate_ref_name('branch', branch)}")
    old = repo.refs.get(ref)
    if old != head:
        repo.refs.set_if_equals(ref, old, head, who="gvcs", message=f"update by push/pull of {branch}")


def cmd_pull(args: argparse.Namespace) -> int:
    """``gvcs pull NAME [BRANCH]``: fetch a remote's branch, then fast-forward or merge it in."""
    from narrative_vcs.graph.factory import redact
    from narrative_vcs.refs import validate_ref_name
    from narrative_vcs.transfer import copy_branch
    from narrative_vcs.types import RefName

    ctx = Context(args)
    name = _check_name(args.remote)
    location, remote = _remote(ctx, name)
    branch = _branch(ctx, args.branch)
    tracking = RefName(f"refs/remotes/{name}/{validate_ref_name('branch', branch)}")
    repo = ctx.repo
    try:
        result = copy_branch(remote, repo, branch, target=tracking, force=True, progress=_progress("Reading"))
    finally:
        remote.close()
    if not args.json:
        _report(result, False, f"From {redact(location)}")
    status, commit, conflicts = _integrate(ctx, name, branch, result.new)
    if args.json:
        emit_json(
            {
                "fetch": _transfer_json(result),
                "status": status,
                "commit": commit,
                "conflicts": [c.to_json() for c in conflicts],
            }
        )
    elif status == "up-to-date":
        out(f"{branch} already contains {name}/{branch}")
    elif status == "fast-forward":
        out(f"Fast-forward {branch} to {commit[:10] if commit else ''}")
    elif status == "merged":
        out(f"Merged {name}/{branch} into {branch}: {commit[:10] if commit else ''}")
    else:
        out(f"Merge of {name}/{branch} into {branch} stopped: {len(conflicts)} conflict(s)")
        for c in conflicts:
            out(f"  {c.kind:13} {c.path}: {c.message.split(': ', 1)[-1]}")
        out("Resolve them, then gvcs merge --continue; or gvcs merge --abort to undo.")
    return 1 if status == "conflicts" else 0


def _integrate(ctx: Context, name: str, branch: str, fetched: Any) -> tuple[str, str | None, list[Any]]:
    """Bring a fetched head into the local branch: (status, new commit, conflicts)."""
    from narrative_vcs.errors import Refused
    from narrative_vcs.refs import branch_ref

    repo = ctx.repo
    local = repo.branch_head(branch)
    if local == fetched or (local is not None and repo.commits.is_ancestor(fetched, local)):
        return "up-to-date", local, []
    current = repo.head_branch() == branch
    if local is None or repo.commits.is_ancestor(local, fetched):
        message = f"pull: fast-forward from {name}"
        if current:
            worktree = ctx.worktree
            worktree.require_clean("pull")
            repo.refs.set_if_equals(branch_ref(branch), local, fetched, who="gvcs pull", message=message)
            worktree.checkout(branch, fetched)
        elif local is None:
            repo.create_branch(branch, fetched)
        else:
            repo.refs.set_if_equals(branch_ref(branch), local, fetched, who="gvcs pull", message=message)
        return "fast-forward", fetched, []
    if not current:
        raise Refused(
            f"{branch} and {name}/{branch} have diverged: switch to {branch} and pull to merge them"
        )
    outcome = ctx.worktree.merge(
        f"{name}/{branch}", ctx.actor(), message=f"Merge {name}/{branch} into {branch}"
    )
    if outcome.status == "conflicts":
        return "conflicts", None, list(outcome.conflicts)
    return "merged", outcome.commit, []


def cmd_clone(args: argparse.Namespace) -> int:
    """``gvcs clone LOCATION [DIR]``: a new repository on disk with the history of every branch."""
    from narrative_vcs.errors import BadInput, NotFound
    from narrative_vcs.graph.factory import init_repository, redact, save_config
    from narrative_vcs.refs import TAGS
    from narrative_vcs.transfer import copy_branch
    from narrative_vcs.types import RefName
    from narrative_vcs.worktree import WorkTree

    ctx = Context(args)
    location = _check_location(args.location, ctx.cwd)
    directory = args.directory_name or _default_dir(location)
    root = (ctx.cwd / directory).resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise BadInput(f"{root} already exists and is not an empty directory")
    remote = open_location(location)
    created = not root.exists()
    try:
        branches = remote.branches()
        if not branches:
            raise NotFound(f"{redact(location)} holds no branches to clone")
        head = remote.head_branch()
        if head not in branches:
            head = "main" if "main" in branches else sorted(branches)[0]
        repo = init_repository(root, branch=head)
        WorkTree(root, repo).save_state()  # an empty checkout, which the checkout below fills
        for branch in sorted(branches, key=lambda b: b != head):
            copy_branch(remote, repo, branch, progress=_progress(f"Reading {branch}:"))
            _track(repo, "origin", branch, repo.branch_head(branch))
        for ref, oid in remote.refs.list(TAGS).items():
            if repo.objects.has(oid):
                repo.refs.set_if_equals(RefName(ref), None, oid, who="gvcs clone", message="clone")
        config: dict[str, Any] = {"store": "git", "remotes": {"origin": location}}
        save_config(root, config)
        worktree = WorkTree(root, repo)
        worktree.checkout(head, repo.branch_head(head))
    except BaseException:
        remote.close()
        if created:
            shutil.rmtree(root, ignore_errors=True)
        else:
            for child in root.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    remote.close()
    if args.json:
        emit_json({"directory": str(root), "branches": sorted(branches), "head": head})
    else:
        out(f"Cloned {redact(location)} into {root}: {len(branches)} branch(es), on {head}")
    return 0


def _default_dir(location: str) -> str:
    if "://" in location:
        tail = location.rstrip("/").rsplit("/", 1)[-1]
        return tail if "@" not in tail and ":" not in tail and tail else "story"
    return os.path.basename(location.rstrip("/")) or "story"
