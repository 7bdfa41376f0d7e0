"""Sentences and chunks carry exact character offsets into the document text, whatever the text."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest
from helpers import ARTICLE_PATH, ARTICLE_SOURCE, read_document

from qa.chunking import Span, _cut_long, chunk_document, chunk_id, split_sentences
from qa.models import Document

ARTICLE = read_document(ARTICLE_PATH)

# Synthetic texts that have broken offset bookkeeping elsewhere: astral-plane emoji, CJK without
# spaces, combining accents, non-breaking spaces, CRLF line endings, hard-wrapped prose.
UNICODE_TEXTS = {
    "emoji": "Launch day 🚀🚀 went well. All cheered 👏🏽 loudly! Was it worth it? Yes 😀.\n\nNext 🎉 step.",
    "cjk": "网络安全很重要。中美两国举行了对话。会议在北京举行！\n\n第二轮对话结束了。" * 3,
    "combining": "Cafe\u0301 owners met. The nai\u0308ve plan failed. Zoe\u0308 left at noon.",
    "nbsp": "The\u00a0recent talks ended.\u00a0Both agreed.\u00a0\u00a0A\u00a0modus operandi\u00a0was found.",
    "crlf": "Title line\r\n\r\nFirst paragraph sentence one. Sentence two.\r\n\r\nSecond paragraph here.\r\n",
    "hard_wrapped": (
        "This paragraph was wrapped by an editor at a fixed width so that its\n"
        "sentences continue across line breaks without any blank line between\n"
        "them. The second sentence also runs on across the next line break and\n"
        "ends here.\n\nA new paragraph starts after the blank line.\n"
    ),
    "crlf_hard_wrapped": (
        "This paragraph was wrapped by an editor at a fixed width so that its\r\n"
        "sentences continue across CRLF breaks without any blank line between\r\n"
        "them. It ends here.\r\n\r\nShort heading\r\nA bullet list follows:\r\n- one\r\n- two\r\n"
    ),
    "mixed": "“Quoted,” she said. Straße\u00a0und Café — ça va? 東京 is big… Really.\n\n  Indented line.  ",
}


def assert_offsets_true(text: str, pieces: list) -> None:
    for piece in pieces:
        assert text[piece.start : piece.end] == piece.text, piece


# ---- sentences -------------------------------------------------------------------------------


def test_every_sentence_span_of_the_article_is_the_article_text_at_its_offsets():
    spans = split_sentences(ARTICLE)
    assert len(spans) > 40
    assert_offsets_true(ARTICLE, spans)


def test_article_sentences_keep_non_breaking_spaces_and_curly_quotes_unchanged():
    spans = split_sentences(ARTICLE)
    assert any("\u00a0" in s.text for s in spans)
    assert any("“" in s.text and "”" in s.text for s in spans)
    assert_offsets_true(ARTICLE, [s for s in spans if "\u00a0" in s.text or "’" in s.text])


@pytest.mark.parametrize("name", sorted(UNICODE_TEXTS))
def test_every_sentence_span_of_unicode_text_is_the_text_at_its_offsets(name):
    text = UNICODE_TEXTS[name]
    spans = split_sentences(text)
    assert spans
    assert_offsets_true(text, spans)


@pytest.mark.parametrize("name", sorted(UNICODE_TEXTS))
def test_sentence_spans_are_never_blank_and_carry_no_surrounding_whitespace(name):
    for span in split_sentences(UNICODE_TEXTS[name]):
        assert span.text.strip() == span.text != ""


@pytest.mark.parametrize("name", sorted(UNICODE_TEXTS))
def test_sentence_spans_are_in_order_and_do_not_overlap(name):
    spans = split_sentences(UNICODE_TEXTS[name])
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start


def test_sentences_together_cover_every_non_space_character_of_the_article():
    covered = set()
    for span in split_sentences(ARTICLE):
        covered.update(range(span.start, span.end))
    uncovered = [i for i, ch in enumerate(ARTICLE) if not ch.isspace() and i not in covered]
    assert uncovered == []


def test_us_president_is_not_split_from_its_sentence():
    texts = [s.text for s in split_sentences(ARTICLE)]
    holding = [t for t in texts if "U.S. President Barack Obama extended" in t]
    assert len(holding) == 1
    assert holding[0].startswith("First, while there may be a slowdown")


def test_china_us_compound_abbreviation_does_not_end_a_sentence():
    spans = split_sentences("Talks on China-U.S. relations resumed. Both sides agreed.")
    assert [s.text for s in spans] == ["Talks on China-U.S. relations resumed.", "Both sides agreed."]


def test_an_abbreviation_followed_by_a_sentence_starter_ends_the_sentence():
    spans = split_sentences("Talks were held in the U.S. The next round is in Beijing.")
    assert [s.text for s in spans] == ["Talks were held in the U.S.", "The next round is in Beijing."]


def test_an_abbreviation_followed_by_a_starter_and_a_comma_ends_the_sentence():
    spans = split_sentences("Talks were held in the U.S. However, nothing changed.")
    assert [s.text for s in spans] == ["Talks were held in the U.S.", "However, nothing changed."]


@pytest.mark.parametrize(
    "text",
    ["He met Dr. Watson at noon.", "The author J. Smith wrote it.", "Prices rose approx. ten percent."],
)
def test_titles_initials_and_abbreviations_do_not_end_a_sentence(text):
    assert [s.text for s in split_sentences(text)] == [text]


def test_question_and_exclamation_marks_end_sentences_with_their_closing_quotes():
    text = "Was it “fruitful?” Nobody knew! Then (quietly) it ended."
    assert [s.text for s in split_sentences(text)] == [
        "Was it “fruitful?”",
        "Nobody knew!",
        "Then (quietly) it ended.",
    ]


def test_hard_wrapped_lines_of_prose_stay_one_sentence():
    text = UNICODE_TEXTS["hard_wrapped"]
    texts = [s.text for s in split_sentences(text)]
    assert texts[0].startswith("This paragraph was wrapped") and texts[0].endswith("between\nthem.")
    assert texts[1].endswith("ends here.")
    assert texts[2] == "A new paragraph starts after the blank line."


def test_crlf_blank_lines_separate_paragraphs_and_spans_hold_no_carriage_return_at_their_ends():
    spans = split_sentences(UNICODE_TEXTS["crlf"])
    assert [s.text for s in spans] == [
        "Title line",
        "First paragraph sentence one.",
        "Sentence two.",
        "Second paragraph here.",
    ]


def test_short_lines_and_bullets_are_units_of_their_own():
    texts = [s.text for s in split_sentences(UNICODE_TEXTS["crlf_hard_wrapped"])]
    assert texts[-4:] == ["Short heading", "A bullet list follows:", "- one", "- two"]


def test_the_article_headings_and_credit_line_are_units_of_their_own():
    texts = [s.text for s in split_sentences(ARTICLE)]
    assert texts[:2] == ["China Power", "China-US Relations in Cyberspace: A Half-Year Assessment"]
    assert "Credit: keyboard via Shutterstock" in texts


def test_offset_argument_shifts_every_span_by_that_amount():
    text = UNICODE_TEXTS["emoji"]
    plain = split_sentences(text)
    shifted = split_sentences(text, offset=1000)
    assert [(s.start + 1000, s.end + 1000, s.text) for s in plain] == [
        (s.start, s.end, s.text) for s in shifted
    ]


# ---- cutting long sentences ------------------------------------------------------------------


def test_a_span_within_the_limit_is_left_whole():
    span = Span(5, 16, "Short text.")
    assert _cut_long(span, 100) == [span]


def test_a_sentence_longer_than_the_limit_is_cut_at_spaces_into_pieces_within_the_limit():
    text = "Pre. " + " ".join(f"word{i:03d}" for i in range(120)) + "."
    sentence = split_sentences(text)[1]
    pieces = _cut_long(sentence, 100)
    assert len(pieces) > 1
    assert_offsets_true(text, pieces)
    assert all(len(p.text) <= 100 for p in pieces)
    assert all(p.text.startswith("word") for p in pieces)  # cut between words, never inside one
    joined = " ".join(p.text for p in pieces)
    assert joined == sentence.text


def test_a_long_run_without_spaces_is_cut_hard_at_the_limit():
    text = "这是一个没有空格的非常长的句子" * 20  # 300 characters, no space to cut at
    span = Span(0, len(text), text)
    pieces = _cut_long(span, 100)
    assert [len(p.text) for p in pieces] == [100, 100, 100]
    assert "".join(p.text for p in pieces) == text
    assert_offsets_true(text, pieces)


# ---- chunks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "overlap"), [(100, 0), (200, 1), (300, 1), (700, 1), (700, 2), (1200, 2), (4000, 5)]
)
def test_every_chunk_of_the_article_is_the_article_text_at_its_offsets(size, overlap):
    chunks = chunk_document(Document(ARTICLE_SOURCE, ARTICLE), size, overlap)
    assert chunks
    assert_offsets_true(ARTICLE, chunks)
    assert {c.source for c in chunks} == {ARTICLE_SOURCE}


@pytest.mark.parametrize("name", sorted(UNICODE_TEXTS))
@pytest.mark.parametrize("size", [100, 700])
def test_every_chunk_of_unicode_text_is_the_text_at_its_offsets(name, size):
    text = UNICODE_TEXTS[name]
    chunks = chunk_document(Document("u.txt", text), size, 1)
    assert chunks
    assert_offsets_true(text, chunks)


@pytest.mark.parametrize("size", [100, 150, 300, 700, 1500])
def test_no_chunk_is_longer_than_chunk_size_even_when_a_sentence_is(size):
    long_sentence = "Pre. " + " ".join(f"token{i}" for i in range(400)) + ". After."
    for text in (ARTICLE, long_sentence, UNICODE_TEXTS["cjk"] * 5):
        chunks = chunk_document(Document("d.txt", text), size, 1)
        assert max(len(c.text) for c in chunks) <= size


def test_a_sentence_longer_than_chunk_size_is_spread_over_chunks_that_cover_it_whole():
    text = "Intro sentence. " + " ".join(f"token{i}" for i in range(300)) + ". Outro sentence."
    chunks = chunk_document(Document("d.txt", text), 200, 0)
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_chunks_hold_whole_sentences_when_sentences_fit():
    spans = split_sentences(ARTICLE)
    for chunk in chunk_document(Document(ARTICLE_SOURCE, ARTICLE), 700, 1):
        for span in spans:
            inside = chunk.start <= span.start and span.end <= chunk.end
            outside = span.end <= chunk.start or span.start >= chunk.end
            assert inside or outside, (chunk.start, chunk.end, span)


@pytest.mark.parametrize(("size", "overlap"), [(700, 1), (1200, 2), (4000, 3)])
def test_consecutive_article_chunks_share_the_configured_number_of_sentences(size, overlap):
    spans = split_sentences(ARTICLE)
    chunks = chunk_document(Document(ARTICLE_SOURCE, ARTICLE), size, overlap)
    assert len(chunks) > 1
    for a, b in itertools.pairwise(chunks):
        shared = [
            s
            for s in spans
            if a.start <= s.start and s.end <= a.end and b.start <= s.start and s.end <= b.end
        ]
        assert len(shared) == overlap
        assert a.end == shared[-1].end and b.start == shared[0].start  # the seam: a's last, b's first


def test_chunks_without_overlap_share_nothing_and_skip_no_sentence():
    spans = split_sentences(ARTICLE)
    chunks = chunk_document(Document(ARTICLE_SOURCE, ARTICLE), 500, 0)
    for a, b in itertools.pairwise(chunks):
        assert a.end <= b.start
        assert not [s for s in spans if a.end <= s.start and s.end <= b.start]  # nothing falls in the gap


def test_no_chunk_lies_wholly_inside_the_chunk_before_it():
    text = "A" * 50 + ". " + "B" * 40 + ". " + "C" * 90 + "."
    chunks = chunk_document(Document("d.txt", text), 100, 1)
    for a, b in itertools.pairwise(chunks):
        assert not (a.start <= b.start and b.end <= a.end), (a.start, a.end, b.start, b.end)


def test_a_blank_document_has_no_chunks():
    assert chunk_document(Document("blank.txt", " \n\t\u00a0\r\n"), 700, 1) == []


# ---- chunk ids -------------------------------------------------------------------------------


def test_chunk_ids_are_unique_within_the_article():
    chunks = chunk_document(Document(ARTICLE_SOURCE, ARTICLE), 300, 1)
    assert len({c.id for c in chunks}) == len(chunks)


def test_chunk_ids_are_the_same_in_a_fresh_process_with_another_hash_seed():
    here = [c.id for c in chunk_document(Document(ARTICLE_SOURCE, ARTICLE), 700, 1)]
    script = (
        "import json, sys\n"
        "from qa.chunking import chunk_document\n"
        "from qa.loaders import decode_text\n"
        "from qa.models import Document\n"
        f"text = decode_text(open({str(ARTICLE_PATH)!r}, 'rb').read())\n"
        f"print(json.dumps([c.id for c in chunk_document(Document({ARTICLE_SOURCE!r}, text), 700, 1)]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == here


def test_chunk_id_changes_when_the_text_the_position_the_source_or_the_version_changes():
    base = chunk_id("a.txt", 10, "Some text.", "v1")
    assert chunk_id("a.txt", 10, "Some text.", "v1") == base
    assert chunk_id("a.txt", 10, "Some text!", "v1") != base
    assert chunk_id("a.txt", 11, "Some text.", "v1") != base
    assert chunk_id("b.txt", 10, "Some text.", "v1") != base
    assert chunk_id("a.txt", 10, "Some text.", "v2") != base


def test_an_edited_document_gets_new_ids_for_every_chunk_so_the_committed_version_is_never_overwritten():
    edit_at = ARTICLE.index("some progress in the months ahead")
    edited_text = ARTICLE[:edit_at] + "much" + ARTICLE[edit_at + len("some") :]
    before = chunk_document(Document(ARTICLE_SOURCE, ARTICLE, sha256="old"), 700, 1)
    after = chunk_document(Document(ARTICLE_SOURCE, edited_text, sha256="new"), 700, 1)
    unchanged_text = [c for c in before if c.end <= edit_at]
    assert unchanged_text
    assert [c.text for c in after if c.end <= edit_at] == [c.text for c in unchanged_text]
    assert not {c.id for c in before} & {c.id for c in after}


def test_inserting_text_at_the_start_changes_the_ids_of_the_shifted_chunks():
    before = chunk_document(Document(ARTICLE_SOURCE, ARTICLE), 700, 1)
    after = chunk_document(Document(ARTICLE_SOURCE, "Preface.\n\n" + ARTICLE), 700, 1)
    assert not {c.id for c in before} & {c.id for c in after}
