"""cli/pager.py: long outputs through a pager on a terminal, colour as git has it (a real pty)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from .conftest import REPO_ROOT, Gvcs, ok

PAGER = "sed 's/^/PAGED:/'"  # a pager that marks every line it shows


def on_terminal(
    cwd: Path, *args: str, env: dict[str, str] | None = None, stderr: bool = False
) -> tuple[int, str]:
    """Run ``gvcs args`` with its stdout (and with ``stderr``, its stderr) on a pseudo-terminal; its exit
    code and what the terminal got."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GVCS_") and k not in ("NO_COLOR",)}
    environ.update({"PYTHONPATH": str(REPO_ROOT), "TERM": "xterm", **(env or {})})
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower if stderr else subprocess.DEVNULL,
    ) as proc:
        os.close(follower)
        seen = bytearray()
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not chunk:
                break
            seen.extend(chunk)
        code = proc.wait(timeout=120)
    os.close(leader)
    return code, seen.decode().replace("\r\n", "\n")


def test_long_outputs_go_through_the_pager_on_a_terminal(gvcs: Gvcs, story: Path) -> None:
    code, shown = on_terminal(story, "log", "--oneline", env={"GVCS_PAGER": PAGER})
    lines = shown.strip("\n").split("\n")
    assert code == 0 and lines and all(line.startswith("PAGED:") for line in lines), shown
    assert "First pages" in shown
    # $PAGER when $GVCS_PAGER is unset; --no-pager; a command that is not paged; --paginate pages it.
    assert on_terminal(story, "log", "--oneline", env={"PAGER": PAGER})[1].startswith("PAGED:")
    assert "PAGED:" not in on_terminal(story, "--no-pager", "log", "--oneline", env={"GVCS_PAGER": PAGER})[1]
    assert "PAGED:" not in on_terminal(story, "status", env={"GVCS_PAGER": PAGER})[1]
    assert on_terminal(story, "--paginate", "status", env={"GVCS_PAGER": PAGER})[1].startswith("PAGED:")
    assert "PAGED:" not in on_terminal(story, "log", "--oneline", env={"GVCS_PAGER": "cat"})[1]
    # Not a terminal (a pipe): never paged.
    assert "PAGED:" not in ok(gvcs("log", "--oneline", cwd=story, env={"GVCS_PAGER": PAGER})).out


def test_colour_on_a_terminal_unless_no_color_or_never(gvcs: Gvcs, story: Path) -> None:
    yellow = "\x1b[33m"
    terminal = on_terminal(story, "--no-pager", "log", "--oneline")[1]
    assert yellow in terminal and "\x1b[1;32m (HEAD -> main)\x1b[m" in terminal
    assert yellow not in on_terminal(story, "--no-pager", "log", "--oneline", env={"NO_COLOR": "1"})[1]
    assert yellow not in on_terminal(story, "--no-pager", "--color=never", "log", "--oneline")[1]
    assert yellow not in ok(gvcs("log", "--oneline", cwd=story)).out  # a pipe: plain
    assert yellow in ok(gvcs("--color=always", "log", "--oneline", cwd=story)).out
    (story / "pages" / "opening.md").write_text("---\ntitle: Opening\n---\nA new first line.\n")
    diff = ok(gvcs("--color=always", "diff", cwd=story)).out
    assert "\x1b[32m+ ¶" in diff or "\x1b[36m~ ¶" in diff
    bad = gvcs("--color=sometimes", "log", cwd=story)
    assert bad.code == 2 and "invalid choice: 'sometimes'" in bad.err


def test_gc_shows_its_progress_on_a_terminal_only(gvcs: Gvcs, story: Path) -> None:
    code, shown = on_terminal(story, "gc", stderr=True)
    assert code == 0 and "Packed" in shown, shown
    # The line's last state: every object, its rate and the time it took.
    assert re.search(r"\rWriting objects: 100% \((\d+)/\1\), [\d,]+ objects/s, done in \d+ s", shown), shown
    # Not a terminal, or --json: no progress line.
    assert ok(gvcs("gc", cwd=story)).err == ""
    assert "Writing" not in on_terminal(story, "gc", "--json", stderr=True)[1]
