"""Moving history between repositories on any two backends: only missing objects travel.

A transfer sends the commits of a branch that the destination lacks, oldest first, in batches; each
batch holds every object its commits need that the destination may lack (the trees and blobs that
differ from the parents' trees), written before the commits that need them. So whatever the
destination holds is complete: a commit that is there has its whole history and snapshot there too, as
in git. A transfer killed halfway leaves the destination consistent and the next one sends the rest.
The destination's ref moves last, by compare-and-swap against the value read at the start.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

from .errors import BranchMoved, GvcsError, NotFound, Refused
from .history import CommitInfo
from .objects import Tree
from .records import record
from .refs import HEADS, TAGS, RefMove, branch_ref
from .repository import HEAD, Repository
from .types import ObjectId, RefName

__all__ = ["TransferResult", "copy_branch", "copy_refs", "following_tags", "missing_commits", "plan_objects"]

#: Commits a batch carries: one transaction (Neo4j) or one pack (git) each.
BATCH_COMMITS = 500


@record
class TransferResult:
    """What a transfer did: the ref, its old and new value, and what travelled."""

    ref: RefName
    old: ObjectId | None
    new: ObjectId
    commits: int
    objects: int

    @property
    def up_to_date(self) -> bool:
        return self.old == self.new


def missing_commits(
    source: Repository, head: ObjectId | Sequence[ObjectId], destination: Repository
) -> list[CommitInfo]:
    """The commits reachable from ``head`` (one id or several) that ``destination`` lacks, parents before
    children.

    The walk stops at commits the destination's refs already reach (read from the source, which has
    them when it has fetched them before); what is left is checked against the destination in batches,
    which also finds the commits a killed transfer already wrote.
    """
    heads = [head] if isinstance(head, str) else list(head)
    known = [oid for oid in destination.refs.list().values() if source.objects.has(oid)]
    have: set[ObjectId] = set()
    if known:
        have = {c.id for c in source.commits.walk(known)}
    order: list[CommitInfo] = []
    seen = set(have)
    stack = [h for h in dict.fromkeys(heads) if h not in seen]
    seen.update(stack)
    while stack:  # depth-first post-order: parents before children
        oid = stack[-1]
        info = source.commits.get(oid)
        pending = [p for p in info.parents if p not in seen]
        if pending:
            seen.update(pending)
            stack.extend(pending)
            continue
        stack.pop()
        order.append(info)
    absent: set[ObjectId] = set()
    for start in range(0, len(order), 10_000):
        absent |= destination.objects.missing(c.id for c in order[start : start + 10_000])
    return [c for c in order if c.id in absent]


def copy_branch(
    source: Repository,
    destination: Repository,
    branch: str,
    *,
    target: RefName | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> TransferResult:
    """Copy ``branch`` of ``source`` into ``target`` (default: the same branch) of ``destination``.

    Refused when the destination's ref holds commits the source's branch does not contain, unless
    ``force``. Raises :class:`BranchMoved` if the destination's ref moved during the transfer.
    """
    ref = branch_ref(branch)
    return copy_refs(source, destination, [(ref, target or ref)], force=force, progress=progress)[0]


def copy_refs(
    source: Repository,
    destination: Repository,
    refs: Sequence[tuple[RefName, RefName]],
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[TransferResult]:
    """Copy each ``(source ref, destination ref)`` pair: the history all of them need, then one
    compare-and-swap of every destination ref together, through the destination's gate, so a push that
    brings governance and a protected branch is verified as one (and lands whole or not at all).

    With the refs travel the commits their history names (a proposal's target and source heads, for
    one), so the destination can verify what it receives. A ref whose destination holds commits the
    source's does not contain is refused unless ``force``; the gate may refuse a force all the same.
    """
    plans: list[tuple[RefName, RefName, ObjectId, ObjectId | None]] = []
    for src, dst in refs:
        head = source.refs.get(src)
        if head is None:
            raise NotFound(f"no {_what(src)} to send")
        old = destination.refs.get(dst)
        contained = old is None or (source.objects.has(old) and source.commits.is_ancestor(old, head))
        if old != head and not contained and not force:
            raise Refused(
                f"{dst} there has commits that {_what(src)} here does not contain: pull (fetch and merge) "
                "first, or force"
            )
        plans.append((src, dst, head, old))
    moving = [p for p in plans if p[2] != p[3]]
    roots: list[ObjectId] = []
    for src, _dst, head, _old in moving:
        roots.append(head)
        roots.extend(oid for oid in source.gate.companions(source, src, head) if source.objects.has(oid))
    with _collector_paused():
        commits = missing_commits(source, roots, destination) if moving else []
        objects = _send(source, destination, commits, progress)
        if moving:
            moves = [RefMove(dst, old, head) for _src, dst, head, old in moving]
            try:
                destination.refs.update_many(moves, who="gvcs transfer", message="transfer")
            except BranchMoved as exc:
                raise BranchMoved(exc.ref, exc.expected, exc.actual) from None
    if moving:
        first = moving[0][1]
        if destination.refs.get_symbolic(HEAD) is None and first.startswith(HEADS):
            destination.set_head_branch(first[len(HEADS) :])  # a store without a story yet: its first branch
        destination.objects.maintain()
    sent = {c.id: c for c in commits}
    # The objects sent are told of a ref when it is the only one that carried history (tags follow it).
    carriers = [p for p in moving if not p[1].startswith(TAGS)]
    results = []
    for _src, dst, head, old in plans:
        count = _reached(sent, head) if old != head else 0
        alone = len(carriers) == 1 and carriers[0][1] == dst
        results.append(TransferResult(dst, old, head, count, objects if count and alone else 0))
    return results


def following_tags(
    source: Repository, destination: Repository, heads: Sequence[ObjectId | None]
) -> list[tuple[RefName, RefName]]:
    """The tags of ``source`` that ``destination`` lacks and that point into the history of ``heads``
    (commits of ``source``): the tags a push or a pull of those heads takes along, as git's
    ``--follow-tags`` does. A tag the destination holds already is left as it is there (tags do not
    move)."""
    starts = [h for h in heads if h is not None]
    if not starts:
        return []
    theirs = destination.refs.list(TAGS)
    pairs: list[tuple[RefName, RefName]] = []
    for ref, target in sorted(source.refs.list(TAGS).items()):
        if ref in theirs:
            continue
        try:
            commit = source.commits.get(target).id
        except GvcsError:
            continue  # an annotated tag or a damaged one: not followed
        if any(commit == head or source.commits.is_ancestor(commit, head) for head in starts):
            pairs.append((ref, ref))
    return pairs


def _reached(sent: dict[ObjectId, CommitInfo], head: ObjectId) -> int:
    """How many of the commits sent ``head`` reaches."""
    seen: set[ObjectId] = set()
    stack = [head] if head in sent else []
    while stack:
        oid = stack.pop()
        if oid in seen:
            continue
        seen.add(oid)
        stack.extend(p for p in sent[oid].parents if p in sent)
    return len(seen)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic collector paused: a long transfer keeps hundreds of thousands of objects alive
    (commits, trees, caches of both stores) and makes no cycles worth collecting meanwhile, so each of
    its passes only walked them all again (a tenth of a long push). It runs again afterwards."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _what(ref: RefName) -> str:
    for prefix, kind in ((HEADS, "branch"), (TAGS, "tag")):
        if ref.startswith(prefix):
            return f"{kind} {ref[len(prefix) :]!r}"
    return repr(ref)


def _send(
    source: Repository,
    destination: Repository,
    commits: list[CommitInfo],
    progress: Callable[[int, int], None] | None,
) -> int:
    """Write the objects of ``commits`` into ``destination``, parents first, in batches; how many."""
    objects = 0
    done = 0
    batches = [commits[start : start + BATCH_COMMITS] for start in range(0, len(commits), BATCH_COMMITS)]
    # One batch is written (by a second thread: a server works meanwhile) while the next is read, and
    # the commits of the batch written before are checked against the destination's rules (by a third:
    # the ref move then checks only the last batch's). Batches are written one after another, in order,
    # so the destination stays closed under parents at every moment.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="gvcs-transfer") as writer,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="gvcs-transfer-check") as checker,
    ):
        pending: Future[None] | None = None
        checks: list[Future[None]] = []
        stop = threading.Event()  # a commit broke a rule: the ref move's check finds it again
        for n, chunk in enumerate(batches):
            batch = list(_objects_of(source, chunk))
            objects += len(batch)
            # Worked out while the batch before is written (a Neo4j store's packs and projection).
            prepared = destination.objects.prepare_write(batch)
            try:
                if pending is not None:
                    pending.result()
                    done += BATCH_COMMITS
                    if progress is not None:
                        progress(done, len(commits))
            except BaseException:
                prepared.discard()
                raise
            pending = writer.submit(prepared.write)
            if n < len(batches) - 1:
                checks.append(checker.submit(_precheck, destination, pending, [c.id for c in chunk], stop))
        if pending is not None:
            pending.result()
            if progress is not None:
                progress(len(commits), len(commits))
        for check in checks:
            check.result()
    return objects


def _precheck(
    destination: Repository, written: Future[None], ids: list[ObjectId], stop: threading.Event
) -> None:
    """Check the commits of a batch once it is written (see :meth:`Gate.precheck`); nothing more once a
    batch failed to be written or a commit broke a rule (the ref move's check finds it again)."""
    if stop.is_set() or written.exception() is not None:
        return
    if not destination.gate.precheck(destination, ids):
        stop.set()


def _objects_of(source: Repository, commits: list[CommitInfo]) -> Iterator[tuple[str, bytes]]:
    """The objects of ``commits`` (in order) a destination holding their parents may lack: for each
    commit, the trees and blobs that differ from its first parent's, then the commit itself."""
    order, raw = plan_objects(source, commits)
    store = source.objects
    raw.update(store.get_many(oid for oid in order if oid not in raw))
    for oid in order:
        yield _need(raw, oid)


def plan_objects(
    source: Repository, commits: Sequence[CommitInfo], *, whole: Collection[ObjectId] = ()
) -> tuple[list[ObjectId], dict[ObjectId, tuple[str, bytes]]]:
    """The ids of the objects of ``commits`` (in order) that a holder of their parents may lack: for each
    commit, the trees and blobs that differ from its first parent's (its whole tree for a root commit
    and for the commits in ``whole``, whose parents the holder lacks: a shallow clone's edge), then the
    commit itself, each id once. Also the trees read on the way, raw.

    Trees are read a level at a time for all the commits (one round trip each on a server backend).
    """
    store = source.objects
    trees: dict[ObjectId, Tree] = {}
    raw: dict[ObjectId, tuple[str, bytes]] = {}

    def load(ids: Iterable[ObjectId]) -> None:
        wanted = [oid for oid in dict.fromkeys(ids) if oid not in trees]
        found = store.get_many(wanted)
        for oid in wanted:
            if oid not in found:
                raise NotFound(f"object {oid} not found in the source")
            raw[oid] = found[oid]
            trees[oid] = Tree.parse(found[oid][1])

    parent_tree: dict[ObjectId, ObjectId | None] = {}
    for info in commits:
        if info.parents and info.id not in whole:
            parent_tree[info.id] = source.commits.get(info.parents[0]).tree
        else:
            parent_tree[info.id] = None
    # Breadth-first over (new tree, old tree) pairs of every commit, a level at a time.
    new_objects: dict[ObjectId, list[ObjectId]] = {info.id: [] for info in commits}
    level: list[tuple[ObjectId, ObjectId, ObjectId | None]] = [
        (info.id, info.tree, parent_tree[info.id]) for info in commits if info.tree != parent_tree[info.id]
    ]
    while level:
        load(t for _, new, old in level for t in (new, old) if t is not None)
        following: list[tuple[ObjectId, ObjectId, ObjectId | None]] = []
        for commit, new, old in level:
            new_objects[commit].append(new)
            before = trees[old].entries if old is not None else {}
            for name, entry in trees[new].entries.items():
                prior = before.get(name)
                if prior is not None and prior.oid == entry.oid:
                    continue
                if entry.is_tree:
                    following.append((commit, entry.oid, prior.oid if prior and prior.is_tree else None))
                else:
                    new_objects[commit].append(entry.oid)
        level = following
    order: list[ObjectId] = []
    sent: set[ObjectId] = set()
    for info in commits:
        for oid in new_objects[info.id]:
            if oid not in sent:
                sent.add(oid)
                order.append(oid)
        order.append(info.id)
    return order, raw


def _need(raw: dict[ObjectId, tuple[str, bytes]], oid: ObjectId) -> tuple[str, bytes]:
    found = raw.get(oid)
    if found is None:
        raise NotFound(f"object {oid} not found in the source")
    return found
