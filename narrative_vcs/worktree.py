"""The work tree: the story as plain files next to ``.gvcs/``, checked out from one branch.

Like Mercurial or Fossil there is no staging area: ``commit`` takes every change in the work tree.
The layout is the logical snapshot layout (``story.yaml``, ``pages/<id>.md``, ``actors/<id>.yaml``,
``ledger.yaml``, ``rituals.yaml``, ``infra/**``, ``proposals/**``); other files in the directory are not
part of the story.

A checkout state file (``.gvcs/gvcs-worktree.json``) records the branch, the commit the files were
checked out at, and per path the committed blob id with the size and mtime the file had when it was
known to hold that blob, so ``status`` re-reads only files whose size or mtime changed.

This module takes a root path and a :class:`~narrative_vcs.repository.Repository`; it reads no
environment and no current directory.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BadInput, InvalidFile, NotFound, NothingToCommit, Refused
from .objects import ID_PATTERN, Actor, Page, Story, hash_object
from .repository import ChangeSet, FileChange, MergeOutcome, Repository, path_kind
from .snapshot import check_path
from .types import ObjectId

__all__ = ["STATE_FILE", "CommitResult", "Directories", "WorkTree", "WorkTreeChange", "read_regular"]

STATE_FILE = "gvcs-worktree.json"
#: The state of a merge stopped by conflicts (git's MERGE_HEAD is written beside it).
MERGE_STATE = "gvcs-merge.json"
TOP_FILES = ("story.yaml", "ledger.yaml", "rituals.yaml")
FLAT_DIRS = {"pages": ".md", "actors": ".yaml"}
DEEP_DIRS = ("infra", "proposals")
#: A cached stat is trusted only for files last modified this long before the state was saved, so an
#: edit in the same mtime tick as the save (coarse file systems) is never mistaken for "unchanged".
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class WorkTreeChange(FileChange):
    """A file that differs between the work tree and a commit (``new``: the work-tree file's blob id)."""

    problem: str | None = None  # why commit would refuse the file, if it would

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "problem": self.problem}


@dataclass(frozen=True)
class CommitResult:
    """What ``WorkTree.commit`` did: the new commit, the files it took and the files it rewrote."""

    commit: ObjectId
    branch: str
    changes: list[WorkTreeChange]
    normalised: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    blob: ObjectId
    mtime_ns: int | None = None
    size: int | None = None


def name_problem(path: str) -> str | None:
    """Why a work-tree path cannot be committed as it is named, or None if it can."""
    top, _, rest = path.partition("/")
    suffix = FLAT_DIRS.get(top)
    if suffix is None:
        return None
    kind = top[:-1]
    if "/" in rest:
        return f"{top}/ holds <{kind}-id>{suffix} files, not subdirectories"
    if not rest.endswith(suffix):
        return f"not a {kind} file: {top}/ holds <{kind}-id>{suffix} files"
    stem = rest[: -len(suffix)]
    if not ID_PATTERN.fullmatch(stem) or ".." in stem:
        return (
            f"invalid {kind} file name: {kind} ids use 1-100 characters a-z 0-9 . _ -, "
            "starting with a letter or digit, without '..'"
        )
    return None


class WorkTree:
    """The files of one checkout and the state that ties them to a branch and a commit."""

    def __init__(self, root: Path, repo: Repository) -> None:
        self.root = Path(root)
        self.repo = repo
        self.state_path = self.root / ".gvcs" / STATE_FILE
        self.branch, self.commit_id, self._files, self._saved_ns = self._load_state()
        self._dirty_state = False

    # --- state ------------------------------------------------------------------------------------

    def _load_state(self) -> tuple[str, ObjectId | None, dict[str, _Entry], int]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            files = {
                p: _Entry(ObjectId(e["blob"]), e.get("mtime_ns"), e.get("size"))
                for p, e in data["files"].items()
            }
            commit = data["commit"]
            return str(data["branch"]), ObjectId(commit) if commit else None, files, int(data["saved_ns"])
        except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
            # No usable state (a repository written through the API, or a damaged file): the work
            # tree is taken to be a checkout of HEAD, and every file is hashed once.
            branch = self.repo.head_branch() or "main"
            commit = self.repo.branch_head(branch)
            return branch, commit, self._entries_of(commit), 0

    def _entries_of(self, commit: ObjectId | None) -> dict[str, _Entry]:
        if commit is None:
            return {}
        tree = self.repo.commits.get(commit).tree
        return {path: _Entry(oid) for path, oid in self.repo.snapshots.walk(tree)}

    def save_state(self) -> None:
        """Write the checkout state atomically."""
        now = time.time_ns()
        files = {
            p: {"blob": e.blob, "mtime_ns": e.mtime_ns, "size": e.size}
            for p, e in sorted(self._files.items())
        }
        data = {
            "version": 1,
            "branch": self.branch,
            "commit": self.commit_id,
            "saved_ns": now,
            "files": files,
        }
        _atomic_write(self.state_path, (json.dumps(data, indent=1) + "\n").encode())
        self._saved_ns = now
        self._dirty_state = False

    @property
    def tree(self) -> ObjectId | None:
        """The tree of the checked-out commit (None before the first commit)."""
        return None if self.commit_id is None else self.repo.commits.get(self.commit_id).tree

    # --- files ------------------------------------------------------------------------------------

    def file_path(self, path: str) -> Path:
        return self.root / check_path(path)

    def read(self, path: str) -> bytes | None:
        """The bytes of a work-tree file, or None if it does not exist. Never follows a symbolic link:
        nothing outside the work tree is read (a link or any other non-regular file is refused)."""
        return read_regular(self.root, check_path(path))

    def exists(self, path: str) -> bool:
        return _kind(self.file_path(path)) == "file"

    def write(self, path: str, data: bytes) -> None:
        """Write a work-tree file atomically (temp file and rename)."""
        self._require_real_dirs(path)
        _atomic_write(self.file_path(path), data)

    def _require_real_dirs(self, path: str) -> None:
        """Refuse to write under a symbolic link (or a file) where the path has a directory: a link
        there would take the write outside the work tree."""
        parts = check_path(path).split("/")
        for depth in range(1, len(parts)):
            where = "/".join(parts[:depth])
            kind = _kind(self.root / where)
            if kind == "missing":
                return
            if kind != "dir":
                problem = _ODD["link"] if kind == "link" else "is not a directory"
                raise Refused(f"{where} {problem}; move it away and try again")

    def scan(self) -> list[str]:
        """The logical paths of every story file in the work tree, sorted (regular files only: see
        :meth:`odd_files` for links and other files a story cannot hold)."""
        return self._scan()[0]

    def odd_files(self) -> dict[str, str]:
        """Story paths that are not regular files (symbolic links, pipes, a file where a directory
        belongs), and why commit refuses each."""
        return self._scan()[1]

    def _scan(self) -> tuple[list[str], dict[str, str]]:
        found: list[str] = []
        odd: dict[str, str] = {}
        for name in TOP_FILES:
            kind = _kind(self.root / name)
            if kind == "file":
                found.append(name)
            elif kind != "missing":
                odd[name] = _ODD[kind]
        for top in (*FLAT_DIRS, *DEEP_DIRS):
            kind = _kind(self.root / top)
            if kind == "dir":
                self._walk_dir(self.root / top, top, found, odd)
            elif kind == "file":
                odd[top] = f"is a file, but {top}/ is a directory of the story"
            elif kind != "missing":
                odd[top] = _ODD[kind]
        return sorted(found), odd

    def _walk_dir(self, directory: Path, prefix: str, found: list[str], odd: dict[str, str]) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                # Hidden files and editor backups are not part of the story.
                if entry.name.startswith(".") or entry.name.endswith("~"):
                    continue
                path = f"{prefix}/{entry.name}"
                if entry.is_symlink():
                    odd[path] = _ODD["link"]
                elif entry.is_dir(follow_symlinks=False):
                    self._walk_dir(Path(entry.path), path, found, odd)
                elif entry.is_file(follow_symlinks=False):
                    found.append(path)
                else:
                    odd[path] = _ODD["other"]

    def pages(self) -> list[str]:
        """Ids of the well-named page files in the work tree."""
        return [p[6:-3] for p in self.scan() if path_kind(p)[0] == "page" and name_problem(p) is None]

    def actors(self) -> list[str]:
        """Ids of the well-named actor files in the work tree."""
        return [p[7:-5] for p in self.scan() if path_kind(p)[0] == "actor" and name_problem(p) is None]

    def _blob_of(self, path: str, entry: _Entry | None, dirs: Directories | None = None) -> ObjectId | None:
        """The blob id of a work-tree file, from the cached stat when it is trustworthy."""
        try:
            st = os.lstat(self.root / path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if (
            entry is not None
            and entry.mtime_ns == st.st_mtime_ns
            and entry.size == st.st_size
            and st.st_mtime_ns < self._saved_ns - RACY_NS
        ):
            return entry.blob
        data = read_regular(self.root, path, dirs)
        if data is None:
            return None
        blob = hash_object("blob", data)
        if entry is not None and blob == entry.blob:
            entry.mtime_ns, entry.size = st.st_mtime_ns, st.st_size
            self._dirty_state = True
        return blob

    # --- comparing --------------------------------------------------------------------------------

    def status(self) -> list[WorkTreeChange]:
        """Files added, modified or removed in the work tree since the checked-out commit."""
        changes = self._compare({p: e.blob for p, e in self._files.items()}, self._files)
        if self._dirty_state:
            self.save_state()  # remember the stats of files that turned out unchanged
        return changes

    def compare(self, tree: ObjectId | None) -> list[WorkTreeChange]:
        """Files that differ between the work tree and any tree (None: the empty story)."""
        committed = dict(self.repo.snapshots.walk(tree)) if tree else {}
        return self._compare(committed, self._files)

    def _compare(self, committed: dict[str, ObjectId], cache: dict[str, _Entry]) -> list[WorkTreeChange]:
        out: list[WorkTreeChange] = []
        on_disk, odd = self._scan()
        with Directories(self.root) as dirs:
            for path in on_disk:
                old = committed.get(path)
                entry = cache.get(path)
                new = self._blob_of(path, entry if entry is not None and entry.blob == old else None, dirs)
                if new != old:
                    status = "added" if old is None else "modified"
                    out.append(WorkTreeChange(path, status, old, new, name_problem(path)))
        for path, problem in odd.items():
            out.append(
                WorkTreeChange(
                    path, "modified" if path in committed else "added", committed.get(path), None, problem
                )
            )
        disk = set(on_disk) | set(odd)
        out.extend(
            WorkTreeChange(p, "removed", oid, None)
            for p, oid in committed.items()
            if p not in disk and not _under(p, odd)
        )
        return sorted(out, key=lambda c: c.path)

    # --- committing -------------------------------------------------------------------------------

    def commit(self, message: str, actor: str) -> CommitResult:
        """Commit the work tree; during a merge, conclude it (see :meth:`continue_merge`)."""
        if self.merge_state() is not None:
            return self.continue_merge(actor, message)
        return self._commit(message, actor)

    def _commit(
        self, message: str, actor: str, extra_parents: tuple[ObjectId, ...] = (), kind: str = "edit"
    ) -> CommitResult:
        """Commit every change in the work tree on the checked-out branch.

        The commit expects the branch to be where it was checked out: if another process moved it,
        :class:`~narrative_vcs.errors.BranchMoved` is raised and nothing changes. A file that does
        not parse raises :class:`~narrative_vcs.errors.InvalidFile` naming its path and line.
        """
        changes = self.status()
        if not changes and not extra_parents:
            raise NothingToCommit("nothing to commit, work tree clean")
        changeset = self._changeset(changes)
        oid = self.repo.commit(
            self.branch,
            changeset,
            actor=actor,
            message=message,
            expected_head=self.commit_id,
            extra_parents=extra_parents,
            kind=kind,
        )
        normalised = self._after_commit(oid, changes)
        return CommitResult(oid, self.branch, changes, normalised)

    def _changeset(self, changes: list[WorkTreeChange]) -> ChangeSet:
        cs = ChangeSet()
        for change in changes:
            if change.problem:
                raise BadInput(f"{change.path}: {change.problem}")
            kind, item = path_kind(change.path)
            data = None if change.status == "removed" else self.read(change.path)
            if data is None:
                if change.status != "removed":
                    raise Refused(f"{change.path}: the file vanished while committing; nothing was changed")
                _delete(cs, kind, item, change.path)
            elif kind == "page" and item:
                cs.upsert_page(Page.parse(item, data, change.path))
            elif kind == "actor" and item:
                cs.upsert_actor(Actor.parse(item, data, change.path))
            else:
                if kind == "story":
                    Story.parse(data, change.path)
                cs.put_file(change.path, data)
        return cs

    def _after_commit(self, oid: ObjectId, changes: list[WorkTreeChange]) -> list[str]:
        """Point the state at the new commit; rewrite files the commit stored in canonical form."""
        tree = self.repo.commits.get(oid).tree
        normalised: list[str] = []
        for change in changes:
            if change.status == "removed":
                self._files.pop(change.path, None)
                continue
            blob = self.repo.snapshots.blob_id(tree, change.path)
            if blob is None:  # cannot happen: the commit just wrote it
                raise NotFound(f"{change.path} missing from commit {oid}")
            if blob != change.new:
                self.write(change.path, self.repo.read_blob(blob))
                normalised.append(change.path)
            self._files[change.path] = self._stat_entry(change.path, blob)
        self.commit_id = oid
        self.save_state()
        return normalised

    def _stat_entry(self, path: str, blob: ObjectId) -> _Entry:
        st = os.lstat(self.root / path)
        return _Entry(blob, st.st_mtime_ns, st.st_size)

    # --- switching --------------------------------------------------------------------------------

    def switch(self, branch: str) -> ObjectId | None:
        """Rewrite the work tree to the head of ``branch`` and check that branch out.

        Refused while the work tree has uncommitted changes, so switching never loses an edit.
        Switching to the current branch brings the work tree up to a head another process moved;
        uncommitted edits are kept unless the update changes the same files.
        """
        target = self.repo.branch_head(branch)
        if target is None and not (branch == self.branch and self.commit_id is None):
            raise NotFound(f"branch {branch!r} not found (create it with: gvcs switch -c {branch})")
        if branch == self.branch:
            self._require_no_overlap(target)
        else:
            self.require_clean("switch")
        self.checkout(branch, target)
        return target

    def _require_no_overlap(self, target: ObjectId | None) -> None:
        """Refuse to update to ``target`` if a file it changes also has uncommitted changes here."""
        new_tree = self.repo.commits.get(target).tree if target else None
        incoming = {d.path for d in self.repo.snapshots.diff(self.tree, new_tree)}
        clashes = [c.path for c in self.status() if c.path in incoming]
        if clashes:
            shown = ", ".join(clashes[:3]) + (", ..." if len(clashes) > 3 else "")
            raise Refused(
                f"cannot update {self.branch}: {shown} changed both here and on the branch; "
                "save your copy elsewhere, restore the file, and update again"
            )

    def create_branch(self, branch: str) -> ObjectId | None:
        """Create ``branch`` at the checked-out commit and check it out (work-tree files stay)."""
        if self.commit_id is None:
            # No commits yet: like git, only the name of the branch to be born changes.
            if self.repo.branch_head(branch) is not None:
                raise BadInput(f"branch {branch} already exists")
            self.repo.set_head_branch(branch)
        else:
            self.repo.create_branch(branch, self.commit_id)
            self.repo.set_head_branch(branch)
        self.branch = branch
        self.save_state()
        return self.commit_id

    def require_clean(self, action: str) -> None:
        """Refuse ``action`` if the work tree has uncommitted changes."""
        changes = self.status()
        if changes:
            shown = ", ".join(c.path for c in changes[:3]) + (", ..." if len(changes) > 3 else "")
            raise Refused(
                f"cannot {action}: {len(changes)} uncommitted change(s) ({shown}); commit them first"
            )

    def checkout(self, branch: str, target: ObjectId | None) -> None:
        """Make the work tree hold commit ``target`` and record ``branch`` as checked out.

        Only files that differ between the current checkout and the target are written or removed.
        """
        old_tree = self.tree
        new_tree = self.repo.commits.get(target).tree if target else None
        for diff in self.repo.snapshots.diff(old_tree, new_tree):
            if diff.new is None:
                self._remove(diff.path)
                self._files.pop(diff.path, None)
            else:
                self.write(diff.path, self.repo.read_blob(diff.new))
                self._files[diff.path] = self._stat_entry(diff.path, diff.new)
        self.repo.set_head_branch(branch)
        self.branch, self.commit_id = branch, target
        self.save_state()

    # --- merging ----------------------------------------------------------------------------------

    @property
    def _merge_path(self) -> Path:
        return self.root / ".gvcs" / MERGE_STATE

    def merge_state(self) -> dict[str, Any] | None:
        """The state of a merge stopped by conflicts, or None."""
        try:
            data = json.loads(self._merge_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _save_merge(self, state: dict[str, Any] | None) -> None:
        merge_head = self.root / ".gvcs" / "MERGE_HEAD"
        if state is None:
            self._merge_path.unlink(missing_ok=True)
            merge_head.unlink(missing_ok=True)
            return
        _atomic_write(self._merge_path, (json.dumps(state, indent=1) + "\n").encode())
        _atomic_write(merge_head, (state["theirs"] + "\n").encode())

    def merge(
        self,
        source: str,
        actor: str,
        *,
        strategy: str | None = None,
        no_ff: bool = False,
        message: str | None = None,
    ) -> MergeOutcome:
        """Merge ``source`` into the checked-out branch.

        Clean merges and fast-forwards update the work tree. With conflicts, the merged files (conflict
        markers in bodies) are written to the work tree, the merge state is kept in ``.gvcs/``, and
        the branch does not move until :meth:`continue_merge`.
        """
        if self.merge_state() is not None:
            raise Refused("a merge is in progress: resolve it (gvcs merge --continue) or gvcs merge --abort")
        self.require_clean("merge")
        if self.commit_id is None:
            raise Refused("nothing to merge into: the branch has no commits yet")
        outcome = self.repo.merge(
            self.branch,
            source,
            actor=actor,
            expected_head=self.commit_id,
            strategy=strategy,
            no_ff=no_ff,
            message=message,
        )
        if outcome.status in ("fast-forward", "merged") and outcome.commit is not None:
            self.checkout(self.branch, outcome.commit)
        elif outcome.status == "conflicts":
            self._write_conflicted(source, outcome, message)
        return outcome

    def _write_conflicted(self, source: str, outcome: MergeOutcome, message: str | None) -> None:
        preview = outcome.preview
        written: dict[str, str | None] = {}
        for diff in self.repo.snapshots.diff(self.tree, preview.result.tree):
            if diff.new is None:
                self._remove(diff.path)
            else:
                self.write(diff.path, self.repo.read_blob(diff.new))
            written[diff.path] = diff.new
        conflicts = [c.to_json() for c in preview.result.conflicts]
        for c in conflicts:
            c["written"] = written.get(c["path"], self.repo.snapshots.blob_id(preview.result.tree, c["path"]))
            c["resolved"] = False
        self._save_merge(
            {
                "version": 1,
                "source": source,
                "theirs": preview.theirs,
                "base_tree": preview.base_tree,
                "message": message or f"Merge {source} into {self.branch}",
                "conflicts": conflicts,
            }
        )

    def conflicts(self) -> list[dict[str, Any]]:
        """The conflicts of the merge in progress, each with ``resolved`` brought up to date.

        A conflict counts as resolved once ``gvcs resolve`` settled it, or once its file was edited
        and holds no conflict markers.
        """
        state = self.merge_state()
        if state is None:
            raise Refused("no merge in progress")
        out = []
        for c in state["conflicts"]:
            data = self.read(c["path"])
            blob = None if data is None else hash_object("blob", data)
            edited = blob != c.get("written") and not _has_markers(data)
            out.append({**c, "resolved": bool(c.get("resolved")) or edited})
        return out

    def resolve(self, path: str, *, side: str | None = None, data: bytes | None = None) -> None:
        """Settle one conflicted file with ``side`` (ours, theirs, union) or with ``data``."""
        state = self.merge_state()
        if state is None:
            raise Refused("no merge in progress")
        matching = [c for c in state["conflicts"] if c["path"] == path]
        if not matching:
            raise NotFound(f"{path} has no conflict in this merge (see gvcs conflicts)")
        if data is None:
            data = self._side(path, side or "ours", state)
        if data is None:
            self._remove(path)
        else:
            kind, item = path_kind(path)
            if kind == "page" and item:
                Page.parse(item, data, path)
            self.write(path, data)
        for c in matching:
            c["resolved"] = True
        self._save_merge(state)

    def _side(self, path: str, side: str, state: dict[str, Any]) -> bytes | None:
        from .merge.contents import merge_file

        ours = self.repo.snapshots.read(self.tree, path) if self.tree else None
        theirs_tree = self.repo.commits.get(state["theirs"]).tree
        theirs = self.repo.snapshots.read(theirs_tree, path)
        if side == "ours":
            return ours
        if side == "theirs":
            return theirs
        if side != "union":
            raise BadInput(f"unknown side {side!r}: use ours, theirs or union")
        base = self.repo.snapshots.read(state["base_tree"], path) if state.get("base_tree") else None
        return merge_file(path, base, ours, theirs, "union")[0]

    def continue_merge(self, actor: str, message: str | None = None) -> CommitResult:
        """Commit the resolved merge (two parents, kind ``merge``); refused while conflicts remain."""
        state = self.merge_state()
        if state is None:
            raise Refused("no merge in progress")
        open_ = [c["path"] for c in self.conflicts() if not c["resolved"]]
        marked = [p for p in self.scan() if _has_markers(self.read(p))]
        if open_ or marked:
            shown = ", ".join(sorted(set(open_ + marked))[:3])
            raise Refused(f"unresolved conflicts remain ({shown}): edit them or use gvcs resolve")
        result = self._commit(message or state["message"], actor, (ObjectId(state["theirs"]),), "merge")
        self._save_merge(None)
        return result

    def abort_merge(self) -> None:
        """Put every file back as the checked-out commit has it and forget the merge."""
        if self.merge_state() is None:
            raise Refused("no merge in progress")
        tree = self.tree
        for change in self.status():
            data = self.repo.snapshots.read(tree, change.path) if tree else None
            if data is None:
                self._remove(change.path)
            else:
                self.write(change.path, data)
                blob = self.repo.snapshots.blob_id(tree, change.path) if tree else None
                if blob is not None:
                    self._files[change.path] = self._stat_entry(change.path, blob)
        self.save_state()
        self._save_merge(None)

    def _remove(self, path: str) -> None:
        self._require_real_dirs(path)
        target = self.file_path(path)
        target.unlink(missing_ok=True)
        parent = target.parent
        while parent != self.root:
            try:
                parent.rmdir()  # only succeeds when empty
            except OSError:
                break
            parent = parent.parent


def _has_markers(data: bytes | None) -> bool:
    """Whether a file still holds git-style conflict markers."""
    return data is not None and any(line.startswith((b"<<<<<<< ", b">>>>>>> ")) for line in data.split(b"\n"))


def _delete(cs: ChangeSet, kind: str, item: str | None, path: str) -> None:
    if kind == "page" and item:
        cs.delete_page(item)
    elif kind == "actor" and item:
        cs.delete_actor(item)
    elif kind == "story":
        raise InvalidFile(path, None, "story.yaml cannot be removed")
    else:
        cs.delete_file(path)


def _atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temp file in the same directory and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.gvcs-tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


_ODD = {
    "link": "is a symbolic link: a story holds regular files only (gvcs never follows a link)",
    "other": "is not a regular file: a story holds regular files only",
    "dir": "is a directory, not a file",
}


def _kind(path: Path) -> str:
    """``file``, ``dir``, ``link``, ``other`` or ``missing``, without following a symbolic link."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "link" if stat.S_ISLNK(mode) else "other"


def _under(path: str, odd: dict[str, str]) -> bool:
    """Whether ``path`` is inside an odd path (a ``pages`` that is a file): its state is unknown, not gone."""
    return any(path.startswith(f"{o}/") for o in odd)


class Directories:
    """Open directories of a work tree, each reached from the root without following a link, kept
    for a scan (thousands of pages share ``pages/``); close it when done."""

    FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

    def __init__(self, root: Path) -> None:
        self.root = root
        self._fds: dict[str, int] = {}

    def fd(self, directory: str) -> int:
        """The descriptor of ``directory`` ("" for the root); OSError (ELOOP for a link) otherwise."""
        found = self._fds.get(directory)
        if found is not None:
            return found
        if not directory:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        else:
            parent, _, name = directory.rpartition("/")
            fd = os.open(name, self.FLAGS, dir_fd=self.fd(parent))
        self._fds[directory] = fd
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> Directories:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_regular(root: Path, path: str, dirs: Directories | None = None) -> bytes | None:
    """The bytes of the regular file ``root/path``, or None if it does not exist.

    Every directory on the way and the file itself are opened without following symbolic links, so a
    link anywhere in the path (or swapped in meanwhile) is refused, never followed outside ``root``.
    ``dirs``: directories already open for a scan (kept open for the next file).
    """
    if dirs is None:
        with Directories(root) as own:
            return read_regular(root, path, own)
    parent, _, name = path.rpartition("/")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        # O_NONBLOCK: opening a pipe must not wait for a writer; it is refused just below.
        fd = os.open(name, flags | os.O_NONBLOCK, dir_fd=dirs.fd(parent))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise BadInput(f"{path} {_ODD['other']}")
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadInput(f"{path} {_ODD['link']}") from None
        raise
