"""Governance benchmark (issue 6): the time from the deciding vote to the merged commit on the target.

A story of 2,000 pages with ``main`` protected (quorum 2, one actor one vote) gets 20 proposals, each
merging a branch that changes 50 pages (different pages for each, so every merge is clean; main moves
with each merge, so from the second proposal on every merge is re-checked on a newer head). Each
proposal gets one yes vote, then the deciding one, which executes the merge:

- through the library: from calling :func:`narrative_vcs.governance.vote` to the merge commit being
  on main (``Repository.merge`` returned), and the whole call (which also records the result on the
  governance branch and announces ``narrative.change.v1``);
- through the CLI: the wall time of ``gvcs vote N yes`` (a new process; the work tree follows main,
  so it also writes the 50 merged pages), beside a non-deciding ``gvcs vote`` for reference.

    python -m bench.governance_speed [--pages N] [--proposals N] [--changed N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from narrative_vcs import governance
from narrative_vcs.graph.factory import init_repository
from narrative_vcs.objects import Page, Story
from narrative_vcs.repository import ChangeSet, Repository

from .generate import StoryGenerator
from .util import gvcs_command, median, quick, time_command, write_result


def _story(root: Path, pages: int, proposals: int, changed: int) -> tuple[Repository, StoryGenerator]:
    """A protected main of ``pages`` pages and ``proposals`` branches ``prop-<i>``, each changing its own
    ``changed`` pages."""
    repo = init_repository(root)
    gen = StoryGenerator(seed=11, pages=pages, humans=4, agents=2, paragraphs=(2, 3))
    head = gen.populate(repo)
    settings = (("protected", ["main"]), ("governance", {"quorum": 2, "window": 30 * 86_400}))
    story = Story(gen.story_record().title, settings)
    head = repo.commit(
        "main",
        ChangeSet().set_story(story),
        actor=gen.actors[0].id,
        message="Protect main",
        expected_head=head,
        timestamp=gen.tick(),
    )
    ids = sorted(gen.pages)
    for i in range(proposals):
        branch = f"prop-{i}"
        repo.create_branch(branch, head)
        changes = ChangeSet()
        for pid in ids[i * changed : (i + 1) * changed]:
            page = gen.pages[pid]
            changes.upsert_page(
                Page(
                    page.id,
                    page.title,
                    page.body + f"\n\nRevised by proposal {i}.",
                    page.follows,
                    page.alternate_of,
                    page.tags,
                )
            )
        repo.commit(
            branch,
            changes,
            actor=gen.actors[1].id,
            message=f"Revise {changed} pages",
            expected_head=head,
            timestamp=gen.tick(),
        )
    return repo, gen


def _timed_merges(repo: Repository, marks: list[float]) -> None:
    """Note the moment each merge commit lands on its branch (after ``merge``/``merge_resolved``)."""
    for name in ("merge", "merge_resolved"):
        original: Callable[..., Any] = getattr(repo, name)

        def timed(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            outcome = _original(*args, **kwargs)
            marks.append(time.perf_counter())
            return outcome

        setattr(repo, name, timed)


def library(root: Path, pages: int, proposals: int, changed: int) -> dict[str, Any]:
    repo, gen = _story(root, pages, proposals, changed)
    proposer, first, decider = (a.id for a in gen.actors[:3])
    marks: list[float] = []
    _timed_merges(repo, marks)
    to_merge: list[float] = []
    whole: list[float] = []
    for i in range(proposals):
        number = governance.propose(repo, f"prop-{i}", "main", actor=proposer, message=f"Proposal {i}")
        governance.vote(repo, number, actor=first, choice="yes")
        before = len(marks)
        start = time.perf_counter()
        state = governance.vote(repo, number, actor=decider, choice="yes")
        end = time.perf_counter()
        assert state.status == "executed" and state.result is not None, state.to_json()
        assert repo.branch_head("main") == state.result.commit
        assert len(marks) == before + 1
        to_merge.append(marks[-1] - start)
        whole.append(end - start)
    repo.close()
    return {"to_merge_seconds": to_merge, "vote_call_seconds": whole}


def cli(root: Path, pages: int, proposals: int, changed: int) -> dict[str, Any] | None:
    command = gvcs_command()
    if command is None:
        return None
    repo, gen = _story(root, pages, proposals, changed)
    repo.close()
    proposer, first, decider = (a.id for a in gen.actors[:3])
    env = {k: v for k, v in os.environ.items() if not k.startswith("GVCS_")}
    subprocess.run([*command, "switch", "main"], cwd=root, env=env, check=True, capture_output=True)
    first_votes: list[float] = []
    deciding: list[float] = []
    for i in range(proposals):
        subprocess.run(
            [*command, "--actor", proposer, "propose", f"prop-{i}", "--into", "main", "-m", f"Proposal {i}"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        number = str(i + 1)
        first_votes.append(
            time_command([*command, "--actor", first, "vote", number, "yes"], cwd=root, env=env)
        )
        deciding.append(
            time_command([*command, "--actor", decider, "vote", number, "yes"], cwd=root, env=env)
        )
    return {"first_vote_seconds": first_votes, "deciding_vote_seconds": deciding}


def run(pages: int, proposals: int, changed: int) -> dict[str, Any]:
    if proposals * changed > pages:
        raise SystemExit("proposals x changed must not exceed pages (each proposal changes its own pages)")
    with tempfile.TemporaryDirectory(prefix="gvcs-governance-") as tmp:
        lib = library(Path(tmp) / "library", pages, proposals, changed)
        shell = cli(Path(tmp) / "cli", pages, proposals, changed)
    result: dict[str, Any] = {
        "pages": pages,
        "proposals": proposals,
        "changed_pages": changed,
        "library": lib,
        "median_to_merge_seconds": median(lib["to_merge_seconds"]),
        "median_vote_call_seconds": median(lib["vote_call_seconds"]),
        "cli": shell,
        "median_cli_deciding_vote_seconds": median(shell["deciding_vote_seconds"]) if shell else None,
        "median_cli_first_vote_seconds": median(shell["first_vote_seconds"]) if shell else None,
    }
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=300 if quick() else 2000)
    parser.add_argument("--proposals", type=int, default=4 if quick() else 20)
    parser.add_argument("--changed", type=int, default=10 if quick() else 50)
    args = parser.parse_args(argv)
    result = run(args.pages, args.proposals, args.changed)
    path = write_result("governance_speed", result)
    print(
        f"governance, {args.proposals} proposals of {args.changed} pages on {args.pages} pages: "
        f"deciding vote -> merge on main {result['median_to_merge_seconds'] * 1000:.1f} ms "
        f"(whole vote call {result['median_vote_call_seconds'] * 1000:.1f} ms)"
    )
    if result["cli"] is not None:
        print(
            f"  CLI: deciding gvcs vote {result['median_cli_deciding_vote_seconds'] * 1000:.0f} ms, "
            f"a non-deciding one {result['median_cli_first_vote_seconds'] * 1000:.0f} ms"
        )
    print(f"-> {path}")
    return result


if __name__ == "__main__":
    main()
