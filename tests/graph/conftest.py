"""Fixtures of the backend tests."""

from __future__ import annotations

import pytest

from narrative_vcs.repository import Repository

from ..conftest import Backend


@pytest.fixture
def neo(neo4j_backend: Backend) -> Repository:
    """A repository on the real Neo4j server, emptied, with HEAD on ``main``."""
    repo = Repository(neo4j_backend.objects, neo4j_backend.refs)
    repo.set_head_branch("main")
    return repo
