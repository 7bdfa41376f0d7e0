""".pdf: the text of each page, cleaned of page furniture, pages joined by a blank line.

A page whose text layer is missing (a scan) or garbage (by `garbled`, fitted by bench/garbage_text.py)
is recognised by OCR from the images on it, when OCR is on. The cleaning, on every page's text:
- lines that repeat on most pages near their top or bottom (running headers, footers, page numbers,
  digits counting as one) are dropped;
- a word hyphenated at a line end is joined ("cyber-\\nsecurity" -> "cybersecurity\\n"), when the next
  line goes on in lower case; the rest of the line keeps its own line;
- every other line break and blank line is kept, so paragraphs stay apart.
Offsets index the cleaned text, and `pages` says where each page starts in it.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .base import Extracted, PageProgress, Part, UnreadableFile, clean, join_parts

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

EDGE_LINES = 3  # furniture is looked for in this many lines at the top and at the bottom of a page
MIN_PAGES_FOR_FURNITURE = 3  # fewer pages and a repeat proves nothing
FURNITURE_SHARE = 0.5  # a line on more than this share of pages is furniture

# The measured rule for a garbage text layer (bench/garbage_text.py fits these on held-out text,
# docs/results/garbage_text.json): too many characters no text is made of, or too few word-like tokens.
GARBAGE_MIN_CHARS = 40  # shorter text layers are judged by the first test only
GARBAGE_MAX_ODD_SHARE = 0.5
GARBAGE_MIN_WORDLIKE_SHARE = 0.8

SCANNED = "has no extractable text (a scanned PDF?); run OCR on it first, or set QA_OCR=auto"


def extract_pdf(data: bytes, ocr: bool = True, progress: PageProgress | None = None) -> Extracted:
    """Pages without text (after OCR, when on) are left out of both the text and `pages`, so every
    offset maps to the page it came from."""
    reader = _open(data)
    count = len(reader.pages)
    layers: list[str | None] = []
    failures: list[str] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            layers.append(clean(page.extract_text() or ""))
        except Exception as exc:  # one bad page should not cost the others
            log.warning(
                "PDF page %d could not be read (%s); its text is left out", number, type(exc).__name__
            )
            failures.append(type(exc).__name__)
            layers.append(None)
    texts = [text or "" for text in layers]
    recognised: set[int] = set()
    if ocr:
        wanted = [
            i for i, text in enumerate(layers) if text is not None and (not text.strip() or garbled(text))
        ]
        recognised = _recognise_pages(data, reader, wanted, texts, progress)
    if not any(t.strip() for t in texts):
        if failures:
            raise UnreadableFile(
                f"is a PDF whose pages could not be read ({len(failures)} of {count} failed: {failures[0]}); "
                "download or export it again"
            )
        if not ocr:
            raise UnreadableFile(SCANNED)
        raise UnreadableFile(
            "has no extractable text and OCR found none in its images (blank pages, drawings or an "
            "illegible scan); export it again with its text, or scan it at a higher resolution"
        )
    cleaned = clean_pages(texts)
    return join_parts([Part(n, t, ocr=n - 1 in recognised) for n, t in enumerate(cleaned, start=1)])


def _open(data: bytes) -> Any:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))  # also tries the empty password, as viewers do
        count = len(reader.pages)
    except FileNotDecryptedError as exc:
        raise UnreadableFile(
            "is a password-protected PDF; save a copy without the password and add that instead"
        ) from exc
    except DependencyError as exc:
        raise UnreadableFile(
            "is an encrypted PDF that needs the 'cryptography' package to open; install it "
            "(pip install cryptography) or save an unencrypted copy"
        ) from exc
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise UnreadableFile(
            f"is not a readable PDF ({type(exc).__name__}: damaged, incomplete or not really a PDF); "
            "download or export it again"
        ) from exc
    if count == 0:
        raise UnreadableFile("is a PDF with no pages")
    return reader


def _recognise_pages(
    data: bytes, reader: Any, wanted: Sequence[int], texts: list[str], progress: PageProgress | None
) -> set[int]:
    """OCR the pages at indexes `wanted` from their images, replacing their text in `texts` when OCR
    finds some; the indexes it replaced."""
    from .. import ocr
    from ..files import file_sha256

    digest = file_sha256(data)
    done: set[int] = set()
    for step, index in enumerate(wanted, start=1):
        key = ocr.cache_key(digest, f"page {index + 1}")
        text = ocr.cached(key)
        if text is None:
            try:
                images = _page_images(reader.pages[index])
                text = ocr.recognise(images, key) if images else ""
            except Exception as exc:  # a broken image or an engine failure costs this page only
                log.warning(
                    "OCR of PDF page %d failed (%s); page left as it is", index + 1, type(exc).__name__
                )
                text = ""
        if text.strip():
            texts[index] = clean(text)
            done.add(index)
        if progress:
            progress(step, len(wanted))
    return done


def _page_images(page: Any) -> list[Image]:
    """The images drawn on a page, largest first (a scan is one image covering the page)."""
    images = [image.image for image in page.images if image.image is not None]
    return sorted(images, key=lambda im: -(im.size[0] * im.size[1]))


# ---- a garbage text layer -------------------------------------------------------------------------

_CID = re.compile(r"\(cid:\d+\)")
_TOKEN = re.compile(r"\S+")
_WORDLIKE = re.compile(r"^[\"'(\[“‘]*[^\W\d_]+(?:[-'’][^\W\d_]+)*[\"')\]”’.,;:!?]*$")
_VOWELS = set("aeiouyAEIOUYàáâäãåèéêëìíîïòóôöõùúûüýÀÁÂÄÃÅÈÉÊËÌÍÎÏÒÓÔÖÕÙÚÛÜÝæøœÆØŒ")


def _odd(ch: str) -> bool:
    """A character no ordinary text layer is made of: private use, unassigned, replacement, control."""
    return (unicodedata.category(ch) in {"Co", "Cn", "Cc", "Cs"} and ch not in "\n\t\r") or ch == "\ufffd"


def garble_features(text: str) -> tuple[float, float]:
    """(share of odd characters, share of tokens that read as words), the two features of the rule."""
    text = _CID.sub("\ufffd", text)
    chars = [ch for ch in text if not ch.isspace()]
    odd = sum(_odd(ch) for ch in chars) / max(len(chars), 1)
    tokens = _TOKEN.findall(text)
    wordlike = sum(1 for t in tokens if _reads_as_word(t)) / max(len(tokens), 1)
    return odd, wordlike


def _reads_as_word(token: str) -> bool:
    if not _WORDLIKE.match(token):
        return token.isdigit() or bool(re.fullmatch(r"[\d.,:%$€£/-]+", token))
    letters = [ch for ch in token if ch.isalpha()]
    if not all(ord(ch) < 0x250 for ch in letters):  # not Latin: no vowel test
        return True
    return len(letters) <= 3 or any(ch in _VOWELS for ch in letters)


def garbled(text: str) -> bool:
    """Whether a page's text layer is garbage (a font without a usable character map, broken
    encodings), so that OCR reads the page better than the layer does."""
    odd, wordlike = garble_features(text)
    if odd > GARBAGE_MAX_ODD_SHARE:
        return True
    return len(text.strip()) >= GARBAGE_MIN_CHARS and wordlike < GARBAGE_MIN_WORDLIKE_SHARE


# ---- cleaning ---------------------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_HYPHENATED = re.compile(r"([^\W\d_])-\n([a-zà-ÿ][^\W\d_]*)([ \t]+|(?=\n)|$)")


def _furniture_key(line: str) -> str:
    """A line as it repeats: case, spacing and numbers ("Page 3 of 10") do not matter."""
    return _DIGITS.sub("#", _SPACES.sub(" ", line.strip().lower()))


def _edges(lines: list[str]) -> set[int]:
    """Indexes of the first and last `EDGE_LINES` non-blank lines of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return set(filled[:EDGE_LINES] + filled[-EDGE_LINES:])


def furniture(pages: Sequence[str]) -> set[str]:
    """Keys of the lines that repeat near the top or bottom of most pages."""
    with_text = [p for p in pages if p.strip()]
    if len(with_text) < MIN_PAGES_FOR_FURNITURE:
        return set()
    seen: Counter[str] = Counter()
    for page in with_text:
        lines = page.split("\n")
        seen.update({_furniture_key(lines[i]) for i in _edges(lines)})
    return {key for key, n in seen.items() if key and n > FURNITURE_SHARE * len(with_text)}


def join_hyphenated(text: str) -> str:
    """ "cyber-\\nsecurity is" -> "cybersecurity\\nis": the word made whole on the first line."""
    return _HYPHENATED.sub(lambda m: m.group(1) + m.group(2) + ("\n" if m.group(3) else ""), text)


_PAGE_END_HYPHEN = re.compile(r"[^\W\d_]-$")
_PAGE_START_WORD = re.compile(r"^([a-zà-ÿ][^\W\d_]*)[ \t]*\n?")


def clean_pages(pages: Sequence[str]) -> list[str]:
    """Each page's text without furniture lines and with hyphenated words joined, also across a page
    break: the word is made whole at the end of the page where it starts."""
    repeated = furniture(pages)
    cleaned = []
    for page in pages:
        lines = page.split("\n")
        edges = _edges(lines)
        kept = [
            line for i, line in enumerate(lines) if i not in edges or _furniture_key(line) not in repeated
        ]
        cleaned.append(join_hyphenated("\n".join(kept)).strip())
    for i in range(len(cleaned) - 1):
        following = next((j for j in range(i + 1, len(cleaned)) if cleaned[j]), None)
        if following is None or not _PAGE_END_HYPHEN.search(cleaned[i]):
            continue
        rest = _PAGE_START_WORD.match(cleaned[following])
        if rest:
            cleaned[i] = cleaned[i][:-1] + rest.group(1)
            cleaned[following] = cleaned[following][rest.end() :].lstrip()
    return cleaned
