"""Build, update and open the index: a Chroma collection, the chunk texts and a manifest.

Layout of the index folder (embedded mode):

    index/CURRENT              name of the live generation (switched atomically, last)
    index/.lock                held by the one process that writes
    index/gen-*/chroma/        the Chroma persistent store (cosine distance)
    index/gen-*/chunks.jsonl   every chunk with its offsets: the source of the keyword index
    index/gen-*/manifest.json  embedding model, chunking settings, documents and their hashes

Every build writes a new generation beside the live one and switches `CURRENT` only when it is
complete, so a crash or a bad file never leaves a half-built index behind, and readers (also in
other processes) keep answering from the old generation until they see the new pointer. Chroma
caches one client per path inside a process, so a fresh path per generation also means fresh data.
Unchanged documents are not embedded again: their vectors are copied from the previous generation.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from .chunking import CHUNKING_VERSION, chunk_document
from .embeddings import PackagedMiniLM
from .errors import CorpusError, IndexBusyError, IndexMismatchError
from .keyword_index import KeywordIndex
from .loaders import Skipped, file_sha256, list_corpus, load_file, source_name
from .models import Chunk, Document

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
COLLECTION = "qa-chunks"
KEEP_GENERATIONS = 2  # the live one and the one before it, which a reader may still hold open
WRITE_BATCH = 256

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class BuildReport:
    """What a build did. `skipped` files were not indexed; everything else was."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    generation: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": len(self.unchanged),
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "chunks": self.chunks,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "generation": self.generation,
        }


@dataclass(frozen=True)
class Snapshot:
    """One opened, immutable generation of the index: what retrieval reads."""

    generation: str
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectorstore: Any  # langchain_chroma.Chroma over this generation's collection
    keyword: KeywordIndex

    def chunk_by_id(self) -> dict[str, int]:
        return {c.id: i for i, c in enumerate(self.chunks)}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see either the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class IndexStore:
    """The index folder: one writer at a time (file lock), any number of readers."""

    def __init__(
        self,
        index_dir: Path,
        embeddings: PackagedMiniLM,
        chunk_size: int,
        chunk_overlap: int,
        chroma_url: str | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.embeddings = embeddings
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.chroma_url = chroma_url
        self._snapshot: Snapshot | None = None
        self._open_lock = threading.Lock()

    # ---- what is on disk -------------------------------------------------------------------

    def current_generation(self) -> str | None:
        try:
            name = (self.index_dir / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name if name and (self.index_dir / name / "manifest.json").exists() else None

    def exists(self) -> bool:
        return self.current_generation() is not None

    def manifest(self) -> dict[str, Any] | None:
        generation = self.current_generation()
        if generation is None:
            return None
        return json.loads((self.index_dir / generation / "manifest.json").read_text(encoding="utf-8"))

    def expected_settings(self) -> dict[str, Any]:
        """What the manifest must record for this code and these settings to use the index."""
        return {
            "embedding_model": self.embeddings.name,
            "embedding_dim": self.embeddings.dimension,
            "embedding_backend": self.embeddings.backend,
            "chunking": {"size": self.chunk_size, "overlap": self.chunk_overlap, "version": CHUNKING_VERSION},
        }

    def check_compatible(self, manifest: dict[str, Any]) -> None:
        """Refuse an index built with another model or other chunking: its vectors would not match."""
        expected = self.expected_settings()
        found = {key: manifest.get(key) for key in expected}
        if manifest.get("format") != MANIFEST_FORMAT or found != expected:
            differs = ", ".join(
                f"{k}={found[k]!r} (now {expected[k]!r})" for k in expected if found[k] != expected[k]
            )
            raise IndexMismatchError(
                f"the index in {self.index_dir} was built with other settings ({differs or 'older format'}); "
                "rebuild it with `qa index build --full`"
            )

    # ---- reading ---------------------------------------------------------------------------

    def _client(self, generation_dir: Path) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.chroma_url:
            from urllib.parse import urlparse

            url = urlparse(self.chroma_url)
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        return chromadb.PersistentClient(path=str(generation_dir / "chroma"), settings=chroma_settings)

    def _collection_name(self, generation: str) -> str:
        # On a shared server every generation is its own collection; embedded, each has its own folder.
        return f"{COLLECTION}-{generation}" if self.chroma_url else COLLECTION

    def _vectorstore(self, generation: str, create: bool = False) -> Any:
        """LangChain's Chroma vector store over one generation's collection (cosine distance)."""
        from langchain_chroma import Chroma

        return Chroma(
            collection_name=self._collection_name(generation),
            embedding_function=self.embeddings,
            client=self._client(self.index_dir / generation),
            collection_metadata={"hnsw:space": "cosine"},
            create_collection_if_not_exists=create,
        )

    def _collection(self, generation: str) -> Any:
        """The raw Chroma collection, for copying stored vectors between generations."""
        client = self._client(self.index_dir / generation)
        return client.get_collection(self._collection_name(generation), embedding_function=None)

    def open(self) -> Snapshot:
        """The live generation, opened once and reused until `CURRENT` points elsewhere."""
        generation = self.current_generation()
        if generation is None:
            raise CorpusError(f"no index in {self.index_dir}; build it with `qa index build`")
        with self._open_lock:
            if self._snapshot is not None and self._snapshot.generation == generation:
                return self._snapshot
            gen_dir = self.index_dir / generation
            manifest = json.loads((gen_dir / "manifest.json").read_text(encoding="utf-8"))
            self.check_compatible(manifest)
            chunks = _read_chunks(gen_dir / "chunks.jsonl")
            snapshot = Snapshot(
                generation, manifest, chunks, self._vectorstore(generation), KeywordIndex(chunks)
            )
            log.info("opened index generation %s (%d chunks)", generation, len(chunks))
            self._snapshot = snapshot
            return snapshot

    # ---- writing ---------------------------------------------------------------------------

    def lock(self, timeout: float = 600.0) -> FileLock:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.index_dir / ".lock"), timeout=timeout)

    def build(
        self,
        corpus_dir: Path,
        max_bytes: int,
        full: bool = False,
        progress: Progress | None = None,
        lock_timeout: float = 600.0,
    ) -> BuildReport:
        """Bring the index in line with the corpus folder. Only new or changed documents are embedded
        (all of them with `full=True`); an unchanged corpus is a no-op that never loads the model."""
        try:
            with self.lock(lock_timeout):
                return self._build_locked(Path(corpus_dir), max_bytes, full, progress)
        except Timeout as exc:
            raise IndexBusyError(
                f"another process has been writing the index in {self.index_dir} for {lock_timeout:.0f}s; "
                "wait for it to finish, then try again"
            ) from exc

    def _build_locked(
        self, corpus_dir: Path, max_bytes: int, full: bool, progress: Progress | None
    ) -> BuildReport:
        started = time.perf_counter()
        report = BuildReport()
        files, report.skipped = list_corpus(corpus_dir)
        old_generation = self.current_generation()
        old = self.manifest() if old_generation else None
        if old is not None and not full:
            self.check_compatible(old)
        previous: dict[str, Any] = old["documents"] if old else {}  # for reporting and dates
        old_docs = previous if not full else {}  # what may be reused without embedding again

        kept: dict[str, dict[str, Any]] = {}
        fresh: list[Document] = []
        for path in files:
            source = source_name(path, corpus_dir)
            try:
                size = path.stat().st_size
                if size > max_bytes:
                    raise ValueError(
                        f"is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit (QA_MAX_FILE_MB)"
                    )
                digest = file_sha256(path.read_bytes())
                if source in old_docs and old_docs[source]["sha256"] == digest:
                    kept[source] = old_docs[source]
                    report.unchanged.append(source)
                    continue
                fresh.append(load_file(path, corpus_dir, max_bytes))
            except (ValueError, OSError) as exc:
                report.skipped.append(Skipped(source, str(exc)))
                if source in old_docs:  # keep the last good version rather than lose it
                    kept[source] = old_docs[source]
                    report.unchanged.append(source)
        for item in report.skipped:
            log.warning("skipped %s: %s", item.source, item.reason)

        present = {source_name(p, corpus_dir) for p in files}
        report.removed = sorted(s for s in previous if s not in present)
        for doc in fresh:
            (report.updated if doc.source in previous else report.added).append(doc.source)

        if not kept and not fresh:
            raise CorpusError(
                f"corpus folder {corpus_dir} has no usable documents (.txt or .md); add some and build again"
                + ("; the existing index was left as it was" if old_generation else "")
            )
        if not report.changed and not full and old_generation is not None:
            report.generation = old_generation
            report.chunks = int(old["chunks"]) if old else 0
            report.seconds = time.perf_counter() - started
            log.info("index is up to date (%d documents)", len(kept))
            return report

        generation = f"gen-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        gen_dir = self.index_dir / generation
        gen_dir.mkdir(parents=True)
        try:
            chunks = self._write_generation(generation, old_generation, kept, fresh, report, progress)
        except BaseException:
            shutil.rmtree(gen_dir, ignore_errors=True)
            raise

        now = _now()
        documents = {
            **{s: kept[s] for s in kept},
            **{
                d.source: {
                    "sha256": d.sha256,
                    "bytes": d.size,
                    "chunks": sum(1 for c in chunks if c.source == d.source),
                    "added": previous.get(d.source, {}).get("added", now),
                    "updated": now,
                }
                for d in fresh
            },
        }
        manifest = {
            "format": MANIFEST_FORMAT,
            **self.expected_settings(),
            "built_at": now,
            "generation": generation,
            "chunks": len(chunks),
            "documents": dict(sorted(documents.items())),
        }
        _write_atomic(gen_dir / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False))
        _write_atomic(self.index_dir / "CURRENT", generation + "\n")  # the switch: all or nothing
        report.generation = generation
        report.chunks = len(chunks)
        report.seconds = time.perf_counter() - started
        self._prune(keep={generation, old_generation})
        log.info(
            "index built: %d added, %d updated, %d removed, %d unchanged, %d chunks (%d embedded) in %.1fs",
            len(report.added), len(report.updated), len(report.removed), len(report.unchanged),
            report.chunks, report.embedded, report.seconds,
        )  # fmt: skip
        return report

    def _write_generation(
        self,
        generation: str,
        old_generation: str | None,
        kept: dict[str, dict[str, Any]],
        fresh: list[Document],
        report: BuildReport,
        progress: Progress | None,
    ) -> list[Chunk]:
        """Fill a new generation: copy kept documents' chunks and vectors, embed the fresh ones."""
        gen_dir = self.index_dir / generation
        store = self._vectorstore(generation, create=True)
        collection = self._collection(generation)
        chunks: list[Chunk] = []

        if kept and old_generation:
            old_chunks = [
                c for c in _read_chunks(self.index_dir / old_generation / "chunks.jsonl") if c.source in kept
            ]
            old_collection = self._collection(old_generation)
            for batch in _batches(old_chunks, WRITE_BATCH):
                got = old_collection.get(ids=[c.id for c in batch], include=["embeddings"])
                vectors = dict(zip(got["ids"], got["embeddings"], strict=True))
                collection.upsert(
                    ids=[c.id for c in batch],
                    embeddings=[vectors[c.id] for c in batch],
                    documents=[c.text for c in batch],
                    metadatas=[_metadata(c) for c in batch],
                )
            chunks.extend(old_chunks)

        new_chunks = [c for d in fresh for c in chunk_document(d, self.chunk_size, self.chunk_overlap)]
        done = 0
        for batch in _batches(new_chunks, WRITE_BATCH):
            store.add_texts(
                [c.text for c in batch], metadatas=[_metadata(c) for c in batch], ids=[c.id for c in batch]
            )
            done += len(batch)
            report.embedded += len(batch)
            if progress:
                progress("embed", done, len(new_chunks))
        chunks.extend(new_chunks)
        chunks.sort(key=lambda c: (c.source, c.start))

        with open(gen_dir / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for c in chunks:
                fh.write(json.dumps(c.__dict__, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return chunks

    def _prune(self, keep: set[str | None]) -> None:
        """Delete generations other than the live one and its predecessor (readers may hold it)."""
        for path in self.index_dir.glob("gen-*"):
            if path.name not in keep and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                if self.chroma_url:
                    try:
                        self._client(path).delete_collection(self._collection_name(path.name))
                    except Exception:  # the collection may never have been created
                        log.debug("no server collection for %s", path.name)


def _batches(items: list[Chunk], size: int) -> list[list[Chunk]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _metadata(chunk: Chunk) -> dict[str, Any]:
    return {"source": chunk.source, "start": chunk.start, "end": chunk.end}


def _read_chunks(path: Path) -> list[Chunk]:
    with open(path, encoding="utf-8") as fh:
        return [Chunk(**json.loads(line)) for line in fh if line.strip()]
