"""The graph people read in Cypher and Bloom, written beside the objects: ``Commit``, ``Actor``, ``Page``
and ``PageVersion`` nodes and their relationships (docs/architecture.md, section 3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import CorruptObject, GvcsError, NotFound
from ...objects import Actor, Commit, Page, parse_trailers
from ...snapshot import Snapshots
from ...types import ObjectId

if TYPE_CHECKING:
    pass


def version_id(page_id: str, blob: ObjectId) -> str:
    """The id of a page version: the page and its blob (two pages may hold equal bytes)."""
    return f"{page_id}@{blob}"


class Projection:
    """The graph rows for a set of new commits: commits, actors, page versions and what changed."""

    def __init__(self, snapshots: Snapshots, get: Callable[[ObjectId], tuple[str, bytes]]) -> None:
        self._snapshots = snapshots
        self._get = get
        self.commits: list[dict[str, Any]] = []
        self.versions: dict[str, dict[str, Any]] = {}
        self.changes: list[dict[str, Any]] = []
        self.actors: dict[str, dict[str, Any]] = {}
        self.proposals: dict[int, dict[str, Any]] = {}  # the newest revision of each in this batch
        self._trees: dict[ObjectId, ObjectId] = {}  # commit -> tree, for parents in this projection

    def _tree_of(self, commit: ObjectId) -> ObjectId | None:
        tree = self._trees.get(commit)
        if tree is not None:
            return tree
        try:
            obj_type, data = self._get(commit)
        except NotFound:
            return None  # history cut short: project the commit as if it had no parent
        return Commit.parse(data).tree if obj_type == "commit" else None

    def add_commit(self, oid: ObjectId, data: bytes) -> None:
        commit = Commit.parse(data)
        self._trees[oid] = commit.tree
        text, trailers = parse_trailers(commit.message)
        actor = trailers.get("Gvcs-Actor") or commit.author.email.split("@", 1)[0]
        self.commits.append(
            {
                "id": str(oid),
                "tree": str(commit.tree),
                "parents": [str(p) for p in commit.parents],
                "subject": text.split("\n", 1)[0],
                "message": text.rstrip("\n"),
                "actor": actor,
                "actor_name": commit.author.name,
                "kind": trailers.get("Gvcs-Kind", "edit"),
                "time": commit.committer.time,
                "event_id": trailers.get("Gvcs-Event-Id"),
                "raw": data,
            }
        )
        parent_tree = self._tree_of(commit.parents[0]) if commit.parents else None
        try:
            changes = self._snapshots.diff(parent_tree, commit.tree)
        except (NotFound, CorruptObject):
            return  # a commit of a tree this store does not hold (a shallow copy): no page changes
        governance = trailers.get("Gvcs-Kind", "").startswith("proposal.")
        for change in changes:
            top, _, name = change.path.partition("/")
            if top == "pages" and name.endswith(".md") and "/" not in name:
                self._page_change(oid, name.removesuffix(".md"), change.old, change.new)
            elif top == "actors" and name.endswith(".yaml") and "/" not in name and change.new:
                self._actor(name.removesuffix(".yaml"), change.new)
            elif governance and top == "proposals" and name.endswith(".yaml") and change.new:
                self._proposal(name.removesuffix(".yaml"), change.new)

    def _page_change(
        self, commit: ObjectId, page_id: str, old: ObjectId | None, new: ObjectId | None
    ) -> None:
        if new is None:
            assert old is not None
            self._version(page_id, old)
            self.changes.append({"commit": str(commit), "version": version_id(page_id, old), "op": "delete"})
            return
        self._version(page_id, new)
        op = "add" if old is None else "modify"
        self.changes.append({"commit": str(commit), "version": version_id(page_id, new), "op": op})

    def _version(self, page_id: str, blob: ObjectId) -> None:
        key = version_id(page_id, blob)
        if key in self.versions:
            return
        try:
            page = Page.parse(page_id, self._get(blob)[1])
        except (GvcsError, UnicodeDecodeError):
            # A page file gvcs cannot read still has a version; it just has no links to show.
            self.versions[key] = _version_row(key, page_id, blob, page_id, 0, [], [], [], [])
            return
        self.versions[key] = _version_row(
            key,
            page_id,
            blob,
            page.title,
            len(page.body.split()),
            list(page.tags),
            list(page.follows),
            [page.alternate_of] if page.alternate_of else [],
            [link for link in page.links() if link != page_id],
        )

    def _actor(self, actor_id: str, blob: ObjectId) -> None:
        try:
            actor = Actor.parse(actor_id, self._get(blob)[1])
        except (GvcsError, UnicodeDecodeError):
            return
        self.actors[actor_id] = {
            "id": actor_id,
            "name": actor.name,
            "kind": actor.kind,
            "archetype": actor.archetype,
        }

    def _proposal(self, name: str, blob: ObjectId) -> None:
        """A governance proposal: ``(:Proposal)-[:MERGES {role}]->(:Branch)`` for its source and target,
        ``(:Actor)-[:VOTED {choice, weight, stake}]->(:Proposal)`` for its votes."""
        from ...governance.proposal import ProposalState

        if not name.isdigit():
            return
        try:
            state = ProposalState.parse(int(name), self._get(blob)[1])
        except (GvcsError, UnicodeDecodeError):
            return
        known = self.proposals.get(state.number)
        if known is not None and known["revision"] >= state.revision:
            return
        result = state.result
        tally = state.tally
        branches = [{"name": state.target, "role": "target"}]
        if state.source is not None:
            branches.append({"name": state.source, "role": "source"})
        self.proposals[state.number] = {
            "number": state.number,
            "status": state.status,
            "revision": state.revision,
            "message": state.message,
            "source": state.source,
            "target": state.target,
            "proposer": state.proposer,
            "opened": state.opened,
            "closes": state.closes,
            "yes": float(tally.yes),  # a float even when no vote has counted (an empty sum is 0)
            "no": float(tally.no),
            "voters": tally.voters,
            "result": None if result is None else result.status,
            "result_commit": None if result is None else result.commit,
            "branches": branches,
            "votes": [
                {"actor": v.actor, "choice": v.choice, "weight": v.weight, "stake": v.stake}
                for v in state.votes.values()
            ],
        }

    def parameters(self) -> dict[str, Any]:
        """The parameters of ``projection/write``."""
        return {
            "commits": self.commits,
            "actors": list(self.actors.values()),
            "versions": list(self.versions.values()),
            "changes": self.changes,
            "proposals": list(self.proposals.values()),
        }


def _version_row(
    key: str,
    page_id: str,
    blob: ObjectId,
    title: str,
    words: int,
    tags: list[str],
    follows: list[str],
    alternate_of: list[str],
    links: list[str],
) -> dict[str, Any]:
    return {
        "id": key,
        "page": page_id,
        "blob": str(blob),
        "title": title,
        "words": words,
        "tags": tags,
        "follows": follows,
        "alternate_of": alternate_of,
        "links": links,
    }
