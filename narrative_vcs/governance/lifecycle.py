"""The life of a proposal: open it, vote on it, execute its merge, close it when its window ends.

Every step is a commit on the ``governance`` branch that rewrites ``proposals/<n>.yaml`` (kinds
``proposal.opened``, ``proposal.vote``, ``proposal.executed``), made by compare-and-swap: a writer that
loses the race reads the proposal again and re-checks it (a second vote by the same actor is then refused,
a proposal closed meanwhile is left closed). The governance branch holds only ``proposals/`` and the
records of the actors who took part (a commit's author must be in its snapshot); it shares no history
with the story.

Passing executes the merge of the source as it was when the proposal opened (what the voters saw) into
the target as it is now: a target that moved is re-checked by merging again on its current head. A clean
merge, or one the proposal's resolutions settle, is committed on the target with two parents and kind
``merge`` (the one way past branch protection, ``Gvcs-Proposal: <n>``), then announced to the
:data:`~narrative_vcs.governance.hooks.on_narrative_change` hooks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, BranchMoved, GvcsError, MergeConflicts, NotFound, Refused
from ..objects import Actor, Page, event_trailer, validate_id
from ..records import replace
from ..refs import RefMove, branch_ref, validate_ref_name
from ..types import ObjectId
from . import ledger, transitions
from .proposal import (
    CHOICES,
    ProposalResult,
    ProposalState,
    ResolutionValue,
    Vote,
    check_resolutions,
    proposal_path,
)
from .rules import GOVERNANCE_BRANCH, GovernanceRules, rules_of

if TYPE_CHECKING:
    from ..merge.contents import Conflict
    from ..repository import ChangeSet, Repository

__all__ = ["close_expired", "execute", "list_proposals", "propose", "show", "vote"]

_TRIES = 50
_NAME = re.compile(r"(0|[1-9][0-9]{0,17})\.yaml")


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else int(now)


# --- reading --------------------------------------------------------------------------------------


def _numbers(repo: Repository, head: ObjectId | None) -> list[int]:
    if head is None:
        return []
    names = repo.snapshots.list_dir(repo.commits.get(head).tree, "proposals")
    return sorted(int(m.group(1)) for name in names if (m := _NAME.fullmatch(name)))


def _read(repo: Repository, number: int, head: ObjectId | None) -> ProposalState:
    return _read_many(repo, [number], head)[0]


def _read_many(
    repo: Repository, numbers: list[int], head: ObjectId | None, *, commits: bool = True
) -> list[ProposalState]:
    """The proposals ``numbers`` at governance commit ``head``; with ``commits``, each with the commit
    that last changed it (a walk of the governance history)."""
    tree = None if head is None else repo.commits.get(head).tree
    found = []
    for number in numbers:
        blob = None if tree is None else repo.snapshots.blob_id(tree, proposal_path(number))
        if blob is None:
            raise NotFound(f"no proposal {number} (gvcs proposals lists them)")
        found.append(_parsed(repo, number, blob))
    if not commits:
        return found
    changed = _last_changes(repo, head, {p.number for p in found})
    return [replace(p, commit=changed.get(p.number)) for p in found]


_PARSED: dict[ObjectId, ProposalState] = {}  # by blob id: a blob never changes, so neither does its parse


def _parsed(repo: Repository, number: int, blob: ObjectId) -> ProposalState:
    state = _PARSED.get(blob)
    if state is None or state.number != number:
        if len(_PARSED) >= 10_000:
            _PARSED.clear()
        state = _PARSED[blob] = ProposalState.parse(number, repo.read_blob(blob))
    return state


def _last_changes(repo: Repository, head: ObjectId | None, numbers: set[int]) -> dict[int, ObjectId]:
    """The governance commit that last wrote each proposal: one walk back until all are found (each
    governance commit changes one proposal, so a commit's diff against its parent is a few files)."""
    out: dict[int, ObjectId] = {}
    if head is None:
        return out
    wanted = {proposal_path(n): n for n in numbers}
    for info in repo.commits.walk([head], first_parent=True):
        parent = repo.commits.get(info.parents[0]).tree if info.parents else None
        for change in repo.snapshots.diff(parent, info.tree):
            number = wanted.pop(change.path, None)
            if number is not None:
                out[number] = info.id
        if not wanted:
            break
    return out


def list_proposals(repo: Repository, *, status: str | None = None) -> list[ProposalState]:
    """Every proposal, by number (``status``: only those). A pure read: see :func:`close_expired`."""
    head = repo.branch_head(GOVERNANCE_BRANCH)
    found = _read_many(repo, _numbers(repo, head), head)
    return [p for p in found if status is None or p.status == status]


def show(repo: Repository, number: int) -> ProposalState:
    """Proposal ``number`` as it stands (NotFound if there is none). A pure read."""
    _check_number(number)
    return _read(repo, number, repo.branch_head(GOVERNANCE_BRANCH))


def _check_number(number: object) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise BadInput(f"a proposal number is a whole number from 1, not {number!r}")
    return number


# --- writing --------------------------------------------------------------------------------------


def _actor_record(repo: Repository, actor: str, branch: str, head: ObjectId) -> Actor:
    validate_id("actor", actor)
    try:
        return repo.read_actor(actor, head)
    except NotFound:
        raise NotFound(f"unknown actor {actor!r}: {branch} has no actors/{actor}.yaml") from None


def _write(
    repo: Repository,
    state: ProposalState,
    *,
    head: ObjectId | None,
    author: Actor,
    kind: str,
    subject: str,
    now: int,
    event_id: str | None = None,
) -> ProposalState:
    """Commit ``state`` as ``proposals/<n>.yaml`` on the governance branch if it is still at ``head``."""
    changes, event = _proposal_change(state, author)
    oid = repo.commit(
        GOVERNANCE_BRANCH,
        changes,
        actor=author.id,
        message=subject,
        expected_head=head,
        kind=kind,
        event=event,
        event_id=event_id,
        timestamp=now,
    )
    return replace(state, commit=oid)


def _write_commit(
    repo: Repository,
    state: ProposalState,
    *,
    head: ObjectId | None,
    author: Actor,
    kind: str,
    subject: str,
    now: int,
    alone: bool,
) -> ObjectId:
    """The commit of ``state`` on the governance head ``head``, written but not yet on the branch."""
    changes, event = _proposal_change(state, author)
    return repo.write_commit(
        GOVERNANCE_BRANCH,
        head,
        changes,
        actor=author.id,
        message=subject,
        kind=kind,
        facts={"Gvcs-Event": event_trailer(event)},
        timestamp=now,
        alone=alone,
    )


def _proposal_change(state: ProposalState, author: Actor) -> tuple[ChangeSet, dict[str, Any]]:
    from ..repository import ChangeSet

    changes = ChangeSet().put_file(proposal_path(state.number), state.serialise()).upsert_actor(author)
    event = {"proposal": state.number, "status": state.status, "source": state.source, "target": state.target}
    return changes, event


def propose(
    repo: Repository,
    source: str | None,
    target: str,
    *,
    actor: str,
    message: str,
    event_id: str | None = None,
    resolutions: Mapping[str, ResolutionValue] | None = None,
    now: int | None = None,
) -> int:
    """Open a proposal to merge ``source`` into ``target``; return its number.

    ``source`` None opens a hearing: it is voted on like any proposal and passing records the decision
    without merging anything. The merge must be clean on the target's head, or every conflict must be
    settled by ``resolutions`` (path -> side, new content, or None to remove the file). With an
    ``event_id`` that an earlier proposal already carries, that proposal's number is returned and nothing
    is written (a retried event opens one proposal).
    """
    when = _now(now)
    validate_id("actor", actor)
    if not isinstance(message, str) or not message.strip():
        raise BadInput("a proposal needs a message (-m MESSAGE)")
    target_head = _branch_head(repo, target, "target")
    rules = _rules_at(repo, target_head)
    author = _actor_record(repo, actor, target, target_head)
    settled = check_resolutions(resolutions or {})
    source_head = None
    if source is not None:
        source_head = _branch_head(repo, source, "source")
        if source == target:
            raise BadInput(f"a proposal merges one branch into another, not {source} into itself")
        _check_mergeable(repo, source, target, target_head, source_head, settled)
    elif settled:
        raise BadInput("a hearing (no source) merges nothing: it takes no resolutions")
    for _ in range(_TRIES):
        head = repo.branch_head(GOVERNANCE_BRANCH)
        numbers = _numbers(repo, head)
        if event_id is not None:
            for earlier in _read_many(repo, numbers, head, commits=False):
                if earlier.event_id == event_id:
                    return earlier.number
        number = (numbers[-1] if numbers else 0) + 1
        state = transitions.opened(
            number,
            source=source,
            source_head=source_head,
            target=target,
            target_head=target_head,
            message=message,
            proposer=actor,
            when=when,
            rules=rules,
            resolutions=settled,
            event_id=event_id,
        )
        what = f"merge {source} into {target}" if source is not None else f"hearing on {target}"
        subject = f"Proposal {number}: {what}\n\n{state.message}"
        try:
            _write(
                repo,
                state,
                head=head,
                author=author,
                kind="proposal.opened",
                subject=subject,
                now=when,
                event_id=event_id,
            )
        except BranchMoved:
            continue
        return number
    raise Refused("the governance branch kept moving: no proposal was opened")


def _branch_head(repo: Repository, name: object, what: str) -> ObjectId:
    if not isinstance(name, str):
        raise BadInput(f"the {what} must be a branch name")
    validate_ref_name("branch", name)
    if name == GOVERNANCE_BRANCH:
        raise BadInput(f"the {GOVERNANCE_BRANCH} branch holds proposals: it cannot be a {what}")
    head = repo.branch_head(name)
    if head is None:
        raise NotFound(f"branch {name!r} not found")
    return head


def _rules_at(repo: Repository, head: ObjectId) -> GovernanceRules:
    try:
        return rules_of(repo.read_story_record(head))
    except BadInput as exc:
        raise BadInput(f"story.yaml: {exc}") from None


def _check_mergeable(
    repo: Repository,
    source: str,
    target: str,
    target_head: ObjectId,
    source_head: ObjectId,
    resolutions: Mapping[str, ResolutionValue],
) -> None:
    preview = repo.merge_preview(target_head, source_head)
    if preview.up_to_date:
        raise Refused(f"{target} already has every commit of {source}: there is nothing to propose")
    unsettled = _unsettled(preview.result.conflicts, resolutions)
    if unsettled:
        raise MergeConflicts(
            f"merging {source} into {target} conflicts; settle every conflict with a resolution "
            f"or merge {target} into {source} first",
            unsettled,
        )
    _check_resolved_files(repo, preview, source_head, resolutions)


def _check_resolved_files(
    repo: Repository, preview: Any, source_head: ObjectId, resolutions: Mapping[str, ResolutionValue]
) -> None:
    """What the resolutions write must be pages and records that parse: voters vote on a merge that can
    be made (the same check as when the merge is made)."""
    from ..repo.merging import resolved_files
    from ..repository import path_kind

    files = resolved_files(
        repo.snapshots,
        repo.commits.get(preview.ours).tree,
        repo.commits.get(source_head).tree,
        preview.base_tree,
        resolutions,
    )
    for path, data in files.items():
        kind, item = path_kind(path)
        if data is not None and kind == "page" and item:
            Page.parse(item, data, path)
        elif data is not None and kind == "actor" and item:
            Actor.parse(item, data, path)


def _unsettled(conflicts: list[Conflict], resolutions: Mapping[str, ResolutionValue]) -> list[Conflict]:
    return [c for c in conflicts if c.path not in resolutions]


# --- voting ---------------------------------------------------------------------------------------


def vote(
    repo: Repository,
    number: int,
    *,
    actor: str,
    choice: str,
    stake: int = 0,
    now: int | None = None,
) -> ProposalState:
    """Vote ``yes`` or ``no`` on an open proposal; one vote per actor (a second one is refused).

    Who votes: the actors of the target as it was when the proposal opened. Under ``weight: stake`` the
    vote stakes ``stake`` tokens (1 or more) from the actor's balance in the ledger (burned, or locked
    until the proposal closes) and weighs ``sqrt(stake)``: the stake and the vote are two commits (one
    on the ledger branch, one on the governance branch) that land together or not at all. Otherwise every
    vote weighs 1 and ``stake`` must be 0. When this vote decides the proposal (it passes, or can no
    longer pass) it is closed at once: a passed proposal is executed before this returns.
    """
    when = _now(now)
    _check_number(number)
    validate_id("actor", actor)
    if choice not in CHOICES:
        raise BadInput(f"a vote is yes or no, not {choice!r}")
    if isinstance(stake, bool) or not isinstance(stake, int) or stake < 0:
        raise BadInput(f"a stake is a whole number of tokens (0 or more), not {stake!r}")
    close_expired(repo, now=when)
    state = show(repo, number)
    _check_can_vote(state, actor, when)
    voters = transitions.electorate(repo, state)
    if actor not in voters:
        raise NotFound(
            f"unknown actor {actor!r}: {state.target} had no actors/{actor}.yaml when proposal {number} "
            "opened (the actors of then vote on it)"
        )
    author = _actor_record(repo, actor, state.target, state.target_head)
    rules = state.rules
    if rules.weight == "stake" and stake < 1:
        raise BadInput(f"proposal {number} is weighted by stake: vote with --stake TOKENS (1 or more)")
    if rules.weight != "stake" and stake:
        raise BadInput(f"proposal {number} counts one vote per actor: it takes no stake")
    decided = _record_vote(repo, number, author, choice, stake, when, voters)
    if decided.status == "passed":
        return _carry_out(repo, decided, when)
    if decided.status == "rejected":
        _return_locked(repo, decided, when)
    return decided


def _check_can_vote(state: ProposalState, actor: str, when: int) -> None:
    if state.status != "open":
        raise Refused(f"proposal {state.number} is {state.status}: voting has ended")
    if actor in state.votes:
        earlier = state.votes[actor].choice
        raise Refused(f"{actor} already voted {earlier} on proposal {state.number}: one vote per actor")
    if when >= state.closes:
        raise Refused(f"proposal {state.number}'s window has ended: voting has ended")


def _record_vote(
    repo: Repository,
    number: int,
    author: Actor,
    choice: str,
    stake: int,
    when: int,
    voters: frozenset[str],
) -> ProposalState:
    """Commit the vote (and its stake) on the heads as they are now; on a race, read them again."""
    for _ in range(_TRIES):
        head = repo.branch_head(GOVERNANCE_BRANCH)
        state = _read(repo, number, head)
        _check_can_vote(state, author.id, when)
        moves: list[RefMove] = []
        stake_commit = None
        if stake:
            how = "burn" if state.rules.stake == "burn" else "lock"
            ledger_branch = state.rules.ledger
            ledger_head = repo.branch_head(ledger_branch)
            stake_commit = ledger.stake_commit(
                repo, ledger_branch, ledger_head, author.id, how, stake, number, when
            )
            moves.append(RefMove(branch_ref(ledger_branch), ledger_head, stake_commit))
        ballot = Vote(author.id, choice, stake, state.rules.vote_weight(stake), when, stake_commit)
        counted = transitions.voted(state, ballot, voters)
        subject = f"Vote {choice} on proposal {number}"
        if counted.status != "open":
            subject += f": {counted.status}"
        oid = _write_commit(
            repo,
            counted,
            head=head,
            author=author,
            kind="proposal.vote",
            subject=subject,
            now=when,
            alone=not stake,
        )
        moves.append(RefMove(branch_ref(GOVERNANCE_BRANCH), head, oid))
        try:
            repo.move_refs(moves, who=f"{author.name} <{author.email}>", message=f"vote: {subject}")
        except BranchMoved:
            continue
        return replace(counted, commit=oid)
    raise Refused(f"the governance branch kept moving: the vote on proposal {number} was not recorded")


def _return_locked(repo: Repository, state: ProposalState, when: int) -> None:
    """Give back the stakes a closed proposal locked (``stake: lock``), one commit per actor; a stake
    already given back (its event id is on the ledger branch) is not given twice."""
    for actor, amount in sorted(state.locked().items()):
        ledger.return_stake(repo, state.rules.ledger, actor, amount, state.number, when)


# --- executing and closing ------------------------------------------------------------------------


def execute(repo: Repository, number: int, *, now: int | None = None) -> ProposalState:
    """Carry out a passed proposal: merge it (re-checked on the target's current head) and record the
    result as a ``proposal.executed`` commit. An open proposal whose window has ended is closed first
    (executed if its tally passes). Anything else is refused."""
    when = _now(now)
    state = show(repo, _check_number(number))
    if state.status == "open" and state.closes <= when:
        return _close(repo, state, when)
    if state.status != "passed":
        tally = state.tally
        raise Refused(
            f"proposal {number} is {state.status} ({tally.voters} vote(s), quorum {tally.quorum}): "
            "only a passed proposal is executed"
        )
    return _carry_out(repo, state, when)


def close_expired(repo: Repository, *, now: int | None = None) -> list[int]:
    """Close every open proposal whose window has ended: executed if its tally passes, else rejected
    (quorum reached) or expired. A passed proposal whose execution was interrupted is executed too once
    its window has ended (before that, the process that decided it may still be executing it). Returns
    the numbers of the proposals closed."""
    when = _now(now)
    closed = []
    head = repo.branch_head(GOVERNANCE_BRANCH)
    for state in _read_many(repo, _numbers(repo, head), head, commits=False):
        if state.status in ("open", "passed") and state.closes <= when:
            after = _close(repo, state, when)
            if after.closed:
                closed.append(state.number)
    return closed


def _close(repo: Repository, state: ProposalState, when: int) -> ProposalState:
    ending = transitions.closing(state, when)
    if ending is None:
        return _carry_out(repo, state, when)
    status, reason = ending
    result = ProposalResult(status, when, reason=reason, returned=state.locked())
    final, wrote = _record_result(repo, state.number, status, result, when)
    if wrote:
        _return_locked(repo, final, when)
    return final


def _carry_out(repo: Repository, state: ProposalState, when: int) -> ProposalState:
    """Execute a proposal that passed and record how it went (``executed`` or ``failed``)."""
    if state.hearing:
        result = ProposalResult("decided", when, reason="hearing: the decision is recorded")
    else:
        result = _merge(repo, state, when)[0]
    ok = result.status in ("merged", "up-to-date", "decided")
    result = replace(result, returned=state.locked())
    final, wrote = _record_result(repo, state.number, "executed" if ok else "failed", result, when)
    if not wrote:
        return final  # another process closed it first
    _return_locked(repo, final, when)
    return final


def _merge(repo: Repository, state: ProposalState, when: int) -> tuple[ProposalResult, ObjectId | None]:
    """Merge the proposal's source head into its target's current head; (result, the head before)."""
    assert state.source_head is not None
    message = f"Merge {state.source} into {state.target} (proposal {state.number})\n\n{state.message}"
    for _ in range(_TRIES):
        current = repo.branch_head(state.target)
        if current is None:
            return ProposalResult("error", when, reason=f"branch {state.target!r} no longer exists"), None
        recheck = current != state.target_head
        base = ProposalResult("error", when, target_head=current, rechecked=recheck)
        try:
            # A merge commit even where a fast-forward would do: the target's history shows the decision.
            outcome = repo.merge(
                state.target,
                state.source_head,
                actor=state.proposer,
                expected_head=current,
                message=message,
                no_ff=True,
                timestamp=when,
                proposal=state.number,
            )
            if outcome.status == "up-to-date":
                return _result(base, "up-to-date", commit=current), current
            if outcome.status == "conflicts":
                unsettled = _unsettled(outcome.conflicts, state.resolutions)
                if unsettled:
                    paths = tuple(sorted({c.path for c in unsettled}))
                    reason = f"the merge on {current[:10]} conflicts in {', '.join(paths)}"
                    return _result(base, "conflicts", conflicts=paths, reason=reason), current
                needed = {c.path: state.resolutions[c.path] for c in outcome.conflicts}
                outcome = repo.merge_resolved(
                    state.target,
                    state.source_head,
                    needed,
                    actor=state.proposer,
                    expected_head=current,
                    message=message,
                    timestamp=when,
                    proposal=state.number,
                )
        except BranchMoved:
            continue  # the target moved while merging: re-check on its new head
        except GvcsError as exc:
            conflicts = (
                tuple(sorted({c.path for c in exc.conflicts})) if isinstance(exc, MergeConflicts) else ()
            )
            return _result(base, "error", conflicts=conflicts, reason=str(exc)), current
        return _result(base, "merged", commit=outcome.commit), current
    return ProposalResult("error", when, reason=f"{state.target} kept moving; the merge was not made"), None


def _result(base: ProposalResult, status: str, **changes: Any) -> ProposalResult:
    return replace(base, status=status, **changes)


def _record_result(
    repo: Repository, number: int, status: str, result: ProposalResult, when: int
) -> tuple[ProposalState, bool]:
    """Write the closing ``proposal.executed`` commit; (the proposal, whether this call closed it). A
    proposal another process closed meanwhile is left as that process closed it."""
    for _ in range(_TRIES):
        head = repo.branch_head(GOVERNANCE_BRANCH)
        state = _read(repo, number, head)
        if state.closed:
            return state, False
        author = _closing_author(repo, state, head)
        final = state.changed(status=status, result=result)
        detail = {
            "merged": f"merged as {(result.commit or '')[:10]}",
            "up-to-date": f"{state.target} already had it",
            "decided": "decision recorded",
        }.get(result.status, result.reason)
        subject = f"Proposal {number} {status}: {detail}"
        try:
            written = _write(
                repo, final, head=head, author=author, kind="proposal.executed", subject=subject, now=when
            )
        except BranchMoved:
            continue
        return written, True
    raise Refused(f"the governance branch kept moving: proposal {number} was not closed")


def _closing_author(repo: Repository, state: ProposalState, head: ObjectId | None) -> Actor:
    """The proposer signs the closing commit; their record is on the governance branch already."""
    assert head is not None
    return repo.read_actor(state.proposer, head)
