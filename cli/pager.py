"""The pager and colour of a terminal, as git has them.

**Pager.** The long outputs (``log``, ``show``, ``diff``, ``blame``, ``read``, ``reflog``) go through a
pager when stdout is a terminal: ``$GVCS_PAGER``, else ``$PAGER``, else ``less`` (with ``LESS=FRX``
unless ``$LESS`` is set, so a short output is printed and the screen kept). ``--no-pager`` turns it
off, ``--paginate`` pages any command; a pager of ``cat`` or nothing is none. As git does, the pager
gets stdout's file descriptor itself, so everything written to stdout reaches it, and gvcs waits for
it before exiting.

**Colour.** ``--color=auto`` (the default) colours when stdout is a terminal and ``$NO_COLOR`` is unset
(https://no-color.org); ``always`` and ``never`` as they say. A pager started by gvcs counts as a
terminal (``less -R`` shows the colours).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import subprocess

__all__ = ["PAGED", "Paint", "Pager", "paint", "set_colour"]

#: The commands whose output is paged on a terminal.
PAGED = frozenset({"log", "show", "diff", "blame", "read", "reflog"})


def _pager_command(env: Mapping[str, str]) -> str | None:
    command = env.get("GVCS_PAGER", env.get("PAGER", "less"))
    if not command.strip() or command.strip() == "cat":
        return None
    return command


class Pager:
    """A pager reading this process's stdout, from :meth:`start` to :meth:`stop`."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self._saved: int | None = None

    def start(self, command: str, env: Mapping[str, str]) -> bool:
        """Start ``command`` (a shell command line) with stdout's descriptor as its input; False if
        it cannot be started (gvcs then writes to the terminal itself)."""
        import subprocess

        read, write = os.pipe()
        child_env = dict(env)
        child_env.setdefault("LESS", "FRX")
        child_env.setdefault("LV", "-c")
        try:
            self.process = subprocess.Popen(command, shell=True, stdin=read, env=child_env)
        except OSError:
            os.close(read)
            os.close(write)
            return False
        os.close(read)
        sys.stdout.flush()
        self._saved = os.dup(1)
        os.dup2(write, 1)
        os.close(write)
        return True

    def stop(self) -> None:
        """Hand stdout back and wait for the pager (the reader quits it when done)."""
        if self.process is None or self._saved is None:
            return
        with contextlib.suppress(BrokenPipeError):  # the reader quit the pager early
            sys.stdout.flush()
        os.dup2(self._saved, 1)  # the pipe's last writer closes: the pager sees the end
        os.close(self._saved)
        self._saved = None
        try:
            self.process.wait()
        except KeyboardInterrupt:  # Ctrl-C reaches the pager too; let it finish
            self.process.wait()


def start_pager(command: str, paginate: bool, no_pager: bool, env: Mapping[str, str]) -> Pager | None:
    """The pager for ``command`` if its output is to be paged (see the module's docstring)."""
    if no_pager or not (paginate or command in PAGED) or not sys.stdout.isatty():
        return None
    pager_command = _pager_command(env)
    if pager_command is None:
        return None
    pager = Pager()
    return pager if pager.start(pager_command, env) else None


# --- colour -------------------------------------------------------------------------------------------


class Paint:
    """ANSI colours, or nothing when colour is off."""

    CODES: ClassVar[dict[str, str]] = {
        "yellow": "33",
        "green": "32",
        "red": "31",
        "cyan": "36",
        "bold": "1",
        "dim": "2",
        "bold-green": "1;32",
        "bold-cyan": "1;36",
    }

    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, colour: str, text: str) -> str:
        if not self.on or not text:
            return text
        return f"\x1b[{self.CODES[colour]}m{text}\x1b[m"


paint = Paint(False)


def set_colour(choice: str, env: Mapping[str, str], terminal: bool) -> Paint:
    """Turn colour on or off for this process (``--color``), and return the painter."""
    if choice == "always":
        paint.on = True
    elif choice == "never":
        paint.on = False
    else:
        paint.on = terminal and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
    return paint
