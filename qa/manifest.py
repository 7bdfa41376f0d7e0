"""What an index holds, typed: a header (the settings it was built with, its version) and one entry
per document. They are stored as separate records, so changing one document writes only its record
and the header (see qa/store.py for where, qa/index.py for the order that keeps it crash-safe).

Document records are versioned: an update to version N+1 writes its records tagged N+1 and then the
header saying N+1, which is what makes them visible. `resolve` is the reading rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
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

    sha256: str  # of the file's bytes: a changed file gets a new entry
    bytes: int
    chunks: int
    pages: tuple[tuple[int, int], ...]  # (start offset, page number) for paged formats (PDF)
    added: str  # ISO 8601: when the document was first indexed (kept across versions)
    updated: str  # ISO 8601: when this version was indexed

    def to_json(self) -> str:
        # By hand, not asdict() (several times slower): a full build writes one entry per document.
        data = {"sha256": self.sha256, "bytes": self.bytes, "chunks": self.chunks, "pages": self.pages}
        data |= {"added": self.added, "updated": self.updated}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> DocumentEntry:
        data = _object(text)
        return cls(
            sha256=_get(data, "sha256", str),
            bytes=_get(data, "bytes", int),
            chunks=_get(data, "chunks", int),
            pages=tuple((int(start), int(page)) for start, page in _get(data, "pages", list)),
            added=_get(data, "added", str),
            updated=_get(data, "updated", str),
        )


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
    dirty: bool = False  # committed, but the clean-up after it (old records, stale chunks) may not be done

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
            dirty=bool(data.get("dirty", False)),
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


def resolve(records: Iterable[DocumentRecord], version: int) -> dict[str, DocumentEntry]:
    """The documents at manifest `version`: per source, its highest record at or below `version`,
    unless that record is a tombstone."""
    latest: dict[str, DocumentRecord] = {}
    for record in records:
        if record.version <= version:
            held = latest.get(record.source)
            if held is None or record.version > held.version:
                latest[record.source] = record
    return {s: r.entry for s, r in sorted(latest.items()) if r.entry is not None}


def superseded(records: Iterable[DocumentRecord], version: int) -> tuple[list[str], list[str]]:
    """Record ids that no reader at `version` or later needs: (older records, then the tombstones
    that hid them). Delete them in that order, so a crash in between never brings a removed document
    back."""
    by_source: dict[str, list[DocumentRecord]] = {}
    for record in records:
        if record.version <= version:
            by_source.setdefault(record.source, []).append(record)
    older: list[str] = []
    tombstones: list[str] = []
    for held in by_source.values():
        held.sort(key=lambda r: r.version)
        older.extend(r.id for r in held[:-1])
        if held[-1].entry is None:
            tombstones.append(held[-1].id)
    return older, tombstones


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
