"""The object model: pages, actors, the story record, and git trees and commits.

Everything here is pure: serialise, parse and hash, no I/O. Serialisation is canonical (fixed key order,
``\\n`` line ends, one trailing newline) so that equal content always gives an equal blob id.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import Any

from .errors import BadInput, CorruptObject, InvalidFile
from .limits import MAX_DEPTH, too_deep
from .records import field, record, replace
from .types import ObjectId

__all__ = [
    "ACTOR_KINDS",
    "ID_PATTERN",
    "MAX_YAML",
    "MODE_BLOB",
    "MODE_TREE",
    "ROTATIONS",
    "TRAILER_PREFIX",
    "Actor",
    "Commit",
    "Glyph",
    "Page",
    "Signature",
    "Story",
    "Tree",
    "TreeEntry",
    "front_key",
    "front_matter_bytes",
    "hash_object",
    "load_yaml",
    "page_parses",
    "tree_record",
    "tree_records",
    "validate_id",
]

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
ROTATIONS = (0, 90, 180, 270)
ACTOR_KINDS = ("human", "agent")
MODE_TREE = "40000"
MODE_BLOB = "100644"
TRAILER_PREFIX = "Gvcs-"


def validate_id(kind: str, value: object) -> str:
    """Return ``value`` if it is a valid page/actor/branch-safe id, else raise :class:`BadInput`."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value) or ".." in value:
        shown = value if isinstance(value, str) else type(value).__name__
        if isinstance(shown, str) and len(shown) > 40:
            shown = shown[:37] + "..."
        raise BadInput(
            f"invalid {kind} id {shown!r}: use 1-100 characters a-z 0-9 . _ -, "
            "starting with a letter or digit, without '..'"
        )
    return value


def hash_object(obj_type: str, data: bytes) -> ObjectId:
    """The git object id of ``data`` stored as ``obj_type``."""
    header = f"{obj_type} {len(data)}\0".encode()
    return ObjectId((_SHA1 or _load_sha1())(header + data).hexdigest())


#: hashlib's SHA-1, imported on the first hash: hashlib loads OpenSSL, milliseconds that a cold
#: ``gvcs status``, which hashes nothing, does not spend.
_SHA1: Callable[[bytes], Any] | None = None


def _load_sha1() -> Callable[[bytes], Any]:
    global _SHA1
    import hashlib

    _SHA1 = hashlib.sha1
    return _SHA1


# --- YAML helpers ---------------------------------------------------------------------------------


_PLAIN_ID = re.compile(r"[a-z][a-z0-9._-]*")
_PLAIN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9 ,'!?()-]*[A-Za-z0-9!?)]|[A-Za-z]")
_YAML_WORDS = frozenset(["null", "true", "false", "yes", "no", "on", "off", "y", "n"])


# Characters YAML refuses in a stream or reads as line breaks: escaped inside double quotes.
_YAML_UNSAFE = "[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"


@functools.cache
def _yaml_unsafe() -> re.Pattern[str]:
    # Compiled on first use: this character class alone costs ~10 ms, a tenth of a cold `gvcs log`.
    return re.compile(_YAML_UNSAFE)


def _quote(value: str) -> str:
    return _yaml_unsafe().sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def _scalar(value: Any, in_flow: bool = False) -> str | None:
    """A value as a canonical YAML flow scalar, or None if it needs the full emitter.

    Inside ``[...]`` or ``{...}`` (``in_flow``) YAML ends a plain scalar at ``,`` and ``?``.
    """
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if value.lower() in _YAML_WORDS or "  " in value or (in_flow and ("," in value or "?" in value)):
            return _quote(value)
        if _PLAIN_ID.fullmatch(value) or _PLAIN_TEXT.fullmatch(value):
            return value
        return _quote(value)
    return None


def _flow(value: Any, in_flow: bool = False) -> str | None:
    if isinstance(value, list):
        items = [_flow(v, True) for v in value]
        return None if None in items else "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
    if isinstance(value, dict):
        pairs = [(_scalar(k, True) if isinstance(k, str) else None, _flow(v, True)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return _scalar(value, in_flow)


def _yaml_dump(data: Mapping[str, Any]) -> str:
    """Canonical YAML for a mapping: one key a line, in the given order, flow-style values.

    Common values (ids, plain titles, lists of them) are written directly: PyYAML's emitter costs
    most of a commit. Anything else goes through PyYAML, so every output is valid, canonical YAML.
    """
    lines = []
    for key, value in data.items():
        flow = _flow(value)
        if flow is None:
            import yaml

            lines.append(
                yaml.safe_dump(
                    {key: value}, default_flow_style=None, allow_unicode=True, width=1_000_000
                ).rstrip("\n")
            )
        else:
            lines.append(f"{_scalar(key, True)}: {flow}")
    return "\n".join(lines) + "\n"


#: The largest YAML document read (story.yaml, an actor, front matter, ledger.yaml, ...), in bytes.
MAX_YAML = 8 * 1024 * 1024


def load_yaml(text: str, path: str, line_offset: int = 0) -> Any:
    """YAML text as plain data, refused with :class:`InvalidFile` (path and line) when it does not parse,
    uses anchors, aliases or tags, is larger than :data:`MAX_YAML` or nests deeper than
    :data:`~narrative_vcs.limits.MAX_DEPTH` levels: a story's files are plain data, an alias lets a few
    hundred bytes stand for megabytes once written out again, and every walk of the data recurses once
    per level."""
    import yaml

    if len(text) > MAX_YAML // 4 and len(text.encode("utf-8", errors="replace")) > MAX_YAML:
        raise InvalidFile(path, None, f"larger than {MAX_YAML // (1024 * 1024)} MiB")
    _refuse_yaml_references(text, path, line_offset)
    try:
        # libyaml's loader when PyYAML was built with it: parsing front matter is most of what reading
        # a page costs, and the C loader is several times faster than the pure-Python one.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path, line_offset) from None
    except RecursionError:  # the pure-Python loader recurses once per level
        raise InvalidFile(path, None, f"nested deeper than {MAX_DEPTH} levels") from None
    if too_deep(data):
        raise InvalidFile(path, None, f"nested deeper than {MAX_DEPTH} levels")
    return data


def _refuse_yaml_references(text: str, path: str, line_offset: int) -> None:
    if "&" not in text and "*" not in text and "!" not in text:
        return  # no anchor, alias or tag can be spelled without these
    import yaml

    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                what = "aliases (*name)" if isinstance(event, yaml.AliasEvent) else "anchors (&name)"
            elif getattr(event, "tag", None) is not None:
                what = "tags (!tag)"
            else:
                continue
            line = event.start_mark.line + 1 + line_offset if event.start_mark is not None else None
            raise InvalidFile(path, line, f"YAML {what} are not allowed: write the value out")
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path, line_offset) from None


def _yaml_error(exc: Exception, text: str, path: str, line_offset: int) -> InvalidFile:
    mark = getattr(exc, "problem_mark", None)
    # An error found at the end of the text (an unclosed list) is reported on its last line.
    last = text.count("\n") + 1 + line_offset
    line = min(mark.line + 1 + line_offset, last) if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if "maximum nesting depth" in problem:  # libyaml's own limit (1000 levels)
        return InvalidFile(path, line, f"nested deeper than {MAX_DEPTH} levels")
    return InvalidFile(path, line, f"invalid YAML: {problem}")


_yaml_load = load_yaml


_FAST_KEY = re.compile(r"[a-z_][a-z0-9_]*")


def _fast_scalar(text: str) -> tuple[bool, Any]:
    """A value as the canonical emitter writes it and YAML would read it: (True, value), or (False, None)
    when only a YAML parser can tell (anything unusual, escapes, numbers, mappings)."""
    if text == "null":
        return True, None
    if text.startswith('"'):
        if len(text) >= 2 and text.endswith('"') and "\\" not in text and '"' not in text[1:-1]:
            return True, text[1:-1]
        return False, None
    if (
        (_PLAIN_ID.fullmatch(text) or _PLAIN_TEXT.fullmatch(text))
        and text.lower() not in _YAML_WORDS
        and "  " not in text
    ):
        return True, text
    return False, None


def _page_lines(data: bytes, path: str) -> tuple[list[str], int]:
    """A page file's lines (CRLF read as LF) and the index of the line that closes its front matter;
    InvalidFile if it has none."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidFile(path, None, f"not UTF-8 text ({exc.reason})") from None
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise InvalidFile(path, 1, "front matter must start with a '---' line")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() == "---")
    except StopIteration:
        raise InvalidFile(path, len(lines), "front matter is not closed by a '---' line") from None
    return lines, end


def _fast_front_matter(lines: list[str]) -> dict[str, Any] | None:
    """Front matter in the canonical form gvcs writes, read without a YAML parser (it costs most of
    reading a page); None for anything else, which the YAML parser then reads."""
    meta: dict[str, Any] = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep or key in meta or not _FAST_KEY.fullmatch(key):
            return None
        if value.startswith("["):
            if not value.endswith("]"):
                return None
            inner = value[1:-1]
            items = inner.split(", ") if inner else []
            if not all(_PLAIN_ID.fullmatch(i) and i not in _YAML_WORDS for i in items):
                return None
            meta[key] = items
            continue
        ok, parsed = _fast_scalar(value)
        if not ok:
            return None
        meta[key] = parsed
    return meta


#: A page as gvcs writes it (the known keys in order, no glyphs, nothing else): see
#: :func:`page_parses`.
_CANONICAL_PAGE = re.compile(
    r"---\ntitle: ([^\n]*)\nfollows: \[([^\n\]]*)\]\nalternate_of: ([^\n]*)\n"
    r"tags: \[([^\n\]]*)\]\nglyphs: \[\]\n---(?:\n|\Z)"
)


def page_parses(page_id: str, data: bytes) -> bool:
    """True when ``data`` is certainly a page that :meth:`Page.parse` reads as ``page_id`` without an
    error: a page in the canonical form gvcs writes, checked with a few string tests instead of being
    built (a merge's commit checks a thousand pages so). False means only "parse it to know"."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    found = _CANONICAL_PAGE.match(text)
    if found is None or "\r" in found.group(0) or not _is_id(page_id):
        return False
    title, follows, alternate, tags = found.groups()
    ok, value = _fast_scalar(title)
    if not ok or not isinstance(value, str) or not value.strip():
        return False
    ok, value = _fast_scalar(alternate)
    if not ok or (value is not None and (not _is_id(value) or value == page_id)):
        return False
    for items, kind in ((follows, "follows"), (tags, "tags")):
        for item in items.split(", ") if items else ():
            if not _PLAIN_ID.fullmatch(item) or item in _YAML_WORDS:
                return False
            if kind == "follows" and (not _is_id(item) or item == page_id):
                return False
    return True


def _is_id(value: str) -> bool:
    return ID_PATTERN.fullmatch(value) is not None and ".." not in value


def _fast_mapping(text: str) -> dict[str, Any] | None:
    """A small YAML document in the canonical form gvcs writes (``key: value`` lines, as an actor's
    file or story.yaml), read without a YAML parser: importing PyYAML costs a cold command more than
    the rest of a one-page commit. None for anything else, which the YAML parser then reads."""
    if len(text) > 4096 or not text.endswith("\n"):
        return None
    lines = text[:-1].split("\n")
    return _fast_front_matter(lines) if lines != [""] else None


def front_matter_bytes(data: bytes) -> bytes:
    """A page file's bytes up to the line that closes its front matter (all of them if none does): two
    versions with the same front matter bytes have the same title, places to follow, alternate, tags and
    glyphs, whatever their bodies (what :meth:`Page.parse` reads of the front matter ends no later)."""
    at = data.find(b"\n") + 1
    while at:
        end = data.find(b"\n", at)
        if end < 0:
            return data
        if data[at:end].rstrip() == b"---":
            return data[:end]
        at = end + 1
    return data


def front_key(data: bytes) -> bytes:
    """A 16-byte digest of a page file's :func:`front_matter_bytes`: two versions with the same key
    have the same front matter (BLAKE2b; a collision would take 2**64 tries)."""
    import hashlib

    return hashlib.blake2b(front_matter_bytes(data), digest_size=16).digest()


def _normalise_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.strip("\n")
    return text + "\n" if text else ""


def _id_list(kind: str, value: object, path: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidFile(path, None, f"{key} must be a list of {kind} ids")
    try:
        return tuple(validate_id(kind, v) for v in value)
    except BadInput as exc:
        raise InvalidFile(path, None, f"{key}: {exc}") from None


def _extra(data: Mapping[str, Any], known: Iterable[str]) -> tuple[tuple[str, Any], ...]:
    known_set = set(known)
    odd = [k for k in data if not isinstance(k, str)]
    if odd:
        raise BadInput(f"keys must be text, not {odd[0]!r} (quote it)")
    return tuple(sorted((k, v) for k, v in data.items() if k not in known_set))


# --- pages ----------------------------------------------------------------------------------------


@record
class Glyph:
    """A glyph placed on a page at a rotation (0, 90, 180 or 270 degrees)."""

    id: str
    rotation: int = 0

    def __post_init__(self) -> None:
        validate_id("glyph", self.id)
        if self.rotation not in ROTATIONS:
            raise BadInput(f"invalid rotation {self.rotation!r}: use one of 0, 90, 180, 270")


@record
class Page:
    """One page of the story: front matter and a markdown body. The id is the file name."""

    id: str
    title: str
    body: str = ""
    follows: tuple[str, ...] = ()
    alternate_of: str | None = None
    tags: tuple[str, ...] = ()
    glyphs: tuple[Glyph, ...] = ()
    extra: tuple[tuple[str, Any], ...] = field(default=())

    KNOWN_KEYS = ("title", "follows", "alternate_of", "tags", "glyphs")

    def __post_init__(self) -> None:
        validate_id("page", self.id)
        if not isinstance(self.title, str) or not self.title.strip() or "\n" in self.title:
            raise BadInput(f"page {self.id}: title must be a non-empty single line")
        for target in self.follows:
            validate_id("page", target)
        if self.alternate_of is not None:
            validate_id("page", self.alternate_of)
        if self.alternate_of == self.id or self.id in self.follows:
            raise BadInput(f"page {self.id}: a page cannot follow or be an alternate of itself")
        for tag in self.tags:
            if not isinstance(tag, str) or not tag or "\n" in tag:
                raise BadInput(f"page {self.id}: tags must be non-empty single-line strings")
        object.__setattr__(self, "body", _normalise_text(self.body))

    @property
    def path(self) -> str:
        return f"pages/{self.id}.md"

    def links(self) -> tuple[str, ...]:
        """Page ids referenced in the body as ``[[page-id]]``, in order, without repeats."""
        seen: dict[str, None] = {}
        for match in re.finditer(r"\[\[([a-z0-9][a-z0-9._-]{0,99})\]\]", self.body):
            seen.setdefault(match.group(1), None)
        return tuple(seen)

    def front_matter(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": self.title,
            "follows": list(self.follows),
            "alternate_of": self.alternate_of,
            "tags": list(self.tags),
            "glyphs": [{"id": g.id, "rotation": g.rotation} for g in self.glyphs],
        }
        data.update(self.extra)
        return data

    def serialise(self) -> bytes:
        return f"---\n{_yaml_dump(self.front_matter())}---\n{self.body}".encode()

    @classmethod
    def parse(cls, page_id: str, data: bytes, path: str | None = None) -> Page:
        path = path or f"pages/{page_id}.md"
        lines, end = _page_lines(data, path)
        return cls._from_lines(page_id, lines, end, path)

    @classmethod
    def parse_versions(cls, page_id: str, versions: Iterable[bytes | None]) -> list[Page | None]:
        """:meth:`parse` of each version (None stays None). A version whose front matter is line for
        line an earlier one's is that page with its own body: a merge reads three versions of a page
        that mostly differ in their text only, and reading front matter is most of parsing a page."""
        path = f"pages/{page_id}.md"
        known: list[tuple[list[str], Page]] = []
        out: list[Page | None] = []
        for data in versions:
            if data is None:
                out.append(None)
                continue
            lines, end = _page_lines(data, path)
            front = lines[: end + 1]
            for other_front, other in known:
                if other_front == front:
                    # The same fields, validated when that version was read; only the body differs.
                    out.append(replace(other, body="\n".join(lines[end + 1 :])))
                    break
            else:
                page = cls._from_lines(page_id, lines, end, path)
                known.append((front, page))
                out.append(page)
        return out

    @classmethod
    def _from_lines(cls, page_id: str, lines: list[str], end: int, path: str) -> Page:
        meta = _fast_front_matter(lines[1:end])
        if meta is None:
            meta = _yaml_load("\n".join(lines[1:end]), path, line_offset=1)
        if not isinstance(meta, dict):
            raise InvalidFile(path, 2, "front matter must be a mapping of keys to values")
        return cls._from_meta(page_id, meta, "\n".join(lines[end + 1 :]), path)

    @classmethod
    def _from_meta(cls, page_id: str, meta: dict[str, Any], body: str, path: str) -> Page:
        title = meta.get("title")
        if not isinstance(title, str) or not title.strip():
            raise InvalidFile(path, 2, "front matter needs a non-empty 'title'")
        alternate_of = meta.get("alternate_of")
        tags = meta.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidFile(path, None, "tags must be a list of strings")
        try:
            return cls(
                id=validate_id("page", page_id),
                title=title,
                body=body,
                follows=_id_list("page", meta.get("follows"), path, "follows"),
                alternate_of=None if alternate_of is None else validate_id("page", alternate_of),
                tags=tuple(tags),
                glyphs=_parse_glyphs(meta.get("glyphs"), path),
                extra=_extra(meta, cls.KNOWN_KEYS),
            )
        except InvalidFile:
            raise
        except BadInput as exc:
            raise InvalidFile(path, None, str(exc)) from None


def _parse_glyphs(value: object, path: str) -> tuple[Glyph, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidFile(path, None, "glyphs must be a list of {id, rotation}")
    glyphs = []
    for item in value:
        if not isinstance(item, dict) or "id" not in item:
            raise InvalidFile(path, None, "each glyph needs an 'id' (and a 'rotation')")
        try:
            glyphs.append(Glyph(item["id"], item.get("rotation", 0)))
        except BadInput as exc:
            raise InvalidFile(path, None, str(exc)) from None
    return tuple(glyphs)


# --- actors and the story record ------------------------------------------------------------------


@record
class Actor:
    """A person or an AI agent who writes the story."""

    id: str
    name: str
    kind: str = "human"
    archetype: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    KNOWN_KEYS = ("name", "kind", "archetype")

    def __post_init__(self) -> None:
        validate_id("actor", self.id)
        if not isinstance(self.name, str) or not self.name.strip() or "\n" in self.name:
            raise BadInput(f"actor {self.id}: name must be a non-empty single line")
        if any(c in self.name for c in "<>"):
            raise BadInput(f"actor {self.id}: name must not contain '<' or '>'")
        if self.kind not in ACTOR_KINDS:
            raise BadInput(f"actor {self.id}: kind must be human or agent, not {self.kind!r}")

    @property
    def path(self) -> str:
        return f"actors/{self.id}.yaml"

    @property
    def email(self) -> str:
        return f"{self.id}@actors.gvcs"

    def serialise(self) -> bytes:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.archetype is not None:
            data["archetype"] = self.archetype
        data.update(self.extra)
        return _yaml_dump(data).encode()

    @classmethod
    def parse(cls, actor_id: str, data: bytes, path: str | None = None) -> Actor:
        path = path or f"actors/{actor_id}.yaml"
        text = data.decode("utf-8", errors="replace")
        meta = _fast_mapping(text) or _yaml_load(text, path)
        if not isinstance(meta, dict):
            raise InvalidFile(path, 1, "an actor file must be a mapping with at least 'name'")
        try:
            archetype = meta.get("archetype")
            return cls(
                id=actor_id,
                name=meta.get("name"),  # type: ignore[arg-type]
                kind=meta.get("kind", "human"),
                archetype=None if archetype is None else str(archetype),
                extra=_extra(meta, cls.KNOWN_KEYS),
            )
        except BadInput as exc:
            raise InvalidFile(path, None, str(exc)) from None


@record
class Story:
    """``story.yaml``: the title and the story-wide settings later features read (governance, glyphs)."""

    title: str
    settings: tuple[tuple[str, Any], ...] = ()

    PATH = "story.yaml"

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip() or "\n" in self.title:
            raise BadInput("story title must be a non-empty single line")

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.settings).get(key, default)

    def serialise(self) -> bytes:
        data: dict[str, Any] = {"title": self.title}
        data.update(self.settings)
        return _yaml_dump(data).encode()

    @classmethod
    def parse(cls, data: bytes, path: str = "story.yaml") -> Story:
        text = data.decode("utf-8", errors="replace")
        meta = _fast_mapping(text) or _yaml_load(text, path)
        if not isinstance(meta, dict) or not isinstance(meta.get("title"), str):
            raise InvalidFile(path, 1, "story.yaml must be a mapping with a 'title'")
        try:
            return cls(title=meta["title"], settings=_extra(meta, ("title",)))
        except BadInput as exc:
            raise InvalidFile(path, 1, str(exc)) from None


# --- git trees ------------------------------------------------------------------------------------


class TreeEntry:
    """One entry of a git tree (immutable by convention: trees are rebuilt, never edited in place).

    A plain slotted class rather than a frozen dataclass: a frozen dataclass's ``__init__`` costs
    twice as much, and pushing or diffing a large history parses millions of entries.
    """

    __slots__ = ("mode", "name", "oid", "record")

    def __init__(self, name: str, mode: str, oid: ObjectId, record: bytes = b"") -> None:
        self.name = name
        self.mode = mode
        self.oid = oid
        #: The entry as git serialises it inside a tree (derived; kept to make tree writes cheap).
        self.record = record or mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(oid)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TreeEntry):
            return NotImplemented
        return (self.name, self.mode, self.oid) == (other.name, other.mode, other.oid)

    def __hash__(self) -> int:
        return hash((self.name, self.mode, self.oid))

    def __repr__(self) -> str:
        return f"TreeEntry(name={self.name!r}, mode={self.mode!r}, oid={self.oid!r})"

    @property
    def is_tree(self) -> bool:
        return self.mode == MODE_TREE

    @property
    def sort_key(self) -> bytes:
        # git orders entries by name, comparing a subtree's name as if it ended in "/".
        return self.name.encode() + (b"/" if self.is_tree else b"")


class Tree:
    """A git tree: a mapping of names to entries, serialised in git's order.

    Entries parsed from a tree arrive in git's order; replacing or removing entries keeps it, so
    only adding a name costs a sort when the tree is written again.
    """

    __slots__ = ("_ordered", "entries")

    def __init__(self, entries: Mapping[str, TreeEntry] | None = None, *, ordered: bool = False) -> None:
        self.entries: dict[str, TreeEntry] = dict(entries or {})
        self._ordered = ordered or not self.entries

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def get(self, name: str) -> TreeEntry | None:
        return self.entries.get(name)

    def copy(self) -> Tree:
        return Tree(self.entries, ordered=self._ordered)

    def set(self, entry: TreeEntry) -> None:
        current = self.entries.get(entry.name)
        if current is None or current.is_tree != entry.is_tree:
            self._ordered = False
        self.entries[entry.name] = entry

    def remove(self, name: str) -> None:
        self.entries.pop(name, None)

    def serialise(self) -> bytes:
        if not self._ordered:
            self.entries = {e.name: e for e in sorted(self.entries.values(), key=attrgetter("sort_key"))}
            self._ordered = True
        return b"".join([e.record for e in self.entries.values()])

    @classmethod
    def parse(cls, data: bytes) -> Tree:
        return cls.from_records(tree_records(data))

    @classmethod
    def from_records(cls, records: list[bytes]) -> Tree:
        """The tree of the records :func:`tree_records` found (they cover its bytes end to end)."""
        entries: dict[str, TreeEntry] = {}
        seen = _ENTRIES.get
        # Successive versions of a tree share most entries, so an entry already parsed (same bytes)
        # is reused.
        for raw in records:
            entry = seen(raw) or tree_record(raw)
            entries[entry.name] = entry
        tree = cls.__new__(cls)
        tree.entries = entries
        tree._ordered = True
        return tree


def tree_records(data: bytes) -> list[bytes]:
    """The entries of a serialised tree as its bytes hold them, unparsed (two trees' records compare
    as a set where parsing every entry costs a tree diff most of its time)."""
    # One match per entry, and the matches must cover the data end to end.
    records = _TREE_ENTRY.findall(data)
    if sum(map(len, records)) != len(data):
        raise CorruptObject("tree object does not parse")
    return records


def tree_record(record: bytes) -> TreeEntry:
    """The entry one record of :func:`tree_records` holds (kept: entries never change)."""
    entry = _ENTRIES.get(record)
    if entry is None:
        space = record.index(b" ")
        try:
            name = record[space + 1 : -21].decode()
        except UnicodeDecodeError:
            raise CorruptObject("tree object does not parse") from None
        entry = TreeEntry(name, record[:space].decode(), ObjectId(record[-20:].hex()), record)
        if len(_ENTRIES) >= _ENTRIES_KEPT:
            _ENTRIES.clear()
        _ENTRIES[record] = entry
    return entry


#: A tree entry: its mode, a space, its name (no NUL, no slash), a NUL and the 20-byte id.
_TREE_ENTRY = re.compile(rb"[0-7]{5,6} [^\0/]+\0.{20}", re.DOTALL)
#: Entries parsed lately, by their bytes (entries are immutable: trees are rebuilt, never edited).
_ENTRIES: dict[bytes, TreeEntry] = {}
_ENTRIES_KEPT = 65_536


# --- git commits ----------------------------------------------------------------------------------


@record
class Signature:
    name: str
    email: str
    time: int
    offset: int = 0  # minutes east of UTC

    def serialise(self) -> str:
        sign = "-" if self.offset < 0 else "+"
        hours, minutes = divmod(abs(self.offset), 60)
        return f"{self.name} <{self.email}> {self.time} {sign}{hours:02d}{minutes:02d}"

    @classmethod
    def parse(cls, text: str) -> Signature:
        try:
            name, rest = text.split(" <", 1)
            email, rest = rest.split("> ", 1)
            stamp, tz = rest.split(" ")
            offset = int(tz[1:3]) * 60 + int(tz[3:5])
            return cls(name, email, int(stamp), -offset if tz[0] == "-" else offset)
        except (ValueError, IndexError):
            raise CorruptObject(f"bad signature line {text!r}") from None


@record
class Commit:
    """A git commit. Structured facts live in ``Gvcs-*`` trailers at the end of the message."""

    tree: ObjectId
    parents: tuple[ObjectId, ...]
    author: Signature
    committer: Signature
    message: str

    def serialise(self) -> bytes:
        lines = [f"tree {self.tree}"]
        lines += [f"parent {p}" for p in self.parents]
        lines.append(f"author {self.author.serialise()}")
        lines.append(f"committer {self.committer.serialise()}")
        return ("\n".join(lines) + "\n\n" + self.message).encode()

    @classmethod
    def parse(cls, data: bytes) -> Commit:
        try:
            text = data.decode("utf-8")
            header, message = text.split("\n\n", 1) if "\n\n" in text else (text, "")
            tree = ""
            parents: list[ObjectId] = []
            author = committer = None
            for line in header.split("\n"):
                key, _, value = line.partition(" ")
                if key == "tree":
                    tree = value
                elif key == "parent":
                    parents.append(ObjectId(value))
                elif key == "author":
                    author = Signature.parse(value)
                elif key == "committer":
                    committer = Signature.parse(value)
            if len(tree) != 40 or author is None or committer is None:
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            raise CorruptObject("commit object does not parse") from None
        return cls(ObjectId(tree), tuple(parents), author, committer, message)

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def trailers(self) -> dict[str, str]:
        return parse_trailers(self.message)[1]


def format_message(message: str, trailers: Mapping[str, str]) -> str:
    """``message`` with ``trailers`` appended as a final ``Key: value`` paragraph."""
    body = _normalise_text(message).rstrip("\n")
    if not body.strip():
        raise BadInput("commit message must not be empty")
    block = "\n".join(f"{k}: {v}" for k, v in trailers.items())
    for key, value in trailers.items():
        if "\n" in value or "\n" in key:
            raise BadInput(f"trailer {key} must be a single line")
    return f"{body}\n\n{block}\n" if block else f"{body}\n"


def parse_trailers(message: str) -> tuple[str, dict[str, str]]:
    """Split ``message`` into its text and its trailing ``Gvcs-*`` trailers."""
    text = message.rstrip("\n")
    head, sep, last = text.rpartition("\n\n")
    trailers: dict[str, str] = {}
    # A plain loop: this runs once per commit of every log, and generators cost more than the rest.
    for line in last.split("\n"):
        key, colon, value = line.partition(": ")
        if not colon or not line.startswith(TRAILER_PREFIX):
            return text, {}
        trailers[key] = value
    return (head if sep else ""), trailers


def event_trailer(payload: Mapping[str, Any]) -> str:
    """One-line canonical JSON for the ``Gvcs-Event`` trailer."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


__all__ += ["event_trailer", "format_message", "parse_trailers"]
