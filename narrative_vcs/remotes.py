"""Remotes: the other places a story's history is pushed to, pulled from and cloned from.

Two kinds, one interface (:class:`Remote`):

- :class:`StoreRemote`: another gvcs store, a Neo4j database (``neo4j://...``) or a repository
  directory; objects travel with :mod:`narrative_vcs.transfer`, and its refs move through its own gate.
- :class:`GitRemote`: any git repository, reached through dulwich's client: ``http(s)://`` (a git host,
  or ``gvcs serve``'s ``/git``), ``ssh://`` and ``user@host:path``, ``git://``, ``file://`` and bare
  repository paths. Objects travel as git packs; what a fetch brings is unpacked apart, stored, and only
  then do the local refs move (through this repository's gate), so a fetch cut short leaves no ref
  pointing at a commit that is not whole. A push is checked here (no branch loses commits unless forced)
  and by the other side (a gvcs server's gate refuses what breaks the story's rules).

Credentials for HTTP come from the URL (``http://NAME:TOKEN@HOST/git``) or from a
:class:`Credentials` the caller gives (the command line asks git's credential helpers).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import unquote

from .errors import BadInput, CorruptObject, GvcsError, NotFound, Refused, Unauthenticated, Unavailable
from .records import field, record
from .refs import HEADS, TAGS, RefMove, validate_ref_name
from .types import ObjectId, RefName

if TYPE_CHECKING:
    from .repository import Repository
    from .transfer import TransferResult

__all__ = [
    "GIT_SCHEMES",
    "Credentials",
    "GitRemote",
    "Remote",
    "StoreRemote",
    "check_location",
    "is_git_location",
    "open_remote",
]

#: The URL schemes of git remotes (dulwich's clients).
GIT_SCHEMES = ("http", "https", "ssh", "git", "git+ssh", "ssh+git", "file")
#: The URL schemes of gvcs stores.
STORE_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
#: Packs larger than this are spooled to a temporary file while they arrive.
SPOOL_BYTES = 64 * 1024 * 1024


class Credentials(Protocol):
    """Where HTTP credentials come from when a server asks (git's credential helpers, for one)."""

    def fill(self, url: str) -> tuple[str, str] | None:
        """A user name and password for ``url``, or None."""

    def approve(self, url: str, username: str, password: str) -> None:
        """The credentials worked: a helper may keep them."""

    def reject(self, url: str, username: str, password: str) -> None:
        """The credentials were refused: a helper should forget them."""


class Remote(ABC):
    """Another place holding the story. ``location`` is as configured (it may carry a password: show it
    through :func:`~narrative_vcs.graph.factory.redact`)."""

    location: str

    @abstractmethod
    def refs(self) -> dict[RefName, ObjectId]:
        """The remote's branches and tags (``refs/heads/*``, ``refs/tags/*``) as they are now."""

    @abstractmethod
    def head_branch(self) -> str | None:
        """The branch the remote's HEAD names, if it says."""

    @abstractmethod
    def fetch(
        self,
        repo: Repository,
        refs: Sequence[tuple[RefName, RefName]],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[TransferResult]:
        """Bring the history of each ``(remote ref, local ref)`` pair into ``repo`` and move the local
        refs (by compare-and-swap, through ``repo``'s gate, all together) to where the remote's are."""

    @abstractmethod
    def push(
        self,
        repo: Repository,
        refs: Sequence[tuple[RefName, RefName]],
        *,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[TransferResult]:
        """Send the history of each ``(local ref, remote ref)`` pair and move the remote's refs, all
        together or none. Refused where the remote's ref holds commits the local one does not contain,
        unless ``force`` (which the remote may refuse all the same)."""

    def following_tags(
        self, repo: Repository, heads: Sequence[ObjectId | None], *, push: bool
    ) -> list[tuple[RefName, RefName]]:
        """The tags that go along with ``heads`` (commits of ``repo``), as git's ``--follow-tags``: on a
        push, ``repo``'s tags on that history the remote lacks; on a fetch (the heads fetched), the
        remote's tags on that history ``repo`` lacks. Tags are never moved."""
        starts = [h for h in heads if h is not None]
        if not starts:
            return []
        theirs = {r: o for r, o in self.refs().items() if r.startswith(TAGS)}
        mine = repo.refs.list(TAGS)
        have, want = (theirs, mine) if push else (mine, theirs)
        pairs: list[tuple[RefName, RefName]] = []
        for ref, target in sorted(want.items()):
            if ref in have or not repo.objects.has(target):
                continue
            commit = _peel(repo, target)
            if commit is not None and any(commit == h or repo.commits.is_ancestor(commit, h) for h in starts):
                pairs.append((ref, ref))
        return pairs

    def close(self) -> None:
        """Let go of connections."""

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _peel(repo: Repository, oid: ObjectId) -> ObjectId | None:
    """The commit ``oid`` names (through annotated tags), or None."""
    for _ in range(10):
        try:
            obj_type, data = repo.objects.get(oid)
        except GvcsError:
            return None
        if obj_type == "commit":
            return oid
        if obj_type != "tag" or not data.startswith(b"object "):
            return None
        oid = ObjectId(data[7:47].decode("ascii", "replace"))
    return None


# --- gvcs stores -------------------------------------------------------------------------------------


class StoreRemote(Remote):
    """Another gvcs store, opened as a repository (:mod:`narrative_vcs.transfer` moves the history)."""

    def __init__(self, location: str, repo: Repository) -> None:
        self.location = location
        self.repo = repo

    def refs(self) -> dict[RefName, ObjectId]:
        found = self.repo.refs.list(HEADS)
        found.update(self.repo.refs.list(TAGS))
        return found

    def head_branch(self) -> str | None:
        return self.repo.head_branch()

    def fetch(
        self,
        repo: Repository,
        refs: Sequence[tuple[RefName, RefName]],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[TransferResult]:
        from .transfer import copy_refs

        return copy_refs(self.repo, repo, refs, force=True, progress=progress)

    def push(
        self,
        repo: Repository,
        refs: Sequence[tuple[RefName, RefName]],
        *,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[TransferResult]:
        from .transfer import copy_refs

        return copy_refs(repo, self.repo, refs, force=force, progress=progress)

    def following_tags(
        self, repo: Repository, heads: Sequence[ObjectId | None], *, push: bool
    ) -> list[tuple[RefName, RefName]]:
        from .transfer import following_tags

        return following_tags(repo, self.repo, heads) if push else following_tags(self.repo, repo, heads)

    def close(self) -> None:
        self.repo.close()


# --- git repositories --------------------------------------------------------------------------------


@record(frozen=False)
class _Listing:
    """A remote's branches and tags, the branch HEAD names, and what annotated tags peel to (where
    the remote says: ``refs/tags/NAME^{}``)."""

    refs: dict[RefName, ObjectId]
    head: str | None
    peeled: dict[RefName, ObjectId] = field(default_factory=dict)


class GitRemote(Remote):
    """A git repository reached through dulwich's client (see the module's docstring)."""

    def __init__(
        self, location: str, *, credentials: Credentials | None = None, ssh_command: str | None = None
    ) -> None:
        from dulwich.client import default_urllib3_manager, get_transport_and_path

        self.location = location
        self.credentials = credentials
        self._used: tuple[str, str, str] | None = None  # (url, user, password) filled by a helper
        self._listing: _Listing | None = None
        pool = None
        if location.startswith(("http://", "https://")):
            pool = default_urllib3_manager(None, timeout=60, auth_callback=self._ask)
        with self._errors():
            self.client, self.path = get_transport_and_path(
                location, pool_manager=cast(Any, pool), include_tags=True, quiet=True, ssh_command=ssh_command
            )

    # --- credentials --------------------------------------------------------------------------------

    def _ask(self, url: str, www_authenticate: str, attempt: int) -> dict[str, str] | None:
        if self.credentials is None or attempt > 1:
            if self._used is not None:
                if self.credentials is not None:
                    self.credentials.reject(*self._used)
                self._used = None
            return None
        found = self.credentials.fill(self.location)
        if found is None:
            return None
        self._used = (self.location, found[0], found[1])
        return {"username": found[0], "password": found[1]}

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """dulwich's and the network's errors as gvcs errors of one line, naming the remote."""
        from dulwich.client import HTTPUnauthorized, StrangeHostname
        from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

        from .graph.factory import redact

        where = redact(self.location)
        try:
            yield
        except GvcsError:
            raise
        except HTTPUnauthorized:
            if self._used is not None and self.credentials is not None:
                self.credentials.reject(*self._used)
                self._used = None
            raise Unauthenticated(
                f"{where} asks for credentials: put an API token in the URL (http://NAME:TOKEN@HOST/...) "
                "or in a git credential helper"
            ) from None
        except NotGitRepository:
            raise NotFound(f"{where} is not a git repository") from None
        except StrangeHostname as exc:  # what ssh would take for an option
            raise BadInput(f"{where}: {exc.args[0]!r} is not a host name") from None
        except HangupException as exc:
            raise NotFound(
                f"{where} hung up: {_line(exc) or 'the remote end closed the connection'}"
            ) from None
        except GitProtocolError as exc:
            if _network_failure(exc):
                raise Unavailable(f"{where} is not reachable: {_network_reason(exc)}") from None
            raise Refused(f"{where}: {_line(exc)}") from None
        except (OSError, ValueError) as exc:
            raise Unavailable(f"{where} is not reachable: {_network_reason(exc)}") from None
        except Exception as exc:  # urllib3's and paramiko's own errors
            if _network_failure(exc):
                raise Unavailable(f"{where} is not reachable: {_network_reason(exc)}") from None
            raise
        if self._used is not None and self.credentials is not None:
            self.credentials.approve(*self._used)
            self._used = None

    # --- reading ------------------------------------------------------------------------------------

    def _list(self) -> _Listing:
        if self._listing is None:
            with self._errors():
                result = self.client.get_refs(cast(Any, self.path))
            self._listing = _listing(cast(Any, result.refs), cast(Any, result.symrefs))
        return self._listing

    def refs(self) -> dict[RefName, ObjectId]:
        return dict(self._list().refs)

    def head_branch(self) -> str | None:
        return self._list().head

    def _bring(
        self, repo: Repository, choose: Callable[[_Listing], Sequence[ObjectId]]
    ) -> tuple[_Listing, list[ObjectId], int]:
        """One fetch: ``choose`` picks, from the refs this connection advertises, the objects wanted; the
        pack is unpacked apart and stored whole. The listing, the ids wanted and how many objects came."""
        from dulwich.object_store import ObjectStoreGraphWalker

        from .gitwire import story_objects, unpack
        from .graph.factory import redact

        seen: list[_Listing] = []
        wanted: list[ObjectId] = []

        def determine_wants(
            advertised: Mapping[bytes, bytes | None], depth: int | None = None
        ) -> list[bytes]:
            listing = _listing(advertised, {})
            seen.append(listing)
            wanted.extend(sorted(repo.objects.missing(dict.fromkeys(choose(listing)))))
            return [oid.encode("ascii") for oid in wanted]

        objects = story_objects(repo)
        local = [oid.encode("ascii") for oid in repo.refs.list().values() if _is_commit(repo, oid)]
        walker = ObjectStoreGraphWalker(
            cast(Any, local), lambda sha: cast(Any, objects[sha].parents if sha in objects else [])
        )
        received: list[tuple[str, bytes]] = []
        with SpooledTemporaryFile(max_size=SPOOL_BYTES, prefix="gvcs-fetch-") as spool:
            with self._errors():
                self.client.fetch_pack(
                    cast(Any, self.path), cast(Any, determine_wants), walker, spool.write, progress=None
                )
            if spool.tell():
                spool.seek(0)
                received = unpack(repo, spool.read)
        if received:
            with repo.objects.batch():
                for obj_type, data in received:
                    repo.objects.put(obj_type, data)
        lacking = repo.objects.missing(wanted)
        if lacking:
            raise CorruptObject(f"{redact(self.location)} did not send {sorted(lacking)[0]}")
        if not seen:  # an empty repository: nothing advertised, nothing asked
            seen.append(_Listing({}, None))
        return seen[0], wanted, len(received)

    def fetch(
        self,
        repo: Repository,
        refs: Sequence[tuple[RefName, RefName]],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[TransferResult]:
        from .graph.factory import redact
        from .transfer import TransferResult

        def choose(listing: _Listing) -> list[ObjectId]:
            # What this connection advertises: the refs move to exactly what was fetched.
            for src, _dst in refs:
                if src not in listing.refs:
                    raise NotFound(f"{redact(self.location)} has no {_what(src)}")
            return [listing.refs[src] for src, _dst in refs]

        listing, _wanted, received = self._bring(repo, choose)
        seen = dict(listing.refs)
        if progress is not None:
            progress(received, received)
        # The story's tags name commits: an annotated tag arrives as a tag on the commit it names, and a
        # tag of something else (a tree, a blob) stays behind.
        for src, dst in refs:
            if dst.startswith(TAGS):
                commit = _peel(repo, seen[src])
                if commit is None:
                    del seen[src]
                else:
                    seen[src] = commit
        refs = [(src, dst) for src, dst in refs if src in seen]
        olds = {dst: repo.refs.get(dst) for _src, dst in refs}
        moves = [RefMove(dst, olds[dst], seen[src]) for src, dst in refs if olds[dst] != seen[src]]
        if moves:
            repo.refs.update_many(moves, who="gvcs fetch", message=f"fetch from {redact(self.location)}")
        return [
            TransferResult(dst, olds[dst], seen[src], _count_new(repo, seen[src], olds[dst]), received)
            for src, dst in refs
        ]

    def following_tags(
        self, repo: Repository, heads: Sequence[ObjectId | None], *, push: bool
    ) -> list[tuple[RefName, RefName]]:
        """As :meth:`Remote.following_tags`; on a fetch, an annotated tag not yet here is judged by the
        commit the remote says it peels to, or, where the remote does not say (a local repository),
        by fetching the tag object (its history is mostly here already) and peeling it."""
        if push or not any(heads):
            return super().following_tags(repo, heads, push=push)
        listing = self._list()
        mine = repo.refs.list(TAGS)
        unknown = [
            target
            for ref, target in listing.refs.items()
            if ref.startswith(TAGS)
            and ref not in mine
            and not repo.objects.has(target)
            and ref not in listing.peeled
        ]
        if unknown:
            self._bring(repo, lambda _listing: unknown)
        pairs = super().following_tags(repo, heads, push=False)
        starts = [h for h in heads if h is not None]
        for ref, commit in sorted(listing.peeled.items()):
            target = listing.refs.get(ref)
            if ref in mine or target is None or (ref, ref) in pairs or not repo.objects.has(commit):
                continue
            if any(commit == h or repo.commits.is_ancestor(commit, h) for h in starts):
                pairs.append((ref, ref))
        return sorted(pairs)

    # --- writing ------------------------------------------------------------------------------------

    def push(
        self,
        repo: Repository,
        refs: Sequence[tuple[RefName, RefName]],
        *,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[TransferResult]:
        from .gitwire import story_objects
        from .graph.factory import redact
        from .transfer import TransferResult

        where = redact(self.location)
        heads: dict[RefName, ObjectId] = {}
        for src, dst in refs:
            head = repo.refs.get(src)
            if head is None:
                raise NotFound(f"no {_what(src)} to send")
            heads[dst] = head
        olds: dict[RefName, ObjectId | None] = {}

        def update_refs(theirs: dict[bytes, bytes]) -> dict[bytes, bytes]:
            new = dict(theirs)
            for dst, head in heads.items():
                raw = theirs.get(dst.encode())
                old = None if raw is None or raw == b"0" * 40 else ObjectId(raw.decode("ascii"))
                olds[dst] = old
                if old == head:
                    continue
                if old is not None and dst.startswith(TAGS) and not force:
                    raise Refused(f"{where} has tag {dst[len(TAGS) :]!r} elsewhere: tags do not move")
                contained = old is None or (repo.objects.has(old) and repo.commits.is_ancestor(old, head))
                if not contained and not force:
                    raise Refused(
                        f"{dst} there has commits that {_what(dst)} here does not contain: pull (fetch and "
                        "merge) first, or force"
                    )
                new[dst.encode()] = head.encode("ascii")
            return new

        store = story_objects(repo)
        counted: list[int] = []

        def generate_pack_data(have: Any, want: Any, *, ofs_delta: bool = False, progress: Any = None) -> Any:
            # The objects the other side lacks, found from what it says it has (haves we do not hold are
            # passed over), as git's push does.
            count, records = store.generate_pack_data(
                [h for h in have if h in store], want, progress=None, ofs_delta=ofs_delta
            )
            counted.append(count)
            return count, records

        atomic = len(heads) > 1
        with self._errors():
            result = self.client.send_pack(
                cast(Any, self.path), cast(Any, update_refs), cast(Any, generate_pack_data), atomic=atomic
            )
        failed = {
            ref.decode("utf-8", "replace"): reason
            for ref, reason in (result.ref_status or {}).items()
            if reason
        }
        if failed:
            ref, reason = sorted(failed.items())[0]
            raise Refused(f"{where} refused {ref}: {reason}")
        self._listing = None
        objects = counted[0] if counted else 0
        if progress is not None:
            progress(objects, objects)
        return [
            TransferResult(dst, olds.get(dst), head, _count_new(repo, head, olds.get(dst)), objects)
            for dst, head in heads.items()
        ]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()


def _listing(refs: Mapping[bytes, bytes | None], symrefs: Mapping[bytes, bytes]) -> _Listing:
    found: dict[RefName, ObjectId] = {}
    peeled: dict[RefName, ObjectId] = {}
    for raw, oid in refs.items():
        name = raw.decode("utf-8", "replace")
        if oid is None or not name.startswith((HEADS, TAGS)) or not _storable(name, oid):
            continue  # what a story cannot hold (a name git itself refuses, an id that is not one)
        if name.endswith("^{}"):
            peeled[RefName(name[:-3])] = ObjectId(oid.decode("ascii"))
        else:
            found[RefName(name)] = ObjectId(oid.decode("ascii"))
    target = symrefs.get(b"HEAD")
    head = None
    if target and target.startswith(HEADS.encode()):
        head = target.decode("utf-8", "replace")[len(HEADS) :]
    return _Listing(found, head, {r: o for r, o in peeled.items() if r in found and found[r] != o})


def _storable(name: str, oid: bytes) -> bool:
    """Whether a listed ref has a valid branch or tag name and a full object id."""
    short = name.removesuffix("^{}")
    short = short[len(HEADS) :] if short.startswith(HEADS) else short[len(TAGS) :]
    try:
        validate_ref_name("ref", short)
    except BadInput:
        return False
    return len(oid) == 40 and all(c in b"0123456789abcdef" for c in oid)


def _is_commit(repo: Repository, oid: ObjectId) -> bool:
    try:
        return repo.objects.get(oid)[0] == "commit"
    except GvcsError:
        return False


def _count_new(repo: Repository, head: ObjectId, old: ObjectId | None) -> int:
    """How many commits ``head`` has that ``old`` does not."""
    if old == head or not _is_commit(repo, head):
        return 0
    until = [old] if old is not None and _is_commit(repo, old) else []
    return sum(1 for _ in repo.commits.walk([head], exclude=until))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _network_failure(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the network (a refused connection, a name that does not resolve, a
    timeout), as urllib3 or the socket reports it."""
    return any(
        isinstance(e, OSError) or type(e).__module__.split(".")[0] in ("urllib3", "paramiko")
        for e in _chain(exc)
    )


def _network_reason(exc: BaseException) -> str:
    """The innermost reason of a network failure: ``Connection refused``, not urllib3's retry story."""
    import re

    for e in reversed(list(_chain(exc))):
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return found[-1].strip() if found else _line(exc)


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _what(ref: RefName) -> str:
    for prefix, kind in ((HEADS, "branch"), (TAGS, "tag")):
        if ref.startswith(prefix):
            return f"{kind} {ref[len(prefix) :]!r}"
    return repr(str(ref))


# --- locations ---------------------------------------------------------------------------------------


def is_git_location(location: str) -> bool:
    """Whether ``location`` names a git repository by URL (``scheme://``, or scp-like ``user@host:path``)."""
    scheme, sep, _rest = location.partition("://")
    if sep:
        return scheme.lower() in GIT_SCHEMES
    head, colon, _path = location.partition(":")
    return bool(colon) and "/" not in head and len(head) > 1 and not Path(location).exists()


def _is_git_dir(path: Path) -> bool:
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _check_host(location: str, host: str) -> None:
    """A host name that ssh could take for an option (``-oProxyCommand=...``) is refused, as git does."""
    if host.startswith("-") or any(c.isspace() for c in host):
        raise BadInput(f"{location!r}: {host!r} is not a host name")


def check_location(location: str, base: Path) -> str:
    """A remote's location as stored: a URL as given (checked, not contacted), a directory made absolute
    (a gvcs repository or a git repository)."""
    if not location or any(ch in location for ch in "\n\r\0"):
        raise BadInput(f"invalid remote location {location!r}")
    scheme, sep, _rest = location.partition("://")
    if sep:
        if scheme.lower() in STORE_SCHEMES:
            from .graph.neo4j import parse_neo4j_uri

            parse_neo4j_uri(location)
            return location
        if scheme.lower() in GIT_SCHEMES:
            host = unquote(_rest.split("/", 1)[0].rpartition("@")[2])
            if scheme.lower() != "file" and not host:
                raise BadInput(f"{location!r} names no host")
            _check_host(location, host)
            return location
        raise BadInput(
            f"{location!r}: unknown scheme {scheme!r} "
            "(neo4j://, http(s)://, ssh://, git://, file:// or a path)"
        )
    path = (base / location).resolve()
    if (path / ".gvcs").is_dir() or _is_git_dir(path):
        return str(path)
    if is_git_location(location):
        _check_host(location, location.partition(":")[0].rpartition("@")[2])
        return location
    raise BadInput(
        f"{location!r} is neither a store URI (neo4j://, http(s)://, ssh://, git://, file://), a gvcs "
        "repository nor a git repository"
    )


def open_remote(
    location: str, *, credentials: Credentials | None = None, ssh_command: str | None = None
) -> Remote:
    """The remote at ``location`` (as :func:`check_location` keeps it); ``credentials``: where HTTP
    credentials come from; ``ssh_command``: the command that reaches ``ssh://`` hosts (default ``ssh``)."""
    from .graph.factory import open_repository, open_store

    scheme, sep, _rest = location.partition("://")
    if sep and scheme.lower() in STORE_SCHEMES:
        return StoreRemote(location, open_store(location))
    if not sep and (Path(location) / ".gvcs").is_dir():
        return StoreRemote(location, open_repository(Path(location)))
    if sep:  # a location kept by an older gvcs is checked as it would be now
        _check_host(location, unquote(_rest.split("/", 1)[0].rpartition("@")[2]))
    elif is_git_location(location):
        _check_host(location, location.partition(":")[0].rpartition("@")[2])
    return GitRemote(location, credentials=credentials, ssh_command=ssh_command)
