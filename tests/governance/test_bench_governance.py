"""The governance benchmark runs on tiny sizes (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import governance_speed, util


def test_governance_speed_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(util, "RESULTS", tmp_path / "results")
    result = governance_speed.main(["--pages", "30", "--proposals", "2", "--changed", "5"])
    assert len(result["library"]["to_merge_seconds"]) == 2
    assert result["median_to_merge_seconds"] <= result["median_vote_call_seconds"]
    assert result["cli"] is not None and len(result["cli"]["deciding_vote_seconds"]) == 2
    assert json.loads((tmp_path / "results" / "governance_speed.json").read_text())["proposals"] == 2
