"""Helpers shared by the benchmarks: sizes (full or quick), timing, machine info, JSON results."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def quick() -> bool:
    """``BENCH_QUICK=1``: small sizes for a smoke run (well under a minute for everything)."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def time_call(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_command(argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Wall time of a command with its output sent to /dev/null; a failure raises with its stderr."""
    start = time.perf_counter()
    proc = subprocess.run(
        list(argv), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return elapsed


def gvcs_command() -> list[str] | None:
    """How to run the CLI (the console script of the venv), or None if it does not exist yet."""
    if not (ROOT / "cli" / "main.py").is_file():
        return None
    script = Path(sys.executable).parent / "gvcs"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cli.main"]


def machine() -> dict[str, Any]:
    git = shutil.which("git")
    git_version = (
        subprocess.run([git, "--version"], capture_output=True, text=True).stdout.strip() if git else None
    )
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "git": git_version,
        "load_avg_1m_at_start": load,
        "quick": quick(),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), "time": int(time.time()), **result}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def du_bytes(path: Path) -> int:
    """Disk use of a directory as ``du`` counts it (allocated blocks), in bytes."""
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def wait_for_packers(git_dir: Path, timeout: float = 300.0) -> None:
    """Wait until no process packs ``git_dir`` (the background auto-pack holds gvcs-pack.lock)."""
    import fcntl

    lock = git_dir / "gvcs-pack.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The packer may not hold the lock yet right after it was started: look twice, apart.
        free = 0
        for _ in range(2):
            if not lock.exists():
                free += 1
                continue
            fd = os.open(lock, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                free += 1
            except BlockingIOError:
                pass
            finally:
                os.close(fd)
            time.sleep(0.5)
        if free == 2:
            return
        time.sleep(0.2)
    raise TimeoutError(f"a packer still runs on {git_dir}")
