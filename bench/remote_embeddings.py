"""Ingest through an embeddings server: chunks/s through qa against the server's own raw throughput,
in the same run.

    .venv/bin/python -m bench.remote_embeddings [--repeat 3] > docs/results/remote_embeddings.json

Prints one JSON object on stdout; logs go to stderr. Needs the `server` extra.

The server is llama.cpp's (`python -m llama_cpp.server`) serving the packaged MiniLM written as GGUF
(`qa.minilm_gguf`), started by this script on a loopback port, as the README starts it. The corpus is
bench.ingest's: the XQuAD paragraphs, one file each (`--copies N` writes each N times).

Each round, in alternating order so that they share the machine's noise, times the same chunk texts:

- `raw_sequential`: the batches (32 texts, qa's request size) POSTed straight to the server with
  httpx, one at a time, the response parsed as JSON: what the server delivers with no qa code;
- `raw_in_flight`: the same with 4 requests at a time;
- `qa_encode_1`, `qa_encode_4`: `RemoteEmbeddings.encode` on the texts in the groups an index build
  hands it (`qa.index.WRITE_BATCH`), 1 and 4 requests in flight (rows parsed into float32 and
  normalised);
- `qa_build`: a full index build (`IndexStore.build(full=True)`: list, hash, load, chunk, embed
  through the server with 4 in flight, upsert into Chroma, commit) of the corpus.

`qa_build_vs_raw` is the build's throughput over the better of the two raw ones, within each round
(median reported). On this machine the server and qa share 2 cores, so qa's own work (parsing,
Chroma) takes time from the server; with the server on another machine it would not.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.common import quiet_logging
from bench.ingest import MAX_BYTES, write_corpus

log = logging.getLogger("bench.remote_embeddings")

STARTUP_SECONDS = 120
IN_FLIGHT = 4


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(gguf: Path, threads: int, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    from qa.minilm_gguf import server_command

    port = free_port()
    with open(log_path, "wb") as out:
        process = subprocess.Popen(server_command(gguf, port, threads=threads), stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode}); see {log_path}")
        try:
            if httpx.get(f"{url}/models", timeout=2).is_success:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop(process)
    raise SystemExit(f"the server did not answer in {STARTUP_SECONDS}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:  # uvicorn can take its time to shut down
        process.kill()
        process.wait()


def raw_pass(url: str, model: str, batches: list[list[str]], in_flight: int) -> float:
    """Seconds to embed `batches` straight through the server's HTTP API, no qa code involved."""
    with httpx.Client(base_url=url, timeout=300) as client:

        def post(batch: list[str]) -> int:
            response = client.post("/embeddings", json={"model": model, "input": batch})
            response.raise_for_status()
            return len(response.json()["data"])

        started = time.perf_counter()
        if in_flight == 1:
            done = sum(post(b) for b in batches)
        else:
            with ThreadPoolExecutor(in_flight) as pool:
                done = sum(pool.map(post, batches))
        seconds = time.perf_counter() - started
    assert done == sum(len(b) for b in batches)
    return seconds


def run(copies: int, repeat: int, threads: int, root: Path) -> dict[str, Any]:
    from qa.embeddings import MODEL_NAME
    from qa.index import WRITE_BATCH, IndexStore
    from qa.minilm_gguf import export
    from qa.remote_embeddings import BATCH_SIZE, RemoteEmbeddings
    from qa.settings import Settings

    load_start = os.getloadavg()
    started = time.perf_counter()
    corpus = root / "corpus"
    files = write_corpus(corpus, copies)
    gguf = export(root / "minilm.gguf")
    process, url = start_server(gguf, threads, root / "server.log")
    try:
        settings = Settings()
        remote = {n: RemoteEmbeddings(url, model=MODEL_NAME, in_flight=n) for n in (1, IN_FLIGHT)}
        remote[1].encode(["warm up"])
        store = IndexStore(root / "index", remote[IN_FLIGHT], settings.chunk_size, settings.chunk_overlap)
        first = store.build(corpus, MAX_BYTES, full=True)  # also yields the exact chunk texts
        texts = [c.text for c in store.open().chunks]
        log.info("%d files, %d chunks (first build %.1fs)", files, len(texts), first.seconds)
        groups = [texts[i : i + WRITE_BATCH] for i in range(0, len(texts), WRITE_BATCH)]
        requests = [texts[i : i + BATCH_SIZE] for i in range(0, len(texts), BATCH_SIZE)]

        def build() -> float:
            t0 = time.perf_counter()
            report = store.build(corpus, MAX_BYTES, full=True)
            assert report.chunks == len(texts)
            return time.perf_counter() - t0

        def encode_with(n: int) -> Callable[[], float]:
            def timed() -> float:
                t0 = time.perf_counter()
                for group in groups:
                    remote[n].encode(group)
                return time.perf_counter() - t0

            return timed

        steps: dict[str, Callable[[], float]] = {
            "raw_sequential": lambda: raw_pass(url, MODEL_NAME, requests, 1),
            "raw_in_flight": lambda: raw_pass(url, MODEL_NAME, requests, IN_FLIGHT),
            "qa_encode_1": encode_with(1),
            "qa_encode_4": encode_with(IN_FLIGHT),
            "qa_build": build,
        }
        rounds: list[dict[str, float]] = []
        for r in range(repeat):
            order = list(steps) if r % 2 == 0 else list(reversed(steps))
            seconds = {name: steps[name]() for name in order}
            rounds.append(seconds)
            log.info(
                "round %d: %s", r + 1,
                ", ".join(f"{k} {len(texts) / v:.1f}/s" for k, v in seconds.items()),
            )  # fmt: skip
    finally:
        stop(process)

    def rate(name: str) -> float:
        return round(len(texts) / statistics.median(rd[name] for rd in rounds), 1)

    ratios = [min(rd["raw_sequential"], rd["raw_in_flight"]) / rd["qa_build"] for rd in rounds]
    load_end = os.getloadavg()
    return {
        "benchmark": "remote_embeddings",
        "server": "llama.cpp (llama-cpp-python server), packaged all-MiniLM-L6-v2 as float32 GGUF",
        "server_threads": threads,
        "same_machine": True,
        "corpus": f"XQuAD en dev paragraphs x{copies}",
        "documents": files,
        "chunks": len(texts),
        "request_batch": BATCH_SIZE,
        "in_flight": IN_FLIGHT,
        "repeat": repeat,
        "chunks_per_second": {name: rate(name) for name in steps},
        "qa_build_vs_raw": round(statistics.median(ratios), 3),
        "cpu_count": os.cpu_count(),
        "load_average": {
            "start": [round(x, 2) for x in load_start],
            "end": [round(x, 2) for x in load_end],
        },
        "total_seconds": round(time.perf_counter() - started, 1),
        "rounds": [{k: round(v, 3) for k, v in rd.items()} for rd in rounds],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=1, help="Write every XQuAD paragraph N times.")
    parser.add_argument("--repeat", type=int, default=3, help="Timed rounds (medians).")
    parser.add_argument("--server-threads", type=int, default=2, help="llama.cpp threads on the server.")
    args = parser.parse_args()
    quiet_logging()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server on the way out
    with tempfile.TemporaryDirectory(prefix="qa-bench-remote-") as tmp:
        result = run(args.copies, args.repeat, args.server_threads, Path(tmp))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
