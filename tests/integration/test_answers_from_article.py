"""Answers about the shipped article with the real model: exact citations, honest refusals, and the
development set (`eval/article_dev.jsonl`) judged by the rules in `eval/README.md`."""

from __future__ import annotations

import pytest
from helpers import ARTICLE_SOURCE

from qa.answering import DECLINE_PREFIX, TENTATIVE_PREFIX
from qa.evaluation import article_dataset, citation_is_correct, holds_expected_facts

pytestmark = pytest.mark.integration

CASES = article_dataset()[0].cases
ANSWERABLE = [c for c in CASES if c.answerable]
UNANSWERABLE = [c for c in CASES if not c.answerable]


@pytest.fixture(scope="module")
def dev_answers(article_index):
    """Every development question asked once, by id."""
    return {case.id: article_index.assistant.ask(case.question) for case in CASES}


def test_the_cybercrime_dialogue_question_is_answered_with_beijing_and_exact_citations(
    article_index, article_text
):
    answer = article_index.assistant.ask("Where did the second round of the cybercrime dialogue take place?")
    assert answer.answerable and answer.final
    assert "Beijing" in answer.text
    assert answer.citations
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert c.source == ARTICLE_SOURCE
        assert article_text[c.start : c.end] == c.text
        assert f"{c.text} [{c.n}]" in answer.text
    assert answer.nearest == []
    assert answer.mode == "extractive"


def test_citations_keep_non_breaking_spaces_and_curly_quotes_of_the_article(article_index, article_text):
    answer = article_index.assistant.ask("What did the recently concluded eighth S&ED reaffirm?")
    assert answer.answerable and answer.citations
    assert any("\u00a0" in c.text for c in answer.citations)
    assert any("“" in c.text and "”" in c.text for c in answer.citations)
    for c in answer.citations:
        assert article_text[c.start : c.end] == c.text


def test_the_population_of_beijing_is_declined_with_the_nearest_passages_but_no_citations(article_index):
    answer = article_index.assistant.ask("What is the population of Beijing?")
    assert not answer.answerable
    assert answer.text.startswith(DECLINE_PREFIX)
    assert answer.citations == []
    assert answer.nearest
    assert all(p.source == ARTICLE_SOURCE for p in answer.nearest)


@pytest.mark.parametrize(
    "question",
    ["What did Edward Snowden reveal about China?", "What is the capital of Australia?"],
)
def test_a_question_about_names_the_article_never_mentions_is_declined_naming_them(article_index, question):
    answer = article_index.assistant.ask(question)
    assert not answer.answerable, answer.text
    assert answer.text.startswith(f"{DECLINE_PREFIX}: no passage mentions “")


def test_a_follow_up_question_is_searched_as_a_standalone_question(article_index):
    assistant = article_index.assistant
    first = assistant.ask("What did the Senior Experts Group discuss?")
    follow_up = assistant.ask(
        "When did they first meet?", history=[("What did the Senior Experts Group discuss?", first.text)]
    )
    assert follow_up.query == "When did the Senior Experts Group first meet?"
    assert follow_up.answerable and "May" in follow_up.text


def test_a_streamed_answer_ends_with_the_final_checked_answer(article_index, article_text):
    # Answered with two quoted sentences, so the stream has a partial update before the final one
    # (a one-sentence answer, or a decline, arrives whole and would leave nothing to compare).
    question = "What did Xi Jinping say?"  # the second sentence matches at 0.97 of the first: far from 0.7
    updates = list(article_index.assistant.stream(question))
    final = updates[-1]
    assert final.answerable and "vowed to improve China’s cyberwarfare capabilities" in final.text
    assert len(final.citations) >= 2 and len(updates) == len(final.citations)
    assert [u.final for u in updates] == [False] * (len(updates) - 1) + [True]
    assert final == article_index.assistant.ask(question)
    for partial in updates[:-1]:
        assert partial.answerable and partial.citations
        assert final.text.startswith(partial.text)
        assert partial.citations == final.citations[: len(partial.citations)]
    for c in final.citations:
        assert article_text[c.start : c.end] == c.text


def test_an_answer_does_not_depend_on_the_questions_asked_before_it(article_index):
    question = "What did the recently concluded eighth S&ED reaffirm?"
    alone = article_index.open_assistant().ask(question)
    later = article_index.open_assistant()
    later.ask("Where did the second round of the cybercrime dialogue take place?")
    after = later.ask(question)
    assert (after.text, after.citations, after.support) == (alone.text, alone.citations, alone.support)


def test_asking_only_a_document_that_does_not_exist_is_declined(article_index):
    answer = article_index.assistant.ask("What did Obama extend?", sources=["nope.txt"])
    assert not answer.answerable and answer.citations == []


# ---- the development set ---------------------------------------------------------------------


def test_most_unanswerable_development_questions_are_declined_without_citations(dev_answers):
    declined = [c.id for c in UNANSWERABLE if not dev_answers[c.id].answerable]
    assert len(declined) >= 0.7 * len(UNANSWERABLE), sorted({c.id for c in UNANSWERABLE} - set(declined))
    for case in UNANSWERABLE:
        answer = dev_answers[case.id]
        if not answer.answerable:
            assert answer.citations == [] and answer.text.startswith(DECLINE_PREFIX)


def test_an_answer_below_the_confident_support_is_offered_only_as_the_closest_the_documents_come(
    dev_answers, article_index
):
    confident = article_index.assistant.selector.model.confident
    tentative = []
    for case in CASES:
        answer = dev_answers[case.id]
        if not answer.answerable:
            continue
        is_tentative = answer.support < confident
        assert answer.text.startswith(TENTATIVE_PREFIX) == is_tentative, (case.id, answer.support)
        if is_tentative:
            tentative.append(case.id)
    # Some development answers fall in the uncertain band (dev-05, dev-16 when this was written):
    # without them the check above would only ever see confident answers.
    assert tentative


@pytest.mark.parametrize("case", ANSWERABLE, ids=lambda c: c.id)
def test_every_answerable_development_question_is_answered_with_its_facts_citing_its_evidence_exactly(
    case, dev_answers, article_text
):
    answer = dev_answers[case.id]
    assert answer.answerable, answer.text
    assert holds_expected_facts(answer.text, case.must), (case.must, answer.text)
    assert any(c.source == ARTICLE_SOURCE and citation_is_correct(c, case.gold) for c in answer.citations), (
        answer.text
    )
    for c in answer.citations:
        assert article_text[c.start : c.end] == c.text


def test_support_is_a_probability_that_separates_answered_from_declined(dev_answers, article_index):
    threshold = article_index.assistant.selector.threshold
    for answer in dev_answers.values():
        assert 0.0 <= answer.support <= 1.0
        assert (answer.support >= threshold) == answer.answerable, (answer.support, answer.text)


def test_at_least_eighty_percent_of_answerable_development_questions_hold_every_expected_fact(dev_answers):
    holding = [
        c.id
        for c in ANSWERABLE
        if dev_answers[c.id].answerable and holds_expected_facts(dev_answers[c.id].text, c.must)
    ]
    missing = sorted({c.id for c in ANSWERABLE} - set(holding))
    assert len(holding) >= 0.8 * len(ANSWERABLE), missing


def test_citation_precision_over_answerable_development_questions_is_at_least_85_percent(
    dev_answers, article_text
):
    correct = total = 0
    for case in ANSWERABLE:
        for c in dev_answers[case.id].citations:
            total += 1
            correct += citation_is_correct(c, case.gold)
    assert total >= len(ANSWERABLE) - 1
    assert correct / total >= 0.85, f"{correct}/{total}"


# ---- documents other than the article ----------------------------------------------------------

NOTES = "\n\nQuokka Island Field Notes\n\nThe quokka is a small marsupial that lives on Rottnest Island.\n"
WOMBATS = "# Wombats\n\nWombats are burrowing marsupials native to Australia. They dig long burrows.\n"
BUSH = "# Wombats of the Australian Bush\n\nWombats are burrowing marsupials. They dig long burrows.\n"


def test_a_title_citation_is_exact_when_the_document_opens_with_blank_lines(private_article_index):
    (private_article_index.corpus_dir / "notes.txt").write_text(NOTES, encoding="utf-8")
    private_article_index.assistant.rebuild()
    answer = private_article_index.assistant.ask(
        "What is the title of the field notes?", sources=["notes.txt"]
    )
    assert answer.answerable
    [citation] = answer.citations
    assert citation.text == "Quokka Island Field Notes"
    assert NOTES[citation.start : citation.end] == citation.text


def test_a_title_question_restricted_to_one_document_cites_only_that_document(private_article_index):
    (private_article_index.corpus_dir / "wombats.md").write_text(BUSH, encoding="utf-8")
    private_article_index.assistant.rebuild()
    answer = private_article_index.assistant.ask("What is the title of the article?", sources=["wombats.md"])
    assert answer.answerable, answer.text
    [citation] = answer.citations
    assert citation.source == "wombats.md" and "Wombats of the Australian Bush" in citation.text
    assert BUSH[citation.start : citation.end] == citation.text
    assert "China-US Relations" not in answer.text


def test_a_title_question_restricted_to_a_document_without_a_title_is_not_answered_from_another(
    private_article_index,
):
    # The article's title is the only one in the index: citing it would ignore the restriction.
    untitled = "Wombats are burrowing marsupials native to Australia. They dig long burrows.\n"
    (private_article_index.corpus_dir / "untitled.txt").write_text(untitled, encoding="utf-8")
    assistant = private_article_index.assistant
    assistant.rebuild()
    answer = assistant.ask("What is the title of the article?", sources=["untitled.txt"])
    assert not answer.answerable and answer.citations == [], answer.text
    assert answer.nearest and all(p.source == "untitled.txt" for p in answer.nearest)


@pytest.mark.xfail(
    strict=True,
    reason="qa.answering.document_heads takes a title line only with 3+ words, so a one-word heading "
    "('# Wombats') is not a title and the question is declined",
)
def test_the_title_of_a_document_with_a_one_word_heading_is_that_heading(private_article_index):
    (private_article_index.corpus_dir / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    private_article_index.assistant.rebuild()
    answer = private_article_index.assistant.ask("What is the title of the article?", sources=["wombats.md"])
    assert answer.answerable, answer.text
    [citation] = answer.citations
    assert citation.source == "wombats.md" and "Wombats" in citation.text
    assert WOMBATS[citation.start : citation.end] == citation.text


def test_searching_for_the_title_leads_with_the_opening_of_the_document(article_index, article_text):
    passages = article_index.assistant.search("What is the title of the article?", k=4)
    assert passages[0].start == 0
    assert "China-US Relations in Cyberspace: A Half-Year Assessment" in passages[0].text
    assert article_text[passages[0].start : passages[0].end] == passages[0].text
    assert len({(p.source, p.start) for p in passages}) == len(passages)
