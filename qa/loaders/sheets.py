""".xlsx and .csv: each row becomes one line, `Header: value; Header: value`, so that a question about a
cell finds the row with its column names, and a quote of it reads on its own. The first row with any
value is the header; a column without a header is named by its letter (A, B, ...). Empty cells are
left out. Workbooks give their stored values, never formulas, and each sheet is a part cited by name."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence

from .archives import check_zip
from .base import Extracted, Part, UnreadableFile, clean, join_parts
from .plain import decode_text

_REDO = "open it in Excel or LibreOffice Calc and save it as .xlsx again"


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, as spreadsheets name columns."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def cell_text(value: object) -> str:
    """A cell as people read it: 14.0 -> "14", a date without its midnight, text on one line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def rows_to_lines(rows: Iterable[Sequence[object]]) -> list[str]:
    """`Header: value; Header: value` per row after the header row; a lone header row is itself a line."""
    header: list[str] | None = None
    lines: list[str] = []
    for row in rows:
        cells = [cell_text(v) for v in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        named = [
            f"{header[i] if i < len(header) and header[i] else column_letter(i)}: {cell}"
            for i, cell in enumerate(cells)
            if cell
        ]
        lines.append("; ".join(named))
    if header is not None and not lines:
        lines.append("; ".join(c for c in header if c))
    return lines


def extract_xlsx(data: bytes) -> Extracted:
    from openpyxl import load_workbook

    check_zip(
        data,
        "Excel .xlsx",
        _REDO,
        ole2="is an old-style Excel .xls file or a password-protected .xlsx; save it as an unprotected .xlsx",
    )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # KeyError, InvalidFileException, XMLSyntaxError ...
        raise UnreadableFile(
            f"is not a readable Excel workbook ({type(exc).__name__}: damaged, or another format renamed "
            f".xlsx); {_REDO}"
        ) from exc
    try:
        parts = []
        for number, sheet in enumerate(workbook.worksheets, start=1):
            lines = rows_to_lines(sheet.iter_rows(values_only=True))
            parts.append(Part(number, clean("\n".join(lines)), section=f"sheet {sheet.title}"))
    finally:
        workbook.close()
    return join_parts(parts)


def extract_csv(data: bytes) -> Extracted:
    """The delimiter is sniffed (comma, semicolon, tab, pipe), else a comma."""
    text = decode_text(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error as exc:
        raise UnreadableFile(f"is not a readable CSV file ({exc}); export it again as CSV (UTF-8)") from exc
    return Extracted(clean("\n".join(rows_to_lines(rows))))
