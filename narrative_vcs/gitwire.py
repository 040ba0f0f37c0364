"""A story served over git's own protocol, through dulwich, from gvcs's object and ref stores.

:func:`story_backend` makes a ``dulwich.server.Backend``: dulwich speaks the protocol (smart HTTP in
``api/git``), and every object and ref it reads comes through the repository's stores, so the embedded
store and Neo4j are served alike. dulwich is imported when a story is first served.

Reading: ``git clone``, ``git fetch``, ``git ls-remote``, shallow clones (``--depth``). The refs are read
once per request, so one request sees one state of the story.
"""

from __future__ import annotations

import io
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

SHALLOW_FETCH = (
    "a shallow clone fetches from this server with a depth: git fetch --depth N, or --unshallow for "
    "the whole history"
)
#: Pack bytes gathered into one side-band packet (at most 65515 fit).
PACKET_DATA = 65515
#: Objects read at once while a pack is written.
READ_AHEAD = 2048

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


class _Unplanned(Exception):
    """A request :func:`pack_order` leaves to dulwich's own object finder."""


def _hex(sha: bytes) -> ObjectId:
    return ObjectId(sha.decode("ascii"))


def pack_order(
    repo: Repository,
    wants: list[ObjectId],
    haves: list[ObjectId],
    shallow: set[ObjectId],
    client_shallow: set[ObjectId] | None = None,
) -> list[ObjectId]:
    """The ids of the objects a fetch of ``wants`` sends to a client holding ``haves`` (and what they
    reach), whose history stops at ``shallow``: the commits it lacks, oldest first, each after the trees
    and blobs that differ from its first parent's (its whole tree at the shallow edge). Found from the
    commit cache and trees read a level at a time, not object by object. ``client_shallow``: the
    client's own shallow commits, when it is a shallow clone."""
    from .transfer import plan_objects

    starts: list[ObjectId] = []
    for want in wants:
        obj_type = repo.objects.get(want)[0]
        if obj_type != "commit":
            raise _Unplanned(want)
        starts.append(want)
    if shallow or client_shallow:
        # A shallow clone or fetch: the history down to the shallow commits, which go whole. What a
        # shallow client holds stops at its own edge, which its haves do not tell, so the answer is
        # what a new clone of that depth gets (git keeps what it already has).
        found: dict[ObjectId, Any] = {}
        stack = list(starts)
        while stack:
            oid = stack.pop()
            if oid in found:
                continue
            info = found[oid] = repo.commits.get(oid)
            if oid not in shallow:
                stack.extend(p for p in info.parents if p not in found)
        new = list(found.values())
        edge = {
            oid for oid, info in found.items() if oid in shallow or any(p not in found for p in info.parents)
        }
    else:
        new = list(repo.commits.walk(starts, exclude=haves))
        edge = set()
    new.reverse()
    order: list[ObjectId] = []
    seen: set[ObjectId] = set()
    for start in range(0, len(new), 1000):
        chunk, _trees = plan_objects(repo, new[start : start + 1000], whole=edge)
        for oid in chunk:
            if oid not in seen:
                seen.add(oid)
                order.append(oid)
    return order


def _delta_cycles(deltas: dict[ObjectId, tuple[ObjectId, bytes]]) -> set[ObjectId]:
    """Objects to send whole so that no chain of ``deltas`` (object -> its base) comes back on itself:
    one object of each cycle."""
    cut: set[ObjectId] = set()
    done: set[ObjectId] = set()
    for start in deltas:
        path: list[ObjectId] = []
        on_path: set[ObjectId] = set()
        oid: ObjectId | None = start
        while oid is not None and oid in deltas and oid not in done and oid not in cut:
            if oid in on_path:
                cut.add(oid)
                break
            path.append(oid)
            on_path.add(oid)
            oid = deltas[oid][0]
        done.update(path)
    return cut


def _oid(value: bytes, zero: bytes) -> ObjectId | None:
    return None if value == zero else ObjectId(value.decode("ascii"))


def _line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _one_line(text: str) -> bytes:
    return text.replace("\n", " ").encode("utf-8", "replace")


def story_backend(repo: Repository, pusher: str | None = None, refuse_pack: str | None = None) -> Any:
    """A ``dulwich.server.Backend`` serving ``repo`` (whatever path a request names); ``pusher``: the
    actor of the request's token, whose pushes it takes (None: pushes are refused); ``refuse_pack``:
    why a pushed pack is not even unpacked (too large for the server), told to git for every ref."""
    return _classes()[0](repo, pusher, refuse_pack)


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
    from dulwich.errors import UnexpectedCommandError
    from dulwich.object_format import DEFAULT_OBJECT_FORMAT
    from dulwich.object_store import MemoryObjectStore, MissingObjectFinder, PackCapableObjectStore
    from dulwich.objects import ShaFile, sha_to_hex
    from dulwich.pack import REF_DELTA, UnpackedObject, pack_object_header, write_pack_data
    from dulwich.protocol import CAPABILITY_ATOMIC, CAPABILITY_FILTER
    from dulwich.refs import DictRefsContainer
    from dulwich.server import Backend, ReceivePackHandler, UploadPackHandler

    def writes_as_stored() -> bool:
        """Whether dulwich writes an entry's ``comp_chunks`` as they are (the whole entry, header
        included), which lets a stored delta go out without being inflated and compressed again."""
        probe = UnpackedObject(REF_DELTA, delta_base=b"\x01" * 20, decomp_len=1, sha=b"\x02" * 20)
        probe.comp_chunks = [b"gvcs-probe"]
        written = bytearray()
        write_pack_data(written.extend, iter([probe]), DEFAULT_OBJECT_FORMAT, num_records=1)
        return bytes(written[12:22]) == b"gvcs-probe"

    AS_STORED = writes_as_stored()

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

        def iter_unpacked_subset(
            self,
            shas: Any,
            include_comp: bool = False,
            allow_missing: bool = False,
            convert_ofs_delta: bool = True,
        ) -> Iterator[Any]:
            """The objects among ``shas`` that the store keeps as deltas, as deltas against their base
            (dulwich asks for them to reuse them in the pack it writes, as git does; it sends those
            whose base goes in the pack too), with the compressed bytes the store holds where dulwich
            writes those as they are. Objects kept whole are read once, when the pack is written, not
            here. A base chain that would come back to an object (two packs keeping two objects as
            deltas of each other) is cut, the object where it closes going whole."""
            deltas = self.store.stored_deltas([self._hex(sha) for sha in shas])
            for oid in _delta_cycles({oid: (d.base, b"") for oid, d in deltas.items()}):
                del deltas[oid]
            for oid, stored in deltas.items():
                base = bytes.fromhex(stored.base)
                if AS_STORED:
                    unpacked = UnpackedObject(
                        REF_DELTA, delta_base=base, decomp_len=stored.size, sha=bytes.fromhex(oid)
                    )
                    header = pack_object_header(
                        REF_DELTA, base, stored.size, object_format=DEFAULT_OBJECT_FORMAT
                    )
                    unpacked.comp_chunks = [bytes(header) + stored.compressed]
                else:
                    unpacked = UnpackedObject(
                        REF_DELTA, delta_base=base, decomp_chunks=[stored.delta()], sha=bytes.fromhex(oid)
                    )
                yield unpacked

        def read_ahead(self, order: list[ObjectId]) -> None:
            """The objects a pack is about to be written from, in its order: read in bulk as it goes."""
            self._order = order
            self._at = {oid: n for n, oid in enumerate(order)}
            self._ahead: dict[ObjectId, tuple[str, bytes]] = {}

        def _read(self, oid: ObjectId) -> tuple[str, bytes]:
            ahead: dict[ObjectId, tuple[str, bytes]] | None = getattr(self, "_ahead", None)
            if ahead is not None:
                found = ahead.pop(oid, None)
                if found is not None:
                    return found
                at = self._at.get(oid)
                if at is not None:
                    chunk = [o for o in self._order[at : at + READ_AHEAD] if o not in ahead]
                    ahead.update(self.store.get_many(chunk))
                    found = ahead.pop(oid, None)
                    if found is not None:
                        return found
            return self.store.get(oid)

        def __getitem__(self, name: bytes) -> Any:
            try:
                obj_type, data = self._read(self._hex(name))
            except NotFound:
                raise KeyError(name) from None
            type_num = TYPE_NUMBERS[obj_type]
            obj = ShaFile.from_raw_string(type_num, data)
            if obj.id != (name if len(name) == 40 else sha_to_hex(cast(Any, name))):
                raise CorruptObject(f"object {self._hex(name)} does not hash to its id")
            return obj

        def add_object(self, obj: Any) -> None:
            raise NotFound("this story takes objects only through a push")

    class ServedStory:
        """What dulwich's handlers ask of a repository, answered from one state of the refs."""

        def __init__(self, repo: Repository, pusher: str | None, refuse_pack: str | None = None) -> None:
            # (not ``self.repo``: dulwich takes a handler's ``repo.repo`` for a dulwich Repo)
            self.story = repo
            self.pusher = pusher
            self.refuse_pack = refuse_pack
            self.object_store = StoryObjects(repo)
            self.object_format = DEFAULT_OBJECT_FORMAT
            refs = {name.encode(): oid.encode() for name, oid in repo.refs.list("refs/").items()}
            self.refs = DictRefsContainer(cast(Any, refs))
            head = repo.refs.get_symbolic(_HEAD)
            if head is not None and head.encode() in refs:
                self.refs.set_symbolic_ref(cast(Any, b"HEAD"), cast(Any, head.encode()))
            self.hooks: dict[str, Any] = {}

        def get_named_file(self, path: str) -> Any:
            """The files dulwich's dumb-protocol routes ask for: ``HEAD`` only (a story has no other
            files of a git directory to give)."""
            if path.strip("/") != "HEAD":
                return None
            head = cast(dict[bytes, bytes], self.refs.get_symrefs()).get(b"HEAD")
            return None if head is None else io.BytesIO(b"ref: " + head + b"\n")

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
            try:
                wants = determine_wants(self.get_refs(), depth=depth)
            except UnexpectedCommandError:
                if not getattr(graph_walker, "client_shallow", None):
                    raise
                # A shallow clone fetching without a depth: dulwich answers shallow clients only
                # with a depth. Said to git as the remote's error, not a broken connection.
                graph_walker.proto.write_pkt_line(f"ERR {SHALLOW_FETCH}".encode())
                return None
            if not wants:
                return None
            haves = self.object_store.find_common_revisions(graph_walker)
            shallow: set[Any] = getattr(graph_walker, "shallow", set())
            try:
                order = pack_order(
                    self.story,
                    [_hex(w) for w in wants],
                    [_hex(h) for h in haves],
                    {_hex(s) for s in shallow},
                    {_hex(s) for s in getattr(graph_walker, "client_shallow", ())},
                )
            except _Unplanned:  # something the plan does not cover (an annotated tag's chain): dulwich's
                return MissingObjectFinder(
                    self.object_store,
                    haves=haves,
                    wants=cast(Any, wants),
                    shallow=shallow,
                    progress=progress,
                    get_tagged=cast(Any, get_tagged),
                    get_parents=lambda commit: [] if commit.id in shallow else commit.parents,
                )
            self.object_store.read_ahead(order)
            return [(oid.encode("ascii"), None) for oid in order]

    class Served(Backend):  # type: ignore[misc]
        def __init__(self, repo: Repository, pusher: str | None, refuse_pack: str | None = None) -> None:
            self.repo = repo
            self.pusher = pusher
            self.refuse_pack = refuse_pack

        def open_repository(self, path: str) -> Any:
            return ServedStory(self.repo, self.pusher, self.refuse_pack)

    class StoryUploadPack(UploadPackHandler):  # type: ignore[misc]
        def capabilities(self) -> list[bytes]:
            return [c for c in super().capabilities() if c != CAPABILITY_FILTER]

        def set_client_capabilities(self, caps: Any) -> None:
            # git names ``filter`` even after it said it ignores the filter a server does not offer.
            super().set_client_capabilities([c for c in caps if c != CAPABILITY_FILTER])

        def _start_pack_send_phase(self) -> None:
            """The pack goes out in full side-band packets: dulwich writes a packet per piece of each
            object (its header, its data), three for every object of a clone. Whatever else is
            written (progress, the final flush) sends what is gathered first, so the order holds."""
            super()._start_pack_send_phase()
            send = self.write_pack_data
            pending = bytearray()
            proto = self.proto
            write_pkt_line = proto.write_pkt_line

            def flush() -> None:
                if pending:
                    data = bytes(pending)
                    pending.clear()
                    send(data)

            def gather(data: bytes) -> None:
                pending.extend(data)
                if len(pending) >= PACKET_DATA:
                    flush()

            def write_line(line: bytes | None) -> None:
                flush()
                write_pkt_line(line)

            self.write_pack_data = gather
            proto.write_pkt_line = write_line  # type: ignore[method-assign]

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
                    if served.refuse_pack is not None:
                        raise Refused(served.refuse_pack)
                    objects = unpack(served.story, self.proto.read, getattr(self.proto, "recv", None))
                except (CorruptObject, Refused) as exc:
                    reason = _one_line(str(exc))
                    yield (b"unpack", reason)
                    for _old, _new, ref in refs:
                        yield (ref, reason)
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
