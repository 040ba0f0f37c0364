"""A real ``gvcs serve`` process on a free loopback port, for the tests that need one."""

from __future__ import annotations

import http.client
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

__all__ = ["EventStream", "Served", "free_port", "get_json", "post_json", "serve", "wait_for_subscribers"]


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


class EventStream:
    """A ``/events`` response (``text/event-stream``) read event by event."""

    def __init__(self, server: Served, path: str, headers: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        assert self.response.status == 200

    def next(self) -> dict[str, str]:
        """The next event's fields (comments skipped)."""
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline().decode()
            assert line, "the stream ended"
            line = line.rstrip("\n")
            if not line:
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            fields[key] = value

    def close(self) -> None:
        self.conn.close()


def wait_for_subscribers(server: Served, count: int) -> None:
    """Until the server has registered ``count`` subscribers: moves after that reach them."""
    deadline = time.monotonic() + 15
    while get_json(f"{server.base}/health")["subscribers"] < count:
        assert time.monotonic() < deadline, "the stream was not registered"
        time.sleep(0.02)
