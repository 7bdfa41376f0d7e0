"""How `qa` behaves as the index grows: 10k, 100k and 1M chunks.

    python -m bench.scale [--sizes 10000,100000,1000000] [--queries 100] [--pool 3000] [--out FILE]
                          [--keep DIR]        # work in DIR, keeping the corpus and the last index
    python -m bench.scale --measure-kept DIR  # measure that index again, without building it

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr.

The corpus is bench.query_latency's: the XQuAD paragraphs plus generated filler documents (about
7 chunks each). Embedding a million chunks with MiniLM would take about 5 hours here, so only the
XQuAD chunks and a pool of `--pool` filler chunks are embedded for real; every other filler chunk
is a word-swapped variant of a pool chunk whose vector is the pool chunk's plus calibrated noise
(bench.query_latency's docstring says how). The index is built by the real `IndexStore.build` path
with an embedder that looks those vectors up. Everything measured afterwards is the real code on
that real index. At each size:

- `open_seconds`: a fresh `IndexStore.open()` in this process (manifest, keyword index, Chroma);
- `cold_ask_seconds`: wall time of a fresh `qa --answerer extractive ask QUESTION --json` process
  (interpreter start, imports, opening the index, the embedding model, answering; median of
  `--repeat` after one untimed run warms the file cache);
- `search_ms`: p50 / p95 of `Assistant.search(q, k=5)` over `--queries` XQuAD questions;
- `serve`: a `qa serve` process: seconds until the page answers (it syncs the corpus first: a no-op
  rebuild), then peak RSS (VmHWM) once ready and after one question asked through the page;
- `add_one_seconds` / `remove_one_seconds`: `Assistant.add` of one small new document (embedded
  for real) and `Assistant.remove` of it, in a warm process; and the same through fresh
  `qa index add` / `qa index remove` processes (`*_cli_seconds`);
- `noop_rebuild_seconds`: `Assistant.rebuild()` with nothing changed, warm (the median; each run in
  `noop_rebuild_each_seconds`: the first compares the manifest when no sync memo proves the corpus
  unchanged, and leaves one), and a fresh `qa index build` process (`noop_rebuild_cli_seconds`, after
  the in-process add and remove, so it compares the manifest; `noop_rebuild_cli_again_seconds`, the next
  one, with the memo the first left);
- `disk_bytes_per_chunk`: the index folder's size over its chunks.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import MAX_BYTES, ROOT, emit, free_port, quiet_logging, start_run
from bench.memory import ask as ask_page
from bench.memory import status_mb, wait_ready
from bench.query_latency import Corpus, lookup_embedder
from qa.answerers import QUOTING

log = logging.getLogger("bench.scale")

QUESTION = "In what year did the Panthers win their first Super Bowl?"  # answerable from the XQuAD part
SMALL_DOCUMENT = (
    "Notes on the Wexcombe ferry.\n\nThe Wexcombe ferry was repainted in a pale green in the spring."
    " The ferryman keeps a log of every crossing, and the log says the ferry carried 412 passengers"
    " on the first warm Sunday.\n"
)
TARGETS = {  # the targets at 1M chunks, for the reader; nothing here asserts them
    "cold_ask_seconds": 3.0,
    "search_p50_ms": 60.0,
    "search_p95_ms": 150.0,
    "add_one_seconds": 5.0,
    "noop_rebuild_seconds": 2.0,
    "serve_peak_rss_mb": 3000.0,
}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def qa_process(corpus: Path, index: Path, *args: str) -> float:
    """Wall time of a fresh `python -m qa.cli` process over this corpus and index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    command = [sys.executable, "-m", "qa.cli", "--corpus", str(corpus), "--index", str(index), *args]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=3600
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"`qa {' '.join(args)}` exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def serve(corpus: Path, index: Path, question: str) -> dict[str, Any]:
    """Start `qa serve`, wait for the page, ask once through it, and read its peak memory."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    command = [sys.executable, "-m", "qa.cli", "--corpus", str(corpus), "--index", str(index),
               "--answerer", QUOTING, "serve", "--port", str(port)]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    try:
        wait_ready(url, process, timeout=3600)
        ready_seconds = time.perf_counter() - started
        ready = status_mb(process.pid)
        shown, _ = ask_page(url, question)
        after = status_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {
        "ready_seconds": round(ready_seconds, 1),
        "peak_rss_mb_ready": ready["VmHWM"],
        "peak_rss_mb_after_question": after["VmHWM"],
        "rss_mb_after_question": after["VmRSS"],
        "answer_shown": shown[:120],
    }


def build(corpus: Corpus, index: Path, embeddings: Any) -> tuple[float, Any]:
    """A full build through the real path, vectors looked up in the corpus's table."""
    lookup = lookup_embedder(embeddings, corpus.table)
    builder = index_store(index, lookup)
    seconds, report = timed(lambda: builder.build(corpus.folder, MAX_BYTES, full=True))
    log.info("%d chunks: built in %.0f s (%d embedded for real during the build)", report.chunks,
             seconds, lookup.missed)  # fmt: skip
    return seconds, report


def index_store(index: Path, embeddings: Any) -> Any:
    from qa.index import IndexStore
    from qa.settings import Settings

    settings = Settings()
    return IndexStore(index, embeddings, settings.chunk_size, settings.chunk_overlap)


def open_seconds(index: Path, embeddings: Any) -> float:
    """One `IndexStore.open()` by a store that has opened nothing yet, as a new reader does."""
    return timed(index_store(index, embeddings).open)[0]


def in_process(corpus: Path, index: Path, queries: list[str], repeat: int) -> dict[str, list[float]]:
    """Search, no-op rebuild, add one and remove one, through one warm Assistant."""
    from qa.assistant import Assistant

    assistant = Assistant(corpus_dir=corpus, index_dir=index, answerer=QUOTING)
    for q in queries[:10]:
        assistant.search(q, k=5)
    searches = [timed(partial(assistant.search, q, k=5))[0] * 1000 for q in queries]

    noop = [timed(assistant.rebuild)[0] for _ in range(repeat)]
    extra = index.parent / "extra"
    extra.mkdir(exist_ok=True)
    adds, removes = [], []
    for i in range(repeat):
        path = extra / f"wexcombe-ferry-{i}.txt"
        path.write_text(SMALL_DOCUMENT, encoding="utf-8")
        adds.append(timed(partial(assistant.add, [path]))[0])
        removes.append(timed(partial(assistant.remove, [path.name]))[0])
    return {"search_ms": searches, "noop": noop, "add": adds, "remove": removes}


def measure(
    corpus: Corpus, size: int, root: Path, queries: list[str], repeat: int, embeddings: Any
) -> dict[str, Any]:
    corpus.grow_to(size)
    index = root / "index"
    shutil.rmtree(index, ignore_errors=True)
    build_seconds, report = build(corpus, index, embeddings)
    result = {"target_chunks": size, "chunks": report.chunks, "documents": len(report.added),
              "build_seconds": round(build_seconds, 1)}  # fmt: skip
    result.update(measure_built(corpus.folder, index, queries, repeat, embeddings, report.chunks))
    log.info("%d chunks: %s", report.chunks, result)
    return result


def measure_built(
    corpus: Path, index: Path, queries: list[str], repeat: int, embeddings: Any, chunks: int
) -> dict[str, Any]:
    """Everything but the build, on the index in `index` (of `chunks` chunks) over the folder `corpus`."""
    disk = folder_bytes(index)
    opens = [open_seconds(index, embeddings) for _ in range(repeat)]

    ask = ("--answerer", QUOTING, "ask", QUESTION, "--json")
    qa_process(corpus, index, *ask)  # warms the file cache
    cold = [qa_process(corpus, index, *ask) for _ in range(repeat)]
    warm = in_process(corpus, index, queries, repeat)
    searches, noop, adds, removes = warm["search_ms"], warm["noop"], warm["add"], warm["remove"]

    extra = index.parent / "extra"
    noop_cli = [qa_process(corpus, index, "index", "build") for _ in range(2)]  # the second has a memo
    path = extra / f"wexcombe-ferry-{chunks}-cli.txt"
    path.write_text(SMALL_DOCUMENT, encoding="utf-8")
    add_cli = qa_process(corpus, index, "index", "add", str(path))
    remove_cli = qa_process(corpus, index, "index", "remove", path.name)

    served = serve(corpus, index, QUESTION)
    return {
        "disk_bytes": disk,
        "disk_bytes_per_chunk": round(disk / max(chunks, 1)),
        "open_seconds": round(statistics.median(opens), 3),
        "cold_ask_seconds": round(statistics.median(cold), 2),
        "search_ms": {
            "p50": round(statistics.median(searches), 1),
            "p95": round(percentile(searches, 0.95), 1),
        },
        "noop_rebuild_seconds": round(statistics.median(noop), 2),
        "noop_rebuild_each_seconds": [round(s, 2) for s in noop],  # the first may write the sync memo
        "noop_rebuild_cli_seconds": round(noop_cli[0], 2),
        "noop_rebuild_cli_again_seconds": round(noop_cli[1], 2),
        "add_one_seconds": round(statistics.median(adds), 2),
        "remove_one_seconds": round(statistics.median(removes), 2),
        "add_one_cli_seconds": round(add_cli, 2),
        "remove_one_cli_seconds": round(remove_cli, 2),
        "serve": served,
    }


def run(sizes: list[int], queries: int, repeat: int, pool: int, root: Path) -> dict[str, Any]:
    from qa.assistant import Assistant
    from qa.settings import Settings

    settings = Settings()
    embeddings = Assistant(corpus_dir=root / "corpus", index_dir=root / "unused", answerer=QUOTING).embeddings
    embeddings.embed_query("warm up")
    corpus = Corpus(root, embeddings, pool, settings.chunk_size, settings.chunk_overlap)
    chosen = [case.question for case in corpus.dataset.cases[::3][:queries]]
    results = []
    for size in sizes:
        started = time.perf_counter()
        results.append(measure(corpus, size, root, chosen, repeat, embeddings))
        results[-1]["seconds_for_this_size"] = round(time.perf_counter() - started, 1)
    return {
        "benchmark": "scale",
        "queries": len(chosen),
        "repeat": repeat,
        "embedding_backend": embeddings.backend,
        "targets_at_1m": TARGETS,
        "method": {
            "corpus": "XQuAD en dev paragraphs + generated filler documents (~7 chunks each)",
            "embedded_for_real": corpus.embedded_for_real,
            "synthetic_vectors": "every other filler chunk: a pool chunk's vector + calibrated noise",
            "real_variant_cosine": corpus.real_cosine,
            "synthetic_variant_cosine_mean": corpus.synthetic_cosine,
        },
        "sizes": results,
    }


def measure_kept(root: Path, queries: int, repeat: int) -> dict[str, Any]:
    """Measure again the last index a `--keep ROOT` run built (ROOT/index over ROOT/corpus), say
    after a change to how indexes are opened or updated, without the build (40 minutes at 1M)."""
    from qa.assistant import Assistant
    from qa.evaluation import xquad_dataset

    embeddings = Assistant(corpus_dir=root / "corpus", index_dir=root / "index", answerer=QUOTING).embeddings
    chosen = [case.question for case in xquad_dataset()[0].cases[::3][:queries]]
    chunks = index_store(root / "index", embeddings).open().keyword.size
    started = time.perf_counter()
    result = {"chunks": chunks, "kept_index": True}
    result.update(measure_built(root / "corpus", root / "index", chosen, repeat, embeddings, chunks))
    result["seconds_for_this_size"] = round(time.perf_counter() - started, 1)
    return {"benchmark": "scale", "queries": len(chosen), "repeat": repeat,
            "embedding_backend": embeddings.backend, "targets_at_1m": TARGETS, "sizes": [result]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="Comma-separated chunk counts.")
    parser.add_argument("--queries", type=int, default=100, help="XQuAD questions searched per size.")
    parser.add_argument("--repeat", type=int, default=3, help="Repeats of each timed step (medians).")
    parser.add_argument("--pool", type=int, default=3000, help="Filler chunks embedded for real.")
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep the corpus and last index.")
    parser.add_argument("--measure-kept", type=Path, help="Measure the index a --keep run left here.")
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()
    if args.measure_kept:
        emit(measure_kept(args.measure_kept, args.queries, args.repeat), begun, args.out)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(sizes, args.queries, args.repeat, args.pool, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="qa-bench-scale-") as tmp:
            result = run(sizes, args.queries, args.repeat, args.pool, Path(tmp))
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
