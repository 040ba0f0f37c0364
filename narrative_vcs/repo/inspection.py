"""Inspecting a story: blame by paragraph, and fsck of objects, trees and refs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from ..errors import BadInput, CorruptObject, GvcsError, Refused
from ..history import CommitInfo
from ..objects import Actor, Commit, Page, Story, Tree, hash_object
from ..records import field, record
from ..refs import HEADS, TAGS, validate_ref_name
from ..types import ObjectId, RefName
from .merging import Merging
from .values import BlameEntry, FsckReport, RulesReport, path_kind

if TYPE_CHECKING:
    from ..repository import Repository

__all__ = ["Inspection", "PackChecks", "RefFileChecks"]

HEAD = RefName("HEAD")


@runtime_checkable
class RefFileChecks(Protocol):
    """A ref store that keeps refs in files of its own (git's): fsck asks it to read them all."""

    def check_refs(self) -> tuple[dict[RefName, ObjectId], list[str]]:
        """Every ref under ``refs/`` that reads, and one line per file that does not."""


@runtime_checkable
class PackChecks(Protocol):
    """An object store that keeps objects in packs with indexes (git's): fsck asks it to check them."""

    def check_packs(self) -> list[str]:
        """One line per damaged pack or index."""


@record(frozen=False)
class _Found:
    """What fsck learnt of the stored objects: each readable one's type, the ones that cannot be read,
    and the links of commits (tree, parents) and of annotated tags (the object tagged)."""

    kinds: dict[ObjectId, str] = field(default_factory=dict)
    unreadable: set[ObjectId] = field(default_factory=set)
    commits: dict[ObjectId, tuple[ObjectId, tuple[ObjectId, ...]]] = field(default_factory=dict)
    tags: dict[ObjectId, ObjectId] = field(default_factory=dict)

    def describe(self, oid: ObjectId) -> str:
        """``oid`` as the object a ref or a commit points at: "a blob (id)", "a missing object (id)"."""
        if oid in self.unreadable:
            return f"an unreadable object ({oid})"
        kind = self.kinds.get(oid)
        return f"a {kind} ({oid})" if kind else f"a missing object ({oid})"

    def peel(self, oid: ObjectId) -> tuple[ObjectId | None, str]:
        """The commit an annotated tag (or a chain of them) points at, or None and what it points at."""
        start = oid
        for _ in range(10):
            if self.kinds.get(oid) != "tag":
                break
            oid = self.tags[oid]
        if self.kinds.get(oid) == "commit":
            return oid, ""
        return None, (f"tag {start}, which points at " if oid != start else "") + self.describe(oid)


class Inspection(Merging):
    # --- blame ------------------------------------------------------------------------------------

    def blame(self, page_id: str, rev: str = "HEAD") -> list[BlameEntry]:
        """For each paragraph of a page, the commit (and so the actor) that last changed it."""
        from ..merge.text import split_paragraphs

        start = self.resolve(rev)
        page = self.read_page(page_id, start)
        path = f"pages/{page_id}.md"
        paragraphs = split_paragraphs(page.body)
        owners: list[CommitInfo | None] = [None] * len(paragraphs)
        # (commit, {paragraph index in that commit's version: index in `paragraphs`})
        pending: list[tuple[ObjectId, dict[int, int]]] = [(start, {i: i for i in range(len(paragraphs))})]
        texts: dict[ObjectId, list[str]] = {}
        while pending:
            oid, mapping = pending.pop()
            info = self.commits.get(oid)
            mine = self._paragraphs_at(info.tree, path, texts)
            remaining = dict(mapping)
            for parent in info.parents:
                if not remaining:
                    break
                theirs = self._paragraphs_at(self.commits.get(parent).tree, path, texts)
                matched = _match_paragraphs(mine, theirs, remaining)
                passed = {theirs_index: remaining.pop(m) for m, theirs_index in matched.items()}
                if passed:
                    pending.append((parent, passed))
            for original in remaining.values():
                owners[original] = info
        return [
            BlameEntry(i, text, owner)
            for i, (text, owner) in enumerate(zip(paragraphs, owners, strict=True))
            if owner
        ]

    def _paragraphs_at(self, tree: ObjectId, path: str, cache: dict[ObjectId, list[str]]) -> list[str]:
        oid = self.snapshots.blob_id(tree, path)
        if oid is None:
            return []
        if oid not in cache:
            from ..merge.text import split_paragraphs

            cache[oid] = split_paragraphs(Page.parse(path[6:-3], self.read_blob(oid)).body)
        return cache[oid]

    # --- integrity --------------------------------------------------------------------------------

    def fsck(self) -> FsckReport:
        """Check the whole store and list every problem, one line each, without stopping at the first:
        every object parses and hashes to its id; the store's own files (ref files, ``packed-refs``,
        reflogs, pack indexes) parse; every ref points at a commit (a tag maybe through annotated tags),
        HEAD at a branch or a commit; and the history they reach is whole, its pages, actors and story
        file parsing."""
        report = FsckReport()
        found = _Found()
        for oid in self.objects:
            report.objects += 1
            problem = self._check_object(oid, found)
            if problem:
                report.problems.append(problem)
        if isinstance(self.objects, PackChecks):
            report.problems.extend(self.objects.check_packs())
        refs, problems = self._stored_refs()
        report.problems.extend(problems)
        heads: list[ObjectId] = []
        for name, oid in refs.items():
            report.refs += 1
            # a tag may point at an annotated tag object, which points at the commit
            commit, problem = found.peel(oid) if name.startswith(TAGS) else (None, found.describe(oid))
            if found.kinds.get(oid) == "commit" or commit:
                heads.append(commit or oid)
            else:
                report.problems.append(f"ref {name} points at {problem}")
        head, problems = self._check_head(found)
        report.problems.extend(problems)
        report.problems.extend(self._check_reachable(found, heads + ([head] if head else [])))
        return report

    def fsck_rules(
        self, rev: str | None = None, *, progress: Callable[[int, int], None] | None = None
    ) -> RulesReport:
        """Replay history through the gate: every commit reachable from ``rev`` (a branch, tag or commit;
        default: every branch and tag) checked as if it had just arrived, and every step of each branch's
        first-parent line checked as a move of that branch. Lists every commit that breaks a rule, so a
        story made before a rule existed can be checked. Needs the story's rules at the gate."""
        from ..gate import Gate

        if not self.gate.active:
            raise Refused("this repository was opened without the story's rules: nothing to check against")
        if rev is None:
            heads = {
                ref: oid for ref, oid in self.refs.list("refs/").items() if ref.startswith((HEADS, TAGS))
            }
        else:
            oid = self.resolve(rev)
            named = [RefName(p + rev) for p in (HEADS, TAGS) if self.refs.get(RefName(p + rev)) == oid]
            heads = {named[0] if named else RefName(rev): oid}
        audit = Gate(self.gate.rules)  # a gate of its own: nothing it verified before is taken as checked
        problems, commits = audit.audit(cast("Repository", self), heads, progress=progress)
        return RulesReport(commits, len(heads), problems)

    def _stored_refs(self) -> tuple[dict[RefName, ObjectId], list[str]]:
        """Every ref under ``refs/``, read by the backend itself where it keeps files, so that a damaged
        file is one problem among the others, not the end of the check."""
        inner = self._gated.inner
        if isinstance(inner, RefFileChecks):
            return inner.check_refs()
        try:
            return dict(inner.list("refs/")), []
        except GvcsError as exc:
            return {}, [str(exc)]

    def _check_head(self, found: _Found) -> tuple[ObjectId | None, list[str]]:
        """HEAD names a branch (which may have no commit yet) or, detached, a commit; that commit."""
        try:
            target = self.refs.get_symbolic(HEAD)
            oid = self.refs.get(HEAD) if target is None else None
        except GvcsError as exc:
            return None, [str(exc)]
        if target is not None:
            try:
                if not target.startswith(HEADS):
                    raise BadInput("not under refs/heads/")
                validate_ref_name("branch", target[len(HEADS) :])
            except BadInput:
                return None, [f"HEAD points at {target!r}, not at a branch"]
            return None, []
        if oid is None or found.kinds.get(oid) == "commit":
            return oid, []
        return None, [f"HEAD points at {found.describe(oid)}"]

    def _check_object(self, oid: ObjectId, found: _Found) -> str | None:
        try:
            obj_type, data = self.objects.get(oid)
        except GvcsError as exc:
            found.unreadable.add(oid)
            return f"object {oid}: {exc}"
        if hash_object(obj_type, data) != oid:
            found.unreadable.add(oid)
            return f"object {oid}: content hashes to {hash_object(obj_type, data)}"
        found.kinds[oid] = obj_type
        try:
            if obj_type == "commit":
                commit = Commit.parse(data)
                found.commits[oid] = (commit.tree, commit.parents)
            elif obj_type == "tree":
                Tree.parse(data)
            elif obj_type == "tag":
                found.tags[oid] = _tagged(data)
        except CorruptObject as exc:
            del found.kinds[oid]
            found.unreadable.add(oid)
            return f"object {oid}: {exc}"
        return None

    def _check_reachable(self, found: _Found, heads: list[ObjectId]) -> list[str]:
        """Walk the history from ``heads`` (commits): every parent a commit, every tree and file whole."""
        problems: list[str] = []
        checked: set[ObjectId] = set()
        walked: set[ObjectId] = set()
        # The objects read above, not the commit cache: fsck checks what is stored.
        pending = list(heads)
        while pending:
            oid = pending.pop()
            if oid in walked:
                continue
            walked.add(oid)
            tree, parents = found.commits[oid]
            for parent in parents:
                if found.kinds.get(parent) == "commit":
                    pending.append(parent)
                elif parent not in found.kinds and parent not in found.unreadable:
                    problems.append(f"commit {oid}: missing parent {parent}")
                else:
                    problems.append(f"commit {oid}: its parent is {found.describe(parent)}")
            problems.extend(self._check_tree(tree, "", found, checked))
        return problems

    def _check_tree(self, oid: ObjectId, prefix: str, found: _Found, checked: set[ObjectId]) -> list[str]:
        if oid in checked:
            return []
        checked.add(oid)
        if found.kinds.get(oid) != "tree":
            return [f"tree {prefix or '/'} is {found.describe(oid)}, not a tree"]
        problems: list[str] = []
        try:
            entries = self.snapshots.tree(oid).entries.values()
        except GvcsError as exc:
            return [f"tree {prefix or '/'} ({oid}): {exc}"]
        for entry in entries:
            path = prefix + entry.name
            if entry.is_tree:
                problems.extend(self._check_tree(entry.oid, path + "/", found, checked))
            elif entry.oid not in checked:
                checked.add(entry.oid)
                problems.extend(self._check_blob(entry.oid, path, found))
        return problems

    def _check_blob(self, oid: ObjectId, store_path_: str, found: _Found) -> list[str]:
        from ..snapshot import logical_path

        path = logical_path(store_path_)
        if found.kinds.get(oid) != "blob":
            return [f"{path}: blob {oid} is {found.describe(oid).split(' (')[0]}"]
        kind, item = path_kind(path)
        try:
            if kind == "page" and item:
                Page.parse(item, self.read_blob(oid), path)
            elif kind == "actor" and item:
                Actor.parse(item, self.read_blob(oid), path)
            elif kind == "story":
                Story.parse(self.read_blob(oid), path)
        except GvcsError as exc:
            return [f"{exc}"]
        return []


def _tagged(data: bytes) -> ObjectId:
    """The object an annotated tag points at (its first line, ``object <id>``)."""
    first = data.split(b"\n", 1)[0].decode("ascii", "replace")
    oid = first[7:]
    if not first.startswith("object ") or len(oid) != 40 or any(c not in "0123456789abcdef" for c in oid):
        raise CorruptObject(f"tag object does not start with 'object <id>': {first[:60]!r}")
    return ObjectId(oid)


def _match_paragraphs(mine: list[str], theirs: list[str], wanted: Mapping[int, int]) -> dict[int, int]:
    """For paragraphs of ``mine`` (indexes in ``wanted``) also in ``theirs``: mine index -> theirs index."""
    if mine == theirs:
        return {i: i for i in wanted}
    import difflib

    matcher = difflib.SequenceMatcher(a=mine, b=theirs, autojunk=False)
    return {
        a0 + k: b0 + k
        for a0, b0, size in matcher.get_matching_blocks()
        for k in range(size)
        if a0 + k in wanted
    }
