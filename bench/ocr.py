"""OCR and PDF clean-up, measured on the bundled article.

    python -m bench.ocr [--out docs/results/ocr.json] [--skip-eval]

1. Scanned: the article (corpus/) is drawn with Pillow onto 10 A4 pages at 150 dpi, made to look scanned
   (grey paper, noise, a slight skew, JPEG), and put into a PDF with fpdf2: a PDF with no text layer.
   `qa.loaders` reads it through OCR (an empty cache, so every page is recognised) and the benchmark
   prints the character error rate against the text drawn on each page (whitespace runs count as one
   space; the edit distance over the original's length) and the pages recognised per second. Then the
   article's development questions (`qa eval --dataset article`, extractive answerer) are asked of the
   OCR'd text and of the original, and the right answers counted.
2. Furnished: the article set as a 10-page PDF with a running header, a footer with page numbers, and
   words hyphenated at line ends (fpdf2). The same questions are asked of its text as pypdf gives it
   (before cleaning) and as qa.loaders gives it (after), against the plain text: right answers, top-5
   passages (of all answerable questions) holding a header or footer line, and citations with a word
   split by a line-end hyphen.

Questions whose evidence no longer occurs verbatim in a text (OCR errors, split words) keep their
question and expected facts but lose their gold span, so retrieval hits count them as misses.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import random
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, quiet_logging, start_run
from qa.answerers import QUOTING

log = logging.getLogger("bench.ocr")

ARTICLE = ROOT / "corpus" / "china-us-relations-in-cyberspace.txt"
PAGES = 10
DPI = 150
A4_MM = (210, 297)
HEADER = "The Diplomat - China Power"
FOOTER = "Reprinted for review - page {page} of {pages}"


# ---- the article on pages -------------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def deal(lines: list[str], pages: int) -> list[list[str]]:
    """Laid-out lines ("" between paragraphs) dealt onto `pages` pages of about equal length."""
    per_page = -(-len(lines) // pages)
    dealt = [lines[i : i + per_page] for i in range(0, len(lines), per_page)]
    return [[line for line in page] for page in dealt if any(page)]


def page_truth(page: list[str]) -> str:
    """The words drawn on a page, as one line: what OCR should read there."""
    return " ".join(" ".join(page).split())


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


SCAN_SIZE = 25  # pixels: 12 pt type at 150 dpi
SCAN_MARGIN = round(20 / 25.4 * DPI)  # 20 mm


def scan_lines(paras: list[str]) -> list[str]:
    """The article wrapped to an A4 text width at 150 dpi in Pillow's font, "" between paragraphs."""
    from PIL import Image, ImageDraw

    width = round(A4_MM[0] / 25.4 * DPI) - 2 * SCAN_MARGIN
    draw, font = ImageDraw.Draw(Image.new("L", (1, 1))), _font(SCAN_SIZE)
    lines: list[str] = []
    for para in paras:
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=font) > width and line:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.extend([line, ""])
    return lines


def render_scan(page: list[str], seed: int) -> Any:
    """One page at 150 dpi: its lines drawn, then grey paper, specks, a slight skew and blur."""
    from PIL import Image, ImageDraw, ImageFilter

    width, height = (round(mm / 25.4 * DPI) for mm in A4_MM)
    font = _font(SCAN_SIZE)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    y = SCAN_MARGIN
    for line in page:
        if line:
            draw.text((SCAN_MARGIN, y), line, font=font, fill=20)
            y += round(SCAN_SIZE * 1.45)
        else:
            y += SCAN_SIZE
    rng = random.Random(seed)
    noisy = image.point(lambda v: max(0, min(255, v - 18)))  # grey paper
    for _ in range(width * height // 60):  # specks
        noisy.putpixel((rng.randrange(width), rng.randrange(height)), rng.randrange(120, 256))
    skewed = noisy.rotate(rng.uniform(-0.6, 0.6), fillcolor=237, resample=Image.Resampling.BILINEAR)
    return skewed.filter(ImageFilter.GaussianBlur(0.6))


def scanned_pdf(pages: list[list[str]]) -> bytes:
    """A PDF of one JPEG scan per page and no text layer."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    for number, page in enumerate(pages, start=1):
        buffer = io.BytesIO()
        render_scan(page, seed=number).save(buffer, format="JPEG", quality=75)
        pdf.add_page()
        pdf.image(buffer, x=0, y=0, w=A4_MM[0], h=A4_MM[1])
    return bytes(pdf.output())


UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_ASCII = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "..."})


def furnished_pdf(paras: list[str], pages: int) -> tuple[bytes, str]:
    """A text PDF of `pages` pages with a running header, a numbered footer, and long words hyphenated
    at line ends; and the font it used (DejaVu when installed, else Helvetica with quotes and dashes
    made ASCII, which only the core fonts' encoding lacks)."""
    from fpdf import FPDF

    class Report(FPDF):
        def header(self) -> None:
            self.set_font(family, size=9)
            self.cell(0, 6, HEADER, new_x="LMARGIN", new_y="NEXT")
            self.ln(4)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font(family, size=9)
            self.cell(0, 6, FOOTER.format(page=self.page_no(), pages=pages), align="C")

    pdf = Report(unit="mm", format="A4")
    if UNICODE_FONT.exists():
        pdf.add_font("dejavu", fname=str(UNICODE_FONT))
        family = "dejavu"
    else:
        family, paras = "helvetica", [p.translate(_ASCII) for p in paras]
    pdf.set_auto_page_break(False)
    pdf.set_font(family, size=11)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    lines: list[str] = []
    for para in paras:
        lines.extend([*hyphenated_lines(para, pdf.get_string_width, width), ""])
    for page in deal(lines, pages):
        pdf.add_page()
        pdf.set_font(family, size=11)
        for line in page:
            if line:
                pdf.cell(0, 5.5, line, new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.ln(3)
    return bytes(pdf.output()), family


def hyphenated_lines(para: str, measure: Any, width: float) -> list[str]:
    """Greedy line filling that splits a word of 7+ letters which does not fit, as typesetters do."""
    lines: list[str] = []
    line = ""
    for word in para.split():
        trial = f"{line} {word}".strip()
        if measure(trial) <= width:
            line = trial
            continue
        if len(word) >= 7 and word.isalpha():
            for cut in range(len(word) - 3, 2, -1):
                head = f"{line} {word[:cut]}-".strip()
                if measure(head) <= width:
                    lines.append(head)
                    line = word[cut:]
                    break
            else:
                lines.append(line)
                line = word
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


# ---- measuring ------------------------------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), row by row."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def squeeze(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Asked:
    right: int  # answerable questions answered with their facts, unanswerable ones declined
    correct: int  # answerable questions answered with their facts
    questions: int
    hit_at_5: float | None
    furniture_in_top5: int
    split_words_in_citations: int


def ask_all(name: str, text: str) -> Asked:
    """The article's development questions asked of `text` (indexed alone, extractive answerer)."""
    from qa.evaluation import ARTICLE_CASES, SEARCH_DEPTH, Dataset, cases_from_jsonl, evaluate, indexed

    documents = {ARTICLE.name: text}
    dataset = Dataset(name, documents, cases_from_jsonl(ARTICLE_CASES, documents, strict=False))
    figures = evaluate(dataset, QUOTING)
    furniture = split = 0
    with indexed(dataset, QUOTING) as (assistant, _):
        for case in dataset.cases:
            if not case.answerable:
                continue
            for passage in assistant.search(case.question, k=min(5, SEARCH_DEPTH)):
                if HEADER in passage.text or "Reprinted for review" in passage.text:
                    furniture += 1
            answer = assistant.ask(case.question)
            split += sum(1 for c in answer.citations if _split_word(c.text))
    answerable = figures.answerable
    correct = round((figures.has_correct or 0) * answerable)
    right = round((figures.accuracy or 0) * figures.questions)
    return Asked(right, correct, figures.questions, figures.hit_at_5, furniture, split)


def _split_word(text: str) -> bool:
    return bool(re.search(r"[a-z]-\s*\n\s*[a-z]", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="Also write the JSON result here.")
    parser.add_argument("--skip-eval", action="store_true", help="Only OCR accuracy and speed.")
    args = parser.parse_args()
    quiet_logging()
    run = start_run()

    from qa.loaders import decode_text, extract_text
    from qa.ocr import Recogniser

    original = decode_text(ARTICLE.read_bytes())
    pages = deal(scan_lines(paragraphs(original)), PAGES)
    scan = scanned_pdf(pages)
    result: dict[str, Any] = {"benchmark": "ocr", "pages": len(pages), "dpi": DPI, "scan_bytes": len(scan)}

    saved = os.environ.get("QA_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="qa-ocr-bench-") as cache:
        os.environ["QA_CACHE_DIR"] = cache  # an empty OCR cache: every page is recognised
        try:
            Recogniser.engine()  # model loading is not per page
            started = time.perf_counter()
            extracted = extract_text(Path("scan.pdf"), scan, ocr=True)
            seconds = time.perf_counter() - started
        finally:  # the evaluation's embedding model keeps its usual cache
            if saved is None:
                os.environ.pop("QA_CACHE_DIR", None)
            else:
                os.environ["QA_CACHE_DIR"] = saved
    errors = length = 0
    bounds = [start for start, _ in extracted.pages] + [len(extracted.text)]
    per_page = []
    for index, page in enumerate(pages):
        truth = page_truth(page)
        got = (
            squeeze(extracted.text[bounds[index] : bounds[index + 1]]) if index < len(extracted.pages) else ""
        )
        distance = edit_distance(truth, got)
        per_page.append(round(distance / max(len(truth), 1), 4))
        errors += distance
        length += len(truth)
    result["scanned"] = {
        "cer": round(errors / length, 4),
        "cer_per_page": per_page,
        "ocr_seconds": round(seconds, 2),
        "pages_per_second": round(len(pages) / seconds, 3),
        "pages_recognised": len(extracted.ocr_pages),
    }
    log.info("scanned: CER %.4f, %.2f pages/s", errors / length, len(pages) / seconds)

    furnished, font = furnished_pdf(paragraphs(original), PAGES)
    raw = _raw_pdf_text(furnished)
    cleaned = extract_text(Path("furnished.pdf"), furnished, ocr=False).text
    result["furnished"] = {
        "font": font,
        "header_lines_before": raw.count(HEADER),
        "header_lines_after": cleaned.count(HEADER),
        "hyphen_breaks_before": len(re.findall(r"[a-z]-\s*\n\s*[a-z]", raw)),
        "hyphen_breaks_after": len(re.findall(r"[a-z]-\s*\n\s*[a-z]", cleaned)),
    }
    if not args.skip_eval:
        for name, text in (
            ("plain", original),
            ("scanned_ocr", extracted.text),
            ("furnished_before_cleaning", raw),
            ("furnished_after_cleaning", cleaned),
        ):
            asked = ask_all(name, text)
            result.setdefault("answers", {})[name] = asked.__dict__
            log.info("%s: %s", name, asked)
    emit(result, run, args.out)


def _raw_pdf_text(data: bytes) -> str:
    """What qa read from a PDF before the clean-up: pypdf's text of each page, joined by a blank line."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n\n".join(t.strip() for page in reader.pages if (t := page.extract_text() or "").strip())


if __name__ == "__main__":
    main()
