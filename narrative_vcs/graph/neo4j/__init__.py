"""The Neo4j backend: git objects, refs and a readable projection of the story in one Neo4j database.

Objects keep their git ids, so history moves between this store and the embedded git store as a copy
of missing objects, ids unchanged. Blobs, trees and tags are stored in ``(:Pack {seq, count, data, ids,
offsets})`` nodes: each holds a git pack (version 2, whole objects) of a batch with its sorted binary ids
and their offsets; readers keep an index of every pack in memory (:class:`~.packfile.PackIndex`),
extended with the packs numbered past the last one they saw. A commit is stored on its ``(:Commit)`` node
(``raw``) only. This is layout 2, marked by ``(:Meta {name: 'layout', version: 2})``; a database written
before it holds an ``(:Object {id, type, data})`` node per object: it is read as it is, refuses writes
(:class:`NeedsMigration`), and ``gvcs migrate`` (:mod:`.migrate`) moves it to layout 2.

Refs are ``(:Ref)`` nodes (also labelled ``:Branch`` or ``:Tag``) whose compare-and-swap runs in one
transaction that first takes the ref's write lock, then compares, then writes, so concurrent writers
never lose an update.

Next to the objects, every transaction that stores commits also writes the graph people read in Cypher
and Bloom (docs/architecture.md, section 3): ``Commit``, ``Actor``, ``Page`` and ``PageVersion`` nodes
with ``PARENT``, ``AUTHORED_BY``, ``CHANGED``, ``VERSION_OF``, ``FOLLOWS``, ``ALTERNATE_OF`` and
``LINKS_TO``, and from governance commits ``Proposal`` nodes with ``MERGES`` and ``VOTED``; a ref
update moves ``(:Branch)-[:HEAD]->(:Commit)`` and the branch's ``HAS_PAGE`` edges to the page versions
its head holds, in the same transaction as the update.

Commits carry a ``seq`` number in the order they were stored; history readers fetch only the commits
past the last number they saw (:meth:`Neo4jObjectStore.commit_headers`), and the history algorithms
(log order, ancestry, merge-base) run on the in-memory commit DAG, never on Cypher path queries.

Every Cypher statement lives in the ``cypher`` package, one per file.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import Unavailable
from .access import Neo4jAccessStore
from .objects import Neo4jObjectStore
from .projection import Projection, version_id
from .refs import Neo4jRefStore
from .server import (
    LAYOUT,
    PACK_BYTES,
    PACKS_PER_QUERY,
    SCHEMES,
    NeedsMigration,
    Neo4jLocation,
    Neo4jServer,
    parse_neo4j_uri,
)

__all__ = [
    "LAYOUT",
    "PACKS_PER_QUERY",
    "PACK_BYTES",
    "SCHEMES",
    "Neo4jAccessStore",
    "Neo4jLocation",
    "Neo4jObjectStore",
    "Neo4jRefStore",
    "Neo4jServer",
    "NeedsMigration",
    "Projection",
    "Unavailable",
    "open_neo4j",
    "parse_neo4j_uri",
    "version_id",
]


def open_neo4j(
    uri: str, cache_dir: Path | None = None
) -> tuple[Neo4jObjectStore, Neo4jRefStore, Neo4jAccessStore]:
    """The object, ref and access stores of the story at ``uri``, sharing one driver.

    ``cache_dir``: where to keep derived data between processes (a work tree's ``.gvcs``), if anywhere.
    """
    server = Neo4jServer(parse_neo4j_uri(uri))
    objects = Neo4jObjectStore(server, cache_dir=cache_dir)
    return objects, Neo4jRefStore(server, objects), Neo4jAccessStore(server)
