"""Smoke tests of the benchmarks: the generator is deterministic and every benchmark runs on tiny sizes.

No timing is ever asserted here: the figures are for bench/results/, not for pass or fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bench import (
    cli_latency,
    cold_log,
    commit_rate,
    disk,
    gate_cost,
    git_http,
    log_speed,
    read_speed,
    story_map,
    util,
)
from bench.generate import StoryGenerator, build_history
from narrative_vcs.graph.factory import open_repository
from narrative_vcs.repository import Repository
from tests.api.test_story_map import need_browser

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")


def _history(seed: int) -> tuple[dict[str, str], list[str]]:
    repo = Repository.memory()
    made = StoryGenerator(seed=seed, pages=40).generate(repo, commits=30, branches=2)
    log = [c.id for c in repo.walk([f"refs/heads/{b}" for b in made.heads])]
    assert made.commits == 30
    return dict(made.heads), log


def test_generator_is_deterministic_for_a_seed() -> None:
    assert _history(3) == _history(3)
    assert _history(3) != _history(4)


def test_generated_story_has_links_actors_and_branches() -> None:
    gen = StoryGenerator(seed=1, pages=200, humans=2, agents=2)
    repo = Repository.memory()
    made = gen.generate(repo, commits=40, branches=2)
    assert set(made.heads) == {"main", "draft-1", "draft-2"}
    pages = repo.read_story("main").pages
    assert len(pages) == 200
    assert any(p.follows for p in pages.values())
    assert any(p.alternate_of for p in pages.values())
    assert {a.kind for a in repo.list_actors("main")} == {"human", "agent"}
    kinds = {c.kind for c in repo.walk(list(made.heads))}
    assert "agent.emit.v1" in kinds and "edit" in kinds


@needs_git
def test_fast_history_is_the_history_the_library_writes(tmp_path: Path) -> None:
    repo = Repository.memory()
    gen = StoryGenerator(seed=9, pages=30)
    head = gen.populate(repo)
    for edit in gen.edits(24):
        head = gen.apply(repo, edit, head)
    fast = build_history(tmp_path / "s", StoryGenerator(seed=9, pages=30), 25)
    assert fast == head
    stored = open_repository(tmp_path / "s")
    try:
        assert len(list(stored.walk())) == 25
        assert stored.fsck().ok
        assert stored.fsck_rules().ok  # the generated history follows the story's rules
    finally:
        stored.close()
    subprocess.run(["git", f"--git-dir={tmp_path / 's' / '.gvcs'}", "fsck", "--strict"], check=True)


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(util, "RESULTS", tmp_path / "results")
    return tmp_path / "results"


def test_commit_rate_runs(results: Path) -> None:
    result = commit_rate.main(["--pages", "30", "--commits", "10", "--runs", "1"])
    assert result["median_git_commits_per_s"] > 0
    assert json.loads((results / "commit_rate.json").read_text())["pages"] == 30


@needs_git
def test_log_speed_runs(results: Path) -> None:
    result = log_speed.main(["--commits", "20", "--runs", "1"])
    assert result["median_git_seconds"] > 0
    assert (results / "log_speed.json").is_file()


@needs_git
def test_cold_log_runs(results: Path) -> None:
    result = cold_log.main(["--commits", "20", "--runs", "1"])
    assert "python_pass" in result["median_seconds"]
    assert (results / "cold_log.json").is_file()


@needs_git
def test_cli_latency_runs(results: Path) -> None:
    argv = ["--pages", "60", "--runs", "1", "--import-runs", "1", "--merge-pages", "8", "--both", "3"]
    result = cli_latency.main(argv)
    assert set(result["figures"]) == {"status", "commit", "log", "merge", "import"}
    assert all(len(result["seconds"][f"{w}_gvcs"]) == 1 for w in result["figures"])
    assert "| status |" in cli_latency.table(result)
    assert (results / "cli_latency.json").is_file()


@needs_git
def test_disk_runs(results: Path) -> None:
    result = disk.main(["--pages", "20", "--commits", "10"])
    assert result["auto_packed_bytes"] > 0 and result["git_gc_bytes"] > 0
    assert (results / "disk.json").is_file()


@needs_git
def test_gate_cost_runs(results: Path) -> None:
    sizes = ["--pages", "30", "--commits", "4", "--agents", "3", "--groups", "2", "--history", "30"]
    result = gate_cost.main([*sizes, "--history-pages", "20"])
    assert result["long_history"]["commits"] == 30
    assert result["cli_single_page_commit"]["median_seconds_with_rules"] > 0
    assert (results / "gate_cost.json").is_file()


@needs_git
def test_git_http_runs(results: Path) -> None:
    result = git_http.main(["--commits", "20", "--push", "5", "--pages", "10", "--runs", "1"])
    assert result["clone"]["ratio"] > 0 and result["push"]["actor"] == "human-0"
    assert (results / "git_http.json").is_file()


@needs_git
def test_read_speed_runs(results: Path) -> None:
    # epubcheck (a JVM start per book) is run by tests/test_epub.py; here ebooklib reads the books back
    result = read_speed.main(["--pages", "30", "--commits", "2", "--runs", "1", "--no-epubcheck"])
    assert set(result["demo"]) == {
        f"{b}/{f}" for b in ("main", "alt-ending", "agent-drafts") for f in read_speed.FORMATS
    }
    epub = result["generated"]["epub"]
    assert epub["peak_rss_mb"] > 0 and epub["validation"]["ebooklib_documents"] >= 2
    assert epub["validation"]["epubcheck"] is None
    assert (results / "read_speed.json").is_file()


@needs_git
def test_story_map_runs(results: Path) -> None:
    need_browser()
    result = story_map.main(["--pages", "30", "--commits", "2", "--runs", "1"])
    assert result["shown_pages"] == 30 and result["median_first_render_seconds"] > 0
    assert (results / "story_map.json").is_file()
