"""What the web chat shows, as text: chat messages (Markdown), the evidence panel and the document list
(HTML), and the exported conversation (Markdown and JSON). Pure functions over `qa.models`, so every
rule about escaping lives here and is tested without a browser.

Everything that comes from a document or a user (passages, file names, questions) is escaped on the way
in: in Markdown as numeric character references, in HTML with `html.escape`. A document holding
`<script>` or `<img onerror=...>` is shown as those characters and never runs.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from qa.answerers import describe
from qa.answering import TENTATIVE_PREFIX
from qa.models import OCR_NOTE, Answer, Citation, DocumentInfo, Excerpt, Passage, place

SEARCHING = "_Searching the documents…_"
NEAREST_CHARS = 300  # a declined answer's passages are context, not evidence: a snippet is enough

# Every ASCII punctuation mark becomes a numeric character reference. That covers what HTML needs
# (& < > " ') and everything Markdown could read as syntax (* _ [ ] # > ` | ~ $ : ...), including
# autolinks, and the browser still shows the original characters.
_ENTITIES = {ord(ch): f"&#{ord(ch)};" for ch in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}
_MARKER = re.compile(r"\[(\d+)\]")
_SPACES = re.compile(r"\s+")


@dataclass
class Turn:
    """One question and its final answer, with the cited passages in their surroundings."""

    question: str
    answer: Answer
    excerpts: list[Excerpt] = field(default_factory=list)  # one per citation, in citation order
    asked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def escape_text(text: str) -> str:
    """Document text (user data) made safe to put into the chat's Markdown: shown literally, run never.

    Whitespace is collapsed to single spaces so a passage stays inside its paragraph."""
    return _inline(text.strip())


def _inline(text: str) -> str:
    return _SPACES.sub(" ", text).translate(_ENTITIES)


def location(
    source: str, start: int, end: int, page: int | None, section: str | None = None, ocr: bool = False
) -> str:
    """Where a passage is, for people: "report.pdf, page 3, characters 120–480", "deck.pptx, slide 2,
    …", "scan.pdf, page 1, characters 0–80, text recognised by OCR"."""
    part = place(page, section)
    return f"{source}{f', {part}' if part else ''}, characters {start}–{end}" + (
        f", {OCR_NOTE}" if ocr else ""
    )


def located(item: Citation | Passage | Excerpt) -> str:
    """`location` of a citation, passage or excerpt."""
    return location(item.source, item.start, item.end, item.page, item.section, item.ocr)


def evidence_id(turn: int, n: int) -> str:
    return f"qa-ev-{turn}-{n}"


def _linked_markers(text: str, turn: int, known: set[int]) -> str:
    """Escape an answer's text and turn each `[n]` it cites into a link to that passage in the panel."""
    parts = []
    last = 0
    for match in _MARKER.finditer(text):
        n = int(match.group(1))
        if n not in known:
            continue
        parts.append(_inline(text[last : match.start()]))
        parts.append(f"[&#91;{n}&#93;](#{evidence_id(turn, n)})")
        last = match.end()
    parts.append(_inline(text[last:]))
    return "".join(parts).strip()


def chat_markdown(answer: Answer, question: str, turn: int) -> str:
    """The assistant's chat message: what was searched (if rewritten), the answer with linked `[n]`
    markers, and one line of sources. The passages themselves are in the evidence panel."""
    parts = []
    if answer.query and answer.query != question.strip():
        parts.append(f"_Searched for: {escape_text(answer.query)}_")
    known = {c.n for c in answer.citations}
    short = answer.short
    text = answer.text.removeprefix(f"{TENTATIVE_PREFIX} ")
    if short and text.startswith(f"{short.text} [{short.n}]."):  # the fact first, in bold
        rest = _linked_markers(text[len(short.text) :], turn, known)
        hedge = f"{escape_text(TENTATIVE_PREFIX)} " if text != answer.text else ""
        parts.append(f"{hedge}**{_inline(short.text)}** {rest}")
    else:
        parts.append(_linked_markers(answer.text, turn, known))
    if answer.answerable and answer.citations:
        sources = " · ".join(
            f"[&#91;{c.n}&#93; {escape_text(c.source)}{_short_place(c)}](#{evidence_id(turn, c.n)})"
            for c in answer.citations
        )
        parts.append(f"Sources: {sources}")
    elif not answer.answerable and answer.nearest:
        parts.append("_The nearest passages are in the evidence panel, marked as not supporting an answer._")
    if answer.final:
        parts.append(f"[Show evidence](#qa-turn-{turn}) · [Copy answer](#qa-copy-{turn})")
    return "\n\n".join(parts)


def _short_place(c: Citation) -> str:
    """The part after the source name in the chat's source line: " p. 3", " slide 2", " sheet Sales"."""
    if c.section:
        return f" {escape_text(c.section)}"
    return f" p&#46; {c.page}" if c.page else ""


def user_markdown(question: str) -> str:
    return escape_text(question)


def plain_answer(answer: Answer) -> str:
    """The answer as plain text with its numbered sources, for the clipboard."""
    lines = [answer.text]
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            lines.append(f"[{c.n}] {located(c)}: “{' '.join(c.text.split())}”")
    return "\n".join(lines)


# ---- the evidence panel ------------------------------------------------------------------------


def escape_html(text: str) -> str:
    """Text for HTML, attributes included."""
    return html.escape(text, quote=True)


def _marked(text: str, start: int, short: Citation | None) -> str:
    """A cited sentence (starting at document offset `start`), highlighted, with the short answer
    inside it in bold when it is cut from this sentence."""
    if short is None or not (start <= short.start and short.end <= start + len(text)):
        return f"<mark>{escape_html(text)}</mark>"
    a, b = short.start - start, short.end - start
    return (
        f'<mark>{escape_html(text[:a])}<strong class="qa-short">{escape_html(text[a:b])}</strong>'
        f"{escape_html(text[b:])}</mark>"
    )


def _excerpt_html(excerpt: Excerpt, short: Citation | None = None) -> str:
    before = ("… " if excerpt.clipped_before else "") + excerpt.before
    after = excerpt.after + (" …" if excerpt.clipped_after else "")
    return (
        f'<p class="qa-context"><span class="qa-around">{escape_html(before)}</span>'
        f"{_marked(excerpt.text, excerpt.start, short)}"
        f'<span class="qa-around">{escape_html(after)}</span></p>'
    )


def _citation_html(
    turn: int, citation: Citation, excerpt: Excerpt | None, short: Citation | None = None
) -> str:
    if short is not None and short.source != citation.source:
        short = None
    body = (
        _excerpt_html(excerpt, short)
        if excerpt
        else f'<p class="qa-context">{_marked(citation.text, citation.start, short)}</p>'
    )
    where = location(
        citation.source, citation.start, citation.end, citation.page, citation.section, citation.ocr
    )
    return (
        f'<article class="qa-cite" id="{evidence_id(turn, citation.n)}" tabindex="-1">'
        f'<header><span class="qa-n">[{citation.n}]</span> {escape_html(where)}</header>{body}</article>'
    )


def _nearest_html(passage: Passage) -> str:
    snippet = " ".join(passage.text.split())
    if len(snippet) > NEAREST_CHARS:
        snippet = snippet[:NEAREST_CHARS].rsplit(" ", 1)[0] + " …"
    where = located(passage)
    header = f"<header>{escape_html(where)}</header>"
    return f'<article class="qa-nearest">{header}<p>{escape_html(snippet)}</p></article>'


def _turn_html(turn_no: int, turn: Turn, open_: bool) -> str:
    answer = turn.answer
    meta = []
    if answer.query and answer.query != turn.question.strip():
        meta.append(f"Searched for: {escape_html(answer.query)}")
    meta.append(answer.support_note())
    if answer.answerable:
        meta.append(escape_html(describe(answer.mode)))
        excerpts = {(e.source, e.start, e.end): e for e in turn.excerpts}
        body = "".join(
            _citation_html(turn_no, c, excerpts.get((c.source, c.start, c.end)), answer.short)
            for c in answer.citations
        )
    else:
        body = f'<p class="qa-declined">{escape_html(answer.text)}</p>'
        if answer.nearest:
            body += (
                '<p class="qa-declined-label">Nearest passages — these do NOT support an answer:</p>'
                + "".join(_nearest_html(p) for p in answer.nearest)
            )
    copy = (
        f'<button type="button" class="qa-copy" data-qa-copy="qa-copy-{turn_no}">Copy answer</button>'
        f'<textarea id="qa-copy-{turn_no}" class="qa-copy-text" hidden readonly>'
        f"{escape_html(plain_answer(answer))}</textarea>"
    )
    return (
        f'<details class="qa-turn" id="qa-turn-{turn_no}"{" open" if open_ else ""}>'
        f"<summary>{turn_no}. {escape_html(turn.question)}</summary>"
        f'<div class="qa-meta">{"<br>".join(meta)}</div>{body}{copy}</details>'
    )


def evidence_html(turns: list[Turn]) -> str:
    """Every turn's evidence, newest first and open; earlier turns folded but still reachable by their
    `[n]` links. Ids: `qa-turn-T` per turn, `qa-ev-T-N` per cited passage (T counts from 1)."""
    if not turns:
        return (
            '<p class="qa-empty">The passages behind each answer appear here, with the cited words '
            "highlighted in their surroundings.</p>"
        )
    numbered = list(enumerate(turns, start=1))
    return "".join(_turn_html(n, turn, open_=n == len(turns)) for n, turn in reversed(numbered))


def documents_html(documents: list[DocumentInfo]) -> str:
    """The document list: name, chunks, size, when it was added."""
    if not documents:
        return '<p class="qa-empty">No documents indexed yet.</p>'
    rows = "".join(
        f"<tr><td>{escape_html(d.source)}</td><td>{d.chunks}</td><td>{_size(d.bytes)}</td>"
        f"<td>{escape_html(d.added[:10])}</td></tr>"
        for d in documents
    )
    return (
        '<table class="qa-docs"><thead><tr><th>Document</th><th>Chunks</th><th>Size</th><th>Added</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


# ---- export ------------------------------------------------------------------------------------


def export_markdown(turns: list[Turn]) -> str:
    """The conversation as Markdown, each answer followed by its sources (quoted) or its decline."""
    out = [f"# Conversation with the documents\n\nExported {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.\n"]
    for n, turn in enumerate(turns, start=1):
        answer = turn.answer
        out.append(f"## {n}. {turn.question.strip()}\n")
        if answer.query and answer.query != turn.question.strip():
            out.append(f"_Searched for: {answer.query}_\n")
        out.append(f"{answer.text}\n")
        if answer.answerable:
            out.append(f"_{describe(answer.mode)}_\n")
            for c in answer.citations:
                quote = " ".join(c.text.split())
                out.append(f"[{c.n}] {located(c)}\n> {quote}\n")
        elif answer.nearest:
            out.append("Nearest passages (these do NOT support an answer):\n")
            out.extend(f"- {located(p)}\n" for p in answer.nearest)
    return "\n".join(out)


def export_json(turns: list[Turn]) -> str:
    """The conversation as JSON: each turn is the question plus `qa ask --json`'s answer shape."""
    data = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "turns": [{"question": t.question, "asked_at": t.asked_at, **t.answer.to_dict()} for t in turns],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)
