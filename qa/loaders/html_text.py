""".html, .htm: the visible text, one line per block element.

HTML stays ours (docs/results/libraries.json): inscriptis fails 3/10 HTML tests; selectolax: parser only.
"""

from __future__ import annotations

import codecs
import logging
import re
from html.parser import HTMLParser

from .base import Extracted, clean
from .plain import _BOMS, _refuse_control_characters, decode_text

log = logging.getLogger(__name__)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SKIPPED_TAGS = {"script", "style", "noscript", "template"}
_HEAD_TAGS = {"title", "meta", "link", "style", "script", "noscript", "base", "template"}
_PARAGRAPH_TAGS = {  # a blank line before and after
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "figure", "hr", "section",
    "article", "header", "footer", "main", "nav", "aside", "form", "fieldset", "details", "address", "dl",
}  # fmt: skip
_LINE_TAGS = {  # a line of their own
    "br", "div", "li", "dt", "dd", "tr", "caption", "figcaption", "summary", "legend", "option", "body",
    "html", "center", "menu",
}  # fmt: skip
_LIST_TAGS = {"ul", "ol"}
_CELL_TAGS = {"td", "th"}
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")  # HTML's whitespace: a no-break space is not collapsed


class _VisibleText(HTMLParser):
    """Collects what a browser would show, as lines. Inline whitespace collapses to one space; block
    elements end lines; paragraphs, headings and tables are set apart by a blank line so that the
    chunker sees their ends; table cells on one row are joined by " | "."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.title = ""
        self._line: list[str] = []
        self._line_is_pre = False
        self._gap = False  # a blank line is due before the next line
        self._skip = 0  # depth inside script, style, noscript, template
        self._in_head = False
        self._in_body = False  # a <title> after this is an SVG tooltip, not the page's title
        self._in_title = False
        self._pre = 0
        self._lists = 0
        self._cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip += 1
            return
        if tag == "head":
            self._in_head = True
            return
        if tag == "title":
            self._in_title = True
            return
        if tag not in _HEAD_TAGS and tag != "html":  # <body> or any body element ends the head
            self._in_head = False
            self._in_body = True
        if self._skip or self._in_head:
            return
        if tag in _LIST_TAGS:
            self._break(gap=self._lists == 0)
            self._lists += 1
        elif tag in _PARAGRAPH_TAGS:
            self._break(gap=True)
            if tag == "pre":
                self._pre += 1
        elif tag in _LINE_TAGS:
            self._break(gap=False)
            if tag == "tr":
                self._cells = 0
        elif tag in _CELL_TAGS:
            if self._cells and "".join(self._line).strip():
                self._line.append(" | ")
            self._cells += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip = max(0, self._skip - 1)
            return
        if tag == "head":
            self._in_head = False
            return
        if tag == "title":
            self._in_title = False
            return
        if self._skip or self._in_head:
            return
        if tag in _LIST_TAGS:
            self._lists = max(0, self._lists - 1)
            self._break(gap=self._lists == 0)
        elif tag in _PARAGRAPH_TAGS:
            self._break(gap=True)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag in _LINE_TAGS:
            self._break(gap=False)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            if not self.title and not self._in_body:
                self.title = _HTML_SPACE.sub(" ", data).strip()
            return
        if self._in_head:
            if not data.strip():
                return
            self._in_head = False  # text in the head starts the body, as in a browser
            self._in_body = True
        if not self._pre:
            self._line.append(data)
            return
        *complete, rest = data.split("\n")
        for piece in complete:
            self._line.append(piece)
            self._line_is_pre = True
            self._break(gap=False)
        self._line.append(rest)
        self._line_is_pre = True

    def close(self) -> None:
        super().close()
        self._break(gap=False)

    def _break(self, gap: bool) -> None:
        """End the current line, if it has any text, and note whether a blank line should follow."""
        raw = "".join(self._line)
        line = raw.rstrip() if self._line_is_pre else _HTML_SPACE.sub(" ", raw).strip(" ")
        if self._line_is_pre and not line:
            gap = True  # a blank line inside <pre> stays a blank line
        self._line = []
        self._line_is_pre = False
        if line.strip():
            if self._gap and self.lines:
                self.lines.append("")
            self.lines.append(line)
            self._gap = False
        self._gap = self._gap or gap


def _decode_html(data: bytes) -> str:
    """A byte order mark wins, then a <meta charset> (as browsers do), then the plain-text rules."""
    if not data.startswith(tuple(bom for bom, _ in _BOMS)):
        declared = _declared_charset(data[:4096])
        if declared:
            try:
                text = data.decode(declared)
            except UnicodeDecodeError:
                log.info("HTML declares charset %s but is not valid %s; detecting", declared, declared)
            else:
                _refuse_control_characters(text)
                return text
    return decode_text(data)


def _declared_charset(head: bytes) -> str | None:
    match = _META_CHARSET.search(head)
    if not match:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None
    if name in {"latin-1", "iso8859-1", "ascii"}:
        return "cp1252"  # what browsers do: these labels mean windows-1252 on the web
    if name.startswith(("utf-16", "utf-32")):
        return None  # a page that could say so in ASCII is not UTF-16; browsers ignore it too
    return name


def extract_html(data: bytes) -> Extracted:
    """.html, .htm: only what a reader sees, so no script, style or markup is embedded or cited.
    The page title becomes the first line unless the page already starts with it."""
    parser = _VisibleText()
    parser.feed(_decode_html(data))
    parser.close()
    lines = parser.lines
    if parser.title and (not lines or lines[0] != parser.title):
        lines = [parser.title, "", *lines] if lines else [parser.title]
    return Extracted(clean("\n".join(lines)))
