"""Open and create repositories on disk: the composition of a backend with the repository API.

Entry points (the CLI, the server, the workers) call this; the core never imports a backend.
A repository on disk is a directory (the work tree) holding ``.gvcs/``, a bare git repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import BadInput, NotFound
from ..repository import DEFAULT_BRANCH, Repository
from .git import GitObjectStore, GitRefStore, init_git_dir

__all__ = ["GVCS_DIR", "find_root", "init_repository", "load_config", "open_repository", "save_config"]

GVCS_DIR = ".gvcs"
CONFIG_FILE = "gvcs.json"


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds ``.gvcs/``."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / GVCS_DIR / "HEAD").is_file():
            return candidate
    raise NotFound(f"not a gvcs repository (or any parent up to /): {start}")


def init_repository(root: Path, *, branch: str = DEFAULT_BRANCH) -> Repository:
    """Create an empty repository in ``root`` (created if needed) with HEAD on ``branch``."""
    git_dir = root / GVCS_DIR
    if git_dir.exists():
        raise BadInput(f"{root} already holds a gvcs repository")
    if root.exists() and not root.is_dir():
        raise BadInput(f"{root} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    init_git_dir(git_dir)
    repo = _open(git_dir)
    repo.set_head_branch(branch)
    save_config(root, {"store": "git"})
    return repo


def open_repository(root: Path) -> Repository:
    """Open the repository whose work tree is ``root``."""
    git_dir = root / GVCS_DIR
    if not (git_dir / "HEAD").is_file():
        raise NotFound(f"not a gvcs repository: {root}")
    return _open(git_dir)


def _open(git_dir: Path) -> Repository:
    return Repository(GitObjectStore(git_dir), GitRefStore(git_dir))


def load_config(root: Path) -> dict[str, Any]:
    """The repository's settings (``.gvcs/gvcs.json``)."""
    try:
        data = json.loads((root / GVCS_DIR / CONFIG_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        raise BadInput(f"{root / GVCS_DIR / CONFIG_FILE} is not valid JSON") from None
    return data if isinstance(data, dict) else {}


def save_config(root: Path, config: dict[str, Any]) -> None:
    path = root / GVCS_DIR / CONFIG_FILE
    tmp = path.with_name(CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
