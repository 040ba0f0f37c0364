"""The base of a repository: an object store, a ref store and an access store, injected.

The repository API is composed in layers, each a module with one concern, as Irmin composes its store:
:mod:`.branches` (refs and revisions), :mod:`.reading` (snapshots and history), :mod:`.building`
(commits), :mod:`.merging` (merges and replays), :mod:`.inspection` (blame and fsck). Each layer builds on
the ones before it; :class:`narrative_vcs.repository.Repository` is the last.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from ..access import AccessStore, MemoryAccessStore
from ..gate import Gate, GatedRefs, Rule
from ..history import Commits
from ..objects import Actor, Page
from ..refs import RefMove, RefStore
from ..snapshot import Snapshots
from ..store import ObjectStore
from ..types import ObjectId

if TYPE_CHECKING:
    from ..merge.base import CommitGraph
    from ..repository import Repository

__all__ = ["RepositoryBase"]


class RepositoryBase:
    """A story repository over an object store and a ref store.

    ``rules``: the story's rules (:mod:`narrative_vcs.rules`), which the gate applies to every ref move,
    or a function that gives them (called at the first check); without them (a scratch repository)
    refs move freely. :attr:`refs` is the backend's ref store seen
    through the gate.
    """

    def __init__(
        self,
        objects: ObjectStore,
        refs: RefStore,
        access: AccessStore | None = None,
        *,
        rules: Sequence[Rule] | Callable[[], Sequence[Rule]] = (),
    ) -> None:
        self.objects = objects
        self.gate = Gate(rules)
        self._gated = GatedRefs(refs, self.gate, cast("Repository", self))
        self.refs: RefStore = self._gated
        self.access: AccessStore = access if access is not None else MemoryAccessStore()
        self.snapshots = Snapshots(objects)
        objects.adopt_snapshots(self.snapshots)
        self.commits = Commits(objects)
        self._actors: dict[ObjectId, Actor] = {}  # parsed actor records by blob id
        self._pages: OrderedDict[tuple[str, ObjectId], Page] = OrderedDict()  # parsed pages, by id and blob
        self._graph: CommitGraph | None = None  # the commit DAG, built on first use

    def update_pushed(self, moves: Sequence[RefMove], pusher: str, *, message: str = "push") -> None:
        """Move refs for an actor who pushed them over a wire (see :meth:`GatedRefs.update_pushed`)."""
        self._gated.update_pushed(moves, pusher, message=message)

    def check_moves(self, moves: Sequence[RefMove]) -> None:
        """Refuse (raise what the gate raises) ``moves`` before anything is written for them."""
        self._gated.check(moves)

    def close(self) -> None:
        self.objects.close()
        self.refs.close()
        self.access.close()
