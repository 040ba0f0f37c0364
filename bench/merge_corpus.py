"""Issue 3, point 7: "better than a line merge, shown". gvcs's merge against ``git merge-file`` on a corpus.

Every case in ``tests/merge/cases/<name>/`` holds ``path`` (the file's logical path), ``base``, ``ours`` and
``theirs`` (a missing file: absent on that side), and either ``expected`` (the merge a careful editor would
accept) or ``conflict`` (the kind of conflict that must be reported). Each tool's result is classified:

- ``correct``: a clean merge equal to ``expected``, or a reported conflict where one is expected;
- ``conflict``: a conflict where a clean merge was expected (a merge left to a human for nothing);
- ``wrong``: a clean merge that is not ``expected``, or a clean merge where a conflict was expected.

git runs as ``git merge-file -p --diff3 ours base theirs`` on temporary files (an absent side: an empty
file); an exit code above 0 is a conflict.

    python -m bench.merge_corpus
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from narrative_vcs.merge.contents import merge_file

from .util import ROOT, write_result

CASES = ROOT / "tests" / "merge" / "cases"
TOOLS = ("gvcs", "git")
VERDICTS = ("correct", "conflict", "wrong")


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    base: bytes | None
    ours: bytes | None
    theirs: bytes | None
    expected: bytes | None  # None: a conflict is expected
    conflict: str | None  # the expected conflict kind

    @property
    def category(self) -> str:
        return self.name.split("-", 1)[0]


@dataclass(frozen=True)
class Result:
    """One tool's merge of one case: its output (None: absent) and whether it reported a conflict."""

    output: bytes | None
    conflicted: bool
    kind: str | None = None  # the conflict kind, when the tool names it (gvcs)


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def load_case(directory: Path) -> Case:
    conflict = _read(directory / "conflict")
    expected = _read(directory / "expected")
    if (conflict is None) == (expected is None):
        raise ValueError(f"{directory.name}: needs exactly one of 'expected' and 'conflict'")
    return Case(
        name=directory.name,
        path=(directory / "path").read_text(encoding="utf-8").strip(),
        base=_read(directory / "base"),
        ours=_read(directory / "ours"),
        theirs=_read(directory / "theirs"),
        expected=expected,
        conflict=None if conflict is None else conflict.decode().strip(),
    )


def load_cases(root: Path = CASES) -> list[Case]:
    return [load_case(d) for d in sorted(root.iterdir()) if d.is_dir() and (d / "path").is_file()]


def run_gvcs(case: Case) -> Result:
    output, conflict = merge_file(case.path, case.base, case.ours, case.theirs)
    return Result(output, conflict is not None, None if conflict is None else conflict.kind)


def run_git(case: Case) -> Result:
    with tempfile.TemporaryDirectory(prefix="gvcs-merge-corpus-") as tmp:
        files = []
        for side in ("ours", "base", "theirs"):
            file = Path(tmp) / side
            file.write_bytes(getattr(case, side) or b"")
            files.append(str(file))
        proc = subprocess.run(
            ["git", "merge-file", "-p", "--diff3", *files], capture_output=True, check=False
        )
    if proc.returncode < 0 or proc.returncode > 127:  # killed, or git's own error (255)
        raise RuntimeError(f"git merge-file failed on {case.name}: {proc.stderr.decode()[-300:]}")
    return Result(proc.stdout, proc.returncode > 0)


RUNNERS: dict[str, Callable[[Case], Result]] = {"gvcs": run_gvcs, "git": run_git}


def classify(case: Case, result: Result) -> str:
    if case.expected is None:
        return "correct" if result.conflicted else "wrong"
    if result.conflicted:
        return "conflict"
    return "correct" if result.output == case.expected else "wrong"


def evaluate(cases: list[Case]) -> dict[str, Any]:
    """Per tool: the tallies, the verdict of every case and the cases got wrong or left in conflict."""
    tools: dict[str, Any] = {}
    for tool in TOOLS:
        verdicts: dict[str, str] = {}
        conflicts_reported = 0
        for case in cases:
            result = RUNNERS[tool](case)
            verdicts[case.name] = classify(case, result)
            conflicts_reported += result.conflicted
        tally = {v: sum(1 for x in verdicts.values() if x == v) for v in VERDICTS}
        tools[tool] = {
            **tally,
            "conflicts_reported": conflicts_reported,
            "wrong_cases": sorted(n for n, v in verdicts.items() if v == "wrong"),
            "conflict_cases": sorted(n for n, v in verdicts.items() if v == "conflict"),
            "verdicts": verdicts,
        }
    categories: dict[str, dict[str, int]] = {}
    for case in cases:
        entry = categories.setdefault(case.category, {"clean": 0, "conflict": 0})
        entry["clean" if case.expected is not None else "conflict"] += 1
    return {"cases": len(cases), "categories": categories, "tools": tools}


def report(summary: dict[str, Any]) -> str:
    lines = [f"merge corpus: {summary['cases']} cases ({CASES.relative_to(ROOT)})", ""]
    for category, counts in summary["categories"].items():
        lines.append(f"  {category:<8} {counts['clean']:>3} clean, {counts['conflict']:>3} conflict expected")
    lines.append("")
    header = f"{'tool':<6} {'correct':>8} {'conflict':>9} {'wrong clean':>12} {'conflicts reported':>19}"
    lines += [header, "-" * len(header)]
    for tool, t in summary["tools"].items():
        lines.append(
            f"{tool:<6} {t['correct']:>8} {t['conflict']:>9} {t['wrong']:>12} {t['conflicts_reported']:>19}"
        )
    for tool, t in summary["tools"].items():
        lines.append("")
        lines.append(f"{tool}: wrong clean merges ({len(t['wrong_cases'])})")
        lines += [f"  {name}" for name in t["wrong_cases"]] or ["  (none)"]
        lines.append(f"{tool}: conflicts where a clean merge was expected ({len(t['conflict_cases'])})")
        lines += [f"  {name}" for name in t["conflict_cases"]] or ["  (none)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/merge_corpus.json"
    )
    args = parser.parse_args(argv)
    summary = evaluate(load_cases())
    print(report(summary))
    if not args.no_write:
        print(f"\nwrote {write_result('merge_corpus', summary)}")
    return summary


if __name__ == "__main__":
    main()
