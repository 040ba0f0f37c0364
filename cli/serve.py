"""``gvcs serve``: the GraphQL API (and GraphiQL) over HTTP, with uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import Context

if TYPE_CHECKING:
    from narrative_vcs.repository import Repository

__all__ = ["cmd_serve", "open_served"]


def open_served(args: argparse.Namespace) -> Repository:
    """The repository to serve: ``--store`` (a neo4j:// URI or a repository directory), else the
    repository of the current directory."""
    store = args.store
    if store is None:
        return Context(args).repo
    from narrative_vcs.graph.factory import find_root, open_repository, open_store

    if store.startswith(("neo4j", "bolt")):
        return open_store(store)
    return open_repository(find_root(Path(store)))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.graphql.app import create_app
    from narrative_vcs.errors import BadInput

    from .intake import redis_url, store_location

    if args.max_push < 1:
        raise BadInput(f"--max-push must be at least 1 (MiB), not {args.max_push}")
    url = redis_url(args)
    repo = open_served(args)
    fanout = intake = None
    if url is not None:  # events to the workers; commits and narrative messages of every process, at once
        from api.graphql.fanout import RedisFanout
        from api.graphql.queued_intake import QueuedIntake
        from narrative_vcs.tasks.keys import Keys, store_id

        try:
            location = store_location(args)
            fanout = RedisFanout(url, Keys(store_id(location)))
            intake = QueuedIntake(location, url)
        except BaseException:
            repo.close()
            raise
    config = uvicorn.Config(
        create_app(
            repo, cache_reads=args.read_cache, fanout=fanout, intake=intake, max_push=args.max_push << 20
        ),
        host=args.host,
        port=args.port,
        log_level="info",
        lifespan="on",
        access_log=args.access_log,
    )
    server = uvicorn.Server(config)
    # What is loaded now (modules, the schema, the store's caches) lives as long as the server: keep it
    # out of the garbage collector's full passes, which would otherwise walk it all and pause every
    # request for tens of milliseconds now and then (as CPython's documentation of gc.freeze advises).
    gc.collect()
    gc.freeze()
    sys.stderr.write(f"gvcs: serving GraphQL on http://{args.host}:{args.port}/graphql\n")
    sys.stderr.flush()
    # uvicorn shuts down on SIGINT, then raises the signal again for the caller: it was asked for.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 1
