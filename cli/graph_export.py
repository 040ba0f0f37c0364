"""``gvcs graph``: the page graph of a revision (or with ``--commits`` the commit DAG of a revision, with
``--commits --all`` of every branch and tag) as GraphML, GEXF, DOT or JSON, for Gephi, Graphviz and other
tools.

With ``-o FILE`` the graph is written to a temporary file beside FILE and renamed over it at the end, so
an error (an unknown revision, a full disk) never leaves a half-written FILE behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import Context, write_file

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["cmd_graph"]


def cmd_graph(args: argparse.Namespace) -> int:
    """``gvcs graph [REV] [--format F] [--commits [--all] [--limit N]] [-o FILE]``."""
    from narrative_vcs.errors import BadInput
    from narrative_vcs.export import commit_graph, page_graph

    ctx = Context(args)
    fmt = _format(args)
    if args.limit is not None and not args.commits:
        raise BadInput("--limit works only with --commits")
    if args.all and not args.commits:
        raise BadInput("--all works only with --commits")
    if args.all and args.rev is not None:
        raise BadInput("give either REV or --all, not both")
    if args.limit is not None and args.limit < 0:
        raise BadInput("--limit must not be negative")
    graph: nx.Graph[str]
    if args.commits:
        graph = commit_graph(ctx.repo, None if args.all else args.rev or "HEAD", args.limit)
    else:
        graph = page_graph(ctx.repo, args.rev or "HEAD")
    if args.output is None or args.output == "-":
        from narrative_vcs.export import write_graph

        sys.stdout.flush()
        write_graph(graph, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        _write_file(graph, fmt, ctx.cwd / args.output, args.output)
    return 0


def _format(args: argparse.Namespace) -> str:
    from narrative_vcs.errors import BadInput

    if args.json:
        if args.format not in (None, "json"):
            raise BadInput(f"--json cannot be combined with --format {args.format}")
        return "json"
    return str(args.format or "graphml")


def _write_file(graph: nx.Graph[str], fmt: str, path: Path, shown: str) -> None:
    """Write the graph to ``path`` atomically (see :func:`cli.common.write_file`)."""
    from narrative_vcs.export import write_graph

    write_file(path, shown, lambda stream: write_graph(graph, fmt, stream))
