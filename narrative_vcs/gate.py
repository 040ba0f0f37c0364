"""The rules gate: the one choke point every ref move passes, whoever moves the ref.

A commit, a group commit, a merge or fast-forward, a cherry-pick, revert or rebase, a branch or tag made
or deleted, an event, a governance step, a push, pull or clone into a store: each ends in a ref moving,
and :class:`GatedRefs` (what :attr:`Repository.refs` is) hands every move to :class:`Gate` before the
backend's compare-and-swap. The gate finds the commits the move brings that the store has not verified
(reachable from the new value but not from the old one or from any branch or tag), checks each of them
against the rules, then checks each move as a whole, and refuses the whole set of moves otherwise: no ref
moves, and :class:`RuleBroken` says in one line which commit broke which rule.

The core defines the gate and calls it; it knows no rules of its own. Rule sets (:class:`Rule`) are
plugged in when a repository is opened (:mod:`narrative_vcs.rules`), so the rules that know events and
governance live above the core. Two kinds of check:

- :meth:`Rule.check_commit` sees one commit and its ancestors only (its parents' snapshots, the history
  behind it). Its verdict never changes, so a commit is verified once per process and commits already
  reachable from a branch or tag are not checked again.
- :meth:`Rule.check_move` sees one ref move among the others of the same update: where every ref will
  be afterwards (:meth:`MoveCheck.head`), and the first-parent line from the old value to the new.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import BranchMoved, GvcsError, NotFound, Refused
from .history import CommitInfo
from .refs import HEADS, STASHES, TAGS, GroupQueue, ReflogEntry, RefMove, RefStore, check_moves
from .snapshot import TreeDiff
from .types import ObjectId, RefName

if TYPE_CHECKING:
    import builtins

    from .repository import Repository as RepositoryBase

__all__ = ["CommitCheck", "Gate", "GatedRefs", "MoveCheck", "Problem", "Rule", "RuleBroken"]


#: Refs whose history the gate has verified: what they reach is not checked again.
VERIFIED_PREFIXES = (HEADS, TAGS)
#: Refs that hold fetched history unverified, until it is merged into a branch.
UNVERIFIED_PREFIXES = ("refs/remotes/", STASHES)
#: Commits from which a check tells the store that many reads follow (ObjectStore.reading_many).
MANY = 500


class RuleBroken(Refused):
    """A ref move the story's rules refuse: one line naming the commit (if one is at fault), what is
    wrong, and the rule."""

    def __init__(
        self, rule: str, message: str, *, commit: CommitInfo | None = None, ref: str | None = None
    ) -> None:
        where = f"commit {commit.short_id} by {commit.actor}: " if commit is not None else ""
        if ref is not None:
            where = f"{ref}: {where}"
        super().__init__(f"{where}{message} (rule: {rule})")
        self.rule = rule
        self.reason = message
        self.commit = commit.id if commit is not None else None
        self.ref = ref


class Rule:
    """A set of the story's rules, named for what it guards. Subclasses override what they check."""

    name = "rule"

    def check_commit(self, check: CommitCheck) -> None:
        """Refuse (:meth:`CommitCheck.fail`) a commit that breaks the rule, from the commit and its
        ancestors alone."""

    def check_move(self, check: MoveCheck) -> None:
        """Refuse (:meth:`MoveCheck.fail`) a ref move that breaks the rule."""

    def moved(self, repo: RepositoryBase, moves: Sequence[RefMove]) -> None:
        """Called once moves have landed (to announce them); must not raise."""

    def companions(self, repo: RepositoryBase, ref: RefName, head: ObjectId) -> Iterable[ObjectId]:
        """Commits outside ``head``'s history that the history names and that checking it needs (a
        proposal's target): a transfer sends them along."""
        return ()


class Session:
    """One check of a set of moves: where the refs will be, and what was read along the way."""

    def __init__(self, repo: RepositoryBase, gate: Gate, moves: Sequence[RefMove]) -> None:
        self.repo = repo
        self.gate = gate
        self.moves = list(moves)
        self.after: dict[RefName, ObjectId | None] = {m.ref: m.new for m in moves}

    def head(self, ref: str) -> ObjectId | None:
        """Where ``ref`` will point once the moves landed."""
        name = RefName(ref)
        if name in self.after:
            return self.after[name]
        return self.repo.refs.get(name)

    def branch_head(self, branch: str) -> ObjectId | None:
        return self.head(HEADS + branch)


class CommitCheck:
    """One commit a move brings: the commit, its first parent's snapshot and what changed against it."""

    def __init__(self, session: Session, info: CommitInfo) -> None:
        self.session = session
        self.repo = session.repo
        self.info = info

    @property
    def gate(self) -> Gate:
        return self.session.gate

    @cached_property
    def parents(self) -> list[CommitInfo]:
        return [self.repo.commits.get(p) for p in self.info.parents]

    @cached_property
    def parent_tree(self) -> ObjectId | None:
        """The first parent's tree (None for a root commit)."""
        return self.parents[0].tree if self.parents else None

    @cached_property
    def changes(self) -> list[TreeDiff]:
        """Every file that differs from the first parent (everything, for a root commit)."""
        return self.repo.snapshots.diff(self.parent_tree, self.info.tree)

    def fail(self, rule: str, message: str) -> NoReturn:
        raise RuleBroken(rule, message, commit=self.info)


class MoveCheck:
    """One ref move among the moves of an update."""

    def __init__(self, session: Session, move: RefMove, new_commits: list[CommitInfo]) -> None:
        self.session = session
        self.repo = session.repo
        self.move = move
        self.new_commits = new_commits  # the commits this move brings that nothing verified had

    @property
    def gate(self) -> Gate:
        return self.session.gate

    def head(self, ref: str) -> ObjectId | None:
        return self.session.head(ref)

    def first_parents(self) -> list[CommitInfo] | None:
        """The commits from the old value (excluded) to the new one along first parents, oldest first;
        None when the old value is not on that line (the move is not a fast-forward)."""
        old, new = self.move.old, self.move.new
        if new is None:
            return None
        line: list[CommitInfo] = []
        for info in self.repo.commits.walk([new], first_parent=True):
            if info.id == old:
                return line[::-1]
            line.append(info)
        return line[::-1] if old is None else None

    def fail(self, rule: str, message: str, commit: CommitInfo | None = None) -> NoReturn:
        raise RuleBroken(rule, message, commit=commit)


class Problem:
    """A commit or ref that breaks a rule, as :meth:`Gate.audit` reports it."""

    def __init__(self, error: RuleBroken, ref: str | None = None) -> None:
        self.error = error
        self.ref = ref

    @property
    def commit(self) -> ObjectId | None:
        return self.error.commit

    def __str__(self) -> str:
        return f"{self.ref}: {self.error}" if self.ref and self.error.commit is None else str(self.error)


AUTHORSHIP = "authorship"


def check_authorship(info: CommitInfo, pusher: str) -> None:
    """A pushed commit new to the story is the pusher's: authored as ``Name <pusher@actors.gvcs>``, and
    naming no other actor in a ``Gvcs-Actor`` trailer (one actor cannot write in another's name)."""
    expected = f"{pusher}@actors.gvcs"
    if info.email != expected or info.actor != pusher:
        raise RuleBroken(
            AUTHORSHIP,
            f"commits pushed by {pusher} must be authored by {pusher} (Name <{expected}>), not {info.email}",
            commit=info,
        )


class Gate:
    """Checks sets of ref moves against rule sets; remembers the commits it verified."""

    def __init__(
        self, rules: Sequence[Rule] | Callable[[], Sequence[Rule]] = (), *, memory: int = 200_000
    ) -> None:
        # Rules may come as a function, called at the first check: a command that moves no ref (log,
        # status) does not import them.
        self._rules: list[Rule] | None = None if callable(rules) else list(rules)
        self._rules_from = rules if callable(rules) else None
        self._verified: OrderedDict[ObjectId, None] = OrderedDict()
        # Commits that passed the commit rules ahead of their move (precheck): the move's check works out
        # what it brings and checks the move as ever, but does not check these commits again.
        self._passed: OrderedDict[ObjectId, None] = OrderedDict()
        self._memory = memory
        self._lock = threading.Lock()
        #: Caches rules keep per repository and process (parsed settings, and the like), by name.
        self.caches: dict[str, Any] = {}

    @property
    def rules(self) -> list[Rule]:
        """The rules, in the order they are checked."""
        if self._rules is None:
            source = self._rules_from
            self._rules = list(source()) if source is not None else []
        return self._rules

    @property
    def active(self) -> bool:
        return bool(self.rules)

    # --- checking ---------------------------------------------------------------------------------

    def check(self, repo: RepositoryBase, moves: Sequence[RefMove], *, pusher: str | None = None) -> None:
        """Refuse ``moves`` (raise :class:`RuleBroken`) unless every rule lets every one through.

        Remote-tracking refs hold what was fetched as it is: their commits are checked when they are
        merged or fast-forwarded into a branch, not before. ``pusher``: the actor who sends the moves
        over a wire (a git push): every commit they bring that no ref held before must be authored by
        that actor (:func:`check_authorship`), whatever the rules."""
        moves = [m for m in moves if m.old != m.new]
        if pusher is not None and moves:
            for move in moves:
                if move.new is not None:
                    self._require_commit(repo, move)
            for info in self.new_commits(repo, moves):
                check_authorship(info, pusher)
        if not self.rules or not moves:
            return
        session = Session(repo, self, moves)
        for move in moves:
            if move.new is not None:
                self._require_commit(repo, move)
        checked = [m for m in moves if not m.ref.startswith(UNVERIFIED_PREFIXES)]
        fresh = self.new_commits(repo, checked) if checked else []
        by_move = self._by_move(repo, checked, fresh)
        with repo.objects.reading_many() if len(fresh) >= MANY else nullcontext():
            for info in fresh:
                if info.id in self._passed:
                    continue
                try:
                    self.check_commit(session, info)
                except RuleBroken as exc:
                    if len(checked) > 1:  # say which of the refs brought it
                        ref = next((r for r, found in by_move.items() if info in found), None)
                        raise RuleBroken(exc.rule, exc.reason, commit=info, ref=ref) from None
                    raise
        for move in moves:
            check = MoveCheck(session, move, by_move.get(move.ref, []))
            for rule in self.rules:
                rule.check_move(check)
        self.remember(info.id for info in fresh)

    def precheck(self, repo: RepositoryBase, commits: Iterable[ObjectId]) -> bool:
        """Check ``commits`` (stored, with their ancestors) against the commit rules ahead of the move
        that will bring them, parents first, and remember those that pass: a transfer checks each batch
        it has written while it writes the next. The move's :meth:`check` still works out every commit
        it brings and checks the move as a whole; it only skips the commit rules for these (a commit's
        verdict never changes). False at the first commit that fails: the move's check finds it again
        and refuses with its usual error."""
        if not self.rules:
            return True
        session = Session(repo, self, [])
        ids = list(commits)
        with repo.objects.reading_many() if len(ids) >= MANY else nullcontext():
            repo.commits.read_many(ids)
            for oid in ids:
                if oid in self._passed or self.verified(oid):
                    continue
                try:
                    self.check_commit(session, self._info(repo, oid))
                except RuleBroken:
                    return False
                with self._lock:
                    self._passed[oid] = None
                    if len(self._passed) > self._memory:
                        self._passed.popitem(last=False)
        return True

    def check_commit(self, session: Session, info: CommitInfo) -> None:
        check = CommitCheck(session, info)
        for rule in self.rules:
            try:
                rule.check_commit(check)
            except RuleBroken:
                raise
            except NotFound as exc:
                raise RuleBroken(rule.name, f"an object it needs is missing ({exc})", commit=info) from None
            except GvcsError as exc:
                raise RuleBroken(rule.name, str(exc), commit=info) from None

    def moved(self, repo: RepositoryBase, moves: Sequence[RefMove]) -> None:
        for rule in self.rules:
            try:
                rule.moved(repo, moves)
            except Exception:  # the moves landed: an announcement that fails must not undo them
                import logging  # only on this rare path: logging costs a cold command milliseconds

                logging.getLogger("gvcs.gate").exception("rule %s failed to announce a ref move", rule.name)

    def companions(self, repo: RepositoryBase, ref: RefName, head: ObjectId) -> list[ObjectId]:
        """What every rule says must travel with ``ref`` at ``head`` (see :meth:`Rule.companions`)."""
        found: dict[ObjectId, None] = {}
        for rule in self.rules:
            found.update(dict.fromkeys(rule.companions(repo, ref, head)))
        return list(found)

    def remember(self, commits: Iterable[ObjectId]) -> None:
        with self._lock:
            for oid in commits:
                self._verified[oid] = None
            while len(self._verified) > self._memory:
                self._verified.popitem(last=False)

    def verified(self, oid: ObjectId) -> bool:
        return oid in self._verified

    @staticmethod
    def _require_commit(repo: RepositoryBase, move: RefMove) -> None:
        assert move.new is not None
        try:
            obj_type = repo.objects.get(move.new)[0]
        except NotFound:
            raise RuleBroken("refs", f"{move.ref} cannot point at {move.new[:10]}: no such object") from None
        if obj_type != "commit":
            raise RuleBroken("refs", f"{move.ref} must point at a commit, not a {obj_type} ({move.new[:10]})")

    # --- the commits a move brings ------------------------------------------------------------------

    def new_commits(self, repo: RepositoryBase, moves: Sequence[RefMove]) -> list[CommitInfo]:
        """The commits reachable from the new values and from nothing verified (the old values, every
        branch and tag, commits this gate verified before), parents first.

        Most moves add a few commits on top of the old value: a short walk that stops at old values and
        verified commits finds them. Otherwise the history is painted as ``git rev-list NEW --not
        VERIFIED`` does, newest first by commit time; a wrong commit time only makes the walk longer, it
        never leaves a new commit out.
        """
        olds = {m.old for m in moves if m.old is not None}
        include = [m.new for m in moves if m.new is not None]
        fresh = self._short_walk(repo, include, olds)
        if fresh is None:
            fresh = self._paint(repo, include, olds)
        if len(fresh) == 1:  # the usual move: one commit on top of the old value
            return [repo.commits.get(next(iter(fresh)))]
        return self._parents_first(repo, fresh)

    def _short_walk(
        self, repo: RepositoryBase, include: list[ObjectId], olds: set[ObjectId], limit: int = 256
    ) -> set[ObjectId] | None:
        fresh: set[ObjectId] = set()
        stack = list(include)
        while stack:
            oid = stack.pop()
            if oid in fresh or oid in olds or self.verified(oid):
                continue
            if len(fresh) >= limit:
                return None
            fresh.add(oid)
            parents = self._info(repo, oid).parents
            if not parents and oid not in include:
                return None  # an old root: is it in a branch's history? Only painting can tell.
            stack.extend(parents)
        return fresh

    def _paint(self, repo: RepositoryBase, include: list[ObjectId], olds: set[ObjectId]) -> set[ObjectId]:
        exclude = set(olds)
        exclude.update(
            oid for ref, oid in repo.refs.list("refs/").items() if ref.startswith(VERIFIED_PREFIXES)
        )
        flags: dict[ObjectId, bool] = {}  # True: new, False: reached from something verified
        queue: list[tuple[int, int, ObjectId]] = []
        live = 0  # queued commits still marked new
        order = 0

        def push(oid: ObjectId, new: bool) -> None:
            nonlocal live, order
            info = self._info(repo, oid)
            flags[oid] = new
            live += new
            order += 1
            heapq.heappush(queue, (-info.time, order, oid))

        for oid in exclude:
            if repo.objects.has(oid):
                push(oid, False)
        for oid in include:
            if oid not in flags:
                push(oid, not self.verified(oid))
        while queue and live:
            _, _, oid = heapq.heappop(queue)
            new = flags[oid]
            live -= new
            for parent in self._info(repo, oid).parents:
                seen = flags.get(parent)
                if seen is None:
                    push(parent, new and not self.verified(parent))
                elif seen and not new:
                    push(parent, False)  # reached from something verified after all: tell its parents
        return {oid for oid, new in flags.items() if new}

    def _info(self, repo: RepositoryBase, oid: ObjectId) -> CommitInfo:
        try:
            return repo.commits.get(oid)
        except NotFound:
            raise RuleBroken("objects", f"commit {oid[:10]} is missing from the store") from None
        except GvcsError as exc:
            raise RuleBroken("objects", f"commit {oid[:10]} does not parse ({exc})") from None

    def _parents_first(self, repo: RepositoryBase, fresh: set[ObjectId]) -> list[CommitInfo]:
        out: list[CommitInfo] = []
        done: set[ObjectId] = set()
        for start in sorted(fresh):
            stack = [start]
            while stack:
                oid = stack[-1]
                if oid in done:
                    stack.pop()
                    continue
                pending = [p for p in repo.commits.get(oid).parents if p in fresh and p not in done]
                if pending:
                    stack.extend(pending)
                    continue
                stack.pop()
                done.add(oid)
                out.append(repo.commits.get(oid))
        return out

    def _by_move(
        self, repo: RepositoryBase, moves: Sequence[RefMove], fresh: list[CommitInfo]
    ) -> dict[RefName, list[CommitInfo]]:
        """The new commits each move brings (reachable from its new value)."""
        if len(moves) == 1:
            return {moves[0].ref: fresh}
        ids = {info.id: info for info in fresh}
        out: dict[RefName, list[CommitInfo]] = {}
        for move in moves:
            if move.new is None:
                continue
            reach: set[ObjectId] = set()
            stack = [move.new] if move.new in ids else []
            while stack:
                oid = stack.pop()
                if oid in reach:
                    continue
                reach.add(oid)
                stack.extend(p for p in ids[oid].parents if p in ids)
            out[move.ref] = [info for info in fresh if info.id in reach]
        return out

    # --- auditing a history -------------------------------------------------------------------------

    def audit(
        self, repo: RepositoryBase, heads: dict[RefName, ObjectId], *, progress: Any = None
    ) -> tuple[list[Problem], int]:
        """Every commit reachable from ``heads`` and every step of each head's first-parent line,
        checked as if each had just arrived; one :class:`Problem` per commit or step that breaks a rule.
        Other refs count as they are now (a protected merge's proposal is looked up on today's
        governance branch). Returns the problems and how many commits were checked."""
        with repo.objects.reading_many():
            return self._audit(repo, heads, progress)

    def _audit(
        self, repo: RepositoryBase, heads: dict[RefName, ObjectId], progress: Any
    ) -> tuple[list[Problem], int]:
        problems: list[Problem] = []
        session = Session(repo, self, [])
        commits = self._parents_first(repo, self._reachable(repo, heads.values()))
        bad: set[ObjectId] = set()
        for n, info in enumerate(commits, 1):
            try:
                self.check_commit(session, info)
            except RuleBroken as exc:
                problems.append(Problem(exc))
                bad.add(info.id)
            if progress is not None:
                progress(n, len(commits))
        for ref, head in sorted(heads.items()):
            if ref.startswith(HEADS):
                problems.extend(self._audit_line(repo, ref, head, bad))
        return problems, len(commits)

    def _audit_line(
        self, repo: RepositoryBase, ref: RefName, head: ObjectId, bad: set[ObjectId]
    ) -> Iterator[Problem]:
        line = list(repo.commits.walk([head], first_parent=True))[::-1]
        previous: ObjectId | None = None
        for info in line:
            move = RefMove(ref, previous, info.id)
            session = Session(repo, self, [move])
            check = MoveCheck(session, move, [info])
            try:
                for rule in self.rules:
                    rule.check_move(check)
            except RuleBroken as exc:
                if exc.commit is None or exc.commit not in bad:
                    yield Problem(
                        exc if exc.commit is not None else RuleBroken(exc.rule, exc.reason, commit=info), ref
                    )
            previous = info.id

    @staticmethod
    def _reachable(repo: RepositoryBase, heads: Iterable[ObjectId]) -> set[ObjectId]:
        seen: set[ObjectId] = set()
        stack = list(heads)
        while stack:
            oid = stack.pop()
            if oid in seen:
                continue
            seen.add(oid)
            stack.extend(repo.commits.get(oid).parents)
        return seen


class GatedRefs(RefStore):
    """A backend's ref store with every move passed through the gate first.

    :meth:`check` lets a writer ask before it writes anything (a refused commit then leaves no objects
    behind); the move itself is checked again when it happens, which costs little because the gate
    remembers the commits it verified.
    """

    def __init__(self, inner: RefStore, gate: Gate, repo: RepositoryBase) -> None:
        self.inner = inner
        self.gate = gate
        self.repo = repo

    # --- reading: the backend's -----------------------------------------------------------------------

    def get(self, name: RefName) -> ObjectId | None:
        return self.inner.get(name)

    def last_known(self, name: RefName) -> ObjectId | None:
        return self.inner.last_known(name)

    def group_queue(self) -> GroupQueue | None:
        # The group's move goes through move_with_batch, hence through the gate, as any other.
        return self.inner.group_queue()

    def list(self, prefix: str = "refs/") -> dict[RefName, ObjectId]:
        return self.inner.list(prefix)

    def reflog(self, name: RefName) -> builtins.list[ReflogEntry]:
        return self.inner.reflog(name)

    def get_symbolic(self, name: RefName) -> RefName | None:
        return self.inner.get_symbolic(name)

    def set_symbolic(self, name: RefName, target: RefName) -> None:
        self.inner.set_symbolic(name, target)

    @property
    def can_detach(self) -> bool:  # type: ignore[override]
        return self.inner.can_detach

    def set_detached(self, name: RefName, oid: ObjectId) -> None:
        """Detach HEAD at a commit the store holds (it moves no branch: nothing to verify)."""
        self._require_commit(self.repo, RefMove(name, None, oid))
        self.inner.set_detached(name, oid)

    def close(self) -> None:
        self.inner.close()

    # --- moving: through the gate ---------------------------------------------------------------------

    def check(self, moves: Sequence[RefMove]) -> None:
        """Raise what the gate would raise for ``moves`` now, without moving anything."""
        self.gate.check(self.repo, [self._resolved(m) for m in moves])

    def set_if_equals(
        self, name: RefName, old: ObjectId | None, new: ObjectId, *, who: str = "", message: str = ""
    ) -> None:
        move = self._resolved(RefMove(name, old, new))
        self.gate.check(self.repo, [move])
        self.inner.set_if_equals(name, old, new, who=who, message=message)
        self.gate.moved(self.repo, [move])

    def remove_if_equals(
        self, name: RefName, old: ObjectId | None, *, who: str = "", message: str = ""
    ) -> None:
        target = self._target(name)
        current = old if old is not None else self.inner.get(target)
        if current is None:
            raise NotFound(f"ref {target} does not exist")
        move = RefMove(target, current, None)
        self.gate.check(self.repo, [move])
        try:
            self.inner.remove_if_equals(target, current, who=who, message=message)
        except BranchMoved:
            raise
        self.gate.moved(self.repo, [move])

    def update_many(self, moves: Sequence[RefMove], *, who: str = "", message: str = "") -> None:
        check_moves(moves)
        self.gate.check(self.repo, moves)
        self.inner.update_many(moves, who=who, message=message)
        self.gate.moved(self.repo, moves)

    def update_pushed(self, moves: Sequence[RefMove], pusher: str, *, message: str = "push") -> None:
        """:meth:`update_many` for moves a ``pusher`` sends over a wire: the commits they bring must be
        the pusher's too (see :meth:`Gate.check`)."""
        check_moves(moves)
        self.gate.check(self.repo, moves, pusher=pusher)
        self.inner.update_many(moves, who=pusher, message=message)
        self.gate.moved(self.repo, moves)

    def move_with_batch(self, moves: Sequence[RefMove], *, who: str = "", message: str = "") -> bool:
        """Check ``moves`` now, then have the open batch make them (see :meth:`RefStore.move_with_batch`);
        :meth:`moved` announces them once they landed."""
        if not self.inner.moves_with_batch():
            return False  # the caller moves the refs after the batch, through the gate as ever
        check_moves(moves)
        resolved = [self._resolved(m) for m in moves]
        self.gate.check(self.repo, resolved)
        return self.inner.move_with_batch(resolved, who=who, message=message)

    def moved(self, moves: Sequence[RefMove]) -> None:
        resolved = [self._resolved(m) for m in moves]
        self.inner.moved(resolved)
        self.gate.moved(self.repo, resolved)

    _require_commit = staticmethod(Gate._require_commit)

    def _target(self, name: RefName) -> RefName:
        return name if name.startswith("refs/") else self.inner.get_symbolic(name) or name

    def _resolved(self, move: RefMove) -> RefMove:
        target = self._target(move.ref)
        return move if target == move.ref else RefMove(target, move.old, move.new)
