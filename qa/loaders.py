"""Files -> Documents. Text is kept exactly as decoded, so character offsets stay true.

A file that cannot be used is not an error for the batch: it is reported by name with a reason
(`Skipped`) and the rest is indexed.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError
from .models import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md")
IGNORED_NAMES = {"README.md", ".gitkeep", ".gitignore", ".DS_Store"}


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    source: str
    reason: str


def source_name(path: Path, corpus_dir: Path) -> str:
    """The document's name as users see it: its path relative to the corpus, with forward slashes."""
    return path.relative_to(corpus_dir).as_posix()


def list_corpus(corpus_dir: Path) -> tuple[list[Path], list[Skipped]]:
    """Every candidate file under the corpus folder, and the ones skipped for their type."""
    if not corpus_dir.exists():
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist; create it and put .txt or .md files in it, "
            "or set QA_CORPUS_DIR"
        )
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus path {corpus_dir} is a file, not a folder; set QA_CORPUS_DIR to a folder")
    files: list[Path] = []
    skipped: list[Skipped] = []
    for path in sorted(corpus_dir.rglob("*")):
        if not path.is_file() or path.name in IGNORED_NAMES or path.name.startswith("."):
            continue
        if any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path)
        else:
            reason = (
                f"unsupported file type {path.suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
            )
            skipped.append(Skipped(source_name(path, corpus_dir), reason))
    return files, skipped


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM or not), or UTF-16/32 with a BOM. Raises ValueError otherwise."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: its BOM is a prefix
        return data.decode("utf-32")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise ValueError("looks like a binary file (it contains NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not valid UTF-8 text (byte {exc.start}); save it as UTF-8") from exc


def load_file(path: Path, corpus_dir: Path, max_bytes: int) -> Document:
    """Load one file. Raises ValueError with a user-facing reason when the file cannot be used."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit (QA_MAX_FILE_MB)")
    data = path.read_bytes()
    text = decode_text(data)
    if not text.strip():
        raise ValueError("is empty (no text to index)")
    return Document(source=source_name(path, corpus_dir), text=text, sha256=file_sha256(data), size=size)


def load_corpus(corpus_dir: Path, max_bytes: int) -> tuple[list[Document], list[Skipped]]:
    """Load every supported file; unusable ones are returned as `Skipped` with their reasons."""
    files, skipped = list_corpus(corpus_dir)
    documents: list[Document] = []
    for path in files:
        try:
            documents.append(load_file(path, corpus_dir, max_bytes))
        except (ValueError, OSError) as exc:
            skipped.append(Skipped(source_name(path, corpus_dir), str(exc)))
    for item in skipped:
        log.warning("skipped %s: %s", item.source, item.reason)
    return documents, skipped
