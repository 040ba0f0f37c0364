"""Tokens and access settings of an embedded repository: ``gvcs-access.json`` in its git directory.

Writers take the ``flock`` of ``gvcs-access.lock`` (the kernel drops it if a writer dies) and replace
the file through a rename, so readers see the old file or the new one, never half of one. Readers keep
the parsed file until its size or modification time changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..access import AccessStore, TokenRecord
from ..errors import BadInput, CorruptObject
from ..limits import load_json
from ..records import asdict

__all__ = ["FileAccessStore"]

FILE = "gvcs-access.json"
#: The largest access file read: some 40,000 tokens.
MAX_ACCESS_FILE = 8 * 1024 * 1024


class FileAccessStore(AccessStore):
    def __init__(self, git_dir: Path) -> None:
        self.path = Path(git_dir) / FILE
        self._lock_path = Path(git_dir) / "gvcs-access.lock"
        self._thread_lock = threading.Lock()
        self._cached: tuple[tuple[int, int], dict[str, Any]] | None = None

    # --- the file -----------------------------------------------------------------------------------

    def generation(self) -> int:
        """The file's modification time and size, which every change moves."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0
        return hash((st.st_mtime_ns, st.st_size))

    def _load(self) -> dict[str, Any]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return {"tokens": [], "settings": {}}
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(MAX_ACCESS_FILE + 1)
            data: dict[str, Any] = load_json(raw, str(self.path), max_bytes=MAX_ACCESS_FILE)
            tokens, settings = data["tokens"], data["settings"]
            if not isinstance(tokens, list) or not isinstance(settings, dict):
                raise TypeError
        except BadInput as exc:  # not JSON, too large or too deep: damaged, as below
            raise CorruptObject(f"{exc} (not a gvcs access file)") from None
        except (KeyError, TypeError):
            raise CorruptObject(f"{self.path} is not a gvcs access file") from None
        self._cached = (stamp, data)
        return data

    @contextlib.contextmanager
    def _writing(self) -> Iterator[dict[str, Any]]:
        """The file's data, under the write lock; written back (atomically) when the block ends."""
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._cached = None
                data = json.loads(json.dumps(self._load()))  # a copy to change
                yield data
                tmp = self.path.with_name(FILE + ".tmp")
                fd_tmp = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd_tmp, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, indent=2, sort_keys=True)
                    fh.write("\n")
                os.replace(tmp, self.path)
            finally:
                os.close(fd)  # closing drops the flock

    @staticmethod
    def _record(item: dict[str, Any]) -> TokenRecord:
        return TokenRecord(item["id"], item["actor"], item["digest"], item["created"], item.get("label", ""))

    # --- the contract -------------------------------------------------------------------------------

    def add_token(self, record: TokenRecord) -> None:
        with self._writing() as data:
            data["tokens"].append(asdict(record))

    def find_token(self, digest: str) -> TokenRecord | None:
        item = next((t for t in self._load()["tokens"] if t["digest"] == digest), None)
        return None if item is None else self._record(item)

    def list_tokens(self) -> list[TokenRecord]:
        return sorted((self._record(t) for t in self._load()["tokens"]), key=lambda t: (t.created, t.id))

    def remove_token(self, token_id: str) -> bool:
        with self._writing() as data:
            before = len(data["tokens"])
            data["tokens"] = [t for t in data["tokens"] if t["id"] != token_id]
            return len(data["tokens"]) != before

    def get_setting(self, key: str) -> str | None:
        value = self._load()["settings"].get(key)
        return value if isinstance(value, str) else None

    def set_setting(self, key: str, value: str) -> None:
        with self._writing() as data:
            data["settings"][key] = value
