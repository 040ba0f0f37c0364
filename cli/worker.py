"""``gvcs worker``: a Celery worker that commits the queued events of one story (docs/tasks.md).

A thin wrapper: it builds the story's Celery app (:func:`narrative_vcs.tasks.app.make_app`) and runs
``celery worker`` in this process, on the story's own queue. Redis: ``--redis URL``, else
``$GVCS_REDIS_URL``. The story: ``--store`` (a neo4j:// URI or a repository directory), else the
repository of ``-C DIR`` or the current directory.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from .intake import redis_url, store_location

__all__ = ["cmd_worker"]


def cmd_worker(args: argparse.Namespace) -> int:
    from narrative_vcs.errors import BadInput

    url = redis_url(args)
    if url is None:
        raise BadInput(
            "gvcs worker needs Redis: --redis URL or GVCS_REDIS_URL (without it events commit inline)"
        )
    if args.concurrency < 1:
        raise BadInput("--concurrency must be at least 1")
    location = store_location(args)
    from narrative_vcs.tasks.app import Settings, make_app
    from narrative_vcs.tasks.keys import open_location

    open_location(location).close()  # a missing or unreachable story is a one-line error now
    settings = Settings(
        batch=args.batch,
        lock_ttl=args.lock_ttl,
        visibility_timeout=args.visibility_timeout,
        sweep_interval=args.sweep_interval,
    )
    app = make_app(url, location, settings)
    from narrative_vcs.tasks.pubsub import install_narrative_hook

    install_narrative_hook(url, location)  # proposals this worker closes or executes reach every server
    argv = [
        "worker",
        f"--loglevel={args.loglevel}",
        f"--hostname=gvcs-{os.getpid()}@{socket.gethostname()}",
        f"--queues={app.gvcs_keys.queue}",
        f"--concurrency={args.concurrency}",
        # One process per worker when --concurrency 1: a kill of it is a kill of the task it runs.
        f"--pool={'solo' if args.concurrency == 1 else 'prefork'}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if args.beat:
        argv.append("--beat")
    sys.stderr.write(f"gvcs: worker for {location} on queue {app.gvcs_keys.queue}\n")
    sys.stderr.flush()
    app.worker_main(argv=argv)
    return 0
