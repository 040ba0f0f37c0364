"""The story.yaml settings the rules read: size limits and who may join as an actor.

```yaml
limits: {file_bytes: 1048576}   # the largest page or file a commit may hold (default 1 MiB)
actors: {join: open}            # open: a newcomer may add their own record in their first commit;
                                # closed: only existing actors commit (they may still add others)
```

Each commit is checked against the settings of its parent's story.yaml (a root commit: its own), so
changing a limit takes effect from the next commit on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BadInput
from ..gate import Gate
from ..objects import Story
from ..snapshot import Snapshots
from ..types import ObjectId

__all__ = ["DEFAULT", "RuleSettings", "parse_settings", "settings_at"]

JOIN = ("open", "closed")
MAX_FILE_BYTES = 1 << 30


@dataclass(frozen=True)
class RuleSettings:
    file_bytes: int = 1 << 20
    join: str = "open"


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
    return RuleSettings(size, join)


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
    """The settings of the story.yaml in ``tree`` (the defaults without one, or with one that does not
    parse: the commit that wrote it was refused for that)."""
    blob = snapshots.blob_id(tree, Story.PATH) if tree is not None else None
    if blob is None:
        return DEFAULT
    cache: dict[ObjectId, RuleSettings] = gate.caches.setdefault("rule-settings", {})
    found = cache.get(blob)
    if found is None:
        try:
            found = parse_settings(Story.parse(snapshots.store.get(blob)[1]))
        except BadInput:
            found = DEFAULT
        if len(cache) > 1000:
            cache.clear()
        cache[blob] = found
    return found
