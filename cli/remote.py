"""``gvcs remote``, ``push``, ``fetch``, ``pull`` and ``clone``: moving history between a repository and
another place that holds the story.

A remote is a name for that place, kept in the repository's settings: a Neo4j database
(``neo4j://user:password@host:7687[/database]``), another gvcs repository on disk, or any git repository
(``http(s)://`` such as a git host or ``gvcs serve``'s ``/git``, ``ssh://``, ``git://``, ``file://`` or a
bare repository's path; see narrative_vcs/remotes.py). Only the objects the other side lacks travel; refs
move by compare-and-swap. ``refs/remotes/NAME/BRANCH`` remembers where each branch of a remote was at the
last push, fetch or pull.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import TYPE_CHECKING, Any

from .common import Context, emit_json, out
from .common import progress as _progress

if TYPE_CHECKING:
    from narrative_vcs.remotes import Remote
    from narrative_vcs.repository import Repository
    from narrative_vcs.transfer import TransferResult

__all__ = [
    "cmd_clone",
    "cmd_fetch",
    "cmd_pull",
    "cmd_push",
    "cmd_remote_add",
    "cmd_remote_list",
    "cmd_remote_remove",
]


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


def open_location(location: str) -> Remote:
    """The remote at ``location``; HTTP credentials the URL lacks come from git's credential helpers, and
    ``ssh://`` hosts are reached with ``$GIT_SSH_COMMAND`` (or ``$GIT_SSH``, else ``ssh``), as git does."""
    from narrative_vcs.remotes import open_remote

    from .credentials import GitCredentials

    ssh = os.environ.get("GIT_SSH_COMMAND") or os.environ.get("GIT_SSH") or None
    return open_remote(location, credentials=GitCredentials(), ssh_command=ssh)


def cmd_remote_add(args: argparse.Namespace) -> int:
    """``gvcs remote add NAME LOCATION``."""
    from narrative_vcs.errors import BadInput
    from narrative_vcs.graph.factory import redact, save_config
    from narrative_vcs.remotes import check_location

    ctx = Context(args)
    name = _check_name(args.name)
    location = check_location(args.location, ctx.cwd)
    config = ctx.config()
    remotes = _remotes(ctx)
    if name in remotes:
        raise BadInput(f"remote {name!r} already exists ({redact(remotes[name])})")
    remotes[name] = location
    config["remotes"] = remotes
    save_config(ctx.root, config)
    if args.json:
        emit_json({"name": name, "location": redact(location)})
        return 0
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
    if args.json:
        emit_json({"name": args.name, "removed": True})
        return 0
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


def _remote(ctx: Context, name: str) -> tuple[str, Remote]:
    from narrative_vcs.errors import NotFound

    remotes = _remotes(ctx)
    if name not in remotes:
        known = ", ".join(sorted(remotes)) or "none; add one with gvcs remote add NAME URI"
        raise NotFound(f"no remote {name!r} (remotes: {known})")
    return remotes[name], open_location(remotes[name])


def _branches(ctx: Context, given: list[str]) -> list[str]:
    from narrative_vcs.errors import BadInput
    from narrative_vcs.refs import validate_ref_name

    if given:
        for name in given:
            validate_ref_name("branch", name)
        if len(set(given)) != len(given):
            raise BadInput("a branch is named twice")
        return list(given)
    current = ctx.repo.head_branch()
    if current is None:
        raise BadInput("no current branch: name the BRANCH")
    return [current]


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
    """``gvcs push NAME [BRANCH...] [--force]``: send branches' missing history to a remote; several
    branches land together (governance and a protected branch it decides, for one) or not at all."""
    from narrative_vcs.graph.factory import redact
    from narrative_vcs.refs import branch_ref

    ctx = Context(args)
    name = _check_name(args.remote)
    location, remote = _remote(ctx, name)
    branches = _branches(ctx, args.branch)
    repo = ctx.repo
    pairs = [(branch_ref(b), branch_ref(b)) for b in branches]
    with remote:
        # The tags on the history pushed go along (and land with the branches), as git's --follow-tags.
        tags = remote.following_tags(repo, [repo.branch_head(b) for b in branches], push=True)
        results = remote.push(repo, pairs + tags, force=args.force, progress=_progress("Writing"))
    for branch, result in zip(branches, results, strict=False):
        _track(repo, name, branch, result.new)
    _report_all(results[: len(branches)], args.json, f"To {redact(location)}")
    _report_tags(results[len(branches) :], args.json, f"To {redact(location)}")
    return 0


def _report_tags(results: list[TransferResult], json_out: bool, what: str) -> None:
    """One line per tag that travelled (the JSON output lists the branches only)."""
    if json_out:
        return
    for result in results:
        out(f"{what}: new tag {result.ref.removeprefix('refs/tags/')} -> {result.new[:10]}")


def _report_all(results: list[TransferResult], json_out: bool, what: str) -> None:
    if json_out and len(results) > 1:
        emit_json([_transfer_json(r) for r in results])
        return
    for result in results:
        _report(result, json_out, what)


def _track(repo: Repository, remote: str, branch: str, head: Any) -> None:
    """Move ``refs/remotes/REMOTE/BRANCH`` to where the remote's branch now is."""
    from narrative_vcs.refs import validate_ref_name
    from narrative_vcs.types import RefName

    ref = RefName(f"refs/remotes/{remote}/{validate_ref_name('branch', branch)}")
    old = repo.refs.get(ref)
    if old != head:
        repo.refs.set_if_equals(ref, old, head, who="gvcs", message=f"update by push/pull of {branch}")


def cmd_pull(args: argparse.Namespace) -> int:
    """``gvcs pull NAME [BRANCH...]``: fetch a remote's branches, then fast-forward them (together) or
    merge the current one."""
    from narrative_vcs.graph.factory import redact
    from narrative_vcs.refs import branch_ref
    from narrative_vcs.types import RefName

    ctx = Context(args)
    name = _check_name(args.remote)
    location, remote = _remote(ctx, name)
    branches = _branches(ctx, args.branch)
    pairs = [(branch_ref(b), RefName(f"refs/remotes/{name}/{b}")) for b in branches]
    repo = ctx.repo
    try:
        fetched = remote.fetch(repo, pairs, progress=_progress("Reading"))
        if not args.json:
            for result in fetched:
                _report(result, False, f"From {redact(location)}")
        outcomes = _integrate_all(ctx, name, branches, [r.new for r in fetched])
        merged = [r.new for r, (status, _, _) in zip(fetched, outcomes, strict=True) if status != "conflicts"]
        _pull_tags(ctx, remote, merged, args.json, f"From {redact(location)}")
    finally:
        remote.close()
    if args.json:
        docs = [
            {
                "fetch": _transfer_json(result),
                "status": status,
                "commit": commit,
                "conflicts": [c.to_json() for c in conflicts],
            }
            for result, (status, commit, conflicts) in zip(fetched, outcomes, strict=True)
        ]
        emit_json(docs[0] if len(docs) == 1 else docs)
    for branch, (status, commit, conflicts) in zip(branches, outcomes, strict=True):
        if not args.json:
            _say_pulled(name, branch, status, commit, conflicts)
    return 1 if any(status == "conflicts" for status, _, _ in outcomes) else 0


def _pull_tags(ctx: Context, remote: Remote, heads: list[Any], json_out: bool, what: str) -> None:
    """Bring the remote's tags on the history the pull brought into the branches (``heads``: the
    remote's heads merged or fast-forwarded), as git's fetch follows tags. A tag the story's rules
    refuse is named in a warning; the pull stands."""
    from narrative_vcs.errors import GvcsError

    repo = ctx.repo
    try:
        tags = remote.following_tags(repo, heads, push=False)
        if not tags:
            return
        results = remote.fetch(repo, tags)
    except GvcsError as exc:
        sys.stderr.write(f"gvcs: warning: the remote's tags were not taken: {exc}\n")
        return
    _report_tags(results, json_out, what)


def _say_pulled(name: str, branch: str, status: str, commit: str | None, conflicts: list[Any]) -> None:
    if status == "up-to-date":
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


def _integrate_all(
    ctx: Context, name: str, branches: list[str], fetched: list[Any]
) -> list[tuple[str, str | None, list[Any]]]:
    """Fast-forward every branch that can be, in one update (so governance and the protected branch it
    decides are verified together); then merge the current branch if it diverged."""
    from narrative_vcs.errors import Refused
    from narrative_vcs.refs import RefMove, branch_ref

    repo = ctx.repo
    current = repo.head_branch()
    outcomes: dict[str, tuple[str, str | None, list[Any]]] = {}
    moves: list[RefMove] = []
    for branch, head in zip(branches, fetched, strict=True):
        local = repo.branch_head(branch)
        if local == head or (local is not None and repo.commits.is_ancestor(head, local)):
            outcomes[branch] = ("up-to-date", local, [])
        elif local is None or repo.commits.is_ancestor(local, head):
            moves.append(RefMove(branch_ref(branch), local, head))
            outcomes[branch] = ("fast-forward", head, [])
        elif branch != current:
            raise Refused(
                f"{branch} and {name}/{branch} have diverged: switch to {branch} and pull to merge them"
            )
    if moves:
        # The checked-out branch moves with its files, journaled (a kill leaves one state or the other).
        ctx.worktree.fast_forward(moves, who="gvcs pull", message=f"pull: fast-forward from {name}")
    for branch in branches:
        if branch not in outcomes:
            outcome = ctx.worktree.merge(
                f"{name}/{branch}", ctx.actor(), message=f"Merge {name}/{branch} into {branch}"
            )
            if outcome.status == "conflicts":
                outcomes[branch] = ("conflicts", None, list(outcome.conflicts))
            else:
                outcomes[branch] = ("merged", outcome.commit, [])
    return [outcomes[b] for b in branches]


def cmd_clone(args: argparse.Namespace) -> int:
    """``gvcs clone LOCATION [DIR]``: a new repository on disk with the history of every branch and
    the tags, from any remote (a store, a repository, a git URL)."""
    from narrative_vcs.errors import BadInput, NotFound
    from narrative_vcs.graph.factory import init_repository, redact, save_config
    from narrative_vcs.refs import HEADS, TAGS, branch_ref
    from narrative_vcs.remotes import check_location
    from narrative_vcs.types import RefName
    from narrative_vcs.worktree import WorkTree

    ctx = Context(args)
    location = check_location(args.location, ctx.cwd)
    directory = args.directory_name or _default_dir(location)
    root = (ctx.cwd / directory).resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise BadInput(f"{root} already exists and is not an empty directory")
    remote = open_location(location)
    created = not root.exists()
    try:
        refs = remote.refs()
        branches = sorted(r[len(HEADS) :] for r in refs if r.startswith(HEADS))
        if not branches:
            raise NotFound(f"{redact(location)} holds no branches to clone")
        head = remote.head_branch()
        if head not in branches:
            head = "main" if "main" in branches else branches[0]
        repo = init_repository(root, branch=head)
        WorkTree(root, repo).save_state()  # an empty checkout, which the checkout below fills
        ordered = sorted(branches, key=lambda b: b != head)
        pairs = [(branch_ref(b), branch_ref(b)) for b in ordered]
        pairs += [(RefName(ref), RefName(ref)) for ref in sorted(refs) if ref.startswith(TAGS)]
        remote.fetch(repo, pairs, progress=_progress("Reading"))
        for branch in ordered:
            _track(repo, "origin", branch, repo.branch_head(branch))
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
        emit_json({"directory": str(root), "branches": branches, "head": head})
    else:
        out(f"Cloned {redact(location)} into {root}: {len(branches)} branch(es), on {head}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """``gvcs fetch [NAME] [BRANCH...]``: bring a remote's branches (default: all of them) and the tags on
    them, and move ``refs/remotes/NAME/BRANCH``; the local branches and the work tree stay as they are."""
    from narrative_vcs.errors import NotFound
    from narrative_vcs.graph.factory import redact
    from narrative_vcs.refs import HEADS, branch_ref, validate_ref_name
    from narrative_vcs.types import RefName

    ctx = Context(args)
    name = _check_name(args.remote or _default_remote(ctx))
    location, remote = _remote(ctx, name)
    repo = ctx.repo
    with remote:
        theirs = remote.refs()
        if args.branch:
            branches = [validate_ref_name("branch", b) for b in dict.fromkeys(args.branch)]
            absent = [b for b in branches if branch_ref(b) not in theirs]
            if absent:
                raise NotFound(f"{redact(location)} has no branch {absent[0]!r}")
        else:
            branches = sorted(r[len(HEADS) :] for r in theirs if r.startswith(HEADS))
        pairs = [(branch_ref(b), RefName(f"refs/remotes/{name}/{b}")) for b in branches]
        results = remote.fetch(repo, pairs, progress=_progress("Reading")) if pairs else []
        tags = remote.following_tags(repo, [r.new for r in results], push=False)
        tagged = remote.fetch(repo, tags) if tags else []
    what = f"From {redact(location)}"
    if args.json:
        emit_json(
            {
                "remote": name,
                "branches": [_transfer_json(r) for r in results],
                "tags": [{"ref": r.ref, "new": r.new} for r in tagged],
            }
        )
        return 0
    if not results and not tagged:
        out(f"{what}: no branches")
    for branch, result in zip(branches, results, strict=True):
        if result.up_to_date:
            continue
        span = "[new branch]" if result.old is None else f"{result.old[:10]}..{result.new[:10]}"
        out(f"{what}: {span} {branch} -> {name}/{branch} ({result.commits} new commit(s))")
    if results and all(r.up_to_date for r in results) and not tagged:
        out(f"{what}: everything up to date")
    _report_tags(tagged, False, what)
    return 0


def _default_remote(ctx: Context) -> str:
    """``origin`` if there is one, else the only remote."""
    from narrative_vcs.errors import BadInput

    remotes = _remotes(ctx)
    if "origin" in remotes or not remotes:
        return "origin"
    if len(remotes) == 1:
        return next(iter(remotes))
    raise BadInput(f"which remote? name one of {', '.join(sorted(remotes))}")


def _default_dir(location: str) -> str:
    """The directory a clone makes when none is named: the last part of the location without ``.git``
    (``story`` for a gvcs server's ``/git``)."""
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    if "://" not in location:
        tail = os.path.basename(location.rstrip("/")).rsplit(":", 1)[-1]
    tail = tail.removesuffix(".git")
    if not tail or "@" in tail or ":" in tail or tail in ("git", ".", ".."):
        return "story"
    return tail
