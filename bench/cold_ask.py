"""What one `qa ask` costs from a fresh process: interpreter start, imports, opening the index, loading
the embedding model, answering (extractive answerer, the bundled article's index already built).

    python -m bench.cold_ask [--repeat 5] [--question "..."] [--out FILE]

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr.

The article (corpus/) is indexed once into a temporary folder by `qa index build`, untimed. One
untimed `qa ask` then warms the operating system's file cache, as any earlier use would have; then
`--repeat` fresh `python -m qa.cli --answerer extractive ... ask QUESTION --json` processes are
timed from start to exit (wall time; the median is reported). Each must exit 0 with an answer
written by the extractive answerer. One more run under `python -X importtime` says where the import
time goes: the cumulative import time of a few heavy packages, wherever they are first imported.
`-X importtime` slows imports down a little, so those figures are upper bounds, to compare with the
wall time of that same run (`importtime_run_seconds`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, median, quiet_logging, start_run
from qa.answerers import QUOTING

log = logging.getLogger("bench.cold_ask")

CORPUS = ROOT / "corpus"
QUESTION = "Where did the second round of the cybercrime dialogue take place?"
HEAVY = (
    "qa",
    "chromadb",
    "langchain_chroma",
    "langchain_core",
    "onnxruntime",
    "tokenizers",
    "torch",
    "sentence_transformers",
    "transformers",
    "bm25s",
    "numpy",
    "pydantic",
    "click",
)


def qa(
    index: Path, *args: str, flags: tuple[str, ...] = ()
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall time of a fresh `python -m qa.cli` process (the checkout's qa: cwd is the repository)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    command = [sys.executable, *flags, "-m", "qa.cli", "--corpus", str(CORPUS), "--index", str(index), *args]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"`qa {' '.join(args)}` exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done


def import_times(stderr: str) -> dict[str, float]:
    """Cumulative seconds of each HEAVY package's own import line in `-X importtime` output."""
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        name = name.strip()
        if name in HEAVY and name not in found and cumulative.strip().isdigit():
            found[name] = round(int(cumulative) / 1e6, 3)
    return found


def run(repeat: int, question: str, root: Path) -> dict[str, Any]:
    index = root / "index"
    build_seconds, _ = qa(index, "index", "build")
    log.info("article indexed in %.1fs", build_seconds)
    ask = ("--answerer", QUOTING, "ask", question, "--json")  # --answerer is a global option
    qa(index, *ask)  # warm the file cache
    walls, answers = [], []
    for r in range(repeat):
        seconds, done = qa(index, *ask)
        answer = json.loads(done.stdout)
        if answer.get("mode") != QUOTING or not answer.get("answerable"):
            raise RuntimeError(f"run {r + 1}: expected an extractive answer, got {done.stdout[:500]}")
        walls.append(seconds)
        answers.append(answer)
        log.info("run %d: %.2fs", r + 1, seconds)
    importtime_seconds, traced = qa(index, *ask, flags=("-X", "importtime"))
    imports = import_times(traced.stderr)
    chromadb = imports.get("chromadb")
    return {
        "benchmark": "cold_ask",
        "timed": "python -m qa.cli --answerer extractive --corpus corpus --index TMP ask QUESTION --json",
        "question": question,
        "repeat": repeat,
        "index_build_seconds": round(build_seconds, 2),
        "wall_seconds": {
            "median": median(walls, 2),
            "min": round(min(walls), 2),
            "max": round(max(walls), 2),
            "runs": [round(w, 2) for w in walls],
        },
        "importtime_run_seconds": round(importtime_seconds, 2),
        "import_seconds": dict(sorted(imports.items(), key=lambda kv: -kv[1])),
        "chromadb_share_of_importtime_run": round(chromadb / importtime_seconds, 3) if chromadb else None,
        "answer": {"mode": answers[-1]["mode"], "citations": len(answers[-1]["citations"])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="Timed processes (median reported).")
    parser.add_argument("--question", default=QUESTION, help="The question asked.")
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()
    with tempfile.TemporaryDirectory(prefix="qa-bench-cold-ask-") as tmp:
        result = run(args.repeat, args.question, Path(tmp))
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
