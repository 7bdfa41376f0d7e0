"""Reading questions, deciding to answer or decline, and quoting evidence with exact citations.

Evidence scoring runs on `HashingEmbeddings`, a deterministic real subclass of the packaged model's
class, so these tests need no model; the integration tier repeats the important cases with MiniLM.
"""

from __future__ import annotations

import pytest
from helpers import ARTICLE_PATH, ARTICLE_SOURCE, HashingEmbeddings, read_document

from qa.answering import (
    DECLINE_PREFIX,
    MAX_SENTENCES,
    Decision,
    EvidenceSelector,
    analyse,
    document_heads,
    extractive_answer,
    missing_entities,
)
from qa.chunking import chunk_document
from qa.keyword_index import KeywordIndex
from qa.models import Answer, Chunk, Document, Passage

SOURCE = "talks.txt"
TEXT = (
    "Cyber Talks Resume in Beijing\n\n"
    "Officials from both countries met again after a long pause in their talks.\n\n"
    "The second round of the cybercrime dialogue was held on June 14 in Beijing. "
    "Officials discussed international norms and the protection of networks. "
    "The U.S. State Department called the dialogue fruitful. "
    "Obama extended a national emergency over cyber-enabled threats. "
    "Both sides continue building up their cyber arsenals."
)


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return chunk_document(Document(SOURCE, TEXT), 200, 1)


@pytest.fixture(scope="module")
def keyword(chunks) -> KeywordIndex:
    return KeywordIndex(chunks)


@pytest.fixture(scope="module")
def passages(chunks) -> list[Passage]:
    return [Passage(c.source, c.start, c.end, c.text, score=1.0) for c in chunks]


@pytest.fixture(scope="module")
def heads(chunks):
    return document_heads([chunks[0]])


@pytest.fixture
def selector() -> EvidenceSelector:
    return EvidenceSelector(HashingEmbeddings(), min_support=0.3)


# ---- reading the question --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "focus", "expects"),
    [
        ("What is the population of Beijing?", ["population"], "number"),
        (
            "Which Chinese telecom company did the U.S. sanction in 2016?",
            ["chinese", "telecom", "company"],
            None,
        ),
        ("Which department published the new Law of War Manual?", ["department"], None),
        ("What is the title of the article?", ["title"], None),
        ("What year did the talks begin?", ["year"], "date"),
        ("When was the Law of War Manual first drafted?", [], "date"),
        ("How many cyberattacks did China launch against the United States in 2015?", [], "number"),
        ("How much did the exercise cost?", [], "number"),
        ("Who extended the national state of emergency over cyberattacks?", [], "name"),
        ("Where did the second round of the cybercrime dialogue take place?", [], "name"),
        ("What did the Senior Experts Group discuss?", [], None),
        ("What have U.S. security experts observed?", [], None),
    ],
)
def test_analyse_reads_the_focus_phrase_and_the_kind_of_answer_expected(question, focus, expects):
    q = analyse(question)
    assert q.focus == focus
    assert q.expects == expects


@pytest.mark.parametrize(
    ("question", "entities"),
    [
        ("What is the population of Beijing?", ["Beijing"]),
        ("Which Chinese telecom company did the U.S. sanction in 2016?", ["Chinese", "U.S.", "2016"]),
        (
            "What did the European Union say about the Strategic and Economic Dialogue?",
            ["European Union", "Strategic", "Economic Dialogue"],
        ),
        (
            "What did Edward Snowden reveal about NSA surveillance of China?",
            ["Edward Snowden", "NSA", "China"],
        ),
        ("Can I ask about Beijing?", ["Beijing"]),
        ("Where did the second round of the cybercrime dialogue take place?", []),
    ],
)
def test_analyse_finds_the_names_years_and_acronyms_a_question_mentions(question, entities):
    assert analyse(question).entities == entities


@pytest.mark.parametrize(
    "question",
    [
        "Write a short poem about cyber security.",
        "please compose a haiku about Beijing",
        "Tell me a joke about China.",
        "Imagine the next round of talks.",
        "Make up a story about hackers.",
    ],
)
def test_requests_for_new_writing_are_recognised_as_creative(question):
    assert analyse(question).creative


@pytest.mark.parametrize(
    "question",
    ["What did the writers compose?", "Who wrote the article?", "What does the story say about Beijing?"],
)
def test_questions_that_merely_mention_writing_are_not_creative(question):
    assert not analyse(question).creative


def test_analyse_keeps_distinct_content_terms_in_order():
    q = analyse("What did Obama and obama’s officials extend, and extend again?")
    assert q.terms == list(dict.fromkeys(q.terms))
    assert q.terms[0] == "obama"


def test_title_and_subtitle_questions_are_recognised():
    assert analyse("What is the title of the article?").asks_title
    assert analyse("How does the subtitle characterise China-U.S. relations?").asks_subtitle
    assert not analyse("What did the Senior Experts Group discuss?").asks_title


# ---- names the documents never mention ---------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("What did Australia say about the talks?", ["Australia"]),
        ("What did the European Union say about Beijing?", ["European Union"]),
        ("Did Obama visit Beijing in 2016?", ["2016"]),
        ("What did Edward Snowden and the NSA reveal?", ["Edward Snowden", "NSA"]),
        ("Did Obama visit Beijing?", []),
        ("What did Obama’s letter say?", []),
        ("What did American officials say about the dialogue?", []),  # alias of "U.S."
        ("What did the Sino-U.S. group discuss?", []),  # one known part of a hyphenated name is enough
        ("What did the State Department call the dialogue?", []),
    ],
)
def test_missing_entities_names_what_no_chunk_mentions(question, missing, keyword):
    assert missing_entities(analyse(question), keyword) == missing


def test_an_acronym_is_known_only_when_a_document_spells_out_those_initials():
    chunks = [Chunk("1", "o.txt", 0, 60, "The Office of Personnel Management and the Federal Reserve met.")]
    keyword = KeywordIndex(chunks)
    assert keyword.acronyms >= {"opm", "fr"}
    assert missing_entities(analyse("What did OPM say?"), keyword) == []
    assert missing_entities(analyse("What did the FBI say?"), keyword) == ["FBI"]
    assert missing_entities(analyse("What did Opm say?"), keyword) == [
        "Opm"
    ]  # only capitals read as initials


def test_a_chinese_alias_is_known_when_a_document_says_china():
    chunks = [Chunk("1", "c.txt", 0, 26, "China held talks in June.")]
    assert missing_entities(analyse("What did Chinese officials say?"), KeywordIndex(chunks)) == []
    assert missing_entities(analyse("What did Chinese officials say?"), KeywordIndex([])) == ["Chinese"]


# ---- deciding ----------------------------------------------------------------------------------


def test_a_creative_request_is_declined_before_any_evidence_is_scored(selector, passages, keyword):
    decision = selector.decide("Write a poem about the cybercrime dialogue.", passages, keyword)
    assert not decision.answerable
    assert decision.evidence == []
    assert "don't write new text" in decision.reason


def test_a_question_naming_something_never_mentioned_is_declined_and_the_reason_names_it(
    selector, passages, keyword
):
    decision = selector.decide("What did Australia say about the dialogue?", passages, keyword)
    assert not decision.answerable
    assert "“Australia”" in decision.reason


def test_a_question_whose_focus_appears_nowhere_is_declined(selector, passages, keyword):
    decision = selector.decide("What is the population of Beijing?", passages, keyword)
    assert not decision.answerable
    assert "“population”" in decision.reason


def test_a_generic_focus_word_is_not_taken_for_an_unknown_topic(selector, passages, keyword):
    decision = selector.decide("What is the name of the city where the dialogue was held?", passages, keyword)
    assert "never mention" not in decision.reason


def test_no_passages_means_no_answer(selector, keyword):
    decision = selector.decide("Where was the cybercrime dialogue held?", [], keyword)
    assert not decision.answerable
    assert decision.reason == "no passage matches the question."


def test_a_question_matching_one_sentence_is_answered_from_that_sentence(selector, passages, keyword):
    decision = selector.decide(
        "Where was the second round of the cybercrime dialogue held?", passages, keyword
    )
    assert decision.answerable
    best = decision.evidence[0]
    assert best.span.text == "The second round of the cybercrime dialogue was held on June 14 in Beijing."
    assert TEXT[best.span.start : best.span.end] == best.span.text
    assert best.source == SOURCE


def test_evidence_support_mixes_similarity_and_coverage_and_stays_within_bounds(selector, passages, keyword):
    q = analyse("Who extended a national emergency over cyber-enabled threats?")
    scored = selector.score(q, passages, keyword)
    assert [e.support for e in scored] == sorted((e.support for e in scored), reverse=True)
    assert scored[0].span.text.startswith("Obama extended")
    assert scored[0].coverage == pytest.approx(1.0)
    for e in scored:
        assert 0.0 <= e.coverage <= 1.0
        assert e.support == pytest.approx(0.5 * e.similarity + 0.5 * e.coverage)


def test_every_sentence_of_overlapping_passages_is_scored_once(selector, passages, keyword):
    scored = selector.score(analyse("What did officials discuss?"), passages, keyword)
    starts = [e.span.start for e in scored]
    assert len(starts) == len(set(starts))
    assert len(scored) == 7  # title, standfirst and five sentences


def test_a_date_question_is_declined_when_no_supporting_sentence_holds_a_date(keyword):
    text = "Officials discussed international norms. The State Department called the dialogue fruitful."
    chunks = chunk_document(Document("n.txt", text), 700, 1)
    passages = [Passage(c.source, c.start, c.end, c.text, 1.0) for c in chunks]
    selector = EvidenceSelector(HashingEmbeddings(), min_support=0.0)
    decision = selector.decide(
        "When did officials discuss international norms?", passages, KeywordIndex(chunks)
    )
    assert not decision.answerable
    assert "date" in decision.reason
    assert decision.evidence  # the closest sentences are kept for the refusal, not as citations


def test_the_refusal_for_a_missing_date_reads_as_plain_english():
    text = "Officials discussed international norms. The State Department called the dialogue fruitful."
    chunks = chunk_document(Document("n.txt", text), 700, 1)
    passages = [Passage(c.source, c.start, c.end, c.text, 1.0) for c in chunks]
    selector = EvidenceSelector(HashingEmbeddings(), min_support=0.0)
    decision = selector.decide(
        "When did officials discuss international norms?", passages, KeywordIndex(chunks)
    )
    assert " no a " not in decision.reason


def test_a_question_is_declined_when_no_sentence_reaches_the_minimum_support(passages, keyword):
    strict = EvidenceSelector(HashingEmbeddings(), min_support=0.99)
    decision = strict.decide("What did officials discuss about networks?", passages, keyword)
    assert not decision.answerable
    assert decision.reason == "no passage supports an answer closely enough."
    assert 0 < len(decision.evidence) <= 3


def test_at_most_two_sentences_are_chosen_and_never_the_same_text_twice(passages, keyword):
    lenient = EvidenceSelector(HashingEmbeddings(), min_support=0.0)
    decision = lenient.decide("What about the dialogue and officials?", passages, keyword)
    assert decision.answerable
    assert 1 <= len(decision.evidence) <= MAX_SENTENCES
    assert len({e.span.text for e in decision.evidence}) == len(decision.evidence)


def test_a_title_question_is_answered_from_the_document_title(selector, passages, keyword, heads):
    decision = selector.decide("What is the title of the article?", passages, keyword, heads)
    assert decision.answerable
    assert [e.span.text for e in decision.evidence] == ["Cyber Talks Resume in Beijing"]


def test_a_subtitle_question_is_answered_from_the_line_after_the_title(selector, passages, keyword, heads):
    decision = selector.decide("What does the subtitle say?", passages, keyword, heads)
    assert decision.answerable
    assert decision.evidence[0].span.text.startswith("Officials from both countries met again")


def test_document_heads_of_the_article_are_its_title_and_standfirst():
    article = read_document(ARTICLE_PATH)
    first = Chunk("c0", ARTICLE_SOURCE, 0, 700, article[:700])
    title, subtitle = document_heads([first])[ARTICLE_SOURCE]
    assert title is not None and subtitle is not None
    assert title.text == "China-US Relations in Cyberspace: A Half-Year Assessment"
    assert subtitle.text.startswith("While some progress has been made, China-U.S. relations in cyberspace")
    assert article[subtitle.start : subtitle.end] == subtitle.text


def test_a_document_without_a_title_line_has_no_heads():
    text = "Just one sentence. And another one."
    assert document_heads([Chunk("c0", "x.txt", 0, len(text), text)])["x.txt"] == (None, None)


# ---- writing the answer ------------------------------------------------------------------------


def test_an_extractive_answer_quotes_each_sentence_with_its_citation_number(passages, keyword):
    lenient = EvidenceSelector(HashingEmbeddings(), min_support=0.0)
    decision = lenient.decide("What did officials discuss and call fruitful?", passages, keyword)
    answer = extractive_answer("q?", "q?", decision, nearest=passages[:1])
    assert answer.answerable and answer.mode == "extractive" and answer.final
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert answer.text == " ".join(f"{c.text} [{c.n}]" for c in answer.citations)
    for c in answer.citations:
        assert TEXT[c.start : c.end] == c.text
        assert c.source == SOURCE
    assert answer.nearest == []  # nearest passages are only offered with a refusal


def test_a_declined_answer_has_no_citations_and_offers_the_nearest_passages(passages):
    decision = Decision(False, reason="they never mention “Australia”.")
    answer = extractive_answer("q", "standalone q", decision, nearest=passages[:2])
    assert not answer.answerable
    assert answer.text == f"{DECLINE_PREFIX}: they never mention “Australia”."
    assert answer.citations == []
    assert answer.nearest == passages[:2]
    assert answer.query == "standalone q"


def test_the_json_shape_of_an_answer_has_the_contract_keys(passages):
    decision = EvidenceSelector(HashingEmbeddings(), min_support=0.0).decide(
        "Where was the cybercrime dialogue held?", passages, KeywordIndex([])
    )
    shape = extractive_answer("q", "q", decision, nearest=[]).to_dict()
    assert set(shape) == {"answer", "answerable", "citations", "nearest", "query", "mode"}
    assert set(shape["citations"][0]) == {"n", "source", "start", "end", "text", "page"}
    declined = Answer("no", False, nearest=passages[:1]).to_dict()
    assert set(declined["nearest"][0]) >= {"source", "start", "end", "text", "score", "page"}
