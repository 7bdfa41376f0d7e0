"""Paths of the shipped data, and deterministic embeddings for fast tests.

The fakes are real subclasses of `qa.embeddings.PackagedMiniLM` (and so of LangChain's `Embeddings`):
they go through the same Chroma store, keyword index and evidence scoring as the packaged model.
"""

from __future__ import annotations

import hashlib
import io
import socket
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.embeddings import PackagedMiniLM
from qa.loaders import decode_text
from qa.support import FEATURES, SupportModel
from qa.text import terms

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "corpus"
ARTICLE_SOURCE = "china-us-relations-in-cyberspace.txt"
ARTICLE_PATH = CORPUS_DIR / ARTICLE_SOURCE


def read_document(path: Path) -> str:
    """A corpus file's text exactly as qa.loaders decodes it: what citation offsets index into."""
    return decode_text(path.read_bytes())


def hand_set_model(
    bias: float, threshold: float = 0.5, confident: float = 0.7, **weights: float
) -> SupportModel:
    """A support model with hand-set weights on raw (unscaled) features, for tests that must not
    depend on the fitted one (whose features assume the real MiniLM, not a stand-in)."""
    n = len(FEATURES)
    w = tuple(weights.get(name, 0.0) for name in FEATURES)
    return SupportModel(FEATURES, (0.0,) * n, (1.0,) * n, w, bias, threshold, confident)


# Answers unless the question has a word no document contains or lacks the kind of answer it asks for.
STRICT_MODEL = hand_set_model(bias=4.0, absent_names=-10.0, absent_words=-10.0, type_missing=-10.0)


class HashingEmbeddings(PackagedMiniLM):
    """A deterministic stand-in for MiniLM: content terms hashed into 384 dimensions, unit length.

    Texts that share terms are similar, texts that share none nearly orthogonal. No model is loaded."""

    name = "test-hashing"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, -1] = 0.01  # never a zero vector (cosine distance of zero vectors is undefined)
            for term in terms(text):
                digest = hashlib.blake2b(term.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % (self.dimension - 1)] += 1.0
            out[row] /= np.linalg.norm(out[row])
        return out


class MiniLMStandIn(HashingEmbeddings):
    """Records MiniLM's name in the manifest, so an Assistant accepts an index it built."""

    name = PackagedMiniLM.name


class ScriptedEmbeddings(PackagedMiniLM):
    """Embeddings whose cosine similarity to the query is chosen by the test.

    `similarity(text)` gives each text's cosine with the query direction; the query itself (any text
    for which it returns None) points straight along that direction."""

    name = "test-scripted"

    def __init__(self, similarity: Callable[[str], float | None]) -> None:
        super().__init__()
        self.similarity = similarity

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            cos = self.similarity(text)
            cos = 1.0 if cos is None else cos
            out[row, 0] = cos
            out[row, 1] = np.sqrt(max(0.0, 1.0 - cos * cos))
        return out


# Two small documents beside the article, for tests that add, edit and remove documents.
# The JSON shape of an answer (DESIGN.md), in its order: `qa ask --json`, the HTTP API and MCP.
ANSWER_KEYS = ["answer", "answerable", "citations", "nearest", "query", "mode", "support", "short", "kind"]

QUOKKAS = (
    "Quokkas of Rottnest Island\n\n"
    "The quokka is a small marsupial that lives on Rottnest Island near Perth. "
    "Visitors photograph quokkas because the animals appear to smile.\n"
)
WOMBATS = (
    "# Wombats\n\n"
    "Wombats are burrowing marsupials native to Australia. "
    "A wombat produces cube-shaped droppings, which it uses to mark its territory.\n"
)


def stored_chunk_count(assistant: Any) -> int:
    """How many chunks the live generation's Chroma collection holds, listed by the manifest or not."""
    snapshot = assistant.store.open()  # also drops Chroma's per-process cache: what is stored now
    return assistant.store.storage.count_chunks(snapshot.generation)


def manifest_chunk_total(assistant: Any) -> int:
    return sum(d.chunks for d in assistant.documents())


def stop(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """Terminate a server the tests started, killing it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def make_pdf(pages: list[str | None], **encryption: object) -> bytes:
    """A real PDF (made with fpdf2): one page per entry, its lines as text, or only a filled rectangle
    for None."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text is None:
            pdf.rect(20, 20, 120, 80, style="F")
            continue
        for line in text.split("\n"):
            pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    if encryption:
        pdf.set_encryption(**encryption)  # type: ignore[arg-type]
    return bytes(pdf.output())


def free_port() -> int:
    """A loopback port nothing listens on right now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- documents of the newer formats, made with the libraries that write them ------------------------


def make_pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "Harvest plan"
    first.placeholders[1].text_frame.text = "Apples are picked in September."
    first.notes_slide.notes_text_frame.text = "Mention the orchard in Kent."
    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Prices"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (row, col), value in {(0, 0): "Fruit", (0, 1): "Price", (1, 0): "Pears", (1, 1): "3 euros"}.items():
        table.cell(row, col).text = value
    deck.slides.add_slide(deck.slide_layouts[6])  # blank: no text, no part
    fourth = deck.slides.add_slide(deck.slide_layouts[6])
    box = fourth.shapes.add_textbox(Inches(1), Inches(1), Inches(5), Inches(1))
    box.text_frame.text = "Cherries ripen in June."
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def make_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sales = book.active
    sales.title = "Sales"
    sales.append(["Region", "Q1", "Q2"])
    sales.append(["North", 10, 14.0])
    sales.append(["South", 8, None])
    sales.append(["Total", "=SUM(B2:B3)", None])  # a formula: never shown as its text
    staff = book.create_sheet("Staff")
    staff.append(["Name", "Role"])
    staff.append(["Ada", "Engineer"])
    book.create_sheet("Empty")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def make_epub() -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("qa-test-book")
    book.set_title("Orchard tales")
    book.set_language("en")
    one = epub.EpubHtml(title="The Storm", file_name="one.xhtml", lang="en")
    one.content = "<html><body><h1>The Storm</h1><p>Rain flattened the barley.</p></body></html>"
    two = epub.EpubHtml(title="The Harvest", file_name="two.xhtml", lang="en")
    two.content = "<html><body><h1>The Harvest</h1><p>The pears were sold in Leeds.</p></body></html>"
    for chapter in (one, two):
        book.add_item(chapter)
    book.toc = [epub.Link("one.xhtml", "The Storm", "one"), epub.Link("two.xhtml", "The Harvest", "two")]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = [two, one]  # reading order is the spine's, not the files'
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()
