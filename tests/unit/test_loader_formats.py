"""PDF, Word, HTML and legacy-encoded text: real files made in tmp_path, text in order, offsets that map
to pages, and every bad file refused with one clear line instead of a traceback."""

from __future__ import annotations

import codecs
import io
import random
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf.enums import EncryptionMethod
from helpers import make_pdf

from qa.loaders import (
    SUPPORTED_SUFFIXES,
    Extracted,
    decode_text,
    extract_text,
    list_corpus,
    load_corpus,
    load_file,
)
from qa.models import page_at

MAX_BYTES = 10_000_000
PAGES = [
    "The first page talks about apples.\nApples grow on trees in orchards.",
    "Page two is about bananas.\nBananas are picked green.",
    "The third page covers cherries.\nCherries are small and red.",
]


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Quarterly report", level=1)
    document.add_paragraph("Sales rose in the north.")
    document.add_paragraph("")  # a spacer paragraph: no line of its own
    table = document.add_table(rows=3, cols=3)
    for row, values in enumerate([("Region", "Q1", "Q2"), ("North", "10", "14"), ("South", "8", "")]):
        for col, value in enumerate(values):
            table.cell(row, col).text = value
    document.add_heading("Outlook", level=2)
    document.add_paragraph("We expect growth.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def refusal(tmp_path: Path, name: str, data: bytes) -> str:
    """The reason a user would see for this file; fails the test if the file is accepted."""
    path = write(tmp_path / name, data)
    with pytest.raises(ValueError) as caught:
        load_file(path, tmp_path, MAX_BYTES)
    reason = str(caught.value)
    assert reason and "\n" not in reason and "Traceback" not in reason
    return reason


# ---- PDF ---------------------------------------------------------------------------------------


@pytest.fixture
def three_pages(tmp_path: Path) -> tuple[Path, Extracted]:
    path = write(tmp_path / "fruit.pdf", make_pdf(list(PAGES)))
    return path, extract_text(path, path.read_bytes())


def test_a_three_page_pdf_yields_each_pages_text_joined_by_a_blank_line(three_pages):
    _, extracted = three_pages
    assert extracted.text == "\n\n".join(PAGES)


def test_a_pdf_records_where_each_page_starts(three_pages):
    _, extracted = three_pages
    first, second = len(PAGES[0]) + 2, len(PAGES[0]) + 2 + len(PAGES[1]) + 2
    assert extracted.pages == ((0, 1), (first, 2), (second, 3))


def test_page_starts_slice_the_text_back_into_each_pages_text(three_pages):
    _, extracted = three_pages
    starts = [start for start, _ in extracted.pages]
    ends = [start - 2 for start in starts[1:]] + [len(extracted.text)]
    assert [extracted.text[s:e] for s, e in zip(starts, ends, strict=True)] == PAGES


def test_page_at_names_the_page_of_every_offset_inside_each_pages_text(three_pages):
    _, extracted = three_pages
    for number, page_text in enumerate(PAGES, start=1):
        start = extracted.text.index(page_text)
        for offset in (start, start + len(page_text) // 2, start + len(page_text) - 1):
            assert page_at(extracted.pages, offset) == number
    cherries = extracted.text.index("Cherries are small")
    assert page_at(extracted.pages, cherries) == 3


def test_page_at_is_none_without_pages_or_before_the_first_page():
    assert page_at((), 0) is None
    assert page_at(((5, 2),), 4) is None
    assert page_at(((5, 2),), 5) == 2


def test_load_file_returns_a_pdf_document_with_its_page_starts(three_pages, tmp_path):
    path, extracted = three_pages
    document = load_file(path, tmp_path, MAX_BYTES)
    pages = document.pages
    assert document.source == "fruit.pdf"
    assert document.text == extracted.text
    assert document.size == len(path.read_bytes())
    assert pages == extracted.pages


def test_a_loaded_pdf_document_carries_its_page_starts(three_pages, tmp_path):
    path, extracted = three_pages
    document = load_file(path, tmp_path, MAX_BYTES)
    assert (
        document.pages
        == extracted.pages
        == ((0, 1), (len(PAGES[0]) + 2, 2), (len(PAGES[0]) + len(PAGES[1]) + 4, 3))
    )


def test_load_file_gives_no_pages_for_a_text_file(tmp_path):
    path = write(tmp_path / "notes.txt", b"Plain notes.\n")
    document = load_file(path, tmp_path, MAX_BYTES)
    pages = document.pages
    assert document.text == "Plain notes.\n"
    assert pages == ()


def test_a_pdf_page_without_text_is_left_out_and_later_pages_keep_their_numbers(tmp_path):
    extracted = extract_text(tmp_path / "gap.pdf", make_pdf([PAGES[0], None, PAGES[2]]))
    assert extracted.text == PAGES[0] + "\n\n" + PAGES[2]
    assert extracted.pages == ((0, 1), (len(PAGES[0]) + 2, 3))
    assert page_at(extracted.pages, extracted.text.index("cherries")) == 3


def test_a_pdf_with_only_a_drawn_rectangle_is_refused_as_having_nothing_to_recognise(tmp_path):
    reason = refusal(tmp_path, "drawing.pdf", make_pdf([None, None]))
    assert reason.startswith("has no extractable text and OCR found none in its images")


def test_with_ocr_off_a_pdf_without_text_is_refused_as_scanned_with_ocr_advice(tmp_path):
    path = write(tmp_path / "scan.pdf", make_pdf([None, None]))
    with pytest.raises(ValueError) as caught:
        load_file(path, tmp_path, MAX_BYTES, ocr=False)
    assert (
        str(caught.value)
        == "has no extractable text (a scanned PDF?); run OCR on it first, or set QA_OCR=auto"
    )


@pytest.mark.parametrize(
    "data",
    [
        random.Random(1).randbytes(4000),
        b"%PDF-1.7\n" + random.Random(2).randbytes(4000),
        make_pdf(list(PAGES))[:300],
    ],
    ids=["random bytes", "a PDF header and then junk", "a real PDF cut short"],
)
def test_a_damaged_pdf_is_refused_with_what_to_do(tmp_path, data):
    reason = refusal(tmp_path, "broken.pdf", data)
    assert reason.startswith("is not a readable PDF (")
    assert reason.endswith("download or export it again")


def test_a_password_protected_pdf_is_refused_and_asks_for_an_unprotected_copy(tmp_path):
    data = make_pdf([PAGES[0]], owner_password="owner", user_password="secret")
    reason = refusal(tmp_path, "locked.pdf", data)
    assert "password-protected PDF" in reason
    assert "without the password" in reason


@pytest.mark.parametrize(
    "method", [EncryptionMethod.RC4, EncryptionMethod.AES_128], ids=["RC4", "AES-128 (needs cryptography)"]
)
def test_a_pdf_encrypted_only_against_editing_opens_like_a_viewer_would(tmp_path, method):
    data = make_pdf([PAGES[0]], owner_password="owner", encryption_method=method)
    assert extract_text(tmp_path / "restricted.pdf", data).text == PAGES[0]


def test_a_pdf_whose_every_page_fails_is_refused_by_page_count_not_as_scanned(tmp_path, monkeypatch):
    from pypdf import PageObject

    def broken(self, *args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(PageObject, "extract_text", broken)
    reason = refusal(tmp_path, "deep.pdf", make_pdf(list(PAGES)))
    assert reason.startswith("is a PDF whose pages could not be read (3 of 3 failed: RecursionError)")


# ---- Word .docx --------------------------------------------------------------------------------


def test_a_docx_gives_headings_paragraphs_and_table_rows_in_document_order(tmp_path):
    extracted = extract_text(tmp_path / "report.docx", make_docx())
    assert extracted.text == (
        "Quarterly report\n"
        "Sales rose in the north.\n"
        "Region | Q1 | Q2\n"
        "North | 10 | 14\n"
        "South | 8\n"
        "Outlook\n"
        "We expect growth."
    )
    assert extracted.pages == ()


def test_a_merged_docx_cell_is_read_once_and_a_nested_table_follows_its_row(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "Spanning header"
    table.cell(1, 0).text = "left"
    table.cell(1, 1).add_table(rows=1, cols=2).cell(0, 1).text = "inner"
    table.cell(1, 2).text = "right"
    out = io.BytesIO()
    document.save(out)
    assert extract_text(tmp_path / "t.docx", out.getvalue()).text == "Spanning header\nleft | right\ninner"


def test_a_zip_of_junk_named_docx_is_refused_as_not_a_word_document(tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("junk.bin", random.Random(3).randbytes(200))
        zf.writestr("notes.txt", "not a word document")
    reason = refusal(tmp_path, "fake.docx", archive.getvalue())
    assert reason.startswith("is not a readable Word document (")
    assert "save it as .docx again" in reason


def test_random_bytes_named_docx_are_refused_as_not_a_zip(tmp_path):
    reason = refusal(tmp_path, "noise.docx", random.Random(4).randbytes(2000))
    assert reason.startswith("is not a Word .docx file (not a valid zip archive)")


def test_an_old_doc_file_renamed_docx_is_refused_by_name(tmp_path):
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    assert "old-style Word .doc file" in refusal(tmp_path, "old.docx", ole2)


def test_a_docx_with_only_empty_paragraphs_is_refused_as_empty(tmp_path):
    document = docx.Document()
    document.add_paragraph("   ")
    document.add_paragraph("")
    out = io.BytesIO()
    document.save(out)
    assert refusal(tmp_path, "blank.docx", out.getvalue()).startswith("is empty")


# ---- HTML --------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head>
  <meta charset="utf-8"><title>Fish &amp; Chips</title>
  <style>body { color: red } .secret::after { content: "styled away" }</style>
  <script>var leaked = "<p>script text</p>";</script>
</head>
<body>
  <!-- a comment nobody sees -->
  <h1>Fish &amp; Chips</h1>
  <p>Hot   and
     crispy&nbsp;today, <b>bold</b>ly <a href="/menu">linked</a>.</p>
  <noscript>Please enable JavaScript</noscript>
  <template><p>template text</p></template>
  <ul>
    <li>Cod
      <ul><li>Battered</li><li>Grilled</li></ul>
    </li>
    <li>Haddock &lt;fresh&gt;</li>
  </ul>
  <table><tr><th>Item</th><th>Price</th></tr><tr><td>Chips</td><td>&pound;3</td></tr></table>
  <script>alert(1)</script>
  <p>Closed on Sundays<br>Open till late</p>
</body></html>
"""


def test_html_gives_only_the_visible_text_in_reading_order(tmp_path):
    text = extract_text(tmp_path / "menu.html", PAGE.encode("utf-8")).text
    assert text == (
        "Fish & Chips\n"
        "\n"
        "Hot and crispy\u00a0today, boldly linked.\n"
        "\n"
        "Cod\n"
        "Battered\n"
        "Grilled\n"
        "Haddock <fresh>\n"
        "\n"
        "Item | Price\n"
        "Chips | £3\n"
        "\n"
        "Closed on Sundays\n"
        "Open till late"
    )


def test_html_script_style_comments_and_hidden_templates_leave_no_trace(tmp_path):
    text = extract_text(tmp_path / "menu.htm", PAGE.encode("utf-8")).text
    for hidden in (
        "alert",
        "leaked",
        "script text",
        "color",
        "styled away",
        "comment",
        "JavaScript",
        "template",
    ):
        assert hidden not in text
    assert "<" not in text.replace("<fresh>", "")


def test_the_html_title_becomes_the_first_line_when_the_page_does_not_start_with_it(tmp_path):
    page = b"<html><head><title>Opening hours</title></head><body><p>Daily from nine.</p></body></html>"
    assert extract_text(tmp_path / "hours.html", page).text == "Opening hours\n\nDaily from nine."


def test_an_svg_tooltip_title_in_the_body_is_not_taken_for_the_page_title(tmp_path):
    page = b"<body><svg><title>icon</title><rect/></svg><p>Hello there.</p></body>"
    assert extract_text(tmp_path / "icon.html", page).text == "Hello there."


def test_preformatted_html_keeps_its_line_breaks_and_indentation(tmp_path):
    page = b"<p>Example:</p><pre>\ndef f():\n    return 1\n\n\nf()\n</pre><p>Done.</p>"
    text = extract_text(tmp_path / "code.html", page).text
    assert text == "Example:\n\ndef f():\n    return 1\n\nf()\n\nDone."


@pytest.mark.parametrize("label", ["windows-1252", "iso-8859-1"])
def test_html_declaring_a_legacy_charset_is_decoded_with_it(tmp_path, label):
    page = f'<meta charset="{label}"><p>caf\u00e9 \u201cquoted\u201d</p>'.encode("cp1252")
    assert extract_text(tmp_path / "old.html", page).text == "caf\u00e9 \u201cquoted\u201d"


def test_html_without_a_declared_charset_falls_back_to_detection(tmp_path):
    page = "<p>Le café était fermé – naïve ‘quotes’.</p>".encode("cp1252")
    assert extract_text(tmp_path / "old.html", page).text == "Le café était fermé – naïve ‘quotes’."


def test_html_with_nothing_visible_is_refused_as_empty(tmp_path):
    page = b"<html><head><script>alert(1)</script></head><body> <!-- x --> </body></html>"
    assert refusal(tmp_path, "blank.html", page) == "is empty: it has no visible text, only markup or scripts"


def test_an_unexpected_parser_failure_becomes_a_one_line_reason(tmp_path, monkeypatch):
    from qa import loaders

    def explode(self, data):
        raise AssertionError("parser invariant")

    monkeypatch.setattr(loaders._VisibleText, "feed", explode)
    assert refusal(tmp_path, "odd.html", b"<p>fine</p>") == "could not be read as HTML: AssertionError"


# ---- text encodings ----------------------------------------------------------------------------

FRENCH = "Le café était fermé – naïve ‘quotes’ and “more”, déjà vu.\n"
RUSSIAN = (
    "Съешь же ещё этих мягких французских булок, да выпей чаю. "
    "Широкая электрификация южных губерний даст мощный толчок подъёму сельского хозяйства.\n"
)
JAPANESE = "日本語のテキストです。これは文字コードの検出テストのための文章です。東京は日本の首都です。\n"


POLISH = "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig.\n"
CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy. Ještě řeřicha roste v zahradě u řeky.\n"
TURKISH = "Pijamalı hasta yağız şoföre çabucak güvendi. Türkçe metin örneği burada.\n"
GREEK = "Η γρήγορη καφετιά αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.\n"
KOREAN = "대한민국은 동아시아에 있는 나라이다. 서울은 수도이며 가장 큰 도시이다.\n" * 2
CHINESE = "中华人民共和国是一个位于东亚的国家。北京是中国的首都，上海是最大的城市。\n" * 2
BOM_CASES = [
    pytest.param(FRENCH, FRENCH.encode("utf-8"), id="utf-8"),
    pytest.param(FRENCH, codecs.BOM_UTF8 + FRENCH.encode("utf-8"), id="utf-8 with BOM"),
    pytest.param(FRENCH, codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le"), id="utf-16-le with BOM"),
    pytest.param(FRENCH, codecs.BOM_UTF16_BE + FRENCH.encode("utf-16-be"), id="utf-16-be with BOM"),
    pytest.param(FRENCH, codecs.BOM_UTF32_LE + FRENCH.encode("utf-32-le"), id="utf-32-le with BOM"),
    pytest.param(FRENCH, codecs.BOM_UTF32_BE + FRENCH.encode("utf-32-be"), id="utf-32-be with BOM"),
]
LEGACY_CASES = [
    pytest.param(text, text.encode(codec), id=f"{codec} {label}")
    for label, text, codec in [
        ("short", "café – naïve ‘quotes’", "cp1252"),
        ("French", FRENCH, "cp1252"),
        ("French", "Ça ne va pas.", "latin-1"),
        ("German", "Größere Übungen für Bären, weiß.", "cp1252"),
        ("Spanish", "¿Dónde está el niño? Año nº 5.", "cp1252"),
        ("Russian", RUSSIAN, "koi8-r"),
        ("Russian", RUSSIAN, "cp1251"),
        ("Japanese", JAPANESE, "shift_jis"),
        ("Japanese", JAPANESE, "euc-jp"),
        ("Chinese", CHINESE, "gbk"),
        ("Korean", KOREAN, "euc-kr"),
        ("Greek", GREEK, "cp1253"),
        ("Polish", POLISH, "cp1250"),
        ("Czech", CZECH, "cp1250"),
        ("Turkish", TURKISH, "cp1254"),
    ]
]


@pytest.mark.parametrize(("text", "data"), BOM_CASES + LEGACY_CASES)
def test_text_files_in_each_encoding_decode_to_the_original_text(tmp_path, text, data):
    path = write(tmp_path / "doc.txt", data)
    assert load_file(path, tmp_path, MAX_BYTES).text == text


def test_markdown_is_decoded_by_the_same_rules_and_otherwise_unchanged(tmp_path):
    markdown = "# Café\n\n* naïve `code`  \n"
    path = write(tmp_path / "notes.md", markdown.encode("cp1252"))
    assert load_file(path, tmp_path, MAX_BYTES).text == markdown


def test_utf8_with_one_stray_legacy_byte_stays_utf8_with_a_replacement_character():
    text = "Naïve café, résumé, déjà vu and façade. " * 3
    decoded = decode_text(text.encode("utf-8") + b"It\x92s stray.")
    assert decoded == text + "It\ufffds stray."


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(b or 1 for b in random.Random(5).randbytes(3000)),
        bytes(b or 1 for b in random.Random(6).randbytes(3000)),
        b"\x01\x02\x03 some words \x04\x05\x06\x07\x08 and \x0e\x0f\x10\x11 more",
    ],
    ids=["PNG header and random bytes without NULs", "random bytes without NULs", "control characters"],
)
def test_binary_data_named_txt_is_refused_not_decoded_as_a_legacy_encoding(tmp_path, data):
    reason = refusal(tmp_path, "image.txt", data)
    assert reason.startswith("looks like a binary file (")
    assert "not text" in reason


def test_a_file_with_nul_bytes_is_refused_as_binary(tmp_path):
    assert "NUL bytes" in refusal(tmp_path, "blob.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def test_high_bytes_in_no_recognisable_encoding_are_refused_with_a_save_as_utf8_hint(tmp_path):
    junk = bytes(b for b in random.Random(7).randbytes(9000) if b >= 0x80)[:3000]
    reason = refusal(tmp_path, "junk.txt", junk)
    assert "save it as UTF-8" in reason


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("spaces.txt", b"   \n\t\r\n  \f"),
        ("empty.md", b""),
        ("wide.txt", codecs.BOM_UTF16_LE + " \n \t ".encode("utf-16-le")),
        ("blank.pdf", b"\n\n"),
    ],
    ids=["whitespace .txt", "empty .md", "whitespace UTF-16", "blank .pdf"],
)
def test_an_empty_or_whitespace_only_file_is_refused_as_empty(tmp_path, name, data):
    assert refusal(tmp_path, name, data) == "is empty (no text to index)"


# ---- the corpus ----------------------------------------------------------------------------------


def test_every_advertised_format_is_listed_and_other_types_name_the_supported_ones(tmp_path):
    for suffix in SUPPORTED_SUFFIXES:
        write(tmp_path / f"doc{suffix}", b"x")
    write(tmp_path / "slides.key", b"x")
    files, skipped = list_corpus(tmp_path)
    assert sorted(p.suffix for p in files) == sorted(SUPPORTED_SUFFIXES)
    assert {".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".epub"} < set(
        SUPPORTED_SUFFIXES
    )
    assert [(s.source, s.reason) for s in skipped] == [
        (
            "slides.key",
            "unsupported file type .key; supported: .txt, .md, .html, .htm, .pdf, .docx, .pptx, .xlsx, .csv, "
            ".epub, .png, .jpg, .jpeg, .tif, .tiff",
        )
    ]


def test_a_corpus_of_every_format_loads_the_good_files_and_names_each_bad_one(tmp_path):
    write(tmp_path / "fruit.pdf", make_pdf(list(PAGES)))
    write(tmp_path / "report.docx", make_docx())
    write(tmp_path / "menu.html", PAGE.encode("utf-8"))
    write(tmp_path / "legacy.txt", FRENCH.encode("cp1252"))
    write(tmp_path / "scan.pdf", make_pdf([None]))
    write(tmp_path / "fake.docx", b"PK\x03\x04 not really")
    write(
        tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n" + bytes(b or 1 for b in random.Random(8).randbytes(500))
    )
    documents, skipped = load_corpus(tmp_path, MAX_BYTES)
    assert sorted(d.source for d in documents) == ["fruit.pdf", "legacy.txt", "menu.html", "report.docx"]
    assert sorted(s.source for s in skipped) == ["fake.docx", "image.txt", "scan.pdf"]
    assert all("\n" not in s.reason for s in skipped)


def corruptions(data: bytes, seed: int, count: int) -> list[bytes]:
    """Damaged copies of a real file: truncated, bytes overwritten, a block zeroed or shuffled."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        damaged = bytearray(data)
        kind = rng.randrange(4)
        if kind == 0:
            damaged = damaged[: rng.randrange(len(damaged))]
        elif kind == 1:
            for _ in range(rng.randrange(1, 20)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        elif kind == 2:
            start = rng.randrange(len(damaged))
            damaged[start : start + rng.randrange(1, 400)] = bytes(min(400, len(damaged) - start))
        else:
            start = rng.randrange(len(damaged))
            block = damaged[start : start + 300]
            rng.shuffle(block)
            damaged[start : start + 300] = block
        out.append(bytes(damaged))
    return out


@pytest.mark.parametrize(
    ("name", "original"),
    [
        ("fuzz.pdf", make_pdf(list(PAGES))),
        ("fuzz.docx", make_docx()),
        ("fuzz.html", PAGE.encode("utf-8")),
        ("fuzz.txt", (FRENCH * 5).encode("cp1252")),
    ],
    ids=["pdf", "docx", "html", "txt"],
)
def test_damaged_files_are_either_read_or_refused_with_a_one_line_value_error(tmp_path, name, original):
    path = tmp_path / name
    for data in corruptions(original, seed=len(name), count=40):
        path.write_bytes(data)
        try:
            document = load_file(path, tmp_path, MAX_BYTES)
        except ValueError as exc:  # anything else escaping fails the test
            assert str(exc) and "\n" not in str(exc)
        else:
            assert document.text.strip()
            document.text.encode("utf-8")  # storable: no lone surrogates


def test_random_bytes_under_any_supported_name_raise_only_a_one_line_value_error(tmp_path):
    rng = random.Random(9)
    refused: dict[str, int] = {}
    for suffix in SUPPORTED_SUFFIXES:
        path = tmp_path / f"noise{suffix}"
        for size in (1, 7, 64, 1000):
            path.write_bytes(rng.randbytes(size))
            try:
                load_file(path, tmp_path, MAX_BYTES)
            except ValueError as exc:  # anything else escaping fails the test
                assert str(exc) and "\n" not in str(exc)
                refused[suffix] = refused.get(suffix, 0) + 1
    assert refused[".pdf"] == 4 and refused[".docx"] == 4
