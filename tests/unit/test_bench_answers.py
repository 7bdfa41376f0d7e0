"""`bench.answers.failing_sentences`: the sentences of an answer that the evaluation judge finds no
gold evidence for. Unlike re-running the sentence check that accepted them, it can fail."""

from __future__ import annotations

import sys

import pytest
from helpers import ARTICLE_SOURCE, ROOT

from qa.evaluation import article_dataset
from qa.models import Answer, Citation

if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # bench/ is a folder of scripts, not an installed package

from bench.answers import failing_sentences

CASES = {c.id: c for c in article_dataset()[0].cases}
OBAMA = CASES["dev-02"]  # evidence: "U.S. President Barack Obama extended a national state of emergency"
ARTICLE = article_dataset()[0].documents[ARTICLE_SOURCE]
TITLE = "China-US Relations in Cyberspace: A Half-Year Assessment"


def cite(n: int, text: str) -> Citation:
    start = ARTICLE.index(text)
    return Citation(n, ARTICLE_SOURCE, start, start + len(text), text)


@pytest.fixture
def gold() -> Citation:
    _, start, end = OBAMA.gold[0]
    return Citation(1, ARTICLE_SOURCE, start, end, ARTICLE[start:end])


def test_a_sentence_citing_the_gold_evidence_passes(gold):
    answer = Answer(f"Barack Obama extended a national state of emergency. [{gold.n}]", True, [gold])
    assert failing_sentences(answer, OBAMA) == []


def test_a_sentence_citing_another_passage_fails_even_when_it_quotes_that_passage_exactly():
    title = cite(1, TITLE)  # the sentence check would accept it: it is the cited text itself
    answer = Answer(f"{TITLE} [1]", True, [title])
    assert failing_sentences(answer, OBAMA) == [("off the gold evidence", TITLE)]


def test_one_gold_citation_among_a_sentences_markers_is_enough(gold):
    answer = Answer("Obama extended it. [1][2]", True, [gold, cite(2, TITLE)])
    assert failing_sentences(answer, OBAMA) == []


def test_text_without_a_marker_or_with_a_marker_naming_no_citation_is_uncited(gold):
    answer = Answer("Obama extended it. [1] He was right. [7] Nobody objected.", True, [gold])
    assert failing_sentences(answer, OBAMA) == [("uncited", "Nobody objected."), ("uncited", "He was right.")]


def test_every_sentence_of_an_answer_to_an_unanswerable_question_fails():
    answer = Answer(f"{TITLE} [1]", True, [cite(1, TITLE)])
    assert failing_sentences(answer, CASES["dev-11"]) == [("no gold evidence", TITLE)]


def test_a_declined_answer_has_no_sentences_to_fail():
    assert failing_sentences(Answer("The documents don't say: no passage mentions it.", False), OBAMA) == []
