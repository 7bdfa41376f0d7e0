"""Whole-document questions: recognised by their general form, answered from the lead and the most
central sentences, each quoted with its exact span."""

from __future__ import annotations

import pytest
from helpers import STRICT_MODEL, HashingEmbeddings

from qa.answerers import quote
from qa.answering import EvidenceSelector, asks_overview, named_document
from qa.chunking import split_sentences

TEXT = (
    "Cyber Talks Resume in Beijing\n\n"
    "Officials from both countries met again after a long pause in their cyber talks.\n\n"
    "The second round of the cyber dialogue between the two countries was held on June 14 in Beijing. "
    "Officials discussed cyber norms and the protection of networks between the two countries. "
    "Credit: keyboard via Shutterstock\n\n"
    "The weather in the capital was unusually warm and dry for the season that week. "
    "Both countries continue building up their cyber arsenals despite the cyber talks."
)


@pytest.mark.parametrize(
    "question",
    [
        "What is the article about?",
        "What's it about?",
        "what is this document mainly about",
        "Summarize this document",
        "Can you summarise the article for me?",
        "What are the main points?",
        "Give me a short summary of the report.",
        "What are the key takeaways of this paper?",
        "What does the article say?",
        "Tell me about the article",
        "TL;DR?",
    ],
)
def test_a_request_for_a_summary_or_topic_is_a_whole_document_question(question):
    request = asks_overview(question)
    assert request is not None and request.name is None


@pytest.mark.parametrize(
    "question",
    [
        "What is the cybercrime dialogue about?",  # a name: a document only if one is called that
        "What are China's main points of disagreement with the United States?",
        "Who wrote the summary of the talks?",
        "What is the subject of the September 2015 agreement?",
        "When was the second round held?",
    ],
)
def test_a_question_about_something_inside_a_document_is_not_a_request_for_the_whole(question):
    request = asks_overview(question)
    assert request is None or request.name is not None


def test_what_is_x_about_names_the_document_by_its_file_name_or_title():
    titles = {"talks.txt": "Cyber Talks Resume in Beijing", "budget-2024.md": "The city's budget"}
    assert asks_overview("What is the budget about?").name == "the budget"
    assert named_document("the budget", titles) == "budget-2024.md"
    assert named_document("the Beijing talks", titles) == "talks.txt"
    assert named_document("the cybercrime dialogue", titles) is None


def test_the_overview_quotes_the_lead_and_the_most_central_statements_in_document_order():
    selector = EvidenceSelector(HashingEmbeddings(), STRICT_MODEL)
    sentences = split_sentences(TEXT)
    lead = next(s for s in sentences if s.text.startswith("Officials from both"))
    decision = selector.overview("talks.txt", sentences, lead)
    assert decision.answerable and decision.kind == "overview" and decision.support == 1.0
    quoted = [e.span.text for e in decision.evidence]
    assert quoted[0] == lead.text and len(quoted) == 3
    assert all("weather" not in q and "Credit" not in q and "Resume" not in q for q in quoted)
    assert [e.span.start for e in decision.evidence] == sorted(e.span.start for e in decision.evidence)
    for e in decision.evidence:
        assert TEXT[e.span.start : e.span.end] == e.span.text
    answer = quote("What is the article about?", decision)
    assert answer.short is None and [c.n for c in answer.citations] == [1, 2, 3]
    assert answer.kind == "overview" and answer.to_dict()["kind"] == "overview"
    # The chat does not dress a constructed answer up as a fitted "Support 100 %".
    note = answer.support_note()
    assert "opening" in note and "%" not in note


def test_a_document_without_full_sentences_declines_its_overview():
    selector = EvidenceSelector(HashingEmbeddings(), STRICT_MODEL)
    decision = selector.overview("list.txt", split_sentences("Apples\nPears\nPlums"), None)
    assert not decision.answerable and decision.reason
