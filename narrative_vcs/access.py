"""Who may use a story through the API: API tokens (stored hashed) and the access settings.

A token is ``gvcs_<id>_<secret>``: the id names it in listings and revocations, and only the SHA-256
digest of the whole token is stored, so a stolen store gives no usable token. A token acts as one
actor. The setting ``reads`` says whether reading needs a token (``token``) or not (``open``).

Each backend keeps these beside its refs (a file in the git directory, nodes in Neo4j): they belong to
the store and are never part of the story's history.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from abc import ABC, abstractmethod

from .errors import BadInput, NotFound
from .objects import validate_id
from .records import record

__all__ = [
    "READS",
    "READ_POLICIES",
    "AccessStore",
    "MemoryAccessStore",
    "TokenRecord",
    "authenticate",
    "create_token",
    "reads_need_token",
    "token_digest",
]

READS = "reads"
READ_POLICIES = ("open", "token")
SETTINGS = {READS: READ_POLICIES}
_TOKEN = re.compile(r"gvcs_([0-9a-f]{8})_[A-Za-z0-9_-]{43}")
_TOKEN_ID = re.compile(r"[0-9a-f]{8}")


@record
class TokenRecord:
    """A stored token: never the token itself, only its digest."""

    id: str
    actor: str
    digest: str
    created: int
    label: str = ""


class AccessStore(ABC):
    """Tokens and access settings of one store."""

    #: Whether a token check is a round trip to a server (then a server remembers its checks while
    #: :meth:`generation` stays the same).
    remote: bool = False

    def generation(self) -> int:
        """A number that changes whenever a token or a setting changes (0 if the store keeps none): a
        check remembered under one generation holds until the generation moves."""
        return 0

    @abstractmethod
    def add_token(self, record: TokenRecord) -> None:
        """Store a new token (its id and digest are new)."""

    @abstractmethod
    def find_token(self, digest: str) -> TokenRecord | None:
        """The token with this digest, if any."""

    @abstractmethod
    def list_tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""

    @abstractmethod
    def remove_token(self, token_id: str) -> bool:
        """Revoke a token; False if there was none with that id."""

    @abstractmethod
    def get_setting(self, key: str) -> str | None:
        """An access setting, or None when it was never set."""

    @abstractmethod
    def set_setting(self, key: str, value: str) -> None:
        """Change an access setting."""

    def close(self) -> None:
        """Release what the store holds."""


class MemoryAccessStore(AccessStore):
    """Tokens and settings in memory (scratch repositories and tests)."""

    def __init__(self) -> None:
        self._tokens: dict[str, TokenRecord] = {}
        self._settings: dict[str, str] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def generation(self) -> int:
        return self._generation

    def add_token(self, record: TokenRecord) -> None:
        with self._lock:
            self._tokens[record.id] = record
            self._generation += 1

    def find_token(self, digest: str) -> TokenRecord | None:
        with self._lock:
            return next((t for t in self._tokens.values() if t.digest == digest), None)

    def list_tokens(self) -> list[TokenRecord]:
        with self._lock:
            return sorted(self._tokens.values(), key=lambda t: (t.created, t.id))

    def remove_token(self, token_id: str) -> bool:
        with self._lock:
            self._generation += 1
            return self._tokens.pop(token_id, None) is not None

    def get_setting(self, key: str) -> str | None:
        with self._lock:
            return self._settings.get(key)

    def set_setting(self, key: str, value: str) -> None:
        with self._lock:
            self._settings[key] = value
            self._generation += 1


# --- the policy -------------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    store: AccessStore, actor: str, label: str = "", *, now: int | None = None
) -> tuple[TokenRecord, str]:
    """A new token acting as ``actor``: its record (as stored) and the token, shown once."""
    validate_id("actor", actor)
    if len(label) > 200 or any(ord(c) < 32 for c in label):
        raise BadInput("a token label is one line of at most 200 characters")
    existing = {t.id for t in store.list_tokens()}
    import secrets  # here, not at the top: it loads OpenSSL, which a cold status does not need

    token_id = secrets.token_hex(4)
    while token_id in existing:
        token_id = secrets.token_hex(4)
    token = f"gvcs_{token_id}_{secrets.token_urlsafe(32)}"
    record = TokenRecord(
        token_id, actor, token_digest(token), int(time.time() if now is None else now), label
    )
    store.add_token(record)
    return record, token


def authenticate(store: AccessStore, token: str) -> TokenRecord | None:
    """The token's record, or None for a token that is malformed, unknown or revoked."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    record = store.find_token(token_digest(token))
    if record is None or record.id != match.group(1):
        return None
    return record


def revoke_token(store: AccessStore, token_id: str) -> None:
    if not _TOKEN_ID.fullmatch(token_id):
        raise BadInput(f"invalid token id {token_id[:40]!r}: 8 hex digits, as gvcs token list shows")
    if not store.remove_token(token_id):
        raise NotFound(f"no token {token_id}")


def check_setting(key: str, value: str) -> str:
    allowed = SETTINGS.get(key)
    if allowed is None:
        raise BadInput(f"unknown access setting {key!r}: use {', '.join(SETTINGS)}")
    if value not in allowed:
        raise BadInput(f"{key} must be one of {', '.join(allowed)}, not {value[:40]!r}")
    return value


def reads_need_token(store: AccessStore) -> bool:
    """Whether reading needs a token (the ``reads`` setting; open when unset)."""
    return store.get_setting(READS) == "token"
