"""What an index holds, typed: a header (the settings it was built with, its version) and one entry
per document, stored as separate records (see qa/store.py for where, qa/index.py for the order of
writes that keeps it crash-safe).

A change writes a record per document it touches, tagged with the manifest version it belongs to,
and then the header with that version, which is what makes them visible. Chroma reads many small
records far more slowly than a few large ones (100k records: 12-18 s on this 2-core machine under
load, against 1.4 s for one record listing 100k documents), and every build and every reader reads
the whole manifest, so every so often the records are folded into a checkpoint: the documents as of
one version, in a few large records. A reader takes the checkpoint the header names, then per source
the highest record above it and at or below the header's version (`resolve`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")

MANIFEST_FORMAT = 4  # 4: per-document records beside a header; 3: one record holding everything


class ManifestFormatError(ValueError):
    """A record this code cannot read: written by another version of qa, or damaged."""


@dataclass(frozen=True)
class Chunking:
    """The chunker that split the documents: another one would cut different chunks."""

    size: int
    overlap: int
    version: int


@dataclass(frozen=True)
class BuildSettings:
    """What must match between an index and the code using it, or its vectors mean something else."""

    embedding_model: str
    embedding_dim: int
    embedding_backend: str
    chunking: Chunking


@dataclass(frozen=True)
class DocumentEntry:
    """One indexed version of a document."""

    sha256: str  # the document's version (qa.loaders.document_version): a changed file gets a new entry
    bytes: int
    chunks: int
    pages: tuple[tuple[int, int], ...]  # (start offset, page number) for paged formats (PDF)
    added: str  # ISO 8601: when the document was first indexed (kept across versions)
    updated: str  # ISO 8601: when this version was indexed
    sections: tuple[str, ...] = ()  # each page's name in citations ("slide 3"), when pages have names
    ocr_pages: tuple[int, ...] = ()  # page numbers whose text OCR recognised
    # The file as it was read: its modification time (0: not recorded) and its bytes' SHA-256. A sync
    # trusts a file whose size and time are unchanged without reading it again, as git and rsync do.
    mtime_ns: int = 0
    digest: str = ""

    def to_json(self) -> str:
        return json.dumps(self._data(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> DocumentEntry:
        return cls._from_data(_object(text))

    def _data(self) -> dict[str, Any]:
        # By hand, not asdict() (about 3x slower): a checkpoint holds one entry per document.
        data: dict[str, Any] = {
            "sha256": self.sha256, "bytes": self.bytes, "chunks": self.chunks, "pages": self.pages,
            "added": self.added, "updated": self.updated,
        }  # fmt: skip
        if self.sections:  # written only when set: entries of plain documents stay as they were
            data["sections"] = self.sections
        if self.ocr_pages:
            data["ocr_pages"] = self.ocr_pages
        if self.mtime_ns:
            data["mtime_ns"] = self.mtime_ns
        if self.digest:
            data["digest"] = self.digest
        return data

    @classmethod
    def _from_data(cls, data: dict[str, Any]) -> DocumentEntry:
        # Checked inline, not field by field through `_get`: a checkpoint of 150,000 documents is
        # parsed at every open, and the calls took four times as long as the JSON itself.
        get: Callable[..., Any] = data.get
        sha256, size, chunks, added, updated = (
            get("sha256"), get("bytes"), get("chunks"), get("added"), get("updated")
        )  # fmt: skip
        mtime_ns, digest = get("mtime_ns", 0), get("digest", "")
        if not (
            type(sha256) is str and type(size) is int and type(chunks) is int and type(added) is str
            and type(updated) is str and type(mtime_ns) is int and type(digest) is str
        ):  # fmt: skip
            for key, kind in _ENTRY_FIELDS:  # raises, naming the first field that is wrong
                if key in data or key not in _OPTIONAL_FIELDS:
                    _get(data, key, kind)
        listed_pages, sections, ocr_pages = get("pages"), get("sections"), get("ocr_pages")
        if type(listed_pages) is not list:
            _get(data, "pages", list)
        try:
            pages = tuple((int(start), int(page)) for start, page in listed_pages) if listed_pages else ()
            names = tuple(str(name) for name in sections) if sections else ()
            recognised = tuple(int(page) for page in ocr_pages) if ocr_pages else ()
        except (TypeError, ValueError) as exc:
            raise ManifestFormatError(
                f"a manifest record's pages are not (offset, page) pairs: {exc}"
            ) from exc
        return cls(sha256, size, chunks, pages, added, updated, names, recognised, mtime_ns, digest)


_ENTRY_FIELDS: tuple[tuple[str, type], ...] = (
    ("sha256", str), ("bytes", int), ("chunks", int), ("added", str), ("updated", str),
    ("mtime_ns", int), ("digest", str),
)  # fmt: skip
_OPTIONAL_FIELDS = frozenset({"mtime_ns", "digest"})


@dataclass(frozen=True)
class Header:
    """The manifest without its documents: one small record, the commit point of every change."""

    format: int
    embedding_model: str
    embedding_dim: int
    embedding_backend: str
    chunking: Chunking
    version: int  # raised by every committed change; document records above it are not yet committed
    built_at: str
    updated_at: str
    checkpoint: int = 0  # the version whose documents the checkpoint holds (0: none)
    checkpoint_shards: int = 0  # how many records it takes
    dirty: bool = False  # committed, but the clean-up after it (old records, stale chunks) may not be done
    # What the documents at this version are, summed up, so that a reader can open the index from this
    # record alone: their versions' digest (`documents_digest`: names the saved keyword index) and
    # their chunk count. Empty and -1 in a header written before they were recorded.
    digest: str = ""
    chunk_count: int = -1

    @property
    def settings(self) -> BuildSettings:
        return BuildSettings(self.embedding_model, self.embedding_dim, self.embedding_backend, self.chunking)

    def to_json(self) -> str:
        """The header record's JSON (documents are records of their own)."""
        data = {f.name: getattr(self, f.name) for f in fields(Header)}
        data["chunking"] = asdict(self.chunking)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Header:
        """Raises ManifestFormatError for a header another format wrote (checked before anything else,
        so an old index is named as such rather than as damaged)."""
        data = _object(text)
        found = data.get("format")
        if found != MANIFEST_FORMAT:
            raise ManifestFormatError(f"manifest format {found}, this version of qa reads {MANIFEST_FORMAT}")
        chunking = _get(data, "chunking", dict)
        return cls(
            format=found,
            embedding_model=_get(data, "embedding_model", str),
            embedding_dim=_get(data, "embedding_dim", int),
            embedding_backend=_get(data, "embedding_backend", str),
            chunking=Chunking(*(_get(chunking, key, int) for key in ("size", "overlap", "version"))),
            version=_get(data, "version", int),
            built_at=_get(data, "built_at", str),
            updated_at=_get(data, "updated_at", str),
            checkpoint=_get(data, "checkpoint", int),
            checkpoint_shards=_get(data, "checkpoint_shards", int),
            dirty=bool(data.get("dirty", False)),
            digest=_get(data, "digest", str) if "digest" in data else "",
            chunk_count=_get(data, "chunk_count", int) if "chunk_count" in data else -1,
        )


@dataclass(frozen=True)
class Manifest(Header):
    """The committed state of an index: its header and the documents it lists, by source."""

    documents: dict[str, DocumentEntry] = field(default_factory=dict)

    @classmethod
    def of(cls, header: Header, documents: Mapping[str, DocumentEntry]) -> Manifest:
        values = {f.name: getattr(header, f.name) for f in fields(Header)}
        return cls(**values, documents=dict(sorted(documents.items())))

    @property
    def chunks(self) -> int:
        return sum(d.chunks for d in self.documents.values())


@dataclass(frozen=True)
class DocumentRecord:
    """A document's entry as written at one manifest version; `entry` None is a tombstone (the
    document was removed at that version)."""

    source: str
    version: int
    entry: DocumentEntry | None

    @property
    def id(self) -> str:
        return record_id(self.source, self.version)


def record_id(source: str, version: int) -> str:
    """Fixed length whatever the source's name; the source itself is in the record's metadata."""
    return f"doc:{hashlib.sha256(source.encode()).hexdigest()[:16]}:{version}"


def resolve(
    checkpoint: Mapping[str, DocumentEntry], records: Iterable[DocumentRecord], above: int, version: int
) -> dict[str, DocumentEntry]:
    """The documents at manifest `version`: the checkpoint's (taken at version `above`), then per
    source its highest record in (above, version]; a tombstone there removes the document."""
    latest: dict[str, DocumentRecord] = {}
    for record in records:
        if above < record.version <= version:
            held = latest.get(record.source)
            if held is None or record.version > held.version:
                latest[record.source] = record
    documents = dict(checkpoint)
    for source, record in latest.items():
        if record.entry is None:
            documents.pop(source, None)
        else:
            documents[source] = record.entry
    return dict(sorted(documents.items()))


def superseded(records: Iterable[DocumentRecord], version: int) -> list[str]:
    """Ids of records that a newer record of the same source (at or below `version`) hides. The
    newest stays even when it is a tombstone: it may be hiding the checkpoint's entry."""
    newest: dict[str, DocumentRecord] = {}
    hidden: list[str] = []
    for record in sorted((r for r in records if r.version <= version), key=lambda r: r.version):
        if record.source in newest:
            hidden.append(newest[record.source].id)
        newest[record.source] = record
    return hidden


def checkpoint_shards(documents: Mapping[str, DocumentEntry], size: int) -> list[str]:
    """The documents as JSON records of at most `size` entries each."""
    items = sorted(documents.items())
    return [
        json.dumps({source: entry._data() for source, entry in items[i : i + size]}, ensure_ascii=False)
        for i in range(0, len(items), size)
    ]


def documents_digest(chunking: Chunking, documents: Mapping[str, DocumentEntry]) -> str:
    """Which document versions, chunked how: equal digests mean the same chunks."""
    listed = json.dumps(sorted((s, d.sha256) for s, d in documents.items()), separators=(",", ":"))
    return hashlib.sha256(f"{chunking}\n{listed}".encode()).hexdigest()[:16]


def shard_first_source(text: str) -> str | None:
    """The first source a checkpoint shard lists (shards hold sorted sources), read without parsing
    the rest: a reader looking up one document finds its shard from these. None for an empty shard."""
    if not text.startswith('{"'):
        return None
    try:
        first, _ = json.JSONDecoder().raw_decode(text, 1)
    except json.JSONDecodeError:
        return None
    return first if isinstance(first, str) else None


def checkpoint_documents(shards: Iterable[str]) -> dict[str, DocumentEntry]:
    documents: dict[str, DocumentEntry] = {}
    for text in shards:
        for source, data in _object(text).items():
            if not isinstance(data, dict):
                raise ManifestFormatError(f"a checkpoint's entry for {source!r} is not a JSON object")
            documents[source] = DocumentEntry._from_data(data)
    return documents


def checkpoint_entry(text: str, source: str) -> DocumentEntry | None:
    """One source's entry in a checkpoint shard, the others left unparsed as typed entries."""
    data = _object(text).get(source)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ManifestFormatError(f"a checkpoint's entry for {source!r} is not a JSON object")
    return DocumentEntry._from_data(data)


# ---- the one place untyped JSON enters: everything above returns checked, typed values ----------


def _object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestFormatError(f"a manifest record is not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ManifestFormatError("a manifest record is not a JSON object")
    return data


def _get(data: dict[str, Any], key: str, kind: type[T]) -> T:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestFormatError(f"a manifest record's {key!r} is {value!r}, not {kind.__name__}")
    return value
