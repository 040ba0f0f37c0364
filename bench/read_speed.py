"""Reading a branch as a story (issue 14): ``gvcs read`` on the demo story (each branch, each format) and
on a generated 10,000-page story (each format), time (median) and peak memory (the peak RSS of the
``gvcs read`` process, from ``wait4``), and each EPUB read back by ebooklib and checked by epubcheck when
it is installed.

    python -m bench.read_speed [--pages N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .generate import StoryGenerator, build_history
from .util import gvcs_command, median, quick, write_result

FORMATS = ("text", "markdown", "html", "epub")
SUFFIX = {"text": "txt", "markdown": "md", "html": "html", "epub": "epub"}


def run_read(argv: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of one command, its output to /dev/null; a failure raises."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err[-500:]}")
    return elapsed, usage.ru_maxrss * 1024  # Linux counts kilobytes


def epubcheck_command() -> list[str] | None:
    """Debian's epubcheck jar run by java (its /usr/bin/epubcheck needs binfmt), else the command."""
    jar, java = Path("/usr/share/java/epubcheck.jar"), shutil.which("java")
    if jar.is_file() and java:
        return [java, "-jar", str(jar)]
    found = shutil.which("epubcheck")
    return [found] if found else None


def validate_epub(path: Path, epubcheck: bool = True) -> dict[str, Any]:
    """ebooklib reads the book back (its chapters counted); epubcheck's verdict, or None without it."""
    from ebooklib import ITEM_DOCUMENT, epub

    book = epub.read_epub(str(path))
    result: dict[str, Any] = {
        "bytes": path.stat().st_size,
        "ebooklib_documents": len(list(book.get_items_of_type(ITEM_DOCUMENT))),
        "epubcheck": None,
    }
    command = epubcheck_command() if epubcheck else None
    if command is not None:
        proc = subprocess.run([*command, str(path)], capture_output=True, text=True, check=False)
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        summary = next((line for line in lines if line.startswith("Messages:")), lines[-1] if lines else "")
        result["epubcheck"] = {"ok": proc.returncode == 0, "summary": summary}
    return result


def measure(
    gvcs: list[str], root: Path, rev: str, fmt: str, runs: int, out_dir: Path, epubcheck: bool = True
) -> dict[str, Any]:
    target = out_dir / f"{rev}.{SUFFIX[fmt]}"
    argv = [*gvcs, "-C", str(root), "read", rev, "--format", fmt, "-o", str(target)]
    run_read(argv)  # warm the page cache and the .pyc files
    samples = [run_read(argv) for _ in range(runs)]
    found: dict[str, Any] = {
        "seconds": [s for s, _ in samples],
        "median_seconds": median([s for s, _ in samples]),
        "peak_rss_mb": max(rss for _, rss in samples) / 2**20,
        "output_bytes": target.stat().st_size,
    }
    if fmt == "epub":
        found["validation"] = validate_epub(target, epubcheck)
    return found


def run(pages: int, commits: int, runs: int, epubcheck: bool = True) -> dict[str, Any]:
    gvcs = gvcs_command()
    if gvcs is None:
        raise RuntimeError("no gvcs command")
    with tempfile.TemporaryDirectory(prefix="gvcs-bench-") as tmp:
        base = Path(tmp)
        demo = base / "demo"
        subprocess.run([*gvcs, "demo", str(demo)], check=True, stdout=subprocess.DEVNULL)
        out_dir = base / "out"
        out_dir.mkdir()
        demo_figures = {
            f"{branch}/{fmt}": measure(gvcs, demo, branch, fmt, runs, out_dir, epubcheck)
            for branch in ("main", "alt-ending", "agent-drafts")
            for fmt in FORMATS
        }
        big = base / "big"
        build_history(big, StoryGenerator(seed=14, pages=pages), commits)
        big_figures = {fmt: measure(gvcs, big, "main", fmt, runs, out_dir, epubcheck) for fmt in FORMATS}
    return {"pages": pages, "commits": commits, "runs": runs, "demo": demo_figures, "generated": big_figures}


def default_sizes() -> tuple[int, int, int]:
    return (300, 20, 1) if quick() else (10_000, 100, 5)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    pages, commits, runs = default_sizes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=pages)
    parser.add_argument("--commits", type=int, default=commits)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--no-epubcheck", action="store_true", help="only ebooklib reads the EPUBs back")
    args = parser.parse_args(argv)
    result = run(args.pages, args.commits, args.runs, not args.no_epubcheck)
    path = write_result("read_speed", result)
    for name, figures in [
        *result["demo"].items(),
        *(("generated/" + k, v) for k, v in result["generated"].items()),
    ]:
        line = f"{name:<24} {figures['median_seconds'] * 1000:8.0f} ms"
        line += f"  peak RSS {figures['peak_rss_mb']:6.1f} MB  {figures['output_bytes']:>10,} bytes"
        check = figures.get("validation")
        if check:
            verdict = check["epubcheck"]["summary"] if check["epubcheck"] else "not run"
            line += f"  ebooklib: {check['ebooklib_documents']} documents; epubcheck: {verdict}"
        print(line)
    print(f"read_speed: {args.pages:,}-page generated story, median of {args.runs}  -> {path}")
    return result


if __name__ == "__main__":
    main()
