"""Ingest throughput: a full index build against the bare encoder on exactly the same chunk texts.

    python -m bench.ingest [--copies 1] [--repeat 3] [--backends torch,onnx] [--out FILE]

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr. Target (not asserted
here): a full build reaches >= 80 % of the raw encoder's throughput.

Corpus: the 240 XQuAD paragraphs (`qa.evaluation.xquad_dataset()[0].documents`), one `.txt` file each,
in a temporary folder; with `--copies N` every paragraph is written N times, copy k > 1 with a short
suffix sentence so that its content (and hash) differs and it is indexed rather than reported as a
duplicate.

For each embedding backend:

- the model is loaded first (one `embed_query`, and one call of the raw encoder), and the first
  build records the exact batches of chunk texts the index hands to the encoder
  (`qa.index.WRITE_BATCH` chunks per call, `PackagedMiniLM.batch_size` per forward pass);
- `--repeat` rounds, each timing (a) `IndexStore.build(full=True)`, what
  `Assistant.rebuild(full=True)` runs: list and hash the files, load, chunk, embed, upsert into a
  new Chroma generation, commit the manifest, switch and prune, and (b) the raw encoder on the same
  batches: plain `SentenceTransformer.encode` (torch) or the ONNX encoder's `encode` (onnx-int8),
  with the arguments `PackagedMiniLM.encode` passes. The two take turns (a, b then b, a) so they
  share the machine's noise (round 1 starts with the build, which records the batches); the
  ratio is taken within a round and its median reported;
- inside each timed build, cheap wrappers add up the time spent loading files, chunking, encoding
  and in Chroma upserts; the rest is listing and hashing files, creating the Chroma store, the
  manifest commit, the switch and pruning the old generation. `encode_share_of_build` (encoder
  time / build time, within the same build) is the same ratio measured without the drift of other
  processes' load between the build and the raw pass.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import MAX_BYTES, emit, median, quiet_logging, start_run

log = logging.getLogger("bench.ingest")

TARGET_RATIO = 0.8


def write_corpus(folder: Path, copies: int) -> int:
    """XQuAD paragraphs as files; copy k > 1 of each gets a suffix sentence. Returns the file count."""
    from qa.evaluation import xquad_dataset

    documents = xquad_dataset()[0].documents
    count = 0
    for k in range(1, copies + 1):
        for source, text in documents.items():
            target = folder / (source if k == 1 else f"copy-{k}/{source}")
            target.parent.mkdir(parents=True, exist_ok=True)
            body = text if k == 1 else f"{text}\n\nThis is copy {k} of the paragraph."
            target.write_text(body, encoding="utf-8")
            count += 1
    return count


class Breakdown:
    """Seconds spent in the parts of a build, added up by wrappers around them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"load_files": 0.0, "chunking": 0.0, "encode": 0.0, "upsert": 0.0}

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - started

        return timed


@contextmanager
def instrumented(embeddings: Any, breakdown: Breakdown, batches: list[list[str]] | None) -> Iterator[None]:
    """Time the parts of a build (and record the encoder's batches when `batches` is a list)."""
    from chromadb.api.models.Collection import Collection

    import qa.index
    import qa.planning

    original_upsert = Collection.upsert
    original_chunk = qa.index.chunk_document
    original_load = qa.planning.load_bytes  # parsing bytes the build has already read and hashed
    original_encode = embeddings.encode

    def chunks_upsert(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not str(getattr(self, "name", "")).startswith("qa-chunks"):
            return original_upsert(self, *args, **kwargs)  # the manifest record: counted in "other"
        started = time.perf_counter()
        try:
            return original_upsert(self, *args, **kwargs)
        finally:
            breakdown.seconds["upsert"] += time.perf_counter() - started

    def encode(texts: list[str]) -> Any:
        if batches is not None:
            batches.append(list(texts))
        return original_encode(texts)

    Collection.upsert = chunks_upsert  # type: ignore[method-assign]
    qa.index.chunk_document = breakdown.wrap("chunking", original_chunk)
    qa.planning.load_bytes = breakdown.wrap("load_files", original_load)
    embeddings.encode = breakdown.wrap("encode", encode)
    try:
        yield
    finally:
        Collection.upsert = original_upsert  # type: ignore[method-assign]
        qa.index.chunk_document = original_chunk
        qa.planning.load_bytes = original_load
        del embeddings.encode  # back to the class's method


def make_embeddings(backend: str) -> Any:
    from qa.embeddings import PackagedMiniLM

    return PackagedMiniLM(backend=backend)


def raw_encoder(embeddings: Any) -> tuple[str, Callable[[list[str]], Any]]:
    """The bare encoder the index calls, outside the index: plain SentenceTransformer.encode for torch
    (its own instance of the packaged model), the ONNX encoder for onnx-int8."""
    if getattr(embeddings, "backend", "torch") == "torch":
        from sentence_transformers import SentenceTransformer

        from qa.embeddings import model_dir

        model = SentenceTransformer(str(model_dir()), device="cpu")
        batch_size = embeddings.batch_size

        def encode_torch(texts: list[str]) -> Any:
            return model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

        encode_torch(["warm up"])
        return "SentenceTransformer.encode", encode_torch
    encoder = embeddings._load()  # the loaded OnnxEncoder
    batch_size = embeddings.batch_size

    def encode_onnx(texts: list[str]) -> Any:
        return encoder.encode(list(texts), batch_size=batch_size)

    encode_onnx(["warm up"])
    return f"{type(encoder).__name__}.encode", encode_onnx


def bench_backend(backend: str, corpus: Path, root: Path, repeat: int) -> dict[str, Any]:
    from qa.index import WRITE_BATCH, IndexStore
    from qa.settings import Settings

    settings = Settings()
    embeddings = make_embeddings(backend)
    started = time.perf_counter()
    embeddings.embed_query("warm up")  # load the model (and, for onnx, export it once) before timing
    model_load = time.perf_counter() - started
    raw_name, raw = raw_encoder(embeddings)
    recorded_backend = getattr(embeddings, "backend", "torch")
    log.info("%s: model loaded in %.1fs; raw encoder %s", recorded_backend, model_load, raw_name)

    index_dir = root / f"index-{recorded_backend}"
    store = IndexStore(index_dir, embeddings, settings.chunk_size, settings.chunk_overlap)

    batches: list[list[str]] = []  # filled by the first build: what the index hands the encoder

    rounds: list[dict[str, Any]] = []
    for r in range(repeat):
        measured: dict[str, Any] = {}

        def time_build(measured: dict[str, Any] = measured) -> None:
            breakdown = Breakdown()
            started = time.perf_counter()
            with instrumented(embeddings, breakdown, None if batches else batches):
                built = store.build(corpus, MAX_BYTES, full=True)
            seconds = time.perf_counter() - started
            measured["build_seconds"] = seconds
            measured["build_chunks"] = built.chunks
            measured["parts"] = {k: round(v, 3) for k, v in breakdown.seconds.items()}
            measured["parts"]["other"] = round(seconds - sum(breakdown.seconds.values()), 3)

        def time_raw(measured: dict[str, Any] = measured) -> None:
            started = time.perf_counter()
            for batch in batches:
                raw(batch)
            measured["raw_seconds"] = time.perf_counter() - started

        steps = (time_build, time_raw) if r % 2 == 0 else (time_raw, time_build)
        for step in steps:
            step()
        measured["ratio"] = measured["raw_seconds"] / measured["build_seconds"]
        chunks = sum(len(b) for b in batches)
        log.info(
            "%s round %d: build %.1fs (%.1f chunks/s), raw %.1fs (%.1f chunks/s), ratio %.3f",
            recorded_backend, r + 1, measured["build_seconds"], chunks / measured["build_seconds"],
            measured["raw_seconds"], chunks / measured["raw_seconds"], measured["ratio"],
        )  # fmt: skip
        rounds.append(measured)

    parts = {
        part: median([rd["parts"][part] for rd in rounds])
        for part in ("load_files", "chunking", "encode", "upsert", "other")
    }
    build_median = statistics.median(rd["build_seconds"] for rd in rounds)
    shutil.rmtree(index_dir, ignore_errors=True)
    return {
        "backend": recorded_backend,
        "raw_encoder": raw_name,
        "model_load_seconds": round(model_load, 3),
        "chunks": chunks,
        "chunks_per_build_report": rounds[0]["build_chunks"],
        "write_batch": WRITE_BATCH,
        "encoder_batch_size": embeddings.batch_size,
        "encode_calls_per_build": len(batches),
        "build": {
            "seconds": median([rd["build_seconds"] for rd in rounds]),
            "chunks_per_second": round(chunks / build_median, 1),
        },
        "raw": {
            "seconds": median([rd["raw_seconds"] for rd in rounds]),
            "chunks_per_second": round(chunks / statistics.median(rd["raw_seconds"] for rd in rounds), 1),
        },
        "ratio_build_to_raw": median([rd["ratio"] for rd in rounds]),
        # Within one build (immune to load drift between the build and the raw pass): the share of
        # the build's time spent in the encoder, i.e. build throughput / its own encoder throughput.
        "encode_share_of_build": median([rd["parts"]["encode"] / rd["build_seconds"] for rd in rounds]),
        "non_encode_seconds_per_1000_chunks": median(
            [(rd["build_seconds"] - rd["parts"]["encode"]) / chunks * 1000 for rd in rounds]
        ),
        "meets_target": statistics.median(rd["ratio"] for rd in rounds) >= TARGET_RATIO,
        "build_parts_seconds": parts,
        "build_parts_share": {k: round(v / build_median, 3) for k, v in parts.items()},
        "rounds": [
            {
                "build_seconds": round(rd["build_seconds"], 3),
                "raw_seconds": round(rd["raw_seconds"], 3),
                "ratio": round(rd["ratio"], 3),
                "parts": rd["parts"],
            }
            for rd in rounds
        ],
    }


def available_backends() -> list[str]:
    backends = ["torch"]
    if all(importlib.util.find_spec(m) for m in ("onnxruntime", "tokenizers")):
        backends.append("onnx")
    return backends


def run(copies: int, repeat: int, backends: list[str], root: Path) -> dict[str, Any]:
    corpus = root / "corpus"
    files = write_corpus(corpus, copies)
    corpus_bytes = sum(p.stat().st_size for p in corpus.rglob("*.txt"))
    log.info("%d files, %d bytes", files, corpus_bytes)
    from qa.embeddings import resolve_backend

    default_backend = resolve_backend("auto")
    results = [bench_backend(b, corpus, root, repeat) for b in backends]
    return {
        "benchmark": "ingest",
        "corpus": f"XQuAD en dev paragraphs x{copies}",
        "documents": files,
        "bytes": corpus_bytes,
        "repeat": repeat,
        "target_ratio": TARGET_RATIO,
        "default_backend": default_backend,
        "backends": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=1, help="Write every XQuAD paragraph N times.")
    parser.add_argument("--repeat", type=int, default=3, help="Timed rounds per backend (medians).")
    parser.add_argument(
        "--backends",
        default=None,
        help="Comma-separated embedding backends (torch, onnx); default: every installed one.",
    )
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()
    backends = args.backends.split(",") if args.backends else available_backends()
    with tempfile.TemporaryDirectory(prefix="qa-bench-ingest-") as tmp:
        result = run(args.copies, args.repeat, backends, Path(tmp))
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
