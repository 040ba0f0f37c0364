"""What an event's change is computed from (the tip it goes on) and what the computation gives (a plan).

A planner of a topic reads the snapshot of the tip through :class:`Tip` and returns a :class:`Plan`: the
change set of the event's one commit, its message, and the follow-ups (branches, tags, proposals) that
can only be made once the commit exists. Planners write nothing: a plan is worked out again whenever the
branch moved before the commit landed.
"""

from __future__ import annotations

import copy
import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from ..errors import BadInput, InvalidFile, NotFound
from ..merge.contents import counters_in
from ..objects import Actor, Page, Story, _yaml_dump, hash_object, load_yaml, validate_id
from ..records import field, record
from ..types import ObjectId

if TYPE_CHECKING:
    from ..repository import ChangeSet, Repository

__all__ = [
    "FOLLOW_UP_TRAILER",
    "BlobCache",
    "FollowUp",
    "Plan",
    "PlanKey",
    "Planned",
    "Tip",
    "blob_cache",
    "planned",
]

#: The trailer that records an event commit's follow-ups, so a re-sent event can complete them.
FOLLOW_UP_TRAILER = "Gvcs-Follow-Up"


@record
class FollowUp:
    """Something to do once the event's commit exists: ``branch`` or ``tag`` (``name``, made at the
    commit when missing), or ``propose`` (``source`` or None for a hearing, ``into``, ``message``)."""

    op: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, **self.args}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FollowUp:
        return cls(str(data["op"]), {k: v for k, v in data.items() if k != "op"})


@record
class Plan:
    """An event's commit, worked out on a tip."""

    changes: ChangeSet
    message: str
    follow_ups: tuple[FollowUp, ...] = ()

    def trailers(self) -> dict[str, str]:
        if not self.follow_ups:
            return {}
        follow_ups = [f.to_json() for f in self.follow_ups]
        text = json.dumps(follow_ups, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return {FOLLOW_UP_TRAILER: text}


class BlobCache:
    """Parsed YAML files and story records by blob id (blobs never change), for one repository.

    Events of one branch read the file the event before them wrote (the ledger, a spore): the writer
    leaves what it wrote here, so the next event does not parse it again.
    """

    SIZE = 512

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, ObjectId], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, kind: str, blob: ObjectId) -> Any:
        with self._lock:
            found = self._items.get((kind, blob))
            if found is not None:
                self._items.move_to_end((kind, blob))
            return found

    def put(self, kind: str, blob: ObjectId, value: Any) -> None:
        with self._lock:
            self._items[(kind, blob)] = value
            if len(self._items) > self.SIZE:
                self._items.popitem(last=False)


#: What a plan depends on: the tree it is worked out on, the topic, event id, actor, payload (its
#: ``Gvcs-Event`` text) and time. Planners read nothing else that changes the files they write.
PlanKey = tuple[ObjectId | None, str, str, str, str, int]


@record
class Planned:
    """The files a plan writes (blob ids; None: removed) and the follow-ups it records."""

    files: Mapping[str, ObjectId | None]
    follow_ups: tuple[FollowUp, ...]

    @classmethod
    def of(cls, plan: Plan) -> Planned:
        files = {p: None if d is None else hash_object("blob", d) for p, d in plan.changes.paths().items()}
        return cls(files, plan.follow_ups)


class PlannedCache:
    """Plans worked out in this process, by what they depend on: planning is a pure function of its
    :data:`PlanKey`, so the rules that replay an event commit this process just planned look its
    outcome up instead of planning it a second time (a commit from elsewhere is planned again)."""

    SIZE = 4096

    def __init__(self) -> None:
        self._items: OrderedDict[PlanKey, Planned] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: PlanKey) -> Planned | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: PlanKey, planned: Planned) -> None:
        with self._lock:
            self._items[key] = planned
            if len(self._items) > self.SIZE:
                self._items.popitem(last=False)


_CACHES: weakref.WeakKeyDictionary[Repository, BlobCache] = weakref.WeakKeyDictionary()
_PLANNED: weakref.WeakKeyDictionary[Repository, PlannedCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def planned(repo: Repository) -> PlannedCache:
    with _CACHES_LOCK:
        cache = _PLANNED.get(repo)
        if cache is None:
            cache = _PLANNED[repo] = PlannedCache()
        return cache


def blob_cache(repo: Repository) -> BlobCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(repo)
        if cache is None:
            cache = _CACHES[repo] = BlobCache()
        return cache


class Tip:
    """The snapshot an event is applied on: the tip's commit (None on a new, empty branch) and tree.

    ``verifying``: the event is replayed to check a commit that exists (see :mod:`narrative_vcs.rules`);
    planners then leave out what depends on refs rather than on the snapshot (whether a branch a ritual
    would create exists: that is the follow-up's business, not the commit's).
    """

    def __init__(
        self,
        repo: Repository,
        branch: str,
        commit: ObjectId | None,
        tree: ObjectId | None,
        now: int,
        *,
        verifying: bool = False,
    ) -> None:
        self.repo = repo
        self.branch = branch
        self.commit = commit
        self.tree = tree
        self.now = now
        self.verifying = verifying
        self.cache = blob_cache(repo)

    def blob(self, path: str) -> ObjectId | None:
        return None if self.tree is None else self.repo.snapshots.blob_id(self.tree, path)

    def read(self, path: str) -> bytes | None:
        blob = self.blob(path)
        return None if blob is None else self.repo.read_blob(blob)

    def exists(self, path: str) -> bool:
        return self.blob(path) is not None

    def story(self) -> Story | None:
        blob = self.blob(Story.PATH)
        if blob is None:
            return None
        story = self.cache.get("story", blob)
        if story is None:
            story = Story.parse(self.repo.read_blob(blob))
            self.cache.put("story", blob, story)
        return cast(Story, story)

    def setting(self, key: str) -> Any:
        story = self.story()
        return None if story is None else story.get(key)

    def page(self, page_id: str) -> Page | None:
        blob = self.blob(f"pages/{validate_id('page', page_id)}.md")
        if blob is None:
            return None
        return self.repo.page_record(page_id, blob)

    def actor(self, actor_id: str) -> Actor | None:
        validate_id("actor", actor_id)
        blob = self.blob(f"actors/{actor_id}.yaml")
        return None if blob is None else self.repo.actor_record(actor_id, blob)

    def require_actor(self, topic: str, actor_id: str, role: str = "actor") -> Actor:
        record = self.actor(actor_id)
        if record is None:
            raise NotFound(
                f"{topic}: unknown {role} {actor_id!r}: {self.branch} has no actors/{actor_id}.yaml"
            )
        return record

    def counters(self, path: str) -> dict[str, int]:
        """The counters of ``ledger.yaml`` or ``rituals.yaml`` (empty when the file is missing)."""
        document = self.yaml(path)
        return {} if document is None else counters_in(path, document)

    def yaml(self, path: str) -> dict[str, Any] | None:
        """A YAML mapping file of the tip (a copy to change at will), or None when it is missing."""
        blob = self.blob(path)
        if blob is None:
            return None
        document = self.cache.get("yaml", blob)
        if document is None:
            document = _parse_yaml(path, self.repo.read_blob(blob))
            self.cache.put("yaml", blob, document)
        return copy.deepcopy(cast(dict[str, Any], document))

    def put_yaml(self, changes: ChangeSet, path: str, document: dict[str, Any]) -> ChangeSet:
        """Write ``document`` as ``path`` in canonical YAML, and remember it for the next event."""
        data = _yaml_dump(document).encode()
        self.cache.put("yaml", hash_object("blob", data), copy.deepcopy(document))
        return changes.put_file(path, data)


def _parse_yaml(path: str, data: bytes) -> dict[str, Any]:
    try:
        value = load_yaml(data.decode("utf-8"), path)
    except UnicodeDecodeError as exc:
        raise InvalidFile(path, None, f"not UTF-8 text ({exc.reason})") from None
    if not isinstance(value, dict):
        raise BadInput(f"{path}: must be a mapping")
    return value
