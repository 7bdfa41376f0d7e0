"""Slides, spreadsheets, CSV and e-books: real files made here with python-pptx, openpyxl and ebooklib,
their text in reading order with exact offsets, the slide / sheet / chapter each offset belongs to, one
clear line for a broken file, and zip bombs refused before any parser inflates them."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from pathlib import Path

import pytest
from helpers import make_epub, make_pptx, make_xlsx

from qa.chunking import chunk_document
from qa.loaders import SUPPORTED_SUFFIXES, archives, extract_text, load_file
from qa.models import locate

MAX_BYTES = 10_000_000


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def refusal(tmp_path: Path, name: str, data: bytes) -> str:
    """The reason a user would see for this file; fails the test if the file is accepted."""
    with pytest.raises(ValueError) as caught:
        load_file(write(tmp_path / name, data), tmp_path, MAX_BYTES)
    reason = str(caught.value)
    assert reason and "\n" not in reason and "Traceback" not in reason
    return reason


def part_of(extracted, phrase: str) -> tuple[int | None, str | None]:
    start = extracted.text.index(phrase)
    where = locate(extracted.pages, extracted.sections, extracted.ocr_pages, start, start + len(phrase))
    assert extracted.text[start : start + len(phrase)] == phrase
    return where.page, where.section


def test_every_new_format_is_a_supported_suffix():
    for suffix in (".pptx", ".xlsx", ".csv", ".epub", ".png", ".jpg", ".jpeg", ".tif", ".tiff"):
        assert suffix in SUPPORTED_SUFFIXES


# ---- slides -----------------------------------------------------------------------------------------


def test_a_pptx_gives_each_slides_title_body_table_and_notes_in_order():
    extracted = extract_text(Path("deck.pptx"), make_pptx())
    assert extracted.text == (
        "Harvest plan\nApples are picked in September.\nNotes: Mention the orchard in Kent."
        "\n\nPrices\nFruit | Price\nPears | 3 euros"
        "\n\nCherries ripen in June."
    )


def test_a_pptx_offset_maps_to_its_slide_number_and_a_blank_slide_keeps_later_numbers():
    extracted = extract_text(Path("deck.pptx"), make_pptx())
    assert part_of(extracted, "Mention the orchard") == (1, "slide 1")
    assert part_of(extracted, "Pears | 3 euros") == (2, "slide 2")
    assert part_of(extracted, "Cherries ripen") == (4, "slide 4")


def test_chunks_of_a_pptx_carry_their_slide(tmp_path):
    document = load_file(write(tmp_path / "deck.pptx", make_pptx()), tmp_path, MAX_BYTES)
    chunks = chunk_document(document, chunk_size=25, overlap=0)
    cherries = next(c for c in chunks if "Cherries" in c.text)
    assert (cherries.page, cherries.section, cherries.ocr) == (4, "slide 4", False)
    assert all(document.text[c.start : c.end] == c.text for c in chunks)


def test_a_broken_pptx_is_refused_in_one_line_that_says_how_to_fix_it(tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hello.txt", "not a presentation")
    reason = refusal(tmp_path, "deck.pptx", archive.getvalue())
    assert reason.startswith("is not a readable PowerPoint file (")
    assert reason.endswith("save it as .pptx again")
    assert refusal(tmp_path, "noise.pptx", random.Random(3).randbytes(3000)).startswith(
        "is not a PowerPoint .pptx file (not a valid zip archive)"
    )


# ---- spreadsheets -------------------------------------------------------------------------------------


def test_an_xlsx_row_becomes_header_value_pairs_per_sheet_and_formulas_never_show():
    extracted = extract_text(Path("book.xlsx"), make_xlsx())
    assert extracted.text == (
        "Region: North; Q1: 10; Q2: 14\nRegion: South; Q1: 8\nRegion: Total\n\nName: Ada; Role: Engineer"
    )
    assert "SUM" not in extracted.text


def test_an_xlsx_offset_names_its_sheet():
    extracted = extract_text(Path("book.xlsx"), make_xlsx())
    assert part_of(extracted, "Q1: 8") == (1, "sheet Sales")
    assert part_of(extracted, "Role: Engineer") == (2, "sheet Staff")


def test_a_broken_xlsx_and_an_old_xls_are_refused_with_what_to_do(tmp_path):
    truncated = make_xlsx()[:500]
    assert "not a valid zip archive" in refusal(tmp_path, "cut.xlsx", truncated)
    ole2 = archives.OLE2_MAGIC + bytes(600)
    assert "old-style Excel .xls file" in refusal(tmp_path, "old.xlsx", ole2)


def test_a_csv_row_becomes_header_value_pairs_with_its_delimiter_sniffed(tmp_path):
    data = b"Name;City;Age\nAda;London;36\nGrace;;85\n"
    document = load_file(write(tmp_path / "people.csv", data), tmp_path, MAX_BYTES)
    assert document.text == "Name: Ada; City: London; Age: 36\nName: Grace; Age: 85"
    assert document.pages == ()


def test_a_csv_column_without_a_header_is_named_by_its_letter(tmp_path):
    extracted = extract_text(Path("t.csv"), b"id,\n1,left over\n")
    assert extracted.text == "id: 1; B: left over"


def test_a_binary_file_named_csv_is_refused_as_not_text(tmp_path):
    assert "binary file" in refusal(tmp_path, "data.csv", bytes(range(256)) * 8)


# ---- e-books ---------------------------------------------------------------------------------------


def test_an_epub_gives_its_chapters_in_spine_order_each_named_by_its_title():
    extracted = extract_text(Path("book.epub"), make_epub())
    assert extracted.text.index("The pears were sold") < extracted.text.index("Rain flattened")
    assert part_of(extracted, "The pears were sold in Leeds.") == (1, "chapter 1: The Harvest")
    assert part_of(extracted, "Rain flattened the barley.") == (2, "chapter 2: The Storm")


def test_a_broken_epub_is_refused_in_one_line(tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip")
    reason = refusal(tmp_path, "book.epub", archive.getvalue())
    assert reason.startswith("is not a readable EPUB e-book (")
    assert reason.endswith("as .epub (without DRM)")


# ---- zip bombs -------------------------------------------------------------------------------------


def bomb(real_bytes: int, declared: int | None = None) -> bytes:
    """A zip holding one member of `real_bytes` zeros (deflated to almost nothing); with `declared`,
    its headers lie about the size, as a crafted bomb's do."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", b"\0" * real_bytes)
    data = bytearray(out.getvalue())
    if declared is not None:
        for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            at = data.index(signature)
            struct.pack_into("<I", data, at + size_at, declared)
    return bytes(data)


@pytest.mark.parametrize("name", ["bomb.docx", "bomb.pptx", "bomb.xlsx", "bomb.epub"])
def test_a_zip_declaring_more_than_the_limit_is_refused_before_extraction(tmp_path, monkeypatch, name):
    monkeypatch.setattr(archives, "MAX_UNPACKED_BYTES", 1_000_000)
    reason = refusal(tmp_path, name, bomb(2_000_000))
    assert reason.startswith("unpacks to 2 MB, too large to read safely")


def test_a_zip_that_lies_about_its_size_is_refused_by_what_it_actually_inflates_to(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MAX_UNPACKED_BYTES", 1_000_000)
    data = bomb(3_000_000, declared=1000)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sum(i.file_size for i in zf.infolist()) == 1000  # the lie the headers tell
    reason = refusal(tmp_path, "liar.xlsx", data)
    assert "although it declares 0 MB (a zip bomb?)" in reason


def test_the_default_limit_refuses_a_zip_declaring_600_mb(tmp_path):
    reason = refusal(tmp_path, "bomb.docx", bomb(600_000_000 // 1000, declared=600_000_000))
    assert reason.startswith("unpacks to 600 MB, too large to read safely")
