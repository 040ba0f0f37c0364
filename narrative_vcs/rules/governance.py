"""The governance branch is the engine's: every commit on it is a step of a proposal, verified by replay.

Each commit on ``governance`` changes one ``proposals/<n>.yaml`` (and perhaps its author's own record)
and must hold exactly what the step gives when taken again with :mod:`narrative_vcs.governance.transitions`
on the proposal as its parent had it:

- ``proposal.opened``: the next number; the proposer is the commit's author and an actor of the target
  at ``target_head``; the rules are story.yaml's at ``target_head``; nothing voted yet.
- ``proposal.vote``: the voter is the commit's author, an actor of the target when the proposal opened,
  voting once, inside the window (at or after the commit before it); the weight follows the rules (one,
  or the square root of a stake that a ``stake.burn`` or ``stake.lock`` commit on the ledger branch took,
  named in the vote); the tally and the decision are worked out again.
- ``proposal.executed``: signed by the proposer, on a passed proposal or one whose window ended; the
  status follows from the tally, locked stakes go back as the votes say, a merge result names the merge.

The branch moves only forward, one step at a time, and is never deleted; proposal commits live nowhere
else. Commit times only go forward along it. A ``stake.unlock`` on the ledger branch gives back exactly
what a closed proposal's result says it returns.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, NoReturn

from ..errors import BadInput, NotFound
from ..gate import CommitCheck, MoveCheck, Rule
from ..governance.rules import GOVERNANCE_BRANCH, check_story_settings, rules_of
from ..history import CommitInfo
from ..objects import Story
from ..records import replace
from ..types import ObjectId, RefName
from .commits import PROPOSAL_KINDS, a

if TYPE_CHECKING:
    from ..governance.proposal import ProposalResult, ProposalState
    from ..repository import Repository

# The engine's modules (proposals, transitions) are imported where a proposal is looked at: most
# commits are not governance steps, and short commands should not pay for loading them.

__all__ = ["GovernanceBranch", "proposal_at"]

_NAME = re.compile(r"proposals/(0|[1-9][0-9]{0,17})\.yaml")
GOVERNANCE_REF = f"refs/heads/{GOVERNANCE_BRANCH}"


def proposal_at(repo: Repository, head: ObjectId | None, number: int) -> ProposalState | None:
    """Proposal ``number`` as the governance commit ``head`` has it (None without one)."""
    from ..governance.proposal import ProposalState, proposal_path

    if head is None:
        return None
    blob = repo.snapshots.blob_id(repo.commits.get(head).tree, proposal_path(number))
    return None if blob is None else ProposalState.parse(number, repo.read_blob(blob))


class GovernanceBranch(Rule):
    name = "governance"

    # --- each commit --------------------------------------------------------------------------------

    def check_commit(self, check: CommitCheck) -> None:
        for change in check.changes:
            if change.path == Story.PATH and change.new is not None:
                story = Story.parse(check.repo.read_blob(change.new))
                try:
                    check_story_settings(story)
                except BadInput as exc:
                    check.fail(self.name, str(exc))
                if rules_of(story).ledger == GOVERNANCE_BRANCH:
                    check.fail(self.name, "story.yaml: governance.ledger cannot be the governance branch")
        if check.info.kind in PROPOSAL_KINDS:
            _Replay(self.name, check).run()

    def companions(self, repo: Repository, ref: RefName, head: ObjectId) -> list[ObjectId]:
        """The commits the proposals name: what a copy of the governance branch needs to verify it."""
        from ..governance.proposal import ProposalState

        if ref != GOVERNANCE_REF:
            return []
        found: list[ObjectId] = []
        for name, blob in repo.snapshots.list_dir(repo.commits.get(head).tree, "proposals").items():
            m = _NAME.fullmatch(f"proposals/{name}")
            if m is None:
                continue
            try:
                state = ProposalState.parse(int(m.group(1)), repo.read_blob(blob))
            except BadInput:
                continue
            found.append(state.target_head)
            found.extend(oid for oid in (state.source_head, state.result and state.result.commit) if oid)
            found.extend(v.stake_commit for v in state.votes.values() if v.stake_commit)
        return found

    # --- each move ----------------------------------------------------------------------------------

    def check_move(self, check: MoveCheck) -> None:
        move = check.move
        if move.ref == GOVERNANCE_REF:
            self._governance_move(check)
        elif move.new is not None and move.ref.startswith(("refs/heads/", "refs/tags/")):
            tip = check.repo.commits.get(move.new)
            for info in [tip, *check.new_commits]:
                if info.kind in PROPOSAL_KINDS:
                    where = f"{info.kind} commits belong on the {GOVERNANCE_BRANCH} branch"
                    check.fail(self.name, where, info)
                for parent in info.parents[1:]:  # a merge would bring governance's history along
                    if check.repo.commits.get(parent).kind in PROPOSAL_KINDS:
                        where = f"the {GOVERNANCE_BRANCH} branch is not merged into other branches"
                        check.fail(self.name, where, info)
        for info in check.new_commits:
            if info.kind == "gift.txn.v1":
                self._check_unlock(check, info)

    def _governance_move(self, check: MoveCheck) -> None:
        if check.move.new is None:
            check.fail(
                self.name, f"the {GOVERNANCE_BRANCH} branch holds every proposal: it cannot be deleted"
            )
        line = check.first_parents()
        if line is None:
            check.fail(
                self.name,
                f"the {GOVERNANCE_BRANCH} branch only moves forward, one proposal step at a time: "
                "it cannot be forced or rewritten",
            )
        for info in line:
            if info.kind not in PROPOSAL_KINDS or len(info.parents) > 1:
                check.fail(
                    self.name,
                    f"only governance writes the {GOVERNANCE_BRANCH} branch (gvcs propose, vote): "
                    f"{a(info.kind)} commit cannot go there",
                    info,
                )
            if info.kind == "proposal.vote":
                self._check_stake(check, info)

    def _check_stake(self, check: MoveCheck, info: CommitInfo) -> None:
        """A staked vote's stake is a stake commit of that voter, proposal and amount on the ledger."""
        from ..events.index import index_of

        repo = check.repo
        number = _changed_proposal(repo, info)
        state = proposal_at(repo, info.id, number)
        if state is None or info.actor not in state.votes:
            return  # the replay refused this commit already
        vote = state.votes[info.actor]
        if not vote.stake:
            return
        ledger_head = check.head(f"refs/heads/{state.rules.ledger}")
        stake = vote.stake_commit
        if stake is None or ledger_head is None or not repo.objects.has(stake):
            check.fail(self.name, f"the vote's stake of {vote.stake} was never taken from the ledger", info)
        taken = repo.commits.get(stake)
        how = "burn" if state.rules.stake == "burn" else "lock"
        wanted = {"type": f"stake.{how}", "actor": info.actor, "amount": vote.stake, "proposal": number}
        if taken.kind != "gift.txn.v1" or taken.event != wanted:
            check.fail(self.name, f"commit {stake[:10]} is not the stake this vote names", info)
        index = index_of(repo)
        index.add(ledger_head)
        if stake not in index or not index.reaches(ledger_head, stake):
            check.fail(
                self.name,
                f"the vote's stake {stake[:10]} is not on the ledger branch {state.rules.ledger}",
                info,
            )

    def _check_unlock(self, check: MoveCheck, info: CommitInfo) -> None:
        event = info.event
        if not isinstance(event, dict) or event.get("type") != "stake.unlock":
            return
        number, actor, amount = event.get("proposal"), event.get("actor"), event.get("amount")
        if not isinstance(number, int) or isinstance(number, bool):
            return  # the replay refused this commit already
        state = proposal_at(check.repo, check.head(GOVERNANCE_REF), number)
        returned = state.result.returned if state is not None and state.result is not None else {}
        if state is None or not state.closed or returned.get(str(actor)) != amount:
            check.fail(
                self.name,
                f"proposal {number} gives {actor} no {amount} token(s) back: nothing to unlock",
                info,
            )


def _changed_proposal(repo: Repository, info: CommitInfo) -> int:
    parent = repo.commits.get(info.parents[0]).tree if info.parents else None
    for change in repo.snapshots.diff(parent, info.tree):
        m = _NAME.fullmatch(change.path)
        if m:
            return int(m.group(1))
    return 0


class _Replay:
    """One governance commit taken again: the step its kind names, on its parent's proposal."""

    def __init__(self, rule: str, check: CommitCheck) -> None:
        self.rule = rule
        self.check = check
        self.repo = check.repo
        self.info = check.info

    def fail(self, message: str) -> NoReturn:
        self.check.fail(self.rule, message)

    def run(self) -> None:
        from ..governance.proposal import ProposalState, proposal_path

        info, check = self.info, self.check
        if len(check.parents) > 1:
            self.fail("a governance step has one parent")
        parent = check.parents[0] if check.parents else None
        if parent is not None and info.time < parent.time:
            self.fail("governance steps go forward in time: this one is dated before the step it follows")
        number, blob = self._the_proposal()
        data = self.repo.read_blob(blob)
        try:
            after = ProposalState.parse(number, data)
        except BadInput as exc:
            self.fail(str(exc))
        before = proposal_at(self.repo, parent.id, number) if parent is not None else None
        step = {
            "proposal.opened": self._opened,
            "proposal.vote": self._vote,
            "proposal.executed": self._executed,
        }
        expected = step[info.kind](number, before, after)
        if expected.serialise() != data:
            self.fail(
                f"{proposal_path(number)} is not what this {info.kind} gives: {_difference(expected, after)}"
            )

    def _the_proposal(self) -> tuple[int, ObjectId]:
        proposals = [c for c in self.check.changes if c.path.startswith("proposals/")]
        actor_path = f"actors/{self.info.actor}.yaml"
        others = [
            c.path for c in self.check.changes if not c.path.startswith("proposals/") and c.path != actor_path
        ]
        if others:
            self.fail(f"a governance step changes one proposal (and its author's record), not {others[0]}")
        if len(proposals) != 1 or proposals[0].new is None:
            self.fail("a governance step writes exactly one proposals/<n>.yaml")
        m = _NAME.fullmatch(proposals[0].path)
        if m is None:
            self.fail(f"{proposals[0].path} is not proposals/<number>.yaml")
        return int(m.group(1)), proposals[0].new  # type: ignore[return-value]

    def _target(self, state: ProposalState) -> CommitInfo:
        if state.target == GOVERNANCE_BRANCH:
            self.fail(f"a proposal cannot target the {GOVERNANCE_BRANCH} branch")
        try:
            return self.repo.commits.get(state.target_head)
        except NotFound:
            self.fail(f"the proposal's target_head {state.target_head[:10]} is not a commit here")
        raise AssertionError

    def _opened(self, number: int, before: ProposalState | None, after: ProposalState) -> ProposalState:
        from ..governance import transitions
        from ..governance.proposal import check_resolutions

        info, repo = self.info, self.repo
        if before is not None:
            self.fail(f"proposal {number} is already open")
        parent = self.check.parents[0].tree if self.check.parents else None
        names = repo.snapshots.list_dir(parent, "proposals") if parent else {}
        numbers = [int(m.group(1)) for n in names if (m := re.fullmatch(r"(\d+)\.yaml", n))]
        if number != max(numbers, default=0) + 1:
            self.fail(f"the next proposal is number {max(numbers, default=0) + 1}, not {number}")
        target = self._target(after)
        if repo.snapshots.blob_id(target.tree, f"actors/{info.actor}.yaml") is None:
            self.fail(f"{info.actor} is not an actor of {after.target} at {after.target_head[:10]}")
        if (after.source is None) != (after.source_head is None) or after.source == after.target:
            self.fail("a proposal merges a source branch at a commit into another branch, or is a hearing")
        if after.source_head is not None and not repo.objects.has(after.source_head):
            self.fail(f"the proposal's source_head {after.source_head[:10]} is not a commit here")
        if after.source is None and after.resolutions:
            self.fail("a hearing takes no resolutions")
        if after.event_id is not None:
            for n in numbers:
                earlier = proposal_at(repo, self.check.parents[0].id, n)
                if earlier is not None and earlier.event_id == after.event_id:
                    self.fail(f"event {after.event_id} already opened proposal {n}")
        story = repo.read_story_record(target.id)
        return transitions.opened(
            number,
            source=after.source,
            source_head=after.source_head,
            target=after.target,
            target_head=after.target_head,
            message=after.message,
            proposer=info.actor,
            when=info.time,
            rules=rules_of(story),
            resolutions=check_resolutions(after.resolutions),
            event_id=after.event_id,
        )

    def _vote(self, number: int, before: ProposalState | None, after: ProposalState) -> ProposalState:
        from ..governance import transitions
        from ..governance.proposal import Vote, proposal_path

        info = self.info
        if before is None:
            self.fail(f"there is no proposal {number} to vote on")
        if before.status != "open" or info.time >= before.closes:
            self.fail(
                f"proposal {number} is {before.status if before.status != 'open' else 'past its window'}"
            )
        actor = info.actor
        if actor in before.votes:
            self.fail(f"{actor} already voted on proposal {number}: one vote per actor")
        voters = transitions.electorate(self.repo, before)
        if actor not in voters:
            self.fail(f"{actor} was not an actor of {before.target} when proposal {number} opened")
        ballot = after.votes.get(actor)
        if ballot is None:
            self.fail(f"the vote of {actor} is not in {proposal_path(number)}")
        rules = before.rules
        if rules.weight == "stake" and (ballot.stake < 1 or ballot.stake_commit is None):
            self.fail(
                f"proposal {number} is weighted by stake: a vote stakes 1 token or more from the ledger"
            )
        if rules.weight != "stake" and (ballot.stake or ballot.stake_commit is not None):
            self.fail(f"proposal {number} counts one vote per actor: a vote takes no stake")
        if ballot.choice not in ("yes", "no"):
            self.fail(f"a vote is yes or no, not {ballot.choice!r}")
        counted = Vote(
            actor,
            ballot.choice,
            ballot.stake,
            rules.vote_weight(ballot.stake),
            info.time,
            ballot.stake_commit,
        )
        return transitions.voted(before, counted, voters)

    def _executed(self, number: int, before: ProposalState | None, after: ProposalState) -> ProposalState:
        from ..governance import transitions
        from ..governance.proposal import ProposalResult

        info = self.info
        if before is None or before.closed:
            self.fail(f"proposal {number} is {'closed' if before else 'not open'}: there is nothing to close")
        if info.actor != before.proposer:
            self.fail(f"the proposer ({before.proposer}) signs the step that closes proposal {number}")
        result = after.result
        if result is None or result.time != info.time:
            self.fail(f"closing proposal {number} records its result, at the time of the step")
        if before.status == "open" and info.time < before.closes:
            self.fail(f"proposal {number} is open until {before.closes}: it cannot close before")
        ending = transitions.closing(before, info.time)
        if ending is not None:
            status, reason = ending
            expected = ProposalResult(status, info.time, reason=reason, returned=before.locked())
            return before.changed(status=status, result=expected)
        if before.hearing:
            allowed = {"decided"}
        else:
            allowed = {"merged", "up-to-date", "conflicts", "error"}
        if result.status not in allowed:
            self.fail(f"proposal {number} cannot end as {result.status!r}")
        if result.status in ("merged", "up-to-date"):
            self._check_merge(number, before, result)
        status = "executed" if result.status in ("merged", "up-to-date", "decided") else "failed"
        kept = replace(result, returned=before.locked())
        if before.hearing:
            kept = ProposalResult("decided", info.time, reason=result.reason, returned=before.locked())
        return before.changed(status=status, result=kept)

    def _check_merge(self, number: int, state: ProposalState, result: ProposalResult) -> None:
        repo = self.repo
        if result.commit is None or not repo.objects.has(result.commit):
            self.fail(f"proposal {number}'s result names no commit of this store")
        assert state.source_head is not None
        merge = repo.commits.get(result.commit)
        if result.status == "merged":
            ok = merge.parents[1:] == (state.source_head,) and merge.trailers.get("Gvcs-Proposal") == str(
                number
            )
        else:
            ok = repo.commits.is_ancestor(state.source_head, merge.id)
        if not ok:
            self.fail(f"commit {merge.short_id} is not proposal {number}'s merge")


def _difference(expected: ProposalState, found: ProposalState) -> str:
    a, b = expected.to_record(), found.to_record()
    for key in a:
        if a[key] != b.get(key):
            return f"{key} should be {json.dumps(a[key], default=str)[:120]}"
    return "it is not written as gvcs writes it"
