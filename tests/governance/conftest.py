"""Fixtures of the governance tests (the story they share is in :mod:`tests.governance.story`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from narrative_vcs import governance
from narrative_vcs.governance import NarrativeChange


@pytest.fixture
def changes() -> Iterator[list[NarrativeChange]]:
    """The narrative.change.v1 announcements made during the test."""
    seen: list[NarrativeChange] = []
    governance.on_narrative_change.append(seen.append)
    yield seen
    governance.on_narrative_change.remove(seen.append)
