"""Files -> Documents: text exactly as decoded; unusable files are skipped by name with a reason.

Other formats and legacy encodings: test_loader_formats.py."""

from __future__ import annotations

import codecs
import hashlib

import pytest

from qa.errors import CorpusError
from qa.loaders import decode_text, load_corpus, load_file

TEXT = "Café “quoted” text\u00a0with NBSP,\r\nCRLF lines and an emoji 🚀.\n"
MAX_BYTES = 1_000_000


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    ],
    ids=["utf-8", "utf-8 with BOM", "utf-16-le with BOM", "utf-16-be with BOM"],
)
def test_text_files_decode_to_the_same_text_without_a_byte_order_mark(data):
    assert decode_text(data) == TEXT


def test_a_utf32_file_with_a_bom_is_decoded_not_misread_as_utf16():
    data = codecs.BOM_UTF32_LE + "Hello world.\n".encode("utf-32-le")
    assert decode_text(data) == "Hello world.\n"


def test_nul_bytes_mark_a_file_as_binary():
    with pytest.raises(ValueError, match="NUL"):
        decode_text(b"PK\x03\x04\x00\x00binary")


def test_invalid_utf8_that_is_really_windows_1252_is_decoded_as_such():
    assert decode_text("café".encode("latin-1") + b" ok") == "café ok"


def test_truly_binary_junk_without_nul_bytes_is_still_refused():
    with pytest.raises(ValueError, match="binary file"):
        decode_text(bytes(range(1, 256)) * 4)


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def mixed_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus / "good.txt", TEXT.encode("utf-8"))
    write(corpus / "notes.md", b"# Notes\n\nSome *markdown* text.\n")
    write(corpus / "bom.txt", codecs.BOM_UTF8 + b"With a BOM.\n")
    write(corpus / "wide.txt", codecs.BOM_UTF16_LE + "UTF-16 text.\n".encode("utf-16-le"))
    write(corpus / "sub" / "deeper" / "nested.TXT", b"Nested file with an upper-case suffix.\n")
    write(corpus / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(corpus / "latin1.txt", "Ça ne va pas.".encode("latin-1"))
    write(corpus / "empty.txt", b"")
    write(corpus / "blank.md", b" \n\t\r\n  \n")
    write(corpus / "report.pdf", b"%PDF-1.4 fake")
    write(corpus / "slides.key", b"PK\x03\x04")
    write(corpus / "Makefile", b"all:\n")
    write(corpus / "README.md", b"# About this folder\n")
    write(corpus / ".hidden.txt", b"hidden\n")
    write(corpus / ".git" / "config.txt", b"hidden folder\n")
    return corpus


def test_a_mixed_corpus_loads_the_usable_files_and_skips_the_others_by_name(mixed_corpus):
    documents, skipped = load_corpus(mixed_corpus, MAX_BYTES)
    assert sorted(d.source for d in documents) == [
        "bom.txt",
        "good.txt",
        "latin1.txt",
        "notes.md",
        "sub/deeper/nested.TXT",
        "wide.txt",
    ]
    reasons = {s.source: s.reason for s in skipped}
    assert sorted(reasons) == ["Makefile", "binary.txt", "blank.md", "empty.txt", "report.pdf", "slides.key"]
    assert "NUL" in reasons["binary.txt"]
    assert "empty" in reasons["empty.txt"] and "empty" in reasons["blank.md"]
    assert reasons["report.pdf"].startswith("is not a readable PDF")
    assert "unsupported file type .key" in reasons["slides.key"]
    assert "(none)" in reasons["Makefile"]
    assert all("\n" not in r for r in reasons.values())


def test_readme_and_hidden_files_and_folders_are_neither_loaded_nor_reported(mixed_corpus):
    documents, skipped = load_corpus(mixed_corpus, MAX_BYTES)
    names = {d.source for d in documents} | {s.source for s in skipped}
    assert not {n for n in names if "README" in n or n.startswith(".") or "/." in n}


def test_document_text_is_the_decoded_file_unchanged(mixed_corpus):
    documents, _ = load_corpus(mixed_corpus, MAX_BYTES)
    by_source = {d.source: d for d in documents}
    assert by_source["good.txt"].text == TEXT  # CRLF, NBSP, curly quotes and emoji all kept
    assert by_source["bom.txt"].text == "With a BOM.\n"
    assert by_source["wide.txt"].text == "UTF-16 text.\n"
    assert by_source["latin1.txt"].text == "Ça ne va pas."


def test_a_document_records_the_hash_and_size_of_its_file_bytes(mixed_corpus):
    documents, _ = load_corpus(mixed_corpus, MAX_BYTES)
    good = next(d for d in documents if d.source == "good.txt")
    data = (mixed_corpus / "good.txt").read_bytes()
    assert good.sha256 == hashlib.sha256(data).hexdigest()
    assert good.size == len(data)


def test_a_file_over_the_size_limit_is_refused_with_the_setting_to_change(tmp_path):
    path = write(tmp_path / "big.txt", b"x" * 2000)
    with pytest.raises(ValueError, match=r"over the 0.001 MB limit; raise QA_MAX_FILE_MB"):
        load_file(path, tmp_path, max_bytes=1000)


def test_a_file_over_the_size_limit_is_skipped_and_the_rest_loads(tmp_path):
    write(tmp_path / "big.txt", b"x " * 1000)
    write(tmp_path / "small.txt", b"small\n")
    documents, skipped = load_corpus(tmp_path, max_bytes=1000)
    assert [d.source for d in documents] == ["small.txt"]
    assert [s.source for s in skipped] == ["big.txt"]


def test_a_missing_corpus_folder_raises_a_corpus_error_that_says_what_to_do(tmp_path):
    with pytest.raises(CorpusError, match=r"does not exist.*QA_CORPUS_DIR") as caught:
        load_corpus(tmp_path / "nowhere", MAX_BYTES)
    assert "\n" not in str(caught.value)


def test_a_corpus_path_that_is_a_file_raises_a_corpus_error(tmp_path):
    path = write(tmp_path / "file.txt", b"text\n")
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        load_corpus(path, MAX_BYTES)


def test_an_empty_corpus_folder_loads_nothing_and_skips_nothing(tmp_path):
    assert load_corpus(tmp_path, MAX_BYTES) == ([], [])
