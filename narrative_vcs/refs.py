"""The ref store contract (compare-and-swap with a reflog) and its in-memory implementation."""

from __future__ import annotations

import builtins
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from .errors import BadInput, BranchMoved, NotFound, Refused
from .records import record
from .types import ZERO_ID, ObjectId, RefName

__all__ = [
    "HEADS",
    "GroupQueue",
    "TAGS",
    "MemoryRefStore",
    "RefMove",
    "RefStore",
    "ReflogEntry",
    "branch_ref",
    "check_moves",
    "tag_ref",
    "validate_ref_name",
]

HEADS = "refs/heads/"
TAGS = "refs/tags/"
#: Uncommitted work put aside (``gvcs stash``): ``refs/stash/<n>``, the highest ``n`` the newest.
STASHES = "refs/stash/"
#: Why a store whose HEAD is shared cannot detach it.
DETACH_REFUSED = "this store keeps HEAD on a branch (it is shared): switch --detach needs an embedded store"


@record
class ReflogEntry:
    old: ObjectId
    new: ObjectId
    who: str
    time: int
    message: str


@record
class RefMove:
    """One ref update of a compare-and-swap: ``ref`` from ``old`` (None: must not exist) to ``new``
    (None: deleted)."""

    ref: RefName
    old: ObjectId | None
    new: ObjectId | None

    @property
    def branch(self) -> str | None:
        """The branch name when ``ref`` is a branch."""
        return self.ref[len(HEADS) :] if self.ref.startswith(HEADS) else None


def validate_ref_name(kind: str, name: str) -> str:
    """Branch and tag names: git's rules, kept simple (no spaces, no '..', no control characters)."""
    bad = (
        not name
        or len(name) > 200
        or name.startswith(("-", "/", "."))
        or name.endswith(("/", ".", ".lock"))
        or ".." in name
        or "//" in name
        or "@{" in name
        or any(c in name for c in " ~^:?*[\\\x7f")
        or any(ord(c) < 32 for c in name)
        or name == "HEAD"
    )
    if bad:
        raise BadInput(
            f"invalid {kind} name {name!r}: no spaces, '..', '~^:?*[\\', or leading '-', '/' or '.'"
        )
    return name


def branch_ref(name: str) -> RefName:
    return RefName(HEADS + validate_ref_name("branch", name))


def tag_ref(name: str) -> RefName:
    return RefName(TAGS + validate_ref_name("tag", name))


class RefStore(ABC):
    """Named pointers to commits. Every change is a compare-and-swap and is logged."""

    @abstractmethod
    def get(self, name: RefName) -> ObjectId | None:
        """The id a ref points at (following a symbolic ref), or None if it does not exist."""

    @abstractmethod
    def set_if_equals(
        self, name: RefName, old: ObjectId | None, new: ObjectId, *, who: str = "", message: str = ""
    ) -> None:
        """Point ``name`` at ``new`` if it now points at ``old`` (None: must not exist).

        Raises :class:`BranchMoved` and changes nothing otherwise.
        """

    @abstractmethod
    def remove_if_equals(
        self, name: RefName, old: ObjectId | None, *, who: str = "", message: str = ""
    ) -> None:
        """Delete ``name`` if it points at ``old`` (None: whatever it points at)."""

    @abstractmethod
    def list(self, prefix: str = "refs/") -> dict[RefName, ObjectId]:
        """Every ref under ``prefix`` and its id."""

    @abstractmethod
    def reflog(self, name: RefName) -> builtins.list[ReflogEntry]:
        """The updates of a ref, oldest first."""

    @abstractmethod
    def get_symbolic(self, name: RefName) -> RefName | None:
        """The target of a symbolic ref such as HEAD, or None."""

    @abstractmethod
    def set_symbolic(self, name: RefName, target: RefName) -> None:
        """Point a symbolic ref (HEAD) at another ref."""

    def moves_with_batch(self) -> bool:
        """Whether :meth:`move_with_batch` would make moves with the batch open in this thread."""
        return False

    def move_with_batch(self, moves: Sequence[RefMove], *, who: str = "", message: str = "") -> bool:
        """Have the object batch open in this thread make ``moves`` (one compare-and-swap of them all)
        in the transaction that writes its objects, so objects and refs land together or not at all:
        a move that loses makes the batch's end raise :class:`BranchMoved`, and nothing is written.
        False if this store cannot; the caller then moves the refs after the batch, as before."""
        return False

    def moved(self, moves: Sequence[RefMove]) -> None:
        """Told once moves made with a batch (:meth:`move_with_batch`) have landed."""

    def last_known(self, name: RefName) -> ObjectId | None:
        """Where ``name`` pointed when this process last looked or moved it, which may be stale: a
        first guess for a compare-and-swap, which reads the ref again only when the guess fails (a
        :class:`BranchMoved` carries the value found). Stores where reading is cheap read it."""
        return self.get(name)

    def group_queue(self) -> GroupQueue | None:
        """The queue that lets group commits of several processes on one branch be written together
        (:class:`GroupQueue`), or None where every process writes its own groups."""
        return None

    #: Whether :meth:`set_detached` works (a store HEAD is shared by every client keeps it on a branch).
    can_detach: bool = False

    def set_detached(self, name: RefName, oid: ObjectId) -> None:
        """Point HEAD straight at a commit (a detached HEAD), as git writes an id into HEAD."""
        raise Refused(DETACH_REFUSED)

    def add_if_new(self, name: RefName, new: ObjectId, *, who: str = "", message: str = "") -> None:
        """Create ``name``; raise :class:`BranchMoved` if it already exists."""
        self.set_if_equals(name, None, new, who=who, message=message)

    @abstractmethod
    def update_many(self, moves: Sequence[RefMove], *, who: str = "", message: str = "") -> None:
        """Apply several compare-and-swaps together: every ref must hold its ``old`` value, else
        :class:`BranchMoved` is raised for the first that does not and nothing changes. ``new`` None
        deletes the ref (its ``old`` must then be its value). Refs are named in full (no symbolic refs).
        """

    def close(self) -> None:
        """Release resources."""


class GroupQueue(ABC):
    """Group commits across processes: change sets of writers in other processes join one group.

    A process whose group lost a branch to another process (contention) submits its change sets,
    serialised (:meth:`submit`), then waits for the branch's turn (:meth:`take_turn`). The process
    that gets the turn holds it (turns come one after the other), builds every change set queued for
    the branch, from every process, on the head, and writes them with one compare-and-swap in the
    turn's transaction; the others find the results of theirs when their turn comes.
    """

    @abstractmethod
    def submit(self, ref: RefName, payloads: Sequence[bytes]) -> builtins.list[str] | None:
        """Queue ``payloads`` (in order) for ``ref``; their tickets, or None if ``ref`` does not exist
        (nothing is queued)."""

    @abstractmethod
    def take_turn(
        self,
        ref: RefName,
        tickets: Sequence[str],
        combine: Callable[[ObjectId, builtins.list[bytes]], builtins.list[bytes]],
    ) -> builtins.list[bytes] | None:
        """Wait for ``ref``'s turn; then the results of ``tickets``, in order.

        If another process wrote them meanwhile, their results are read. Else ``combine`` is called
        with the head and every payload queued for ``ref`` (oldest first, ``tickets``' among them) and
        returns a result for each; what it writes through the object batch (and the ref moves made with
        it) lands in the turn's transaction, with the results of the other processes' payloads. None if
        ``ref`` no longer exists (``tickets`` are taken off the queue). If the compare-and-swap of a
        turn fails (:class:`BranchMoved`: a writer that did not queue moved the ref), nothing of the
        turn is written, the payloads stay queued, and the error is raised: take the turn again."""

    @abstractmethod
    def busy(self, ref: RefName) -> bool:
        """Whether group commits on ``ref`` should queue first: another process wrote it lately."""

    @abstractmethod
    def contended(self, ref: RefName) -> None:
        """Told that a group on ``ref`` lost its compare-and-swap to another process."""


def check_moves(moves: Sequence[RefMove]) -> None:
    """Refuse a set of moves that names a ref twice, a symbolic ref, or no change at all."""
    seen: set[str] = set()
    for move in moves:
        if not move.ref.startswith("refs/"):
            raise BadInput(f"{move.ref}: only refs under refs/ move together")
        if move.ref in seen:
            raise BadInput(f"{move.ref} is named twice in one update")
        if move.new is not None and len(move.new) != 40:
            raise BadInput(f"not an object id: {move.new!r}")
        seen.add(move.ref)


class MemoryRefStore(RefStore):
    def __init__(self) -> None:
        self._refs: dict[RefName, ObjectId] = {}
        self._symbolic: dict[RefName, RefName] = {}
        self._logs: dict[RefName, list[ReflogEntry]] = {}
        self._lock = threading.Lock()

    def _resolve(self, name: RefName) -> RefName:
        return self._symbolic.get(name, name)

    def get(self, name: RefName) -> ObjectId | None:
        return self._refs.get(self._resolve(name))

    def set_if_equals(
        self, name: RefName, old: ObjectId | None, new: ObjectId, *, who: str = "", message: str = ""
    ) -> None:
        name = self._resolve(name)
        with self._lock:
            current = self._refs.get(name)
            if current != old:
                raise BranchMoved(name, old, current)
            if current is None:
                self._check_free(name)
            self._refs[name] = new
            entry = ReflogEntry(old or ZERO_ID, new, who, int(time.time()), message)
            self._logs.setdefault(name, []).append(entry)

    def _check_free(self, name: RefName) -> None:
        """As in git, a ref ``a`` and a ref ``a/b`` cannot both exist."""
        for other in self._refs:
            if other.startswith(name + "/") or name.startswith(other + "/"):
                raise BadInput(f"{name} cannot be created: {other} exists")

    def update_many(self, moves: Sequence[RefMove], *, who: str = "", message: str = "") -> None:
        check_moves(moves)
        with self._lock:
            for move in moves:
                current = self._refs.get(move.ref)
                if current != move.old:
                    raise BranchMoved(move.ref, move.old, current)
            for move in moves:
                if move.new is None:
                    del self._refs[move.ref]
                    self._logs.pop(move.ref, None)
                    continue
                if move.old is None:
                    self._check_free(move.ref)
                self._refs[move.ref] = move.new
                entry = ReflogEntry(move.old or ZERO_ID, move.new, who, int(time.time()), message)
                self._logs.setdefault(move.ref, []).append(entry)

    def remove_if_equals(
        self, name: RefName, old: ObjectId | None, *, who: str = "", message: str = ""
    ) -> None:
        name = self._resolve(name)
        with self._lock:
            current = self._refs.get(name)
            if current is None:
                raise NotFound(f"ref {name} does not exist")
            if old is not None and current != old:
                raise BranchMoved(name, old, current)
            del self._refs[name]
            self._logs.pop(name, None)

    def list(self, prefix: str = "refs/") -> dict[RefName, ObjectId]:
        return {k: v for k, v in sorted(self._refs.items()) if k.startswith(prefix)}

    def reflog(self, name: RefName) -> builtins.list[ReflogEntry]:
        return list(self._logs.get(self._resolve(name), []))

    def get_symbolic(self, name: RefName) -> RefName | None:
        return self._symbolic.get(name)

    def set_symbolic(self, name: RefName, target: RefName) -> None:
        self._symbolic[name] = target

    can_detach = True

    def set_detached(self, name: RefName, oid: ObjectId) -> None:
        with self._lock:
            self._symbolic.pop(name, None)
            self._refs[name] = oid
