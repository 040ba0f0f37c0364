"""A story served over git's own protocol, through dulwich, from gvcs's object and ref stores.

:func:`story_backend` makes a ``dulwich.server.Backend``: dulwich speaks the protocol (smart HTTP in
``api/git``), and every object and ref it reads comes through the repository's stores, so the embedded
store and Neo4j are served alike. dulwich is imported when a story is first served.

Reading: ``git clone``, ``git fetch``, ``git ls-remote``, shallow clones (``--depth``). The refs are read
once per request, so one request sees one state of the story.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from .errors import BadInput, CorruptObject, GvcsError, NotFound, Refused
from .refs import HEADS, RefMove
from .types import ObjectId, RefName

if TYPE_CHECKING:
    from .repository import Repository

__all__ = [
    "TYPE_NUMBERS",
    "receive",
    "receive_pack_handler",
    "story_backend",
    "story_objects",
    "unpack",
    "upload_pack_handler",
]

#: git's numbers for the object types (as in a pack).
TYPE_NUMBERS = {"commit": 1, "tree": 2, "blob": 3, "tag": 4}
TYPE_NAMES = {n: t for t, n in TYPE_NUMBERS.items()}


def receive(
    repo: Repository,
    pusher: str | None,
    objects: list[tuple[str, bytes]],
    moves: list[tuple[str, ObjectId | None, ObjectId | None]],
    *,
    atomic: bool,
) -> list[tuple[str, str]]:
    """Land a git push: ``objects`` (unpacked from its pack) and ``moves`` (ref, old, new; None: no
    ref / delete). What git reports for each ref: ``ok``, or the one-line reason it was refused.

    Every move goes through the rules gate with ``pusher`` (:meth:`GatedRefs.update_pushed`: the
    commits it brings must be the pusher's), by compare-and-swap. A move that does not fast-forward a
    branch is refused: history here is never rewritten. ``atomic`` (``git push --atomic``): all moves
    land together or none does; else each ref on its own."""
    if pusher is None:
        return [(ref, "pushing needs an API token (the password)") for ref, _old, _new in moves]
    checked: list[tuple[str, RefMove | None, str]] = []
    for ref, old, new in moves:
        try:
            move = RefMove(RefName(ref), old, new)
            if not ref.startswith("refs/") or ref.startswith(("refs/remotes/", "refs/stash/")):
                raise BadInput(f"{ref}: only branches and tags are pushed")
            checked.append((ref, move, ""))
        except GvcsError as exc:
            checked.append((ref, None, _line(exc)))
    with repo.objects.batch():
        for obj_type, data in objects:
            repo.objects.put(obj_type, data)

    def land(group: list[RefMove]) -> str:
        try:
            for move in group:
                _check_fast_forward(repo, move)
            repo.update_pushed(group, pusher, message="git push")
        except GvcsError as exc:
            return _line(exc)
        return "ok"

    ready = [m for _ref, m, problem in checked if m is not None and not problem]
    if atomic:
        if any(problem for _ref, _m, problem in checked):
            return [(ref, problem or "atomic push failed") for ref, _m, problem in checked]
        status = land(ready)
        return [(ref, status) for ref, _m, _problem in checked]
    return [(ref, problem if problem or m is None else land([m])) for ref, m, problem in checked]


def _check_fast_forward(repo: Repository, move: RefMove) -> None:
    if move.old is None or move.new is None or not move.ref.startswith(HEADS):
        return
    if not repo.commits.is_ancestor(move.old, move.new):
        raise Refused(f"{move.ref} would lose commits (not a fast-forward): history here is never rewritten")


def _oid(value: bytes, zero: bytes) -> ObjectId | None:
    return None if value == zero else ObjectId(value.decode("ascii"))


def _line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _one_line(text: str) -> bytes:
    return text.replace("\n", " ").encode("utf-8", "replace")


def story_backend(repo: Repository, pusher: str | None = None) -> Any:
    """A ``dulwich.server.Backend`` serving ``repo`` (whatever path a request names); ``pusher``: the
    actor of the request's token, whose pushes it takes (None: pushes are refused)."""
    return _classes()[0](repo, pusher)


def story_objects(repo: Repository) -> Any:
    """``repo``'s object store as a dulwich object store (read-only): what a pack sent from the story is
    generated from (``generate_pack_data``)."""
    return _classes()[2](repo)


def unpack(
    repo: Repository, read_all: Callable[[int], bytes], read_some: Any = None
) -> list[tuple[str, bytes]]:
    """The objects of a pack read with ``read_all``, unpacked apart from the story (the bases of a thin
    pack's deltas are read from ``repo``): ``(type, data)`` pairs, nothing stored yet. Raises
    :class:`CorruptObject` when the pack does not unpack."""
    quarantine = _classes()[5](story_objects(repo))
    try:
        quarantine.add_thin_pack(read_all, read_some)
    except Exception as exc:  # a pack that does not parse: nothing is kept
        raise CorruptObject(f"the pack does not unpack: {_line(exc)}") from None
    return [(TYPE_NAMES[o.type_num], o.as_raw_string()) for o in quarantine._data.values()]


def receive_pack_handler() -> Any:
    """dulwich's receive-pack handler with the pack held apart and the refs moved by gvcs (see
    :func:`receive`)."""
    return _classes()[4]


def upload_pack_handler() -> Any:
    """dulwich's upload-pack handler without ``filter``: dulwich answers only wants of advertised refs,
    so the objects a partial clone (``--filter=blob:none``) fetches later could not be had. A client
    asking for a filter is told it is not offered and makes a whole clone."""
    return _classes()[3]


def _classes() -> tuple[type, ...]:
    global _BUILT
    if _BUILT is None:
        _BUILT = _build()
    return _BUILT


_BUILT: tuple[type, ...] | None = None


def _build() -> tuple[type, ...]:
    from dulwich.config import ConfigDict
    from dulwich.object_format import DEFAULT_OBJECT_FORMAT
    from dulwich.object_store import MemoryObjectStore, MissingObjectFinder, PackCapableObjectStore
    from dulwich.objects import ShaFile, sha_to_hex
    from dulwich.protocol import CAPABILITY_ATOMIC, CAPABILITY_FILTER
    from dulwich.refs import DictRefsContainer
    from dulwich.server import Backend, ReceivePackHandler, UploadPackHandler

    class StoryObjects(PackCapableObjectStore):  # type: ignore[misc]
        """The repository's object store as dulwich reads one (no packs of its own: whole objects)."""

        def __init__(self, repo: Repository) -> None:
            super().__init__(object_format=DEFAULT_OBJECT_FORMAT)
            self.store = repo.objects

        @staticmethod
        def _hex(sha: bytes) -> ObjectId:
            return ObjectId((sha if len(sha) == 40 else sha_to_hex(cast(Any, sha))).decode("ascii"))

        def contains_loose(self, sha: bytes) -> bool:
            return self.store.has(self._hex(sha))

        def contains_packed(self, sha: bytes) -> bool:
            return False

        def __iter__(self) -> Iterator[Any]:
            return (oid.encode("ascii") for oid in self.store)

        @property
        def packs(self) -> list[Any]:
            return []

        def get_raw(self, name: bytes) -> tuple[int, bytes]:
            try:
                obj_type, data = self.store.get(self._hex(name))
            except NotFound:
                raise KeyError(name) from None
            return TYPE_NUMBERS[obj_type], data

        def __getitem__(self, name: bytes) -> Any:
            type_num, data = self.get_raw(name)
            obj = ShaFile.from_raw_string(type_num, data)
            if obj.id != (name if len(name) == 40 else sha_to_hex(cast(Any, name))):
                raise CorruptObject(f"object {self._hex(name)} does not hash to its id")
            return obj

        def add_object(self, obj: Any) -> None:
            raise NotFound("this story takes objects only through a push")

    class ServedStory:
        """What dulwich's handlers ask of a repository, answered from one state of the refs."""

        def __init__(self, repo: Repository, pusher: str | None) -> None:
            # (not ``self.repo``: dulwich takes a handler's ``repo.repo`` for a dulwich Repo)
            self.story = repo
            self.pusher = pusher
            self.object_store = StoryObjects(repo)
            self.object_format = DEFAULT_OBJECT_FORMAT
            refs = {name.encode(): oid.encode() for name, oid in repo.refs.list("refs/").items()}
            self.refs = DictRefsContainer(cast(Any, refs))
            head = repo.refs.get_symbolic(_HEAD)
            if head is not None and head.encode() in refs:
                self.refs.set_symbolic_ref(cast(Any, b"HEAD"), cast(Any, head.encode()))
            self.hooks: dict[str, Any] = {}

        def get_refs(self) -> dict[Any, Any]:
            return dict(self.refs.as_dict())

        def get_peeled(self, ref: bytes) -> bytes | None:
            try:
                _obj, peeled = self.object_store.peel(self.refs[cast(Any, ref)])
                return bytes(peeled.id)
            except KeyError:
                return None

        def get_shallow(self) -> set[bytes]:
            return set()

        def update_shallow(self, new_shallow: Any, new_unshallow: Any) -> None:
            pass  # a served story is never shallow itself

        def get_config_stack(self) -> Any:
            return ConfigDict()

        def find_missing_objects(
            self,
            determine_wants: Callable[..., list[bytes]],
            graph_walker: Any,
            progress: Callable[[bytes], None] | None,
            *,
            get_tagged: Callable[[], dict[bytes, bytes]] | None = None,
            depth: int | None = None,
        ) -> Any:
            wants = determine_wants(self.get_refs(), depth=depth)
            if not wants:
                return None
            haves = self.object_store.find_common_revisions(graph_walker)
            shallow: set[Any] = getattr(graph_walker, "shallow", set())
            return MissingObjectFinder(
                self.object_store,
                haves=haves,
                wants=cast(Any, wants),
                shallow=shallow,
                progress=progress,
                get_tagged=cast(Any, get_tagged),
                get_parents=lambda commit: [] if commit.id in shallow else commit.parents,
            )

    class Served(Backend):  # type: ignore[misc]
        def __init__(self, repo: Repository, pusher: str | None) -> None:
            self.repo = repo
            self.pusher = pusher

        def open_repository(self, path: str) -> Any:
            return ServedStory(self.repo, self.pusher)

    class StoryUploadPack(UploadPackHandler):  # type: ignore[misc]
        def capabilities(self) -> list[bytes]:
            return [c for c in super().capabilities() if c != CAPABILITY_FILTER]

        def set_client_capabilities(self, caps: Any) -> None:
            # git names ``filter`` even after it said it ignores the filter a server does not offer.
            super().set_client_capabilities([c for c in caps if c != CAPABILITY_FILTER])

    class Quarantine(MemoryObjectStore):  # type: ignore[misc]
        """Where a pushed pack is unpacked, apart from the story: the bases of a thin pack's deltas are
        read from the story."""

        def __init__(self, story: StoryObjects) -> None:
            super().__init__(object_format=DEFAULT_OBJECT_FORMAT)
            self.story = story

        def get_raw(self, name: Any) -> tuple[int, bytes]:
            try:
                return super().get_raw(name)  # type: ignore[no-any-return]
            except KeyError:
                return self.story.get_raw(name)

    class StoryReceivePack(ReceivePackHandler):  # type: ignore[misc]
        def _apply_pack(self, refs: Any) -> Iterator[tuple[bytes, bytes]]:
            served = cast(ServedStory, self.repo)
            zero = b"0" * 40
            objects: list[tuple[str, bytes]] = []
            if any(new != zero for _old, new, _ref in refs):
                try:
                    objects = unpack(served.story, self.proto.read, getattr(self.proto, "recv", None))
                except CorruptObject as exc:
                    yield (b"unpack", _one_line(str(exc)))
                    return
            yield (b"unpack", b"ok")
            moves = [
                (ref.decode("utf-8", "replace"), _oid(old, zero), _oid(new, zero)) for old, new, ref in refs
            ]
            for ref, status in receive(
                served.story, served.pusher, objects, moves, atomic=self.has_capability(CAPABILITY_ATOMIC)
            ):
                yield (ref.encode(), status.encode())

    return Served, ServedStory, StoryObjects, StoryUploadPack, StoryReceivePack, Quarantine


_HEAD = RefName("HEAD")
