"""Markdown vaults (Obsidian-style folders of notes) read into pages.

A note is ``folder/Note Name.md``: optional YAML front matter, then markdown with ``[[Note Name]]``,
``[[Note Name|label]]``, ``[[folder/Note Name]]`` and ``[[Note Name#Heading]]`` links. How it maps
(docs/cli.md, "Importing and exporting"):

- each note is a page whose id is the slug of its file name (:func:`narrative_vcs.importing.slug`;
  two notes of one name in different folders get ``-2``, ... in path order); its title is the front
  matter's ``title``, else the file name; its ``tags`` the front matter's; its path is kept as
  ``vault.path`` (and any other front matter as ``vault.meta``), so a second import updates the page,
  and the vault folder's name as ``vault.source``, so a note removed since is reported (``gone``);
- a link resolves as Obsidian does: a path relative to the vault, else the note of that name (case
  ignored; the shortest path wins). It becomes ``[[id]]``, or ``[label][[id]]`` with a label; a link
  to no note (or an embed ``![[...]]``) is left as written;
- a vault has no reading order: links are LINKS_TO only, no page FOLLOWS another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import InvalidFile
from .importing import ImportPlan, assign_ids, gone_pages, kept_names
from .objects import Page, Story, load_yaml
from .records import field, record

__all__ = ["Note", "parse_note", "parse_vault", "plan_import"]

_LINK = re.compile(r"(?<!!)\[\[([^\[\]\n]+)\]\]")


@record
class Note:
    """One note: its path in the vault, front matter and markdown."""

    path: str
    body: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".md")


def parse_note(path: str, data: bytes) -> Note:
    """A note from its bytes; bad UTF-8 or front matter raises InvalidFile with the line."""
    try:
        text = data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise InvalidFile(
            path, data[: exc.start].count(b"\n") + 1, f"not UTF-8 text ({exc.reason})"
        ) from None
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return Note(path, text)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise InvalidFile(path, len(lines), "front matter is not closed by a '---' line")
    meta = load_yaml("\n".join(lines[1:end]), path, line_offset=1) or {}
    if not isinstance(meta, dict):
        raise InvalidFile(path, 2, "front matter must be a mapping of keys to values")
    title = meta.get("title")
    if title is not None and (not isinstance(title, str) or not title.strip() or "\n" in title):
        raise InvalidFile(path, 2, "title must be a non-empty single line")
    tags = meta.get("tags")
    if tags is not None and not isinstance(tags, (str, list)):
        raise InvalidFile(path, 2, "tags must be a list of strings (or one string)")
    return Note(path, "\n".join(lines[end + 1 :]), {str(k): v for k, v in meta.items()})


def parse_vault(files: Mapping[str, bytes]) -> list[Note]:
    """Every note of a vault given as ``{relative path: bytes}``, in path order."""
    return [parse_note(path, files[path]) for path in sorted(files)]


def plan_import(
    notes: list[Note], existing: Mapping[str, Page], record: Story | None, source: str | None = None
) -> ImportPlan:
    """The pages importing ``notes`` writes into a work tree holding ``existing`` pages. ``source``:
    the vault folder's name, kept as ``vault.source``; the pages an earlier import of that vault
    brought whose note it no longer has are the plan's ``gone``."""
    paths = [n.path for n in notes]
    kept = kept_names(existing, "vault", "path")
    # The slug comes from the note's name, not its folders; the map is keyed by the path.
    ids = _numbered(paths, kept, existing)
    resolve = _resolver(paths)
    pages = [_page(note, ids, resolve, existing.get(ids[note.path]), source) for note in notes]
    gone = gone_pages(existing, "vault", "path", source, paths) if source is not None else {}
    return ImportPlan.of(ids, pages, existing, None, gone)


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".md")


def _numbered(paths: list[str], kept: Mapping[str, str], existing: Mapping[str, Page]) -> dict[str, str]:
    ids: dict[str, str] = {}
    taken = set(existing) | set(kept.values())
    for path in paths:
        one = assign_ids([_stem(path)], {}, taken) if path not in kept else {_stem(path): kept[path]}
        ids[path] = one[_stem(path)]
        taken.add(ids[path])
    return ids


def _resolver(paths: list[str]) -> dict[str, str]:
    """Link text (lower case) -> note path: every path without ``.md``, then every bare name (the
    shortest path of that name)."""
    table: dict[str, str] = {}
    for path in sorted(paths, key=lambda p: (p.count("/"), len(p), p)):
        table.setdefault(_stem(path).lower(), path)
    for path in paths:
        table[path.removesuffix(".md").lower()] = path
    return table


def _page(
    note: Note, ids: Mapping[str, str], resolve: Mapping[str, str], old: Page | None, source: str | None
) -> Page:
    meta = dict(note.meta)
    title = meta.pop("title", None) or note.name.strip() or ids[note.path]
    tags = meta.pop("tags", None) or []
    tags = [tags] if isinstance(tags, str) else [str(t) for t in tags if t is not None and str(t).strip()]
    vault: dict[str, Any] = {"path": note.path}
    if source is not None:
        vault["source"] = source
    if meta:
        vault["meta"] = meta
    extra = dict(old.extra) if old else {}
    extra["vault"] = vault

    def link(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        path = resolve.get(target.split("#", 1)[0].strip().lower())
        if path is None:
            return match.group(0)
        page_id = ids[path]
        return f"[[{page_id}]]" if not label or label == target else f"[{label}][[{page_id}]]"

    return Page(
        ids[note.path],
        title.splitlines()[0] if title.strip() else ids[note.path],
        body=_LINK.sub(link, note.body),
        follows=old.follows if old else (),
        alternate_of=old.alternate_of if old else None,
        tags=tuple(tags),
        glyphs=old.glyphs if old else (),
        extra=tuple(extra.items()),
    )
