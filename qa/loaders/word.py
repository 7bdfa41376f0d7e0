""".docx: paragraphs and table rows in document order, one per line."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from .archives import check_zip
from .base import Extracted, UnreadableFile, clean

if TYPE_CHECKING:
    from docx.table import Table

_REDO_DOCX = "open it in Word or LibreOffice and save it as .docx again"


def extract_docx(data: bytes) -> Extracted:
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
    return Extracted(clean("\n".join(lines)))


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
    OLE2 containers), non-zips, and zip bombs."""
    check_zip(
        data,
        "Word .docx",
        _REDO_DOCX,
        ole2="is an old-style Word .doc file or a password-protected .docx; save it as an unprotected .docx",
    )
