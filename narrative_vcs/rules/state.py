"""State files belong to the events that keep them, and every event commit is verified by replaying it.

| file | kept by |
|---|---|
| ``ledger.yaml`` | ``gift.txn.v1`` (gifts, and the stakes governance takes and gives back) |
| ``rituals.yaml`` | ``ritual.performed.v1`` |
| ``infra/`` | ``infra.spore.v1``, ``mycelium.decay.v1`` |
| ``proposals/`` | ``proposal.opened``, ``proposal.vote``, ``proposal.executed`` (see :mod:`.governance`) |

An event commit's change is worked out again from its parent's snapshot and its own ``Gvcs-Event``
payload, by the same planner that made it (:mod:`narrative_vcs.events`); the commit must change exactly
what the replay changes, byte for byte. A hand edit of a state file, a forged event commit (tokens minted
by a non-minter, a ledger changed by more than the event says) or an event commit brought from another
story all fail that one check. An event id is committed once in a history.

A merge's state files are what the merge engine gives for them (counters add up: base + Δours +
Δtheirs); edits and reverts do not touch them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BadInput
from ..gate import CommitCheck, Rule
from ..history import CommitInfo
from ..limits import load_json
from ..objects import Story, hash_object
from ..snapshot import Snapshots
from ..types import ObjectId
from .commits import EVENT_KINDS, PROPOSAL_KINDS, a

if TYPE_CHECKING:
    from ..events.state import FollowUp, Planned

__all__ = ["OWNERS", "StateFiles", "owner_of"]

#: Each state file (or directory, ending in /) and the kinds of commit that may change it.
OWNERS: dict[str, frozenset[str]] = {
    "ledger.yaml": frozenset({"gift.txn.v1"}),
    "rituals.yaml": frozenset({"ritual.performed.v1"}),
    "infra/": frozenset({"infra.spore.v1", "mycelium.decay.v1"}),
    "proposals/": PROPOSAL_KINDS,
}
#: Who writes each state file, as a person would do it.
WRITERS = {
    "ledger.yaml": "gift.txn.v1 events (gvcs gift)",
    "rituals.yaml": "ritual.performed.v1 events (gvcs ritual)",
    "infra/": "infra.spore.v1 and mycelium.decay.v1 events (gvcs spore)",
    "proposals/": "governance (gvcs propose, gvcs vote)",
}
_TOP = {"ledger.yaml", "rituals.yaml", "infra", "proposals"}


def owner_of(path: str) -> str | None:
    """The state file or directory ``path`` belongs to, or None for a page, an actor, story.yaml..."""
    if path in OWNERS:
        return path
    top = path.split("/", 1)[0] + "/"
    return top if top in OWNERS and "/" in path else None


class StateFiles(Rule):
    name = "state-files"

    def check_commit(self, check: CommitCheck) -> None:
        kind = check.info.kind
        if kind in EVENT_KINDS:
            self._replay(check)
        elif kind == "merge":
            self._merge(check)
        elif kind not in PROPOSAL_KINDS:  # proposals are replayed by the governance rules
            for change in check.changes:
                owner = owner_of(change.path)
                if owner is not None:
                    why = f"is written only by {WRITERS[owner]}: {a(kind)} commit cannot change it"
                    check.fail(self.name, f"{change.path} {why}")
        for change in check.changes:
            if change.path == Story.PATH and change.new is not None:
                self._check_settings(check, change.new)

    # --- events -----------------------------------------------------------------------------------

    def _replay(self, check: CommitCheck) -> None:
        from ..events.index import index_of
        from ..events.state import planned

        info = check.info
        event_id = info.event_id or ""
        raw = info.trailers["Gvcs-Event"]
        if len(check.parents) != 1:
            check.fail(self.name, f"{a(info.kind)} event commit has one parent: the tip it was applied on")
        parent = check.parents[0]
        found = index_of(check.repo).find(event_id, parent.id)
        if found is not None:
            check.fail(self.name, f"event {event_id} is already in this history (commit {found[:10]})")
        # An event this process planned on this very parent is not planned again: planning is a pure
        # function of the key, and the commit is compared with what it gave all the same.
        key = (parent.tree, info.kind, event_id, info.actor, raw, info.time)
        outcome = planned(check.repo).get(key) or self._plan(
            check, parent, event_id, self._payload(check, raw)
        )
        self._compare_follow_ups(check, outcome.follow_ups)
        self._compare(check, outcome.files)

    def _payload(self, check: CommitCheck, raw: str) -> dict[str, Any]:
        try:
            payload = load_json(raw, "its Gvcs-Event trailer", max_bytes=None)
        except BadInput as exc:
            check.fail(self.name, str(exc))
        if not isinstance(payload, dict):
            check.fail(self.name, "its Gvcs-Event trailer is not a JSON object")
        return payload

    def _plan(
        self, check: CommitCheck, parent: CommitInfo, event_id: str, payload: dict[str, Any]
    ) -> Planned:
        from ..events.ingestion import PLANNERS
        from ..events.model import Event
        from ..events.state import Plan, Planned, Tip

        info = check.info
        tip = Tip(check.repo, f"{parent.short_id}", parent.id, parent.tree, info.time, verifying=True)
        tip.require_actor(info.kind, info.actor)
        if info.kind == "gift.txn.v1" and isinstance(payload.get("type"), str):
            from ..governance.ledger import replay_stake

            return Planned.of(Plan(replay_stake(tip, info.actor, event_id, payload), ""))
        try:
            event = Event(info.kind, event_id, info.actor, payload, time=info.time)
        except BadInput as exc:
            check.fail(self.name, f"its event does not fit its kind: {exc}")
        return Planned.of(PLANNERS[info.kind](tip, event))

    def _compare_follow_ups(self, check: CommitCheck, planned: tuple[FollowUp, ...]) -> None:
        """The follow-ups the commit records (made again when its event is re-sent) are the ones its event
        calls for; where a proposal goes (``into``, by default the branch the event went on) is the
        commit's to say."""
        from ..events.state import FOLLOW_UP_TRAILER, FollowUp

        raw = check.info.trailers.get(FOLLOW_UP_TRAILER)
        try:
            loaded = load_json(raw, FOLLOW_UP_TRAILER, max_bytes=None) if raw is not None else []
            recorded = [FollowUp.from_json(f) for f in loaded]
        except (BadInput, ValueError, TypeError, KeyError, AttributeError):
            check.fail(self.name, f"its {FOLLOW_UP_TRAILER} trailer does not parse")

        def shape(follow_ups: Sequence[FollowUp]) -> list[tuple[str, dict[str, Any]]]:
            return [(f.op, {k: v for k, v in f.args.items() if k != "into"}) for f in follow_ups]

        if shape(recorded) != shape(planned):
            check.fail(self.name, f"its {FOLLOW_UP_TRAILER} trailer is not what its event calls for")

    def _compare(self, check: CommitCheck, files: Mapping[str, ObjectId | None]) -> None:
        """The commit changes exactly the ``files`` its event replayed writes (those that change)."""
        snapshots, parent_tree = check.repo.snapshots, check.parent_tree
        expected: dict[str, ObjectId | None] = {}
        for path, blob in files.items():
            if blob != (snapshots.blob_id(parent_tree, path) if parent_tree else None):
                expected[path] = blob
        actual = {c.path: c.new for c in check.changes}
        if actual == expected:
            return
        path = min(p for p in expected.keys() | actual.keys() if expected.get(p, "") != actual.get(p, ""))
        verb = "changes" if path in actual else "leaves out"
        check.fail(
            self.name,
            f"it {verb} {path} otherwise than its {check.info.kind} event {check.info.event_id} does when "
            "replayed on its parent",
        )

    def _check_settings(self, check: CommitCheck, blob: ObjectId) -> None:
        from ..events.schemas import check_settings

        story = Story.parse(check.repo.objects.get(blob)[1])
        settings = {k: story.get(k) for k in ("glyphs", "gift", "phoenix") if story.get(k) is not None}
        try:
            check_settings(settings)
        except BadInput as exc:
            check.fail(self.name, str(exc))

    # --- merges -----------------------------------------------------------------------------------

    def _merge(self, check: CommitCheck) -> None:
        from ..merge.contents import merge_file

        repo, snapshots = check.repo, check.repo.snapshots
        ours, theirs = check.parents
        if _same_state(snapshots, (ours.tree, theirs.tree, check.info.tree)):
            return  # both sides and the merge hold the same state files: nothing to merge
        base = repo.merge_base_tree(ours.id, theirs.id)
        paths = sorted(
            {
                *_state_diff(snapshots, base, ours.tree),
                *_state_diff(snapshots, base, theirs.tree),
                *_state_diff(snapshots, ours.tree, check.info.tree),
            }
        )
        for path in paths:
            read = _reader(snapshots, path)
            data, conflict = merge_file(path, read(base), read(ours.tree), read(theirs.tree))
            if conflict is not None:
                check.fail(
                    self.name, f"{path} changed on both sides in ways that do not merge: {conflict.message}"
                )
            want = None if data is None else hash_object("blob", data)
            if snapshots.blob_id(check.info.tree, path) != want:
                check.fail(
                    self.name,
                    f"{path} is not the merge of its two sides (state files merge as the events made them)",
                )


def _same_state(snapshots: Snapshots, trees: tuple[ObjectId, ...]) -> bool:
    """Whether the trees hold the same state files (compared by the root entries, without reading more)."""
    entries = [snapshots.tree(t).entries for t in trees]
    for name in _TOP:
        found = {(e.oid, e.mode) if (e := ent.get(name)) is not None else None for ent in entries}
        if len(found) > 1:
            return False
    return True


def _state_diff(snapshots: Snapshots, old: ObjectId | None, new: ObjectId) -> Iterator[str]:
    old_entries: Mapping[str, Any] = snapshots.tree(old).entries if old else {}
    new_entries = snapshots.tree(new).entries
    for name in _TOP:
        a, b = old_entries.get(name), new_entries.get(name)
        if (a.oid if a else None) == (b.oid if b else None):
            continue
        if name in OWNERS:
            yield name
            continue
        sub_old = a.oid if a is not None and a.is_tree else None
        sub_new = b.oid if b is not None and b.is_tree else None
        for change in snapshots.diff(sub_old, sub_new):
            yield f"{name}/{change.path}"


def _reader(snapshots: Snapshots, path: str) -> Any:
    def read(tree: ObjectId | None) -> bytes | None:
        return None if tree is None else snapshots.read(tree, path)

    return read
