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

from .errors import CorruptObject, NotFound
from .types import ObjectId, RefName

if TYPE_CHECKING:
    from .repository import Repository

__all__ = ["TYPE_NUMBERS", "story_backend", "upload_pack_handler"]

#: git's numbers for the object types (as in a pack).
TYPE_NUMBERS = {"commit": 1, "tree": 2, "blob": 3, "tag": 4}


def story_backend(repo: Repository) -> Any:
    """A ``dulwich.server.Backend`` serving ``repo`` (whatever path a request names)."""
    return _classes()[0](repo)


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
    from dulwich.object_store import MissingObjectFinder, PackCapableObjectStore
    from dulwich.objects import ShaFile, sha_to_hex
    from dulwich.protocol import CAPABILITY_FILTER
    from dulwich.refs import DictRefsContainer
    from dulwich.server import Backend, UploadPackHandler

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

        def __init__(self, repo: Repository) -> None:
            # (not ``self.repo``: dulwich takes a handler's ``repo.repo`` for a dulwich Repo)
            self.story = repo
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
        def __init__(self, repo: Repository) -> None:
            self.repo = repo

        def open_repository(self, path: str) -> Any:
            return ServedStory(self.repo)

    class StoryUploadPack(UploadPackHandler):  # type: ignore[misc]
        def capabilities(self) -> list[bytes]:
            return [c for c in super().capabilities() if c != CAPABILITY_FILTER]

        def set_client_capabilities(self, caps: Any) -> None:
            # git names ``filter`` even after it said it ignores the filter a server does not offer.
            super().set_client_capabilities([c for c in caps if c != CAPABILITY_FILTER])

    return Served, ServedStory, StoryObjects, StoryUploadPack


_HEAD = RefName("HEAD")
