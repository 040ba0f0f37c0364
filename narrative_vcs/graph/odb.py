"""A small pure-Python reader of a git object database: loose objects and packs (index v2, OFS/REF deltas).

Reads are the hot path of ``gvcs log`` and of every commit (the parent commit, the trees it rewrites).
Going through libgit2 means importing pygit2 first, which costs ~100 ms of a cold start, more than the
rest of ``gvcs log -n 20``; dulwich's pack reader costs ~50 ms to import. This reader needs only the
standard library (``zlib``, ``mmap``, ``hashlib``), and inflates pack entries with ISA-L's inflate
(``isal``, a third faster than zlib's on pages) where it is installed. Every object read is checked
against its id, as libgit2 does with strict hash verification.

Writes, packing and iteration stay with :mod:`narrative_vcs.graph.git` (and libgit2).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import mmap
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from ..errors import CorruptObject, NotFound
from .packfile import parse_entry_header

#: The inflate in use and its error, chosen at the first inflate (a `gvcs status` inflates nothing).
_decompressobj: Any = None
_InflateError: Any = zlib.error


def _load_inflate() -> Any:
    """ISA-L's inflate where it is installed, else zlib's."""
    global _decompressobj, _InflateError
    decompressobj: Any
    error: Any
    try:
        from isal import isal_zlib

        decompressobj, error = isal_zlib.decompressobj, isal_zlib.error
    except ImportError:  # no wheel for this platform
        decompressobj, error = zlib.decompressobj, zlib.error
    _decompressobj, _InflateError = decompressobj, error
    return decompressobj


__all__ = ["ObjectReader"]

_TYPE_NAMES = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
#: The start of each type's object header (then its size and a NUL), over which its id is hashed.
_HEADERS = {code: f"{name} ".encode() for code, name in _TYPE_NAMES.items()}
_OFS_DELTA = 6
_REF_DELTA = 7
_MAX_DELTA_DEPTH = 10_000
#: The cache of delta bases: at most this many objects and bytes.
_BASES = 4096
_BASE_BYTES = 64 << 20
#: Lookups in one fan-out bucket after which the bucket gets a dict (see ``_Pack.find``).
_BUCKET_DICT_AFTER = 16
_IDX_MAGIC = b"\xfftOc\x00\x00\x00\x02"
#: How many of the packs recent reads were found in are tried first.
_RECENT_PACKS = 4


def _idx_size(count: int) -> int:
    """The size of a version 2 index of ``count`` objects without 64-bit offsets: header, fan-out,
    names, CRCs, offsets, and the two checksums."""
    return 8 + 1024 + 28 * count + 40


class _Pack:
    """One ``pack-*.pack`` with its ``.idx`` (version 2), both memory-mapped."""

    __slots__ = (
        "at",
        "buckets",
        "count",
        "ends",
        "hits",
        "idx",
        "large",
        "names",
        "offsets",
        "pack",
        "path",
    )

    def __init__(self, idx_path: str) -> None:
        self.path = idx_path[:-4] + ".pack"
        with open(idx_path, "rb") as fh:
            self.idx = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        with open(self.path, "rb") as fh:
            self.pack = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        idx = self.idx
        if idx[:8] != _IDX_MAGIC:
            raise CorruptObject(f"{idx_path}: not a version 2 pack index")
        self.count = int.from_bytes(idx[8 + 1020 : 8 + 1024], "big")
        if len(idx) < _idx_size(self.count):
            raise CorruptObject(f"{idx_path}: truncated ({len(idx)} bytes for {self.count} objects)")
        self.names = 8 + 1024
        self.offsets = self.names + 24 * self.count  # names (20 bytes) then CRCs (4 bytes)
        self.large = self.offsets + 4 * self.count
        self.buckets: list[dict[bytes, int] | None] = [None] * 256
        self.hits = [0] * 256
        self.at: dict[int, int] | None = None  # index positions by offset, made when first asked
        self.ends: list[int] | None = None  # the entries' offsets in order, then the trailer's

    def _positions(self) -> dict[int, int]:
        at = self.at
        if at is None:
            at = self.at = {self._offset(i): i for i in range(self.count)}
        return at

    def name_at(self, offset: int) -> bytes | None:
        """The binary id of the object whose entry starts at ``offset``, or None."""
        index = self._positions().get(offset)
        return None if index is None else self.idx[self.names + 20 * index : self.names + 20 * index + 20]

    def entry(self, offset: int) -> bytes | None:
        """The bytes of the entry at ``offset`` (header and zlib stream), if its CRC-32 is the one
        the index keeps for it (as git checks an entry it reuses); None otherwise."""
        index = self._positions().get(offset)
        if index is None:
            return None
        ends = self.ends
        if ends is None:
            ends = self.ends = [*sorted(self._positions()), len(self.pack) - 20]
        end = ends[bisect.bisect_right(ends, offset)]
        data = self.pack[offset:end]
        at = self.names + 20 * self.count + 4 * index
        return data if zlib.crc32(data) == int.from_bytes(self.idx[at : at + 4], "big") else None

    def close(self) -> None:
        self.idx.close()
        self.pack.close()

    def find(self, raw: bytes) -> int:
        """The offset in the pack of the object with binary id ``raw``, or -1."""
        first = raw[0]
        bucket = self.buckets[first]
        if bucket is None:
            hits = self.hits[first] = self.hits[first] + 1
            if hits < _BUCKET_DICT_AFTER:
                # A few lookups (a cold `gvcs log -n 20`, a merge's thousand): a scan of the bucket in
                # C, no dict to build.
                return self._offset(self._search(raw, first))
            # Many lookups in this bucket: one dict probe each.
            lo, hi = self._bucket_range(first)
            names = self.idx[self.names + 20 * lo : self.names + 20 * hi]
            bucket = self.buckets[first] = {names[i : i + 20]: lo + i // 20 for i in range(0, len(names), 20)}
        return self._offset(bucket.get(raw))

    def _bucket_range(self, first: int) -> tuple[int, int]:
        """The index positions of the ids whose first byte is ``first`` (from the fan-out table)."""
        idx = self.idx
        lo = int.from_bytes(idx[4 + 4 * first : 8 + 4 * first], "big") if first else 0
        hi = int.from_bytes(idx[8 + 4 * first : 12 + 4 * first], "big")
        return lo, hi

    def _search(self, raw: bytes, first: int) -> int | None:
        """The index position of ``raw`` in its fan-out bucket: the bucket's names (20 bytes each, in
        the mapped index) are searched for it in C, a match counting where a name starts (a Python
        binary search cost several microseconds a lookup, a merge makes thousands)."""
        lo, hi = self._bucket_range(first)
        start = self.names + 20 * lo
        end = self.names + 20 * hi
        at = self.idx.find(raw, start, end)
        while at >= 0:
            if (at - start) % 20 == 0:
                return lo + (at - start) // 20
            at = self.idx.find(raw, at + 1, end)
        return None

    def with_prefix(self, prefix: str) -> list[str]:
        """The ids in this pack that start with the hex ``prefix`` (at least 2 digits)."""
        idx, names = self.idx, self.names
        low = bytes.fromhex(prefix.ljust(40, "0"))
        lo, hi = self._bucket_range(low[0])
        while lo < hi:  # the first name >= low
            mid = (lo + hi) // 2
            if idx[names + 20 * mid : names + 20 * mid + 20] < low:
                lo = mid + 1
            else:
                hi = mid
        found = []
        end = self._bucket_range(low[0])[1]
        while lo < end:
            name = idx[names + 20 * lo : names + 20 * lo + 20].hex()
            if not name.startswith(prefix):
                break
            found.append(name)
            lo += 1
        return found

    def _offset(self, index: int | None) -> int:
        if index is None:
            return -1
        at = self.offsets + 4 * index
        offset = int.from_bytes(self.idx[at : at + 4], "big")
        if offset & 0x80000000:
            at = self.large + 8 * (offset & 0x7FFFFFFF)
            offset = int.from_bytes(self.idx[at : at + 8], "big")
        return offset


def _verify_pack(idx_path: str) -> str | None:
    """What is wrong with a pack and its version 2 index, or None."""
    pack_path = idx_path[:-4] + ".pack"
    try:
        with open(idx_path, "rb") as fh:
            idx = fh.read()
        pack_sum, pack_head, pack_size = _pack_digest(pack_path)
    except FileNotFoundError:
        if not os.path.exists(idx_path):
            return None  # merged into another pack and deleted meanwhile
        return f"{idx_path}: its pack {os.path.basename(pack_path)} is missing"
    if idx[:8] != _IDX_MAGIC:
        return f"{idx_path}: not a version 2 pack index"
    count = int.from_bytes(idx[1028:1032], "big") if len(idx) >= 1032 else -1
    extra = len(idx) - _idx_size(count)  # 64-bit offsets of a pack over 2 GiB, 8 bytes each
    if count < 0 or extra < 0 or extra % 8:
        return f"{idx_path}: truncated or overlong ({len(idx)} bytes for {max(count, 0)} objects)"
    fanout = [int.from_bytes(idx[8 + 4 * i : 12 + 4 * i], "big") for i in range(256)]
    if any(a > b for a, b in itertools.pairwise(fanout)):
        return f"{idx_path}: fan-out table is not sorted"
    if hashlib.sha1(idx[:-20]).digest() != idx[-20:]:
        return f"{idx_path}: index checksum does not match its content"
    if pack_size < 32 or pack_head[:4] != b"PACK" or pack_head[4:8] not in (b"\0\0\0\2", b"\0\0\0\3"):
        return f"{pack_path}: not a pack"
    if int.from_bytes(pack_head[8:12], "big") != count:
        return f"{pack_path}: holds {int.from_bytes(pack_head[8:12], 'big')} objects, its index lists {count}"
    if pack_sum[0] != pack_sum[1]:
        return f"{pack_path}: pack checksum does not match its content"
    if pack_sum[1] != idx[-40:-20]:
        return f"{idx_path}: the index of another pack"
    return None


def _pack_digest(path: str) -> tuple[tuple[bytes, bytes], bytes, int]:
    """((SHA-1 of the pack but its last 20 bytes, those last 20 bytes), its first 12 bytes, its size),
    read in chunks so a big pack is never whole in memory."""
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        head = fh.read(12)
        size = os.fstat(fh.fileno()).st_size
        fh.seek(0)
        left = max(size - 20, 0)
        while left:
            chunk = fh.read(min(left, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        trailer = fh.read(20)
    return (digest.digest(), trailer), head, size


def _inflate(buf: mmap.mmap, pos: int, size: int) -> bytes:
    """Inflate the zlib stream at ``pos`` whose output is ``size`` bytes long (:class:`zlib.error`
    if it does not)."""
    z = (_decompressobj or _load_inflate())()
    chunk = size + 64
    try:
        out = z.decompress(buf[pos : pos + chunk])
        while not z.eof:
            pos += chunk
            chunk *= 2
            more = buf[pos : pos + chunk]
            if not more:
                raise zlib.error("truncated stream")
            out += z.decompress(more)
    except _InflateError as exc:
        raise zlib.error(str(exc)) from None
    if len(out) != size:
        raise zlib.error("size mismatch")
    return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _apply_delta(base: bytes, delta: bytes) -> bytes:
    src_size, pos = _varint(delta, 0)
    dst_size, pos = _varint(delta, pos)
    if src_size != len(base):
        raise zlib.error("delta base size mismatch")
    out: list[bytes] = []
    n = len(delta)
    while pos < n:
        op = delta[pos]
        pos += 1
        if op & 0x80:
            offset = size = 0
            for i in range(4):
                if op & (1 << i):
                    offset |= delta[pos] << (8 * i)
                    pos += 1
            for i in range(3):
                if op & (0x10 << i):
                    size |= delta[pos] << (8 * i)
                    pos += 1
            out.append(base[offset : offset + (size or 0x10000)])
        elif op:
            out.append(delta[pos : pos + op])
            pos += op
        else:
            raise zlib.error("delta opcode 0")
    result = b"".join(out)
    if len(result) != dst_size:
        raise zlib.error("delta result size mismatch")
    return result


class ObjectReader:
    """Reads objects of ``<git_dir>/objects``; packs are found again when an object is missing."""

    def __init__(self, objects_dir: str) -> None:
        self.objects_dir = objects_dir
        self._packs: dict[str, _Pack] = {}
        #: Packs whose index cannot be used, by file name: what is wrong with each (replaced whole).
        self.bad_packs: dict[str, str] = {}
        self._scanned = False
        # Rescans and additions replace the pack dict whole; the lock keeps two of them from undoing
        # each other (a rescan that listed the directory before a new pack arrived must not drop it).
        self._packs_lock = threading.Lock()
        # Delta bases by (pack, offset): a commit or tree chain shares its bases.
        self._bases: OrderedDict[tuple[str, int], tuple[int, bytes]] = OrderedDict()
        self._base_bytes = 0
        self._recent: tuple[str, ...] = ()  # the packs recent reads were found in, the latest first

    def close(self) -> None:
        for pack in self._packs.values():
            pack.close()
        self._packs = {}
        self._bases.clear()
        self._base_bytes = 0
        self._scanned = False

    def rescan(self) -> bool:
        """Open packs that appeared, drop packs that went; True if the list changed.

        A pack is found by its ``.idx`` (writers rename the ``.pack`` into place first and the
        ``.idx`` last); temp files (``tmp_*``) and a ``.pack`` without its ``.idx`` are not packs.
        A pack that vanishes between the listing and its opening was merged into a new pack by a
        packer, which put the new pack in place before deleting the old one: list again to find it.
        A pack whose index is damaged is left out and kept in :attr:`bad_packs`, so the objects of the
        other packs stay readable and a read of one of its objects says why it failed.
        """
        with self._packs_lock:
            return self._rescan()

    def _rescan(self) -> bool:
        directory = f"{self.objects_dir}/pack"
        changed = False
        # The dict is replaced, never changed in place, so a read iterating the old one is safe.
        packs = dict(self._packs)
        bad: dict[str, str] = {}
        for _attempt in range(10):
            try:
                names = {n for n in os.listdir(directory) if n.endswith(".idx") and n.startswith("pack-")}
            except FileNotFoundError:
                names = set()
            self._scanned = True
            for name in list(packs):
                if name not in names:
                    del packs[name]  # not closed: a read in another thread may be using it
                    changed = True
            vanished = False
            bad = {}
            for name in sorted(names - packs.keys()):
                try:
                    packs[name] = _Pack(f"{directory}/{name}")
                    changed = True
                except FileNotFoundError:  # merged into a new pack and deleted meanwhile
                    vanished = True
                except CorruptObject as exc:
                    bad[name] = str(exc)
                except ValueError:  # mmap refuses an empty file
                    bad[name] = f"{directory}/{name}: empty, not a pack index"
            if not vanished:
                break
        self._packs = packs
        self.bad_packs = bad
        return changed

    def verify_packs(self) -> list[str]:
        """One line per damaged pack (for fsck): an index without its pack, or an index or pack whose
        header, size, object count or SHA-1 checksum is wrong. Reads every pack whole, as ``git fsck``.

        A ``.pack`` without its ``.idx`` is not judged here: writers put the ``.pack`` in place first.
        """
        directory = f"{self.objects_dir}/pack"
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        problems = []
        for name in names:
            if name.startswith("pack-") and name.endswith(".idx"):
                problem = _verify_pack(f"{directory}/{name}")
                if problem:
                    problems.append(problem)
        return problems

    def iter_ids(self) -> Iterator[str]:
        """Every object id, loose and packed; an object in several places comes once per place.

        Loose objects are listed first and packs after: a packer puts its new pack in place
        before it deletes the loose objects it holds, so an object moving meanwhile is seen in
        one place or the other. A pack's files stay readable after a packer deletes them
        because they are memory-mapped.
        """
        loose: list[str] = []
        for d in os.listdir(self.objects_dir):
            if len(d) == 2:
                try:
                    loose.extend(d + n for n in os.listdir(f"{self.objects_dir}/{d}") if len(n) == 38)
                except (FileNotFoundError, NotADirectoryError):
                    continue
        self.rescan()
        yield from loose
        for pack in list(self._packs.values()):
            idx = pack.idx
            for i in range(pack.count):
                start = pack.names + 20 * i
                yield idx[start : start + 20].hex()

    def with_prefix(self, prefix: str) -> set[str]:
        """Every object id starting with the hex ``prefix`` (at least 2 digits)."""
        try:
            names = os.listdir(f"{self.objects_dir}/{prefix[:2]}")
        except FileNotFoundError:
            names = []
        found = {prefix[:2] + n for n in names if len(n) == 38 and n.startswith(prefix[2:])}
        self.rescan()
        for pack in list(self._packs.values()):
            found.update(pack.with_prefix(prefix))
        return found

    def add_pack(self, idx_path: str) -> None:
        """Open a pack this process has just written, without listing the pack directory."""
        name = os.path.basename(idx_path)
        with self._packs_lock:
            if name not in self._packs:
                # Newest first: the objects read next (the parent commit, its trees) are often in it.
                self._packs = {name: _Pack(idx_path), **self._packs}

    def read(self, oid: str) -> tuple[str, bytes]:
        """``(type, data)`` of an object; :class:`NotFound` or :class:`CorruptObject` otherwise."""
        found = self._read_once(oid)
        if found is None:
            # Look again after a rescan, even when it found nothing new: another thread may have
            # added the pack while this one searched the older list.
            self.rescan()
            found = self._read_once(oid)
        if found is None:
            found = self._read_loose(oid)  # a packer may have just moved it into a new pack
        if found is None:
            if self.bad_packs:  # it may be in a pack that cannot be read: say so, not "not found"
                raise CorruptObject(f"object {oid} not found; {next(iter(self.bad_packs.values()))}")
            raise NotFound(f"object {oid} not found")
        return found

    def contains(self, oid: str) -> bool:
        raw = bytes.fromhex(oid)
        if os.path.exists(f"{self.objects_dir}/{oid[:2]}/{oid[2:]}"):
            return True
        if not self._scanned:
            self.rescan()
        if any(p.find(raw) >= 0 for p in self._packs.values()):
            return True
        self.rescan()
        return any(p.find(raw) >= 0 for p in self._packs.values())

    def stored_delta(self, oid: str) -> tuple[str, int, bytes] | None:
        """The delta a pack keeps ``oid`` as: its base's id, the delta's size and the delta's zlib
        stream as the pack holds it; None when it is kept whole, loose, not at all, or its entry fails
        its CRC-32. The delta is not applied here: the object it makes is checked by whoever applies
        it (git's index-pack does)."""
        if not self._scanned:
            self.rescan()
        raw = bytes.fromhex(oid)
        for pack in self._packs.values():
            offset = pack.find(raw)
            if offset < 0:
                continue
            buf = pack.pack
            try:
                type_code, size, pos = parse_entry_header(buf, offset)
                if type_code == _OFS_DELTA:
                    byte = buf[pos]
                    pos += 1
                    back = byte & 0x7F
                    while byte & 0x80:
                        byte = buf[pos]
                        pos += 1
                        back = ((back + 1) << 7) | (byte & 0x7F)
                    base = pack.name_at(offset - back)
                    if base is None:
                        raise ValueError("no object at the base offset")
                elif type_code == _REF_DELTA:
                    base = bytes(buf[pos : pos + 20])
                    pos += 20
                else:
                    return None
                entry = pack.entry(offset)
            except (IndexError, ValueError):
                raise CorruptObject(f"object {oid} cannot be read from {pack.path}") from None
            if entry is None:
                return None  # damaged: a reader of the whole object finds out
            return base.hex(), size, entry[pos - offset :]
        return None

    def _read_once(self, oid: str) -> tuple[str, bytes] | None:
        # Packs first, as git does: a miss there is one dict probe, a miss of a loose file a syscall.
        if not self._scanned:
            self.rescan()
        raw = bytes.fromhex(oid)
        # The packs that served the last reads first: a walk reads neighbours (a commit, its trees, its
        # parent), which a transfer or a commit wrote into the same pack, among possibly hundreds; a
        # merge reads from three sides in turn (the base's pack, ours's, theirs's).
        packs, recent = self._packs, self._recent  # both replaced whole, never changed in place
        for name in recent:
            pack = packs.get(name)
            if pack is not None:
                offset = pack.find(raw)
                if offset >= 0:
                    if recent[0] != name:
                        self._recent = (name, *(n for n in recent if n != name))
                    return self._unpack_checked(oid, raw, name, pack, offset)
        for name, pack in packs.items():
            if name in recent:
                continue
            offset = pack.find(raw)
            if offset >= 0:
                self._recent = (name, *recent[: _RECENT_PACKS - 1])
                return self._unpack_checked(oid, raw, name, pack, offset)
        return self._read_loose(oid)

    def _unpack_checked(self, oid: str, raw: bytes, name: str, pack: _Pack, offset: int) -> tuple[str, bytes]:
        buf = pack.pack
        try:
            # A whole object (most of a pack gvcs wrote) without the delta machinery of _unpack.
            type_code, size, pos = parse_entry_header(buf, offset)
            if type_code in _TYPE_NAMES:
                data = _inflate(buf, pos, size)
            else:
                type_code, data = self._unpack(name, pack, offset, 0)
        except (zlib.error, IndexError, KeyError, ValueError):
            raise CorruptObject(f"object {oid} cannot be read from {pack.path}") from None
        digest = hashlib.sha1(_HEADERS[type_code] + b"%d\0" % len(data))
        digest.update(data)
        if digest.digest() != raw:
            raise CorruptObject(f"object {oid} cannot be read: content does not match its id")
        return _TYPE_NAMES[type_code], data

    def _read_loose(self, oid: str) -> tuple[str, bytes] | None:
        try:
            with open(f"{self.objects_dir}/{oid[:2]}/{oid[2:]}", "rb") as fh:
                compressed = fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            raw = zlib.decompress(compressed)
            nul = raw.index(b"\0", 0, 32)
            obj_type, _, size = raw[:nul].decode("ascii").partition(" ")
            data = raw[nul + 1 :]
            if int(size) != len(data) or obj_type not in ("commit", "tree", "blob", "tag"):
                raise ValueError
        except (zlib.error, ValueError, UnicodeDecodeError):
            raise CorruptObject(f"object {oid} cannot be read: loose object is corrupt") from None
        if hashlib.sha1(raw).hexdigest() != oid:
            raise CorruptObject(f"object {oid} cannot be read: content does not match its id")
        return obj_type, data

    def _unpack(self, name: str, pack: _Pack, offset: int, depth: int) -> tuple[int, bytes]:
        key = (name, offset)
        cached = self._bases.get(key)
        if cached is not None:
            return cached
        if depth > _MAX_DELTA_DEPTH:
            raise ValueError("delta chain too deep")
        buf = pack.pack
        type_code, size, pos = parse_entry_header(buf, offset)
        if type_code in _TYPE_NAMES:
            result = (type_code, _inflate(buf, pos, size))
        elif type_code == _OFS_DELTA:
            byte = buf[pos]
            pos += 1
            back = byte & 0x7F
            while byte & 0x80:
                byte = buf[pos]
                pos += 1
                back = ((back + 1) << 7) | (byte & 0x7F)
            base_type, base = self._unpack(name, pack, offset - back, depth + 1)
            result = (base_type, _apply_delta(base, _inflate(buf, pos, size)))
        elif type_code == _REF_DELTA:
            base_id = bytes(buf[pos : pos + 20])
            pos += 20
            base_offset = pack.find(base_id)
            if base_offset >= 0:
                base_type, base = self._unpack(name, pack, base_offset, depth + 1)
            else:  # a thin pack's base elsewhere
                base_name, base = self.read(base_id.hex())
                base_type = {v: k for k, v in _TYPE_NAMES.items()}[base_name]
            result = (base_type, _apply_delta(base, _inflate(buf, pos, size)))
        else:
            raise ValueError(f"bad pack object type {type_code}")
        if depth:
            # Only bases (objects other deltas were read through) are worth keeping. A long walk
            # reads each tree's versions in turn: every fan-out tree's last version must still be here
            # when the next one is read, so the cache holds a few thousand small objects.
            self._bases[key] = result
            self._base_bytes += len(result[1])
            while self._bases and (len(self._bases) > _BASES or self._base_bytes > _BASE_BYTES):
                self._base_bytes -= len(self._bases.popitem(last=False)[1][1])
        return result
