"""The story.yaml settings the rules read: protected branches, size limits, who may join as an actor.

```yaml
protected: [main]               # see docs/governance.md
limits: {file_bytes: 1048576}   # the largest page or file a commit may hold (default 1 MiB)
actors: {join: open}            # open: a newcomer may add their own record in their first commit;
                                # closed: only existing actors commit (they may still add others)
```

Each commit is checked against the settings of its parent's story.yaml (a root commit: its own), so
changing a limit takes effect from the next commit on; a branch's protection is read at its old head.

The settings are kept per story.yaml blob (a blob never changes) in memory and in the store's
``gvcs-rules-cache`` (written by gvcs alone, beside the refs the rules guard), so a short command does not
parse story.yaml (nor load a YAML parser) to learn what an earlier one already read.
"""

from __future__ import annotations

import contextlib
import marshal
import threading
from collections.abc import Mapping
from typing import Any

from ..errors import BadInput
from ..gate import Gate
from ..objects import Story
from ..records import record
from ..refs import validate_ref_name
from ..snapshot import Snapshots
from ..types import ObjectId

__all__ = ["DEFAULT", "RuleSettings", "parse_settings", "settings_at"]

JOIN = ("open", "closed")
MAX_FILE_BYTES = 1 << 30
CACHE_FILE = "gvcs-rules-cache"
_LOCK = threading.Lock()


@record
class RuleSettings:
    file_bytes: int = 1 << 20
    join: str = "open"
    protected: frozenset[str] = frozenset()

    def row(self) -> tuple[int, str, tuple[str, ...]]:
        return self.file_bytes, self.join, tuple(sorted(self.protected))

    @classmethod
    def from_row(cls, row: Any) -> RuleSettings:
        size, join, protected = row
        return cls(int(size), str(join), frozenset(str(p) for p in protected))


DEFAULT = RuleSettings()


def parse_settings(story: Story) -> RuleSettings:
    """The rules' settings of a story record; BadInput names a key that does not fit."""
    limits = _mapping(story.get("limits"), "limits", "{file_bytes: 1048576}", ("file_bytes",))
    actors = _mapping(story.get("actors"), "actors", "{join: open}", ("join",))
    size = limits.get("file_bytes", DEFAULT.file_bytes)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_FILE_BYTES:
        raise BadInput(f"story.yaml: limits.file_bytes must be a whole number from 1 to {MAX_FILE_BYTES}")
    join = actors.get("join", DEFAULT.join)
    if join not in JOIN:
        raise BadInput(f"story.yaml: actors.join must be open or closed, not {join!r}")
    return RuleSettings(size, join, _protected(story))


def _protected(story: Story) -> frozenset[str]:
    value = story.get("protected")
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput("story.yaml: protected must be a list of branch names, e.g. [main]")
    return frozenset(validate_ref_name("branch", v) for v in value)


def _mapping(value: object, key: str, example: str, known: tuple[str, ...]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadInput(f"story.yaml: {key} must be a mapping such as {example}")
    unknown = sorted(str(k) for k in value if k not in known)
    if unknown:
        raise BadInput(f"story.yaml: {key}.{unknown[0]} is not a setting: use {', '.join(known)}")
    return value


def settings_at(gate: Gate, snapshots: Snapshots, tree: ObjectId | None) -> RuleSettings:
    """The settings of the story.yaml in ``tree`` (the defaults without one; with one that does not
    parse, the defaults and no protection: the commit that wrote it was refused for that)."""
    blob = snapshots.blob_id(tree, Story.PATH) if tree is not None else None
    if blob is None:
        return DEFAULT
    cache: dict[ObjectId, RuleSettings] = gate.caches.setdefault("rule-settings", {})
    found = cache.get(blob)
    if found is None:
        found = _remembered(snapshots, blob)
    if found is None:
        try:
            found = parse_settings(Story.parse(snapshots.store.get(blob)[1]))
        except BadInput:
            found = DEFAULT
        _remember(snapshots, blob, found)
    if len(cache) > 1000:
        cache.clear()
    cache[blob] = found
    return found


def _remembered(snapshots: Snapshots, blob: ObjectId) -> RuleSettings | None:
    rows = _read(snapshots)
    row = rows.get(blob)
    try:
        return None if row is None else RuleSettings.from_row(row)
    except (TypeError, ValueError):
        return None


def _remember(snapshots: Snapshots, blob: ObjectId, settings: RuleSettings) -> None:
    cache = snapshots.store.cache_file(CACHE_FILE)
    if cache is None:
        return
    with _LOCK:
        rows = dict(_read(snapshots))
        if len(rows) > 10_000:
            rows.clear()
        rows[blob] = settings.row()
        with contextlib.suppress(OSError):  # a store that cannot keep it works all the same
            cache.write(marshal.dumps(rows))


def _read(snapshots: Snapshots) -> Mapping[str, Any]:
    cache = snapshots.store.cache_file(CACHE_FILE)
    data = cache.read() if cache is not None else None
    if not data:
        return {}
    try:
        rows = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return {}
    return rows if isinstance(rows, dict) else {}
