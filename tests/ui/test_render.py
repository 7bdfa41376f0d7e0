"""What the page shows, rendered without a browser: escaping, linked citations, evidence, exports."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from qa.models import Answer, Citation, DocumentInfo, Excerpt, Passage
from qa.ui import render
from qa.ui.render import Turn

HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)>"
CITATIONS = [
    Citation(1, "notes.txt", 10, 30, "Quokkas live on Rottnest."),
    Citation(2, "report.pdf", 400, 460, "They weigh 2.5 to 5 kg.", page=3),
]
ANSWER = Answer(
    "Quokkas live on Rottnest [1]. They weigh up to 5 kg [2].", True, CITATIONS, query="q", mode="extractive"
)


class _Tags(HTMLParser):
    """Every start tag with its attributes, to check what the browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


# ---- chat messages ----------------------------------------------------------------------------


def test_each_marker_in_an_answer_links_to_its_passage_in_the_panel() -> None:
    message = render.chat_markdown(ANSWER, "q", turn=3)
    assert "Rottnest [&#91;1&#93;](#qa-ev-3-1)&#46;" in message  # spacing and punctuation kept
    assert "5 kg [&#91;2&#93;](#qa-ev-3-2)&#46;" in message
    assert (
        "Sources: [&#91;1&#93; notes&#46;txt](#qa-ev-3-1) · [&#91;2&#93; report&#46;pdf p&#46; 3](#qa-ev-3-2)"
        in (message)
    )
    assert "[Show evidence](#qa-turn-3) · [Copy answer](#qa-copy-3)" in message


def test_a_marker_the_answer_does_not_cite_stays_plain_text() -> None:
    message = render.chat_markdown(Answer("See [7].", True, CITATIONS[:1]), "q", turn=1)
    assert "&#91;7&#93;" in message and "#qa-ev-1-7" not in message


def test_a_streaming_answer_has_no_copy_link_yet() -> None:
    partial = Answer("Quokkas live on Rottnest [1].", True, CITATIONS[:1], final=False)
    assert "Copy answer" not in render.chat_markdown(partial, "q", turn=1)


def test_a_rewritten_question_shows_what_was_searched_for() -> None:
    answer = Answer("In May [1].", True, CITATIONS[:1], query="When did the Senior Experts Group first meet?")
    assert render.chat_markdown(answer, "When did they first meet?", 1).startswith(
        "_Searched for: When did the Senior Experts Group first meet&#63;_"
    )
    assert "Searched for" not in render.chat_markdown(answer, answer.query, 1)


def test_a_decline_says_so_and_points_to_the_unsupporting_passages() -> None:
    nearest = [Passage("notes.txt", 0, 40, "Quokkas are marsupials.", 0.2)]
    decline = Answer("The documents don't say: they never mention “population”.", False, nearest=nearest)
    message = render.chat_markdown(decline, "What is the population?", 2)
    assert message.startswith("The documents don&#39;t say")
    assert "not supporting an answer" in message and "Sources" not in message


def test_markup_in_questions_and_answers_is_escaped_for_markdown() -> None:
    answer = Answer(f"He wrote {HOSTILE} *bold* [x](javascript:1) [1]", True, CITATIONS[:1])
    message = render.chat_markdown(answer, "q", 1)
    assert "<" not in message and ">" not in message
    assert "javascript:" not in message  # no Markdown link can form from document text
    assert "&#60;script&#62;alert&#40;1&#41;" in message
    assert "<" not in render.user_markdown(HOSTILE)


def test_plain_answer_is_text_with_numbered_sources_for_the_clipboard() -> None:
    text = render.plain_answer(ANSWER)
    assert text.splitlines()[0] == ANSWER.text
    assert "[2] report.pdf, page 3, characters 400–460: “They weigh 2.5 to 5 kg.”" in text
    assert "&#" not in text


# ---- the evidence panel ------------------------------------------------------------------------


def test_the_evidence_shows_each_cited_span_highlighted_in_its_surroundings() -> None:
    excerpt = Excerpt(
        "notes.txt", 10, 30, "Quokkas live on Rottnest.", "Field notes. ", " They smile.", True, False
    )
    html = render.evidence_html([Turn("Where do quokkas live?", ANSWER, [excerpt])])
    first = html.index('id="qa-ev-1-1"')
    assert html.index("… Field notes. </span><mark>Quokkas live on Rottnest.</mark>", first) > first
    assert "They smile.</span>" in html and "They smile. …" not in html  # the document ends there
    assert "[2]</span> report.pdf, page 3, characters 400–460" in html  # no excerpt: the span alone
    assert "<mark>They weigh 2.5 to 5 kg.</mark>" in html
    assert "Written by" not in html and "Quoted from the documents" in html  # which answerer wrote it


def test_the_newest_turn_is_open_first_and_earlier_ones_are_folded() -> None:
    turns = [Turn("first?", ANSWER), Turn("second?", ANSWER)]
    html = render.evidence_html(turns)
    assert html.index('id="qa-turn-2" open') < html.index('id="qa-turn-1"')
    assert 'id="qa-turn-1" open' not in html
    assert {a["id"] for t, a in tags(html) if t == "article"} == {
        "qa-ev-1-1",
        "qa-ev-1-2",
        "qa-ev-2-1",
        "qa-ev-2-2",
    }


def test_a_declined_turn_labels_its_nearest_passages_as_no_support() -> None:
    decline = Answer("The documents don't say.", False, nearest=[Passage("a.txt", 0, 9, "Near text", 0.1)])
    html = render.evidence_html([Turn("q?", decline)])
    assert "Nearest passages — these do NOT support an answer:" in html
    assert '<article class="qa-nearest">' in html and "<mark>" not in html


def test_document_text_in_the_panel_never_becomes_markup() -> None:
    citation = Citation(1, "evil<img src=x onerror=alert(3)>.txt", 0, 60, f"Say {HOSTILE}")
    excerpt = Excerpt(citation.source, 0, 60, citation.text, f"{HOSTILE} before", f"after {HOSTILE}")
    html = render.evidence_html([Turn(f"question {HOSTILE}", Answer("x [1]", True, [citation]), [excerpt])])
    assert [t for t, _ in tags(html) if t in {"script", "img"}] == []
    assert all(not name.startswith("on") for _, attrs in tags(html) for name in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_copy_button_carries_the_plain_answer() -> None:
    html = render.evidence_html([Turn("q?", ANSWER)])
    copy = re.search(r'<textarea id="qa-copy-1"[^>]*>(.*?)</textarea>', html, re.S)
    assert copy and copy.group(1).startswith("Quokkas live on Rottnest [1].")
    assert 'data-qa-copy="qa-copy-1"' in html


def test_the_document_list_shows_chunks_and_escapes_names() -> None:
    html = render.documents_html(
        [DocumentInfo("a<b>.txt", chunks=16, bytes=7300, added="2026-11-26T08:00:00+00:00")]
    )
    assert "<td>a&lt;b&gt;.txt</td><td>16</td><td>7 kB</td><td>2026-11-26</td>" in html
    assert "No documents" in render.documents_html([])


# ---- export ------------------------------------------------------------------------------------


def test_the_markdown_export_has_each_question_answer_and_quoted_source() -> None:
    decline = Answer("The documents don't say.", False, nearest=[Passage("a.txt", 0, 9, "Near", 0.1)])
    text = render.export_markdown([Turn("Where do quokkas live?", ANSWER), Turn("Population?", decline)])
    assert "## 1. Where do quokkas live?" in text and "## 2. Population?" in text
    assert "[2] report.pdf, page 3, characters 400–460\n> They weigh 2.5 to 5 kg." in text
    assert "Nearest passages (these do NOT support an answer):\n\n- a.txt, characters 0–9" in text


def test_the_json_export_uses_the_answer_shape_of_qa_ask() -> None:
    data = json.loads(render.export_json([Turn("Where do quokkas live?", ANSWER)]))
    turn = data["turns"][0]
    assert turn["question"] == "Where do quokkas live?"
    assert set(ANSWER.to_dict()) <= set(turn)
    assert turn["citations"][1] == {
        "n": 2,
        "source": "report.pdf",
        "start": 400,
        "end": 460,
        "text": "They weigh 2.5 to 5 kg.",
        "page": 3,
        "section": None,
        "ocr": False,
    }


def test_a_citation_from_a_slide_is_located_by_its_slide_and_ocr_text_says_so() -> None:
    slide = Citation(1, "deck.pptx", 0, 12, "Harvest plan", page=2, section="slide 2")
    scan = Citation(2, "scan.pdf", 5, 30, "four hundred crates", page=1, ocr=True)
    assert render.located(slide) == "deck.pptx, slide 2, characters 0–12"
    assert render.located(scan) == "scan.pdf, page 1, characters 5–30, text recognised by OCR"
    panel = render.evidence_html(
        [Turn("How many crates?", Answer("Four hundred [2].", True, citations=[slide, scan]))]
    )
    assert "text recognised by OCR" in panel and "slide 2" in panel


def test_the_evidence_panel_states_the_support_of_an_answer_and_of_a_decline() -> None:
    sure = Answer(ANSWER.text, True, ANSWER.citations, support=0.873)
    assert "Support 87 %: the estimated chance that the documents answer this." in render.evidence_html(
        [Turn("q?", sure)]
    )
    declined = Answer("The documents don't say: no passage mentions “Mars”.", False, support=0.04)
    assert "Support 4 %" in render.evidence_html([Turn("q?", declined)])


def test_the_short_answer_is_shown_in_bold_first_and_inside_the_highlighted_sentence() -> None:
    sentence = "The breach was revealed in June 2015."
    cited = Citation(1, "notes.txt", 100, 100 + len(sentence), sentence)
    short = Citation(1, "notes.txt", 127, 136, "June 2015")
    answer = Answer(
        f"June 2015 [1]. {sentence} [1]", True, [cited], query="q", mode="extractive", short=short
    )
    message = render.chat_markdown(answer, "q", turn=1)
    assert message.startswith("**June 2015**")
    panel = render.evidence_html([Turn("q", answer)])
    assert '<mark>The breach was revealed in <strong class="qa-short">June 2015</strong>' in panel


def test_an_uncertain_answer_hedges_before_the_fact_it_still_shows_in_bold() -> None:
    sentence = "The breach was revealed in June 2015."
    cited = Citation(1, "notes.txt", 100, 100 + len(sentence), sentence)
    short = Citation(1, "notes.txt", 127, 136, "June 2015")
    text = f"The closest the documents come: June 2015 [1]. {sentence} [1]"
    answer = Answer(text, True, [cited], query="q", mode="extractive", short=short, support=0.4)
    message = render.chat_markdown(answer, "q", turn=1)
    assert message.startswith(f"{render.escape_text('The closest the documents come:')} **June 2015** [")
