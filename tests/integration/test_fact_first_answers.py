"""The answers a chat user expects first, through the command line and the Python API on the article:
the fact first with exact offsets, whole-document questions answered with citations, follow-ups that
lean on the previous answer; and an unanswerable question still declined."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa.cli import main

pytestmark = pytest.mark.integration


def ask_json(built, question: str) -> dict:
    result = CliRunner().invoke(
        main, ["--corpus", str(built.corpus_dir), "--index", str(built.index_dir), "ask", question, "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ask_json_carries_the_short_answer_as_an_exact_span_of_a_cited_sentence(article_index, article_text):
    value = ask_json(article_index, "When was the OPM data breach revealed?")
    short = value["short"]
    assert value["answerable"] is True and short is not None
    assert short["text"] == "June 2015"
    assert article_text[short["start"] : short["end"]] == short["text"]
    cited = next(c for c in value["citations"] if c["n"] == short["n"])
    assert cited["start"] <= short["start"] and short["end"] <= cited["end"]
    assert value["answer"].startswith(f"June 2015 [{short['n']}].")


def test_an_explanation_question_has_no_short_answer(article_index):
    value = ask_json(article_index, "Why are analysts cautiously optimistic about the relationship?")
    assert value["short"] is None


@pytest.mark.parametrize(
    "question",
    [
        "What is the article about?",
        "Summarize this document",
        "What are the main points?",
        "What's the title?",
    ],
)
def test_a_whole_document_question_is_answered_with_citations(article_index, article_text, question):
    value = ask_json(article_index, question)
    assert value["answerable"] is True and value["citations"], value["answer"]
    for c in value["citations"]:
        assert article_text[c["start"] : c["end"]] == c["text"]


def test_the_summary_quotes_the_lead_first(article_index):
    value = ask_json(article_index, "What is the article about?")
    assert value["citations"][0]["text"].startswith("While some progress has been made")


def test_an_unanswerable_question_is_still_declined(article_index):
    value = ask_json(article_index, "What is the population of Beijing?")
    assert value["answerable"] is False and value["short"] is None


def test_a_bare_when_after_a_who_question_is_answered_from_the_previous_answer(article_index):
    assistant = article_index.open_assistant()
    first = assistant.ask("Who extended the national state of emergency over cyberattacks?")
    assert first.short is not None and "Obama" in first.short.text
    follow = assistant.ask("When?", history=[(first.query, first.text)])
    assert "Obama" in follow.query and follow.answerable and "April 2015" in follow.text
    why = assistant.ask("Why did he do that?", history=[(first.query, first.text)])
    assert why.answerable and "extend" in why.query and "cyberattacks" in why.text
