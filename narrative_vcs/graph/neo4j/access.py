"""Actors' API tokens and roles kept in the story's Neo4j database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...access import AccessStore, TokenRecord
from ...records import asdict
from .server import Neo4jServer, _statement

if TYPE_CHECKING:
    import neo4j


class Neo4jAccessStore(AccessStore):
    """API tokens as ``(:ApiToken)`` nodes (digests only) and settings as ``(:AccessSetting)`` nodes."""

    remote = True

    def __init__(self, server: Neo4jServer) -> None:
        self.server = server

    def _run(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """A change of tokens or settings, which moves the generation in the same transaction."""

        def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
            result = tx.run(_statement(name), params)
            keys = result.keys()
            rows = [dict(zip(keys, values, strict=True)) for values in result.values()]
            tx.run(_statement("access/generation_next")).consume()
            return rows

        return self.server.write(work)  # type: ignore[no-any-return]

    @staticmethod
    def _record(row: dict[str, Any]) -> TokenRecord:
        return TokenRecord(row["id"], row["actor"], row["digest"], int(row["created"]), row["label"] or "")

    def generation(self) -> int:
        rows = self.server.query("access/generation")
        return int(rows[0]["generation"]) if rows else 0

    def add_token(self, record: TokenRecord) -> None:
        self._run("access/token_add", **asdict(record))

    def find_token(self, digest: str) -> TokenRecord | None:
        rows = self.server.query("access/token_find", digest=digest)
        return self._record(rows[0]) if rows else None

    def list_tokens(self) -> list[TokenRecord]:
        return [self._record(row) for row in self.server.query("access/token_list")]

    def remove_token(self, token_id: str) -> bool:
        return bool(self._run("access/token_remove", id=token_id)[0]["removed"])

    def get_setting(self, key: str) -> str | None:
        rows = self.server.query("access/setting_get", key=key)
        return str(rows[0]["value"]) if rows else None

    def set_setting(self, key: str, value: str) -> None:
        self._run("access/setting_set", key=key, value=value)

    def close(self) -> None:
        self.server.close()
