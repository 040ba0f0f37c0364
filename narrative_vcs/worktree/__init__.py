"""The work tree: the story as plain files next to ``.gvcs/``, checked out from one branch.

Like Mercurial or Fossil there is no staging area: ``commit`` takes every change in the work tree.
The layout is the logical snapshot layout (``story.yaml``, ``pages/<id>.md``, ``actors/<id>.yaml``,
``ledger.yaml``, ``rituals.yaml``, ``infra/**``, ``proposals/**``); other files in the directory are not
part of the story.

The modules split the work tree along its seams, as the repository is split:

- :mod:`.files`: reading and writing files without following links, whole or not at all;
- :mod:`.journal`: the lock and the journal that make every operation survive a kill;
- :mod:`.base`: the checkout state, status, and running, finishing or rolling back an operation;
- :mod:`.committing`, :mod:`.merging`, :mod:`.switching`, :mod:`.undo`: the operations.

This package takes a root path and a :class:`~narrative_vcs.repository.Repository`; it reads no
environment and no current directory.
"""

from __future__ import annotations

from .base import MERGE_STATE, STATE_FILE, CommitResult, Recovered, WorkTreeChange
from .files import Directories, name_problem, read_regular
from .journal import JOURNAL_FILE, LOCK_FILE
from .undo import Undo

__all__ = [
    "JOURNAL_FILE",
    "LOCK_FILE",
    "MERGE_STATE",
    "STATE_FILE",
    "CommitResult",
    "Directories",
    "Recovered",
    "WorkTree",
    "WorkTreeChange",
    "name_problem",
    "read_regular",
]


class WorkTree(Undo):
    """The files of one checkout and the state that ties them to a branch and a commit."""
