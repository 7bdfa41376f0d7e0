"""OCR with the packaged rapidocr models on pages rendered here, and the new formats asked about end to
end (real MiniLM, real Chroma): citations name the slide, sheet or chapter, point at exact offsets, and
say when their text was recognised by OCR, through `--json` shapes and the evidence panel's words."""

from __future__ import annotations

import io
import shutil
import socket
from pathlib import Path

import pytest
from helpers import make_epub, make_pptx, make_xlsx

from qa import Assistant
from qa import ocr as recognition
from qa.loaders import extract_text, load_file
from qa.models import OCR_NOTE

pytestmark = pytest.mark.integration

LINES = ["Quarterly inspection report", "The orchard in Kent produced", "four hundred crates of pears."]


def rendered_page(lines: list[str], size: int = 40) -> bytes:
    """A PNG of black text on white at about 150 dpi, drawn by Pillow."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    image = Image.new("L", (1240, 120 + len(lines) * size * 2), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((80, 60 + i * size * 2), line, font=font, fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def scanned_pdf(pages: list[bytes]) -> bytes:
    """A PDF whose pages are only images (no text layer), as a scanner makes."""
    from fpdf import FPDF

    pdf = FPDF()
    for png in pages:
        pdf.add_page()
        pdf.image(io.BytesIO(png), x=10, y=10, w=190)
    return bytes(pdf.output())


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))


def words(text: str) -> set[str]:
    return {w.strip(".,").lower() for w in text.split()}


def test_ocr_of_a_rendered_image_finds_its_text_and_marks_the_page_as_recognised():
    extracted = extract_text(Path("note.png"), rendered_page(LINES))
    expected = words(" ".join(LINES))
    assert len(expected & words(extracted.text)) >= len(expected) - 1
    assert extracted.ocr_pages == (1,)


def test_a_scanned_pdf_is_read_by_ocr_page_by_page_with_offsets_into_the_recognised_text(tmp_path):
    data = scanned_pdf([rendered_page(LINES[:1]), rendered_page(LINES[1:])])
    seen: list[tuple[int, int]] = []
    extracted = extract_text(Path("scan.pdf"), data, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]
    assert extracted.ocr_pages == (1, 2)
    assert [page for _, page in extracted.pages] == [1, 2]
    pears = extracted.text.lower().index("pears")
    assert pears > extracted.pages[1][0]  # on page 2


def test_with_ocr_off_a_scanned_pdf_keeps_the_clear_refusal(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(scanned_pdf([rendered_page(LINES)]))
    with pytest.raises(ValueError, match=r"no extractable text \(a scanned PDF\?\).*QA_OCR=auto"):
        load_file(path, tmp_path, 10_000_000, ocr=False)


def test_ocr_runs_once_per_document_version_and_then_reads_its_cache(tmp_path, monkeypatch):
    data = rendered_page(LINES)
    first = extract_text(Path("note.png"), data)
    assert list((tmp_path / "cache" / "ocr").rglob("*.txt"))

    def no_engine(*args, **kwargs):
        raise AssertionError("OCR ran again for a version it has already read")

    monkeypatch.setattr(recognition.Recogniser, "boxes", no_engine)
    assert extract_text(Path("again.png"), data).text == first.text


def test_rapidocr_loads_its_models_from_its_own_package_without_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("OCR tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(recognition.Recogniser, "_engine", None)
    extracted = extract_text(Path("offline.png"), rendered_page(LINES[:1]))
    assert "inspection" in extracted.text.lower()


@pytest.fixture(scope="module")
def formats_assistant(tmp_path_factory):
    """Every new format uploaded the way the web chat uploads (`Assistant.add`) into one index."""
    root = tmp_path_factory.mktemp("formats")
    uploads = root / "uploads"
    uploads.mkdir()
    files = {
        "deck.pptx": make_pptx(),
        "book.xlsx": make_xlsx(),
        "tales.epub": make_epub(),
        "scan.pdf": scanned_pdf([rendered_page(LINES)]),
    }
    for name, data in files.items():
        (uploads / name).write_bytes(data)
    corpus = root / "corpus"
    corpus.mkdir()
    assistant = Assistant(corpus_dir=corpus, index_dir=root / "index", answerer="extractive")
    stages: list[str] = []
    report = assistant.add(
        sorted(uploads.iterdir()), progress=lambda stage, done, total: stages.append(stage)
    )
    assert not report.skipped and sorted(report.added) == sorted(files)
    assert "ocr" in stages
    yield assistant, corpus
    shutil.rmtree(root, ignore_errors=True)


def cited(assistant, question: str, source: str, phrase: str):
    """The citation of `source` that quotes `phrase` in the answer to `question`."""
    answer = assistant.ask(question)
    assert answer.answerable, answer.text
    matching = [c for c in answer.citations if c.source == source and phrase.lower() in c.text.lower()]
    assert matching, [(c.source, c.text) for c in answer.citations]
    return matching[0]


@pytest.mark.parametrize(
    ("question", "source", "section", "phrase"),
    [
        (
            "Where is the orchard we should mention?",
            "deck.pptx",
            "slide 1",
            "Kent",
        ),
        ("What is the role of Ada on the staff?", "book.xlsx", "sheet Staff", "Engineer"),
        ("In which city were the pears sold?", "tales.epub", "chapter 1: The Harvest", "Leeds"),
    ],
)
def test_an_uploaded_file_is_answered_with_a_citation_naming_its_part(
    formats_assistant, question, source, section, phrase
):
    assistant, corpus = formats_assistant
    citation = cited(assistant, question, source, phrase)
    assert citation.section == section and not citation.ocr
    document = load_file(corpus / source, corpus, 10_000_000)
    assert document.text[citation.start : citation.end] == citation.text
    assert citation.to_dict()["section"] == section


def test_a_passage_from_a_scan_says_its_text_was_recognised_by_ocr(formats_assistant):
    from qa.ui.render import located

    assistant, corpus = formats_assistant
    passages = [p for p in assistant.search("How many crates of pears did the orchard produce?") if p.ocr]
    assert passages and passages[0].source == "scan.pdf" and passages[0].page == 1
    citation = cited(
        assistant, "How many crates of pears did the orchard in Kent produce?", "scan.pdf", "crates"
    )
    assert citation.ocr and citation.page == 1 and citation.to_dict()["ocr"] is True
    document = load_file(corpus / "scan.pdf", corpus, 10_000_000)
    assert document.text[citation.start : citation.end] == citation.text
    where = located(citation)
    assert where.endswith(OCR_NOTE)
