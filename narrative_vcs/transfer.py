"""Moving history between repositories on any two backends: only missing objects travel.

A transfer sends the commits of a branch that the destination lacks, oldest first, in batches; each
batch holds every object its commits need that the destination may lack (the trees and blobs that
differ from the parents' trees), written before the commits that need them. So whatever the
destination holds is complete: a commit that is there has its whole history and snapshot there too, as
in git. A transfer killed halfway leaves the destination consistent and the next one sends the rest.
The destination's ref moves last, by compare-and-swap against the value read at the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from .errors import BranchMoved, NotFound, Refused
from .history import CommitInfo
from .objects import Tree
from .refs import branch_ref
from .repository import HEAD, Repository
from .types import ObjectId, RefName

__all__ = ["TransferResult", "copy_branch", "missing_commits"]

#: Commits a batch carries: one transaction (Neo4j) or one pack (git) each.
BATCH_COMMITS = 500


@dataclass(frozen=True)
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


def missing_commits(source: Repository, head: ObjectId, destination: Repository) -> list[CommitInfo]:
    """The commits reachable from ``head`` that ``destination`` lacks, parents before children.

    The walk stops at commits the destination's refs already reach (read from the source, which has
    them when it has fetched them before); what is left is checked against the destination in batches,
    which also finds the commits a killed transfer already wrote.
    """
    known = [oid for oid in destination.refs.list().values() if source.objects.has(oid)]
    have: set[ObjectId] = set()
    if known:
        have = {c.id for c in source.commits.walk(known)}
    order: list[CommitInfo] = []
    seen = set(have)
    stack = [head] if head not in seen else []
    seen.add(head)
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
    head = source.refs.get(ref)
    if head is None:
        raise NotFound(f"no branch {branch!r} to send")
    target = target or ref
    old = destination.refs.get(target)
    if old == head:
        return TransferResult(target, old, head, 0, 0)
    contained = old is None or (source.objects.has(old) and source.commits.is_ancestor(old, head))
    if not contained and not force:
        raise Refused(
            f"{target} there has commits that {branch} here does not contain: "
            "pull (fetch and merge) first, or force"
        )
    commits = missing_commits(source, head, destination)
    objects = 0
    done = 0
    # One batch is written (by a second thread: a server works meanwhile) while the next is read.
    # Batches are written one after another, in order, so the destination stays closed under
    # parents at every moment.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gvcs-transfer") as writer:
        pending: Future[None] | None = None
        for start in range(0, len(commits), BATCH_COMMITS):
            chunk = commits[start : start + BATCH_COMMITS]
            batch = list(_objects_of(source, chunk))
            objects += len(batch)
            if pending is not None:
                pending.result()
                done += BATCH_COMMITS
                if progress is not None:
                    progress(done, len(commits))
            pending = writer.submit(_write, destination, batch)
        if pending is not None:
            pending.result()
            if progress is not None:
                progress(len(commits), len(commits))
    try:
        destination.refs.set_if_equals(target, old, head, who="gvcs transfer", message=f"transfer: {branch}")
    except BranchMoved as exc:
        raise BranchMoved(exc.ref, exc.expected, exc.actual) from None
    if destination.refs.get_symbolic(HEAD) is None and target == ref:
        destination.set_head_branch(branch)  # a store that had no story yet: HEAD names its first branch
    destination.objects.maintain()
    return TransferResult(target, old, head, len(commits), objects)


def _write(destination: Repository, batch: list[tuple[str, bytes]]) -> None:
    with destination.objects.batch():
        for obj_type, data in batch:
            destination.objects.put(obj_type, data)


def _objects_of(source: Repository, commits: list[CommitInfo]) -> Iterator[tuple[str, bytes]]:
    """The objects of ``commits`` (in order) a destination holding their parents may lack: for each
    commit, the trees and blobs that differ from its first parent's, then the commit itself.

    Trees are read a level at a time for the whole batch (one round trip each on a server backend).
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
        if info.parents:
            parent_tree[info.id] = source.commits.get(info.parents[0]).tree
        else:
            parent_tree[info.id] = None
    # Breadth-first over (new tree, old tree) pairs of every commit, a level at a time.
    new_objects: dict[ObjectId, list[ObjectId]] = {info.id: [] for info in commits}
    blobs: set[ObjectId] = set()
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
                    blobs.add(entry.oid)
        level = following
    raw.update(store.get_many(blobs))
    raw.update(store.get_many(info.id for info in commits))
    sent: set[ObjectId] = set()
    for info in commits:
        for oid in new_objects[info.id]:
            if oid in sent:
                continue
            sent.add(oid)
            yield _need(raw, oid)
        yield _need(raw, info.id)


def _need(raw: dict[ObjectId, tuple[str, bytes]], oid: ObjectId) -> tuple[str, bytes]:
    found = raw.get(oid)
    if found is None:
        raise NotFound(f"object {oid} not found in the source")
    return found
