"""What every format's extractor returns and raises, and the clean-up all extracted text gets.

An extractor turns a file's bytes into `Extracted`: the final text (offsets index into it, nothing
downstream rewrites it) and, for formats with parts (PDF pages, slides, sheets, chapters, scanned
images), where each part starts, its name, and which parts were recognised by OCR.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Pages = tuple[tuple[int, int], ...]  # (start offset into the text, 1-based page number), ascending
PAGE_SEPARATOR = "\n\n"

# Called while a slow extraction (OCR) works through a file: (pages done, pages to do).
PageProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Extracted:
    """A file's text as indexed. `pages` is set for paged formats (PDF pages, slides, sheets, chapters):
    where each part with text starts. `sections` names each part as a citation shows it ("slide 3",
    "sheet Sales"; empty for PDF pages, which are shown by number); `ocr_pages` are the page numbers
    whose text was recognised by OCR."""

    text: str
    pages: Pages = ()
    sections: tuple[str, ...] = ()
    ocr_pages: tuple[int, ...] = ()


class UnreadableFile(ValueError):
    """A file that cannot be used; the message is the reason shown to the user, after the file's name."""


@dataclass(frozen=True)
class Part:
    """One page, slide, sheet or chapter before the parts are joined."""

    number: int
    text: str
    section: str = ""
    ocr: bool = False


def join_parts(parts: Sequence[Part]) -> Extracted:
    """Parts joined by a blank line, each stripped; a part without text is left out of the text and of
    `pages`, so that every offset maps to the part it came from."""
    texts: list[str] = []
    pages: list[tuple[int, int]] = []
    sections: list[str] = []
    ocr_pages: list[int] = []
    offset = 0
    for part in parts:
        text = part.text.strip()
        if not text:
            continue
        if texts:
            offset += len(PAGE_SEPARATOR)
        pages.append((offset, part.number))
        sections.append(part.section)
        if part.ocr:
            ocr_pages.append(part.number)
        texts.append(text)
        offset += len(text)
    named = tuple(sections) if any(sections) else ()
    return Extracted(PAGE_SEPARATOR.join(texts), tuple(pages), named, tuple(ocr_pages))


_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_STRAY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Extracted (not decoded) text: spell out ligatures so words match what users type, and drop what
    would break storage (NUL and other control characters, lone surrogates that UTF-8 cannot encode)."""
    text = _STRAY_CONTROLS.sub("", text.translate(_LIGATURES))
    return text.encode("utf-8", errors="replace").decode("utf-8")
