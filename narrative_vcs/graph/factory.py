"""Open and create repositories on disk: the composition of a backend with the repository API.

Entry points (the CLI, the server, the workers) call this; the core never imports a backend. Every
repository opened here has the story's rules (:mod:`narrative_vcs.rules`) at its gate.
A repository on disk is a directory (the work tree) holding ``.gvcs/``, a bare git repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import BadInput, NotFound
from ..limits import load_json
from ..repository import DEFAULT_BRANCH, Repository
from ..rules import story_rules
from .access_file import FileAccessStore
from .git import GitObjectStore, GitRefStore, init_git_dir

__all__ = [
    "GVCS_DIR",
    "find_root",
    "init_repository",
    "load_config",
    "open_repository",
    "open_store",
    "redact",
    "save_config",
]

GVCS_DIR = ".gvcs"
CONFIG_FILE = "gvcs.json"
#: The largest ``.gvcs/gvcs.json`` read (a few settings and remotes fit in a few hundred bytes).
MAX_CONFIG = 1024 * 1024


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds ``.gvcs/``."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / GVCS_DIR / "HEAD").is_file() or (candidate / GVCS_DIR / CONFIG_FILE).is_file():
            return candidate
    raise NotFound(f"not a gvcs repository (or any parent up to /): {start}")


def init_repository(root: Path, *, branch: str = DEFAULT_BRANCH, store: str | None = None) -> Repository:
    """Create an empty repository in ``root`` (created if needed) with HEAD on ``branch``.

    ``store``: None or ``"git"`` for the embedded store in ``root/.gvcs``; a ``neo4j://`` URI for a
    story that lives only in that Neo4j database (``.gvcs`` then holds the settings and the work tree's
    state). The database must not hold a story yet.
    """
    git_dir = root / GVCS_DIR
    if git_dir.exists():
        raise BadInput(f"{root} already holds a gvcs repository")
    if root.exists() and not root.is_dir():
        raise BadInput(f"{root} exists and is not a directory")
    if store in (None, "git"):
        root.mkdir(parents=True, exist_ok=True)
        init_git_dir(git_dir)
        repo = _open(git_dir)
        repo.set_head_branch(branch)
        save_config(root, {"store": "git"})
        return repo
    assert store is not None
    repo = open_store(store)  # refuses a bad URI or an unreachable server before anything is created
    try:
        if repo.refs.list():
            raise BadInput(f"the Neo4j database at {redact(store)} already holds a story: clone it instead")
        repo.set_head_branch(branch)
        root.mkdir(parents=True, exist_ok=True)
        git_dir.mkdir()
        save_config(root, {"store": store})
    except BaseException:
        repo.close()
        raise
    return repo


def open_repository(root: Path) -> Repository:
    """Open the repository whose work tree is ``root``."""
    git_dir = root / GVCS_DIR
    if (git_dir / "HEAD").is_file():
        return _open(git_dir)
    store = load_config(root).get("store") if (git_dir / CONFIG_FILE).is_file() else None
    if isinstance(store, str) and store != "git":
        return open_store(store, cache_dir=git_dir)
    raise NotFound(f"not a gvcs repository: {root}")


def open_store(uri: str, cache_dir: Path | None = None) -> Repository:
    """The repository of a store named by a URI: ``neo4j://user:pass@host:7687[/db]`` or ``bolt://``."""
    if not uri.startswith(("neo4j", "bolt")):
        raise BadInput(f"unknown store {uri!r}: use 'git' or neo4j://user:password@host:7687[/database]")
    from .neo4j import open_neo4j

    objects, refs, access = open_neo4j(uri, cache_dir)
    return Repository(objects, refs, access, rules=story_rules)


def redact(uri: str) -> str:
    """A store URI without its password, for messages."""
    if "://" not in uri or "@" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location}" if user else f"{scheme}://{location}"


def _open(git_dir: Path) -> Repository:
    return Repository(
        GitObjectStore(git_dir), GitRefStore(git_dir), FileAccessStore(git_dir), rules=story_rules
    )


def load_config(root: Path) -> dict[str, Any]:
    """The repository's settings (``.gvcs/gvcs.json``); BadInput when it is not JSON, is larger than
    :data:`MAX_CONFIG` or nests deeper than 64 levels."""
    path = root / GVCS_DIR / CONFIG_FILE
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG + 1)
    except FileNotFoundError:
        return {}
    data = load_json(raw, str(path), max_bytes=MAX_CONFIG)
    return data if isinstance(data, dict) else {}


def save_config(root: Path, config: dict[str, Any]) -> None:
    path = root / GVCS_DIR / CONFIG_FILE
    tmp = path.with_name(CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
