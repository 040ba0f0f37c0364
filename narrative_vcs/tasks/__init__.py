"""Background work over Redis and Celery: event intake, the workers that commit it, pub/sub fan-out.

An entry point like ``cli/`` and ``api/``: it may read the environment and it is the only code that
imports celery (and redis, besides the server's fan-out). With no Redis configured nothing here runs in
the background: :func:`narrative_vcs.tasks.intake.submit` commits inline.

    keys.py    where a story lives (its store id) and the Redis names derived from it
    queue.py   the durable intake queue: one Redis list per partition, a lock per partition (no Celery)
    drain.py   a worker's drain of one partition: read, ingest_many, trim, publish (no Celery)
    app.py     the Celery application: settings, the tasks, worker signals, the beat schedule
    intake.py  submit(location, events, redis_url=...): inline or queued, receipts, waiting
    pubsub.py  commit wake-ups and narrative.change.v1 messages on Redis pub/sub

docs/tasks.md describes the design and every point at which a worker may be killed.
"""
