"""``gvcs demo``: create the sample story in a directory, safely.

Without ``--force`` an existing directory is refused. With ``--force`` it is recreated only if its
``.gvcs/gvcs.json`` says ``"demo": true``, so a real story can never be wiped by mistake.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .common import out

__all__ = ["run_demo"]


def run_demo(target: Path, *, force: bool) -> int:
    """Build the demo story in ``target``, check out ``main`` and print the graph and a guide."""
    from narrative_vcs.errors import Refused
    from narrative_vcs.graph.factory import init_repository, load_config, save_config
    from narrative_vcs.worktree import WorkTree

    target = target.resolve()
    if target.exists():
        if not force:
            raise Refused(f"{target} already exists; use --force to recreate a previous demo there")
        if not _is_demo(target):
            raise Refused(f"{target} exists and is not a gvcs demo; refusing to delete it")
        shutil.rmtree(target)
    repo = init_repository(target)
    try:
        from narrative_vcs.demo import build_demo

        config = load_config(target)
        config.update({"demo": True, "actor": "imogen"})
        save_config(target, config)
        # The empty work tree is recorded before the history is built, so checking out main
        # afterwards writes every file.
        WorkTree(target, repo).save_state()
        summary = build_demo(repo)
        WorkTree(target, repo).checkout("main", repo.branch_head("main"))
    finally:
        repo.close()
    out(
        f"Created the demo story in {target}: {summary.pages} pages, {summary.commits} commits, "
        f"branches {', '.join(sorted(summary.branches))}, tag {', '.join(sorted(summary.tags))}."
    )
    out("")
    _print_graph(target)
    out("")
    _print_guide(target)
    return 0


def _is_demo(target: Path) -> bool:
    """Whether ``target`` holds a repository that ``gvcs demo`` made."""
    from narrative_vcs.errors import GvcsError
    from narrative_vcs.graph.factory import load_config

    if not (target / ".gvcs" / "HEAD").is_file():
        return False
    try:
        return load_config(target).get("demo") is True
    except GvcsError:
        return False


def _print_graph(target: Path) -> None:
    from .history import cmd_log
    from .main import build_parser

    out("$ gvcs log --graph --all --oneline")
    args = build_parser().parse_args(["-C", str(target), "log", "--graph", "--all", "--oneline"])
    cmd_log(args)


def _relative(path: Path, here: Path) -> str:
    try:
        return str(path.relative_to(here))
    except ValueError:
        return str(path)


def _print_guide(target: Path) -> None:
    here = Path.cwd()
    try:
        shown = str(target.relative_to(here))
    except ValueError:
        shown = str(target)
    lines = ["Try next:"]
    bin_dir = Path(sys.argv[0]).resolve().parent
    if shutil.which("gvcs") is None and (bin_dir / "activate").is_file():
        # `make demo` runs gvcs from .venv/bin, which is not on a new user's PATH.
        lines.append(f"  source {_relative(bin_dir / 'activate', here)}   # puts gvcs on your PATH")
    lines += [
        f"  git --git-dir={shown}/.gvcs log --oneline --all   # it is a real git store",
        f"  cd {shown}",
        "  gvcs log --oneline                       # main's history, newest first",
        "  gvcs page list                           # pages, with FOLLOWS and ALTERNATE_OF links",
        "  gvcs page show the-vault-door            # one page: YAML front matter and prose",
        "  gvcs blame the-vault-door                # who wrote each paragraph",
        "  gvcs log --actor london-fox --oneline    # the fox's commits",
        "  gvcs show first-act                      # a tagged commit and its diff",
        "  gvcs diff main alt-ending --stat         # how the alternate ending differs",
        "  gvcs switch alt-ending                   # check out the other ending",
        "  gvcs page new coda --title 'Coda' --follows epilogue && gvcs commit -m 'Add a coda'",
        "  gvcs --actor imogen gift mint london-fox 10   # an event: one commit, ledger.yaml changes",
        "  gvcs --actor imogen ritual key-of-margins --rotation 90   # a glyph fires its opcode",
        "  gvcs --actor imogen propose alt-ending --into main -m 'Take the other ending'",
        "  gvcs --actor imogen vote 1 yes && gvcs --actor london-fox vote 1 yes   # passes: merged",
        "  gvcs serve                               # GraphQL and its explorer on :8000/graphql",
    ]
    for line in lines:
        out(line)
