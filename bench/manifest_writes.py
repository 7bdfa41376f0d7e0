"""What the manifest costs when one document is added to an index that already lists many: before (one
JSON record listing every document, manifest format 3) and after (format 4: a header, a checkpoint of
the documents, and one record per document version written since).

    .venv/bin/python -m bench.manifest_writes [--sizes 1000 10000 100000] [--repeat 5] [--keep DIR]

Prints one JSON object on stdout; logs go to stderr.

The manifests are synthetic: N made-up document entries (hash, size, 12 chunks, dates, no pages) in
a real embedded Chroma store, with no files, chunks or vectors behind them, so only the manifest's
share of an update is measured (the new document's own chunks cost the same either way).

- before: what format 3 did on every change, reproduced here with the same Chroma calls: read the
  record and parse it, add the entry, then upsert the whole record twice (the commit, marked dirty,
  and the same record marked clean after the clean-up).
- after: the real code paths. The index starts as a full build leaves it (a checkpoint of the N
  entries). Adding a document runs `IndexStore._update_in_place` with a one-document plan: the new
  chunks, its record, the header (the commit), superseded records and stale chunks of that document,
  the header again. Once the records since the checkpoint pass max(MIN_RECORDS, N / RECORDS_SHARE),
  an update also folds them into a new checkpoint (`IndexStore._fold`): that is timed on its own and
  spread over the changes between two folds (`amortised_*`). Reading is timed twice: right after a
  fold (the checkpoint alone) and just before one (the checkpoint and the most records it ever has
  beside it). The store is a real `EmbeddedStore` subclass that times and counts each call.

`bytes_written` is the payload handed to Chroma for manifest records (the documents' JSON and their
metadata), not bytes on disk (SQLite and its write-ahead log add their own). Reading the manifest is
reported because a build reads all of it to compare the corpus with it, and so does a reader that
reopens the index: that part grows with N in both layouts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import quiet_logging
from qa.embeddings import EmbeddingModel

log = logging.getLogger("bench.manifest_writes")

CHUNKS_PER_DOCUMENT = 12
WHEN = "2025-01-01T00:00:00+00:00"
SIZES = (1_000, 10_000, 100_000)


class ConstantEncoder(EmbeddingModel):
    """Unit vectors without a model: the bench measures records, not embedding."""

    name = "bench-constant"
    dimension = 384
    backend = "none"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def synthetic_entries(n: int) -> dict[str, Any]:
    from qa.manifest import DocumentEntry

    return {
        f"shared/team-{i % 100:02d}/document-{i:06d}.pdf": DocumentEntry(
            hashlib.sha256(str(i).encode()).hexdigest(),
            40_000 + i % 5000,
            CHUNKS_PER_DOCUMENT,
            (),
            WHEN,
            WHEN,
        )
        for i in range(n)
    }


def payload(texts: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> int:
    return sum(len(t.encode()) for t in texts) + sum(len(json.dumps(m).encode()) for m in metadatas)


def median(values: list[float], digits: int = 4) -> float:
    return round(statistics.median(values), digits)


# ---- before: one record holding every document --------------------------------------------------


def before(n: int, root: Path, repeat: int) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from qa.manifest import DocumentEntry

    client = chromadb.PersistentClient(
        path=str(root / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection("qa-manifest", embedding_function=None)
    header = {
        "format": 3,
        "embedding_model": ConstantEncoder.name,
        "embedding_dim": ConstantEncoder.dimension,
        "embedding_backend": ConstantEncoder.backend,
        "chunking": {"size": 700, "overlap": 1, "version": 1},
        "version": 1,
        "built_at": WHEN,
        "updated_at": WHEN,
    }
    documents = {s: json.loads(e.to_json()) for s, e in synthetic_entries(n).items()}

    def commit(manifest: dict[str, Any], dirty: bool) -> int:
        text = json.dumps(manifest, ensure_ascii=False)
        meta = {"version": manifest["version"], "dirty": dirty}
        collection.upsert(
            ids=["manifest"],
            documents=[text],
            metadatas=[meta],
            embeddings=np.zeros((1, 1), dtype=np.float32),
        )
        return payload([text], [meta])

    commit({**header, "documents": documents}, dirty=False)
    reads, writes, written = [], [], []
    for r in range(repeat):
        started = time.perf_counter()
        got = collection.get(ids=["manifest"], include=["documents"])
        manifest = json.loads((got["documents"] or [""])[0])
        reads.append(time.perf_counter() - started)
        entry = DocumentEntry(hashlib.sha256(f"new-{r}".encode()).hexdigest(), 2000, 1, (), WHEN, WHEN)
        manifest["documents"][f"incoming/new-{r}.txt"] = json.loads(entry.to_json())
        manifest["version"] += 1
        started = time.perf_counter()
        size = commit({**manifest, "dirty": True}, dirty=True) + commit(manifest, dirty=False)
        writes.append(time.perf_counter() - started)
        written.append(size)
    return {
        "manifest_read_seconds": median(reads),
        "manifest_write_seconds": median(writes),
        "bytes_written": int(statistics.median(written)),
        "records_written": 2,
    }


# ---- after: a header and one record per document ------------------------------------------------


def after(n: int, root: Path, repeat: int) -> dict[str, Any]:
    from dataclasses import replace

    import qa.index
    from qa.index import BuildReport, IndexStore
    from qa.manifest import DocumentEntry, DocumentRecord, Header, checkpoint_shards
    from qa.models import Document
    from qa.planning import SyncPlan
    from qa.store import EmbeddedStore

    class MeasuredStore(EmbeddedStore):
        """Times every call an update makes and counts the manifest payload it writes."""

        def __init__(self, index_dir: Path) -> None:
            super().__init__(index_dir)
            self.clear()

        def clear(self) -> None:
            self.seconds: dict[str, float] = {}
            self.bytes = 0
            self.records = 0

        def _timed(self, name: str, started: float) -> None:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        def write_records(self, generation: str, records: Sequence[DocumentRecord]) -> None:
            started = time.perf_counter()
            super().write_records(generation, records)
            self._timed("write_records", started)
            self.records += len(records)
            self.bytes += payload(
                [r.entry.to_json() if r.entry else "removed" for r in records],
                [{"source": r.source, "version": r.version} for r in records],
            )

        def write_checkpoint(self, generation: str, version: int, shards: Sequence[str]) -> None:
            started = time.perf_counter()
            super().write_checkpoint(generation, version, shards)
            self._timed("write_checkpoint", started)
            self.records += len(shards)
            self.bytes += payload(shards, [{"checkpoint": version, "shard": i} for i in range(len(shards))])

        def write_header(self, generation: str, header: Header) -> None:
            started = time.perf_counter()
            super().write_header(generation, header)
            self._timed("write_header", started)
            self.records += 1
            meta = {"version": header.version, "dirty": header.dirty, "checkpoint": header.checkpoint}
            self.bytes += payload([header.to_json()], [meta])

        def read_records(self, *args: Any, **kwargs: Any) -> list[DocumentRecord]:
            started = time.perf_counter()
            try:
                return super().read_records(*args, **kwargs)
            finally:
                self._timed("read_records", started)

        def delete_records(self, generation: str, ids: Sequence[str]) -> None:
            started = time.perf_counter()
            super().delete_records(generation, ids)
            self._timed("delete_records", started)

        def write_chunks(self, *args: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            super().write_chunks(*args, **kwargs)
            self._timed("write_chunks", started)

        def delete_chunks_except(self, *args: Any, **kwargs: Any) -> int:
            started = time.perf_counter()
            try:
                return super().delete_chunks_except(*args, **kwargs)
            finally:
                self._timed("delete_chunks_except", started)

    def manifest_write_seconds(parts: dict[str, float]) -> float:
        return sum(parts.get(k, 0.0) for k in ("write_records", "write_checkpoint", "write_header"))

    index_dir = root / "index"
    storage = MeasuredStore(index_dir)
    store = IndexStore(index_dir, ConstantEncoder(), chunk_size=700, chunk_overlap=1, storage=storage)
    generation = storage.new_generation()
    started = time.perf_counter()  # what a full build writes for its manifest
    entries = synthetic_entries(n)
    shards = checkpoint_shards(entries, qa.index.CHECKPOINT_SHARD)
    storage.write_checkpoint(generation, 1, shards)
    storage.write_header(generation, store._header(1, None, 1, len(shards), dirty=False, documents=entries))
    storage.switch(generation)
    full_build = {"seconds": round(time.perf_counter() - started, 3), "bytes_written": storage.bytes}
    limit = max(qa.index.MIN_RECORDS, n // qa.index.RECORDS_SHARE)

    def timed_read() -> float:
        started = time.perf_counter()
        assert store.manifest() is not None
        return time.perf_counter() - started

    timed_read()  # a first read opens the client; not what is measured
    reads = [timed_read() for _ in range(repeat)]
    updates, written, records, parts = [], [], [], []
    for r in range(repeat):
        old = store.manifest()
        assert old is not None and len(old.documents) == n + r
        text = f"Note {r}: the harbour master repaired the tide clock."
        doc = Document(f"incoming/new-{r}.txt", text, hashlib.sha256(text.encode()).hexdigest(), len(text))
        plan = SyncPlan(kept=dict(old.documents), fresh=[doc], added=[doc.source])
        storage.clear()
        started = time.perf_counter()
        store._update_in_place(generation, old, r, plan, BuildReport(), None, recovering=False)
        updates.append(time.perf_counter() - started)
        written.append(storage.bytes)
        records.append(storage.records)
        parts.append(dict(storage.seconds))
    header = storage.read_header(generation)
    assert header is not None and header.checkpoint == 1  # no fold yet: `limit` is far off

    # Just before a fold: as many records beside the checkpoint as there ever are.
    entry = DocumentEntry("0" * 64, 10, 1, (), WHEN, WHEN)
    version = header.version + 1
    storage.write_records(
        generation, [DocumentRecord(f"extra/{i:06d}.txt", version, entry) for i in range(limit - repeat)]
    )
    header = replace(header, version=version)
    storage.write_header(generation, header)
    reads_full = [timed_read() for _ in range(repeat)]

    manifest = store.manifest()
    assert manifest is not None and len(manifest.documents) == n + limit
    storage.clear()
    started = time.perf_counter()
    folded = store._fold(generation, header, dict(manifest.documents))
    fold_seconds = time.perf_counter() - started
    fold_bytes = storage.bytes
    assert storage.read_records(generation) == [] and folded.checkpoint == manifest.version

    names = sorted({k for p in parts for k in p})
    write_seconds = median([manifest_write_seconds(p) for p in parts])
    bytes_written = statistics.median(written)
    return {
        "full_build_manifest": full_build,
        "manifest_read_seconds": median(reads),
        "manifest_read_seconds_before_fold": median(reads_full),
        "update_seconds": median(updates),
        "update_parts_seconds": {k: median([p.get(k, 0.0) for p in parts]) for k in names},
        "manifest_write_seconds": write_seconds,
        "bytes_written": int(bytes_written),
        "records_written": int(statistics.median(records)),
        "fold": {
            "records_between_folds": limit,
            "seconds": round(fold_seconds, 3),
            "bytes_written": fold_bytes,
        },
        "amortised_manifest_write_seconds": round(write_seconds + fold_seconds / limit, 4),
        "amortised_bytes_written": int(bytes_written + fold_bytes / limit),
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {"cpu": cpu, "cpus": os.cpu_count(), "commit": commit}


def run(sizes: Sequence[int], repeat: int, root: Path) -> dict[str, Any]:
    load_start = os.getloadavg()
    results = []
    for n in sizes:
        log.info("%d documents: before (one record)", n)
        old = before(n, root / f"before-{n}", repeat)
        log.info("%d documents: after (per-document records)", n)
        new = after(n, root / f"after-{n}", repeat)
        results.append(
            {
                "documents": n,
                "chunks_listed": n * CHUNKS_PER_DOCUMENT,
                "before": old,
                "after": new,
                "write_ratio_before_over_after": round(
                    old["manifest_write_seconds"] / new["amortised_manifest_write_seconds"], 1
                ),
                "bytes_ratio_before_over_after": round(
                    old["bytes_written"] / new["amortised_bytes_written"], 1
                ),
            }
        )
        log.info(
            "%d documents: write %.4fs / %d B before", n, old["manifest_write_seconds"], old["bytes_written"]
        )
        log.info(
            "%d documents: write %.4fs / %d B after (with folds: %.4fs / %d B)",
            n, new["manifest_write_seconds"], new["bytes_written"],
            new["amortised_manifest_write_seconds"], new["amortised_bytes_written"],
        )  # fmt: skip
        shutil.rmtree(root / f"before-{n}", ignore_errors=True)
        shutil.rmtree(root / f"after-{n}", ignore_errors=True)
    return {
        "benchmark": "manifest_writes",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **machine(),
        "load_average": {
            "start": [round(x, 2) for x in load_start],
            "end": [round(x, 2) for x in os.getloadavg()],
        },
        "repeat": repeat,
        "synthetic": f"N made-up document entries of {CHUNKS_PER_DOCUMENT} chunks each; no files, chunks or "
        "vectors behind them",
        "sizes": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="documents listed")
    parser.add_argument("--repeat", type=int, default=5, help="documents added per size (median reported)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    quiet_logging()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.sizes, args.repeat, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="qa-manifest-writes-") as tmp:
            result = run(args.sizes, args.repeat, Path(tmp))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
