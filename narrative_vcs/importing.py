"""What every import (Twine, a markdown vault) shares: the slug rule that turns a name into a page id,
deterministic ids for new names, the pages of an earlier import whose name left the source, and the plan
of files an import writes.

Pure functions, no I/O: the command reads the source and the work tree, the plan says what to write,
and the command writes it only when the whole source has been read without an error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import Refused
from .objects import Page, Story
from .records import field, record

__all__ = ["ImportPlan", "assign_ids", "gone_pages", "kept_names", "slug"]

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


@record(frozen=False)
class ImportPlan:
    """What an import writes: its pages (new or changed), perhaps story.yaml, and the name -> id map;
    ``gone``: name -> id of the pages an earlier import of the same source brought whose name is no
    longer in it (written only with :meth:`prune`)."""

    mapping: dict[str, str]
    pages: list[Page]
    story: Story | None = None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    gone: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        mapping: dict[str, str],
        pages: Iterable[Page],
        existing: Mapping[str, Page],
        story: Story | None,
        gone: Mapping[str, str] | None = None,
    ) -> ImportPlan:
        """Sort ``pages`` into added, updated and unchanged against the work tree's ``existing``."""
        plan = cls(mapping, [], story, gone=dict(gone or {}))
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

    def prune(self, existing: Mapping[str, Page]) -> dict[str, None]:
        """Work-tree path -> None for each ``gone`` page (to remove it). Refused when a page that stays
        (in ``existing``, or written by this import) follows one of them or is its alternate: removing
        it would leave that page pointing at nothing."""
        gone = set(self.gone.values())
        staying = {page_id: page for page_id, page in existing.items() if page_id not in gone}
        staying.update((page.id, page) for page in self.pages)
        for page_id, page in sorted(staying.items()):
            for target in (*page.follows, *([page.alternate_of] if page.alternate_of else [])):
                if target in gone:
                    raise Refused(
                        f"cannot prune {target}: page {page_id} follows it or is its alternate "
                        f"(change {page_id} first, or import without --prune)"
                    )
        return {f"pages/{page_id}.md": None for page_id in sorted(gone)}

    def to_json(self, kind: str, source: str, *, pruned: bool = False) -> dict[str, Any]:
        status = {i: "added" for i in self.added} | {i: "updated" for i in self.updated}
        return {
            "kind": kind,
            "source": source,
            "pages": [
                {"name": name, "id": page_id, "status": status.get(page_id, "unchanged")}
                for name, page_id in self.mapping.items()
            ],
            "story": None if self.story is None else {"title": self.story.title},
            "gone": [{"name": name, "id": page_id} for name, page_id in self.gone.items()],
            "pruned": pruned and bool(self.gone),
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


def gone_pages(
    existing: Mapping[str, Page], key: str, field_name: str, source: str, names: Iterable[str]
) -> dict[str, str]:
    """Name -> page id of each page an earlier import of ``source`` brought (its front matter holds
    ``key: {field_name: NAME, source: SOURCE}``) whose name is not in ``names`` (what the source holds
    now), by name. A page without that mapping (made by hand, or imported from another source, or by a
    gvcs that did not record the source) is never one."""
    present = set(names)
    gone: dict[str, str] = {}
    for page_id, page in sorted(existing.items()):
        value = dict(page.extra).get(key)
        if not isinstance(value, dict) or value.get("source") != source:
            continue
        name = value.get(field_name)
        if isinstance(name, str) and name not in present:
            gone.setdefault(name, page_id)
    return dict(sorted(gone.items()))
