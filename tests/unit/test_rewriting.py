"""Follow-up questions become standalone questions before retrieval sees them."""

from __future__ import annotations

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from qa.rewriting import leading_fact, standalone_question

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


OBAMA_TURN = (
    "Who extended the national state of emergency over cyberattacks?",
    "U.S. President Barack Obama [1]. First, while there may be a slowdown ... in April 2015. [1]",
)


def test_the_fact_an_answer_opens_with_is_read_back_from_its_text():
    assert leading_fact(OBAMA_TURN[1]) == "U.S. President Barack Obama"
    assert leading_fact("The documents don't say: no passage mentions “Russia”.") is None
    hedged = "The closest the documents come: June 2015 [1]. The breach was ... [1]"
    assert leading_fact(hedged) == "June 2015"


def test_a_vague_act_takes_the_previous_answer_as_its_subject_and_the_previous_question_as_its_act():
    assert (
        standalone_question("Why did he do that?", [OBAMA_TURN])
        == "Why did U.S. President Barack Obama extend the national state of emergency over cyberattacks?"
    )


def test_a_bare_question_word_after_a_subject_question_asks_about_the_answers_act():
    assert (
        standalone_question("When?", [OBAMA_TURN])
        == "When did U.S. President Barack Obama extend the national state of emergency over cyberattacks?"
    )


def test_a_bare_question_word_swaps_the_previous_questions_own():
    history = [("Where was the second round of the dialogue held?", "Beijing [1]. It was held ... [1]")]
    assert standalone_question("And when?", history) == "When was the second round of the dialogue held?"


def test_an_earlier_follow_up_is_resolved_before_a_later_one_leans_on_it():
    history = [OBAMA_TURN, ("Why did he do that?", "Because of continued cyberattacks [1].")]
    assert standalone_question("When?", history).startswith("When did U.S. President Barack Obama extend")


def test_it_after_a_what_question_is_the_thing_the_answer_named():
    history = [("What did China and the United States hold in April 2016?", "tabletop exercise [1]. ... [1]")]
    assert standalone_question("What was it about?", history) == "What was the tabletop exercise about?"


def test_he_after_a_who_question_is_the_person_the_answer_named():
    history = [("Who vowed to improve China's cyberwarfare capabilities?", "Xi Jinping [1]. In ... [1]")]
    assert standalone_question("Where did he say so?", history) == "Where did Xi Jinping say so?"


def test_names_joined_by_and_count_as_one_subject():
    history = [("What are China and the United States building up?", "Arsenals [1]")]
    assert standalone_question("What else are they doing?", history) == (
        "What else are China and the United States doing?"
    )


class ScriptedRewriter(BaseChatModel):
    """A chat model that gives one fixed reply: a real subclass of LangChain's interface."""

    reply: str

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply))])


def test_a_model_rewrite_that_resolves_the_follow_up_is_kept():
    model = ScriptedRewriter(reply="When did Barack Obama extend the state of emergency?")
    assert (
        standalone_question("When?", [OBAMA_TURN], model)
        == "When did Barack Obama extend the state of emergency?"
    )


@pytest.mark.parametrize("reply", ["When?", "Why did he do it?", "Who is Barack Obama?"])
def test_a_model_rewrite_that_leaves_it_open_or_changes_the_question_falls_back_to_the_rules(reply):
    model = ScriptedRewriter(reply=reply)
    assert standalone_question("When?", [OBAMA_TURN], model).startswith(
        "When did U.S. President Barack Obama"
    )


def test_it_after_a_passive_question_is_that_questions_subject():
    history = [("When was the OPM data breach revealed?", "June 2015 [1]. ... [1]")]
    assert standalone_question("Who was behind it?", history) == "Who was behind the OPM data breach?"


def test_the_recent_one_takes_its_noun_from_the_previous_question():
    history = [
        ("When did the previous meeting of the High-Level Dialogue take place?", "December 2015 [1]. x [1]")
    ]
    assert standalone_question("What did the recent one expand on?", history) == (
        "What did the recent High-Level Dialogue expand on?"
    )


@pytest.mark.parametrize(
    ("fact", "named"),
    [
        ("a new manual", "a new manual"),
        ("cyber norms", "the cyber norms"),
        ("both new rules", "both new rules"),
        ("two new rules", "two new rules"),
    ],
)
def test_it_after_a_what_question_becomes_the_thing_answered_with_one_article(fact, named):
    history = [("What did the ministry publish?", f"{fact} [1]. The ministry published {fact}. [1]")]
    assert standalone_question("What does it advocate?", history) == f"What does {named} advocate?"
