"""Build, update and open the index. Everything it needs lives in Chroma (qa/store.py says where), so
a Chroma server serves every client the same index: the chunk texts (with source, offsets and page as
metadata) in one collection, and the manifest (qa/manifest.py) as records in another: a header, a
checkpoint of the documents, and one record per document version written since.

How updates stay safe:

- A full rebuild writes a new generation and switches the pointer only when it is complete.
- An incremental update to manifest version N+1 works in place: upsert the new chunks; write the
  records of the new and changed documents, and tombstones for removed ones, tagged N+1 (readers take
  only records at or below the header's version, so these are invisible); upsert the header with
  N+1 (the single commit point); then delete superseded records and the chunks no document lists.
  When the records since the checkpoint outnumber a twentieth of the documents, they are folded into
  a new checkpoint, which a header names before the records are deleted. Readers only use chunks
  that the committed manifest lists (by source and content hash), so a crash at any step leaves the
  previous state answering, and the next build deletes the leftovers. Adding one document writes its
  chunks, its record and the header; the occasional fold rewrites the checkpoint, which averages out
  to a few entries per change.
- One writer at a time: a file lock in the index folder. Readers take no lock; they notice a new
  header version (one small read per question) and reopen.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock, Timeout

from .chunking import CHUNKING_VERSION, chunk_document
from .embeddings import EmbeddingModel
from .errors import CorpusError, IndexBusyError, IndexMismatchError
from .keyword_index import KeywordIndex, KeywordIndexUnusable, Positions
from .loaders import CorpusFile, list_named, scan_corpus
from .manifest import (
    MANIFEST_FORMAT,
    BuildSettings,
    Chunking,
    DocumentEntry,
    DocumentRecord,
    Header,
    Manifest,
    ManifestFormatError,
    checkpoint_documents,
    checkpoint_entry,
    checkpoint_shards,
    documents_digest,
    resolve,
    superseded,
)
from .models import Chunk, Document, JSONObject, Location, locate
from .planning import Changes, FileStamp, Progress, SyncMemo, SyncPlan, corpus_stamp, plan_sync
from .settings import DEFAULT_COLLECTION
from .store import Store, Where, chunks_by_id, chunks_of, open_store

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

WRITE_BATCH = 256
OPEN_ATTEMPTS = 3  # how often a read raced by a commit or a clean-up is tried, at most
SYNC_MEMO = "SYNCED"  # in the index folder: the last whole-corpus sync's memo (qa/planning.py)
CHECKPOINT_SHARD = 5000  # documents per checkpoint record: about 1.2 MB of JSON
MIN_RECORDS = 500  # records since the checkpoint before they are folded into a new one, or
RECORDS_SHARE = 20  # one for every 20 documents listed, whichever is more


class _Raced(Exception):
    """A read found the checkpoint its header named deleted: a fold committed meanwhile."""


@dataclass
class BuildReport(Changes):
    """What a build did. `skipped` files were not indexed; `duplicates` repeat another file's content."""

    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    generation: str | None = None

    def to_dict(self) -> JSONObject:
        """The JSON shape of `qa index build --json` (`qa.schemas.BuildReportJSON`)."""
        from .schemas import BuildReportJSON

        return BuildReportJSON.of(self).to_json()


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One opened, immutable state of the index (a generation at a manifest version). It holds the
    header and the keyword index (memory-mapped), and reads the rest only when asked: chunk texts from
    Chroma, and document entries one at a time. Listing every document costs O(documents) (seconds at a
    million chunks), and answering a question needs only the entries of the documents it cites."""

    generation: str
    version: int
    header: Header
    collection: Collection  # the chunks, in Chroma: for dense search, stored vectors and texts
    keyword: KeywordIndex  # one row per committed chunk, sorted by (source, start)
    strays: bool = False  # the collection holds chunks the manifest does not list (a killed build's)
    read_manifest: Callable[[], Manifest] | None = field(default=None, repr=False)
    # One document's entry: (known, entry); not known when this index cannot look one up alone.
    read_entry: Callable[[str], tuple[bool, DocumentEntry | None]] | None = field(default=None, repr=False)
    _texts: dict[str, list[Chunk]] = field(default_factory=dict, repr=False)  # per source, as fetched
    _entries: dict[str, DocumentEntry | None] = field(default_factory=dict, repr=False)

    @cached_property
    def manifest(self) -> Manifest:
        """Every document listed (read on first use unless open already had it)."""
        if isinstance(self.header, Manifest):
            return self.header
        assert self.read_manifest is not None, "a snapshot of a header alone needs read_manifest"
        return self.read_manifest()

    def entry(self, source: str) -> DocumentEntry | None:
        """One document's entry, None when the index does not list it."""
        if isinstance(self.header, Manifest) or "manifest" in self.__dict__ or self.read_entry is None:
            return self.manifest.documents.get(source)
        if source not in self._entries:
            known, found = self.read_entry(source)
            self._entries[source] = found if known else self.manifest.documents.get(source)
        return self._entries[source]

    @property
    def positions(self) -> Mapping[str, int]:
        """Chunk id -> row of the keyword index; stored chunks the manifest does not list are absent."""
        return Positions(self.keyword)

    @cached_property
    def chunks(self) -> list[Chunk]:
        """Every committed chunk, in row order: reads every text, so O(corpus). Nothing on the way
        from a question to an answer uses it; it is for tests and tools."""
        found = self.collection_chunks([self.keyword.chunk_id(i) for i in self.keyword.live_rows()])
        return [c for c in found if c is not None]

    def collection_chunks(self, ids: Sequence[str]) -> list[Chunk | None]:
        """The chunks with these ids, texts included; None for one deleted since (by a writer that
        committed a newer version after this snapshot was opened)."""
        found = chunks_by_id(self.collection, ids)
        return [found.get(i) for i in ids]

    def rows(self, rows: Sequence[int]) -> list[Chunk | None]:
        """The chunks at these rows of the keyword index, texts included (see `collection_chunks`)."""
        return self.collection_chunks([self.keyword.chunk_id(i) for i in rows])

    def chunks_with(self, words: Sequence[str], limit: int) -> list[Chunk] | None:
        """The committed chunks holding every one of these words (as the keyword index reads them),
        texts included; None when more than `limit` do: too common to be worth reading them all."""
        rows = np.flatnonzero(self._rows_with(words))
        if len(rows) > limit:
            return None
        return [chunk for chunk in self.rows([int(i) for i in rows]) if chunk is not None]

    def sources_with(self, words: Sequence[str], limit: int) -> set[str] | None:
        """The documents holding every one of these words, each anywhere in them; None when a word
        is in more than `limit` chunks."""
        found: set[str] | None = None
        for word in words:
            rows = np.flatnonzero(self._rows_with([word]))
            if len(rows) > limit:
                return None
            sources = {self.keyword.source_of(int(i)) for i in rows}
            found = sources if found is None else found & sources
        return found or set()

    def _rows_with(self, words: Sequence[str]) -> np.ndarray:
        mask = self.keyword.live.copy()
        for word in words:
            mask &= self.keyword.scores(word) > 0
        return mask

    def pages(self, source: str) -> tuple[tuple[int, int], ...]:
        entry = self.entry(source)
        return entry.pages if entry else ()

    def locate(self, source: str, start: int, end: int | None = None) -> Location:
        """The page, page name and OCR flag of a span of an indexed document."""
        entry = self.entry(source)
        if entry is None or not entry.pages:
            return Location()
        return locate(entry.pages, entry.sections, entry.ocr_pages, start, end)

    def document_chunks(self, source: str) -> list[Chunk]:
        """One document's committed chunks, texts included, by start (fetched once per snapshot)."""
        if source not in self._texts:
            entry = self.entry(source)
            self._texts[source] = chunks_of(self.collection, source, entry.sha256) if entry else []
        return self._texts[source]

    def text(self, source: str, start: int, end: int) -> str | None:
        """The document's text in [start, end) as the indexed chunks hold it, cut short where the
        document ends; a gap between chunks reads as spaces. None when no chunk covers the range.
        Lets a caller show a citation's surroundings from the very version it was cited from."""
        buffer: list[str | None] = [None] * max(0, end - start)
        for chunk in self.document_chunks(source):
            if chunk.start >= end:
                break
            lo, hi = max(chunk.start, start), min(chunk.end, end)
            if lo < hi:
                buffer[lo - start : hi - start] = chunk.text[lo - chunk.start : hi - chunk.start]
        covered = [i for i, ch in enumerate(buffer) if ch is not None]
        if not covered:
            return None
        return "".join(" " if ch is None else ch for ch in buffer[: covered[-1] + 1])

    def where(self, sources: list[str] | None = None) -> Where | None:
        """The Chroma filter for a dense search: the named sources, and only committed versions
        when strays are present (so they cannot crowd committed chunks out of the top k)."""
        clauses: list[Where] = []
        if sources:
            clauses.append({"source": {"$in": list(sources)}})
        if self.strays:
            hashes = sorted({d.sha256 for d in self.manifest.documents.values()})  # reads them all
            clauses.append({"sha256": {"$in": hashes}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def nearest(self, vector: np.ndarray, k: int, where: Where | None = None) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the (up to) `k` stored chunks nearest `vector`, best first."""
        got = self.collection.query(
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=k,
            where=where,
            include=["distances"],
        )
        distances = (got["distances"] or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], distances, strict=True)]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the chunks with these ids (missing ids are left out)."""
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        stored = got["embeddings"] if got["embeddings"] is not None else []
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], stored, strict=True)}


def writer_lock(index_dir: Path, timeout: float) -> FileLock:
    """The lock every writer of the index in `index_dir` holds, across threads and processes."""
    index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(index_dir / ".lock"), timeout=timeout)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class IndexStore:
    """The index: one writer at a time (file lock), any number of readers."""

    def __init__(
        self,
        index_dir: Path,
        embeddings: EmbeddingModel,
        chunk_size: int,
        chunk_overlap: int,
        chroma_url: str | None = None,
        storage: Store | None = None,
        ocr: bool = True,
        collection: str = DEFAULT_COLLECTION,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.ocr = ocr  # whether builds recognise images and scanned pages (QA_OCR)
        self.embeddings = embeddings
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.chroma_url = chroma_url
        self.storage = storage or open_store(self.index_dir, chroma_url, collection)
        self._snapshot: Snapshot | None = None
        self._open_lock = threading.Lock()
        # The last checkpoint read or written, parsed, by (generation, version, shards): what most of
        # a manifest read costs, as it lists every document (0.4 s per 15,000).
        self._checkpoint: tuple[tuple[str, int, int], dict[str, DocumentEntry]] | None = None

    # ---- the manifest ------------------------------------------------------------------------

    def current_generation(self) -> str | None:
        return self.storage.current()

    def header(self) -> Header | None:
        """The live index's header (one record): settings and version, without the documents."""
        generation = self.storage.current()
        return self._read_header(generation) if generation else None

    def manifest(self) -> Manifest | None:
        """The live index's committed manifest: its header and every document it lists."""
        generation = self.storage.current()
        return self._read_manifest(generation) if generation else None

    def _read_header(self, generation: str) -> Header | None:
        try:
            return self.storage.read_header(generation)
        except ManifestFormatError as exc:
            raise self._unreadable(exc) from exc

    def _read_manifest(self, generation: str) -> Manifest | None:
        state = self._read_state(generation)
        return state[0] if state else None

    def _read_state(self, generation: str) -> tuple[Manifest, int] | None:
        """The committed manifest, and how many records it was read from besides its checkpoint."""
        for _ in range(OPEN_ATTEMPTS):
            try:
                return self._try_read_state(generation)
            except _Raced:
                log.info("the index changed while it was read; reading it again")
        raise self._incomplete()

    def _incomplete(self) -> CorpusError:
        where = self.storage.describe()
        return CorpusError(f"the index in {where} is incomplete; run `qa index build --full`")

    def _manifest_at(self, generation: str, header: Header) -> Manifest:
        """The documents a snapshot opened at `header` lists. When a writer has since folded the
        checkpoint that header names away, the committed manifest is read instead: a snapshot lives
        for a question, and the next question opens the new version anyway."""
        try:
            return self._state_at(generation, header)[0]
        except _Raced:
            log.info("the index changed since it was opened; reading the committed manifest")
        manifest = self._read_manifest(generation)
        if manifest is None:
            raise self._incomplete()
        return manifest

    def _entry_at(self, generation: str, header: Header, source: str) -> tuple[bool, DocumentEntry | None]:
        """One document's entry at `header`'s version, read alone: its newest record above the
        checkpoint, else the one checkpoint shard whose sorted sources span it. (False, None) when the
        checkpoint is gone or predates the shards' first sources: then only the whole list can say."""
        try:
            records = self.storage.read_records(
                generation, above=header.checkpoint, at_most=header.version, sources=[source]
            )
            if records:
                return True, max(records, key=lambda r: r.version).entry
            if not header.checkpoint:
                return True, None
            starts = self.storage.shard_starts(generation, header.checkpoint, header.checkpoint_shards)
            if starts is None:
                return False, None
            shard = bisect_right(starts, source) - 1
            if shard < 0:
                return True, None
            text = self.storage.read_checkpoint_shard(generation, header.checkpoint, shard)
            if text is None:
                return False, None
            return True, checkpoint_entry(text, source)
        except ManifestFormatError as exc:
            raise self._unreadable(exc) from exc

    def _try_read_state(self, generation: str) -> tuple[Manifest, int] | None:
        header = self._read_header(generation)
        return self._state_at(generation, header) if header is not None else None

    def _state_at(self, generation: str, header: Header) -> tuple[Manifest, int]:
        """The manifest at `header`, and how many records it took besides the checkpoint; raises
        _Raced when the checkpoint it names is gone (a writer folded a new one since)."""
        try:
            checkpoint: dict[str, DocumentEntry] = {}
            key = (generation, header.checkpoint, header.checkpoint_shards)
            if header.checkpoint and self._checkpoint is not None and self._checkpoint[0] == key:
                checkpoint = self._checkpoint[1]  # a checkpoint never changes once a header names it
            elif header.checkpoint:
                shards = self.storage.read_checkpoint(generation, header.checkpoint, header.checkpoint_shards)
                if shards is None:
                    raise _Raced
                checkpoint = checkpoint_documents(shards)
                self._checkpoint = (key, checkpoint)
            records = self.storage.read_records(generation, above=header.checkpoint, at_most=header.version)
        except ManifestFormatError as exc:
            raise self._unreadable(exc) from exc
        documents = resolve(checkpoint, records, header.checkpoint, header.version)
        return Manifest.of(header, documents), len(records)

    def _unreadable(self, exc: ManifestFormatError) -> IndexMismatchError:
        return IndexMismatchError(
            f"this version of qa cannot read the index in {self.storage.describe()} ({exc}); "
            "rebuild it with `qa index build --full`"
        )

    def expected_settings(self) -> BuildSettings:
        """What the manifest must record for this code and these settings to use the index."""
        e = self.embeddings
        chunking = Chunking(self.chunk_size, self.chunk_overlap, CHUNKING_VERSION)
        return BuildSettings(e.name, e.dimension, e.backend, chunking)

    def check_compatible(self, header: Header) -> None:
        """Refuse an index built with another model or other chunking: its vectors would not match."""
        expected, found = self.expected_settings(), header.settings
        if found != expected:
            differs = ", ".join(
                f"{name}={getattr(found, name)!r} (now {getattr(expected, name)!r})"
                for name in expected.__dataclass_fields__
                if getattr(found, name) != getattr(expected, name)
            )
            raise IndexMismatchError(
                f"the index in {self.storage.describe()} was built with other settings ({differs}); "
                "rebuild it with `qa index build --full`"
            )

    def _header(
        self,
        version: int,
        built_at: str | None,
        checkpoint: int,
        shards: int,
        dirty: bool,
        documents: Mapping[str, DocumentEntry],
    ) -> Header:
        """The header of `documents` at `version`."""
        s = self.expected_settings()
        chunks = sum(d.chunks for d in documents.values())
        return Header(
            MANIFEST_FORMAT, s.embedding_model, s.embedding_dim, s.embedding_backend, s.chunking,
            version, built_at or _now(), _now(), checkpoint, shards, dirty,
            documents_digest(s.chunking, documents), chunks,
        )  # fmt: skip

    # ---- reading ---------------------------------------------------------------------------

    def open(self) -> Snapshot:
        """The live index, reopened only when another generation or manifest version is committed.
        Reads the header and memory-maps the saved keyword index it names: neither the document list
        nor any chunk text is read, unless the keyword index of this version is missing or unusable
        (or the header predates `Header.digest`), when the manifest is read and the keyword index
        built once and saved."""
        generation = self.storage.current()
        if generation is None:
            raise CorpusError(f"no index in {self.storage.describe()}; build it with `qa index build`")
        with self._open_lock:
            snapshot = self._snapshot
            if (
                snapshot is not None
                and snapshot.generation == generation
                and self.storage.header_version(generation) == snapshot.version
            ):
                return snapshot
            header, keyword = self._read_committed(generation)
            collection = self.storage.chunks(generation)
            snapshot = Snapshot(
                generation,
                header.version,
                header,
                collection,
                keyword,
                collection.count() != keyword.size,
                read_manifest=partial(self._manifest_at, generation, header),
                read_entry=partial(self._entry_at, generation, header),
            )
            log.info("opened index %s v%d (%d chunks)", generation, snapshot.version, keyword.size)
            self._snapshot = snapshot
            return snapshot

    def _read_committed(self, generation: str) -> tuple[Header, KeywordIndex]:
        """The committed header and its keyword index; or, when that index has to be built, the whole
        manifest (a `Header` too) and the index, read again if a writer commits or finishes a clean-up
        meanwhile (either deletes records or chunks, which can shift the pages being read)."""
        for attempt in range(1, OPEN_ATTEMPTS + 1):
            self.storage.client(generation, fresh=True)  # vectors written by other processes since
            header = self._read_header(generation)
            if header is not None and header.digest:
                self.check_compatible(header)
                saved = self._load_keywords(generation, header, {})
                if saved is not None:
                    return header, saved
            manifest = self._read_manifest(generation)
            if manifest is None:
                raise self._incomplete()
            self.check_compatible(manifest)
            keyword = self._load_keywords(generation, manifest, manifest.documents)
            if keyword is not None:
                return manifest, keyword
            keyword = self._patch_saved_keywords(generation, manifest)
            if keyword is None:
                keyword = KeywordIndex(self.storage.read_chunks(generation, _versions(manifest.documents)))
            stamp = self.storage.header_stamp(generation)
            if attempt == OPEN_ATTEMPTS or stamp == (manifest.version, manifest.dirty, manifest.checkpoint):
                if stamp[0] == manifest.version:  # still what is committed: worth keeping
                    self._save_keywords(generation, manifest, manifest.documents, keyword)
                return manifest, keyword
            log.info("the index changed while it was read; reading it again")
        raise AssertionError("unreachable")

    # ---- the saved keyword index ------------------------------------------------------------

    def _keyword_key(self, generation: str, header: Header, documents: Mapping[str, DocumentEntry]) -> str:
        """What a saved keyword index must have been built from: this generation, this version, and
        exactly these document versions, chunked this way (a killed build may have saved one for the
        same version number with other documents; it never matches). The header names them by their
        digest; one written before it did leaves the digest to be computed from `documents`."""
        digest = header.digest or documents_digest(header.chunking, documents)
        return f"{generation}/v{header.version}-{digest}"

    def _keyword_folder(self, generation: str, key: str) -> Path:
        return self.storage.keyword_dir(generation) / key.rsplit("/", 1)[1]

    def _load_keywords(
        self, generation: str, header: Header, documents: Mapping[str, DocumentEntry]
    ) -> KeywordIndex | None:
        """The saved keyword index of this committed header (and `documents`, its list, needed only
        when the header predates its digest), or None (logged) when there is none or it cannot be
        trusted."""
        key = self._keyword_key(generation, header, documents)
        folder = self._keyword_folder(generation, key)
        try:
            keyword = KeywordIndex.load(folder, key)
        except KeywordIndexUnusable as exc:
            if folder.exists():
                log.warning("the saved keyword index in %s is unusable (%s); rebuilding it", folder, exc)
            else:
                log.info("no saved keyword index for %s; building it from the stored chunks", key)
            return None
        expected = header.chunk_count if header.digest else sum(d.chunks for d in documents.values())
        if keyword.size != expected:
            log.warning("the saved keyword index in %s lists %d chunks, not %d; rebuilding it",
                        folder, keyword.size, expected)  # fmt: skip
            return None
        return keyword

    def _patch_saved_keywords(self, generation: str, manifest: Manifest) -> KeywordIndex | None:
        """The keyword index of `manifest` from the newest one saved for an earlier version of this
        generation, fetching the chunks of only the documents that differ: how a client of a Chroma
        server keeps its cached index current after another machine's incremental build. None when
        there is none, or when more than half the documents differ (then a rebuild reads as much)."""
        folder = self.storage.keyword_dir(generation)
        saved = (
            sorted((p for p in folder.glob("v*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
            if folder.is_dir()
            else []
        )
        if not saved:
            return None
        try:
            older = KeywordIndex.load(saved[-1], None)
            listed = older.saved_versions()
        except KeywordIndexUnusable as exc:
            log.info("cannot patch the keyword index in %s (%s)", saved[-1], exc)
            return None
        current = _versions(manifest.documents)
        changed = [s for s, sha in current.items() if listed.get(s) != sha]
        if not listed or len(changed) > len(current) // 2:
            return None
        collection = self.storage.chunks(generation)
        added = [c for source in changed for c in chunks_of(collection, source, current[source])]
        if len(added) != sum(manifest.documents[s].chunks for s in changed):
            return None  # a writer deleted some meanwhile: the caller reads everything instead
        removed = {s for s, sha in listed.items() if current.get(s) != sha}
        log.info(
            "patching the keyword index of %s: %d documents differ",
            saved[-1].name,
            len(changed) + len(removed - set(changed)),
        )
        return older.patch(removed, added)

    def _save_keywords(
        self, generation: str, header: Header, documents: Mapping[str, DocumentEntry], keyword: KeywordIndex
    ) -> None:
        """Save the keyword index of the manifest `header` + `documents` (a writer saves it before the
        header commits it) and delete those of older versions but the last (a reader may still be
        opening it)."""
        key = self._keyword_key(generation, header, documents)
        folder = self._keyword_folder(generation, key)
        try:
            keyword.save(folder, key, _versions(documents))
        except OSError as exc:  # a reader cannot write there, or a writer dropped the generation
            log.warning(
                "could not save the keyword index to %s (%s); it is rebuilt on the next open", folder, exc
            )
            return
        keep = {folder.name, *self._previous_keywords(generation, folder.name)}
        bases = {KeywordIndex.base_folder_of(folder.parent / name) for name in keep}  # what layers extend
        self.storage.prune_keywords(generation, keep | {b for b in bases if b})

    def _previous_keywords(self, generation: str, newest: str) -> list[str]:
        """The most recently saved keyword index folder other than `newest` (kept one round)."""
        folder = self.storage.keyword_dir(generation)
        saved = [p for p in folder.glob("v*") if p.is_dir() and p.name != newest]
        saved.sort(key=lambda p: p.stat().st_mtime)
        return [p.name for p in saved[-1:]]

    def _keywords_for_update(self, generation: str, old: Manifest) -> KeywordIndex:
        """The keyword index of the committed manifest a writer starts from: saved, or built now."""
        keyword = self._load_keywords(generation, old, old.documents) or self._patch_saved_keywords(
            generation, old
        )
        if keyword is None:
            keyword = KeywordIndex(self.storage.read_chunks(generation, _versions(old.documents)))
        return keyword

    # ---- writing ---------------------------------------------------------------------------

    def lock(self, timeout: float) -> FileLock:
        return writer_lock(self.index_dir, timeout)

    def build(
        self,
        corpus_dir: Path,
        max_bytes: int,
        full: bool = False,
        progress: Progress | None = None,
        lock_timeout: float = 600.0,
        only: Sequence[str] | None = None,
    ) -> BuildReport:
        """Bring the index in line with the corpus folder. Only new or changed documents are embedded
        (all of them with `full=True`); an unchanged corpus is a no-op that never loads the model.
        With `only` (source names), just those documents are synced, the rest kept as listed."""
        try:
            with self.lock(lock_timeout):
                return self._build_locked(Path(corpus_dir), max_bytes, full, progress, only)
        except Timeout as exc:
            raise IndexBusyError(
                f"another process has been writing the index in {self.index_dir} for {lock_timeout:.0f}s; "
                "wait for it to finish, then try again"
            ) from exc

    def _build_locked(
        self,
        corpus_dir: Path,
        max_bytes: int,
        full: bool,
        progress: Progress | None,
        only: Sequence[str] | None = None,
    ) -> BuildReport:
        started = time.perf_counter()
        generation = self.storage.current()
        old: Manifest | None = None
        records = 0  # read besides the checkpoint
        finished = self.storage.begin_write(generation)  # see what is on disk, not a stale in-memory index
        scanned = scan_corpus(corpus_dir) if only is None or generation is None else None
        stamp = corpus_stamp(*scanned, corpus_dir, max_bytes, self.ocr) if scanned else None
        if generation:
            self.storage.tune_manifest(generation)
            memo = self._proven_noop(generation, finished, stamp) if stamp and not full else None
            if memo is not None and scanned:
                changes = memo.changes(scanned[0])
                report = BuildReport(
                    unchanged=changes.unchanged, skipped=changes.skipped, duplicates=changes.duplicates,
                    chunks=memo.chunks, generation=generation, seconds=time.perf_counter() - started,
                )  # fmt: skip
                self.storage.end_write(generation, memo.version)
                log.info("index is up to date (%d documents, as last synced)", len(report.unchanged))
                return report
            try:
                state = self._read_state(generation)
            except (IndexMismatchError, CorpusError):
                if not full:
                    raise
                log.info("this version of qa cannot read the index: rebuilding it from scratch")
                state = None
            old, records = state if state else (None, 0)
            if old is not None and not full:
                self.check_compatible(old)
        scope = None if only is None or old is None or full else only  # a first build takes everything
        if scope is None:
            files, skipped = scanned or scan_corpus(corpus_dir)
        else:
            files, skipped = list_named(corpus_dir, scope)
        plan = plan_sync(
            files, corpus_dir, old, max_bytes, full, skipped, progress, ocr=self.ocr, scope=scope
        )
        report = BuildReport(
            plan.added, plan.updated, plan.removed, plan.unchanged, plan.skipped, plan.duplicates
        )
        if not plan.indexed:
            raise CorpusError(
                f"corpus folder {corpus_dir} has no usable documents; add some and build again"
                + ("; the existing index was left as it was" if generation else "")
            )

        clean = finished == (generation, old.version) if old else False  # the last build finished it
        recovering = bool(generation and old and not full and self._needs_cleanup(generation, old, clean))
        if full or generation is None or old is None:
            report.generation = self._full_build(plan, old, report, progress)
        elif plan.changed or recovering:
            self._update_in_place(generation, old, records, plan, report, progress, recovering)
            report.generation = generation
        else:
            report.generation = generation
            report.chunks = old.chunks
            if not old.digest:
                self._upgrade(generation, old)
            self._leave_memo(plan, files, stamp if scope is None else None, generation)
            report.seconds = time.perf_counter() - started
            self.storage.end_write(generation, old.version)
            log.info("index is up to date (%d documents)", len(plan.kept))
            return report
        self._leave_memo(plan, files, stamp if scope is None else None, report.generation)
        self.storage.end_write(report.generation, self.storage.header_version(report.generation))
        report.seconds = time.perf_counter() - started
        log.info(
            "index built: %d added, %d updated, %d removed, %d unchanged, %d chunks (%d embedded) in %.1fs",
            len(report.added), len(report.updated), len(report.removed), len(report.unchanged),
            report.chunks, report.embedded, report.seconds,
        )  # fmt: skip
        return report

    def _proven_noop(self, generation: str, finished: tuple[str, int] | None, stamp: str) -> SyncMemo | None:
        """The last whole-corpus sync's memo, when it proves this sync a no-op: it scanned the same
        corpus (`stamp`), the version it committed is still the committed one, and the last writer
        finished cleanly at that version (`finished`: no killed build left anything to clean up). Costs
        one header read, where comparing the manifest costs every document's entry."""
        memo = SyncMemo.read(self.index_dir / SYNC_MEMO)
        if memo is None or memo.stamp != stamp or finished != (generation, memo.version):
            return None
        header = self._read_header(generation)
        if header is None or header.dirty or (header.version, header.digest) != (memo.version, memo.digest):
            return None
        self.check_compatible(header)
        return memo

    def _leave_memo(
        self, plan: SyncPlan, files: Sequence[CorpusFile], stamp: str | None, generation: str
    ) -> None:
        """After a whole-corpus sync (`stamp` set), record what it found for the next one to trust."""
        if stamp is None:
            return
        header = self._read_header(generation)
        if header is None or not header.digest:
            return
        try:
            SyncMemo.of(plan, files, stamp, header, generation).write(self.index_dir / SYNC_MEMO)
        except OSError as exc:  # only the next no-op's shortcut is lost
            log.warning("could not record the sync in %s: %s", self.index_dir / SYNC_MEMO, exc)

    def _upgrade(self, generation: str, old: Manifest) -> None:
        """Give an index written before headers summed up their documents, and checkpoint shards named
        their first source, both (same version, same documents), so readers open it from its header
        and look documents up one at a time."""
        key = (generation, old.checkpoint, old.checkpoint_shards)
        if old.checkpoint and self._checkpoint is not None and self._checkpoint[0] == key:
            shards = checkpoint_shards(self._checkpoint[1], CHECKPOINT_SHARD)
            if len(shards) == old.checkpoint_shards:  # the same split: rewriting adds only metadata
                self.storage.write_checkpoint(generation, old.checkpoint, shards)
        header = self._header(
            old.version, old.built_at, old.checkpoint, old.checkpoint_shards, old.dirty, old.documents
        )
        self.storage.write_header(generation, replace(header, updated_at=old.updated_at))
        log.info("recorded the index's digest in its header, so readers open it without listing documents")

    def _needs_cleanup(self, generation: str, old: Manifest, clean: bool) -> bool:
        """Whether a killed build left something behind: an unfinished clean-up, records it never
        committed, or chunks no document lists (counted unless the last build is known to have
        finished `old` cleanly)."""
        return (
            old.dirty
            or bool(self.storage.read_records(generation, above=old.version))
            or (not clean and self.storage.count_chunks(generation) != old.chunks)
        )

    def _embed_and_store(
        self, generation: str, documents: list[Document], report: BuildReport, progress: Progress | None
    ) -> tuple[dict[str, int], list[Chunk]]:
        """Chunk, embed and store documents; returns the chunk count per source, and the chunks."""
        per_document = [(d, chunk_document(d, self.chunk_size, self.chunk_overlap)) for d in documents]
        total = sum(len(chunks) for _, chunks in per_document)
        pending: list[tuple[Chunk, str]] = [(c, d.sha256) for d, chunks in per_document for c in chunks]
        for i in range(0, len(pending), WRITE_BATCH):
            batch = pending[i : i + WRITE_BATCH]
            vectors = self.embeddings.encode([c.text for c, _ in batch])
            self.storage.write_chunks(generation, batch, vectors)
            report.embedded += len(batch)
            if progress:
                progress("embed", report.embedded, total)
        return {d.source: len(chunks) for d, chunks in per_document}, [c for c, _ in pending]

    @staticmethod
    def _entries(
        documents: list[Document],
        counts: dict[str, int],
        previous: Manifest | None,
        stamps: Mapping[str, FileStamp],
    ) -> dict[str, DocumentEntry]:
        now = _now()
        known = previous.documents if previous else {}
        entries = {}
        for d in documents:
            added = known[d.source].added if d.source in known else now
            stamp = stamps.get(d.source, FileStamp(0, ""))
            entries[d.source] = DocumentEntry(
                d.sha256, d.size, counts[d.source], d.pages, added, now, d.sections, d.ocr_pages,
                stamp.mtime_ns, stamp.digest,
            )  # fmt: skip
        return entries

    def _full_build(
        self, plan: SyncPlan, previous: Manifest | None, report: BuildReport, progress: Progress | None
    ) -> str:
        """Write every document into a new generation, then switch to it."""
        generation = self.storage.new_generation()
        old_generation = self.storage.current()
        try:
            counts, chunks = self._embed_and_store(generation, plan.fresh, report, progress)
            entries = self._entries(plan.fresh, counts, previous, plan.stamps)
            shards = checkpoint_shards(entries, CHECKPOINT_SHARD)
            self.storage.write_checkpoint(generation, 1, shards)
            self._checkpoint = ((generation, 1, len(shards)), dict(entries))
            header = self._header(1, None, 1, len(shards), dirty=False, documents=entries)
            self._save_keywords(generation, header, entries, KeywordIndex(chunks))
            self.storage.write_header(generation, header)
        except BaseException:
            self.storage.drop(generation)
            raise
        self.storage.switch(generation)
        report.chunks = sum(counts.values())
        self.storage.prune(keep={generation, old_generation})
        return generation

    def _update_in_place(
        self,
        generation: str,
        old: Manifest,
        records: int,
        plan: SyncPlan,
        report: BuildReport,
        progress: Progress | None,
        recovering: bool,
    ) -> None:
        """Add, replace and remove documents in the live generation, writing only what changed (and,
        when `recovering` from a killed build, clearing what it left first). `records`: how many
        records the manifest holds besides its checkpoint."""
        if recovering:  # never let records a killed build wrote above the committed version surface
            leftovers = self.storage.read_records(generation, above=old.version)
            leftovers += self.storage.read_records(generation, at_most=old.checkpoint)  # folded already
            ids = [r.id for r in leftovers] + self.storage.stale_checkpoints(generation, keep=old.checkpoint)
            self.storage.delete_records(generation, ids)
        version = old.version + 1
        keyword = self._keywords_for_update(generation, old)
        counts, chunks = self._embed_and_store(generation, plan.fresh, report, progress)
        entries = self._entries(plan.fresh, counts, old, plan.stamps)
        written = [DocumentRecord(s, version, e) for s, e in entries.items()]
        written += [DocumentRecord(s, version, None) for s in plan.removed]
        self.storage.write_records(generation, written)
        documents = {**plan.kept, **entries}
        header = self._header(
            version, old.built_at, old.checkpoint, old.checkpoint_shards, dirty=True, documents=documents
        )
        # The keyword index of the new version is saved before the header commits it, so a reader of
        # that version never has to build it; one saved by a build killed before its commit never
        # matches a later manifest (its key names the document versions).
        self._save_keywords(
            generation, header, documents, keyword.patch(set(old.documents) - set(plan.kept), chunks)
        )
        self.storage.write_header(generation, header)  # the commit point

        touched = None if recovering else sorted(entries) + plan.removed
        held = self.storage.read_records(generation, above=old.checkpoint, at_most=version, sources=touched)
        hidden = superseded(held, version)
        self.storage.delete_records(generation, hidden)
        if touched is None:  # a killed build may have left chunks no keyword index lists
            deleted = self.storage.delete_chunks_except(generation, _versions(documents))
        else:  # the replaced and removed versions' chunks, as the old version's keyword index lists them
            fresh = {c.id for c in chunks}
            stale = [i for i in keyword.chunk_ids_of(touched) if i not in fresh]
            deleted = self.storage.delete_chunk_ids(generation, stale)
        if deleted:
            log.info("deleted %d chunks no longer in the manifest", deleted)
        if records + len(written) - len(hidden) > max(MIN_RECORDS, len(documents) // RECORDS_SHARE):
            header = self._fold(generation, header, documents)
        self.storage.write_header(generation, replace(header, dirty=False))
        report.chunks = sum(d.chunks for d in documents.values())

    def _fold(self, generation: str, header: Header, documents: dict[str, DocumentEntry]) -> Header:
        """Fold the records into a new checkpoint of `documents` (the manifest at `header.version`):
        write it, name it in the header, then delete the records and the old checkpoint."""
        shards = checkpoint_shards(documents, CHECKPOINT_SHARD)
        self.storage.write_checkpoint(generation, header.version, shards)
        self._checkpoint = ((generation, header.version, len(shards)), dict(documents))
        folded = replace(header, checkpoint=header.version, checkpoint_shards=len(shards), dirty=True)
        self.storage.write_header(generation, folded)
        stale = [r.id for r in self.storage.read_records(generation, at_most=header.version)]
        self.storage.delete_records(
            generation, stale + self.storage.stale_checkpoints(generation, folded.checkpoint)
        )
        log.info("folded %d records into a checkpoint of %d documents", len(stale), len(documents))
        return folded


def _versions(documents: Mapping[str, DocumentEntry]) -> dict[str, str]:
    """Source -> content hash: which stored chunks a manifest lists."""
    return {source: doc.sha256 for source, doc in documents.items()}
