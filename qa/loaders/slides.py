""".pptx: per slide its title, then the text of its shapes top to bottom (tables a row a line, groups
opened), then its speaker notes; slides are cited by number, as PDF pages are."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from .archives import check_zip
from .base import Extracted, Part, UnreadableFile, clean, join_parts

_REDO = "open it in PowerPoint or LibreOffice Impress and save it as .pptx again"


def extract_pptx(data: bytes) -> Extracted:
    from pptx import Presentation

    check_zip(
        data,
        "PowerPoint .pptx",
        _REDO,
        ole2="is an old-style PowerPoint .ppt file or a password-protected .pptx; "
        "save it as an unprotected .pptx",
    )
    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:  # KeyError, XMLSyntaxError, PackageNotFoundError, ValueError ...
        raise UnreadableFile(
            f"is not a readable PowerPoint file ({type(exc).__name__}: damaged, or another format renamed "
            f".pptx); {_REDO}"
        ) from exc
    parts = []
    for number, slide in enumerate(deck.slides, start=1):
        lines: list[str] = []
        title = slide.shapes.title
        title_id = title.shape_id if title is not None else None
        if title is not None and title.text_frame.text.strip():
            lines.append(" ".join(title.text_frame.text.split()))
        for shape in _reading_order(slide.shapes):
            if shape.shape_id != title_id:
                lines.extend(_shape_lines(shape))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                lines.append("Notes: " + " ".join(notes.text.split()))
        parts.append(Part(number, clean("\n".join(lines)), section=f"slide {number}"))
    return join_parts(parts)


def _reading_order(shapes: Any) -> list[Any]:
    """Top to bottom, then left to right; shapes without a position (placeholders inheriting it) last."""
    big = 1 << 62
    return sorted(shapes, key=lambda s: (s.top if s.top is not None else big, s.left or 0))


def _shape_lines(shape: Any) -> Iterator[str]:
    if getattr(shape, "shape_type", None) == 6:  # MSO_SHAPE_TYPE.GROUP
        for inner in _reading_order(shape.shapes):
            yield from _shape_lines(inner)
    elif getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            cells = [" ".join(c.text.split()) for c in row.cells]
            if any(cells):
                yield " | ".join(c for c in cells if c)
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for paragraph in shape.text_frame.paragraphs:
            text = " ".join(paragraph.text.split())
            if text:
                yield text
