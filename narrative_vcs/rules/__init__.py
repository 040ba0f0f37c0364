"""The story's rules, which the gate (:mod:`narrative_vcs.gate`) applies to every ref move.

One module per thing guarded (see docs/rules.md for every rule and the error each gives):

- :mod:`.refs`: which refs a story has; tags never move;
- :mod:`.commits`: a commit's author, kind and trailers;
- :mod:`.files`: where files live, what they are, their size, that they parse (plain YAML);
- :mod:`.pages`: links point at pages that exist; reading order has no cycle;
- :mod:`.actors`: who may commit and whose records a commit may change;
- :mod:`.state`: state files belong to their events; event commits are verified by replay;
- :mod:`.governance`: the governance branch is the engine's, each step replayed;
- :mod:`.protected`: protected branches move forward through proposals and events only.

:func:`story_rules` is what a repository is opened with (:mod:`narrative_vcs.graph.factory`); the core
imports none of this.
"""

from __future__ import annotations

from ..gate import Rule

__all__ = ["story_rules"]


def story_rules() -> list[Rule]:
    """Every rule of a story, in the order they are checked."""
    from .actors import ActorRecords
    from .commits import CommitFormat
    from .files import StoryFiles
    from .governance import GovernanceBranch
    from .pages import StoryStructure
    from .protected import ProtectedBranches
    from .refs import StoryRefs
    from .state import StateFiles

    return [
        StoryRefs(),
        CommitFormat(),
        StoryFiles(),
        StoryStructure(),
        ActorRecords(),
        StateFiles(),
        GovernanceBranch(),
        ProtectedBranches(),
    ]
