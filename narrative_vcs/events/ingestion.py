"""Ingesting events: each accepted event becomes exactly one commit on its branch.

The commit has kind = the topic, ``Gvcs-Event-Id`` = the event id, ``Gvcs-Event`` = the payload, and the
event's state change in its tree. Events of one branch are written as groups with one ref update
(:meth:`Repository.commit_built`): each event's change is computed on the tip it goes on, in input order,
so the events of one actor keep their order and events of different actors never conflict.

Idempotency: right before an event is committed on a tip, the index (:mod:`.index`) is asked whether
the tip's history already has a commit with its id (or the group already wrote one); if so the event is
not committed again. It is a duplicate when that commit holds the same event (kind, actor and
``Gvcs-Event`` payload as canonical JSON), else a conflict (:class:`.model.EventConflict`), as an
idempotency key reused for another request is. The branch moves only by compare-and-swap from the head
the group was computed on, so a writer in another process that committed meanwhile makes this one compute
the group again on the new head, where it finds the id. A process killed at any point leaves the branch
either without the event's commit or with it, never with half of it.

Follow-ups (the branch, tag or proposal a ritual calls for, a phoenix hearing) can only be made once the
commit exists; they are recorded in its ``Gvcs-Follow-Up`` trailer and made right after the ref moved.
Re-sending an event whose commit exists completes any follow-up that is missing (a writer may have been
killed in between): a branch or tag is made if absent, a proposal is opened by event id, at most once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import BadInput, BranchMoved, GvcsError, NotFound, Refused
from ..limits import load_json
from ..objects import event_trailer
from ..refs import branch_ref, tag_ref
from ..types import ObjectId, RefName
from . import agent, gift, infra, ritual
from .index import index_of
from .model import INGESTED, MAX_EVENT_JSON, Event, EventConflict, Ingested, check_ingestible
from .proposals import open_proposal
from .state import FOLLOW_UP_TRAILER, FollowUp, Plan, Planned, Tip, planned

if TYPE_CHECKING:
    from ..repository import BuiltCommit, GroupOutcome, Repository

__all__ = ["MAX_GROUP", "PLANNERS", "default_branch", "ingest", "ingest_many", "preview", "target_branch"]

#: Events written with one ref update at most.
MAX_GROUP = 128
#: The planner of each ingested topic: the event's commit, worked out on a tip.
PLANNERS: dict[str, Callable[[Tip, Event], Plan]] = {
    agent.TOPIC: agent.plan,
    gift.TOPIC: gift.plan,
    ritual.TOPIC: ritual.plan,
    infra.SPORE: infra.plan_spore,
    infra.DECAY: infra.plan_decay,
}
assert set(PLANNERS) == set(INGESTED)


def ingest(repo: Repository, event: Event) -> Ingested:
    """Commit one event (or find the commit that already has its id); raise the error that refuses it.

    An :class:`Ingested` with an ``error`` and a ``commit`` is returned, not raised: the event is
    committed, only its follow-up failed.
    """
    (result,) = ingest_many(repo, [event])
    if result.commit is None and result.error is not None:
        raise result.error
    return result


def ingest_many(repo: Repository, events: Sequence[Event]) -> list[Ingested]:
    """Commit many events, in input order per branch; one result per event, in input order.

    Never raises for an event that is refused: its result carries the error and the others go on.
    """
    results: list[Ingested | None] = [None] * len(events)
    groups: dict[str, list[int]] = {}
    for i, event in enumerate(events):
        try:
            check_ingestible(event.topic)  # the payload was checked when the event was made
            groups.setdefault(target_branch(repo, event), []).append(i)
        except GvcsError as exc:
            results[i] = Ingested(event, event.branch or "", None, False, exc)
    for branch, positions in groups.items():
        for at in range(0, len(positions), MAX_GROUP):
            chunk = positions[at : at + MAX_GROUP]
            for i, result in zip(chunk, _ingest_group(repo, branch, [events[i] for i in chunk]), strict=True):
                results[i] = result
    return [r for r in results if r is not None]


def default_branch(repo: Repository) -> str:
    """``main`` when it exists, else the branch HEAD names."""
    if repo.branch_head("main") is not None:
        return "main"
    return repo.head_branch() or "main"


def target_branch(repo: Repository, event: Event) -> str:
    """The event's branch: its own, else ``agents/<actor>`` (agent.emit.v1), ``mycelium`` (infra.spore.v1,
    mycelium.decay.v1) or :func:`default_branch` (gift.txn.v1, ritual.performed.v1)."""
    return event.branch if event.branch is not None else _own_branch(repo, event)


def preview(repo: Repository, event: Event) -> tuple[str, list[str]]:
    """The event's branch and the files its commit would write on the branch's head now (none for a
    duplicate); raises what would refuse it. Nothing is written."""
    check_ingestible(event.topic)
    branch = target_branch(repo, event)
    head = repo.branch_head(branch)
    base = head if head is not None else _start(repo, event, branch)
    found = index_of(repo).find(event.id, base)
    if found is not None:
        conflict = _conflict(repo, event, found, branch)
        if conflict is not None:
            raise conflict
        return branch, []
    tree = repo.commits.get(base).tree if base else None
    tip = Tip(repo, branch, base, tree, _now(event))
    tip.require_actor(event.topic, event.actor)
    return branch, sorted(PLANNERS[event.topic](tip, event).changes.paths())


# --- one group: the events of one branch --------------------------------------------------------


def _own_branch(repo: Repository, event: Event) -> str:
    if event.topic == agent.TOPIC:
        return f"agents/{event.actor}"
    if event.topic in (infra.SPORE, infra.DECAY):
        return infra.MYCELIUM
    return default_branch(repo)


def _start(repo: Repository, event: Event, branch: str) -> ObjectId | None:
    """Where ``branch``, which does not exist, starts: a topic's own branch (``agents/<actor>``,
    ``mycelium``) at the head of the default branch; any other branch must exist."""
    if branch != _own_branch(repo, event):
        raise NotFound(f"{event.topic}: branch {branch!r} not found")
    return repo.branch_head(default_branch(repo))


class _Group:
    """The builders of one group and what each found on the last attempt."""

    def __init__(self, repo: Repository, branch: str, events: Sequence[Event]) -> None:
        self.repo = repo
        self.branch = branch
        self.events = events
        self.index = index_of(repo)
        self.base: ObjectId | None = None
        self.written: dict[str, int] = {}  # event id -> position of the event that wrote it this attempt
        self.plans: list[Plan | None] = [None] * len(events)
        self.found: list[ObjectId | int | None] = [None] * len(events)  # a duplicate's commit or position

    def before(self, base: ObjectId | None) -> None:
        self.base, self.written = base, {}
        self.index.add(base)

    def builder(self, i: int) -> Callable[[ObjectId | None, ObjectId | None], BuiltCommit | None]:
        def build(tip: ObjectId | None, tree: ObjectId | None) -> BuiltCommit | None:
            from ..repository import BuiltCommit

            event = self.events[i]
            self.plans[i] = self.found[i] = None
            earlier = self.written.get(event.id)
            if earlier is None:
                existing = self.index.find(event.id, self.base)
                self.found[i] = existing
            else:
                self.found[i] = earlier
            if self.found[i] is not None:
                return None
            now = _now(event)
            state = Tip(self.repo, self.branch, tip, tree, now)
            state.require_actor(event.topic, event.actor)
            plan = self.plans[i] = PLANNERS[event.topic](state, event)
            key = (tree, event.topic, event.id, event.actor, event_trailer(event.payload), now)
            outcome = Planned.of(plan)
            planned(self.repo).put(key, outcome)
            for page in plan.changes.pages.values():  # read back by the rules, and by the next event
                blob = outcome.files[page.path] if page is not None else None
                if page is not None and blob is not None:
                    self.repo.remember_page(blob, page)
            self.written[event.id] = i
            return BuiltCommit(
                plan.changes,
                event.actor,
                plan.message,
                event.topic,
                event.payload,
                event.id,
                plan.trailers(),
                now,
            )

        return build


def _ingest_group(repo: Repository, branch: str, events: Sequence[Event]) -> list[Ingested]:
    group = _Group(repo, branch, events)
    failed: dict[int, GvcsError] = {}
    start = None
    if repo.branch_head(branch) is None:
        for i, event in enumerate(events):
            try:
                start = _start(repo, event, branch)
            except GvcsError as exc:
                failed[i] = exc
    todo = [i for i in range(len(events)) if i not in failed]
    outcomes = dict(
        zip(
            todo,
            repo.commit_built(branch, [group.builder(i) for i in todo], start=start, before=group.before),
            strict=True,
        )
    )
    results = []
    for i, event in enumerate(events):
        if i in failed:
            results.append(Ingested(event, branch, None, False, failed[i]))
        else:
            results.append(_result(repo, group, i, outcomes))
    return results


def _result(repo: Repository, group: _Group, i: int, outcomes: dict[int, GroupOutcome]) -> Ingested:
    event, outcome, branch = group.events[i], outcomes[i], group.branch
    if outcome.commit is not None:
        plan = group.plans[i]
        error = _follow_up(repo, event, outcome.commit, plan.follow_ups if plan else (), strict=True)
        return Ingested(event, branch, outcome.commit, False, error)
    if outcome.error is not None:
        return Ingested(event, branch, None, False, outcome.error)
    found = group.found[i]
    if isinstance(found, int):  # the same id earlier in this group: that event's commit, or its error
        first = outcomes[found]
        if first.commit is None:
            return Ingested(event, branch, None, False, first.error)
        found = first.commit
    assert found is not None
    conflict = _conflict(repo, event, found, branch)
    if conflict is not None:
        return Ingested(event, branch, None, False, conflict)
    return Ingested(event, branch, found, True, _complete(repo, event, found))


def _conflict(repo: Repository, event: Event, commit: ObjectId, branch: str) -> EventConflict | None:
    """None when ``commit``, which carries the event's id, holds this very event (a duplicate); else
    the conflict, naming what differs: its kind (the topic), its actor or its payload."""
    info = repo.commits.get(commit)
    differs = [
        what
        for what, same in (("topic", info.kind == event.topic), ("actor", info.actor == event.actor))
        if not same
    ]
    raw = info.trailers.get("Gvcs-Event")
    try:
        stored = None if raw is None else load_json(raw, "Gvcs-Event", max_bytes=MAX_EVENT_JSON)
    except BadInput:
        stored = None
    if not isinstance(stored, dict) or event_trailer(stored) != event_trailer(event.payload):
        differs.append("payload")
    return EventConflict(event.id, commit, branch, differs) if differs else None


# --- follow-ups ---------------------------------------------------------------------------------


def _complete(repo: Repository, event: Event, commit: ObjectId) -> GvcsError | None:
    """Make the follow-ups of an event's existing commit that are missing."""
    info = repo.commits.get(commit)
    raw = info.trailers.get(FOLLOW_UP_TRAILER)
    if raw is None:
        return None
    try:
        follow_ups = [
            FollowUp.from_json(item) for item in load_json(raw, FOLLOW_UP_TRAILER, max_bytes=MAX_EVENT_JSON)
        ]
    except (BadInput, ValueError, TypeError, KeyError):
        return BadInput(f"commit {commit[:10]}: its {FOLLOW_UP_TRAILER} trailer does not parse")
    return _follow_up(repo, event, commit, follow_ups, strict=False, now=info.time)


def _follow_up(
    repo: Repository,
    event: Event,
    commit: ObjectId,
    follow_ups: Sequence[FollowUp],
    *,
    strict: bool,
    now: int | None = None,
) -> GvcsError | None:
    for follow in follow_ups:
        args = follow.args
        try:
            if follow.op in ("branch", "tag"):
                ref = branch_ref(args["name"]) if follow.op == "branch" else tag_ref(args["name"])
                _make_ref(repo, ref, commit, event, strict)
            elif follow.op == "propose":
                open_proposal(
                    repo,
                    source=args.get("source"),
                    into=args["into"],
                    actor=event.actor,
                    message=args["message"],
                    event_id=event.id,
                    now=event.time if now is None else now,
                )
        except GvcsError as exc:
            what = f"{follow.op} {args.get('name') or args.get('into') or ''}".strip()
            return Refused(
                f"{event.topic}: event {event.id} is committed as {commit[:10]}, but its follow-up ({what}) "
                f"failed: {exc}; send the event again to retry"
            )
    return None


def _make_ref(repo: Repository, ref: RefName, commit: ObjectId, event: Event, strict: bool) -> None:
    current = repo.refs.get(ref)
    if current is None:
        try:
            repo.refs.add_if_new(ref, commit, who=event.actor, message=f"{event.topic}: {event.id}")
            return
        except BranchMoved:
            current = repo.refs.get(ref)
    if strict and current != commit:
        raise Refused(f"{ref} was made meanwhile by another writer, at {str(current)[:10]}")


def _now(event: Event) -> int:
    return event.time if event.time is not None else int(time.time())
