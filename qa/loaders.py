"""Files -> Documents. Offsets into `Document.text` must stay true, so each format has one extractor
that returns the final text, and nothing downstream rewrites it.

- `.txt`, `.md`: the decoded file, unchanged (UTF-8, UTF-16/32 with a BOM, or a detected legacy encoding).
- `.html`, `.htm`: the visible text, one line per block element.
- `.pdf`: the text of each page, pages joined by a blank line; `Extracted.pages` says where each starts.
- `.docx`: paragraphs and table rows in document order, one per line.

A file that cannot be used is not an error for the batch: `load_file` raises ValueError with a short
reason a user can act on, the caller reports it by name (`Skipped`) and indexes the rest.

HTML stays ours (docs/results/libraries.json): inscriptis fails 3/10 HTML tests; selectolax: parser only.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CorpusError
from .files import file_sha256
from .models import Document

if TYPE_CHECKING:
    from docx.table import Table

log = logging.getLogger(__name__)

IGNORED_NAMES = {"README.md", ".gitkeep", ".gitignore", ".DS_Store"}

Pages = tuple[tuple[int, int], ...]  # (start offset into the text, 1-based page number), ascending


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Extracted:
    """A file's text as indexed. `pages` is set for PDFs: where each page with text starts."""

    text: str
    pages: Pages = ()


class UnreadableFile(ValueError):
    """A file that cannot be used; the message is the reason shown to the user, after the file's name."""


# ---- the corpus folder ---------------------------------------------------------------------------


def source_name(path: Path, corpus_dir: Path) -> str:
    """The document's name as users see it: its path relative to the corpus, with forward slashes."""
    return path.relative_to(corpus_dir).as_posix()


def unsupported_reason(path: Path) -> str:
    return f"unsupported file type {path.suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"


def list_corpus(corpus_dir: Path) -> tuple[list[Path], list[Skipped]]:
    """Every candidate file under the corpus folder, and the ones skipped for their type."""
    if not corpus_dir.exists():
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist; create it and put documents in it "
            f"({', '.join(SUPPORTED_SUFFIXES)}), or set QA_CORPUS_DIR"
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
            skipped.append(Skipped(source_name(path, corpus_dir), unsupported_reason(path)))
    return files, skipped


# ---- plain text: decoding ------------------------------------------------------------------------

_BOMS = (  # UTF-32 before UTF-16: the UTF-16-LE BOM is a prefix of the UTF-32-LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_HINT = "check that it really is a text file"
_MAX_CONTROL_SHARE = 0.05  # more control characters than this and it is not text
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # Cc other than \t \n \r \f
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM or not), UTF-16/32 with a BOM, else a detected legacy encoding.

    Raises ValueError for binary data: NUL bytes, or too many control characters once decoded.
    """
    text = _decode(data)
    _refuse_control_characters(text)
    return text


def _decode(data: bytes) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise UnreadableFile(
                    f"starts with a {codec.upper().removesuffix('-SIG')} byte order mark but is not valid "
                    f"{codec.upper().removesuffix('-SIG')} (byte {exc.start}); re-save it as UTF-8"
                ) from exc
    if b"\x00" in data:
        raise UnreadableFile(f"looks like a binary file (it contains NUL bytes), not text; {_BINARY_HINT}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_legacy(data)


def _refuse_control_characters(text: str) -> None:
    controls = len(_CONTROL_CHARS.findall(text))
    if text and controls > _MAX_CONTROL_SHARE * len(text):
        share = 100 * controls / len(text)
        raise UnreadableFile(
            f"looks like a binary file ({share:.0f}% control characters), not text; {_BINARY_HINT}"
        )


def _decode_legacy(data: bytes) -> str:
    """Text that is not valid UTF-8. In order: binary junk is refused before any detector can dress it
    up as text; UTF-8 with a few stray bytes stays UTF-8; Windows-1252 wins when it reads as Western
    European text (charset-normalizer often mistakes short French or German for cp1250, cp1257 or
    mac_turkish); anything else goes to charset-normalizer (Cyrillic, Greek, CJK, Central European)."""
    controls = len(_CONTROL_BYTES.findall(data))
    if controls > _MAX_CONTROL_SHARE * len(data):
        share = 100 * controls / len(data)
        raise UnreadableFile(
            f"looks like a binary file ({share:.0f}% control bytes), not text; {_BINARY_HINT}"
        )
    text = _mostly_utf8(data)
    if text is not None:
        return text
    from charset_normalizer import from_bytes

    western = _western(data)
    best = from_bytes(data).best()
    if western is not None:
        if best is not None and _central_european(best.encoding, best.language):
            log.info("decoded as %s (%s), not Windows-1252", best.encoding, best.language)
            return data.decode(best.encoding)
        if _TURKISH_IN_CP1252.search(western) and not _ICELANDIC_IN_CP1252.search(western):
            log.info("decoded as Windows-1254 (Turkish), not Windows-1252")
            return data.decode("cp1254")
        log.info("decoded as Windows-1252 (not valid UTF-8)")
        return western
    if best is None:
        raise UnreadableFile(
            f"is not UTF-8 and its encoding could not be recognised; save it as UTF-8 ({_BINARY_HINT})"
        )
    log.info("decoded as %s (not valid UTF-8; detected by charset-normalizer)", best.encoding)
    try:
        return data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise UnreadableFile(
            f"is not UTF-8 and could not be decoded as {best.encoding}; save it as UTF-8"
        ) from exc


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few invalid bytes (a pasted fragment, a truncated character) decoded with U+FFFD for
    those bytes: better than reading every other character as mojibake in a legacy encoding."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    good = len(text) - len(text.encode("ascii", errors="ignore")) - text.count("\ufffd")  # non-ASCII
    if good >= 2 * bad:
        log.info("decoded as UTF-8 with %d invalid byte(s) replaced by U+FFFD", bad)
        return text
    return None


_WESTERN_LETTERS = set("ªºµƒÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿŒœŠšŽžŸ")
_WORD = re.compile(r"[^\W\d_]+")
_SYMBOL_IN_WORD = re.compile(r"(?<=[^\W\d_])[^\x00-\x7f\w\s’‘“”·–—…•€™]+(?=[^\W\d_])")


def _western(data: bytes) -> str | None:
    """The Windows-1252 reading of `data` if it looks like Western European text: accented letters sit
    inside words that also have plain ASCII letters ("café", "Größe"), as they do in French, German,
    Spanish or Nordic text, and unlike Cyrillic or Greek read through the wrong table."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    if _SYMBOL_IN_WORD.search(text):  # "Za¿ó³æ": Polish cp1250 read as cp1252
        return None
    accented = [w for w in _WORD.findall(text) if not w.isascii()]
    if not accented:
        return None
    for word in accented:
        if any(ch > "\x7f" and ch not in _WESTERN_LETTERS for ch in word):
            return None
    plausible = sum(1 for w in accented if len(w) <= 2 or any(ch.isascii() for ch in w))
    return text if plausible >= 0.9 * len(accented) else None


# Turkish ı ğ ş read as cp1252 become ý ð þ, which only Icelandic uses, and Icelandic also has á é í ó ú æ.
_TURKISH_IN_CP1252 = re.compile("[ýÝðÐþÞ]")
_ICELANDIC_IN_CP1252 = re.compile("[áéíóúæÁÉÍÓÚÆ]")


def _central_european(encoding: str, language: str) -> bool:
    """charset-normalizer's verdict for cp1250 text that also decodes as plausible cp1252 (Czech ř reads
    as ø): trusted only when it names a Central European language as well as encoding."""
    return encoding in {"cp1250", "iso8859_2"} and language in {
        "Czech", "Slovak", "Polish", "Hungarian", "Slovene", "Croatian", "Romanian",
    }  # fmt: skip


def _extract_plain(data: bytes) -> Extracted:
    """.txt and .md: the decoded file exactly, so offsets index into what the user wrote."""
    return Extracted(decode_text(data))


# ---- HTML ----------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SKIPPED_TAGS = {"script", "style", "noscript", "template"}
_HEAD_TAGS = {"title", "meta", "link", "style", "script", "noscript", "base", "template"}
_PARAGRAPH_TAGS = {  # a blank line before and after
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "figure", "hr", "section",
    "article", "header", "footer", "main", "nav", "aside", "form", "fieldset", "details", "address", "dl",
}  # fmt: skip
_LINE_TAGS = {  # a line of their own
    "br", "div", "li", "dt", "dd", "tr", "caption", "figcaption", "summary", "legend", "option", "body",
    "html", "center", "menu",
}  # fmt: skip
_LIST_TAGS = {"ul", "ol"}
_CELL_TAGS = {"td", "th"}
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")  # HTML's whitespace: a no-break space is not collapsed


class _VisibleText(HTMLParser):
    """Collects what a browser would show, as lines. Inline whitespace collapses to one space; block
    elements end lines; paragraphs, headings and tables are set apart by a blank line so that the
    chunker sees their ends; table cells on one row are joined by " | "."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.title = ""
        self._line: list[str] = []
        self._line_is_pre = False
        self._gap = False  # a blank line is due before the next line
        self._skip = 0  # depth inside script, style, noscript, template
        self._in_head = False
        self._in_body = False  # a <title> after this is an SVG tooltip, not the page's title
        self._in_title = False
        self._pre = 0
        self._lists = 0
        self._cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip += 1
            return
        if tag == "head":
            self._in_head = True
            return
        if tag == "title":
            self._in_title = True
            return
        if tag not in _HEAD_TAGS and tag != "html":  # <body> or any body element ends the head
            self._in_head = False
            self._in_body = True
        if self._skip or self._in_head:
            return
        if tag in _LIST_TAGS:
            self._break(gap=self._lists == 0)
            self._lists += 1
        elif tag in _PARAGRAPH_TAGS:
            self._break(gap=True)
            if tag == "pre":
                self._pre += 1
        elif tag in _LINE_TAGS:
            self._break(gap=False)
            if tag == "tr":
                self._cells = 0
        elif tag in _CELL_TAGS:
            if self._cells and "".join(self._line).strip():
                self._line.append(" | ")
            self._cells += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip = max(0, self._skip - 1)
            return
        if tag == "head":
            self._in_head = False
            return
        if tag == "title":
            self._in_title = False
            return
        if self._skip or self._in_head:
            return
        if tag in _LIST_TAGS:
            self._lists = max(0, self._lists - 1)
            self._break(gap=self._lists == 0)
        elif tag in _PARAGRAPH_TAGS:
            self._break(gap=True)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag in _LINE_TAGS:
            self._break(gap=False)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            if not self.title and not self._in_body:
                self.title = _HTML_SPACE.sub(" ", data).strip()
            return
        if self._in_head:
            if not data.strip():
                return
            self._in_head = False  # text in the head starts the body, as in a browser
            self._in_body = True
        if not self._pre:
            self._line.append(data)
            return
        *complete, rest = data.split("\n")
        for piece in complete:
            self._line.append(piece)
            self._line_is_pre = True
            self._break(gap=False)
        self._line.append(rest)
        self._line_is_pre = True

    def close(self) -> None:
        super().close()
        self._break(gap=False)

    def _break(self, gap: bool) -> None:
        """End the current line, if it has any text, and note whether a blank line should follow."""
        raw = "".join(self._line)
        line = raw.rstrip() if self._line_is_pre else _HTML_SPACE.sub(" ", raw).strip(" ")
        if self._line_is_pre and not line:
            gap = True  # a blank line inside <pre> stays a blank line
        self._line = []
        self._line_is_pre = False
        if line.strip():
            if self._gap and self.lines:
                self.lines.append("")
            self.lines.append(line)
            self._gap = False
        self._gap = self._gap or gap


def _decode_html(data: bytes) -> str:
    """A byte order mark wins, then a <meta charset> (as browsers do), then the plain-text rules."""
    if not data.startswith(tuple(bom for bom, _ in _BOMS)):
        declared = _declared_charset(data[:4096])
        if declared:
            try:
                text = data.decode(declared)
            except UnicodeDecodeError:
                log.info("HTML declares charset %s but is not valid %s; detecting", declared, declared)
            else:
                _refuse_control_characters(text)
                return text
    return decode_text(data)


def _declared_charset(head: bytes) -> str | None:
    match = _META_CHARSET.search(head)
    if not match:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None
    if name in {"latin-1", "iso8859-1", "ascii"}:
        return "cp1252"  # what browsers do: these labels mean windows-1252 on the web
    if name.startswith(("utf-16", "utf-32")):
        return None  # a page that could say so in ASCII is not UTF-16; browsers ignore it too
    return name


def _extract_html(data: bytes) -> Extracted:
    """.html, .htm: only what a reader sees, so no script, style or markup is embedded or cited.
    The page title becomes the first line unless the page already starts with it."""
    parser = _VisibleText()
    parser.feed(_decode_html(data))
    parser.close()
    lines = parser.lines
    if parser.title and (not lines or lines[0] != parser.title):
        lines = [parser.title, "", *lines] if lines else [parser.title]
    return Extracted(_clean("\n".join(lines)))


# ---- PDF -----------------------------------------------------------------------------------------

PAGE_SEPARATOR = "\n\n"


def _extract_pdf(data: bytes) -> Extracted:
    """.pdf: pypdf's text of each page, pages joined by a blank line. Pages without text are left out
    of both the text and `pages`, so every offset maps to the page it came from."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))  # also tries the empty password, as viewers do
        count = len(reader.pages)
    except FileNotDecryptedError as exc:
        raise UnreadableFile(
            "is a password-protected PDF; save a copy without the password and add that instead"
        ) from exc
    except DependencyError as exc:
        raise UnreadableFile(
            "is an encrypted PDF that needs the 'cryptography' package to open; install it "
            "(pip install cryptography) or save an unencrypted copy"
        ) from exc
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise UnreadableFile(
            f"is not a readable PDF ({type(exc).__name__}: damaged, incomplete or not really a PDF); "
            "download or export it again"
        ) from exc
    if count == 0:
        raise UnreadableFile("is a PDF with no pages")

    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    offset = 0
    failures: list[str] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            page_text = _clean(page.extract_text() or "").strip()
        except Exception as exc:  # one bad page should not cost the others
            log.warning(
                "PDF page %d could not be read (%s); its text is left out", number, type(exc).__name__
            )
            failures.append(type(exc).__name__)
            continue
        if not page_text:
            continue
        if parts:
            offset += len(PAGE_SEPARATOR)
        pages.append((offset, number))
        parts.append(page_text)
        offset += len(page_text)
    if not parts:
        if failures:
            raise UnreadableFile(
                f"is a PDF whose pages could not be read ({len(failures)} of {count} failed: {failures[0]}); "
                "download or export it again"
            )
        raise UnreadableFile("has no extractable text (a scanned PDF?); run OCR on it first")
    return Extracted(PAGE_SEPARATOR.join(parts), tuple(pages))


# ---- Word .docx ----------------------------------------------------------------------------------

_MAX_UNPACKED_BYTES = 500_000_000  # a .docx is a zip: refuse one that would unpack past this
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_REDO_DOCX = "open it in Word or LibreOffice and save it as .docx again"


def _extract_docx(data: bytes) -> Extracted:
    """.docx: body paragraphs (headings included) and table rows in document order, one per line.
    Headers, footers, footnotes, comments and text boxes are not read."""
    import docx
    from docx.table import Table

    _check_docx_container(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # KeyError, XMLSyntaxError, ValueError ("not a Word file") ...
        raise UnreadableFile(
            f"is not a readable Word document ({type(exc).__name__}: damaged, or another format renamed "
            f".docx); {_REDO_DOCX}"
        ) from exc
    lines: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            lines.extend(_docx_table_lines(item))
        elif item.text.strip():
            lines.append(item.text.strip())
    return Extracted(_clean("\n".join(lines)))


def _docx_table_lines(table: Table) -> list[str]:
    """One line per row, its cells joined by " | " (a merged cell once); nested tables follow the row."""
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        nested: list[Table] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is returned once per grid column it spans
                continue
            seen.add(id(cell._tc))
            text = " ".join(p.text.strip() for p in cell.paragraphs if p.text.strip())
            if text:
                cells.append(text)
            nested.extend(cell.tables)
        if cells:
            lines.append(" | ".join(cells))
        for inner in nested:
            lines.extend(_docx_table_lines(inner))
    return lines


def _check_docx_container(data: bytes) -> None:
    """Refuse what python-docx would fail on obscurely: old .doc files and encrypted .docx files (both
    OLE2 containers), non-zips, and zips that would unpack to an unreasonable size."""
    if data.startswith(_OLE2_MAGIC):
        raise UnreadableFile(
            "is an old-style Word .doc file or a password-protected .docx; save it as an unprotected .docx"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise UnreadableFile(f"is not a Word .docx file (not a valid zip archive); {_REDO_DOCX}") from exc
    if unpacked > _MAX_UNPACKED_BYTES:
        raise UnreadableFile(
            f"unpacks to {unpacked / 1e6:.0f} MB, too large to read safely; "
            "save a copy with smaller images or split it"
        )


# ---- all formats ---------------------------------------------------------------------------------

_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_STRAY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """Extracted (not decoded) text: spell out ligatures so words match what users type, and drop what
    would break storage (NUL and other control characters, lone surrogates that UTF-8 cannot encode)."""
    text = _STRAY_CONTROLS.sub("", text.translate(_LIGATURES))
    return text.encode("utf-8", errors="replace").decode("utf-8")


_EXTRACTORS: dict[str, tuple[str, Callable[[bytes], Extracted]]] = {
    ".txt": ("text", _extract_plain),
    ".md": ("Markdown", _extract_plain),
    ".html": ("HTML", _extract_html),
    ".htm": ("HTML", _extract_html),
    ".pdf": ("PDF", _extract_pdf),
    ".docx": ("Word .docx", _extract_docx),
}
SUPPORTED_SUFFIXES = tuple(_EXTRACTORS)
_EMPTY_REASONS = {
    ".html": "is empty: it has no visible text, only markup or scripts",
    ".htm": "is empty: it has no visible text, only markup or scripts",
    ".docx": "is empty: no text in its paragraphs or tables (headers, footers and text boxes are not read)",
}


def extract_text(path: Path, data: bytes) -> Extracted:
    """The text of a file's bytes, by its suffix. Raises ValueError (`UnreadableFile`) with a user-facing
    reason for anything unusable; no parser's own exception gets out."""
    suffix = path.suffix.lower()
    if suffix not in _EXTRACTORS:
        raise UnreadableFile(unsupported_reason(path))
    if not data.strip():
        raise UnreadableFile("is empty (no text to index)")
    label, extractor = _EXTRACTORS[suffix]
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


def load_file(path: Path, corpus_dir: Path, max_bytes: int) -> Document:
    """Load one file (with `pages` set for PDFs). Raises ValueError with a user-facing reason when the
    file cannot be used."""
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableFile(size_limit_reason(size, max_bytes))
    return load_bytes(path, path.read_bytes(), corpus_dir)


def load_bytes(path: Path, data: bytes, corpus_dir: Path) -> Document:
    """`load_file` for bytes already read (a build hashes them first), so each file is read once."""
    extracted = extract_text(path, data)
    log.debug("%s: %d characters, %d pages", path.name, len(extracted.text), len(extracted.pages))
    return Document(
        source=source_name(path, corpus_dir),
        text=extracted.text,
        sha256=file_sha256(data),
        size=len(data),
        pages=extracted.pages,
    )


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
