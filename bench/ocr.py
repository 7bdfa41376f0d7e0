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


def split_pages(paras: list[str], pages: int) -> list[list[str]]:
    """Paragraphs dealt onto `pages` pages so each holds about the same number of characters."""
    total = sum(len(p) for p in paras)
    out: list[list[str]] = [[] for _ in range(pages)]
    done = 0
    for para in paras:
        index = min(pages - 1, int(pages * done / total))
        out[index].append(para)
        done += len(para)
    return [page for page in out if page] or [[]]


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def render_scan(page_paras: list[str], seed: int) -> Any:
    """One page at 150 dpi: the paragraphs wrapped to the text width, then grey paper, noise, skew."""
    from PIL import Image, ImageDraw, ImageFilter

    width, height = (round(mm / 25.4 * DPI) for mm in A4_MM)
    margin, size = round(20 / 25.4 * DPI), 25  # 20 mm margins, 12 pt type
    font = _font(size)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    y = margin
    for para in page_paras:
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=font) > width - 2 * margin and line:
                draw.text((margin, y), line, font=font, fill=20)
                y += round(size * 1.45)
                line = word
            else:
                line = trial
        if line:
            draw.text((margin, y), line, font=font, fill=20)
            y += round(size * 1.45)
        y += size  # the gap between paragraphs
    rng = random.Random(seed)
    noisy = page.point(lambda v: max(0, min(255, v - 18)))  # grey paper
    for _ in range(width * height // 60):  # specks
        noisy.putpixel((rng.randrange(width), rng.randrange(height)), rng.randrange(120, 256))
    skewed = noisy.rotate(rng.uniform(-0.6, 0.6), fillcolor=237, resample=Image.Resampling.BILINEAR)
    return skewed.filter(ImageFilter.GaussianBlur(0.6))


def scanned_pdf(pages: list[list[str]]) -> bytes:
    """A PDF of one JPEG scan per page and no text layer."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    for number, page_paras in enumerate(pages, start=1):
        buffer = io.BytesIO()
        render_scan(page_paras, seed=number).save(buffer, format="JPEG", quality=75)
        pdf.add_page()
        pdf.image(buffer, x=0, y=0, w=A4_MM[0], h=A4_MM[1])
    return bytes(pdf.output())


def furnished_pdf(pages: list[list[str]]) -> bytes:
    """A text PDF with a running header, a numbered footer, and long words hyphenated at line ends."""
    from fpdf import FPDF

    total = len(pages)

    class Report(FPDF):
        def header(self) -> None:
            self.set_font("helvetica", size=9)
            self.cell(0, 6, HEADER, new_x="LMARGIN", new_y="NEXT")
            self.ln(4)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("helvetica", size=9)
            self.cell(0, 6, FOOTER.format(page=self.page_no(), pages=total), align="C")

    pdf = Report(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    for page_paras in pages:
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        width = pdf.w - pdf.l_margin - pdf.r_margin
        for para in page_paras:
            for line in hyphenated_lines(para, lambda s: pdf.get_string_width(s), width):
                pdf.cell(0, 5.5, line, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    return bytes(pdf.output())


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
    pages = split_pages(paragraphs(original), PAGES)
    scan = scanned_pdf(pages)
    result: dict[str, Any] = {"benchmark": "ocr", "pages": len(pages), "dpi": DPI, "scan_bytes": len(scan)}

    with tempfile.TemporaryDirectory(prefix="qa-ocr-bench-") as cache:
        os.environ["QA_CACHE_DIR"] = cache  # an empty cache: every page is recognised
        Recogniser.engine()  # model loading is not per page
        started = time.perf_counter()
        extracted = extract_text(Path("scan.pdf"), scan, ocr=True)
        seconds = time.perf_counter() - started
    errors = length = 0
    bounds = [start for start, _ in extracted.pages] + [len(extracted.text)]
    per_page = []
    for index, page_paras in enumerate(pages):
        truth = squeeze(" ".join(page_paras))
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

    furnished = furnished_pdf(pages)
    raw = _raw_pdf_text(furnished)
    cleaned = extract_text(Path("furnished.pdf"), furnished, ocr=False).text
    result["furnished"] = {
        "header_lines_before": raw.count(HEADER),
        "header_lines_after": cleaned.count(HEADER),
        "hyphen_breaks_before": len(re.findall(r"[a-z]-\n[a-z]", raw)),
        "hyphen_breaks_after": len(re.findall(r"[a-z]-\n[a-z]", cleaned)),
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
