""".epub: the book's documents in reading order (its spine), each read as HTML; every chapter with text
is a part, cited by its number and title (from the table of contents, else its first line)."""

from __future__ import annotations

import io
import logging
import posixpath
import warnings
from typing import Any

from .archives import check_zip
from .base import Extracted, Part, UnreadableFile, join_parts
from .html_text import extract_html

log = logging.getLogger(__name__)

_REDO = "export or download the e-book again as .epub (without DRM)"
_MAX_TITLE = 80


def extract_epub(data: bytes) -> Extracted:
    import ebooklib
    from ebooklib import epub

    check_zip(data, "EPUB e-book", _REDO)
    try:
        with warnings.catch_warnings():  # ebooklib warns about its own future defaults
            warnings.simplefilter("ignore")
            book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": False})
    except Exception as exc:  # EpubException, KeyError, XMLSyntaxError ...
        raise UnreadableFile(
            f"is not a readable EPUB e-book ({type(exc).__name__}: damaged, DRM-protected, or another "
            f"format renamed .epub); {_REDO}"
        ) from exc
    titles = _toc_titles(book.toc)
    parts: list[Part] = []
    for item_id, *_ in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        try:
            text = extract_html(item.get_content()).text.strip()
        except UnreadableFile as exc:
            log.info("e-book document %s skipped: %s", item.get_name(), exc)
            continue
        if not text:
            continue
        number = len(parts) + 1
        title = titles.get(posixpath.normpath(item.get_name())) or text.split("\n", 1)[0]
        if len(title) > _MAX_TITLE:
            title = title[:_MAX_TITLE].rsplit(" ", 1)[0] + " …"
        parts.append(Part(number, text, section=f"chapter {number}: {title}"))
    return join_parts(parts)


def _toc_titles(toc: Any) -> dict[str, str]:
    """File name (without #fragment) -> the first title the table of contents gives it."""
    titles: dict[str, str] = {}
    for entry in toc:
        if isinstance(entry, tuple):  # (section, children)
            head, children = entry
            nested = _toc_titles([head, *children])
        else:
            nested = {}
            href = getattr(entry, "href", None) or getattr(entry, "file_name", None)
            title = " ".join((getattr(entry, "title", "") or "").split())
            if href and title:
                nested[posixpath.normpath(href.split("#", 1)[0])] = title
        for name, title in nested.items():
            titles.setdefault(name, title)
    return titles
