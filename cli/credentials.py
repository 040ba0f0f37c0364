"""HTTP credentials for git remotes from git's own credential helpers (``git credential``).

When a git server asks for credentials and the remote's URL carries none, ``gvcs`` asks
``git credential fill`` as git would (so ``credential.helper`` settings, stores and caches work, and git
prompts on a terminal); it then tells the helpers whether they worked (``approve`` / ``reject``).
Without a ``git`` command there are no helpers, and the URL's credentials are all there is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

__all__ = ["GitCredentials"]


class GitCredentials:
    """:class:`narrative_vcs.remotes.Credentials` through ``git credential``."""

    def __init__(self, git: str | None = None) -> None:
        self.git = git or shutil.which("git")

    def fill(self, url: str) -> tuple[str, str] | None:
        found = self._run("fill", self._describe(url))
        if found is None:
            return None
        fields = dict(line.split("=", 1) for line in found.splitlines() if "=" in line)
        if "password" not in fields:
            return None
        return fields.get("username", ""), fields["password"]

    def approve(self, url: str, username: str, password: str) -> None:
        self._run("approve", self._describe(url, username, password))

    def reject(self, url: str, username: str, password: str) -> None:
        self._run("reject", self._describe(url, username, password))

    @staticmethod
    def _describe(url: str, username: str | None = None, password: str | None = None) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        lines = [f"url={urlunsplit((parts.scheme, host, parts.path, '', ''))}"]
        user = username if username is not None else parts.username
        if user:
            lines.append(f"username={user}")
        if password is not None:
            lines.append(f"password={password}")
        if any("\n" in line or "\0" in line for line in lines):
            return ""  # git refuses such input; so do we
        return "\n".join(lines) + "\n\n"

    def _run(self, action: str, described: str) -> str | None:
        if self.git is None or not described:
            return None
        try:
            done = subprocess.run(
                [self.git, "credential", action],
                input=described,
                capture_output=True,
                text=True,
                timeout=None if sys.stdin.isatty() else 60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None
