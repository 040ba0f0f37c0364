"""The Neo4j server of development and CI (scripts/neo4j): reachable with the official driver, 5.26.x."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from tests.services import Neo4jAddress, parse_neo4j_uri

pytestmark = pytest.mark.neo4j

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "neo4j"


@pytest.fixture(scope="module")
def address(neo4j_uri: str) -> Neo4jAddress:
    return parse_neo4j_uri(neo4j_uri)


@pytest.fixture(scope="module")
def driver(address: Neo4jAddress) -> Iterator[neo4j.Driver]:
    with neo4j.GraphDatabase.driver(address.uri, auth=address.auth) as driver:
        yield driver


def test_return_1(driver: neo4j.Driver, address: Neo4jAddress) -> None:
    records, _, _ = driver.execute_query("RETURN 1 AS one", database_=address.database)
    assert [record["one"] for record in records] == [1]


def test_server_is_neo4j_5_26_community(driver: neo4j.Driver, address: Neo4jAddress) -> None:
    records, _, _ = driver.execute_query(
        "CALL dbms.components() YIELD name, versions, edition RETURN name, versions, edition",
        database_=address.database,
    )
    kernel = [record for record in records if record["name"] == "Neo4j Kernel"]
    assert len(kernel) == 1, records
    assert kernel[0]["versions"][0].startswith("5.26."), kernel[0]["versions"]
    assert kernel[0]["edition"] == "community"


def test_script_status_reports_the_server(address: Neo4jAddress) -> None:
    if address.host not in ("127.0.0.1", "localhost"):
        pytest.skip(f"{address.uri} is not the loopback server of scripts/neo4j")
    env = {**os.environ, "GVCS_NEO4J_PORT": str(address.port)}
    result = subprocess.run([SCRIPT, "status"], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"running on neo4j://127.0.0.1:{address.port} (pid "), result.stdout
