"""Errors of the public API. Each carries the exit code the CLI uses and the code GraphQL reports.

Exit codes follow the architecture: 1 for a refusal or a conflict, 2 for bad input.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadInput",
    "BranchMoved",
    "Conflict",
    "CorruptObject",
    "Forbidden",
    "GvcsError",
    "InvalidFile",
    "NotFound",
    "MergeConflicts",
    "NothingToCommit",
    "Refused",
    "Unauthenticated",
    "Unavailable",
]


class GvcsError(Exception):
    """Base class: a one-line message meant for a person."""

    exit_code = 2
    code = "BAD_INPUT"


class BadInput(GvcsError):
    """The input does not fit: an invalid id, a malformed value, an unknown option."""


class InvalidFile(BadInput):
    """A file (in the work tree or a store) that does not parse; names the path and line."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class NotFound(GvcsError):
    """A revision, branch, page, actor or object that does not exist."""

    code = "NOT_FOUND"


class Refused(GvcsError):
    """A well-formed request that the repository refuses in its current state."""

    exit_code = 1
    code = "REFUSED"


class BranchMoved(Refused):
    """A compare-and-swap lost: the ref no longer holds the value the writer read."""

    code = "CONFLICT"

    def __init__(
        self, ref: str, expected: str | None, actual: str | None, paths: list[str] | None = None
    ) -> None:
        exp = expected[:12] if expected else "nothing"
        act = actual[:12] if actual else "nothing"
        both = f"; both changed {', '.join(paths)}" if paths else ""
        super().__init__(f"branch moved: {ref} is at {act}, expected {exp}{both}; nothing was changed")
        self.ref = ref
        self.expected = expected
        self.actual = actual
        self.paths = list(paths or [])


class Conflict(Refused):
    """A well-formed request that contradicts what the repository already holds (an event id that names
    another event); nothing was changed."""

    code = "CONFLICT"


class MergeConflicts(Refused):
    """Replaying a change (cherry-pick, revert, rebase) met conflicts; nothing was changed."""

    code = "CONFLICT"

    def __init__(self, what: str, conflicts: list[Any]) -> None:
        paths = sorted({c.path for c in conflicts})
        shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
        super().__init__(f"{what}: conflicts in {shown}; nothing was changed")
        self.conflicts = conflicts


class NothingToCommit(Refused):
    """A commit whose change set changes nothing."""


class CorruptObject(GvcsError):
    """A stored object that does not parse or does not hash to its id."""

    exit_code = 1
    code = "CORRUPT"


class Unauthenticated(GvcsError):
    """A request without a valid API token where one is needed."""

    exit_code = 1
    code = "UNAUTHENTICATED"


class Forbidden(GvcsError):
    """A valid token asking for something its actor may not do (acting as another actor)."""

    exit_code = 1
    code = "FORBIDDEN"


class Unavailable(GvcsError):
    """A server that cannot be reached (a Neo4j store, a git remote) or that refused the credentials."""

    exit_code = 1
    code = "UNAVAILABLE"
