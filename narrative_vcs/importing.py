"""What every import (Twine, a markdown vault) shares: the slug rule that turns a name into a page id,
deterministic ids for new names, and the plan of files an import writes.

Pure functions, no I/O: the command reads the source and the work tree, the plan says what to write,
and the command writes it only when the whole source has been read without an error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .objects import Page, Story

__all__ = ["ImportPlan", "assign_ids", "kept_names", "slug"]

_NOT_ID = re.compile(r"[^a-z0-9._]+")
_MAX_ID = 100


def slug(name: str) -> str:
    """A page id for ``name``: accents dropped (NFKD, ASCII), lower case, every run of other characters
    than ``a-z 0-9 . _`` one ``-``, ``..`` made ``.``, no ``-._`` at either end, at most 100
    characters; ``page`` when nothing is left. ``"My Note"`` -> ``my-note``."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    text = _NOT_ID.sub("-", text)
    while ".." in text:
        text = text.replace("..", ".")
    text = text[:_MAX_ID].strip("-._")
    return text or "page"


def assign_ids(names: Iterable[str], kept: Mapping[str, str], taken: Iterable[str]) -> dict[str, str]:
    """The page id of each name: its id in ``kept`` (an earlier import of the same source), else its
    slug, with ``-2``, ``-3``, ... when that id is already taken (by another page or an earlier name,
    in the order given), so the same source always maps the same way."""
    used = set(taken) | set(kept.values())
    ids: dict[str, str] = {}
    for name in names:
        if name in kept:
            ids[name] = kept[name]
            continue
        base = slug(name)
        candidate, n = base, 1
        while candidate in used:
            n += 1
            suffix = f"-{n}"
            candidate = base[: _MAX_ID - len(suffix)].rstrip("-._") + suffix
        used.add(candidate)
        ids[name] = candidate
    return ids


@dataclass
class ImportPlan:
    """What an import writes: its pages (new or changed), perhaps story.yaml, and the name -> id map."""

    mapping: dict[str, str]
    pages: list[Page]
    story: Story | None = None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls, mapping: dict[str, str], pages: Iterable[Page], existing: Mapping[str, Page], story: Story | None
    ) -> ImportPlan:
        """Sort ``pages`` into added, updated and unchanged against the work tree's ``existing``."""
        plan = cls(mapping, [], story)
        for page in pages:
            old = existing.get(page.id)
            if old is None:
                plan.added.append(page.id)
            elif old.serialise() == page.serialise():
                plan.unchanged.append(page.id)
                continue
            else:
                plan.updated.append(page.id)
            plan.pages.append(page)
        return plan

    def files(self) -> dict[str, bytes]:
        """Work-tree path -> bytes of everything to write."""
        out = {page.path: page.serialise() for page in self.pages}
        if self.story is not None:
            out[Story.PATH] = self.story.serialise()
        return out

    def to_json(self, kind: str, source: str) -> dict[str, Any]:
        status = {i: "added" for i in self.added} | {i: "updated" for i in self.updated}
        return {
            "kind": kind,
            "source": source,
            "pages": [
                {"name": name, "id": page_id, "status": status.get(page_id, "unchanged")}
                for name, page_id in self.mapping.items()
            ],
            "story": None if self.story is None else {"title": self.story.title},
        }


def kept_names(existing: Mapping[str, Page], key: str, field_name: str) -> dict[str, str]:
    """The source name -> page id map an earlier import left in the pages' front matter
    (``key: {field_name: ...}``)."""
    kept: dict[str, str] = {}
    for page_id, page in sorted(existing.items()):
        value = dict(page.extra).get(key)
        if isinstance(value, dict) and isinstance(value.get(field_name), str):
            kept.setdefault(value[field_name], page_id)
    return kept
