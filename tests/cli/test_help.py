"""Every command explains itself: a description, help for every option and argument, and examples that
the command line takes (cli/main.py, cli/examples.py)."""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
from collections.abc import Iterator

import pytest

from cli.examples import EXAMPLES
from cli.main import build_parser


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


def test_every_command_option_and_argument_has_help() -> None:
    missing = []
    for path, parser in _commands(build_parser()):
        if not parser.description:
            missing.append(f"gvcs {' '.join(path)}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not action.help:
                missing.append(f"gvcs {' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_every_command_has_examples_in_its_help() -> None:
    top = [path[0] for path, _ in _commands(build_parser()) if len(path) == 1]
    assert sorted(top) == sorted(EXAMPLES)
    assert (
        "examples:\n  gvcs log --oneline -n 20"
        in build_parser()
        ._subparsers._group_actions[0]
        .choices[  # type: ignore[union-attr]
            "log"
        ]
        .format_help()
    )


@pytest.mark.parametrize("line", [line for lines in EXAMPLES.values() for line in lines])
def test_each_example_is_a_command_line_gvcs_takes(line: str) -> None:
    words = shlex.split(line, comments=True)
    if words[0] != "gvcs":  # a shell line around gvcs: eval "$(gvcs completion bash)"
        return
    words = words[1:]
    for stop in ("|", ">"):
        if stop in words:
            words = words[: words.index(stop)]
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        build_parser().parse_args(words)
    assert errors.getvalue() == ""


def test_the_parser_built_for_one_command_is_that_commands_whole_parser() -> None:
    """``main`` builds only the parser of the command a command line names; for every command it
    must be the same as in the whole parser (its help, its subcommands, its options)."""
    full = {path: parser for path, parser in _commands(build_parser())}
    for name in [path[0] for path in full if len(path) == 1 and path[0] not in ("help", "completion")]:
        lazy = {path: parser for path, parser in _commands(build_parser(only=name))}
        assert set(lazy) == {path for path in full if path[0] == name}, name
        for path, parser in lazy.items():
            assert parser.format_help() == full[path].format_help(), path
    assert build_parser(only="nope").format_help() == build_parser().format_help()  # a typo: the whole


def test_the_command_word_is_found_past_gvcss_own_options() -> None:
    from cli.main import _command_word

    assert _command_word(["log", "-n", "3"]) == "log"
    assert _command_word(["-C", "story", "--actor", "ada", "--no-pager", "--color=never", "show"]) == "show"
    assert _command_word(["--colour", "always", "diff"]) == "diff"
    assert _command_word(["--version"]) is None and _command_word([]) is None
    assert _command_word(["-Cstory", "log"]) is None  # left to the whole parser
