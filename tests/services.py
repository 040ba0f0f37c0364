"""The external services of the tests: the Neo4j server that ``make test`` starts with ``scripts/neo4j``.

``make test`` exports ``GVCS_TEST_NEO4J_URI`` (``scripts/neo4j url``, e.g.
``neo4j://neo4j:neo4j@127.0.0.1:7687``) when the server is up; a plain ``pytest`` run outside CI
falls back to the server of ``scripts/neo4j url`` if it answers. The ``neo4j_uri`` fixture of
``tests/conftest.py`` hands the URI to the tests; without a server it skips them locally and fails them
under ``CI=true``. :func:`need` does the same for any other test's service (the browser, GraphiQL's files).

Redis likewise: ``make test`` exports ``GVCS_TEST_REDIS_URL`` (``scripts/redis url``) when
``scripts/redis start`` succeeded; outside CI a plain ``pytest`` falls back to the server of
``scripts/redis url`` if it answers PING; the ``redis_url`` fixture skips or fails without one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

URI_VARIABLE = "GVCS_TEST_NEO4J_URI"
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "neo4j"
REDIS_VARIABLE = "GVCS_TEST_REDIS_URL"
REDIS_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "redis"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def need(what: str, problem: str | None) -> None:
    """Skip the test if ``problem`` (why ``what`` is not there) is set; under ``CI=true`` fail it instead."""
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"CI=true needs {what}: {problem}", pytrace=False)
    pytest.skip(f"missing {what}: {problem}")


@dataclass(frozen=True)
class Neo4jAddress:
    """A ``neo4j://user:pass@host:port[/database]`` URI taken apart for the official driver."""

    uri: str  # scheme://host:port, without credentials or database
    host: str
    port: int
    auth: tuple[str, str] | None
    database: str | None


def parse_neo4j_uri(uri: str) -> Neo4jAddress:
    """The URI as the backend reads it (:func:`narrative_vcs.graph.neo4j.parse_neo4j_uri`), for the driver."""
    from narrative_vcs.errors import BadInput
    from narrative_vcs.graph.neo4j import parse_neo4j_uri as parse

    try:
        location = parse(uri)
    except BadInput as error:
        raise ValueError(str(error)) from None
    parts = urlsplit(location.address)
    return Neo4jAddress(
        location.address,
        parts.hostname or "127.0.0.1",
        parts.port or 7687,
        (location.user, location.password),
        location.database,
    )


def _configured_uri() -> str | None:
    """``GVCS_TEST_NEO4J_URI``; outside CI, else the URI of ``scripts/neo4j url``."""
    uri = os.environ.get(URI_VARIABLE)
    if uri or in_ci():
        return uri
    try:
        result = subprocess.run(
            [sys.executable, str(SCRIPT), "url"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def neo4j_problem() -> str | None:
    """Why the Neo4j of the tests cannot be used, or None if it answers."""
    uri = _configured_uri()
    if not uri:
        return f"{URI_VARIABLE} is not set (make test sets it when scripts/neo4j start succeeded)"
    try:
        address = parse_neo4j_uri(uri)
    except ValueError as error:
        return f"{URI_VARIABLE}: {error}"
    try:
        with socket.create_connection((address.host, address.port), timeout=5):
            pass
    except OSError as error:
        return f"Neo4j does not answer on {address.host}:{address.port} ({error})"
    return None


def neo4j_uri() -> str | None:
    """The URI of the test server if it is known (see ``_configured_uri``) and answers, else None."""
    return _configured_uri() if neo4j_problem() is None else None


# --- Redis ----------------------------------------------------------------------------------------


def _configured_redis_url() -> str | None:
    """``GVCS_TEST_REDIS_URL``; outside CI, else the URL of ``scripts/redis url``."""
    url = os.environ.get(REDIS_VARIABLE)
    if url or in_ci():
        return url
    try:
        result = subprocess.run(
            [sys.executable, str(REDIS_SCRIPT), "url"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def redis_problem() -> str | None:
    """Why the Redis of the tests cannot be used, or None if it answers PING."""
    url = _configured_redis_url()
    if not url:
        return f"{REDIS_VARIABLE} is not set (make test sets it when scripts/redis start succeeded)"
    parts = urlsplit(url)
    if parts.scheme != "redis":
        return f"{REDIS_VARIABLE}: not a redis:// URL: {url!r}"
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = sock.recv(64)
    except OSError as error:
        return f"Redis does not answer on {host}:{port} ({error})"
    if not reply.startswith(b"+PONG"):
        return f"Redis on {host}:{port} answered PING with {reply[:40]!r}"
    return None


def redis_url() -> str | None:
    """The URL of the test Redis if it is known and answers, else None."""
    return _configured_redis_url() if redis_problem() is None else None
