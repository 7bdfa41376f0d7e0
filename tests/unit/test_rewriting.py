"""Follow-up questions become standalone questions before retrieval sees them."""

from __future__ import annotations

import pytest

from qa.rewriting import standalone_question

EXPERTS = [("What did the Senior Experts Group discuss?", "International norms [1]")]


@pytest.mark.parametrize("history", [None, []])
def test_a_question_without_history_is_unchanged(history):
    assert standalone_question("When did they first meet?", history) == "When did they first meet?"


def test_a_question_without_a_pronoun_is_unchanged():
    question = "Where did the second round of the cybercrime dialogue take place?"
    assert standalone_question(question, EXPERTS) == question


def test_a_pronoun_is_replaced_by_the_main_name_of_the_previous_question_with_its_article():
    assert (
        standalone_question("When did they first meet?", EXPERTS)
        == "When did the Senior Experts Group first meet?"
    )


def test_a_possessive_pronoun_becomes_a_possessive_name():
    assert (
        standalone_question("What were their main topics?", EXPERTS)
        == "What were the Senior Experts Group's main topics?"
    )


def test_a_name_without_an_article_is_inserted_as_written():
    history = [("What did Barack Obama extend?", "A national state of emergency [1]")]
    assert standalone_question("Why did he extend it?", history) == "Why did Barack Obama extend it?"


def test_the_most_recent_previous_question_with_a_name_is_used():
    history = [
        ("What did the Senior Experts Group discuss?", "norms"),
        ("What did Barack Obama extend?", "an emergency"),
        ("Why did they do so?", "..."),  # no name of its own: the one before it is used
    ]
    assert standalone_question("When did he announce it?", history) == "When did Barack Obama announce it?"


def test_a_history_without_any_name_leaves_the_question_unchanged():
    history = [("what happened next?", "talks"), ("why did it matter?", "trust")]
    assert standalone_question("When did they meet?", history) == "When did they meet?"


def test_a_capitalised_question_word_is_not_taken_for_a_name():
    history = [("Where did the talks take place?", "Beijing [1]")]
    assert standalone_question("When did they end?", history) == "When did they end?"


def test_that_as_a_conjunction_is_not_replaced():
    question = "Did the report say that hacking declined?"
    assert standalone_question(question, EXPERTS) == question
