"""Shell completion (bash, zsh and fish) through argcomplete: commands, options, and the story's own
names where an argument takes one (branches and tags for ``REV``/``BRANCH``, page ids for ``PAGE``,
actor ids for ``ACTOR``, remotes for a remote's ``NAME``).

``gvcs completion bash`` prints the script to source (``eval "$(gvcs completion bash)"`` in
``~/.bashrc``; zsh and fish likewise). The shell then runs gvcs with ``_ARGCOMPLETE`` set, and
:func:`complete` answers and exits before any command runs. Names come from the repository of the
current directory (or ``-C DIR``); where there is none, only commands and options are completed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["SHELLS", "cmd_completion", "complete", "script"]

SHELLS = ("bash", "zsh", "fish")
REVS = {"REV", "BRANCH", "SOURCE", "TARGET", "ONTO", "START", "TAG"}
#: Commands whose ``NAME`` (or unnamed) positional is a branch or tag.
NAMED_REVS = {"switch", "branch", "tag", "merge", "rebase"}


def script(shell: str) -> str:
    """The shell code that makes ``shell`` complete ``gvcs``."""
    from argcomplete.shell_integration import shellcode

    return str(shellcode(["gvcs"], shell=shell))


def cmd_completion(args: argparse.Namespace) -> int:
    """``gvcs completion SHELL``: print the script that makes SHELL complete gvcs."""
    import sys

    sys.stdout.write(script(args.shell))
    return 0


def complete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request (``_ARGCOMPLETE`` is set) and exit; otherwise return."""
    import argcomplete

    _attach(parser)
    argcomplete.autocomplete(parser)


def _attach(parser: argparse.ArgumentParser, command: str = "") -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                _attach(sub, name)
            continue
        metavar = action.metavar if isinstance(action.metavar, str) else None
        completer: Callable[..., list[str]] | None = None
        if metavar in REVS or (
            metavar in ("NAME", None) and command in NAMED_REVS and not action.option_strings
        ):
            completer = _names(lambda repo: [*repo.branches(), *repo.tags()])
        elif metavar == "PAGE":
            completer = _names(lambda repo: repo.list_pages())
        elif metavar == "ACTOR" or (metavar == "ID" and command in ("vote", "gift", "token")):
            completer = _names(lambda repo: [a.id for a in repo.list_actors()])
        elif metavar == "NAME" and command in ("remote", "push", "pull", "fetch", "remove"):
            completer = _remotes
        if completer is not None:
            action.completer = completer  # type: ignore[attr-defined]


def _root(parsed_args: argparse.Namespace) -> Path | None:
    from narrative_vcs.errors import GvcsError
    from narrative_vcs.graph.factory import find_root

    start = Path(getattr(parsed_args, "directory", None) or os.getcwd())
    try:
        return find_root(start)
    except GvcsError:
        return None


def _names(read: Callable[[Any], Iterable[str]]) -> Callable[..., list[str]]:
    def completer(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
        from narrative_vcs.errors import GvcsError
        from narrative_vcs.graph.factory import open_repository

        root = _root(parsed_args)
        if root is None:
            return []
        try:
            repo = open_repository(root)
        except GvcsError:
            return []
        try:
            return sorted(n for n in read(repo) if n.startswith(prefix))
        except GvcsError:
            return []
        finally:
            repo.close()

    return completer


def _remotes(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    import json

    root = _root(parsed_args)
    if root is None:
        return []
    try:
        config = json.loads((root / ".gvcs" / "gvcs.json").read_text())
    except (OSError, ValueError):
        return []
    remotes = config.get("remotes") if isinstance(config, dict) else None
    return sorted(n for n in remotes if n.startswith(prefix)) if isinstance(remotes, dict) else []
