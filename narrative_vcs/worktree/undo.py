"""Undoing, as git users expect: restore files, reset a branch, put changes aside, amend a commit,
rename a branch.

Each is a journaled operation like the others (see :mod:`.journal`): a kill leaves the work tree as it
was or as the command leaves it.

- ``restore`` writes chosen files as a commit has them (``write`` in the journal; no ref moves, so a
  cut restore is finished by the next command).
- ``reset`` moves the checked-out branch (or a detached HEAD) to another commit; ``--hard`` also makes
  the files that commit's, ``--soft`` and the default keep the files (the difference then shows as
  changes to commit). The gate refuses it on a protected branch, which only moves forward. The reflog
  keeps where the branch was.
- ``stash`` keeps the uncommitted changes as a commit under ``refs/stash/<n>`` (on top of the
  checked-out commit) and puts the files back as the commit has them; ``pop`` merges them back.
- ``amend`` replaces the head commit by one with its parents, its changes and the work tree's.
- ``rename_branch`` moves a branch to a new name by one compare-and-swap of both refs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..errors import BadInput, NotFound, NothingToCommit, Refused
from ..history import CommitInfo
from ..objects import Story
from ..records import record
from ..refs import STASHES, RefMove, branch_ref, validate_ref_name
from ..repository import path_kind
from ..types import ObjectId, RefName
from .base import NOT_REGULAR, CommitResult
from .files import name_problem
from .switching import Switching

__all__ = ["StashEntry", "Undo"]

#: Files at the top of the story that ``restore`` takes by name.
_TOP = ("story.yaml", "ledger.yaml", "rituals.yaml")


@record
class StashEntry:
    """One stash: ``stash@{index}``, its ref, its commit and what it says."""

    index: int
    ref: RefName
    commit: ObjectId
    base: ObjectId
    message: str

    @property
    def name(self) -> str:
        return f"stash@{{{self.index}}}"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ref": self.ref,
            "commit": self.commit,
            "base": self.base,
            "message": self.message,
        }


class Undo(Switching):
    # --- restore ------------------------------------------------------------------------------------

    def restore(self, specs: Sequence[str], source: str | None = None) -> list[str]:
        """Make the files ``specs`` name (paths, directories such as ``pages``, page ids) hold what the
        commit ``source`` has (default: the checked-out commit); a file that commit lacks is removed.
        Returns the paths written or removed. Nothing is written if any spec matches nothing."""
        if not specs:
            raise BadInput("restore needs at least one PATH or PAGE (use . for every file)")
        if source is None:
            source_commit = self._require_commit("restore")
        else:
            source_commit = self.repo.resolve(source)
        source_tree = self._tree_of(source_commit)
        in_source = dict(self.repo.snapshots.walk(source_tree)) if source_tree else {}
        # The files of the source and of the checkout; a file in neither (untracked) is left alone.
        known = set(in_source) | set(self._files)
        chosen: set[str] = set()
        for spec in specs:
            matched = _match(spec, known, in_source)
            if not matched:
                where = f" in {source}" if source else ""
                raise NotFound(f"{spec}: no such file or page{where} (see gvcs status)")
            chosen.update(matched)
        writes: dict[str, ObjectId | None] = {}
        for path in sorted(chosen):
            want = in_source.get(path)
            if self._current_blob(path) != want:
                writes[path] = want
        if not writes:
            return []
        with self._operation("restore") as journal:
            journal.update(write=writes)
            self._apply(journal.entry or {})
        return sorted(writes)

    # --- writing several files ---------------------------------------------------------------------

    def write_files(
        self,
        files: Mapping[str, bytes | None],
        op: str = "write",
        progress: Callable[[int, int], None] | None = None,
    ) -> list[str]:
        """Write the work-tree files ``files`` (path -> bytes; None removes the file) as one operation,
        under the lock and the journal: a command killed half way has the rest written by the next gvcs
        command, so the files are never left half written (``gvcs import`` writes a whole story this
        way). Returns the paths whose content changed.

        ``progress(done, total)``: ``(0, total)`` once the files are read and stored, then the files
        written or removed so far, in steps of about a hundredth, ending with ``(total, total)``
        (``total``: the files that change; nothing is reported when none does)."""
        writes: dict[str, ObjectId | None] = {}
        for path, data in sorted(files.items()):
            blob = None if data is None else self.repo.objects.put("blob", data)
            if self._current_blob(path) != blob:
                writes[path] = blob
        if not writes:
            return []
        with self._operation(op) as journal:
            journal.update(write=writes)
            entry = journal.entry or {}
            if progress is None:
                self._apply(entry)
            else:
                # The same steps in slices (applying one is safe to repeat, as a replay does), so
                # the count moves as the files are written; the state is saved once, at the end.
                items = sorted(writes.items())
                step = max(1, len(items) // 100)
                progress(0, len(items))
                for start in range(0, len(items), step):
                    done = min(start + step, len(items))
                    self._apply({**entry, "write": dict(items[start:done])}, save=done == len(items))
                    progress(done, len(items))
        return sorted(writes)

    # --- reset --------------------------------------------------------------------------------------

    def reset(self, rev: str, mode: str = "mixed", *, who: str = "") -> ObjectId:
        """Move the checked-out branch (or the detached HEAD) to ``rev``.

        ``mode``: ``soft`` and ``mixed`` (the default; there is no index, so they are the same) keep
        every file as it is; ``hard`` makes the files ``rev``'s, discarding uncommitted changes (files
        that neither commit has are left, as git leaves untracked files). A merge in progress is
        forgotten (``soft`` refuses during one, as git does)."""
        if mode not in ("soft", "mixed", "hard"):
            raise BadInput(f"unknown reset mode {mode!r}: use soft, mixed or hard")
        head = self._require_commit("reset")
        target = self.repo.resolve(rev)
        merging = self.merge_state() is not None
        if mode == "soft" and merging:
            raise Refused("cannot do a soft reset in the middle of a merge: use gvcs merge --abort")
        if self.branch is not None and self.repo.branch_head(self.branch) != head:
            raise Refused(
                f"{self.branch} moved since this checkout; update it first (gvcs switch {self.branch})"
            )
        entry: dict[str, object] = {"state": {"branch": self.branch, "commit": target}}
        if self.branch is not None and target != head:
            entry["ref"] = {"name": branch_ref(self.branch), "old": head, "new": target}
        if mode == "hard":
            new_tree = self._tree_of(target)
            paths = {d.path for d in self.repo.snapshots.diff(self.tree, new_tree)}
            # Changed files go back too; a file in neither commit (untracked, in git's words) stays.
            paths |= {
                c.path
                for c in self.status()
                if c.old is not None or (new_tree and self.repo.snapshots.blob_id(new_tree, c.path))
            }
            entry["files"] = {"from": None, "to": new_tree, "paths": sorted(paths), "force": True}
        if merging:
            entry["after"] = {"merge_state": None}
        with self._operation(f"reset --{mode}") as journal:
            journal.update(**entry)
            if self.branch is not None and target != head:
                self.repo.refs.set_if_equals(
                    branch_ref(self.branch), head, target, who=who, message=f"reset: moving to {rev}"
                )
            self._apply(journal.entry or {})
        return target

    # --- stash --------------------------------------------------------------------------------------

    def stash_list(self) -> list[StashEntry]:
        """The stashes, newest first (``stash@{0}`` first)."""
        out: list[StashEntry] = []
        for index, (ref, oid) in enumerate(self.repo.stashes()):
            info = self.repo.commits.get(oid)
            base = info.parents[0] if info.parents else oid
            out.append(StashEntry(index, ref, oid, base, info.subject))
        return out

    def stash_entry(self, name: str | None = None) -> StashEntry:
        """``stash@{N}`` (or ``N``; default: the newest)."""
        entries = self.stash_list()
        if not entries:
            raise NotFound("no stash entries (gvcs stash puts uncommitted changes aside)")
        if name is None:
            return entries[0]
        text = name.strip()
        if text.startswith("stash@{") and text.endswith("}"):
            text = text[7:-1]
        if not text.isdigit() or len(text) > 9:
            raise BadInput(f"{name!r} is not a stash: use stash@{{N}} (see gvcs stash list)")
        index = int(text)
        if index >= len(entries):
            raise NotFound(f"stash@{{{index}}} does not exist ({len(entries)} stash entries)")
        return entries[index]

    def stash_push(self, actor: str, message: str | None = None) -> StashEntry:
        """Keep every uncommitted change as a stash commit on the checked-out commit, then put the files
        back as that commit has them."""
        head = self._require_commit("stash")
        if self.merge_state() is not None:
            raise Refused("cannot stash during a merge: finish it (gvcs merge --continue) or --abort it")
        changes = self.status()
        if not changes:
            raise NothingToCommit("no local changes to save")
        problems = [c for c in changes if c.problem]
        if problems:
            raise BadInput(f"{problems[0].path}: {problems[0].problem}")
        writes: dict[str, bytes | ObjectId | None] = {}
        restore: dict[str, ObjectId | None] = {}
        for change in changes:
            if change.status == "removed":
                writes[change.path] = None
            else:
                data = self.read(change.path)
                if data is None:
                    raise Refused(f"{change.path}: the file vanished while stashing; nothing was changed")
                writes[change.path] = data
            restore[change.path] = change.old
        info = self.repo.commits.get(head)
        where = self.branch or "(detached HEAD)"
        subject = message or f"WIP on {where}: {head[:10]} {info.subject}"
        subject = f"On {where}: {subject}" if message else subject
        oid = self.repo.write_stash(head, writes, actor=actor, message=subject)
        newest = self.repo.stashes()[:1]
        ref = RefName(f"{STASHES}{int(newest[0][0][len(STASHES) :]) + 1 if newest else 0}")
        with self._operation("stash") as journal:
            journal.update(
                ref={"name": ref, "old": None, "new": oid},
                state={"branch": self.branch, "commit": head},
                write=restore,
            )
            self.repo.refs.add_if_new(ref, oid, who=actor, message=subject)
            self._apply(journal.entry or {})
        return self.stash_list()[0]

    def stash_pop(self, name: str | None = None, *, drop: bool = True) -> tuple[StashEntry, list[str]]:
        """Bring a stash's changes into the work tree (merged with what is there), then drop it
        (``drop=False``: ``stash apply``). Refused, with nothing written, if a file clashes."""
        from ..merge.contents import merge_file

        entry = self.stash_entry(name)
        if self.merge_state() is not None:
            raise Refused("cannot apply a stash during a merge: finish it first (gvcs merge --continue)")
        snapshots = self.repo.snapshots
        base_tree = self._tree_of(entry.base)
        stash_tree = self._tree_of(entry.commit)
        writes: dict[str, ObjectId | None] = {}
        clashes: list[str] = []
        for diff in snapshots.diff(base_tree, stash_tree):
            path = diff.path
            current = self._current_blob(path)
            if current == NOT_REGULAR:
                clashes.append(path)
                continue
            ours = self.read(path) if current is not None else None
            base = snapshots.read(base_tree, path) if diff.old is not None and base_tree else None
            theirs = self.repo.read_blob(diff.new) if diff.new is not None else None
            merged, conflict = merge_file(path, base, ours, theirs)
            if conflict is not None:
                clashes.append(path)
                continue
            if merged != ours:
                writes[path] = None if merged is None else self.repo.objects.put("blob", merged)
        if clashes:
            shown = ", ".join(clashes[:3]) + (", ..." if len(clashes) > 3 else "")
            raise Refused(
                f"cannot apply {entry.name}: {shown} changed here too; commit or restore them, then try again"
            )
        with self._operation("stash pop" if drop else "stash apply") as journal:
            journal.update(
                write=writes,
                **({"after": {"drop_ref": {"name": entry.ref, "old": entry.commit}}} if drop else {}),
            )
            self._apply(journal.entry or {})
        return entry, sorted(writes)

    def stash_drop(self, name: str | None = None) -> StashEntry:
        entry = self.stash_entry(name)
        self.repo.refs.remove_if_equals(entry.ref, entry.commit, message=f"stash: dropped {entry.name}")
        return entry

    # --- amend --------------------------------------------------------------------------------------

    def amend(self, actor: str, message: str | None = None) -> CommitResult:
        """Replace the checked-out branch's head commit by one with the same parents, its changes and
        every change in the work tree (``message`` None: keep its message). Refused once the commit is on
        a protected branch, for commits that record an event or a proposal, and during a merge."""
        self.on_branch("amend")
        head = self._require_commit("amend")
        if self.merge_state() is not None:
            raise Refused("cannot amend during a merge: finish it (gvcs merge --continue) or --abort it")
        info = self.repo.commits.get(head)
        for protected in sorted(self._protected(head)):
            tip = self.repo.branch_head(protected)
            if tip is not None and (tip == head or self.repo.commits.is_ancestor(head, tip)):
                raise Refused(
                    f"cannot amend {head[:10]}: it is on the protected branch {protected}, whose history "
                    "does not change; make a new commit instead"
                )
        _require_amendable(info)
        text = message if message is not None else info.message
        return self._commit(text, actor, op="commit --amend", amend=True)

    def _protected(self, commit: ObjectId) -> set[str]:
        """The branches story.yaml protects at ``commit`` (as it says; the gate checks it on its own)."""
        tree = self._tree_of(commit)
        data = self.repo.snapshots.read(tree, Story.PATH) if tree else None
        if data is None:
            return set()
        try:
            value = Story.parse(data).get("protected")
        except BadInput:
            return set()
        return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()

    # --- rename a branch ----------------------------------------------------------------------------

    def rename_branch(self, old: str, new: str, *, who: str = "") -> ObjectId:
        """Rename branch ``old`` to ``new`` (both refs move by one compare-and-swap; HEAD follows when
        ``old`` is checked out). The gate refuses it for a protected branch or the governance branch."""
        validate_ref_name("branch", new)
        oid = self.repo.branch_head(old)
        if oid is None:
            if old == self.branch and self.commit_id is None:
                raise Refused(f"cannot rename {old}: it has no commits yet")
            raise NotFound(f"branch {old!r} not found")
        if old == new:
            return oid
        if self.repo.branch_head(new) is not None:
            raise BadInput(f"branch {new} already exists")
        current = old == self.branch
        with self._operation("branch -m") as journal:
            journal.update(
                ref={"name": branch_ref(new), "old": None, "new": oid},
                state={"branch": new if current else self.branch, "commit": self.commit_id},
                after={"drop_ref": {"name": branch_ref(old), "old": oid}},
            )
            self.repo.move_refs(
                [RefMove(branch_ref(new), None, oid), RefMove(branch_ref(old), oid, None)],
                who=who,
                message=f"branch: renamed {old} to {new}",
            )
            self._apply(journal.entry or {})
        return oid


def _require_amendable(info: CommitInfo) -> None:
    """Only plain edits and merges are amended: other commits record an event, a vote or a proposal
    that the story's rules verified as it is."""
    extra = sorted(set(info.trailers) - {"Gvcs-Actor", "Gvcs-Kind"})
    if info.kind not in ("edit", "merge") or extra:
        plain = info.kind in ("edit", "merge")
        what = f"a commit with {extra[0]}" if plain else f"a {info.kind} commit"
        raise Refused(f"cannot amend {info.id[:10]}: it is {what}, a record of what happened; commit anew")


def _match(spec: str, known: set[str], in_source: dict[str, ObjectId]) -> set[str]:
    """The story paths ``spec`` names: a path, a directory (``pages``, ``infra/``), ``.`` for all, or a
    page id."""
    text = spec.strip().rstrip("/")
    if text in (".", ""):
        return set(known)
    if text.startswith("./"):
        text = text[2:]
    if text in known:
        return {text}
    under = {p for p in known if p.startswith(text + "/")}
    if under:
        return under
    if "/" not in text and text not in _TOP:
        page = f"pages/{text}.md"
        if page in known and name_problem(page) is None and path_kind(page)[0] == "page":
            return {page}
    return set()
