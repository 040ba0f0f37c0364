"""Git packs (version 2) of whole objects, built and read in memory.

A pack is ``PACK``, the version (2) and the number of entries, then each entry (its type and size in a
varint header, then the object deflated), then the SHA-1 of all that. The packs built here hold whole
objects only (no deltas): they are what a writer produces cheaply, a batch at a time. The git backend
writes them as ``pack-*.pack`` files with their ``.idx``; the Neo4j backend keeps them in ``(:Pack)``
nodes with a compact index of their own (sorted binary ids and their offsets), read by :class:`PackData`.

:class:`PackIndex` finds objects across many packs (binary id -> pack number and offset), and
:class:`PackCache` keeps the most recently read packs in memory, bounded by bytes.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import mmap
import struct
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence

from ..errors import CorruptObject, NotFound
from ..objects import hash_object
from ..records import record
from ..types import ObjectId

__all__ = [
    "TYPE_CODES",
    "TYPE_NAMES",
    "BuiltPack",
    "Entry",
    "PackCache",
    "PackData",
    "PackIndex",
    "build_pack",
    "encode_entry",
    "entry_header",
    "pack_objects",
    "parse_entry_header",
    "read_entry",
    "split_objects",
]

TYPE_NAMES = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
TYPE_CODES = {v: k for k, v in TYPE_NAMES.items()}
_IDX_MAGIC = b"\xfftOc\x00\x00\x00\x02"

#: A pack entry ready to be written: ``(binary id, crc32 of the entry, entry bytes)``.
Entry = tuple[bytes, int, bytes]


def entry_header(type_code: int, size: int) -> bytes:
    """A pack entry's header: type and size, 4 bits then 7 bits a byte, high bit = more."""
    byte = (type_code << 4) | (size & 0x0F)
    size >>= 4
    out = bytearray()
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


#: Objects smaller than this are stored in the pack without compression (see :func:`stored`).
STORE_BELOW = 1024


def encode_entry(oid: ObjectId, obj_type: str, data: bytes) -> Entry:
    """The whole (non-delta) pack entry of one object."""
    # As for loose objects: trees (mostly ids) and small objects are stored, larger text compressed at
    # level 1. The git backend's packer deltifies and recompresses once enough objects have piled up.
    if obj_type == "tree" or len(data) < STORE_BELOW:
        body = stored(data)
    else:
        body = zlib.compress(data, 1)
    entry = entry_header(TYPE_CODES[obj_type], len(data)) + body
    return bytes.fromhex(oid), zlib.crc32(entry), entry


def stored(data: bytes) -> bytes:
    """``data`` as a zlib stream of stored (uncompressed) deflate blocks (RFC 1950 and 1951), as
    ``zlib.compress(data, 0)`` makes it but without leaving the interpreter: a group commit encodes
    thousands of small objects, and each call into zlib lets other threads take the interpreter."""
    parts = [b"\x78\x01"]  # deflate, 32 KiB window, no dictionary, fastest (a multiple of 31)
    size = len(data)
    start = 0
    while True:
        chunk = data[start : start + 0xFFFF]
        start += len(chunk)
        final = start >= size
        parts.append(struct.pack("<BHH", final, len(chunk), len(chunk) ^ 0xFFFF))
        parts.append(chunk)
        if final:
            break
    parts.append(struct.pack(">I", zlib.adler32(data)))
    return b"".join(parts)


@record
class BuiltPack:
    """A pack in memory: ``body`` (header and entries) and ``checksum`` (its SHA-1, the trailer), with
    ``index``: ``(binary id, crc32, offset)`` of each entry, sorted by id."""

    body: bytes
    checksum: bytes
    index: list[tuple[bytes, int, int]]

    @property
    def data(self) -> bytes:
        """The whole pack, trailer included."""
        return self.body + self.checksum

    @property
    def count(self) -> int:
        return len(self.index)

    def ids(self) -> bytes:
        """The sorted 20-byte binary ids, end to end."""
        return b"".join(raw for raw, _, _ in self.index)

    def offsets(self) -> bytes:
        """The offset of each entry of :meth:`ids`, a big-endian u32 each (packs under 4 GiB)."""
        return struct.pack(f">{len(self.index)}I", *(at for _, _, at in self.index))

    def idx(self) -> bytes:
        """The pack's git index, version 2 (what ``git index-pack`` would write)."""
        index = self.index
        counts = [0] * 256
        for raw, _, _ in index:
            counts[raw[0]] += 1
        small: list[int] = []
        large: list[int] = []
        for _, _, at in index:
            if at < 0x80000000:
                small.append(at)
            else:
                small.append(0x80000000 | len(large))
                large.append(at)
        idx = b"".join(
            [
                _IDX_MAGIC,
                struct.pack(">256I", *itertools.accumulate(counts)),
                *(raw for raw, _, _ in index),
                struct.pack(f">{len(index)}I", *(crc for _, crc, _ in index)),
                struct.pack(f">{len(small)}I", *small),
                struct.pack(f">{len(large)}Q", *large),
                self.checksum,
            ]
        )
        return idx + hashlib.sha1(idx).digest()


def build_pack(entries: Sequence[Entry]) -> BuiltPack:
    """A pack of ``entries``, in the order given (ids should be distinct)."""
    chunks = [b"PACK" + struct.pack(">II", 2, len(entries))]
    offset = 12
    index: list[tuple[bytes, int, int]] = []
    for raw, crc, entry in entries:
        index.append((raw, crc, offset))
        chunks.append(entry)
        offset += len(entry)
    body = b"".join(chunks)
    index.sort()
    return BuiltPack(body, hashlib.sha1(body).digest(), index)


def pack_objects(objects: Mapping[ObjectId, tuple[str, bytes]]) -> BuiltPack:
    """A pack of ``objects`` (id -> (type, data)), whole objects, no deltas."""
    return build_pack([encode_entry(oid, t, d) for oid, (t, d) in objects.items()])


# --- reading ------------------------------------------------------------------------------------------


class _Ids(Sequence[bytes]):
    """Sorted 20-byte ids stored end to end, as a sequence ``bisect`` can search."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __len__(self) -> int:
        return len(self._data) // 20

    def __getitem__(self, i: int) -> bytes:  # type: ignore[override]
        if not 0 <= i < len(self._data) // 20:
            raise IndexError(i)
        return self._data[20 * i : 20 * i + 20]

    def __iter__(self) -> Iterator[bytes]:
        data = self._data
        return (data[i : i + 20] for i in range(0, len(data), 20))


def _search(ids: bytes, raw: bytes, lo: int = 0, hi: int | None = None) -> int:
    """The position of ``raw`` in sorted ``ids`` (20 bytes each), or -1."""
    seq = _Ids(ids)
    at = bisect.bisect_left(seq, raw, lo, len(seq) if hi is None else hi)
    return at if at < len(seq) and seq[at] == raw else -1


def _inflate(view: memoryview, pos: int, size: int) -> tuple[bytes, int]:
    """Inflate the zlib stream at ``pos`` whose output is ``size`` bytes long: the bytes, and where the
    stream ends."""
    z = zlib.decompressobj()
    chunk = size + 64
    out = z.decompress(view[pos : pos + chunk])
    fed = min(chunk, len(view) - pos)
    while not z.eof:
        more = view[pos + fed : pos + fed + chunk]
        if not more:
            raise zlib.error("truncated stream")
        out += z.decompress(more)
        fed += len(more)
        chunk *= 2
    if len(out) != size:
        raise zlib.error("size mismatch")
    return out, pos + fed - len(z.unused_data)


def parse_entry_header(buf: bytes | memoryview | mmap.mmap, offset: int) -> tuple[int, int, int]:
    """The header of the pack entry at ``offset``: its type code, its inflated size, and where its
    data (a delta's base reference, or the zlib stream) starts."""
    byte = buf[offset]
    type_code = (byte >> 4) & 7
    size = byte & 0x0F
    shift = 4
    pos = offset + 1
    while byte & 0x80:
        byte = buf[pos]
        pos += 1
        size |= (byte & 0x7F) << shift
        shift += 7
    return type_code, size, pos


def read_entry(data: bytes | memoryview, offset: int) -> tuple[str, bytes, int]:
    """The whole object at ``offset`` of a pack: its type, its data, and where the next entry starts.

    Raises ``ValueError`` (or ``zlib.error``) for a delta or a damaged entry."""
    view = data if isinstance(data, memoryview) else memoryview(data)
    type_code, size, pos = parse_entry_header(view, offset)
    obj_type = TYPE_NAMES.get(type_code)
    if obj_type is None:
        raise ValueError(f"pack entry of type {type_code} (deltas are not read here)")
    out, end = _inflate(view, pos, size)
    return obj_type, out, end


class PackData:
    """One pack in memory with its index: ``ids`` (sorted 20-byte binary ids, end to end) and
    ``offsets`` (a big-endian u32 per id: where its entry starts)."""

    __slots__ = ("count", "data", "ids", "name", "offsets", "view")

    def __init__(self, data: bytes, ids: bytes, offsets: bytes, name: str = "pack") -> None:
        self.data = data
        self.view = memoryview(data)
        self.ids = ids
        self.offsets = offsets
        self.count = len(ids) // 20
        self.name = name  # for messages

    @classmethod
    def scan(cls, data: bytes, name: str = "pack") -> PackData:
        """A pack whose index is built by reading every entry (each is inflated and hashed)."""
        if data[:4] != b"PACK" or len(data) < 32:
            raise CorruptObject(f"{name}: not a git pack")
        version, count = struct.unpack_from(">II", data, 4)
        if version != 2:
            raise CorruptObject(f"{name}: pack version {version}, not 2")
        found: list[tuple[bytes, int]] = []
        at = 12
        view = memoryview(data)
        try:
            for _ in range(count):
                obj_type, obj, end = read_entry(view, at)
                found.append((bytes.fromhex(hash_object(obj_type, obj)), at))
                at = end
        except (ValueError, IndexError, zlib.error) as exc:
            raise CorruptObject(f"{name}: entry at {at} cannot be read ({exc})") from None
        found.sort()
        return cls(
            data,
            b"".join(raw for raw, _ in found),
            struct.pack(f">{len(found)}I", *(at for _, at in found)),
            name,
        )

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[ObjectId]:
        ids = self.ids
        return (ObjectId(ids[i : i + 20].hex()) for i in range(0, len(ids), 20))

    def offset(self, raw: bytes) -> int:
        """Where the entry of binary id ``raw`` starts, or -1."""
        at = _search(self.ids, raw)
        return -1 if at < 0 else int.from_bytes(self.offsets[4 * at : 4 * at + 4], "big")

    def read_at(self, offset: int, oid: ObjectId) -> tuple[str, bytes]:
        """The object ``oid`` whose entry starts at ``offset``, checked against its id."""
        try:
            obj_type, data, _ = read_entry(self.view, offset)
        except (ValueError, IndexError, zlib.error) as exc:
            raise CorruptObject(f"object {oid} in {self.name} cannot be read ({exc})") from None
        if hash_object(obj_type, data) != oid:
            raise CorruptObject(f"object {oid} in {self.name} does not hash to its id")
        return obj_type, data

    def read(self, oid: ObjectId) -> tuple[str, bytes]:
        """The object ``oid``, checked against its id; :class:`NotFound` if the pack lacks it."""
        offset = self.offset(bytes.fromhex(oid))
        if offset < 0:
            raise NotFound(f"object {oid} not in {self.name}")
        return self.read_at(offset, oid)

    def verify(self) -> list[str]:
        """One line per problem: the trailer, the index, and every entry against its id."""
        data = self.data
        if data[:4] != b"PACK" or len(data) < 32 or struct.unpack_from(">II", data, 4) != (2, self.count):
            return [f"{self.name}: not a version 2 pack of {self.count} objects"]
        problems = []
        if hashlib.sha1(self.view[:-20]).digest() != data[-20:]:
            problems.append(f"{self.name}: its checksum does not match its content")
        if len(self.offsets) != 4 * self.count or len(self.ids) % 20:
            return [*problems, f"{self.name}: its index is damaged"]
        ids = [self.ids[i : i + 20] for i in range(0, len(self.ids), 20)]
        if ids != sorted(set(ids)):
            problems.append(f"{self.name}: its ids are not sorted and distinct")
        for oid in self:
            try:
                self.read(oid)
            except (CorruptObject, NotFound) as exc:
                problems.append(str(exc))
        return problems


class PackIndex:
    """Where objects sit across many packs: binary id -> (pack number, offset of its entry).

    Most entries are kept in one sorted run (20 bytes of id and 8 of place each, with a fan-out on the
    first byte); the packs added since the last merge sit in a dict, merged in once it has grown to a
    fraction of the run, so each entry is merged a few times at most. An id in several packs is found
    in one of them (any copy is the same object). Thread-safe.
    """

    def __init__(self, merge_after: int = 4096) -> None:
        self._merge_after = merge_after  # entries the dict may hold before any merge
        self._lock = threading.Lock()
        # The sorted run: ids end to end, their places, the fan-out. One tuple, replaced whole.
        self._run: tuple[bytes, array[int], list[int]] = (b"", array("Q"), [0] * 257)
        self._recent: dict[bytes, int] = {}
        self.packs: set[int] = set()

    def add(self, number: int, ids: bytes, offsets: bytes) -> None:
        """Index pack ``number`` (its ids and offsets as :class:`PackData` keeps them)."""
        if len(ids) % 20 or len(offsets) * 5 != len(ids):
            raise CorruptObject(f"pack {number}: its index is damaged")
        places = struct.unpack(f">{len(offsets) // 4}I", offsets)
        with self._lock:
            if number in self.packs:
                return
            self.packs.add(number)
            recent = self._recent
            for i, at in enumerate(places):
                recent.setdefault(ids[20 * i : 20 * i + 20], number << 32 | at)
            if len(recent) > max(self._merge_after, len(self._run[1]) // 2):
                self._merge()

    def _merge(self) -> None:
        ids, places, _ = self._run
        entries = dict(zip(_Ids(ids), places, strict=True))
        for raw, where in self._recent.items():
            entries.setdefault(raw, where)
        ordered = sorted(entries.items())
        ids = b"".join(raw for raw, _ in ordered)
        first = ids[0::20]
        fanout = [bisect.bisect_left(first, b) for b in range(257)]
        self._run = (ids, array("Q", (w for _, w in ordered)), fanout)
        self._recent = {}  # after the run: a reader looks in the dict first, then in the run

    def find(self, raw: bytes) -> tuple[int, int] | None:
        """``(pack number, offset)`` of binary id ``raw``, or None."""
        where = self._recent.get(raw)
        if where is None:
            ids, places, fanout = self._run
            at = _search(ids, raw, fanout[raw[0]], fanout[raw[0] + 1])
            if at < 0:
                return None
            where = places[at]
        return where >> 32, where & 0xFFFFFFFF

    def __contains__(self, raw: object) -> bool:
        return isinstance(raw, bytes) and self.find(raw) is not None

    def __len__(self) -> int:
        with self._lock:
            ids = self._run[0]
            return len(ids) // 20 + sum(1 for raw in self._recent if _search(ids, raw) < 0)

    def ids(self) -> list[ObjectId]:
        """Every id indexed, sorted."""
        with self._lock:
            found = set(_Ids(self._run[0])) | set(self._recent)
        return [ObjectId(raw.hex()) for raw in sorted(found)]

    def with_prefix(self, prefix: str) -> list[ObjectId]:
        """The indexed ids that start with ``prefix`` (lowercase hex), sorted."""
        with self._lock:
            ids, recent = self._run[0], list(self._recent)
        low = bytes.fromhex(prefix[: len(prefix) // 2 * 2])
        seq = _Ids(ids)
        at = bisect.bisect_left(seq, low)
        found: set[str] = set()
        while at < len(seq) and seq[at].startswith(low):
            found.add(seq[at].hex())
            at += 1
        found.update(raw.hex() for raw in recent if raw.startswith(low))
        return [ObjectId(h) for h in sorted(found) if h.startswith(prefix)]


class PackCache:
    """The packs read most recently, up to ``max_bytes`` of pack data (the last one read always stays).
    Thread-safe."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._packs: OrderedDict[int, PackData] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, number: int) -> PackData | None:
        with self._lock:
            pack = self._packs.get(number)
            if pack is not None:
                self._packs.move_to_end(number)
            return pack

    def put(self, number: int, pack: PackData) -> None:
        with self._lock:
            old = self._packs.pop(number, None)
            if old is not None:
                self._bytes -= len(old.data)
            self._packs[number] = pack
            self._bytes += len(pack.data)
            while self._bytes > self.max_bytes and len(self._packs) > 1:
                self._bytes -= len(self._packs.popitem(last=False)[1].data)

    def __contains__(self, number: object) -> bool:
        return number in self._packs


def split_objects(
    objects: Iterable[tuple[ObjectId, str, bytes]], max_bytes: int = 4 << 20
) -> Iterator[BuiltPack]:
    """Packs of ``objects``, each closed once its entries pass ``max_bytes`` (an object larger than
    that gets a pack of its own)."""
    entries: list[Entry] = []
    size = 0
    for oid, obj_type, data in objects:
        entry = encode_entry(oid, obj_type, data)
        if entries and size + len(entry[2]) > max_bytes:
            yield build_pack(entries)
            entries, size = [], 0
        entries.append(entry)
        size += len(entry[2])
    if entries:
        yield build_pack(entries)
