"""``gvcs propose``, ``gvcs vote``, ``gvcs proposals`` and ``gvcs proposal show``: merges into protected
branches decided by votes (see docs/governance.md)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import Context, emit_json, out

if TYPE_CHECKING:
    from narrative_vcs.governance import ProposalState
    from narrative_vcs.governance.diff import ProposalDiff

__all__ = ["add_commands", "cmd_proposal_show", "cmd_proposals", "cmd_propose", "cmd_vote"]


def cmd_propose(args: argparse.Namespace) -> int:
    """``gvcs propose SOURCE --into TARGET -m MSG``: open a proposal to merge SOURCE into TARGET."""
    from narrative_vcs import governance
    from narrative_vcs.errors import BadInput

    if args.source is None and not args.hearing:
        raise BadInput("propose needs SOURCE (or --hearing for a decision that merges nothing)")
    if args.source is not None and args.hearing:
        raise BadInput("a hearing (--hearing) merges nothing: leave out SOURCE")
    ctx = Context(args)
    resolutions = _resolutions(args.resolve or [], ctx.cwd)
    number = governance.propose(
        ctx.repo, args.source, args.into, actor=ctx.actor(), message=args.message, resolutions=resolutions
    )
    state = governance.show(ctx.repo, number)
    if args.json:
        emit_json(state.to_json())
        return 0
    what = f"merge {state.source} into {state.target}" if state.source else f"hearing on {state.target}"
    out(f"proposal {number} opened: {what} (closes {_when(state.closes)})")
    out(
        f"  vote with: gvcs vote {number} yes|no"
        + (" --stake TOKENS" if state.rules.weight == "stake" else "")
    )
    return 0


def cmd_vote(args: argparse.Namespace) -> int:
    """``gvcs vote N yes|no [--stake TOKENS]``: vote; a deciding vote closes (and executes) the proposal."""
    from narrative_vcs import governance

    ctx = Context(args)
    actor = ctx.actor()
    before = _checked_out(ctx)
    state = governance.vote(ctx.repo, args.number, actor=actor, choice=args.choice, stake=args.stake)
    hint = _follow(ctx, before)
    if args.json:
        emit_json(state.to_json())
        return 0
    ballot = state.votes[actor]
    stake = f", {ballot.stake} token(s) staked" if ballot.stake else ""
    out(f"{actor} voted {ballot.choice} on proposal {state.number} (weight {ballot.weight:g}{stake})")
    out(f"  {_tally(state)}")
    out(f"proposal {state.number} {_outcome(state)}")
    if hint:
        out(hint)
    return 0


def cmd_proposals(args: argparse.Namespace) -> int:
    """``gvcs proposals [--status S]``: every proposal, oldest first (expired ones are closed first)."""
    from narrative_vcs import governance
    from narrative_vcs.errors import BadInput

    if args.status is not None and args.status not in governance.STATUSES:
        raise BadInput(f"unknown status {args.status!r}: use {', '.join(governance.STATUSES)}")
    ctx = Context(args)
    governance.close_expired(ctx.repo)
    found = governance.list_proposals(ctx.repo, status=args.status)
    if args.json:
        emit_json([p.to_json() for p in found])
        return 0
    if not found:
        out("No proposals." if args.status is None else f"No {args.status} proposals.")
    for p in found:
        what = f"{p.source} -> {p.target}" if p.source else f"hearing on {p.target}"
        out(f"#{p.number:<4} {p.status:9} {what}  [{_tally(p)}]  {p.message.splitlines()[0]}")
    return 0


def cmd_proposal_show(args: argparse.Namespace) -> int:
    """``gvcs proposal show N``: one proposal, its votes, tally and result, and what it merges."""
    from narrative_vcs import governance
    from narrative_vcs.governance.diff import proposal_diff

    ctx = Context(args)
    governance.close_expired(ctx.repo)
    p = governance.show(ctx.repo, args.number)
    diff = None if args.no_diff else proposal_diff(ctx.repo, p)
    if args.json:
        emit_json({**p.to_json(), **({} if diff is None else {"diff": diff.to_json()})})
        return 0
    what = f"merge {p.source} ({_short(p.source_head)}) into {p.target}" if p.source else "hearing"
    out(f"proposal {p.number}: {what} ({_short(p.target_head)} when opened)")
    out(f"status:   {p.status}")
    out(f"proposer: {p.proposer}")
    out(f"opened:   {_when(p.opened)}")
    out(f"closes:   {_when(p.closes)}")
    rules = p.rules
    stake = f", stake {rules.stake} from {rules.ledger}" if rules.weight == "stake" else ""
    out(f"rules:    quorum {rules.quorum}, yes share above {rules.threshold:g}, weight {rules.weight}{stake}")
    out(f"tally:    {_tally(p)}")
    for v in sorted(p.votes.values(), key=lambda v: (v.time, v.actor)):
        stake = f", stake {v.stake}" if v.stake else ""
        out(f"  {v.actor:<16} {v.choice:3}  weight {v.weight:g}{stake}  {_when(v.time)}")
    for path, resolution in sorted(p.to_json()["resolutions"].items()):
        out(f"resolves: {path} ({resolution})")
    if p.result is not None:
        out(f"result:   {_outcome(p)}")
    out("")
    for line in p.message.splitlines():
        out(f"    {line}")
    if diff is not None:
        _diff_lines(p, diff, args.word_diff)
    return 0


def _diff_lines(p: ProposalState, diff: ProposalDiff, word_diff: bool) -> None:
    """What the proposal merges, as ``gvcs diff`` shows a semantic diff, under a line saying what it is."""
    from .semdiff_text import semantic_lines

    if diff.basis == "hearing":
        return
    out("")
    span = f"{_short(diff.old) or '(empty story)'}..{_short(diff.new)}"
    if diff.basis == "merged":
        out(f"diff: what the merge changed on {p.target}, {span} ({len(diff.changes)} file(s))")
    else:
        out(f"diff: what {p.source} brings to {p.target}, {span} ({len(diff.changes)} file(s))")
    if not diff.changes:
        out("  (nothing: the target already has it)")
    for line in semantic_lines(diff.changes, word_diff=word_diff):
        out(line)


# --- helpers ----------------------------------------------------------------------------------------


def _resolutions(items: list[str], cwd: Path) -> dict[str, str | bytes | None]:
    """``--resolve PATH=SIDE`` (ours, theirs, base, union, delete) or ``PATH=@FILE``; PATH: a page id too."""
    from narrative_vcs.errors import BadInput, NotFound

    found: dict[str, str | bytes | None] = {}
    for item in items:
        item_path, sep, how = item.partition("=")
        if not sep or not item_path or not how:
            raise BadInput(f"--resolve {item!r}: use PATH=ours|theirs|base|union|delete or PATH=@FILE")
        path = item_path if "/" in item_path else f"pages/{item_path}.md"
        if path in found:
            raise BadInput(f"{path} is resolved twice")
        if how.startswith("@"):
            try:
                found[path] = (cwd / how[1:]).read_bytes()
            except OSError as exc:
                raise NotFound(f"cannot read {how[1:]}: {exc.strerror}") from None
        else:
            found[path] = None if how == "delete" else how
    return found


def _checked_out(ctx: Context) -> tuple[str, Any] | None:
    from narrative_vcs.errors import GvcsError

    try:
        worktree = ctx.worktree
    except (GvcsError, OSError):  # no work-tree state to follow
        return None
    if worktree.branch is None:  # HEAD detached: nothing to follow
        return None
    return worktree.branch, worktree.commit_id


def _follow(ctx: Context, before: tuple[str, Any] | None) -> str | None:
    """Bring the work tree up to its branch when the vote moved it (a merge, a stake taken from the
    ledger); edits are kept. A clash leaves the work tree as it was: returns a hint to print."""
    from narrative_vcs.errors import Refused

    if before is None:
        return None
    branch, commit = before
    worktree = ctx.worktree
    if ctx.repo.branch_head(branch) == commit or worktree.merge_state() is not None:
        return None
    try:
        worktree.switch(branch)
    except Refused:
        return f"(the work tree is behind {branch}: gvcs switch {branch} updates it)"
    return None


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(oid: str | None) -> str:
    return (oid or "")[:10]


def _tally(p: ProposalState) -> str:
    t = p.tally
    share = "-" if t.share is None else f"{t.share:.0%}"
    needs = f"more than {t.threshold:.0%}"
    return f"{t.voters}/{t.quorum} votes, yes {t.yes:g} no {t.no:g} ({share} yes, needs {needs})"


def _outcome(p: ProposalState) -> str:
    r = p.result
    if r is None:
        return f"is {p.status}" + (f" until {_when(p.closes)}" if p.status == "open" else "")
    if r.status == "merged":
        note = f", re-checked on {_short(r.target_head)}" if r.rechecked else ""
        return f"executed: merged {p.source} into {p.target} as {_short(r.commit)}{note}"
    if r.status == "up-to-date":
        return f"executed: {p.target} already had {p.source}"
    if r.status == "decided":
        return "executed: hearing passed, the decision is recorded"
    if r.status == "conflicts":
        return f"failed: the merge into {p.target} conflicts in {', '.join(r.conflicts)}"
    return f"{p.status}: {r.reason}"


def add_commands(sub: Any, command: Any, json_flag: Any) -> None:
    """Register the governance commands on the ``gvcs`` parser."""
    p = command(sub, "propose", "governance:cmd_propose", "propose merging SOURCE into a (protected) branch")
    p.add_argument("source", nargs="?", metavar="SOURCE", help="the branch to merge (omit with --hearing)")
    p.add_argument("--into", required=True, metavar="TARGET", help="the branch to merge into")
    p.add_argument("-m", "--message", required=True, help="what the proposal is for")
    p.add_argument("--hearing", action="store_true", help="a decision to vote on that merges nothing")
    p.add_argument(
        "--resolve",
        action="append",
        metavar="PATH=HOW",
        help="settle a conflict when the merge executes: PATH=ours|theirs|base|union|delete or PATH=@FILE",
    )
    json_flag(p)

    p = command(sub, "vote", "governance:cmd_vote", "vote yes or no on an open proposal")
    p.add_argument("number", type=int, metavar="N", help="the proposal's number (gvcs proposals)")
    p.add_argument("choice", choices=("yes", "no"), help="your vote")
    p.add_argument("--stake", type=int, default=0, metavar="TOKENS", help="tokens to stake (weight: stake)")
    json_flag(p)

    p = command(sub, "proposals", "governance:cmd_proposals", "list governance proposals")
    p.add_argument("--status", default=None, help="only proposals with this status (open, executed, ...)")
    json_flag(p)

    from .main import Parser

    p = command(sub, "proposal", "governance:cmd_proposal_show", "show a governance proposal")
    proposal = p.add_subparsers(dest="proposal_command", metavar="<show>", parser_class=Parser)
    proposal.required = True
    a = proposal.add_parser("show", help="one proposal: votes, tally, result and what it merges")
    a.set_defaults(target="governance:cmd_proposal_show")
    a.add_argument("number", type=int, metavar="N", help="the proposal's number (gvcs proposals)")
    a.add_argument("--no-diff", action="store_true", help="leave out what the proposal merges")
    a.add_argument("--word-diff", action="store_true", help="rewritten paragraphs word by word")
    json_flag(a)
