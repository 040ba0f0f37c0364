"""The work tree's core: its checkout state, its files, what changed, and operations that survive a kill.

A checkout state file (``.gvcs/gvcs-worktree.json``) records the branch (None: HEAD is detached at a
commit), the commit the files were checked out at, and per path the committed blob id with the size
and mtime the file had when it was known to hold that blob, so ``status`` re-reads only files whose
size or mtime changed. The entries are split as git's split index does: most stay in a base file
(``gvcs-worktree-files.<id>.json``) that is rewritten only once enough of them changed, and the state
file names it and holds the entries changed since, so a one-page commit of a 10,000-page story writes
a few hundred bytes, not the 10,000 entries. It also keeps the listing of the story's directories,
with each directory's mtime and ctime: while none of them changed (no file added, removed or renamed
in it), the files on disk are the ones listed, and ``status`` stats them without reading a directory
(git's untracked cache).

Every operation that changes the work tree runs as an :meth:`WorkTreeBase._operation`: it holds the
lock, journals what it is about to do (:mod:`.journal`), does it, and forgets it. The steps after a ref
has moved (writing files, recording the checkout, the last touches) are one function,
:meth:`WorkTreeBase._apply`, which the operation runs and which :meth:`WorkTreeBase.recover` runs again
for an operation whose process died: so finishing a killed command is the very code that runs every day.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import BadInput, GvcsError, NotFound
from ..objects import hash_object
from ..records import field, record
from ..repository import FileChange, Repository, path_kind
from ..snapshot import check_path, store_path
from ..types import ObjectId, RefName
from .files import (
    DEEP_DIRS,
    FLAT_DIRS,
    ODD,
    TOP_FILES,
    Directories,
    atomic_write,
    atomic_write_at,
    kind_of,
    name_problem,
    read_regular,
    remove_file,
    require_real_dirs,
    stat_at,
)
from .journal import Journal, WorkTreeLock

__all__ = ["MERGE_STATE", "STATE_FILE", "CommitResult", "Recovered", "WorkTreeBase", "WorkTreeChange"]

STATE_FILE = "gvcs-worktree.json"
#: The state of a merge stopped by conflicts (git's MERGE_HEAD is written beside it).
MERGE_STATE = "gvcs-merge.json"
#: A listing taken by this process is used again by it only when its directories were last modified
#: this long before it was taken (a file added in the same mtime tick as the listing would be missed).
#: Across commands the rule is git's: see :meth:`WorkTreeBase._load_state`.
RACY_NS = 2_000_000_000
#: The checkout state's format; a state of another version is ignored (every file hashed once again),
#: except version 2 (the entries inline), which is read as it is.
STATE_VERSION = 3
#: The base file of the entries (see the module's docstring): its name, and how many entries may differ
#: from it (at least, and as a part of its size) before a save writes a new one.
BASE_PREFIX = "gvcs-worktree-files."
BASE_CHANGES = 256
BASE_SHARE = 8
HEAD = RefName("HEAD")
#: What :meth:`WorkTreeBase._current_blob` says of a path that is not a regular file.
NOT_REGULAR = ObjectId("not a regular file")


@record
class WorkTreeChange(FileChange):
    """A file that differs between the work tree and a commit (``new``: the work-tree file's blob id)."""

    problem: str | None = None  # why commit would refuse the file, if it would

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "problem": self.problem}


@record
class CommitResult:
    """What ``WorkTree.commit`` did: the new commit, the files it took and the files it rewrote."""

    commit: ObjectId
    branch: str
    changes: list[WorkTreeChange]
    normalised: list[str] = field(default_factory=list)


@record
class Recovered:
    """What :meth:`WorkTreeBase.recover` did about an operation whose process died."""

    op: str
    finished: bool  # True: finished; False: rolled back
    pid: int | None
    kept: list[str]  # files changed since, left as they are

    def __str__(self) -> str:
        who = f" (pid {self.pid})" if self.pid else ""
        done = "finished" if self.finished else "rolled back"
        text = f"{done} an interrupted '{self.op}'{who}"
        if self.kept:
            shown = ", ".join(self.kept[:3]) + (", ..." if len(self.kept) > 3 else "")
            text += f"; kept your later edits of {shown}"
        return text


@record(frozen=False, slots=True)
class _Listing:
    """The story files on disk as one listing found them, and the stamps of the directories read."""

    paths: list[str]
    dirs: dict[str, list[int]]
    #: Nothing odd was on disk (odd files are always listed by reading the directories).
    trusted: bool
    #: The listing stands for the directories only if each was last modified before this time (it was
    #: never changed in the mtime tick the listing was taken or saved in).
    before: int


def _compact(data: Any) -> bytes:
    return (json.dumps(data, separators=(",", ":")) + "\n").encode()


def _parse_listing(data: Any, files: Mapping[str, object], saved_ns: int) -> _Listing | None:
    """The listing saved in a state file beside the checkout entries ``files``: its directories' stamps,
    the files on disk that are not entries (``extra``) and the entries not on disk (``missing``). None
    if there is none or it is not well formed (then the directories are read). ``saved_ns``: the state
    file's mtime (a directory modified at that time or later is racy: the listing is not used)."""
    if not isinstance(data, dict):
        return None
    dirs, extra, missing = data.get("dirs"), data.get("extra"), data.get("missing")
    if not (isinstance(dirs, dict) and isinstance(extra, list) and isinstance(missing, list)):
        return None
    for stamp in dirs.values():
        if not (isinstance(stamp, list) and len(stamp) == 2 and all(type(x) is int for x in stamp)):
            return None
    if not all(isinstance(p, str) for p in (*dirs, *extra, *missing)):
        return None
    if missing:
        gone = set(missing)
        paths = [p for p in files if p not in gone]
    else:
        paths = list(files)
    paths.extend(p for p in extra if p not in files)
    return _Listing(paths, dirs, trusted=True, before=saved_ns)


@record(frozen=False, slots=True)
class _Entry:
    blob: ObjectId
    mtime_ns: int | None = None
    size: int | None = None


class WorkTreeBase:
    """The files of one checkout and the state that ties them to a branch and a commit."""

    def __init__(self, root: Path, repo: Repository) -> None:
        self.root = Path(root)
        self.repo = repo
        git_dir = self.root / ".gvcs"
        self.state_path = git_dir / STATE_FILE
        self.lock = WorkTreeLock(git_dir)
        self.journal = Journal(git_dir)
        self._loaded: tuple[int, int, int, int] | None = None  # the state file's stat when it was read
        # The listing saved with the state, and the one this process took (see _listing).
        self._saved_listing: _Listing | None = None
        self._taken: _Listing | None = None
        # The base file of the entries as it was read or written: its name and its entries.
        self._base: tuple[str, dict[str, list[Any]]] | None = None
        self.branch: str | None
        self.branch, self.commit_id, self._files, self._saved_ns = self._load_state()
        self._dirty_state = False
        # Files this process hashed: their blob, with the mtime and size they had before the read.
        self._hashed: dict[str, tuple[ObjectId, int, int]] = {}

    # --- state ------------------------------------------------------------------------------------

    def _read_state(self) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        """The state file's data and the entries of its base file (a base replaced by another command
        between the two reads: the state is read again)."""
        for _ in range(5):
            with open(self.state_path, "rb") as handle:
                self._loaded = _signature(os.fstat(handle.fileno()))
                data = json.loads(handle.read())
            if data["version"] == 2:  # the entries inline: saved with a base next time
                self._base = None
                return data, data["files"]
            if data["version"] != STATE_VERSION:
                raise ValueError(f"a checkout state of version {data['version']!r}")
            name = data["base"]
            if not isinstance(name, str) or not name.startswith(BASE_PREFIX) or "/" in name:
                raise ValueError(f"a checkout state with a base of {name!r}")
            try:
                with open(self.state_path.parent / name, "rb") as handle:
                    base = json.loads(handle.read())["files"]
            except FileNotFoundError:
                continue
            if not isinstance(base, dict):
                raise TypeError("a base file without entries")
            self._base = (name, base)
            return data, base
        raise ValueError("the checkout state kept changing while it was read")

    def _load_state(self) -> tuple[str | None, ObjectId | None, dict[str, _Entry], int]:
        try:
            data, base = self._read_state()
            # data is JSON: ObjectId's call is left out of the 10,000-entry loop.
            files = {p: _Entry(blob, mtime, size) for p, (blob, mtime, size) in base.items()}
            for path, entry in data.get("changed", {}).items():
                if entry is None:
                    files.pop(path, None)
                else:
                    blob, mtime, size = entry
                    files[path] = _Entry(blob, mtime, size)
            commit, branch = data["commit"], data["branch"]
            # The racy rule is git's: a cached stat vouches for a file last modified before the state
            # file was written, by its mtime (the file system's clock, in its own granularity). A file
            # modified at that time or later is read again; an edit made later moves its mtime on.
            saved_ns = self._loaded[3] if self._loaded is not None else 0
            self._saved_listing = _parse_listing(data.get("listing"), files, saved_ns)
            head = ObjectId(commit) if commit else None
            return None if branch is None else str(branch), head, files, saved_ns
        except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
            self._loaded = None
            self._saved_listing = None
            self._base = None
            # No usable state (a repository written through the API, or a damaged file): the work
            # tree is taken to be a checkout of HEAD, and every file is hashed once.
            branch = self.repo.head_branch()
            if branch is None and self.repo.refs.get_symbolic(HEAD) is None:
                commit = self.repo.refs.get(HEAD)  # a detached HEAD
                return None, commit, self._entries_of(commit), 0
            branch = branch or "main"
            commit = self.repo.branch_head(branch)
            return branch, commit, self._entries_of(commit), 0

    def _entries_of(self, commit: ObjectId | None) -> dict[str, _Entry]:
        if commit is None:
            return {}
        tree = self.repo.commits.get(commit).tree
        return {path: _Entry(oid) for path, oid in self.repo.snapshots.walk(tree)}

    def save_state(self) -> None:
        """Write the checkout state atomically: the entries changed since the base file, or a new base
        file first when too many did (the state file, written last, is what names it)."""
        now = time.time_ns()
        changed = self._changed_since_base()
        base, new_base = self._base, False
        if changed is None or base is None:
            # In the entries' order, not sorted: sorting 10,000 paths costs milliseconds.
            entries: dict[str, list[Any]] = {p: [e.blob, e.mtime_ns, e.size] for p, e in self._files.items()}
            base, new_base = (f"{BASE_PREFIX}{now:x}.json", entries), True
            # Compact: json's C encoder writes 10,000 entries in milliseconds; indented, it is Python.
            atomic_write(self.state_path.parent / base[0], _compact({"files": entries}))
            changed = {}
        data = {
            "version": STATE_VERSION,
            "branch": self.branch,
            "commit": self.commit_id,
            "saved_ns": now,
            "base": base[0],
            "changed": changed,
        }
        listing = self._listing_to_save()
        if listing is not None:
            data["listing"] = listing
        written = atomic_write(self.state_path, _compact(data))
        if new_base:
            self._base = base
            self._remove_old_bases(base[0])
        # What a later command will compare mtimes with (see _load_state).
        self._saved_ns = written.st_mtime_ns
        self._dirty_state = False
        # The file is what this object holds: not read again unless another command replaces it.
        self._loaded = _signature(written)
        taken = self._taken
        self._saved_listing = (
            None
            if listing is None or taken is None
            else _Listing(taken.paths, taken.dirs, trusted=True, before=self._saved_ns)
        )

    def _changed_since_base(self) -> dict[str, list[Any] | None] | None:
        """The entries that differ from the base file's (None: removed since), or None when a new base
        is due (none yet, or too many changed)."""
        if self._base is None:
            return None
        base = self._base[1]
        limit = max(BASE_CHANGES, len(base) // BASE_SHARE)
        changed: dict[str, list[Any] | None] = {}
        added = 0
        for path, entry in self._files.items():
            was = base.get(path)
            if was is None or was[0] != entry.blob or was[1] != entry.mtime_ns or was[2] != entry.size:
                changed[path] = [entry.blob, entry.mtime_ns, entry.size]
                added += was is None
        if len(base) != len(self._files) - added:  # some of the base's entries are gone
            changed.update((path, None) for path in base if path not in self._files)
        return changed if len(changed) <= limit else None

    def _remove_old_bases(self, keep: str) -> None:
        """Remove the base files other than ``keep`` (a command that read the state before this save
        and finds its base gone reads the state again)."""
        with contextlib.suppress(OSError):
            for name in os.listdir(self.state_path.parent):
                if name.startswith(BASE_PREFIX) and name != keep:
                    with contextlib.suppress(OSError):
                        os.unlink(self.state_path.parent / name)

    def _listing_to_save(self) -> dict[str, Any] | None:
        """The listing this process took, relative to the checkout entries as they are now, if nothing
        odd was on disk and it still holds (no directory changed since: gvcs's own writes change them
        too). A directory modified in the tick the state is saved in makes it racy when it is read."""
        taken = self._taken
        if taken is None or not taken.trusted or not self._dirs_unchanged(taken.dirs):
            return None
        files, on_disk = self._files, set(taken.paths)
        return {
            "dirs": taken.dirs,
            "extra": sorted(on_disk.difference(files)),
            "missing": sorted(p for p in files if p not in on_disk),
        }

    def _dirs_unchanged(self, dirs: Mapping[str, list[int]]) -> bool:
        """Whether every directory still has the mtime and ctime it had (and is still a directory)."""
        root = f"{self.root}/"
        for name, (mtime_ns, ctime_ns) in dirs.items():
            try:
                st = os.lstat(root + name if name else self.root)
            except OSError:
                return False
            if st.st_mtime_ns != mtime_ns or st.st_ctime_ns != ctime_ns or not stat.S_ISDIR(st.st_mode):
                return False
        return True

    @property
    def detached(self) -> bool:
        """Whether HEAD is detached at a commit (``switch --detach``) rather than on a branch."""
        return self.branch is None

    @property
    def where(self) -> str:
        """The branch checked out, or ``HEAD (detached at X)``, for messages."""
        return self.branch if self.branch is not None else f"HEAD (detached at {str(self.commit_id)[:10]})"

    def on_branch(self, action: str) -> str:
        """The checked-out branch; refused while HEAD is detached (``action`` needs a branch)."""
        if self.branch is None:
            from ..errors import Refused

            raise Refused(
                f"cannot {action}: HEAD is detached at {str(self.commit_id)[:10]}; "
                "switch to a branch first (gvcs switch BRANCH, or gvcs switch -c NEW to keep this commit)"
            )
        return self.branch

    @property
    def tree(self) -> ObjectId | None:
        """The tree of the checked-out commit (None before the first commit)."""
        return self._tree_of(self.commit_id)

    def _tree_of(self, commit: ObjectId | None) -> ObjectId | None:
        return None if commit is None else self.repo.commits.get(commit).tree

    # --- files ------------------------------------------------------------------------------------

    def file_path(self, path: str) -> Path:
        return self.root / check_path(path)

    def read(self, path: str) -> bytes | None:
        """The bytes of a work-tree file, or None if it does not exist. Never follows a symbolic link:
        nothing outside the work tree is read (a link or any other non-regular file is refused)."""
        return read_regular(self.root, check_path(path))

    def exists(self, path: str) -> bool:
        return kind_of(self.file_path(path)) == "file"

    def write(self, path: str, data: bytes) -> None:
        """Write a work-tree file atomically (temp file and rename)."""
        require_real_dirs(self.root, path)
        atomic_write(self.file_path(path), data)

    def _remove(self, path: str) -> None:
        remove_file(self.root, path)

    def scan(self) -> list[str]:
        """The logical paths of every story file in the work tree, sorted (regular files only: see
        :meth:`odd_files` for links and other files a story cannot hold)."""
        return self._scan()[0]

    def odd_files(self) -> dict[str, str]:
        """Story paths that are not regular files (symbolic links, pipes, a file where a directory
        belongs), and why commit refuses each."""
        return self._scan()[1]

    def _scan(self, dirs: dict[str, list[int]] | None = None) -> tuple[list[str], dict[str, str]]:
        """Every story file, sorted, and the odd ones; with ``dirs``, the stamps ([mtime_ns, ctime_ns])
        of every directory read, each taken before it is read."""
        found: list[str] = []
        odd: dict[str, str] = {}
        if dirs is not None:
            st = os.lstat(self.root)
            dirs[""] = [st.st_mtime_ns, st.st_ctime_ns]
        for name in TOP_FILES:
            kind = kind_of(self.root / name)
            if kind == "file":
                found.append(name)
            elif kind != "missing":
                odd[name] = ODD[kind]
        for top in (*FLAT_DIRS, *DEEP_DIRS):
            kind = kind_of(self.root / top)
            if kind == "dir":
                self._walk_dir(self.root / top, top, found, odd, dirs)
            elif kind == "file":
                odd[top] = f"is a file, but {top}/ is a directory of the story"
            elif kind != "missing":
                odd[top] = ODD[kind]
        return sorted(found), odd

    def _walk_dir(
        self,
        directory: Path,
        prefix: str,
        found: list[str],
        odd: dict[str, str],
        dirs: dict[str, list[int]] | None = None,
    ) -> None:
        if dirs is not None:
            st = os.lstat(directory)
            dirs[prefix] = [st.st_mtime_ns, st.st_ctime_ns]
        with os.scandir(directory) as entries:
            for entry in entries:
                # Hidden files (gvcs's own temporary files among them) and editor backups are not part
                # of the story.
                if entry.name.startswith(".") or entry.name.endswith("~"):
                    continue
                path = f"{prefix}/{entry.name}"
                if entry.is_symlink():
                    odd[path] = ODD["link"]
                elif entry.is_dir(follow_symlinks=False):
                    self._walk_dir(Path(entry.path), path, found, odd, dirs)
                elif entry.is_file(follow_symlinks=False):
                    found.append(path)
                else:
                    odd[path] = ODD["other"]

    def pages(self) -> list[str]:
        """Ids of the well-named page files in the work tree."""
        return [p[6:-3] for p in self.scan() if path_kind(p)[0] == "page" and name_problem(p) is None]

    def actors(self) -> list[str]:
        """Ids of the well-named actor files in the work tree."""
        return [p[7:-5] for p in self.scan() if path_kind(p)[0] == "actor" and name_problem(p) is None]

    def _blob_of(self, path: str, entry: _Entry | None, dirs: Directories | None = None) -> ObjectId | None:
        """The blob id of a work-tree file, from the cached stat when it is trustworthy."""
        try:
            st = os.lstat(f"{self.root}/{path}")
        except (FileNotFoundError, NotADirectoryError):
            return None
        if (
            entry is not None
            and entry.mtime_ns == st.st_mtime_ns
            and entry.size == st.st_size
            and st.st_mtime_ns < self._saved_ns
        ):
            return entry.blob
        data = read_regular(self.root, path, dirs)
        if data is None:
            return None
        blob = hash_object("blob", data)
        # The stat taken before the read vouches for what was read: a later edit moves the mtime on.
        self._hashed[path] = (blob, st.st_mtime_ns, st.st_size)
        if entry is not None and blob == entry.blob and st.st_mtime_ns < time.time_ns():
            # Saved now, the stat is trusted next time (a file dated in the future would stay racy:
            # it is hashed again, one file, not worth a save each time).
            entry.mtime_ns, entry.size = st.st_mtime_ns, st.st_size
            self._dirty_state = True
        return blob

    def _current_blob(self, path: str) -> ObjectId | None:
        """The blob id of the work-tree file at ``path`` (None: no file); :data:`NOT_REGULAR` if it is
        not a regular file (a link, a directory...), which matches no version and is never overwritten
        unless forced."""
        try:
            data = read_regular(self.root, check_path(path))
        except (BadInput, OSError):
            return NOT_REGULAR
        if data is None:
            return NOT_REGULAR if kind_of(self.root / path) != "missing" else None
        return hash_object("blob", data)

    # --- comparing --------------------------------------------------------------------------------

    def status(self, *, save: bool = True) -> list[WorkTreeChange]:
        """Files added, modified or removed in the work tree since the checked-out commit. ``save``:
        remember what was learnt (stats of files found unchanged, a new listing) at once; a command
        about to change the work tree leaves that to its own save at the end."""
        changes = self._compare(None, self._files)
        # Within an operation, its own save at the end does (a commit saves once, not twice).
        if save and self._dirty_state and not self.lock.is_held:
            with self.lock.held():
                self.save_state()
        return changes

    def compare(self, tree: ObjectId | None) -> list[WorkTreeChange]:
        """Files that differ between the work tree and any tree (None: the empty story)."""
        committed = dict(self.repo.snapshots.walk(tree)) if tree else {}
        return self._compare(committed, self._files)

    def _listing(self) -> tuple[list[str], dict[str, str]]:
        """What :meth:`_scan` finds (the files in no particular order), from the listing saved with the
        state while none of its directories changed; else by reading the directories. The listing taken
        is saved with the state at its next save (when it still holds then)."""
        for known in (self._taken, self._saved_listing):
            if (
                known is not None
                and known.trusted
                and all(mtime < known.before for mtime, _ in known.dirs.values())
                and self._dirs_unchanged(known.dirs)
            ):
                self._taken = known
                return list(known.paths), {}
        dirs: dict[str, list[int]] = {}
        started = time.time_ns()
        found, odd = self._scan(dirs)
        # A later change sets a directory's mtime to a later time (the ctime also sees an mtime set back
        # by hand); one in the tick the listing was taken in is not seen, hence the ``before`` times.
        self._taken = _Listing(found, dirs, trusted=not odd, before=started - RACY_NS)
        if not odd and all(mtime < started for mtime, _ in dirs.values()):
            self._dirty_state = True  # saved, the next command need not read the directories
        return found, odd

    def _compare(
        self, tree_files: dict[str, ObjectId] | None, cache: dict[str, _Entry]
    ) -> list[WorkTreeChange]:
        """The work tree's files against ``tree_files`` (path -> blob; None: the cached entries', as
        status compares them)."""
        out: list[WorkTreeChange] = []
        self._hashed = {}
        on_disk, odd = self._listing()
        root, trusted_before = f"{self.root}/", self._saved_ns
        with Directories(self.root) as dirs:
            for path in on_disk:
                entry = cache.get(path)
                if tree_files is None:
                    old = None if entry is None else entry.blob
                else:
                    old = tree_files.get(path)
                if entry is not None and entry.blob == old:
                    # The common case inline (one lstat, no call): _blob_of's first test, unchanged.
                    try:
                        st = os.lstat(root + path)
                    except OSError:
                        st = None
                    if (
                        st is not None
                        and st.st_mtime_ns == entry.mtime_ns
                        and st.st_size == entry.size
                        and st.st_mtime_ns < trusted_before
                    ):
                        continue
                else:
                    entry = None
                new = self._blob_of(path, entry, dirs)
                if new != old:
                    status = "added" if old is None else "modified"
                    out.append(WorkTreeChange(path, status, old, new, name_problem(path)))
        committed: Mapping[str, ObjectId] = (
            tree_files if tree_files is not None else {p: cache[p].blob for p in odd if p in cache}
        )
        for path, problem in odd.items():
            out.append(
                WorkTreeChange(
                    path, "modified" if path in committed else "added", committed.get(path), None, problem
                )
            )
        disk = set(on_disk) | set(odd)
        every = tree_files.items() if tree_files is not None else ((p, e.blob) for p, e in cache.items())
        out.extend(
            WorkTreeChange(p, "removed", oid, None)
            for p, oid in every
            if p not in disk and not _under(p, odd)
        )
        return sorted(out, key=lambda c: c.path)

    def require_clean(self, action: str) -> None:
        """Refuse ``action`` if the work tree has uncommitted changes."""
        from ..errors import Refused

        changes = self.status(save=False)  # the operation saves what was learnt when it is done
        if changes:
            shown = ", ".join(c.path for c in changes[:3]) + (", ..." if len(changes) > 3 else "")
            raise Refused(
                f"cannot {action}: {len(changes)} uncommitted change(s) ({shown}); "
                "commit them, or put them aside with gvcs stash"
            )

    def require_untouched(self, paths: Iterable[str], action: str) -> None:
        """Refuse ``action`` if one of ``paths``, the files it is about to rewrite, has uncommitted
        changes (git's rule for a merge: changes to other files stay, still uncommitted). Only those
        files are looked at: a file whose stat the state trusts is not even read."""
        from ..errors import Refused

        clashes = []
        with Directories(self.root) as dirs:
            for path in sorted(paths):
                entry = self._files.get(path)
                now, _ = self._held(path, dirs if _checked(path) else None)
                if now != (entry.blob if entry is not None else None):
                    clashes.append(path)
        if clashes:
            shown = ", ".join(clashes[:3]) + (", ..." if len(clashes) > 3 else "")
            raise Refused(
                f"cannot {action}: uncommitted changes to {len(clashes)} file(s) it changes ({shown}) "
                "would be overwritten; commit them, or put them aside with gvcs stash"
            )

    # --- operations -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _operation(self, op: str, **facts: Any) -> Iterator[Journal]:
        """Run one work-tree operation under the lock and the journal.

        The journal starts with ``op``, the checkout it starts from and ``facts``. If the block raises,
        what was done is settled at once, as a later command would settle it after a kill (finished if
        its ref moved, else rolled back); if even that fails, the journal stays for the next command.
        """
        with self.lock.held():
            self._recover_locked()
            self._reload()
            start = {"branch": self.branch, "commit": self.commit_id}
            self.journal.start(op, **{"from": start, **facts})
            try:
                yield self.journal
            except BaseException:
                entry = self.journal.entry
                with contextlib.suppress(GvcsError, OSError):
                    if entry is not None and _started(entry):
                        self._settle(entry, in_process=True)
                    self.journal.finish()
                raise
            self.journal.finish()

    def _reload(self) -> None:
        """Read the checkout state again (another command may have changed it before the lock), unless
        the file is the very one this object loaded and has not changed since (every save replaces the
        file, so a new inode or mtime says another command wrote it)."""
        if self._loaded is not None:
            with contextlib.suppress(OSError):
                if _signature(os.stat(self.state_path)) == self._loaded:
                    return
        self.branch, self.commit_id, self._files, self._saved_ns = self._load_state()

    def recover(self) -> Recovered | None:
        """Finish or roll back an operation whose process died, if there is one; say what was done."""
        if self.journal.read() is None:
            return None
        with self.lock.held():
            return self._recover_locked()

    def _recover_locked(self) -> Recovered | None:
        entry = self.journal.read()
        if entry is None:
            return None
        # Cut before it changed anything: nothing to finish, and nothing was done.
        finished, kept = self._settle(entry) if _started(entry) else (False, [])
        self.journal.finish()
        self._reload()
        pid = entry.get("pid")
        return Recovered(
            str(entry.get("op", "operation")), finished, pid if isinstance(pid, int) else None, kept
        )

    def _settle(self, entry: dict[str, Any], *, in_process: bool = False) -> tuple[bool, list[str]]:
        """Finish ``entry`` if its ref moved (or it moves none), else leave everything as it was.

        A ref's new value is journaled as soon as it is known: before the ref moves for a commit, once
        it has moved for a merge or a rebase (``unknown``: the ref moved if it is no longer where it
        was). ``in_process``: the operation failed in this process, so a value still unknown means the
        call that moves the ref did not return, and it did not move it. Returns whether the operation
        was finished and the files left alone because they changed since."""
        ref = entry.get("ref")
        if ref is not None:
            head = self.repo.refs.get(RefName(ref["name"]))
            old, new = ref.get("old"), ref.get("new")
            if new is None:
                landed = bool(ref.get("unknown")) and not in_process and head != old
            else:
                landed = head == new or (
                    head is not None and head != old and self.repo.commits.is_ancestor(new, head)
                )
            if not landed:
                return False, []
            if new is None or ref.get("follow", False):
                # Where the ref went (a merge, a rebase: the commit is known once it has moved).
                entry = {**entry, "ref": {**ref, "new": head}}
        return True, self._apply(entry)

    def _apply(self, entry: dict[str, Any], *, save: bool = True) -> list[str]:
        """The steps of an operation once its ref has moved (or when it moves none): write the files,
        record the checkout, finish off. Safe to run again on a half-done work tree. Returns the files
        left alone because they were changed by hand since. ``save=False``: the caller saves the
        checkout state itself before its operation ends (a kill before that replays this)."""
        start: Mapping[str, Any] = entry.get("from") or {}
        ref: Mapping[str, Any] | None = entry.get("ref")
        target_commit: ObjectId | None = ref.get("new") if ref is not None else None
        kept: list[str] = []
        state: Mapping[str, Any] = entry.get("state") or {}
        commit: ObjectId | None
        if "commit" in state:
            commit = state["commit"]
        elif ref is not None:
            commit = target_commit
        else:
            commit = start.get("commit")
        branch = state["branch"] if "branch" in state else start.get("branch")
        # The cached entries describe the commit checked out at the end: a file written with other
        # content (a merge's conflicts, a file restored from elsewhere) shows as changed.
        entry_tree = self._tree_of(commit)
        files = entry.get("files")
        if files is not None:
            old_tree = files.get("from", "@from")
            new_tree = files.get("to", "@state")
            kept += self._sync(
                self._tree_of(start.get("commit")) if old_tree == "@from" else old_tree,
                entry_tree if new_tree == "@state" else new_tree,
                files.get("paths"),
                bool(files.get("force")),
                entry_tree,
            )
        for path, blob in sorted((entry.get("write") or {}).items()):
            self._put(path, blob, entry_tree)
        normalise = entry.get("normalise") or {}
        if normalise and target_commit is not None:
            kept += self._normalise(target_commit, normalise, entry_tree)
        if branch is None:
            if commit is not None and self.repo.refs.get(HEAD) != commit:
                self.repo.set_head_detached(commit)
        elif self.repo.head_branch() != branch:
            self.repo.set_head_branch(str(branch))
        if commit != self.commit_id or branch != self.branch or files is not None or normalise:
            self._set_checkout(branch, commit)
        after = entry.get("after") or {}
        if "merge_state" in after:
            self._save_merge(after["merge_state"])
        if "drop_ref" in after:
            drop = after["drop_ref"]
            with contextlib.suppress(GvcsError):
                self.repo.refs.remove_if_equals(RefName(drop["name"]), ObjectId(drop["old"]), who="gvcs")
        if save:
            self.save_state()
        return kept

    def _set_checkout(self, branch: str | None, commit: ObjectId | None) -> None:
        """Record that the work tree is a checkout of ``commit`` on ``branch``: the cached entries become
        the commit's files (only those that differ from the checked-out commit's are touched), keeping
        the stats of entries already updated to their new blob."""
        old_tree, new_tree = self.tree, self._tree_of(commit)
        if old_tree != new_tree:
            for diff in self.repo.snapshots.diff(old_tree, new_tree):
                if diff.new is None:
                    self._files.pop(diff.path, None)
                else:
                    known = self._files.get(diff.path)
                    if known is None or known.blob != diff.new:
                        self._files[diff.path] = _Entry(diff.new)
        self.branch, self.commit_id = branch, commit
        self._loaded = None  # the state in memory is no longer the file's

    def _sync(
        self,
        old_tree: ObjectId | None,
        new_tree: ObjectId | None,
        paths: list[str] | None,
        force: bool,
        entry_tree: ObjectId | None,
    ) -> list[str]:
        """Move the work-tree files from ``old_tree`` to ``new_tree``: each file that still holds its
        old version (or any version, with ``force``) gets its new one; a file that already holds its new
        version is left; a file changed by hand since is left too, and returned. Cached entries are
        brought to ``entry_tree`` (the commit checked out at the end)."""
        snapshots = self.repo.snapshots

        def lookup(path: str) -> tuple[str, ObjectId | None, ObjectId | None]:
            was = snapshots.blob_id(old_tree, path) if old_tree else None
            return path, was, snapshots.blob_id(new_tree, path) if new_tree else None

        if paths is None:
            # A diff has each file's two blobs, those blob_id finds at its store path (a file a tree
            # holds elsewhere, where gvcs does not store it, is looked up).
            files = [
                (d.path, d.old, d.new) if d.stored == store_path(d.path) else lookup(d.path)
                for d in snapshots.diff(old_tree, new_tree)
            ]
        else:
            files = [lookup(path) for path in paths]
        kept: list[str] = []
        # The directories stay open for every file (thousands of pages share pages/).
        with Directories(self.root) as dirs:
            for path, was, want in files:
                # The entry for the commit checked out at the end: usually the new tree's.
                committed = want if entry_tree == new_tree else self._committed(entry_tree, path)
                # A path that is no story path goes the usual way, which refuses it.
                here = dirs if _checked(path) else None
                now, st = self._held(path, here)
                if now == want:
                    self._record(path, want, committed, st)
                elif force or now == was:
                    self._record(path, want, committed, self._write_file(path, want, here))
                else:
                    kept.append(path)
        return kept

    def _held(self, path: str, dirs: Directories | None) -> tuple[ObjectId | None, os.stat_result | None]:
        """What the work-tree file ``path`` holds (as :meth:`_current_blob` says) and its stat, taken
        before it was read (None: not a regular file, or not known). A regular file whose size and
        mtime are its cached entry's, last modified before the state was saved (the rule ``status``
        trusts), holds the entry's blob and is not read; any other file is read and hashed. ``dirs``:
        the open directories (``path`` is a checked story path); None: the file is read."""
        if dirs is None:
            return self._current_blob(path), None
        entry = self._files.get(path)
        st = stat_at(dirs, path)
        if st is None or not stat.S_ISREG(st.st_mode):
            return self._current_blob(path), None
        if (
            entry is not None
            and st.st_mtime_ns == entry.mtime_ns
            and st.st_size == entry.size
            and st.st_mtime_ns < self._saved_ns
        ):
            return entry.blob, st
        # Stat'ed before the read: an edit after it moves the mtime on, so the stat vouches for the read.
        return self._current_blob(path), st

    def _put(self, path: str, blob: ObjectId | None, entry_tree: ObjectId | None) -> None:
        """Make the work-tree file ``path`` hold ``blob`` (None: remove it)."""
        self._note(path, blob, entry_tree, self._write_file(path, blob))

    def _write_file(
        self, path: str, blob: ObjectId | None, dirs: Directories | None = None
    ) -> os.stat_result | None:
        """Write ``blob`` to the work-tree file ``path`` (None: remove it); the new file's stat when it
        was written in a directory of ``dirs`` (directories kept open for many files; ``path`` checked)."""
        if blob is None:
            if kind_of(self.root / path) in ("file", "link", "other"):
                self._remove(path)
            return None
        data = self.repo.read_blob(blob)
        if _checked(path):
            if dirs is None:
                with Directories(self.root) as one:
                    st = atomic_write_at(one, path, data)
            else:
                st = atomic_write_at(dirs, path, data)
            if st is not None:
                return st
        self.write(path, data)
        return None

    def _note(
        self,
        path: str,
        blob: ObjectId | None,
        entry_tree: ObjectId | None,
        st: os.stat_result | None = None,
    ) -> None:
        """Update the cached entry of ``path``, which now holds ``blob``, for the commit of ``entry_tree``:
        with its stat (``st`` when the caller has it) when the two agree, else the commit's blob (the
        file then shows as changed)."""
        self._record(path, blob, self._committed(entry_tree, path), st)

    def _committed(self, tree: ObjectId | None, path: str) -> ObjectId | None:
        return self.repo.snapshots.blob_id(tree, path) if tree else None

    def _record(
        self, path: str, blob: ObjectId | None, committed: ObjectId | None, st: os.stat_result | None
    ) -> None:
        """:meth:`_note` with the commit's blob of ``path`` known (``committed``)."""
        if committed is None:
            self._files.pop(path, None)
        elif blob == committed:
            # Without a stat taken with the write or before the read, the file is hashed next time.
            self._files[path] = _Entry(blob) if st is None else _Entry(blob, st.st_mtime_ns, st.st_size)
        else:
            self._files[path] = _Entry(committed)

    def _normalise(
        self, commit: ObjectId, normalise: Mapping[str, list[str]], entry_tree: ObjectId | None
    ) -> list[str]:
        """Rewrite the files a commit stored in canonical form, if they still hold what was committed."""
        tree = self.repo.commits.get(commit).tree
        kept: list[str] = []
        for path, (had, stored) in sorted(normalise.items()):
            if self.repo.snapshots.blob_id(tree, path) != stored:
                continue
            now = self._current_blob(path)
            if now == had:
                self._put(path, ObjectId(stored), entry_tree)
            elif now != stored:
                kept.append(path)
        return kept

    # --- merge state ------------------------------------------------------------------------------

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
        atomic_write(self._merge_path, (json.dumps(state, indent=1) + "\n").encode())
        atomic_write(merge_head, (state["theirs"] + "\n").encode())

    def _require_commit(self, what: str) -> ObjectId:
        if self.commit_id is None:
            raise NotFound(f"{what}: the current branch has no commits yet")
        return self.commit_id


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _checked(path: str) -> bool:
    """Whether ``path`` is one a work-tree file may have (see :func:`check_path`)."""
    try:
        check_path(path)
    except BadInput:
        return False
    return True


def _started(entry: dict[str, Any]) -> bool:
    """Whether a journaled operation got as far as a change (a ref to move, files to write)."""
    return any(key in entry for key in ("ref", "files", "write", "state", "after"))


def _under(path: str, odd: dict[str, str]) -> bool:
    """Whether ``path`` is inside an odd path (a ``pages`` that is a file): its state is unknown, not gone."""
    return any(path.startswith(f"{o}/") for o in odd)
