"""How `qa` behaves as the index grows: 10k, 100k and 1M chunks.

    python -m bench.scale [--sizes 10000,100000,1000000] [--queries 100] [--pool 3000] [--out FILE]
                          [--keep DIR]        # work in DIR, keeping the corpus and the last index
    python -m bench.scale --measure-kept DIR  # measure that index again, without building it
    python -m bench.scale --measure-kept-server DIR  # the same index served by `chroma run`

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

With `--measure-kept-server`, the same steps run against a Chroma server on this machine serving a
copy of that index (`chroma_server`): every `qa` process then connects to a server that has the
vectors loaded, and the server's own load (`server_first_search_seconds`) and memory
(`chroma_server_rss_mb`) are reported apart from `qa serve`'s.
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


def qa_env(chroma_url: str | None) -> dict[str, str]:
    """This environment without QA_* settings, plus the Chroma server's URL when there is one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return env | ({"QA_CHROMA_URL": chroma_url} if chroma_url else {})


def qa_process(corpus: Path, index: Path, *args: str, chroma_url: str | None = None) -> float:
    """Wall time of a fresh `python -m qa.cli` process over this corpus and index."""
    env = qa_env(chroma_url)
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


def serve(corpus: Path, index: Path, question: str, chroma_url: str | None = None) -> dict[str, Any]:
    """Start `qa serve`, wait for the page, ask once through it, and read its peak memory."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = qa_env(chroma_url)
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


def index_store(index: Path, embeddings: Any, chroma_url: str | None = None) -> Any:
    from qa.index import IndexStore
    from qa.settings import Settings

    settings = Settings()
    return IndexStore(index, embeddings, settings.chunk_size, settings.chunk_overlap, chroma_url=chroma_url)


def open_seconds(index: Path, embeddings: Any, chroma_url: str | None = None) -> float:
    """One `IndexStore.open()` by a store that has opened nothing yet, as a new reader does."""
    return timed(index_store(index, embeddings, chroma_url).open)[0]


def in_process(
    corpus: Path, index: Path, queries: list[str], repeat: int, chroma_url: str | None = None
) -> dict[str, list[float]]:
    """Search, no-op rebuild, add one and remove one, through one warm Assistant."""
    from qa.assistant import Assistant

    assistant = Assistant(corpus_dir=corpus, index_dir=index, answerer=QUOTING, chroma_url=chroma_url)
    for q in queries[:10]:
        assistant.search(q, k=5)
    searches = [timed(partial(assistant.search, q, k=5))[0] * 1000 for q in queries]

    noop = [timed(assistant.rebuild)[0] for _ in range(repeat)]
    extra = corpus.parent / "extra"
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
    corpus: Path,
    index: Path,
    queries: list[str],
    repeat: int,
    embeddings: Any,
    chunks: int,
    chroma_url: str | None = None,
    disk: int | None = None,
) -> dict[str, Any]:
    """Everything but the build, on the index in `index` (of `chunks` chunks) over the folder `corpus`;
    with `chroma_url`, on the Chroma server there (`index` then holds only the writer's lock and
    memo, and `disk` is the server's folder size)."""
    disk = folder_bytes(index) if disk is None else disk
    process = partial(qa_process, corpus, index, chroma_url=chroma_url)
    opens = [open_seconds(index, embeddings, chroma_url) for _ in range(repeat)]

    ask = ("--answerer", QUOTING, "ask", QUESTION, "--json")
    process(*ask)  # warms the file cache
    cold = [process(*ask) for _ in range(repeat)]
    warm = in_process(corpus, index, queries, repeat, chroma_url)
    searches, noop, adds, removes = warm["search_ms"], warm["noop"], warm["add"], warm["remove"]

    extra = corpus.parent / "extra"
    noop_cli = [process("index", "build") for _ in range(2)]  # the second has a memo
    path = extra / f"wexcombe-ferry-{chunks}-cli.txt"
    path.write_text(SMALL_DOCUMENT, encoding="utf-8")
    add_cli = process("index", "add", str(path))
    remove_cli = process("index", "remove", path.name)

    served = serve(corpus, index, QUESTION, chroma_url)
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


def chroma_server(root: Path) -> tuple[subprocess.Popen[bytes], str, Path, Path]:
    """A `chroma run` server over a copy of the kept index's live generation (ROOT/server/GEN), its
    collections renamed as `ServerStore` names them and its pointer set; the first call makes the
    copy (a minute per 7 GB here). The saved keyword index is copied into this client's cache,
    where a client of a server keeps the one it builds from the stored texts, so the first run
    skips downloading a million texts. Returns the server, its URL, its folder and that cache folder
    (keyed by the URL, whose port changes from run to run: the caller removes it)."""
    from chromadb import HttpClient

    from qa.store import PREFIX, ServerStore

    generation = (root / "index" / "CURRENT").read_text(encoding="utf-8").strip()
    folder = root / "server" / generation
    if not folder.is_dir():
        staging = folder.with_name(folder.name + ".copying")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(root / "index" / generation / "chroma", staging)
        staging.rename(folder)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(folder),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = None
    for _ in range(600):
        try:
            client = HttpClient(host="127.0.0.1", port=port)  # connects, or raises
            break
        except ValueError:  # not listening yet
            time.sleep(0.5)
    if client is None:
        server.terminate()
        raise RuntimeError(f"`chroma run` did not listen on port {port} within 5 minutes")
    names = {c.name for c in client.list_collections()}
    for kind in ("chunks", "manifest"):
        if f"{PREFIX}-{kind}" in names:
            client.get_collection(f"{PREFIX}-{kind}").modify(name=f"{PREFIX}-{kind}-{generation}")
    store = ServerStore(url)
    store.switch(generation)
    keywords = store.keyword_dir(generation)
    if not keywords.is_dir():
        shutil.copytree(root / "index" / generation / "keywords", keywords)
    return server, url, folder, keywords


def measure_kept_server(root: Path, queries: int, repeat: int) -> dict[str, Any]:
    """`measure_kept` with the index served by a Chroma server on this machine (`chroma run`), the
    setup the README's Scaling section recommends past about 100k chunks: the server loads the
    vectors once, and each `qa` process only connects to it."""
    from qa.assistant import Assistant
    from qa.evaluation import xquad_dataset

    embeddings = Assistant(corpus_dir=root / "corpus", index_dir=root / "unused", answerer=QUOTING).embeddings
    chosen = [case.question for case in xquad_dataset()[0].cases[::3][:queries]]
    server, url, folder, keywords = chroma_server(root)
    try:
        writer = root / "server-writer"  # the writer's lock and sync memo stay on the client
        loaded, snapshot = timed(index_store(writer, embeddings, url).open)
        first_search, _ = timed(lambda: snapshot.nearest(embeddings.embed_query(QUESTION), 5))
        started = time.perf_counter()
        result = {"chunks": snapshot.keyword.size, "kept_index": True, "chroma_server": True,
                  "server_first_search_seconds": round(loaded + first_search, 2)}  # fmt: skip
        chunks, disk = snapshot.keyword.size, folder_bytes(folder)
        result.update(measure_built(root / "corpus", writer, chosen, repeat, embeddings, chunks, url, disk))
        result["chroma_server_rss_mb"] = status_mb(server.pid)
        result["seconds_for_this_size"] = round(time.perf_counter() - started, 1)
    finally:
        server.terminate()
        server.wait(timeout=120)
        shutil.rmtree(keywords.parent, ignore_errors=True)  # this URL's cache: no later run reuses it
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
    parser.add_argument(
        "--measure-kept-server", type=Path, help="The same, served by a Chroma server over a copy of it."
    )
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()
    if args.measure_kept:
        emit(measure_kept(args.measure_kept, args.queries, args.repeat), begun, args.out)
        return
    if args.measure_kept_server:
        emit(measure_kept_server(args.measure_kept_server, args.queries, args.repeat), begun, args.out)
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
