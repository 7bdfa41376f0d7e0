"""The typed hand-offs between stages. Sources and offsets travel with the text from the start.

Offsets are character offsets into the document's extracted text, so that
`document_text[start:end] == text` holds for every chunk, passage and citation.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# A JSON object as `json.dumps` takes it: what every `to_dict` returns, the shapes `--json` prints.
# The one place typed values become untyped, on their way out.
JSONObject = dict[str, Any]


@dataclass(frozen=True)
class Document:
    """A document's text exactly as extracted from its file."""

    source: str  # path relative to the corpus folder, with forward slashes
    text: str
    sha256: str = ""  # hash of the file's bytes, to notice changes
    size: int = 0  # bytes on disk
    pages: tuple[tuple[int, int], ...] = ()  # (start offset, page number) for paged formats (PDF)
    sections: tuple[str, ...] = ()  # each page's name in a citation ("slide 3", "sheet Sales"), or ()
    ocr_pages: tuple[int, ...] = ()  # the page numbers whose text was recognised by OCR


@dataclass(frozen=True)
class Chunk:
    """A span of a document that is embedded and indexed as one unit."""

    id: str
    source: str
    start: int
    end: int
    text: str
    page: int | None = None
    section: str | None = None  # the page's name when it has one: "slide 3", "sheet Sales", "chapter 2: …"
    ocr: bool = False  # some of its text was recognised by OCR


def page_at(pages: Sequence[Sequence[int]], offset: int) -> int | None:
    """The page holding character `offset`, from a document's ascending (start, page) pairs;
    None for a document without pages, or before its first page."""
    index = bisect.bisect_right(pages, offset, key=lambda start_page: start_page[0]) - 1
    return pages[index][1] if index >= 0 else None


OCR_NOTE = "text recognised by OCR"


def place(page: int | None, section: str | None) -> str:
    """A part of a document as people name it: "slide 3", "sheet Sales", or "page 3"; "" for none."""
    return section or (f"page {page}" if page else "")


@dataclass(frozen=True)
class Location:
    """Where a span of a paged document is: its page, the page's name, whether OCR read it."""

    page: int | None = None
    section: str | None = None
    ocr: bool = False


def locate(
    pages: Sequence[Sequence[int]],
    sections: Sequence[str],
    ocr_pages: Sequence[int],
    start: int,
    end: int | None = None,
) -> Location:
    """The page holding `start`, its name, and whether any page the span [start, end) touches was
    recognised by OCR."""
    index = bisect.bisect_right(pages, start, key=lambda start_page: start_page[0]) - 1
    if index < 0:
        return Location()
    last = index if end is None else max(index, bisect.bisect_left(pages, end, key=lambda sp: sp[0]) - 1)
    ocr = bool(ocr_pages) and any(pages[i][1] in ocr_pages for i in range(index, last + 1))
    section = sections[index] if index < len(sections) and sections[index] else None
    return Location(pages[index][1], section, ocr)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk. `score` is the fused rank score scaled to 0..1 (1 = first in both rankings);
    `similarity` is the cosine similarity of the query and the passage."""

    source: str
    start: int
    end: int
    text: str
    score: float
    page: int | None = None
    similarity: float = 0.0
    section: str | None = None  # the page's name: "slide 3", "sheet Sales", "chapter 2: …"
    ocr: bool = False  # its text (some of it) was recognised by OCR

    def to_dict(self) -> JSONObject:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """A numbered span of a document that an answer rests on; `n` matches the `[n]` in the text."""

    n: int
    source: str
    start: int
    end: int
    text: str
    page: int | None = None
    section: str | None = None  # the page's name: "slide 3", "sheet Sales", "chapter 2: …"
    ocr: bool = False  # its text was recognised by OCR

    def to_dict(self) -> JSONObject:
        return asdict(self)


@dataclass(frozen=True)
class Excerpt:
    """A cited span with the document text around it, so a reader can check it in place.

    `before` and `after` are cut at whole words; `clipped_before`/`clipped_after` say whether the
    document goes on beyond them. Both are empty when the span is no longer in the index (its document
    changed since the answer was given): then only the cited text itself can be shown."""

    source: str
    start: int
    end: int
    text: str
    before: str = ""
    after: str = ""
    clipped_before: bool = False
    clipped_after: bool = False
    page: int | None = None
    section: str | None = None
    ocr: bool = False


@dataclass(frozen=True)
class Answer:
    """What the assistant says. When `answerable` is False the text declines and `citations` is empty;
    `nearest` then holds the closest passages, which do not support an answer. `support` is the
    fitted probability (0-1) that the documents answer the question: of answers given with support
    0.8, about 8 in 10 are right on articles the fit never saw."""

    text: str
    answerable: bool
    citations: list[Citation] = field(default_factory=list)
    nearest: list[Passage] = field(default_factory=list)
    query: str = ""
    mode: str = ""  # the name of the answerer that wrote it (`qa.answerers`)
    final: bool = True
    support: float = 0.0  # calibrated probability that the documents answer the question
    # For a fact question, the fact itself: a span of a cited sentence (`n` is that citation's number,
    # document_text[start:end] == text). None for an explanation, or when no cited sentence holds one.
    short: Citation | None = None
    # What the answer rests on: "match", sentences matched to the question (`support` is fitted);
    # "title" or "overview", a question about a whole document answered from its title line or its
    # opening and most central sentences (`support` is 1.0 by construction, not an estimate).
    kind: str = "match"

    def support_note(self) -> str:
        """The support in words a reader can weigh (the chat and `qa ask` print it). A whole-document
        answer has none to weigh: it is built from the document's own opening, and says so."""
        if self.answerable and self.kind == "title":
            return "From the document's title line: no support estimate applies."
        if self.answerable and self.kind == "overview":
            return "From the document's opening and most central sentences: no support estimate applies."
        return f"Support {round(self.support * 100)} %: the estimated chance that the documents answer this."

    def to_dict(self) -> JSONObject:
        """The JSON shape of `qa ask --json` (`qa.schemas.AnswerJSON`, the one definition of it)."""
        from .schemas import AnswerJSON

        return AnswerJSON.of(self).to_json()


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document as users see it: `qa index status`, the web chat's list, the API."""

    source: str
    chunks: int
    bytes: int
    added: str  # ISO 8601, when this version of the document was indexed

    def to_dict(self) -> JSONObject:
        return asdict(self)


@dataclass(frozen=True)
class IndexStatus:
    """A summary of the index. The build fields are None before the first build."""

    documents: int
    chunks: int
    embedding_model: str
    embedding_dim: int
    embedding_backend: str
    index_dir: str
    corpus_dir: str
    built_at: str | None = None
    updated_at: str | None = None
    chunking: dict[str, int] | None = None  # size, overlap and version of the chunker that built it
    version: int | None = None  # the manifest's version, raised by every change
    generation: str | None = None  # the committed index generation readers see

    def to_dict(self) -> JSONObject:
        return asdict(self)
