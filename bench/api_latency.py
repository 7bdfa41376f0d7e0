"""What the HTTP layer adds to an answer: `POST /api/v1/ask` vs `Assistant.ask`, same questions, same run.

    python -m bench.api_latency [--repeat 3] [--out FILE]

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr.

The article (corpus/) is indexed into a temporary folder (untimed), and `qa serve`'s server (the web chat
with the API mounted beside it, `qa.ui.app.launch`) is started in this process on a loopback port over
the same Assistant, extractive answerer. Each of the 22 development questions about the article
(`eval/article_dev.jsonl`, answerable and not) is asked once both ways to warm up, then `--repeat`
rounds each time it directly (`Assistant.ask`) and over HTTP (a keep-alive httpx client posting JSON
and parsing the reply), alternating which goes first. Reported: the median of each, and the median of
the per-question differences (HTTP minus direct), which is what the HTTP layer adds: JSON in and out,
the answer slot, the thread hop, the loopback socket. Every HTTP answer must equal the direct one.

Also reported: the installed size of each dependency the API added (`fastapi-offline`, whose files
serve the docs page without a CDN; `openai`, pinned for the tests, was already installed with
langchain-openai), summed over the files its installed metadata lists.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, free_port, median, quiet_logging, start_run

log = logging.getLogger("bench.api_latency")

QUESTIONS = ROOT / "eval" / "article_dev.jsonl"
ADDED = {
    "fastapi-offline": "runtime: the docs page's Swagger UI files, served locally instead of from a CDN",
    "openai": "dev: the official client the tests drive /v1 with (already installed by langchain-openai)",
}


def installed_bytes(distribution: str) -> dict[str, Any]:
    dist = metadata.distribution(distribution)
    total = 0
    for file in dist.files or []:
        path = Path(str(file.locate()))
        if path.is_file():
            total += path.stat().st_size
    return {
        "version": dist.version,
        "installed_bytes": total,
        "installed_mb": round(total / 1e6, 1),
        "why": ADDED[distribution],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(repeat: int, root: Path) -> dict[str, Any]:
    import httpx

    import qa.ui.app as app
    from qa import Assistant

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    shutil.copytree(ROOT / "corpus", root / "corpus")
    assistant = Assistant(corpus_dir=root / "corpus", index_dir=root / "index", answerer="extractive")
    assistant.rebuild()
    port = free_port()
    with contextlib.redirect_stdout(sys.stderr):  # Gradio prints its URL; stdout carries only the JSON
        demo = app.launch(assistant, host="127.0.0.1", port=port, prevent_thread_lock=True)
    direct: list[float] = []
    http: list[float] = []
    added: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=120) as client:

            def over_http(question: str) -> tuple[float, dict[str, Any]]:
                started = time.perf_counter()
                response = client.post("/ask", json={"question": question})
                response.raise_for_status()
                body = response.json()
                return time.perf_counter() - started, body

            def in_process(question: str) -> tuple[float, dict[str, Any]]:
                started = time.perf_counter()
                answer = assistant.ask(question)
                return time.perf_counter() - started, answer.to_dict()

            for question in questions:  # warm-up: models loaded, caches filled, connection open
                in_process(question)
                over_http(question)
            for r in range(repeat):
                for i, question in enumerate(questions):
                    if (i + r) % 2:
                        (d, expected), (h, got) = in_process(question), over_http(question)
                    else:
                        (h, got), (d, expected) = over_http(question), in_process(question)
                    if got != expected:
                        raise RuntimeError(f"the HTTP answer differs from the direct one for {question!r}")
                    direct.append(d)
                    http.append(h)
                    added.append(h - d)
                log.info(
                    "round %d: direct p50 %.1f ms, http p50 %.1f ms",
                    r + 1,
                    1e3 * statistics.median(direct),
                    1e3 * statistics.median(http),
                )
    finally:
        with contextlib.redirect_stdout(sys.stderr):
            demo.close()

    def ms(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(1e3 * statistics.median(values), 2),
            "p95": round(1e3 * percentile(values, 0.95), 2),
        }

    return {
        "benchmark": "api_latency",
        "answerer": "extractive",
        "questions": len(questions),
        "repeat": repeat,
        "timings": len(direct),
        "assistant_ask_ms": ms(direct),
        "http_ask_ms": ms(http),
        "http_adds_ms": ms(added),
        "http_adds_share_of_p50": round(median(added, 6) / median(direct, 6), 3),
        "added_dependencies": {name: installed_bytes(name) for name in ADDED},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="Timed rounds over the questions.")
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    quiet_logging()
    logging.getLogger("bench.api_latency").setLevel(logging.INFO)
    begun = start_run()
    with tempfile.TemporaryDirectory(prefix="qa-bench-api-") as tmp:
        result = run(args.repeat, Path(tmp))
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
