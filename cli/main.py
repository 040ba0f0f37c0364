"""``gvcs``: the command line. Parses argv, then runs one command from a lazily imported module.

Only this package reads argv, the environment and the current directory. Imports of the core, YAML
and pygit2 happen inside the commands, so that ``gvcs log -n 20`` starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, cast

__all__ = ["build_parser", "main"]

PROG = "gvcs"


#: Whether the command line asks for JSON (``--json``): its errors are then a JSON object too.
_JSON_ERRORS = False


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` gives it ($COLUMNS, else stdout's
    terminal, else 80), without importing shutil: argparse asks on every ``add_argument``."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class Formatter(argparse.HelpFormatter):
    """argparse's help formatter, measuring the terminal without shutil (see :func:`_columns`)."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


class RawFormatter(Formatter, argparse.RawDescriptionHelpFormatter):
    """:class:`Formatter` keeping the description and the examples as written."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit code 2 (and, under ``--json``,
    a JSON object on stdout)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        hint = f" (see '{self.prog} --help')"
        _error(f"{message}{hint}", code="BAD_INPUT", kind="BadInput")
        sys.exit(2)


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON (see docs/json.md)")


class _Skipped:
    """What :func:`_command` gives for a command other than the one being run (see :func:`main`):
    everything asked of it is accepted and does nothing, so the parsers of the other fifty commands
    are not built for a command line that names one."""

    def __getattr__(self, name: str) -> Any:
        return self._anything

    def _anything(self, *args: Any, **kwargs: Any) -> _Skipped:
        return self


#: While a parser is built for one command (``main``): its name, and whether it was met.
_ONLY: list[str | bool] = []


def _command(
    sub: argparse._SubParsersAction[Parser], name: str, target: str, help_text: str
) -> argparse.ArgumentParser:
    if _ONLY:
        if name != _ONLY[0]:
            return cast(argparse.ArgumentParser, _Skipped())
        _ONLY[1] = True
    from .examples import epilog

    p = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=epilog(name),
        formatter_class=RawFormatter,
    )
    p.set_defaults(target=target)
    return p


def build_parser(only: str | None = None) -> Parser:
    """The whole ``gvcs`` argument parser; with ``only``, one that knows that command alone (what a
    command line naming it needs: building all of them costs every command about 20 ms)."""
    parser = Parser(prog=PROG, description="gvcs: version control for stories (pages, actors, branches).")
    parser.add_argument("-C", dest="directory", metavar="DIR", help="run as if started in DIR")
    parser.add_argument("--actor", metavar="ID", help="who is acting (default: $GVCS_ACTOR, then config)")
    parser.add_argument("--version", action="version", version="gvcs 0.1.0")
    parser.add_argument(
        "--no-pager",
        action="store_true",
        help="never page the output (log, show, diff ... page on a terminal)",
    )
    parser.add_argument(
        "--paginate", action="store_true", help="page the output of any command on a terminal"
    )
    parser.add_argument(
        "--color",
        "--colour",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the output: auto (a terminal without $NO_COLOR; the default), always, never",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", parser_class=Parser)
    sub.required = True
    if only is not None:
        _ONLY[:] = [only, False]
        try:
            _add_commands(sub, only)
        finally:
            found = bool(_ONLY[1])
            _ONLY.clear()
        if found:
            _describe(parser)
            return parser
        return build_parser()  # not a command of its own group, or no command: the whole parser
    _add_commands(sub, None)
    _describe(parser)
    return parser


#: The commands each module registers (a stale entry only costs a whole build).
_MODULE_COMMANDS = {
    "merging": {"merge", "conflicts", "resolve", "rebase", "cherry-pick", "revert"},
    "governance": {"propose", "vote", "proposals", "proposal"},
    "events": {"event", "gift", "ritual", "spore"},
    "reading": {"read", "stats"},
    "importing": {"import", "export"},
}


def _add_commands(sub: argparse._SubParsersAction[Parser], only: str | None) -> None:
    """Register the commands on ``sub``; with ``only``, that command's parser alone (the others are
    skipped, and the modules that hold none of it not imported)."""
    import importlib

    if only is None:
        _shell_commands(sub)
    _setup_commands(sub)
    _history_commands(sub)
    _maintenance_commands(sub)
    _remote_commands(sub)
    _serve_command(sub)
    _worker_command(sub)
    _access_commands(sub)
    for module, names in _MODULE_COMMANDS.items():
        if only is None or only in names:
            importlib.import_module(f"cli.{module}").add_commands(sub, _command, _json)


def _shell_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser(
        "completion",
        help="print the shell code that completes gvcs: bash, zsh or fish",
        description="Print the shell code that completes gvcs commands, options, branches, tags, pages, "
        'actors and remotes. Add to ~/.bashrc: eval "$(gvcs completion bash)"; to ~/.zshrc: '
        'eval "$(gvcs completion zsh)"; for fish: gvcs completion fish | source.',
    )
    p.set_defaults(target="completion:cmd_completion")
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")
    p = sub.add_parser(
        "help",
        help="show a command's help: gvcs help COMMAND [SUBCOMMAND]",
        description="Show a command's help, as COMMAND --help does; with no command, gvcs's own.",
    )
    p.add_argument("topic", nargs="*", metavar="COMMAND", help="e.g. log, or remote add")


def _describe(parser: argparse.ArgumentParser) -> None:
    """A subcommand made without a description (``actor add``) gets its one-line help as one, so that
    its ``--help`` says what it does."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not sub.description and helps.get(name):
                    sub.description = helps[name]
                _describe(sub)


def _setup_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(sub, "init", "story:cmd_init", "create a story repository")
    p.add_argument(
        "path", nargs="?", default=".", metavar="DIR", help="where (default: here; made if missing)"
    )
    p.add_argument("--title", default=None, help="the story's title (default: from the directory name)")
    _json(p)
    p.add_argument(
        "--store",
        default=None,
        metavar="URI",
        help="where the history lives: git (the default, in DIR/.gvcs) or neo4j://user:pass@host:7687[/db]"
        " (default: $GVCS_STORE)",
    )

    p = _command(sub, "actor", "story:cmd_actor_list", "add or list actors (people and agents)")
    actor = p.add_subparsers(dest="actor_command", metavar="<add|list>", parser_class=Parser)
    a = actor.add_parser("add", help="add an actor to the work tree")
    a.set_defaults(target="story:cmd_actor_add")
    a.add_argument("id", metavar="ID", help="the actor's id: a-z 0-9 . _ -, as in Name <ID@actors.gvcs>")
    a.add_argument("--name", required=True, help="the actor's name as commits show it")
    a.add_argument("--kind", choices=("human", "agent"), default="human", help="(default: human)")
    a.add_argument("--archetype", default=None, help="an optional role, e.g. copyist")
    _json(a)
    a = actor.add_parser("list", help="list the actors in the work tree")
    a.set_defaults(target="story:cmd_actor_list")
    _json(a)
    _json(p)

    p = _command(sub, "whoami", "story:cmd_whoami", "show the acting actor and where it came from")
    _json(p)

    p = _command(sub, "page", "story:cmd_page_list", "create, list or show pages")
    page = p.add_subparsers(dest="page_command", metavar="<new|list|show>", parser_class=Parser)
    a = page.add_parser("new", help="write a new page file in the work tree")
    a.set_defaults(target="story:cmd_page_new")
    a.add_argument("id", metavar="ID", help="the page's id (its file: pages/ID.md)")
    a.add_argument("--title", required=True, help="the page's title")
    a.add_argument("--follows", nargs="+", default=[], metavar="ID", help="pages this one comes after")
    a.add_argument("--alternate-of", default=None, metavar="ID", help="page this one is an alternate of")
    a.add_argument(
        "--tag",
        dest="tags",
        action="append",
        default=[],
        metavar="TAG",
        help="a tag of the page (repeat for more)",
    )
    _json(a)
    a = page.add_parser("list", help="list pages (the work tree, or --rev)")
    a.set_defaults(target="story:cmd_page_list")
    a.add_argument("--rev", default=None, help="at this revision (default: the work tree)")
    _json(a)
    a = page.add_parser("show", help="print a page (the work tree's copy, or --rev / --as-of)")
    a.set_defaults(target="story:cmd_page_show")
    a.add_argument("id", metavar="ID", help="the page's id")
    a.add_argument("--rev", default=None, help="at this revision (default: the work tree)")
    a.add_argument("--as-of", default=None, metavar="TIME", help="ISO 8601 or unix seconds")
    _json(a)
    _json(p)

    p = _command(sub, "status", "story:cmd_status", "list work-tree changes since the checkout")
    _json(p)
    p = _command(sub, "commit", "story:cmd_commit", "commit every change in the work tree")
    p.add_argument("-m", "--message", default=None, help="the commit message (needed unless --amend)")
    p.add_argument(
        "--amend",
        action="store_true",
        help="replace the last commit of the branch (its changes, the work tree's, -m or its message)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="list every file the commit changed")
    _json(p)

    p = _command(sub, "branch", "story:cmd_branch", "list, create, rename or delete branches")
    p.add_argument("name", nargs="?", help="the branch to create (none: list the branches)")
    p.add_argument("start", nargs="?", metavar="START", help="where it starts (default: HEAD)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("-d", "--delete", action="store_true", help="delete branch NAME")
    how.add_argument("-m", "--move", action="store_true", help="rename: branch -m [OLD] NEW")
    _json(p)
    _undo_commands(sub)
    p = _command(sub, "switch", "story:cmd_switch", "check out a branch (-c: create it first)")
    p.add_argument("name", metavar="NAME", help="a branch (with --detach: a tag, a commit, main~2)")
    p.add_argument("start", nargs="?", metavar="START", help="with -c: where the new branch starts")
    p.add_argument("-c", "--create", action="store_true", help="create NAME at the current commit (or START)")
    p.add_argument("--detach", action="store_true", help="check out the commit NAME names, HEAD detached")
    _json(p)
    p = _command(sub, "recover", "story:cmd_recover", "finish or roll back a command that was killed")
    _json(p)
    p = _command(sub, "tag", "story:cmd_tag", "list tags, or tag a revision")
    p.add_argument("name", nargs="?", help="the tag to make (none: list the tags)")
    p.add_argument("rev", nargs="?", metavar="REV", help="what it tags (default: HEAD)")
    p.add_argument("-d", "--delete", action="store_true", help="delete tag NAME")
    _json(p)


def _undo_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(sub, "restore", "undo:cmd_restore", "put files back as a commit has them")
    p.add_argument(
        "paths", nargs="*", metavar="PATH|PAGE", help="files, directories (pages), page ids; .: all"
    )
    p.add_argument("-s", "--source", default=None, metavar="REV", help="the commit to take them from (HEAD)")
    _json(p)
    p = _command(sub, "reset", "undo:cmd_reset", "move the current branch to another commit")
    p.add_argument(
        "rev", nargs="?", default="HEAD", metavar="REV", help="default: HEAD (with --hard: drop changes)"
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--soft", dest="mode", action="store_const", const="soft", help="keep the files")
    mode.add_argument(
        "--mixed", dest="mode", action="store_const", const="mixed", help="keep the files (the default)"
    )
    mode.add_argument(
        "--hard",
        dest="mode",
        action="store_const",
        const="hard",
        help="make the files REV's (discards changes)",
    )
    _json(p)
    p = _command(sub, "reflog", "undo:cmd_reflog", "where a branch has pointed, newest first")
    p.add_argument("ref", nargs="?", default=None, metavar="BRANCH", help="default: the current branch")
    _json(p)
    p = _command(sub, "stash", "undo:cmd_stash_push", "put uncommitted changes aside, and bring them back")
    p.add_argument(
        "-m", "--message", default=None, help="what the stash holds (default: its commit's subject)"
    )
    _json(p)
    stash = p.add_subparsers(
        dest="stash_command", metavar="<push|list|show|pop|apply|drop>", parser_class=Parser
    )
    a = stash.add_parser("push", help="put every uncommitted change aside (the default)")
    a.set_defaults(target="undo:cmd_stash_push")
    a.add_argument(
        "-m", "--message", default=None, help="what the stash holds (default: its commit's subject)"
    )
    _json(a)
    a = stash.add_parser("list", help="list the stashes, newest first")
    a.set_defaults(target="undo:cmd_stash_list")
    _json(a)
    for name, target, help_text in (
        ("show", "undo:cmd_stash_show", "the files a stash changes"),
        ("pop", "undo:cmd_stash_pop", "bring a stash's changes back and drop it"),
        ("apply", "undo:cmd_stash_apply", "bring a stash's changes back and keep it"),
        ("drop", "undo:cmd_stash_drop", "forget a stash"),
    ):
        a = stash.add_parser(name, help=help_text)
        a.set_defaults(target=target)
        a.add_argument(
            "stash", nargs="?", default=None, metavar="STASH", help="stash@{N} (default: the newest)"
        )
        _json(a)


def _history_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(sub, "log", "history:cmd_log", "show commit history")
    p.add_argument(
        "revs", nargs="*", metavar="REV", help="where to start: REV, A..B, A...B, ^A (default: HEAD)"
    )
    p.add_argument("--all", action="store_true", help="start from every branch and tag")
    p.add_argument("-n", "--max-count", type=int, default=None, metavar="N", help="at most N commits")
    p.add_argument("--oneline", action="store_true", help="one line a commit: short id, refs, subject")
    p.add_argument("--graph", action="store_true", help="draw the commit graph")
    p.add_argument("--actor", dest="filter_actor", metavar="ID", help="only commits by this actor")
    p.add_argument("--kind", default=None, help="only commits of this kind (edit, agent.emit.v1, ...)")
    p.add_argument("--page", default=None, metavar="ID", help="only commits that changed this page")
    p.add_argument(
        "--since", default=None, metavar="TIME", help="commits at or after TIME (ISO 8601 or unix seconds)"
    )
    p.add_argument(
        "--until", default=None, metavar="TIME", help="commits at or before TIME (a date: that whole day)"
    )
    p.add_argument("-p", "--patch", action="store_true", help="show each commit's semantic diff")
    p.add_argument("--word-diff", action="store_true", help="with -p: changed paragraphs as [-old-]{+new+}")
    _json(p)

    p = _command(sub, "show", "history:cmd_show", "show a commit and its changes")
    p.add_argument("rev", nargs="?", default="HEAD", metavar="REV", help="the commit to show (default: HEAD)")
    _diff_options(p)
    p = _command(sub, "diff", "history:cmd_diff", "compare the work tree or revisions")
    p.add_argument("revs", nargs="*", metavar="REV", help="none: work tree vs HEAD; one; two; or A..B, A...B")
    p.add_argument("--stat", action="store_true", help="only a summary per file")
    _diff_options(p)
    p = _command(sub, "blame", "history:cmd_blame", "who last changed each paragraph of a page")
    p.add_argument("page", metavar="PAGE", help="the page's id")
    p.add_argument("--rev", default="HEAD", help="the page as this revision has it (default: HEAD)")
    _json(p)
    _graph_command(sub)


def _graph_command(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(sub, "graph", "graph_export:cmd_graph", "export the page graph (or commit DAG) for Gephi")
    p.add_argument("rev", nargs="?", default=None, metavar="REV", help="default: HEAD")
    p.add_argument(
        "--format",
        choices=("graphml", "gexf", "dot", "json"),
        default=None,
        help="output format (default: graphml)",
    )
    p.add_argument("--commits", action="store_true", help="the commit DAG instead of the page graph")
    p.add_argument("--all", action="store_true", help="with --commits: every branch and tag, not one REV")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="with --commits: the newest N")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="write FILE (default: stdout)")
    p.add_argument("--json", action="store_true", help="the same as --format json")


def _diff_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--word-diff", action="store_true", help="changed paragraphs as [-old-]{+new+}")
    p.add_argument("--lines", action="store_true", help="the unified line diff instead")
    _json(p)


def _maintenance_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(sub, "fsck", "story:cmd_fsck", "check the integrity of the store")
    p.add_argument(
        "--rules",
        action="store_true",
        help="replay history through the story's rules and list every commit that breaks one",
    )
    p.add_argument("rev", nargs="?", default=None, metavar="REV", help="with --rules: only this history")
    p.add_argument(
        "--store",
        default=None,
        metavar="URI",
        help="check neo4j://user:pass@host:7687[/db] or a repository directory (default: the current one)",
    )
    _json(p)
    _json(_command(sub, "gc", "story:cmd_gc", "pack the object store"))
    p = _command(
        sub,
        "migrate",
        "migrate:cmd_migrate",
        "move a Neo4j store written by an older gvcs to the current layout",
    )
    p.add_argument(
        "--store",
        default=None,
        metavar="URI",
        help="neo4j://user:pass@host:7687[/db] (default: the current repository's store)",
    )
    p.add_argument(
        "--force", action="store_true", help="take over from a migration that looks alive (if it is dead)"
    )
    _json(p)
    p = _command(sub, "demo", "story:cmd_demo", "create a sample story repository to explore")
    p.add_argument(
        "path", nargs="?", default="demo-story", metavar="DIR", help="where to make it (default: demo-story)"
    )
    p.add_argument("--force", action="store_true", help="recreate DIR if it holds a previous demo")


def _remote_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(sub, "remote", "remote:cmd_remote_list", "add, list or remove remotes (other stores)")
    p.add_argument("-v", "--verbose", action="store_true", help="show where each remote is")
    _json(p)
    remote = p.add_subparsers(dest="remote_command", metavar="<add|remove|list>", parser_class=Parser)
    a = remote.add_parser(
        "add", help="name another store: a neo4j:// URI, a repository directory or a git URL or path"
    )
    a.set_defaults(target="remote:cmd_remote_add")
    a.add_argument("name", metavar="NAME", help="the remote's name, e.g. origin")
    a.add_argument(
        "location",
        metavar="URI",
        help="neo4j://..., http(s)://HOST/..., ssh://..., user@host:path, git://..., file://..., or a path",
    )
    _json(a)
    a = remote.add_parser("remove", help="forget a remote and its remote-tracking refs")
    a.set_defaults(target="remote:cmd_remote_remove")
    a.add_argument("name", metavar="NAME", help="the remote to forget")
    _json(a)
    a = remote.add_parser("list", help="list the remotes")
    a.set_defaults(target="remote:cmd_remote_list")
    a.add_argument("-v", "--verbose", action="store_true", help="show where each remote is")
    _json(a)

    p = _command(sub, "push", "remote:cmd_push", "send branches' missing history to a remote")
    p.add_argument("remote", metavar="NAME", help="the remote (gvcs remote -v lists them)")
    p.add_argument(
        "branch", nargs="*", metavar="BRANCH", help="default: the current branch; several land together"
    )
    p.add_argument(
        "-f", "--force", action="store_true", help="replace the remote's branch even if it diverged"
    )
    _json(p)

    p = _command(sub, "fetch", "remote:cmd_fetch", "bring a remote's branches and tags, without merging")
    p.add_argument("remote", nargs="?", default=None, metavar="NAME", help="default: origin")
    p.add_argument("branch", nargs="*", metavar="BRANCH", help="default: every branch of the remote")
    _json(p)

    p = _command(sub, "pull", "remote:cmd_pull", "fetch a remote's branches and fast-forward or merge them")
    p.add_argument("remote", metavar="NAME", help="the remote (gvcs remote -v lists them)")
    p.add_argument(
        "branch",
        nargs="*",
        metavar="BRANCH",
        help="default: the current branch; several are verified together",
    )
    _json(p)

    p = _command(sub, "clone", "remote:cmd_clone", "copy a story (every branch) into a new repository")
    p.add_argument(
        "location",
        metavar="URI",
        help="neo4j://user:pass@host:7687[/db], a repository directory, or a git URL (http(s)://HOST/git, "
        "ssh://, git://, file://) or bare repository path",
    )
    p.add_argument(
        "directory_name",
        nargs="?",
        default=None,
        metavar="DIR",
        help="the new repository (default: from URI)",
    )
    _json(p)


def _access_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(sub, "token", "access:cmd_token_list", "create, list or revoke API tokens")
    _json(p)
    token = p.add_subparsers(dest="token_command", metavar="<create|list|revoke>", parser_class=Parser)
    a = token.add_parser("create", help="print a new API token that acts as ACTOR (stored hashed)")
    a.set_defaults(target="access:cmd_token_create")
    a.add_argument("actor_id", metavar="ACTOR", help="the actor the token acts as")
    a.add_argument("--label", default=None, help="a note to tell tokens apart in gvcs token list")
    _json(a)
    a = token.add_parser("list", help="list the tokens (ids and actors, never the tokens)")
    a.set_defaults(target="access:cmd_token_list")
    _json(a)
    a = token.add_parser("revoke", help="revoke a token by its id")
    a.set_defaults(target="access:cmd_token_revoke")
    a.add_argument("token_id", metavar="ID", help="the token's id (gvcs token list)")
    _json(a)

    p = _command(sub, "access", "access:cmd_access", "show or set who may read through the API")
    p.add_argument(
        "policy",
        nargs="?",
        choices=["open", "token"],
        help="open: anyone may read; token: reads need a token too (mutations always do)",
    )
    _json(p)


def _serve_command(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(sub, "serve", "serve:cmd_serve", "serve the GraphQL API (GraphiQL at /graphql)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument(
        "--store",
        default=None,
        metavar="URI",
        help="neo4j://user:pass@host:7687[/db] or a repository directory (default: the current one)",
    )
    p.add_argument("--access-log", action="store_true", help="log every request on stderr")
    p.add_argument(
        "--max-push",
        type=int,
        default=256,
        metavar="MIB",
        help="the largest request to /git, a git push's pack, in MiB (default: 256); larger ones get 413",
    )
    p.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="Redis for intake and pub/sub with the workers and other servers (default: $GVCS_REDIS_URL)",
    )
    p.add_argument(
        "--no-read-cache",
        dest="read_cache",
        action="store_false",
        help="run every query (default: answer a repeated query from memory while the refs stay put)",
    )


def _worker_command(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(sub, "worker", "worker:cmd_worker", "run a Celery worker that commits queued events")
    p.add_argument("--redis", default=None, metavar="URL", help="the Redis (default: $GVCS_REDIS_URL)")
    p.add_argument(
        "--store",
        default=None,
        metavar="URI",
        help="neo4j://user:pass@host:7687[/db] or a repository directory (default: the current one)",
    )
    p.add_argument("--concurrency", type=int, default=1, metavar="N", help="worker processes (default: 1)")
    p.add_argument("--beat", action="store_true", help="also run the periodic tasks (one worker per story)")
    p.add_argument("--batch", type=int, default=500, metavar="N", help="events per group commit (500)")
    p.add_argument("--lock-ttl", type=float, default=30.0, metavar="S", help="a partition lock's life (30 s)")
    p.add_argument(
        "--visibility-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="redeliver an unacknowledged task after S seconds (60)",
    )
    p.add_argument(
        "--sweep-interval", type=float, default=5.0, metavar="S", help="with --beat: look for waiting events"
    )
    p.add_argument(
        "--loglevel", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="(default: INFO)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gvcs`` with ``argv`` (default: ``sys.argv[1:]``, the process's own command, which ends
    with it); return the exit code."""
    global _JSON_ERRORS
    words = list(sys.argv[1:] if argv is None else argv)
    _JSON_ERRORS = "--json" in words
    completing = "_ARGCOMPLETE" in os.environ
    word = None if completing else _command_word(words)
    parser = build_parser(only=word if word not in ("help", "completion") else None)
    if completing:  # the shell asks for completions: answered, then the process ends
        from .completion import complete

        complete(parser)
    args = parser.parse_args(words)
    if args.command == "help":
        return _help(parser, args.topic)
    pager = None
    if args.paginate or args.color != "auto" or sys.stdout.isatty():
        from .pager import set_colour, start_pager

        pager = start_pager(args.command, args.paginate, args.no_pager, os.environ)
        set_colour(args.color, os.environ, sys.stdout.isatty() or pager is not None)
    try:
        return _run(args)
    except BrokenPipeError:
        # `gvcs log | head`: the reader left. Point stdout at /dev/null so the interpreter's final
        # flush does not raise again, and exit like git does on SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    finally:
        if pager is not None:
            pager.stop()
        if argv is None:
            # The process ends with the command: the interpreter's collections from here on (and its
            # last one at exit) would walk every object still alive, a few hundred thousand after a
            # long log, only to free memory that the exit frees anyway. Out of their reach.
            import gc

            gc.freeze()


def _run(args: argparse.Namespace) -> int:
    from narrative_vcs.errors import GvcsError

    module_name, _, func_name = str(args.target).partition(":")
    try:
        import importlib

        module = importlib.import_module(f"cli.{module_name}")
        result = getattr(module, func_name)(args)
        sys.stdout.flush()
        return int(result or 0)
    except GvcsError as exc:
        _error(str(exc), code=exc.code, kind=type(exc).__name__)
        return exc.exit_code
    except IsADirectoryError as exc:
        _error(f"{exc.filename}: is a directory", code="BAD_INPUT", kind="BadInput")
        return 2
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}", code="UNAVAILABLE", kind="OSError")
        return 1


def _command_word(words: list[str]) -> str | None:
    """The command a command line names, past gvcs's own options; None when that is not plain (an
    option the parser must see first, ``-h``, ``--version``, nothing)."""
    at = 0
    while at < len(words):
        word = words[at]
        if word in ("-C", "--actor", "--color", "--colour"):
            at += 2
        elif word in ("--no-pager", "--paginate") or word.startswith(("--color=", "--colour=", "--actor=")):
            at += 1
        elif word.startswith("-"):
            return None
        else:
            return word
    return None


def _help(parser: Parser, topic: list[str]) -> int:
    """``gvcs help [COMMAND [SUBCOMMAND]]``: the command's ``--help`` (with none: gvcs's own)."""
    if not topic:
        parser.print_help()
        return 0
    known = next((dict(a.choices) for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})
    if topic[0] not in known:
        _error(f"no command {topic[0]!r}: 'gvcs help' lists them", code="BAD_INPUT", kind="BadInput")
        return 2
    parser.parse_args([*topic, "--help"])  # prints the help and exits 0, or refuses a bad subcommand
    return 0


def _error(message: str, *, code: str = "INTERNAL", kind: str = "Error") -> None:
    line = message.splitlines()[0] if message else "failed"
    sys.stderr.write(f"{PROG}: error: {line}\n")
    if _JSON_ERRORS:  # the one JSON document a --json caller reads, for failures too
        import json

        sys.stdout.write(json.dumps({"error": kind, "code": code, "message": line}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
