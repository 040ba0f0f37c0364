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
