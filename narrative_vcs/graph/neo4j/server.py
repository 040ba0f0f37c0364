"""The Neo4j server a story lives on: its URI, the driver, the schema and the layout of its objects."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ...errors import BadInput, Refused, Unavailable
from ...records import record

if TYPE_CHECKING:
    import neo4j


LAYOUT = 2
#: A batch's blobs, trees and tags go in packs of about this many bytes (a larger object alone).
PACK_BYTES = 4 << 20
#: Whole packs fetched by one query (at most about ``PACK_BYTES`` each, a few larger).
PACKS_PER_QUERY = 8

SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")


class NeedsMigration(Refused):
    """The database may not be written now: it holds the old layout (an ``(:Object)`` node per object),
    a migration to the current one is under way or was cut short, or a newer gvcs wrote it."""

    code = "NEEDS_MIGRATION"


class LayoutChanged(Exception):
    """Raised inside a write transaction whose statement found the database not writable (the guard on
    ``(:Meta {name: 'layout'})`` in ``projection/write``): :meth:`Neo4jServer.write` finds the layout
    again, then refuses or retries."""


@record
class Neo4jLocation:
    """Where a story lives: a Bolt address, credentials and a database (None: the server's default)."""

    address: str  # scheme://host:port, as the driver takes it
    user: str
    password: str
    database: str | None

    def __str__(self) -> str:
        """The location without the password."""
        db = f"/{self.database}" if self.database else ""
        return f"{self.address.split('://', 1)[0]}://{self.user}@{self.address.split('://', 1)[1]}{db}"


def parse_neo4j_uri(uri: str) -> Neo4jLocation:
    """``neo4j://user:pass@host:7687[/db]`` (or ``bolt://``) as a :class:`Neo4jLocation`."""
    parts = urlsplit(uri)
    if parts.scheme not in SCHEMES:
        raise BadInput(f"not a Neo4j URI: {uri!r} (expected neo4j://user:password@host:7687[/database])")
    try:
        port = parts.port or 7687
    except ValueError:
        raise BadInput(f"bad port in Neo4j URI {uri!r}") from None
    if not parts.hostname:
        raise BadInput(f"no host in Neo4j URI {uri!r}")
    database = parts.path.strip("/") or None
    if database is not None and (not database.replace("-", "").replace(".", "").isalnum() or "/" in database):
        raise BadInput(f"bad database name {database!r} in Neo4j URI")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    # The scheme is kept: neo4j:// routes (a cluster, Aura), bolt:// talks to one server. With driver
    # 5.28 routing costs a single server nothing per session (the routing table and home database are
    # cached), so neo4j:// is right everywhere.
    return Neo4jLocation(
        f"{parts.scheme}://{host}:{port}",
        unquote(parts.username or "neo4j"),
        unquote(parts.password or ""),
        database,
    )


def _import_driver() -> None:
    """The official driver, imported without its optional numpy and pandas support.

    gvcs passes no numpy or pandas values and builds no data frames; importing numpy alone would add a
    fifth to a whole ``gvcs log`` on a Neo4j store. They stay importable for everything else.
    """
    import sys

    if "neo4j" in sys.modules:
        return
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import numpy` raise ImportError
    try:
        import neo4j  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]
    import logging

    # The driver's own warnings (a retry announced) are not for a terminal: a failure reaches gvcs's
    # caller as one error. A handler here keeps them from logging's last-resort printing to stderr;
    # an application that configures logging still sees them.
    logging.getLogger("neo4j").addHandler(logging.NullHandler())


def _pipelined_begin(session: neo4j.Session) -> contextlib.AbstractContextManager[Any]:
    """Send a transaction's BEGIN with its first statement, one round trip less per transaction, as
    ``Driver.execute_query`` does (a driver without the switch begins as usual)."""
    switch = getattr(session, "_pipelined_begin", None)
    return switch if isinstance(switch, contextlib.AbstractContextManager) else contextlib.nullcontext()


def _statement(name: str) -> str:
    from cypher import statement

    return statement(name)


class Neo4jServer:
    """One driver for one database, shared by the object and ref stores of a repository."""

    def __init__(self, location: Neo4jLocation) -> None:
        _import_driver()
        import neo4j

        self.location = location
        self._neo4j = neo4j
        try:
            self.driver = neo4j.GraphDatabase.driver(
                location.address,
                auth=(location.user, location.password),
                max_connection_pool_size=50,
                connection_acquisition_timeout=60,
                connection_timeout=10,
                # Transient errors (a deadlock between writers) are retried for this long.
                max_transaction_retry_time=60,
                # No notices from the server: gvcs's statements name labels a database may not hold
                # (Object, of the old layout; Pack before the first write), which the server would
                # warn about on every read, for people who write queries, not for gvcs's users.
                notifications_min_severity="OFF",
            )
        except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
            raise BadInput(f"bad Neo4j URI: {exc}") from None
        self._schema_done = False
        self._writable = False  # the layout was found current, with no migration under way
        self._connected = False
        self._lock = threading.Lock()
        self._closed = False

    def _session(self) -> neo4j.Session:
        return self.driver.session(database=self.location.database)

    def _call(self, mode: str, work: Callable[[neo4j.ManagedTransaction], Any]) -> Any:
        exceptions = self._neo4j.exceptions
        try:
            if mode == "query":  # one read statement: BEGIN pipelined with it (one round trip less)
                return work(None)  # type: ignore[arg-type]
            with self._session() as session, _pipelined_begin(session):
                if mode == "write":
                    return session.execute_write(work)
                return session.execute_read(work)
        except exceptions.AuthError as exc:
            raise Unavailable(f"Neo4j at {self.location} refused the credentials: {exc.message}") from None
        except exceptions.ServiceUnavailable:
            raise Unavailable(f"Neo4j is not reachable at {self.location} (is the server running?)") from None
        except exceptions.ClientError as exc:
            if exc.code and "DatabaseNotFound" in exc.code:
                raise Unavailable(
                    f"Neo4j at {self.location} has no database {self.location.database!r}"
                ) from None
            raise

    def write(self, work: Callable[[neo4j.ManagedTransaction], Any]) -> Any:
        """Run ``work`` in a managed write transaction (retried by the driver on transient errors).

        Raises :class:`NeedsMigration` when the database may not be written: checked by a process's first
        write, and again whenever a statement's own guard finds that the layout changed since."""
        self.ensure_schema()
        try:
            return self._call("write", work)
        except LayoutChanged:
            pass
        # Emptied meanwhile (tests, ``init --force``): marked again and written. Being migrated: refused.
        with self._lock:
            self._writable = False
        self.ensure_schema()
        try:
            return self._call("write", work)
        except LayoutChanged:
            raise NeedsMigration(MIGRATING.format(location=self.location)) from None

    def write_migrating(self, work: Callable[[neo4j.ManagedTransaction], Any]) -> Any:
        """A write of ``gvcs migrate`` (:mod:`.migrate`): the schema is made but the layout is not
        checked (each statement of the migration checks the migration's own mark instead)."""
        self._connect()
        self._ensure_constraints()
        return self._call("write", work)

    def read(self, work: Callable[[neo4j.ManagedTransaction], Any]) -> Any:
        self._connect()
        return self._call("read", work)

    def query(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        """The records of one read statement, as dicts (``Driver.execute_query``: a managed read
        transaction, retried on transient errors, whose BEGIN goes with the statement)."""

        def rows(result: neo4j.Result) -> list[dict[str, Any]]:
            keys = result.keys()
            # Not Record.data(): it rebuilds every value (bytes into lists of ints) in Python.
            return [dict(zip(keys, values, strict=True)) for values in result.values()]

        def work(_tx: None) -> list[dict[str, Any]]:
            return self.driver.execute_query(  # type: ignore[no-any-return]
                _statement(name),
                params,
                routing_=self._neo4j.RoutingControl.READ,
                database_=self.location.database,
                bookmark_manager_=None,
                result_transformer_=rows,
            )

        self._connect()
        return self._call("query", work)  # type: ignore[arg-type, no-any-return]

    def _connect(self) -> None:
        """Check once that the server answers: fail at once, not after the driver's retries."""
        if self._connected:
            return
        try:
            self.driver.verify_connectivity()
        except self._neo4j.exceptions.AuthError as exc:
            raise Unavailable(f"Neo4j at {self.location} refused the credentials: {exc.message}") from None
        except (self._neo4j.exceptions.ServiceUnavailable, OSError):
            raise Unavailable(f"Neo4j is not reachable at {self.location} (is the server running?)") from None
        self._connected = True

    def ensure_schema(self) -> None:
        """Create the constraints and indexes of ``cypher/schema`` (IF NOT EXISTS), once per process that
        writes (readers do not need them), and check that the database may be written: an empty one is
        marked as the current layout (``(:Meta {name: 'layout', version: 2})``); one of the old layout,
        or being migrated, is refused with :class:`NeedsMigration` and looked at again by the next
        write, so a process may outlive a migration."""
        if self._writable:
            return
        self._connect()
        self._ensure_constraints()
        with self._lock:
            if self._writable:
                return
            location = str(self.location)
            self._call("write", lambda tx: _check_layout(tx, location))
            self._writable = True

    def _ensure_constraints(self) -> None:
        if self._schema_done:
            return
        with self._lock:
            if self._schema_done:
                return
            from cypher import schema_statements

            for _name, text in schema_statements():

                def create(tx: neo4j.ManagedTransaction, text: str = text) -> None:
                    tx.run(text).consume()

                self._call("write", create)
            self._schema_done = True

    def clear(self) -> None:
        """Delete every node of the database (tests, and ``gvcs init --store ... --force``)."""
        exceptions = self._neo4j.exceptions
        try:
            with self._session() as session:
                # CALL ... IN TRANSACTIONS needs an auto-commit transaction.
                session.run(_statement("admin/clear_relationships")).consume()
                session.run(_statement("admin/clear_nodes")).consume()
        except exceptions.ServiceUnavailable:
            raise Unavailable(f"Neo4j is not reachable at {self.location} (is the server running?)") from None
        with self._lock:
            self._writable = False  # the next write finds the layout again (an empty database's)

    def verify(self) -> None:
        """Raise :class:`Unavailable` unless the server answers."""
        self.query("admin/count_objects")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.driver.close()


OLD_LAYOUT = (
    "the Neo4j database at {location} holds a story in gvcs's old layout (a node per object): stop its "
    "servers and workers and run `gvcs migrate` (reads work meanwhile)"
)
MIGRATING = (
    "the Neo4j database at {location} is changing layout: a migration is under way or was cut short: "
    "run `gvcs migrate` again (reads work meanwhile)"
)
NEWER_LAYOUT = (
    "the Neo4j database at {location} holds layout {version}, newer than the one this gvcs writes "
    f"({LAYOUT}): use a newer gvcs"
)


def layout_refusal(location: str, version: int | None, migrating: str | None, legacy: bool) -> str | None:
    """Why the database at ``location`` may not be written, from its ``(:Meta {name: 'layout'})``
    (``version``, the ``migrating`` mark) and whether ``(:Object)`` nodes of the old layout are there
    (``legacy``); None when it may be written (an empty database included)."""
    if migrating is not None:
        return MIGRATING.format(location=location)
    if (version is None and legacy) or (version is not None and version < LAYOUT):
        return OLD_LAYOUT.format(location=location)
    if version is not None and version > LAYOUT:
        return NEWER_LAYOUT.format(location=location, version=version)
    return None


def _check_layout(tx: neo4j.ManagedTransaction, location: str) -> None:
    """Raise :class:`NeedsMigration` unless the database may be written; mark an empty one (no ``Meta``
    node, no ``Object`` node) as the current layout."""
    row = tx.run(_statement("meta/layout")).single(strict=True)
    version, migrating = row["version"], row["migrating"]
    if version is None and migrating is None and not row["legacy"]:
        marked = tx.run(_statement("meta/create"), version=LAYOUT).single(strict=True)
        version, migrating = marked["version"], marked["migrating"]
    refusal = layout_refusal(location, version, migrating, bool(row["legacy"]))
    if refusal is not None:
        raise NeedsMigration(refusal)
