"""The story.yaml settings that events read: the glyph table, who may mint, the phoenix rule.

```yaml
glyphs:                      # ritual.performed.v1: glyph id + rotation -> opcode
  - {id: key-of-margins, rotation: 90, opcode: create_branch, args: {name: "vault-{n}"}}
gift: {minters: [imogen]}    # gift.txn.v1: who may mint (default: every human actor)
phoenix: {restarts: 3, minutes: 10}   # more than 3 restarts of a spore within 10 minutes: a hearing
```

Each key is read (and checked, see ``schemas/story-settings.json``) only by the events that need it, from
the story.yaml of the tip the event is applied on, so a bad glyph table refuses rituals, not gifts.
"""

from __future__ import annotations

from typing import Any

from ..records import field, record
from .schemas import check_settings
from .state import Tip

__all__ = ["GlyphRule", "PhoenixRule", "glyph_table", "minters", "phoenix_rule"]


@record
class GlyphRule:
    """One entry of the glyph table: turning ``id`` to ``rotation`` fires ``opcode`` with ``args``."""

    id: str
    rotation: int
    opcode: str
    args: dict[str, Any] = field(default_factory=dict)


@record
class PhoenixRule:
    """More than ``restarts`` restarts of one spore within ``minutes`` minutes open a hearing."""

    restarts: int
    minutes: int

    @property
    def window(self) -> int:
        return self.minutes * 60


def _setting(tip: Tip, key: str) -> Any:
    value = tip.setting(key)
    if value is not None:
        check_settings({key: value})
    return value


def glyph_table(tip: Tip) -> list[GlyphRule]:
    return [
        GlyphRule(e["id"], e["rotation"], e["opcode"], dict(e.get("args") or {}))
        for e in _setting(tip, "glyphs") or []
    ]


def minters(tip: Tip) -> list[str] | None:
    """The actors story.yaml lets mint (``gift.minters``), or None when it does not say."""
    value = _setting(tip, "gift")
    found = None if value is None else value.get("minters")
    return None if found is None else list(found)


def phoenix_rule(tip: Tip) -> PhoenixRule | None:
    value = _setting(tip, "phoenix")
    if value is None or "restarts" not in value:
        return None
    return PhoenixRule(value["restarts"], value["minutes"])
