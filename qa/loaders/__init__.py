"""Files -> Documents. Offsets into `Document.text` must stay true, so each format has one extractor
that returns the final text, and nothing downstream rewrites it. One module per family of formats:

- `plain`: `.txt`, `.md`, the decoded file unchanged (UTF-8, UTF-16/32 with a BOM, or a detected legacy
  encoding).
- `html_text`: `.html`, `.htm`, the visible text, one line per block element.
- `pdf`: `.pdf`, each page's text cleaned of headers, footers and hyphenation, pages joined by a blank
  line; pages without a usable text layer are recognised by OCR (`qa.ocr`).
- `word`: `.docx`, paragraphs and table rows in document order, one per line.
- `slides`: `.pptx`, per slide its title, text and notes; cited by slide number.
- `sheets`: `.xlsx` (each sheet a part, cited by name) and `.csv`, a row a line `Header: value; ...`.
- `epub`: `.epub`, the chapters in reading order, cited by number and title.
- `images`: `.png`, `.jpg`, `.jpeg`, `.tif`, `.tiff`, the text OCR recognises.
- `archives`: the zip-bomb check every zip-based format passes first.

A file that cannot be used is not an error for the batch: `load_file` raises ValueError with a short
reason a user can act on, the caller reports it by name (`Skipped`) and indexes the rest.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from ..errors import CorpusError
from ..files import file_sha256
from ..models import Document
from .base import PAGE_SEPARATOR, Extracted, PageProgress, Pages, Skipped, UnreadableFile, clean
from .epub import extract_epub
from .html_text import _decode_html, _VisibleText, extract_html
from .images import extract_image
from .pdf import extract_pdf
from .plain import decode_text, extract_plain
from .sheets import extract_csv, extract_xlsx
from .slides import extract_pptx
from .word import extract_docx

__all__ = [  # with the old private names that tests and benchmarks reach into
    "IGNORED_NAMES", "PAGE_SEPARATOR", "SUPPORTED_SUFFIXES", "CorpusFile", "Extracted", "PageProgress",
    "Pages", "Skipped", "UnreadableFile", "_VisibleText", "_clean", "_decode_html", "_extract_html",
    "corpus_file", "decode_text", "document_version", "extract_text", "list_corpus", "list_named",
    "load_bytes", "load_corpus", "load_file", "scan_corpus", "size_limit_reason", "source_name",
]  # fmt: skip

log = logging.getLogger(__name__)

IGNORED_NAMES = {"README.md", ".gitkeep", ".gitignore", ".DS_Store"}

_clean = clean
_extract_html = extract_html


# ---- the corpus folder ---------------------------------------------------------------------------


def source_name(path: Path, corpus_dir: Path) -> str:
    """The document's name as users see it: its path relative to the corpus, with forward slashes.
    (A string cut for paths found under the corpus: a build names every file, and pathlib's
    `relative_to` alone took a second per 15,000 files.)"""
    text, prefix = str(path), os.path.join(str(corpus_dir), "")
    if text.startswith(prefix):
        return text[len(prefix) :].replace(os.sep, "/")
    return path.relative_to(corpus_dir).as_posix()


def unsupported_reason(path: Path) -> str:
    return f"unsupported file type {path.suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"


class CorpusFile(NamedTuple):
    """A corpus file as one scan of the folder saw it. Plain strings and the scan's own stat: a sync
    of 150,000 unchanged files costs that scan and no more (a pathlib object and a second stat per
    file took longer than everything else a no-op sync does; so did keeping each file's full path,
    which is the corpus folder joined with `source`)."""

    source: str  # the document's name: its path below the corpus, with forward slashes
    suffix: str  # as pathlib's `suffix` (".pdf"), not lower-cased
    size: int
    mtime_ns: int
    ctime_ns: int = 0  # the inode's change time: moves with any write, rename or permission change


def scan_corpus(corpus_dir: Path) -> tuple[list[CorpusFile], list[Skipped]]:
    """Every candidate file under the corpus folder, in name order, and the ones skipped for their type
    (or gone before they could be looked at)."""
    _check_corpus_dir(corpus_dir)
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []
    with paused_gc():
        _scan(str(corpus_dir), "", files, skipped)
    return files, skipped


@contextmanager
def paused_gc() -> Iterator[None]:
    """No garbage collection inside: for loops that make one small object per file and no cycles.
    Collections triggered by 150,000 new tuples cost a third of a scan's time (0.3 of 1.2 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def list_corpus(corpus_dir: Path) -> tuple[list[Path], list[Skipped]]:
    """`scan_corpus`, as paths."""
    files, skipped = scan_corpus(corpus_dir)
    return [corpus_dir / f.source for f in files], skipped


def corpus_file(path: Path, corpus_dir: Path) -> CorpusFile:
    """One file under the corpus folder, looked at now (raises OSError when it cannot be)."""
    stat = path.stat()
    name = source_name(path, corpus_dir)
    return CorpusFile(name, path.suffix, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def list_named(corpus_dir: Path, sources: Collection[str]) -> tuple[list[CorpusFile], list[Skipped]]:
    """`scan_corpus` for the named documents alone (a source whose file is gone is left out)."""
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []
    for source in sorted(set(sources)):
        path = corpus_dir / source
        hidden = any(part.startswith(".") for part in Path(source).parts) or path.name in IGNORED_NAMES
        if hidden or not path.is_file():
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(Skipped(source, unsupported_reason(path)))
            continue
        try:
            files.append(corpus_file(path, corpus_dir))
        except OSError as exc:
            skipped.append(Skipped(source, str(exc)))
    return files, skipped


def _check_corpus_dir(corpus_dir: Path) -> None:
    if not corpus_dir.exists():
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist; create it and put documents in it "
            f"({', '.join(SUPPORTED_SUFFIXES)}), or set QA_CORPUS_DIR"
        )
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus path {corpus_dir} is a file, not a folder; set QA_CORPUS_DIR to a folder")


def _suffix(name: str) -> str:
    """pathlib's `suffix` of a file name, without making a path object."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def _scan(folder: str, prefix: str, files: list[CorpusFile], skipped: list[Skipped]) -> None:
    """Add the files under `folder` (named `prefix` + their path below it) in name order, leaving out
    hidden and ignored names and not following links to folders. os.scandir's entries know their type
    without a stat, and each file is stat-ed once, here (a fifth of what pathlib's rglob took)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except PermissionError as exc:
        log.warning("cannot read folder %s (%s); its files are left out", folder, exc.strerror)
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            _scan(entry.path, f"{prefix}{name}/", files, skipped)
            continue
        if not entry.is_file() or name in IGNORED_NAMES:
            continue
        suffix = _suffix(name)
        if suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(Skipped(prefix + name, unsupported_reason(Path(name))))
            continue
        try:
            stat = entry.stat()
        except OSError as exc:
            skipped.append(Skipped(prefix + name, str(exc)))
            continue
        files.append(CorpusFile(prefix + name, suffix, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))


# ---- all formats ---------------------------------------------------------------------------------

Extractor = Callable[[bytes], Extracted]
OcrExtractor = Callable[[bytes, bool, PageProgress | None], Extracted]

_EXTRACTORS: dict[str, tuple[str, Extractor]] = {
    ".txt": ("text", extract_plain),
    ".md": ("Markdown", extract_plain),
    ".html": ("HTML", extract_html),
    ".htm": ("HTML", extract_html),
    ".docx": ("Word .docx", extract_docx),
    ".pptx": ("PowerPoint .pptx", extract_pptx),
    ".xlsx": ("Excel .xlsx", extract_xlsx),
    ".csv": ("CSV", extract_csv),
    ".epub": ("EPUB", extract_epub),
}
# Formats that may need OCR: they also take whether it is on, and report progress page by page.
_OCR_EXTRACTORS: dict[str, tuple[str, OcrExtractor]] = {
    ".pdf": ("PDF", extract_pdf),
    ".png": ("PNG image", extract_image),
    ".jpg": ("JPEG image", extract_image),
    ".jpeg": ("JPEG image", extract_image),
    ".tif": ("TIFF image", extract_image),
    ".tiff": ("TIFF image", extract_image),
}
SUPPORTED_SUFFIXES = (
    ".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".epub",
    ".png", ".jpg", ".jpeg", ".tif", ".tiff",
)  # fmt: skip
_EMPTY_REASONS = {
    ".html": "is empty: it has no visible text, only markup or scripts",
    ".htm": "is empty: it has no visible text, only markup or scripts",
    ".docx": "is empty: no text in its paragraphs or tables (headers, footers and text boxes are not read)",
    ".pptx": "is empty: no text in its slide titles, shapes, tables or notes",
    ".xlsx": "is empty: no values in any sheet",
    ".csv": "is empty: no values in any row",
    ".epub": "is empty: no text in any chapter (an e-book of images only?)",
}

# Raised when a format's extracted text changes (PDF 2: page furniture dropped, hyphenation joined,
# OCR): an index then re-reads and re-embeds those documents, and only those, since their text and so
# their offsets moved. A format at version 1 keeps the file's hash as its version, as before.
EXTRACTION_VERSIONS = {".pdf": 2}


def document_version(content_sha256: str, suffix: str, ocr: bool) -> str:
    """What identifies an indexed version of a document: the file's content hash, combined (for formats
    whose extraction changed, and for those OCR may read) with the extractor's version and whether OCR
    was on. A build re-reads a document whose version differs from the one the index lists."""
    suffix = suffix.lower()
    version = EXTRACTION_VERSIONS.get(suffix, 1)
    if version == 1 and suffix not in _OCR_EXTRACTORS:
        return content_sha256
    tag = f"{content_sha256}\x00{suffix}\x00{version}\x00{'ocr' if ocr else 'no-ocr'}"
    return hashlib.sha256(tag.encode()).hexdigest()


def extract_text(
    path: Path, data: bytes, ocr: bool = True, progress: PageProgress | None = None
) -> Extracted:
    """The text of a file's bytes, by its suffix. Raises ValueError (`UnreadableFile`) with a user-facing
    reason for anything unusable; no parser's own exception gets out. `ocr` says whether pages and
    images without text are recognised; `progress` hears of each page OCR reads."""
    suffix = path.suffix.lower()
    extractor: Extractor
    if suffix in _OCR_EXTRACTORS:
        label, reader = _OCR_EXTRACTORS[suffix]

        def extractor(data: bytes) -> Extracted:
            return reader(data, ocr, progress)

    elif suffix in _EXTRACTORS:
        label, extractor = _EXTRACTORS[suffix]
    else:
        raise UnreadableFile(unsupported_reason(path))
    if not data.strip():
        raise UnreadableFile("is empty (no text to index)")
    try:
        extracted = extractor(data)
    except UnreadableFile:
        raise
    except Exception as exc:  # a parser bug or a file no one anticipated: still one line, no traceback
        log.debug("%s: unexpected %s error", path.name, label, exc_info=True)
        raise UnreadableFile(f"could not be read as {label}: {type(exc).__name__}") from exc
    if not extracted.text.strip():
        raise UnreadableFile(_EMPTY_REASONS.get(suffix, "is empty (no text to index)"))
    return extracted


def size_limit_reason(size: int, max_bytes: int) -> str:
    """Why a file is too large, and the setting that changes the limit (index.py checks it too)."""
    return (
        f"is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit; raise QA_MAX_FILE_MB to include it"
    )


def load_file(
    path: Path, corpus_dir: Path, max_bytes: int, ocr: bool = True, progress: PageProgress | None = None
) -> Document:
    """Load one file (with `pages` set for paged formats). Raises ValueError with a user-facing reason
    when the file cannot be used."""
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableFile(size_limit_reason(size, max_bytes))
    return load_bytes(path, path.read_bytes(), corpus_dir, ocr=ocr, progress=progress)


def load_bytes(
    path: Path, data: bytes, corpus_dir: Path, ocr: bool = True, progress: PageProgress | None = None
) -> Document:
    """`load_file` for bytes already read (a build hashes them first), so each file is read once."""
    extracted = extract_text(path, data, ocr=ocr, progress=progress)
    log.debug("%s: %d characters, %d pages", path.name, len(extracted.text), len(extracted.pages))
    return Document(
        source=source_name(path, corpus_dir),
        text=extracted.text,
        sha256=document_version(file_sha256(data), path.suffix, ocr),
        size=len(data),
        pages=extracted.pages,
        sections=extracted.sections,
        ocr_pages=extracted.ocr_pages,
    )


def load_corpus(corpus_dir: Path, max_bytes: int, ocr: bool = True) -> tuple[list[Document], list[Skipped]]:
    """Load every supported file; unusable ones are returned as `Skipped` with their reasons."""
    files, skipped = list_corpus(corpus_dir)
    documents: list[Document] = []
    for path in files:
        try:
            documents.append(load_file(path, corpus_dir, max_bytes, ocr=ocr))
        except (ValueError, OSError) as exc:
            skipped.append(Skipped(source_name(path, corpus_dir), str(exc)))
    for item in skipped:
        log.warning("skipped %s: %s", item.source, item.reason)
    return documents, skipped
