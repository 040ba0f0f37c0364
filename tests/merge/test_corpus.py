"""The merge corpus (issue 3, point 7): gvcs's merge is right on every narrative case, and beats a line merge.

The cases live in ``tests/merge/cases/<name>/`` (see ``bench/merge_corpus.py`` for the format); the same
code scores gvcs and ``git merge-file`` there and prints the table.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from bench.merge_corpus import Case, evaluate, load_cases, run_gvcs
from narrative_vcs.merge.contents import CONFLICT_KINDS
from narrative_vcs.objects import Actor, Page, Story

CASES = load_cases()
BY_NAME = {case.name: case for case in CASES}

#: Cases gvcs gets wrong today, each with the defect of the engine behind it. The tests of these cases are
#: strict xfails: when the engine is fixed they pass, fail as XPASS, and the entry must go.
KNOWN_DEFECTS: dict[str, str] = {}

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")


def _params() -> list[Any]:
    return [
        pytest.param(
            case,
            id=case.name,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[case.name])]
            if case.name in KNOWN_DEFECTS
            else [],
        )
        for case in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_gvcs_merges_the_case_right(case: Case) -> None:
    result = run_gvcs(case)
    if case.expected is not None:
        assert not result.conflicted, f"unexpected {result.kind} conflict"
        assert result.output is not None
        assert result.output.decode() == case.expected.decode()
    else:
        assert result.conflicted, "merged cleanly, a conflict was expected:\n" + (
            result.output or b""
        ).decode(errors="replace")
        assert result.kind == case.conflict
    # Whichever side is called ours, the merge is clean or conflicts alike (a set merge lists ours' links
    # first, so the swapped output may order them differently).
    swapped = run_gvcs(Case(case.name, case.path, case.base, case.theirs, case.ours, None, None))
    assert (swapped.conflicted, swapped.kind) == (result.conflicted, result.kind)


def test_corpus_is_large_and_well_formed() -> None:
    assert len(CASES) >= 40
    assert {c.conflict for c in CASES if c.conflict} <= set(CONFLICT_KINDS)
    assert sum(c.expected is None for c in CASES) >= 10  # honest: it holds real conflicts too
    for case in CASES:
        for data in (case.base, case.ours, case.theirs, case.expected):
            if data is None:
                continue
            if case.path.startswith("pages/"):
                assert Page.parse(case.path[6:-3], data).serialise() == data, case.name
            elif case.path.startswith("actors/"):
                assert Actor.parse(case.path[7:-5], data).serialise() == data, case.name
            elif case.path == Story.PATH:
                assert Story.parse(data).serialise() == data, case.name


def test_known_defects_name_real_cases() -> None:
    assert set(KNOWN_DEFECTS) <= set(BY_NAME)


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    return evaluate(CASES)


@needs_git
def test_gvcs_wrong_clean_merges_are_only_known_defects(summary: dict[str, Any]) -> None:
    assert set(summary["tools"]["gvcs"]["wrong_cases"]) <= set(KNOWN_DEFECTS)


@needs_git
def test_gvcs_makes_no_wrong_clean_merge(summary: dict[str, Any]) -> None:
    assert summary["tools"]["gvcs"]["wrong"] == 0


@needs_git
def test_gvcs_reports_fewer_conflicts_than_git(summary: dict[str, Any]) -> None:
    gvcs, git = summary["tools"]["gvcs"], summary["tools"]["git"]
    assert gvcs["conflicts_reported"] < git["conflicts_reported"]
    assert gvcs["conflict"] < git["conflict"]
    assert gvcs["correct"] > git["correct"]
