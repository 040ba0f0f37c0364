"""The repository API: the one module the CLI, the GraphQL server and the workers call.

A :class:`Repository` is an :class:`~narrative_vcs.store.ObjectStore` and a
:class:`~narrative_vcs.refs.RefStore`, injected. It never imports a backend and reads no environment. It is
composed of layers, one concern each (:mod:`narrative_vcs.repo`): branches and revisions, reading,
building commits, merging and replaying, inspection.
"""

from __future__ import annotations

from collections.abc import Sequence

from .gate import Rule
from .refs import MemoryRefStore, branch_ref
from .repo.inspection import Inspection
from .repo.values import (
    DEFAULT_BRANCH,
    HEAD,
    BlameEntry,
    BuiltCommit,
    ChangeSet,
    CommitBuilder,
    FileChange,
    FsckReport,
    GroupOutcome,
    LogPage,
    MergeOutcome,
    MergePreview,
    PendingCommit,
    Resolution,
    StorySnapshot,
    path_kind,
)
from .store import MemoryObjectStore

__all__ = [
    "DEFAULT_BRANCH",
    "HEAD",
    "BlameEntry",
    "BuiltCommit",
    "ChangeSet",
    "CommitBuilder",
    "FileChange",
    "FsckReport",
    "GroupOutcome",
    "LogPage",
    "MergeOutcome",
    "MergePreview",
    "PendingCommit",
    "Repository",
    "Resolution",
    "StorySnapshot",
    "path_kind",
]


class Repository(Inspection):
    """A story repository over an object store and a ref store."""

    @classmethod
    def memory(cls, *, rules: Sequence[Rule] = ()) -> Repository:
        """A scratch repository held in memory, with HEAD on ``main`` (and ``rules`` at its gate)."""
        repo = cls(MemoryObjectStore(), MemoryRefStore(), rules=rules)
        repo.refs.set_symbolic(HEAD, branch_ref(DEFAULT_BRANCH))
        return repo
