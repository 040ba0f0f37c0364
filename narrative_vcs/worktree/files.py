"""Reading and writing work-tree files safely: never through a symbolic link, always whole.

Every directory on the way to a file and the file itself are opened without following links, so
nothing outside the work tree is read or written; a file is written to a temporary name beside it and
renamed over the old one, so a reader (or a killed writer) sees the old bytes or the new, never half.
Where the system can, the two names are swapped instead (``renameat2`` with ``RENAME_EXCHANGE``) and the
old file removed: as atomic, and ext4 does not write the new file's data out first, as it does for a
rename over an existing file (a few hundred microseconds each, a second for a checkout of thousands).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from pathlib import Path
from typing import Any

from ..errors import BadInput, Refused
from ..objects import ID_PATTERN
from ..snapshot import check_path

__all__ = [
    "DEEP_DIRS",
    "FLAT_DIRS",
    "ODD",
    "TOP_FILES",
    "Directories",
    "atomic_write",
    "atomic_write_at",
    "has_markers",
    "kind_of",
    "name_problem",
    "read_regular",
    "remove_file",
    "require_real_dirs",
    "stat_at",
]

TOP_FILES = ("story.yaml", "ledger.yaml", "rituals.yaml")
FLAT_DIRS = {"pages": ".md", "actors": ".yaml"}
DEEP_DIRS = ("infra", "proposals")

ODD = {
    "link": "is a symbolic link: a story holds regular files only (gvcs never follows a link)",
    "other": "is not a regular file: a story holds regular files only",
    "dir": "is a directory, not a file",
}


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


def has_markers(data: bytes | None) -> bool:
    """Whether a file still holds git-style conflict markers."""
    return data is not None and any(line.startswith((b"<<<<<<< ", b">>>>>>> ")) for line in data.split(b"\n"))


def atomic_write(target: Path, data: bytes) -> os.stat_result:
    """Write ``data`` to ``target`` through a temp file in the same directory and a rename; the file's
    stat as it was written (a rename keeps the inode and the mtime)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.gvcs-tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            st = os.fstat(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return st


def atomic_write_at(dirs: Directories, path: str, data: bytes) -> os.stat_result | None:
    """Write the work-tree file ``path`` as :func:`atomic_write` does (a temporary file beside it and a
    rename), in its directory as ``dirs`` opened it (every directory on the way a real one, no link
    followed), and return the new file's stat, taken before the rename (a later edit of the file by
    anyone else moves its mtime on from this one). None, with nothing changed, when that does not go
    (its directory missing, a link or a file where a directory belongs, a temporary file that cannot be
    made...): the caller then writes it the usual way, which makes the directories or says why not."""
    parent, _, name = path.rpartition("/")
    try:
        where = dirs.fd(parent)
    except OSError:
        return None
    tmp = f".{name}.gvcs-tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, _WRITE_FLAGS, 0o666, dir_fd=where)
    except OSError:
        return None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if not _swap_in(where, tmp, name):
            os.replace(tmp, name, src_dir_fd=where, dst_dir_fd=where)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=where)
        return None
    return st


def _swap_in(where: int, tmp: str, name: str) -> bool:
    """Put the file ``tmp`` in place of the file ``name`` by swapping the two names, then remove the old
    file (now at ``tmp``). False, with nothing changed, when there is no ``name``, it is a directory or
    the system cannot swap names: the caller renames."""
    if not _exchange(where, tmp, name):
        return False
    try:
        os.unlink(tmp, dir_fd=where)
    except OSError:
        # A directory was swapped out (unlink refuses it): put it back as it was.
        if _exchange(where, tmp, name):
            return False
        raise
    return True


#: ``renameat2``'s flag that swaps two names atomically (Linux 3.15 and later).
_RENAME_EXCHANGE = 2
_renameat2: Any = False  # not looked up yet; None: the system has none


def _exchange(where: int, a: str, b: str) -> bool:
    """Swap the names ``a`` and ``b`` in the directory ``where`` atomically; False if this system or
    file system cannot (or ``b`` is gone)."""
    global _renameat2
    if _renameat2 is False:
        _renameat2 = _find_renameat2()
    if _renameat2 is None:
        return False
    if _renameat2(where, os.fsencode(a), where, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    import ctypes

    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOENT, errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code))


def _find_renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (ImportError, OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_WRITE_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def stat_at(dirs: Directories, path: str) -> os.stat_result | None:
    """The stat of ``path`` (not following a link) in its directory as ``dirs`` opened it; None if the
    directory cannot be opened that way or the file cannot be stat'ed."""
    parent, _, name = path.rpartition("/")
    try:
        return os.stat(name, dir_fd=dirs.fd(parent), follow_symlinks=False)
    except OSError:
        return None


def kind_of(path: Path) -> str:
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


def require_real_dirs(root: Path, path: str) -> None:
    """Refuse to write under a symbolic link (or a file) where ``path`` has a directory: a link there
    would take the write outside the work tree."""
    parts = check_path(path).split("/")
    for depth in range(1, len(parts)):
        where = "/".join(parts[:depth])
        kind = kind_of(root / where)
        if kind == "missing":
            return
        if kind != "dir":
            problem = ODD["link"] if kind == "link" else "is not a directory"
            raise Refused(f"{where} {problem}; move it away and try again")


def remove_file(root: Path, path: str) -> None:
    """Remove the work-tree file ``path`` (if it is there) and the directories it leaves empty."""
    require_real_dirs(root, path)
    target = root / check_path(path)
    target.unlink(missing_ok=True)
    parent = target.parent
    while parent != root:
        try:
            parent.rmdir()  # only succeeds when empty
        except OSError:
            break
        parent = parent.parent


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
                raise BadInput(f"{path} {ODD['other']}")
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
            raise BadInput(f"{path} {ODD['link']}") from None
        raise
