"""What every benchmark shares: logging to stderr (stdout carries only the JSON), the stamp that says
where and when a result was measured, and the small helpers the scripts would otherwise repeat.

A benchmark calls `start_run()` before it measures and `emit(result, run, out)` at the end: the
result is printed as JSON on stdout and, with `--out`, also written to that file. Either way it
carries a `"run"` object: date, git commit (and whether the code differed from it), CPU model, core
count, memory, load average at start and end, the command line and the wall time, so a figure can
be traced to the command and the machine that produced it.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
MAX_BYTES = 50_000_000  # the default QA_MAX_FILE_MB (50 MB), what a user's index build accepts
NOISY = ("chromadb", "httpx", "sentence_transformers", "transformers", "qa")
CODE = ("qa", "ui", "bench", "pyproject.toml")  # what a result depends on, for the "dirty" flag


def quiet_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def median(values: Iterable[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _dirty() -> bool | None:
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE)
    return None if changed is None else bool(changed)


@dataclass
class Run:
    """When a benchmark started, the code it ran (commit, and whether qa/, ui/, bench/ or
    pyproject.toml differed from it), and the machine's load then."""

    command: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    clock: float = field(default_factory=time.perf_counter)
    load_start: list[float] = field(default_factory=load_average)
    commit: str | None = field(default_factory=lambda: _git("rev-parse", "HEAD"))
    dirty: bool | None = field(default_factory=_dirty)


def start_run() -> Run:
    """Call before measuring: the start of the wall time and of the load average in the stamp."""
    return Run(command=" ".join(["python", "-m", _module(), *(shlex.quote(a) for a in sys.argv[1:])]))


def _module() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else Path(sys.argv[0]).stem


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * 1024 / 1e9, 1)
    except OSError:
        pass
    return None


def stamp(run: Run) -> dict[str, Any]:
    """Where and when the result was measured; `git_dirty` is true when qa/, ui/, bench/ or
    pyproject.toml differed from `git_commit` when the run started."""
    return {
        "command": run.command,
        "date": run.started.isoformat(timespec="seconds"),
        "git_commit": run.commit,
        "git_dirty": run.dirty,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": memory_gb(),
        "python": platform.python_version(),
        "load_average": {"start": run.load_start, "end": load_average()},
        "seconds": round(time.perf_counter() - run.clock, 1),
    }


def emit(result: dict[str, Any], run: Run, out: Path | None = None, echo: bool = True) -> dict[str, Any]:
    """Stamp `result`, print it as JSON on stdout (unless `echo` is false) and, when `out` is given,
    write it there too (only once it is complete, so a failed run leaves the previous file in place)."""
    stamped = {"run": stamp(run), **result}
    text = json.dumps(stamped, indent=2, ensure_ascii=False) + "\n"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(out)
        logging.getLogger("bench").info("wrote %s", out)
    if echo:
        sys.stdout.write(text)
    return stamped
