"""The checks behind the `antonym_swap` and `negation_mismatch` vetoes: WordNet antonyms, number words
and negation."""

from __future__ import annotations

import pytest

from qa.opposites import asks_negated, lemmas, negates, swapped, verb_forms

SWAPS = [
    ("What is the least used type of reduction?", "The most used one is Karp's.", ("least", "most")),
    ("Which are the 15 smallest cities?", "It visits the 15 largest cities.", ("smallest", "largest")),
    ("What is the qualitative answer?", "The quantitative answer is yes.", ("qualitative", "quantitative")),
    ("What caused the decrease in sales?", "Sales increased after the launch.", ("decrease", "increased")),
    ("Who has the best record?", "Their record was the worst in the league.", ("best", "worst")),
    # another count or rank than the question's, spelled out
    (
        "What is the thirty-fourth Bond film?",
        "Spectre is the twenty-fourth Bond film.",
        ("thirty-fourth", "twenty-fourth"),
    ),
    ("Who killed four men in the city?", "Bond kills three men in the city.", ("four", "three")),
    ("What took eight months to finish?", "Filming took seven months.", ("eight", "seven")),
    ("Which mechanic lets two buttons do everything?", "It lets one button do everything.", ("two", "one")),
    # another name beside a word the question writes beside its own
    (
        "What was filmed in Portugal last year?",
        "A storm was filmed in Spain last year.",
        ("Portugal", "Spain"),
    ),
    ("Who joined the band in late May?", "The drummer joined the band in late March.", ("May", "March")),
]


@pytest.mark.parametrize(("question", "sentence", "found"), SWAPS)
def test_a_question_word_the_sentence_states_the_opposite_or_another_number_or_name_of_is_found(
    question, sentence, found
):
    assert swapped(question, sentence) == found


def test_a_sentence_that_also_uses_the_question_word_is_no_swap():
    # "most" stands beside "least": the sentence may well say what the question asks
    assert swapped("What is the least used reduction?", "The least used is X; the most used is Y.") is None


def test_a_question_without_opposites_in_the_sentence_is_no_swap():
    assert swapped("When was the OPM breach made public?", "It was revealed in June 2015.") is None
    assert swapped("", "Anything at all.") is None


def test_function_words_of_the_question_are_not_weighed():
    # "after" / "before" are antonyms in WordNet, but a question's "after" is a preposition
    assert swapped("What happened after the war?", "Before the war the city grew.") is None


def test_a_negated_antonym_says_what_the_question_asks():
    assert swapped("Who is unhappy with it?", "Neither the Pentagon nor industry is happy with it.") is None
    assert swapped("What is unknown about the classes?", "It is not known if they are equal.") is None
    assert swapped("Which issues is it not able to deal with?", "It is unable to legislate on them.") is None


def test_a_question_that_offers_both_opposites_is_a_choice_not_a_swap():
    assert swapped("Is the answer simple or complex?", "The answer is complex.") is None


def test_opposites_only_as_verbs_are_not_weighed():
    # "make" / "break" are WordNet antonyms as verbs only: "how much did it make" is about money
    assert swapped("How much did the film make?", "It was breaking records.") is None


def test_inflected_forms_reach_their_base_word():
    assert {"small", "large"} <= lemmas("smallest") | lemmas("larger")
    assert "stop" in lemmas("stopped")
    assert "good" in lemmas("best")  # WordNet's irregular forms


def test_number_words_that_ask_order_or_stand_for_something_else_are_no_swap():
    assert swapped("Who killed four men?", "Bond killed four men and two dogs.") is None  # the count is there
    assert swapped("Who won four races?", "He won 3 races.") is None  # digits are not read
    assert (
        swapped("Between which two streets did they live?", "They lived between A and B for one year.")
        is None
    )
    assert swapped("What were three sites of the film?", "Only eight of those were used.") is None
    assert swapped("What is one reason for the delay?", "There were two reasons.") is None
    assert swapped("Who came third?", "One of them said the race was long.") is None  # a pronoun, no count
    assert swapped("Who came third?", "One runner fell.") is None  # a count is not a rank
    opening = "First, the meeting was long."  # orders the writer's points
    assert swapped("Who attended the eighth meeting?", opening) is None


def test_a_sentence_stating_another_year_than_one_the_question_names_and_the_passage_never_states():
    sentence = "The main cast was revealed in December 2014 at Pinewood Studios."
    assert swapped("Where was the cast revealed in December 2004?", sentence) == ("2004", "2014")
    passage = "Filming began in 2004. " + sentence  # the passage states the question's year
    assert swapped("Where was the cast revealed in December 2004?", sentence, passage) is None
    assert swapped("Where was the cast revealed in 2014?", sentence) is None  # the same year
    assert swapped("Where was the cast revealed in 2004?", "It was revealed at Pinewood.") is None  # none
    # The sentence's year is one the question names too: it compares periods, it swaps none.
    compared = "Sales in 2019 rose by a tenth on the previous year."
    assert swapped("How did sales in 2019 compare with 2018?", compared) is None
    assert swapped("How did sales in 2017 compare with 2018?", compared) == ("2017", "2019")


def test_another_name_counts_only_where_the_question_name_is_nowhere_near_and_not_spelt_otherwise():
    sentence = "A storm was filmed in Spain last year."
    assert (
        swapped("What was filmed in Portugal last year?", sentence, "It left Portugal. " + sentence) is None
    )
    assert swapped("What was filmed in Portugal?", "Critics in Spain praised it.") is None  # not in its place
    assert swapped("What did Chris Tully praise?", "Chris Tilly praised the score.") is None  # a misspelling
    assert swapped("Where did East Germany's team play?", "East German teams played in Leipzig.") is None
    assert swapped("What did the EU agree?", "The European Union agreed a budget.") is None  # an acronym
    assert swapped("When was Austria-Hungary formed?", "Hungary was formed in 1867.") is None  # a part
    assert swapped("What Was Filmed In Portugal Last Year?", sentence) is None  # capitals say nothing
    assert swapped("Who warned James Bond?", "Back in London, Bond was warned.") is None  # across a comma
    assert swapped("What did Clay Theory define?", "Classes follow Blum theory.") is None  # another case


def test_a_negated_question_is_not_answered_by_a_sentence_that_negates_nothing():
    for question, sentence in [
        ("What did the court not rule on?", "The court ruled on the merger."),
        ("Which city isn't on the coast?", "Nice and Cannes are on the coast."),
    ]:
        assert asks_negated(question) and not negates(sentence)


def test_a_sentence_negates_with_a_word_by_its_meaning_or_by_a_prefix():
    assert negates("It was not released.") and negates("They couldn't agree.")
    assert negates("Most species lack combs.")  # by meaning
    assert negates("Its sale was illegal.") and negates("It is unable to legislate.")  # by a prefix
    assert not negates("The court ruled on the merger.")
    assert not negates("The uniform was blue.")  # "un..." that is no opposite of "iform"
    assert asks_negated("What is it not able to rule on?") and negates("It is unable to rule on them.")


def test_a_question_offering_both_polarities_does_not_negate():
    assert not asks_negated("Is it known whether or not P equals NP?")
    assert not asks_negated("What may or may not be true?")
    assert asks_negated("What has never been proven?") and asks_negated("Who didn't attend?")


def test_an_irregular_verb_has_its_other_forms_and_other_words_have_none():
    assert verb_forms("held") == {"hold"}
    assert verb_forms("Hold") == {"held"}
    assert verb_forms("holds") == {"hold", "held"}
    assert "began" in verb_forms("begun") and "begin" in verb_forms("begun")
    assert verb_forms("table") == frozenset()
