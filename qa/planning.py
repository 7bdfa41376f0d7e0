"""What a build has to do: compare the corpus folder with the committed manifest, without touching
the index. Each file is read once: its bytes are hashed, and parsed right away unless the manifest
already holds that exact content.

Rules:
- A file whose hash the manifest lists under its name stays as it is (unless `full`).
- The same content under two names is indexed once: under the name already indexed, else the first
  name; the other is reported as a duplicate (and indexed again if the first goes away).
- A file that cannot be used (size, type, unreadable) is skipped, and its last good version, if any,
  stays in the index.
- A document in the manifest whose file is gone (or is now a duplicate) is removed.

A whole-corpus sync also leaves a memo (`SyncMemo`): the stamp of the scan it synced and what it
found. The next sync that scans the same stamp, against the same committed index, knows it is a no-op
without reading the manifest or comparing 150,000 entries (git's index does the same with its stat
data).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from .files import file_sha256, write_atomic
from .loaders import CorpusFile, Skipped, document_version, load_bytes, paused_gc, size_limit_reason
from .manifest import DocumentEntry, Header, Manifest
from .models import Document

log = logging.getLogger(__name__)

RACY_NS = 2_000_000_000  # a file modified less than 2 s before it is read is not trusted by its time
Progress = Callable[[str, int, int], None]  # (stage "read" | "ocr" | "embed", done, total)


@dataclass
class Changes:
    """Which documents a sync adds, updates, removes or keeps, and which files it cannot use: what a
    plan intends and what a build reports."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)  # source -> the source indexed instead

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class FileStamp:
    """A file as a sync read it: its modification time (0 when too recent to trust, see `RACY_NS`) and
    the SHA-256 of its bytes."""

    mtime_ns: int
    digest: str


@dataclass
class SyncPlan(Changes):
    """The difference between the corpus folder and the manifest."""

    kept: dict[str, DocumentEntry] = field(default_factory=dict)  # listed entries that stay as they are
    fresh: list[Document] = field(default_factory=list)  # to chunk and embed (new or changed)
    stamps: dict[str, FileStamp] = field(default_factory=dict)  # per fresh source: the file as read

    @property
    def indexed(self) -> set[str]:
        """Every source the index will list once the plan is carried out."""
        return set(self.kept) | {d.source for d in self.fresh}


def plan_sync(
    files: Sequence[CorpusFile],
    corpus_dir: Path,
    manifest: Manifest | None,
    max_bytes: int,
    full: bool = False,
    skipped: Sequence[Skipped] = (),
    progress: Progress | None = None,
    ocr: bool = True,
    scope: Collection[str] | None = None,
) -> SyncPlan:
    """Hash and dedup `files` (as `scan_corpus` found them under `corpus_dir`) against `manifest`.
    `skipped` are files the scan already refused; with `full`, nothing listed is kept as it is (but
    dates and the added/updated split still come from the manifest). `ocr`: whether images and
    scanned pages are recognised; a document is read again when its version (content and extraction)
    is not the listed one. With a `scope` (source names), only those are synced: `files` are theirs, a
    scoped document whose file is gone is removed, and every other listed document is kept as listed
    without a look at the corpus (how adding or removing named files costs those files, not the
    corpus)."""
    if scope is not None and full:
        raise ValueError("a full build syncs the whole corpus, not a scope")
    plan = SyncPlan(skipped=list(skipped))
    previous = manifest.documents if manifest else {}
    reusable = {} if full else previous

    digests: dict[str, str] = {}
    parsed: dict[str, Document | Skipped] = {}  # for content the manifest does not hold under that name
    first: dict[str, tuple[bool, str]] = {}  # per digest, the best claim to own it seen so far
    scoped = frozenset(scope or ())
    outside = {} if scope is None else {s: e for s, e in previous.items() if s not in scoped}
    claims = {s: d for s, e in outside.items() if (d := _listed_digest(s, e, ocr))}  # their content's owners
    for source, digest in claims.items():
        first[digest] = min((False, source), first.get(digest, (False, source)))
    for done, file in enumerate(files, start=1):
        source = file.source
        if progress:
            progress("read", done, len(files))
        data: bytes | None = None
        try:
            if file.size > max_bytes:
                raise ValueError(size_limit_reason(file.size, max_bytes))
            listed = reusable.get(source)
            trusted = listed is not None and _same_file(listed, file, ocr)
            if listed is not None and trusted:
                digest = listed.digest  # as listed, and kept below without reading the file
            else:
                data = (corpus_dir / source).read_bytes()
                digest = file_sha256(data)
                plan.stamps[source] = FileStamp(_trusted_mtime(file.mtime_ns), digest)
        except (ValueError, OSError) as exc:
            plan.skipped.append(Skipped(source, str(exc)))
            continue
        digests[source] = digest
        rank, best = (source not in reusable, source), first.get(digest)
        first[digest] = min(rank, best or rank)
        if trusted or (
            source in reusable and reusable[source].sha256 == document_version(digest, file.suffix, ocr)
        ):
            continue
        if best is not None and best < rank:  # another name has the better claim to this content
            continue
        path = corpus_dir / source
        try:  # parsed now, while the bytes are at hand; a duplicate's parse is thrown away below
            if data is None:  # cannot happen: a file trusted unread is kept above; read it if it does
                data = path.read_bytes()
            parsed[source] = load_bytes(path, data, corpus_dir, ocr=ocr, progress=_ocr_progress(progress))
        except (ValueError, OSError) as exc:
            parsed[source] = Skipped(source, str(exc))

    # Each content's owner is its best claim, which `first` already holds: no sort of every listed
    # document (it took 0.14 s of adding one document to 15k).
    owner = {digest: rank[1] for digest, rank in first.items()}
    plan.kept.update(outside)
    plan.unchanged.extend(outside)

    for source, digest in digests.items():
        if owner[digest] != source:
            plan.duplicates[source] = owner[digest]
        elif source not in parsed:
            plan.kept[source] = reusable[source]
            plan.unchanged.append(source)
        elif isinstance(loaded := parsed[source], Skipped):
            plan.skipped.append(loaded)
        else:
            plan.fresh.append(loaded)
    for item in plan.skipped:
        if item.source in reusable and item.source not in plan.kept:  # keep the last good version
            plan.kept[item.source] = reusable[item.source]
            plan.unchanged.append(item.source)
    for item in plan.skipped:
        log.warning("skipped %s: %s", item.source, item.reason)
    for duplicate, original in plan.duplicates.items():
        log.warning("not indexing %s: same content as %s", duplicate, original)

    indexed = plan.indexed
    plan.removed = sorted(s for s in previous if s not in indexed)
    for doc in plan.fresh:
        (plan.updated if doc.source in previous else plan.added).append(doc.source)
    return plan


def _listed_digest(source: str, listed: DocumentEntry, ocr: bool) -> str | None:
    """The SHA-256 of the file a listed document was read from, when the manifest tells it: recorded,
    or its version itself for formats whose version is the file's hash."""
    if listed.digest:
        return listed.digest
    suffix = PurePosixPath(source).suffix
    return listed.sha256 if document_version(listed.sha256, suffix, ocr) == listed.sha256 else None


def _same_file(listed: DocumentEntry, file: CorpusFile, ocr: bool) -> bool:
    """Whether a listed document's file is the one it was indexed from, by its size and modification
    time alone (and its version would still be read the same way, e.g. with OCR as now)."""
    return bool(
        listed.mtime_ns
        and listed.mtime_ns == file.mtime_ns
        and listed.bytes == file.size
        and listed.digest
        and document_version(listed.digest, file.suffix, ocr) == listed.sha256
    )


def _trusted_mtime(mtime_ns: int) -> int:
    """The file's modification time, or 0 when it was modified so shortly before this read that a
    later change within the same clock tick could leave it unchanged (git's "racy" files): such a file
    is read and hashed at every sync."""
    return mtime_ns if time.time_ns() - mtime_ns > RACY_NS else 0


def _ocr_progress(progress: Progress | None) -> Callable[[int, int], None] | None:
    """Pages recognised by OCR, reported as the stage "ocr" (per file: OCR is what takes the time)."""
    if progress is None:
        return None
    return lambda done, total: progress("ocr", done, total)


def corpus_stamp(
    files: Sequence[CorpusFile], skipped: Sequence[Skipped], corpus_dir: Path, max_bytes: int, ocr: bool
) -> str | None:
    """A digest of what a scan saw (every file's name, size, modification and change times, the files
    refused for their type) and of the settings that decide how files are read. None when a file
    changed within `RACY_NS` of now: a later change in the same clock tick could keep its times."""
    newest = max((max(f.mtime_ns, f.ctime_ns) for f in files), default=0)
    if time.time_ns() - newest <= RACY_NS:
        return None
    with paused_gc():
        lines = [f"{corpus_dir}\0{max_bytes}\0{ocr}"]
        lines += [f"{f.source}\0{f.size}\0{f.mtime_ns}\0{f.ctime_ns}" for f in files]
        lines += [f"{s.source}\0-" for s in skipped]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True)
class SyncMemo:
    """What the last whole-corpus sync of an index found: the scan's `corpus_stamp`, the committed
    version it left (generation, version, documents digest, chunks), and what it did not index. Valid
    only while that version is the committed one and no writer has touched the index since."""

    generation: str
    version: int
    digest: str
    chunks: int
    stamp: str
    duplicates: dict[str, str]
    skipped: list[tuple[str, str]]  # (source, reason)
    unlisted: list[str]  # scanned files the index does not list: duplicates and unusable new files

    def changes(self, files: Sequence[CorpusFile]) -> Changes:
        """The no-op sync's changes, for `files` that `stamp` describes."""
        unlisted = set(self.unlisted)
        return Changes(
            unchanged=[f.source for f in files if f.source not in unlisted],
            skipped=[Skipped(source, reason) for source, reason in self.skipped],
            duplicates=dict(self.duplicates),
        )

    @classmethod
    def of(
        cls, plan: Changes, files: Sequence[CorpusFile], stamp: str, header: Header, generation: str
    ) -> SyncMemo:
        """The memo of a whole-corpus sync of `files` (scanned as `stamp`) that ended in `plan`, now
        committed as `header` of `generation`."""
        listed = set(plan.added) | set(plan.updated) | set(plan.unchanged)
        return cls(
            generation, header.version, header.digest, header.chunk_count, stamp, dict(plan.duplicates),
            [(s.source, s.reason) for s in plan.skipped], [f.source for f in files if f.source not in listed],
        )  # fmt: skip

    def write(self, path: Path) -> None:
        write_atomic(path, json.dumps(asdict(self), ensure_ascii=False))

    @classmethod
    def read(cls, path: Path) -> SyncMemo | None:
        """The memo at `path`; None when there is none or it cannot be read (then a sync compares the
        whole manifest, as without one)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                str(data["generation"]), int(data["version"]), str(data["digest"]), int(data["chunks"]),
                str(data["stamp"]), {str(k): str(v) for k, v in data["duplicates"].items()},
                [(str(s), str(r)) for s, r in data["skipped"]], [str(s) for s in data["unlisted"]],
            )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
