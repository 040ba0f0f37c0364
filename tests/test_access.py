"""API tokens and access settings on every backend: stored hashed, found, revoked."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from narrative_vcs.access import (
    READS,
    MemoryAccessStore,
    authenticate,
    check_setting,
    create_token,
    reads_need_token,
    revoke_token,
    token_digest,
)
from narrative_vcs.errors import BadInput, CorruptObject, NotFound
from narrative_vcs.graph.access_file import FileAccessStore
from narrative_vcs.repository import Repository

from .conftest import Backend


def test_tokens_are_stored_hashed_and_found(backend: Backend, repo: Repository) -> None:
    record, token = create_token(repo.access, "ada", "laptop", now=1_700_000_000)
    assert token.startswith(f"gvcs_{record.id}_") and len(token) == 57
    assert record.digest == token_digest(token) and token not in record.digest
    assert authenticate(repo.access, token) == record
    assert repo.access.list_tokens() == [record]
    assert record.created == 1_700_000_000 and record.label == "laptop"
    if backend.git_dir is not None:
        stored = (backend.git_dir / "gvcs-access.json").read_text()
        assert token not in stored and token.split("_", 2)[2] not in stored
        assert (backend.git_dir / "gvcs-access.json").stat().st_mode & 0o077 == 0


def test_forged_tokens_are_not_found(repo: Repository) -> None:
    record, token = create_token(repo.access, "ada")
    for forged in ("", "gvcs", token + "x", token[:-1], token.replace(record.id, "0" * 8), record.digest):
        assert authenticate(repo.access, forged) is None


def test_revoke(repo: Repository) -> None:
    first, token = create_token(repo.access, "ada")
    second, other = create_token(repo.access, "bot")
    revoke_token(repo.access, first.id)
    assert authenticate(repo.access, token) is None
    assert authenticate(repo.access, other) == second
    assert [t.id for t in repo.access.list_tokens()] == [second.id]
    with pytest.raises(NotFound):
        revoke_token(repo.access, first.id)
    with pytest.raises(BadInput):
        revoke_token(repo.access, "../x")


def test_bad_actor_or_label_stores_nothing(repo: Repository) -> None:
    for actor, label in (("../ada", ""), ("ada", "two\nlines"), ("ada", "x" * 201)):
        with pytest.raises(BadInput):
            create_token(repo.access, actor, label)
    assert repo.access.list_tokens() == []


def test_read_policy_setting(repo: Repository) -> None:
    assert repo.access.get_setting(READS) is None and not reads_need_token(repo.access)
    repo.access.set_setting(READS, check_setting(READS, "token"))
    assert reads_need_token(repo.access)
    with pytest.raises(BadInput):
        check_setting(READS, "closed")
    with pytest.raises(BadInput):
        check_setting("writes", "open")


def _create_many(git_dir: str, actor: str) -> None:
    store = FileAccessStore(Path(git_dir))
    for _ in range(10):
        create_token(store, actor)


def test_concurrent_processes_lose_no_token(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_create_many, args=(str(tmp_path), f"actor{i}")) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    tokens = FileAccessStore(tmp_path).list_tokens()
    assert len(tokens) == 40 and len({t.id for t in tokens}) == 40


def test_a_damaged_access_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "gvcs-access.json").write_text(json.dumps({"tokens": "nope"}))
    with pytest.raises(CorruptObject, match="not a gvcs access file"):
        FileAccessStore(tmp_path).list_tokens()


def test_memory_store_is_the_default() -> None:
    assert isinstance(Repository.memory().access, MemoryAccessStore)
