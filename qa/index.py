"""Build, update and open the index. Everything it needs lives in Chroma, so a Chroma server
serves every client the same index: the chunk texts (with source, offsets and page as metadata)
in one collection, and the manifest as a single record in another.

Embedded (default): `index/CURRENT` names the live generation folder `index/gen-*/`, a Chroma
persistent store. With `QA_CHROMA_URL`, generations are collection-name suffixes on the server,
and a pointer record on the server names the live one.

How updates stay safe:

- A full rebuild writes a new generation and switches the pointer only when it is complete.
- An incremental update (new, changed or removed documents) works in place, in three steps:
  upsert the new chunks; commit the manifest (one record: the commit point); delete the chunks it
  no longer lists. Readers only ever use chunks that the committed manifest lists (by source and
  content hash), so a crash at any step leaves the previous state answering, and the next build
  deletes the leftovers. Nothing is copied, so adding one document costs what indexing it costs.
- One writer at a time: a file lock in the index folder. Readers take no lock; they notice a new
  manifest version (one small read per question) and reopen.
"""

from __future__ import annotations

import bisect
import itertools
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
from .embeddings import EmbeddingModel
from .errors import CorpusError, IndexBusyError, IndexMismatchError, QAError
from .files import file_sha256
from .keyword_index import KeywordIndex
from .loaders import Skipped, list_corpus, load_file, size_limit_reason, source_name
from .models import Chunk, Document, JSONObject

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 3  # 3: chunk ids include the document version
PREFIX = "qa"
MANIFEST_ID = "manifest"
POINTER_ID = "current"
WRITE_BATCH = 256
READ_BATCH = 5000

Progress = Callable[[str, int, int], None]  # (stage "read" | "embed", done, total)


@dataclass
class BuildReport:
    """What a build did. `skipped` files were not indexed; `duplicates` repeat another file's content."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)  # source -> the source indexed instead
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    generation: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> JSONObject:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": len(self.unchanged),
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "duplicates": self.duplicates,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "generation": self.generation,
        }


@dataclass(frozen=True)
class Snapshot:
    """One opened, immutable state of the index (a generation at a manifest version)."""

    generation: str
    version: int
    manifest: dict[str, Any]
    chunks: list[Chunk]  # sorted by (source, start)
    vectorstore: Any  # langchain_chroma.Chroma over the chunks collection
    keyword: KeywordIndex
    strays: bool = False  # the collection holds chunks the manifest does not list (a killed build's)
    positions: dict[str, int] = field(default_factory=dict)  # chunk id -> index in `chunks`

    def pages(self, source: str) -> list[list[int]]:
        return self.manifest["documents"].get(source, {}).get("pages", [])

    def text(self, source: str, start: int, end: int) -> str | None:
        """The document's text in [start, end) as the indexed chunks hold it, cut short where the
        document ends; a gap between chunks reads as spaces. None when no chunk covers the range.
        Lets a caller show a citation's surroundings from the very version it was cited from."""
        first = bisect.bisect_left(self.chunks, (source, 0), key=lambda c: (c.source, c.start))
        buffer: list[str | None] = [None] * max(0, end - start)
        for chunk in itertools.islice(self.chunks, first, None):
            if chunk.source != source or chunk.start >= end:
                break
            lo, hi = max(chunk.start, start), min(chunk.end, end)
            if lo < hi:
                buffer[lo - start : hi - start] = chunk.text[lo - chunk.start : hi - chunk.start]
        covered = [i for i, ch in enumerate(buffer) if ch is not None]
        if not covered:
            return None
        return "".join(" " if ch is None else ch for ch in buffer[: covered[-1] + 1])

    def where(self, sources: list[str] | None = None) -> dict[str, Any] | None:
        """The Chroma filter for a dense search: the named sources, and only committed versions
        when strays are present (so they cannot crowd committed chunks out of the top k)."""
        clauses: list[dict[str, Any]] = []
        if sources:
            clauses.append({"source": {"$in": list(sources)}})
        if self.strays:
            hashes = sorted({d["sha256"] for d in self.manifest["documents"].values()})
            clauses.append({"sha256": {"$in": hashes}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


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
    """The index: one writer at a time (file lock), any number of readers."""

    def __init__(
        self,
        index_dir: Path,
        embeddings: EmbeddingModel,
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
        self._clients: dict[str, Any] = {}

    # ---- where things live -------------------------------------------------------------------

    def _client(self, generation: str, fresh: bool = False) -> Any:
        """A Chroma client for a generation. `fresh` drops Chroma's per-process cache so that what
        other processes wrote since is seen (an embedded client otherwise keeps its old vectors)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        key = "server" if self.chroma_url else generation
        if not fresh and key in self._clients:
            return self._clients[key]
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.chroma_url:
            from urllib.parse import urlparse

            url = urlparse(self.chroma_url)
            try:
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
            except Exception as exc:
                raise QAError(
                    f"cannot reach the Chroma server at {self.chroma_url} ({type(exc).__name__}); "
                    "start it with `chroma run` or unset QA_CHROMA_URL"
                ) from exc
        else:
            if fresh:
                from chromadb.api.shared_system_client import SharedSystemClient

                SharedSystemClient.clear_system_cache()  # clients already handed out keep working
            client = chromadb.PersistentClient(
                path=str(self.index_dir / generation / "chroma"), settings=chroma_settings
            )
        self._clients[key] = client
        return client

    def _name(self, generation: str, kind: str) -> str:
        # Embedded, each generation has its own folder; on a server, its own collection names.
        return f"{PREFIX}-{kind}-{generation}" if self.chroma_url else f"{PREFIX}-{kind}"

    def _chunks_collection(self, generation: str) -> Any:
        return self._client(generation).get_or_create_collection(
            self._name(generation, "chunks"), metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def _manifest_collection(self, generation: str) -> Any:
        return self._client(generation).get_or_create_collection(
            self._name(generation, "manifest"), embedding_function=None
        )

    def current_generation(self) -> str | None:
        """The live generation: `index/CURRENT` embedded, a pointer record on a server."""
        if self.chroma_url:
            pointer = self._client("").get_or_create_collection(f"{PREFIX}-pointer", embedding_function=None)
            got = pointer.get(ids=[POINTER_ID], include=["documents"])
            return got["documents"][0] if got["ids"] else None
        try:
            name = (self.index_dir / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name if name and (self.index_dir / name / "chroma").is_dir() else None

    def _switch(self, generation: str) -> None:
        """Make `generation` the live one: the last step of a full rebuild, all or nothing."""
        if self.chroma_url:
            pointer = self._client("").get_or_create_collection(f"{PREFIX}-pointer", embedding_function=None)
            pointer.upsert(ids=[POINTER_ID], documents=[generation], embeddings=[[0.0]])
        else:
            _write_atomic(self.index_dir / "CURRENT", generation + "\n")

    # ---- the manifest ------------------------------------------------------------------------

    def _read_manifest(self, generation: str) -> dict[str, Any] | None:
        # Record reads go to Chroma's SQLite store, which sees other processes' commits at once.
        got = self._manifest_collection(generation).get(ids=[MANIFEST_ID], include=["documents"])
        return json.loads(got["documents"][0]) if got["ids"] else None

    def _version(self, generation: str) -> int:
        got = self._manifest_collection(generation).get(ids=[MANIFEST_ID], include=["metadatas"])
        return int(got["metadatas"][0]["version"]) if got["ids"] else -1

    def _commit(self, generation: str, manifest: dict[str, Any]) -> None:
        """Write the manifest record: the single atomic step that makes an update visible."""
        self._manifest_collection(generation).upsert(
            ids=[MANIFEST_ID],
            documents=[json.dumps(manifest, ensure_ascii=False)],
            metadatas=[{"version": manifest["version"], "dirty": bool(manifest.get("dirty"))}],
            embeddings=[[0.0]],
        )

    def manifest(self) -> dict[str, Any] | None:
        generation = self.current_generation()
        return self._read_manifest(generation) if generation else None

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

    def open(self) -> Snapshot:
        """The live index, reopened only when another generation or manifest version is committed."""
        generation = self.current_generation()
        if generation is None:
            raise CorpusError(f"no index in {self.index_dir}; build it with `qa index build`")
        with self._open_lock:
            snapshot = self._snapshot
            current = snapshot is not None and snapshot.generation == generation
            if current and snapshot is not None and self._version(generation) == snapshot.version:
                return snapshot
            self._client(generation, fresh=True)  # vectors written by other processes since
            manifest = self._read_manifest(generation)
            if manifest is None:
                raise CorpusError(f"the index in {self.index_dir} is incomplete; run `qa index build --full`")
            self.check_compatible(manifest)
            chunks = self._committed_chunks(generation, manifest)
            from langchain_chroma import Chroma

            vectorstore = Chroma(
                collection_name=self._name(generation, "chunks"),
                embedding_function=self.embeddings,
                client=self._client(generation),
                collection_metadata={"hnsw:space": "cosine"},
            )
            strays = self._chunks_collection(generation).count() != len(chunks)
            snapshot = Snapshot(
                generation,
                manifest["version"],
                manifest,
                chunks,
                vectorstore,
                KeywordIndex(chunks),
                strays,
                {c.id: i for i, c in enumerate(chunks)},
            )
            log.info("opened index %s v%d (%d chunks)", generation, snapshot.version, len(chunks))
            self._snapshot = snapshot
            return snapshot

    def _committed_chunks(self, generation: str, manifest: dict[str, Any]) -> list[Chunk]:
        """The chunks the manifest lists, read back from Chroma; leftovers of a crash are ignored."""
        wanted = {source: doc["sha256"] for source, doc in manifest["documents"].items()}
        collection = self._chunks_collection(generation)
        chunks: list[Chunk] = []
        offset = 0
        while True:
            got = collection.get(include=["documents", "metadatas"], limit=READ_BATCH, offset=offset)
            for chunk_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                if wanted.get(meta["source"]) == meta["sha256"]:
                    page = meta.get("page")
                    chunks.append(Chunk(chunk_id, meta["source"], meta["start"], meta["end"], text, page))
            if len(got["ids"]) < READ_BATCH:
                break
            offset += READ_BATCH
        chunks.sort(key=lambda c: (c.source, c.start))
        return chunks

    # ---- writing ---------------------------------------------------------------------------

    def lock(self, timeout: float) -> FileLock:
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
        generation = self.current_generation()
        if generation:  # a writer must start from what is on disk, not from a stale in-memory index
            self._client(generation, fresh=True)
        old = self._read_manifest(generation) if generation else None
        if old is not None and not full:
            self.check_compatible(old)
        previous: dict[str, Any] = old["documents"] if old else {}  # for reporting and dates
        reusable = previous if not full else {}  # what may stay without embedding again

        digests: dict[str, tuple[Path, str]] = {}
        for done, path in enumerate(files, start=1):
            source = source_name(path, corpus_dir)
            if progress:
                progress("read", done, len(files))
            try:
                size = path.stat().st_size
                if size > max_bytes:
                    raise ValueError(size_limit_reason(size, max_bytes))
                digests[source] = (path, file_sha256(path.read_bytes()))
            except (ValueError, OSError) as exc:
                report.skipped.append(Skipped(source, str(exc)))

        # The same content under two names is indexed once: under the name already indexed, else the
        # first name; the other is reported as a duplicate (indexed again if the first goes away).
        owner: dict[str, str] = {}
        for source in sorted(digests, key=lambda s: (s not in reusable, s)):
            owner.setdefault(digests[source][1], source)

        kept: dict[str, dict[str, Any]] = {}
        fresh: list[Document] = []
        for source, (path, digest) in digests.items():
            if owner[digest] != source:
                report.duplicates[source] = owner[digest]
            elif source in reusable and reusable[source]["sha256"] == digest:
                kept[source] = reusable[source]
                report.unchanged.append(source)
            else:
                try:
                    fresh.append(load_file(path, corpus_dir, max_bytes))
                except (ValueError, OSError) as exc:
                    report.skipped.append(Skipped(source, str(exc)))
        for item in report.skipped:
            if item.source in reusable and item.source not in kept:  # keep the last good version
                kept[item.source] = reusable[item.source]
                report.unchanged.append(item.source)
        for item in report.skipped:
            log.warning("skipped %s: %s", item.source, item.reason)
        for duplicate, original in report.duplicates.items():
            log.warning("not indexing %s: same content as %s", duplicate, original)

        indexed = set(kept) | {d.source for d in fresh}
        report.removed = sorted(s for s in previous if s not in indexed)
        for doc in fresh:
            (report.updated if doc.source in previous else report.added).append(doc.source)
        if not indexed:
            raise CorpusError(
                f"corpus folder {corpus_dir} has no usable documents; add some and build again"
                + ("; the existing index was left as it was" if generation else "")
            )
        if old is not None and not full and not report.changed and not old.get("dirty"):
            listed = sum(d["chunks"] for d in previous.values())
            if generation and self._chunks_collection(generation).count() != listed:
                old = {**old, "dirty": True}  # chunks a killed build stored: clean them up below
        if old is not None and not full and not report.changed and not old.get("dirty"):
            report.generation = generation
            report.chunks = sum(d["chunks"] for d in previous.values())
            report.seconds = time.perf_counter() - started
            log.info("index is up to date (%d documents)", len(kept))
            return report

        if full or generation is None or old is None:
            report.generation = self._full_build(fresh, previous, report, progress)
        else:
            self._update_in_place(generation, old, kept, fresh, report, progress)
            report.generation = generation
        report.seconds = time.perf_counter() - started
        log.info(
            "index built: %d added, %d updated, %d removed, %d unchanged, %d chunks (%d embedded) in %.1fs",
            len(report.added), len(report.updated), len(report.removed), len(report.unchanged),
            report.chunks, report.embedded, report.seconds,
        )  # fmt: skip
        return report

    def _manifest(
        self, version: int, documents: dict[str, dict[str, Any]], built_at: str | None = None
    ) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            **self.expected_settings(),
            "version": version,
            "built_at": built_at or _now(),
            "updated_at": _now(),
            "documents": dict(sorted(documents.items())),
        }

    def _embed_and_store(
        self, collection: Any, documents: list[Document], report: BuildReport, progress: Progress | None
    ) -> dict[str, int]:
        """Chunk, embed and upsert documents; returns the chunk count per source."""
        per_document = [(d, chunk_document(d, self.chunk_size, self.chunk_overlap)) for d in documents]
        total = sum(len(chunks) for _, chunks in per_document)
        pending: list[tuple[Chunk, str]] = [(c, d.sha256) for d, chunks in per_document for c in chunks]
        for i in range(0, len(pending), WRITE_BATCH):
            batch = pending[i : i + WRITE_BATCH]
            vectors = self.embeddings.encode([c.text for c, _ in batch])
            collection.upsert(
                ids=[c.id for c, _ in batch],
                embeddings=vectors,
                documents=[c.text for c, _ in batch],
                metadatas=[_metadata(c, sha) for c, sha in batch],
            )
            report.embedded += len(batch)
            if progress:
                progress("embed", report.embedded, total)
        return {d.source: len(chunks) for d, chunks in per_document}

    @staticmethod
    def _document_entry(doc: Document, chunks: int, previous: dict[str, Any], now: str) -> dict[str, Any]:
        return {
            "sha256": doc.sha256,
            "bytes": doc.size,
            "chunks": chunks,
            "pages": [list(p) for p in doc.pages],
            "added": previous.get(doc.source, {}).get("added", now),
            "updated": now,
        }

    def _full_build(
        self,
        documents: list[Document],
        previous: dict[str, Any],
        report: BuildReport,
        progress: Progress | None,
    ) -> str:
        """Write every document into a new generation, then switch to it."""
        generation = f"gen-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        old_generation = self.current_generation()
        try:
            counts = self._embed_and_store(self._chunks_collection(generation), documents, report, progress)
            now = _now()
            entries = {d.source: self._document_entry(d, counts[d.source], previous, now) for d in documents}
            self._commit(generation, self._manifest(1, entries))
        except BaseException:
            self._drop(generation)
            raise
        self._switch(generation)
        report.chunks = sum(counts.values())
        self._prune(keep={generation, old_generation})
        return generation

    def _update_in_place(
        self,
        generation: str,
        old: dict[str, Any],
        kept: dict[str, dict[str, Any]],
        fresh: list[Document],
        report: BuildReport,
        progress: Progress | None,
    ) -> None:
        """Add and replace documents in the live generation without copying the rest."""
        collection = self._chunks_collection(generation)
        if old.get("dirty"):  # an earlier update stopped between its commit and its clean-up
            self._reconcile(collection, old["documents"])
        counts = self._embed_and_store(collection, fresh, report, progress)
        now = _now()
        documents = {
            **kept,
            **{d.source: self._document_entry(d, counts[d.source], old["documents"], now) for d in fresh},
        }
        manifest = self._manifest(old["version"] + 1, documents, built_at=old.get("built_at"))
        self._commit(generation, {**manifest, "dirty": True})  # the commit point
        touched = [d.source for d in fresh] + report.removed
        self._reconcile(collection, documents, touched)
        self._commit(generation, manifest)
        report.chunks = sum(d["chunks"] for d in documents.values())

    @staticmethod
    def _reconcile(
        collection: Any, documents: dict[str, dict[str, Any]], sources: list[str] | None = None
    ) -> None:
        """Delete stored chunks the manifest does not list (replaced, removed, or left by a crash),
        looking only at the named `sources` when given."""
        stale: list[str] = []
        offset = 0
        where = {"source": {"$in": sources}} if sources else None
        if sources is not None and not sources:
            return
        while True:
            got = collection.get(where=where, include=["metadatas"], limit=READ_BATCH, offset=offset)
            for chunk_id, meta in zip(got["ids"], got["metadatas"], strict=True):
                doc = documents.get(meta["source"])
                if doc is None or doc["sha256"] != meta["sha256"]:
                    stale.append(chunk_id)
            if len(got["ids"]) < READ_BATCH:
                break
            offset += READ_BATCH
        for i in range(0, len(stale), READ_BATCH):
            collection.delete(ids=stale[i : i + READ_BATCH])
        if stale:
            log.info("deleted %d chunks no longer in the manifest", len(stale))

    def _drop(self, generation: str) -> None:
        """Remove a generation that is not (or no longer) live."""
        if self.chroma_url:
            client = self._client("")
            for kind in ("chunks", "manifest"):
                try:
                    client.delete_collection(self._name(generation, kind))
                except Exception:  # it may never have been created
                    log.debug("no %s collection for %s", kind, generation)
        else:
            self._clients.pop(generation, None)
            shutil.rmtree(self.index_dir / generation, ignore_errors=True)

    def _prune(self, keep: set[str | None]) -> None:
        """Drop generations other than the live one and its predecessor (readers may hold it)."""
        if self.chroma_url:
            names = {c.name if hasattr(c, "name") else str(c) for c in self._client("").list_collections()}
            generations = {n.split("-", 2)[2] for n in names if n.startswith(f"{PREFIX}-chunks-")}
        else:
            generations = {p.name for p in self.index_dir.glob("gen-*") if p.is_dir()}
        for generation in generations - {g for g in keep if g}:
            self._drop(generation)


def _metadata(chunk: Chunk, sha256: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"source": chunk.source, "start": chunk.start, "end": chunk.end, "sha256": sha256}
    if chunk.page is not None:
        meta["page"] = chunk.page
    return meta
