"""``gvcs migrate``: move a Neo4j store written by an older gvcs (an ``(:Object)`` node per git object) to
the current layout (packs). Stop the store's servers and workers first; reads work meanwhile, writes are
refused until it ends. Killed, it leaves a readable store, and running it again finishes it."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import Context, emit_json, out
from .common import progress as _progress

if TYPE_CHECKING:
    from narrative_vcs.graph.neo4j.migrate import MigrationReport

__all__ = ["cmd_migrate"]


def _store(args: argparse.Namespace) -> str:
    """``--store``, else the store of the repository of the current directory (or ``-C DIR``)."""
    from narrative_vcs.errors import BadInput

    store = args.store
    if not store:
        configured = Context(args).config().get("store")
        if not isinstance(configured, str) or configured == "git":
            raise BadInput(
                "this repository keeps its history in .gvcs (git), which needs no migration; "
                "gvcs migrate moves a Neo4j store: --store neo4j://user:password@host:7687[/database]"
            )
        store = configured
    from narrative_vcs.graph.neo4j import parse_neo4j_uri

    parse_neo4j_uri(store)  # a Neo4j URI, or bad input
    return str(store)


def cmd_migrate(args: argparse.Namespace) -> int:
    """``gvcs migrate [--store URI] [--force] [--json]``."""
    from narrative_vcs.graph.factory import redact
    from narrative_vcs.graph.neo4j import Neo4jServer, parse_neo4j_uri
    from narrative_vcs.graph.neo4j.migrate import migrate

    uri = _store(args)
    server = Neo4jServer(parse_neo4j_uri(uri))
    try:
        report = migrate(server, force=args.force, progress=None if args.json else _progress("Packing"))
    finally:
        server.close()
    if args.json:
        emit_json(report.to_json())
        return 0
    for line in _summary(report, redact(uri)):
        out(line)
    if report.damaged:
        sys.stderr.write(
            f"gvcs: warning: {len(report.damaged)} object(s) do not hash to their id and stay as Object "
            f"nodes, e.g. {report.damaged[0]}\n"
        )
    return 0


def _summary(report: MigrationReport, uri: str) -> list[str]:
    from narrative_vcs.graph.neo4j import LAYOUT

    if report.current:
        return [f"The Neo4j database at {report.location} is in the current layout ({LAYOUT}): nothing to do"]
    lines = []
    if report.resumed:
        from narrative_vcs.graph.neo4j.migrate import mark_holder

        lines.append(f"Continued the migration that {mark_holder(report.resumed)} began")
    lines += [
        f"Migrated the Neo4j database at {report.location} to layout {LAYOUT}:",
        f"  {report.commits} commits: {report.commit_nodes} commit Object nodes dropped (each Commit node "
        f"holds its commit), {report.raw_filled} Commit nodes given their raw object",
        f"  {report.packed + report.swept} objects moved into {report.packs} packs: {report.packed} by "
        f"history, {report.swept} that no commit reaches",
    ]
    if report.missing:
        lines.append(f"  {report.missing} objects named by trees are not in the database")
    lines.append(f"Check it with: gvcs fsck --store {uri}")
    return lines
