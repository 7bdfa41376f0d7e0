"""Where an index lives in Chroma: its generations, which one is live, and its records.

Two implementations of one interface, chosen once from the settings (`open_store`):

- `EmbeddedStore`: each generation is a Chroma persistent store in its own folder `index/gen-*/chroma`,
  and `index/CURRENT` names the live one (replaced atomically). A new folder per generation also keeps
  Chroma's per-process client cache from serving a reader stale vectors.
- `ServerStore` (`QA_CHROMA_URL`): each generation is a pair of collections named after it on the
  server, and a pointer record on the server names the live one, so every client sees the same index.

Each generation holds two collections: the chunks (text, metadata, vector) and the manifest (a header,
a checkpoint in a few records, and one record per document version written since; see
qa/manifest.py). Both implementations store records
the same way; they differ only in clients, names, the pointer, and where the saved keyword index of each
committed version lives (qa/keyword_index.py): beside the generation (`index/gen-*/keywords/`), or, for
a server, in this client's cache (`cache_root()/keywords/<server>/<generation>/`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import QAError
from .files import cache_root, write_atomic
from .manifest import DocumentEntry, DocumentRecord, Header, shard_first_source
from .models import Chunk
from .settings import DEFAULT_COLLECTION

# A Chroma metadata filter such as {"source": {"$in": [...]}}: JSON-shaped, as chromadb takes it.
Where = dict[str, Any]

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

PREFIX = "qa"
HEADER_ID = "manifest"  # the id every manifest format used for its main record: an old one is recognised
POINTER_ID = "current"
GENERATION = re.compile(r"gen-\d{8}T\d{6}-[0-9a-f]{6}")  # what `Store.new_generation` names
READ_BATCH = 5000
# Manifest records carry one-number placeholder vectors (they are read by id and metadata). Chroma keeps
# each write in its log until the collection's vector index is persisted (by default every 1,000 records)
# and reads that log again at every write and at a new client's first read: with checkpoint shards in it,
# megabytes each time (0.2-0.3 s per operation at 100k chunks, more at a million; an update makes a
# dozen). Persisting a placeholder index every two records costs nothing and lets the log be purged.
MANIFEST_SYNC = 2
_MANIFEST_INDEX: Any = {"hnsw": {"batch_size": MANIFEST_SYNC, "sync_threshold": MANIFEST_SYNC}}
RECORD_BATCH = 1000
WRITER_FILE = "WRITER"  # in an embedded index folder: who wrote last, and if it finished (`begin_write`)


class Store(ABC):
    """An index's generations in Chroma, and the records of each."""

    # ---- what differs between embedded and server ------------------------------------------------

    @abstractmethod
    def client(self, generation: str, fresh: bool = False) -> ClientAPI:
        """A Chroma client for `generation`. `fresh`: see what other processes wrote since the last call."""

    @abstractmethod
    def name(self, generation: str, kind: str) -> str:
        """The name of a generation's collection of `kind` ("chunks" or "manifest")."""

    @abstractmethod
    def current(self) -> str | None:
        """The live generation, or None before the first build."""

    @abstractmethod
    def switch(self, generation: str) -> None:
        """Make `generation` the live one, all or nothing."""

    @abstractmethod
    def drop(self, generation: str) -> None:
        """Remove a generation that is not (or no longer) live."""

    @abstractmethod
    def generations(self) -> set[str]:
        """Every generation present, live or not."""

    @abstractmethod
    def describe(self) -> str:
        """Where the index is, for messages."""

    @abstractmethod
    def keyword_dir(self, generation: str) -> Path:
        """The local folder holding `generation`'s saved keyword indexes, one per manifest version."""

    def begin_write(self, generation: str | None) -> tuple[str, int] | None:
        """Called by a writer holding the writer lock, before it writes anything: make the client of
        `generation` (the live one, if any) see what other writers wrote since this store last did.
        Returns the generation and version at which the last writer finished cleanly, when known
        (None: unknown, or it never finished, and a killed build may have left stray chunks)."""
        if generation:
            self.client(generation, fresh=True)
        return None

    def end_write(self, generation: str, version: int) -> None:  # noqa: B027 - nothing to record here
        """Called by a writer whose build committed `version` of `generation` and cleaned up after it."""

    # ---- the same for both ---------------------------------------------------------------------

    @staticmethod
    def new_generation() -> str:
        from datetime import UTC, datetime

        return f"gen-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"

    def chunks(self, generation: str) -> Collection:
        return self.client(generation).get_or_create_collection(
            self.name(generation, "chunks"), metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def _manifest(self, generation: str) -> Collection:
        return self.client(generation).get_or_create_collection(
            self.name(generation, "manifest"),
            embedding_function=None,
            configuration=_MANIFEST_INDEX,
        )

    def tune_manifest(self, generation: str) -> None:
        """Give a manifest collection an older qa created (Chroma's default of persisting its vector
        index every 1,000 records) the setting `MANIFEST_SYNC` explains. Called by a writer."""
        collection = self._manifest(generation)
        hnsw: Any = (collection.configuration_json or {}).get("hnsw") or {}
        if hnsw.get("sync_threshold") != MANIFEST_SYNC:
            collection.modify(configuration=_MANIFEST_INDEX)
            self.client(generation, fresh=True)  # a client already open keeps the old setting
            log.info("the manifest of %s now persists its placeholder vectors every %d records",
                     generation, MANIFEST_SYNC)  # fmt: skip

    def prune(self, keep: set[str | None]) -> None:
        """Drop every generation but those in `keep` (the live one and its predecessor, which readers
        may still hold)."""
        for generation in self.generations() - {g for g in keep if g}:
            self.drop(generation)

    # ---- chunks --------------------------------------------------------------------------------

    def write_chunks(self, generation: str, chunks: Sequence[tuple[Chunk, str]], vectors: np.ndarray) -> None:
        """Upsert chunks, each with the content hash of the document version it comes from."""
        self.chunks(generation).upsert(
            ids=[c.id for c, _ in chunks],
            embeddings=vectors,
            documents=[c.text for c, _ in chunks],
            metadatas=[_chunk_metadata(c, sha256) for c, sha256 in chunks],
        )

    def read_chunks(self, generation: str, versions: Mapping[str, str]) -> list[Chunk]:
        """The stored chunks of the given document versions (source -> content hash), sorted by
        (source, start); others (a killed build's) are left out."""
        chunks: list[Chunk] = []
        for ids, texts, metas in read_pages(self.chunks(generation), None, ["documents", "metadatas"]):
            for chunk_id, text, meta in zip(ids, texts, metas, strict=True):
                if versions.get(meta["source"]) == meta["sha256"]:
                    chunks.append(_chunk(chunk_id, text, meta))
        chunks.sort(key=lambda c: (c.source, c.start))
        return chunks

    def prune_keywords(self, generation: str, keep: set[str]) -> None:
        """Delete `generation`'s saved keyword indexes but those named in `keep` (folder names)."""
        folder = self.keyword_dir(generation)
        if folder.is_dir():
            for path in folder.iterdir():
                if path.name not in keep:
                    shutil.rmtree(path, ignore_errors=True)

    def count_chunks(self, generation: str) -> int:
        return int(self.chunks(generation).count())

    def delete_chunks_except(
        self, generation: str, versions: Mapping[str, str], sources: Sequence[str] | None = None
    ) -> int:
        """Delete stored chunks not of the given document versions (replaced, removed, or left by a
        crash), looking only at the named `sources` when given; how many were deleted."""
        collection = self.chunks(generation)
        stale: list[str] = []
        for where in _wheres([], sources):
            for ids, metas, _ in read_pages(collection, where, ["metadatas"]):
                stale.extend(
                    chunk_id
                    for chunk_id, meta in zip(ids, metas, strict=True)
                    if versions.get(meta["source"]) != meta["sha256"]
                )
        return self.delete_chunk_ids(generation, stale)

    def delete_chunk_ids(self, generation: str, ids: Sequence[str]) -> int:
        """Delete these stored chunks; how many. By id: a metadata query (`delete_chunks_except` with
        sources) scans every chunk's metadata, 0.2 s and 88 MB read per query at a million chunks."""
        collection = self.chunks(generation)
        for i in range(0, len(ids), READ_BATCH):
            collection.delete(ids=list(ids[i : i + READ_BATCH]))
        return len(ids)

    # ---- manifest records ------------------------------------------------------------------------

    def read_header(self, generation: str) -> Header | None:
        """The committed header (raises ManifestFormatError for one this code cannot read)."""
        got = self._manifest(generation).get(ids=[HEADER_ID], include=["documents"])
        return Header.from_json(got["documents"][0]) if got["ids"] and got["documents"] else None

    def header_version(self, generation: str) -> int:
        """The committed version alone: one small read, what readers check on every question."""
        return self.header_stamp(generation)[0]

    def header_stamp(self, generation: str) -> tuple[int, bool, int]:
        """The committed version, whether its clean-up is pending, and its checkpoint, without reading
        the header's JSON: what changes whenever records or chunks may be deleted."""
        got = self._manifest(generation).get(ids=[HEADER_ID], include=["metadatas"])
        if not got["ids"] or not got["metadatas"]:
            return -1, False, 0
        meta: Any = got["metadatas"][0]
        return int(meta["version"]), bool(meta.get("dirty", False)), int(meta.get("checkpoint", 0))

    def write_header(self, generation: str, header: Header) -> None:
        """Upsert the header: the single atomic step that makes an update visible."""
        meta = {"version": header.version, "dirty": header.dirty, "checkpoint": header.checkpoint}
        self._manifest(generation).upsert(
            ids=[HEADER_ID], documents=[header.to_json()], metadatas=[meta], embeddings=_no_vectors(1)
        )

    def write_checkpoint(self, generation: str, version: int, shards: Sequence[str]) -> None:
        """Write the documents as of `version` (JSON shards); unused until a header names them."""
        collection = self._manifest(generation)
        for i, text in enumerate(shards):
            meta: dict[str, str | int | bool] = {"checkpoint": version, "shard": i}
            first = shard_first_source(text)
            if first is not None:  # lets a reader find one document's shard (`shard_starts`)
                meta["first"] = first
            collection.upsert(
                ids=[_checkpoint_id(version, i)],
                documents=[text],
                metadatas=[meta],
                embeddings=_no_vectors(1),
            )

    def read_checkpoint(self, generation: str, version: int, shards: int) -> list[str] | None:
        """The checkpoint's JSON shards in order; None when any is missing (a compaction deleted it
        while a reader was reading, or it was never completed)."""
        ids = [_checkpoint_id(version, i) for i in range(shards)]
        got = self._manifest(generation).get(ids=ids, include=["documents"])
        texts = dict(zip(got["ids"], got["documents"] or [], strict=True))
        if len(texts) != shards:
            return None
        return [texts[i] for i in ids]

    def shard_starts(self, generation: str, version: int, shards: int) -> list[str] | None:
        """The first source of each shard of a checkpoint, from metadata alone; None when a shard is
        missing (compacted away meanwhile) or was written before shards recorded it."""
        ids = [_checkpoint_id(version, i) for i in range(shards)]
        got = self._manifest(generation).get(ids=ids, include=["metadatas"])
        metas: dict[str, Any] = dict(zip(got["ids"], got["metadatas"] or [], strict=True))
        firsts = [metas.get(i, {}).get("first") for i in ids]
        return [str(f) for f in firsts] if all(isinstance(f, str) for f in firsts) else None

    def read_checkpoint_shard(self, generation: str, version: int, shard: int) -> str | None:
        """One shard of a checkpoint; None when it is gone."""
        got = self._manifest(generation).get(ids=[_checkpoint_id(version, shard)], include=["documents"])
        return got["documents"][0] if got["ids"] and got["documents"] else None

    def stale_checkpoints(self, generation: str, keep: int) -> list[str]:
        """Ids of checkpoint shards other than those of `keep` (replaced, or a killed build's)."""
        where: Any = {"checkpoint": {"$gte": 0}}
        got = self._manifest(generation).get(where=where, include=["metadatas"])
        metas: list[Any] = got["metadatas"] or []
        return [
            i for i, m in zip(got["ids"], metas, strict=True) if i != HEADER_ID and m["checkpoint"] != keep
        ]

    def read_records(
        self,
        generation: str,
        above: int = 0,
        at_most: int | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[DocumentRecord]:
        """Document records with a version in (above, at_most], of the named sources when given."""
        clauses: list[Where] = [{"version": {"$gt": above}}]  # also leaves the checkpoint out
        if at_most is not None:
            clauses.append({"version": {"$lte": at_most}})
        records: list[DocumentRecord] = []
        for where in _wheres(clauses, sources):
            for ids, texts, metas in read_pages(
                self._manifest(generation), where, ["documents", "metadatas"]
            ):
                for record_id, text, meta in zip(ids, texts, metas, strict=True):
                    if not record_id.startswith("doc:"):  # the header
                        continue
                    removed = bool(meta.get("removed", False))
                    entry = None if removed else DocumentEntry.from_json(text)
                    records.append(DocumentRecord(str(meta["source"]), int(meta["version"]), entry))
        return records

    def write_records(self, generation: str, records: Sequence[DocumentRecord]) -> None:
        """Upsert document records (and tombstones); invisible until a header with their version."""
        collection = self._manifest(generation)
        for i in range(0, len(records), RECORD_BATCH):
            batch = records[i : i + RECORD_BATCH]
            collection.upsert(
                ids=[r.id for r in batch],
                documents=[r.entry.to_json() if r.entry else "removed" for r in batch],
                metadatas=[_record_metadata(r) for r in batch],
                embeddings=_no_vectors(len(batch)),
            )

    def delete_records(self, generation: str, ids: Sequence[str]) -> None:
        collection = self._manifest(generation)
        for i in range(0, len(ids), RECORD_BATCH):
            collection.delete(ids=list(ids[i : i + RECORD_BATCH]))


_CHROMA_SYSTEMS = threading.Lock()


class EmbeddedStore(Store):
    """Generations as folders under the index folder; `CURRENT` names the live one."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self._clients: dict[str, ClientAPI] = {}
        self._token = secrets.token_hex(8)  # names this store in WRITER_FILE

    def begin_write(self, generation: str | None) -> tuple[str, int] | None:
        """Every writer signs `WRITER_FILE` under the writer lock before it writes ("writing"), and
        again once it is done ("clean GENERATION VERSION"). Reloading a generation costs its whole vector
        index (seconds at a million chunks), so a writer whose signature is still there skips it: nobody
        else has written since. And a build that finds a clean signature for the committed version
        knows no killed build left stray chunks, without counting them (which loads that index too)."""
        signature = self.index_dir / WRITER_FILE
        try:
            token, state = signature.read_text(encoding="utf-8").split("\n", 1)
        except (OSError, ValueError):
            token, state = "", ""
        write_atomic(signature, f"{self._token}\nwriting\n")
        if token != self._token:
            super().begin_write(generation)
        elif generation:
            self.client(generation)
        match state.split():
            case ["clean", finished, version] if version.isdigit():
                return finished, int(version)
        return None

    def end_write(self, generation: str, version: int) -> None:
        write_atomic(self.index_dir / WRITER_FILE, f"{self._token}\nclean {generation} {version}\n")

    def client(self, generation: str, fresh: bool = False) -> ClientAPI:
        # Chroma's process-wide cache of embedded systems is a plain dict: two threads opening at
        # once (two chat sessions, two collections) could see each other's half-made or cleared
        # system. One lock makes creating and refreshing clients a single step per process.
        with _CHROMA_SYSTEMS:
            if not fresh and generation in self._clients:
                return self._clients[generation]
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            if fresh:  # an embedded client otherwise keeps the vectors it loaded before another process wrote
                from chromadb.api.shared_system_client import SharedSystemClient

                SharedSystemClient.clear_system_cache()  # clients already handed out keep working
            client = chromadb.PersistentClient(
                path=str(self.index_dir / generation / "chroma"),
                settings=ChromaSettings(anonymized_telemetry=False),
            )
            self._clients[generation] = client
            return client

    def name(self, generation: str, kind: str) -> str:
        return f"{PREFIX}-{kind}"  # the folder already says which generation

    def current(self) -> str | None:
        try:
            name = (self.index_dir / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name if name and (self.index_dir / name / "chroma").is_dir() else None

    def switch(self, generation: str) -> None:
        write_atomic(self.index_dir / "CURRENT", generation + "\n")

    def drop(self, generation: str) -> None:
        self._clients.pop(generation, None)
        shutil.rmtree(self.index_dir / generation, ignore_errors=True)

    def generations(self) -> set[str]:
        return {p.name for p in self.index_dir.glob("gen-*") if p.is_dir()}

    def describe(self) -> str:
        return str(self.index_dir)

    def keyword_dir(self, generation: str) -> Path:
        return self.index_dir / generation / "keywords"  # dropped with its generation


class ServerStore(Store):
    """Generations as collection-name suffixes on a Chroma server; a pointer record names the live one.

    Each qa collection has its own namespace: `qa-chunks-gen-*` for the default one (the names it always
    had), `qa.NAME-chunks-gen-*` for a named one. A qa collection name has no '.', so one namespace
    never starts another's, and `generations` takes only exact generation names after its prefix."""

    def __init__(self, url: str, collection: str = DEFAULT_COLLECTION, cache_dir: Path | None = None) -> None:
        self.url = url
        self.namespace = PREFIX if collection == DEFAULT_COLLECTION else f"{PREFIX}.{collection}"
        self.cache_dir = cache_dir  # where saved keyword indexes go; None: qa's cache folder
        self._client: ClientAPI | None = None

    def client(self, generation: str = "", fresh: bool = False) -> ClientAPI:
        # One client for every generation; the server's reads are always current, so `fresh` changes nothing.
        if self._client is not None:
            return self._client
        from urllib.parse import urlparse

        import chromadb
        from chromadb.config import Settings as ChromaSettings

        url = urlparse(self.url)
        try:
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
            client.heartbeat()
        except Exception as exc:
            raise QAError(
                f"cannot reach the Chroma server at {self.url} ({type(exc).__name__}); "
                "start it with `chroma run` or unset QA_CHROMA_URL"
            ) from exc
        self._client = client
        return client

    def name(self, generation: str, kind: str) -> str:
        return f"{self.namespace}-{kind}-{generation}"

    def _pointer(self) -> Collection:
        return self.client().get_or_create_collection(f"{self.namespace}-pointer", embedding_function=None)

    def current(self) -> str | None:
        got = self._pointer().get(ids=[POINTER_ID], include=["documents"])
        return got["documents"][0] if got["ids"] and got["documents"] else None

    def switch(self, generation: str) -> None:
        self._pointer().upsert(ids=[POINTER_ID], documents=[generation], embeddings=_no_vectors(1))

    def _drop_collections(self, generation: str) -> None:
        for kind in ("chunks", "manifest"):
            try:
                self.client().delete_collection(self.name(generation, kind))
            except Exception:  # it may never have been created
                log.debug("no %s collection for %s", kind, generation)

    def generations(self) -> set[str]:
        chunks = f"{self.namespace}-chunks-"
        names = {c.name for c in self.client().list_collections()}
        found = {n.removeprefix(chunks) for n in names if n.startswith(chunks)}
        return {g for g in found if GENERATION.fullmatch(g)}

    def delete_all(self) -> None:
        """Drop every generation and the pointer: what deleting a qa collection does on the server."""
        for generation in self.generations():
            self.drop(generation)
        try:
            self.client().delete_collection(f"{self.namespace}-pointer")
        except Exception:  # never built
            log.debug("no pointer collection for %s", self.namespace)

    def describe(self) -> str:
        where = "" if self.namespace == PREFIX else f" (collections {self.namespace}-*)"
        return f"the Chroma server at {self.url}{where}"

    def keyword_dir(self, generation: str) -> Path:
        # On this client, not the server: each client downloads the texts to build it once, then reuses it.
        server = hashlib.sha256(self.url.rstrip("/").encode()).hexdigest()[:16]
        return (self.cache_dir or cache_root() / "keywords") / server / generation

    def drop(self, generation: str) -> None:
        self._drop_collections(generation)
        shutil.rmtree(self.keyword_dir(generation), ignore_errors=True)


def open_store(index_dir: Path, chroma_url: str | None, collection: str = DEFAULT_COLLECTION) -> Store:
    """The store the settings name: a Chroma server when `chroma_url` is set, else the index folder."""
    return ServerStore(chroma_url, collection) if chroma_url else EmbeddedStore(index_dir)


def read_pages(
    collection: Collection, where: Where | None, include: list[str]
) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
    """A `get` in pages of READ_BATCH: (ids, the first included field, the second or Nones)."""
    offset = 0
    while True:
        got: Any = collection.get(where=where, include=include, limit=READ_BATCH, offset=offset)  # type: ignore[arg-type]
        ids = got["ids"]
        first = got[include[0]] if include else [None] * len(ids)
        second = got[include[1]] if len(include) > 1 else [None] * len(ids)
        yield ids, first, second
        if len(ids) < READ_BATCH:
            return
        offset += READ_BATCH


def chunks_by_id(collection: Collection, ids: Sequence[str]) -> dict[str, Chunk]:
    """The stored chunks with these ids (missing ids, deleted since, are left out)."""
    found: dict[str, Chunk] = {}
    for i in range(0, len(ids), READ_BATCH):
        got: Any = collection.get(ids=list(ids[i : i + READ_BATCH]), include=["documents", "metadatas"])
        for chunk_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            found[chunk_id] = _chunk(chunk_id, text, meta)
    return found


def chunks_of(collection: Collection, source: str, sha256: str) -> list[Chunk]:
    """The stored chunks of one version of one document, sorted by start."""
    where: Where = {"$and": [{"source": source}, {"sha256": sha256}]}
    chunks = [
        _chunk(chunk_id, text, meta)
        for ids, texts, metas in read_pages(collection, where, ["documents", "metadatas"])
        for chunk_id, text, meta in zip(ids, texts, metas, strict=True)
    ]
    return sorted(chunks, key=lambda c: c.start)


def _chunk(chunk_id: str, text: str, meta: Any) -> Chunk:
    page, section, ocr = meta.get("page"), meta.get("section"), bool(meta.get("ocr"))
    return Chunk(chunk_id, meta["source"], meta["start"], meta["end"], text, page, section, ocr)


def _checkpoint_id(version: int, shard: int) -> str:
    return f"checkpoint:{version}:{shard}"


def _no_vectors(n: int) -> np.ndarray:
    """Records are fetched by id or metadata, never by similarity, but Chroma wants a vector each."""
    return np.zeros((n, 1), dtype=np.float32)


def _chunk_metadata(chunk: Chunk, sha256: str) -> dict[str, str | int | bool]:
    meta: dict[str, str | int | bool] = {
        "source": chunk.source,
        "start": chunk.start,
        "end": chunk.end,
        "sha256": sha256,
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    if chunk.section:
        meta["section"] = chunk.section
    if chunk.ocr:
        meta["ocr"] = True
    return meta


def _record_metadata(record: DocumentRecord) -> dict[str, str | int | bool]:
    meta: dict[str, str | int | bool] = {"source": record.source, "version": record.version}
    if record.entry is None:
        meta["removed"] = True
    return meta


def _wheres(clauses: list[Where], sources: Sequence[str] | None) -> Iterator[Where | None]:
    """Chroma filters for the clauses (and), with the named sources in lists of a size Chroma takes;
    none at all when `sources` is empty."""
    if sources is None:
        batches: list[list[str] | None] = [None]
    else:
        batches = [list(sources[i : i + RECORD_BATCH]) for i in range(0, len(sources), RECORD_BATCH)]
    for batch in batches:
        parts = clauses + ([{"source": {"$in": batch}}] if batch else [])
        yield None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}
