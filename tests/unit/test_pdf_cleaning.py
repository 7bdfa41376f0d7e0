"""PDF text without its page furniture: running headers, footers and page numbers dropped, words
hyphenated at line ends made whole, paragraphs kept; offsets still index the (cleaned) text and map to
pages. Also the rule that sends a garbage text layer to OCR, and the version that makes old indexes
re-read PDFs whose text changed."""

from __future__ import annotations

from pathlib import Path

from qa.files import file_sha256
from qa.loaders import document_version, extract_text
from qa.loaders.pdf import clean_pages, furniture, garbled, join_hyphenated
from qa.models import page_at

BODIES = [
    "Talks on cyber-\nsecurity opened in Geneva.\n\nThe delegates met twice.",
    "Trade came next.\nBoth sides pledged to keep talking.",
    "A joint statement followed.\nIt named a working group.",
    "The group reports in May.\nIts first topic is data.",
]


def make_furnished_pdf(bodies: list[str]) -> bytes:
    """A real PDF (fpdf2) with a running header, a footer with the page number, and the bodies."""
    from fpdf import FPDF

    class Report(FPDF):
        def header(self) -> None:
            self.set_font("helvetica", size=9)
            self.cell(0, 8, "Acme Quarterly Review - Confidential", new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()} of {len(bodies)}")

    pdf = Report()
    for body in bodies:
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        for line in body.split("\n"):
            pdf.multi_cell(0, 8, line or " ", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_running_headers_footers_and_page_numbers_are_dropped_and_the_body_is_kept():
    extracted = extract_text(Path("review.pdf"), make_furnished_pdf(BODIES))
    assert "Acme Quarterly Review" not in extracted.text
    assert "Page " not in extracted.text
    for phrase in ("opened in Geneva.", "Both sides pledged", "It named a working group.", "first topic"):
        assert phrase in extracted.text


def test_a_word_hyphenated_at_a_line_end_is_whole_in_the_pdf_text():
    extracted = extract_text(Path("review.pdf"), make_furnished_pdf(BODIES))
    assert "cybersecurity" in extracted.text
    assert "cyber-" not in extracted.text


def test_cleaned_pdf_offsets_still_map_to_their_pages():
    extracted = extract_text(Path("review.pdf"), make_furnished_pdf(BODIES))
    for number, phrase in enumerate(["The delegates met", "Trade came next", "joint statement", "data."], 1):
        assert page_at(extracted.pages, extracted.text.index(phrase)) == number


def test_a_hyphenated_word_moves_whole_onto_the_first_line_and_the_rest_keeps_its_line():
    assert (
        join_hyphenated("talks on cyber-\nsecurity opened\nthere") == "talks on cybersecurity\nopened\nthere"
    )
    assert join_hyphenated("end of cyber-\nsecurity\nnext") == "end of cybersecurity\nnext"


def test_a_hyphen_before_a_capital_or_a_number_is_kept():
    assert join_hyphenated("the Sino-\nAmerican talks") == "the Sino-\nAmerican talks"
    assert join_hyphenated("in 2019-\n2020") == "in 2019-\n2020"


def test_a_blank_line_between_paragraphs_survives_cleaning():
    pages = [
        "Head\nFirst paragraph.\n\nSecond paragraph.\nFoot 1",
        "Head\nMore.\nFoot 2",
        "Head\nEnd.\nFoot 3",
    ]
    assert clean_pages(pages)[0] == "First paragraph.\n\nSecond paragraph."


def test_a_line_repeated_in_the_middle_of_pages_is_not_furniture():
    pages = [f"Top {n}\nintro\nintro\nintro\nYes.\nmiddle\nmore\nend\nclose\nlast {n}" for n in range(4)]
    assert "yes." not in furniture(pages)
    assert all("Yes." in page for page in clean_pages(pages))


def test_two_pages_are_too_few_to_call_a_repeated_line_furniture():
    assert furniture(["Header\nOne.", "Header\nTwo."]) == set()


def test_a_text_layer_of_cid_codes_or_private_use_glyphs_is_garbage_and_prose_is_not():
    prose = "The two countries agreed to hold talks on cybersecurity in the spring of next year."
    assert not garbled(prose)
    assert garbled("(cid:3)(cid:71)(cid:82)(cid:70) (cid:88)(cid:80)(cid:72)(cid:81)(cid:87) " * 4)
    assert garbled("\ue000\ue001\ue002 \ue003\ue004 " * 10)
    assert garbled("Tkx zbp xqrwmf hgtzz dqlkm tppz xkcd gzzt plmn qrst vwxz bcdf ghjk lmnp qrst")


def test_a_plain_format_keeps_its_file_hash_as_version_and_a_pdfs_changes_with_its_extraction():
    digest = file_sha256(b"hello")
    assert document_version(digest, ".txt", ocr=True) == digest
    assert document_version(digest, ".pptx", ocr=False) == digest
    on, off = document_version(digest, ".pdf", ocr=True), document_version(digest, ".pdf", ocr=False)
    assert len({digest, on, off}) == 3


def test_a_word_hyphenated_across_a_page_break_is_made_whole_on_the_first_page():
    pages = ["Top\nthe supp-", "Top\norting evidence\nfollows", "Top\nlast page"]
    assert clean_pages(pages)[:2] == ["the supporting", "evidence\nfollows"]
