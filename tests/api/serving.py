"""A real ``gvcs serve`` process on a free loopback port, for the tests that need one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Served", "free_port", "get_json", "post_json", "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get_json(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.load(response)
        return result


def post_json(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.load(response)
        return result


@dataclass
class Served:
    """A running server: its base URL and process; ``stderr`` is filled in when it has stopped."""

    base: str
    port: int
    proc: subprocess.Popen[bytes]
    stderr: str = ""

    def graphql(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        return post_json(f"{self.base}/graphql", {"query": query, "variables": variables or {}}, headers)


@contextmanager
def serve(story: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Run ``gvcs -C story serve --port P *args`` until the block ends, then stop it with SIGINT.

    It waits for ``/health`` to answer (20 s at most). After the block, ``stderr`` holds what the
    server wrote; the process must have exited with 0 and without a traceback.
    """
    port = free_port()
    gvcs = Path(sys.executable).with_name("gvcs")
    proc = subprocess.Popen(
        [str(gvcs), "-C", str(story), "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "error", **(env or {})},
    )
    served = Served(f"http://127.0.0.1:{port}", port, proc)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                get_json(f"{served.base}/health")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "gvcs serve did not start"
                time.sleep(0.1)
        yield served
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        served.stderr = err.decode()
    assert proc.returncode == 0, served.stderr
    assert "Traceback" not in served.stderr, served.stderr
