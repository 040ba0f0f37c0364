"""Inspecting a story: blame by paragraph, and fsck of objects, trees and refs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from ..errors import BadInput, CorruptObject, GvcsError, InvalidFile, Refused
from ..history import CommitInfo, Commits
from ..merge.text import split_paragraphs
from ..objects import Actor, Commit, Page, Story, Tree, hash_object
from ..refs import HEADS, TAGS
from ..types import ObjectId, RefName
from .merging import Merging
from .values import BlameEntry, FsckReport, RulesReport, path_kind

if TYPE_CHECKING:
    from ..repository import Repository

__all__ = ["Inspection"]


class Inspection(Merging):
    # --- blame ------------------------------------------------------------------------------------

    def blame(self, page_id: str, rev: str = "HEAD") -> list[BlameEntry]:
        """For each paragraph of a page, the commit (and so the actor) that last changed it."""
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
            cache[oid] = split_paragraphs(Page.parse(path[6:-3], self.read_blob(oid)).body)
        return cache[oid]

    # --- integrity --------------------------------------------------------------------------------

    def fsck(self) -> FsckReport:
        """Check that every object parses and hashes to its id, and every ref points at a commit."""
        report = FsckReport()
        kinds: dict[ObjectId, str] = {}
        for oid in self.objects:
            report.objects += 1
            problem = self._check_object(oid, kinds)
            if problem:
                report.problems.append(problem)
        for name, oid in self.refs.list("refs/").items():
            report.refs += 1
            if kinds.get(oid) != "commit":
                what = "a missing object" if oid not in kinds else f"a {kinds[oid]}"
                report.problems.append(f"ref {name} points at {what} ({oid})")
        report.problems.extend(self._check_reachable(kinds))
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

    def _check_object(self, oid: ObjectId, kinds: dict[ObjectId, str]) -> str | None:
        try:
            obj_type, data = self.objects.get(oid)
        except GvcsError as exc:
            return f"object {oid}: {exc}"
        if hash_object(obj_type, data) != oid:
            return f"object {oid}: content hashes to {hash_object(obj_type, data)}"
        kinds[oid] = obj_type
        try:
            if obj_type == "commit":
                Commit.parse(data)
            elif obj_type == "tree":
                Tree.parse(data)
        except CorruptObject as exc:
            return f"object {oid}: {exc}"
        return None

    def _check_reachable(self, kinds: dict[ObjectId, str]) -> list[str]:
        problems: list[str] = []
        heads = [oid for oid in self.refs.list("refs/").values() if kinds.get(oid) == "commit"]
        checked: set[ObjectId] = set()
        # The objects themselves, not the commit cache: fsck checks what is stored.
        commits = Commits(self.objects, persistent=False)
        for info in commits.walk(heads) if heads else ():
            for parent in info.parents:
                if parent not in kinds:
                    problems.append(f"commit {info.id}: missing parent {parent}")
            problems.extend(self._check_tree(info.tree, "", kinds, checked))
        return problems

    def _check_tree(
        self, oid: ObjectId, prefix: str, kinds: dict[ObjectId, str], checked: set[ObjectId]
    ) -> list[str]:
        if oid in checked:
            return []
        checked.add(oid)
        if kinds.get(oid) != "tree":
            return [f"tree {prefix or '/'} ({oid}) is missing or not a tree"]
        problems: list[str] = []
        for entry in self.snapshots.tree(oid).entries.values():
            path = prefix + entry.name
            if entry.is_tree:
                problems.extend(self._check_tree(entry.oid, path + "/", kinds, checked))
            elif entry.oid not in checked:
                checked.add(entry.oid)
                problems.extend(self._check_blob(entry.oid, path, kinds))
        return problems

    def _check_blob(self, oid: ObjectId, store_path_: str, kinds: dict[ObjectId, str]) -> list[str]:
        from ..snapshot import logical_path

        path = logical_path(store_path_)
        if kinds.get(oid) != "blob":
            return [f"{path}: blob {oid} is missing"]
        kind, item = path_kind(path)
        try:
            if kind == "page" and item:
                Page.parse(item, self.read_blob(oid), path)
            elif kind == "actor" and item:
                Actor.parse(item, self.read_blob(oid), path)
            elif kind == "story":
                Story.parse(self.read_blob(oid), path)
        except (InvalidFile, BadInput) as exc:
            return [f"{exc}"]
        return []


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
