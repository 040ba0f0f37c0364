"""Facts about objects kept across commands: a blob's front-matter key (see
:func:`~narrative_vcs.objects.front_key`), in one append-only file of the store.

A merge asks, for every page a side changed, whether more than its text changed (its front matter),
and the rules gate asks the same of every commit. Answering means reading the page's blob on both
sides; the answer for a blob never changes, so each command appends what it learnt and the next one
reads it back: a merge of two branches committed here reads no base version of a page.

The file is a cache: records of a 20-byte object id and a 16-byte key, appended by one ``write`` per
command (``O_APPEND``: concurrent commands do not mix their records). A file whose size is not a whole
number of records (a write cut short) or that grew past :data:`MAX_BYTES` is started afresh; losing it
costs the reads it saved, nothing more.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from ..types import ObjectId

__all__ = ["KeyFile"]

ID_BYTES = 20
KEY_BYTES = 16
RECORD = ID_BYTES + KEY_BYTES
#: Past this size (about 1.8 million blobs), the file is started afresh at the next write.
MAX_BYTES = 64 << 20


class KeyFile:
    """The keys of ``path``, read once per process, and the keys this process learnt since."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._known: dict[bytes, bytes] | None = None
        self._new: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def get(self, oid: ObjectId) -> bytes | None:
        known = self._known
        if known is None:
            known = self._load()
        return known.get(bytes.fromhex(oid))

    def add(self, oid: ObjectId, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a key is {KEY_BYTES} bytes")
        raw = bytes.fromhex(oid)
        with self._lock:
            known = self._known if self._known is not None else self._load()
            if raw not in known:
                known[raw] = key
                self._new[raw] = key

    def flush(self) -> None:
        """Append the keys learnt since the last flush (nothing written if the store cannot be)."""
        with self._lock:
            new, self._new = self._new, {}
        if not new:
            return
        data = b"".join(raw + key for raw, key in new.items())
        with contextlib.suppress(OSError):  # a read-only store: the keys are learnt again next time
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size % RECORD or size + len(data) > MAX_BYTES:
                    os.ftruncate(fd, 0)  # cut short, or too big: start afresh
                os.write(fd, data)
            finally:
                os.close(fd)

    def _load(self) -> dict[bytes, bytes]:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError:
            data = b""
        if len(data) % RECORD or len(data) > MAX_BYTES:
            data = b""  # not ours to trust: learnt again
        known = {data[i : i + ID_BYTES]: data[i + ID_BYTES : i + RECORD] for i in range(0, len(data), RECORD)}
        self._known = known
        return known
