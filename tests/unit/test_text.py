"""One tokenizer for keyword search and evidence coverage: words, normalised terms, stopwords."""

from __future__ import annotations

import pytest

from qa.text import normalise, states_number, terms, words


@pytest.mark.parametrize("word", ["U.S.", "U.S", "u.s.", "US", "us"])
def test_us_written_any_way_normalises_to_us(word):
    assert normalise(word) == "us"


def test_us_in_running_text_is_the_term_us():
    assert terms("the U.S. private sector") == ["us", "privat", "sector"]


@pytest.mark.parametrize(
    ("word", "expected"), [("Obama's", "obama"), ("Obama’s", "obama"), ("China’s", "china")]
)
def test_possessives_are_dropped_with_straight_or_curly_apostrophes(word, expected):
    assert normalise(word) == expected


def test_a_possessive_and_its_plain_noun_are_the_same_term():
    assert terms("the administration’s approach") == terms("the administration approach")


def test_hyphenated_words_are_kept_whole_and_also_split_into_their_parts():
    got = terms("cyber-enabled")
    assert got[0] == normalise("cyber-enabled")
    assert got[1:] == [normalise("cyber"), normalise("enabled")]


def test_a_hyphenated_word_matches_a_question_that_names_one_of_its_parts():
    assert set(terms("enabled")) <= set(terms("malicious cyber-enabled activities"))


def test_stopword_parts_of_a_hyphenated_word_are_dropped():
    got = terms("state-of-the-art")
    assert normalise("of") not in got[1:] and "the" not in got[1:]
    assert got[1:] == [normalise("state"), normalise("art")]


def test_words_keep_dotted_abbreviations_ampersands_and_hyphens_whole():
    assert words("The S&ED and China-U.S. talks, cyber-enabled.") == [
        "The",
        "S&ED",
        "and",
        "China-U.S",
        "talks",
        "cyber-enabled",
    ]


def test_words_ignore_punctuation_and_underscores():
    assert words("“Hello,” — she said_quietly... (yes!)") == ["Hello", "she", "said", "quietly", "yes"]


def test_words_handle_letters_outside_ascii():
    assert words("Café Straße 北京 naïve") == ["Café", "Straße", "北京", "naïve"]


def test_stopwords_and_question_words_are_not_terms():
    assert terms("What did the article say about it?") == []


def test_inflections_of_a_word_share_one_term():
    assert normalise("cyberattacks") == normalise("cyberattack")
    assert normalise("discussed") == normalise("discussing") == normalise("discuss")


def test_terms_are_lower_case_whatever_the_case_of_the_text():
    got = terms("BEIJING Beijing beijing")
    assert got == [normalise("beijing")] * 3
    assert got[0].islower()


def test_accents_are_folded_so_a_name_typed_without_them_still_matches():
    assert normalise("Beyoncé") == normalise("Beyonce")
    assert terms("Frédéric Chopin") == terms("Frederic Chopin")


@pytest.mark.parametrize(
    ("word", "number"),
    [
        ("1,500", True),
        ("3rd", True),
        ("seventeen", True),
        ("Twenty-four", True),
        ("three-year", True),
        ("several", True),
        ("None", True),  # a count of nothing answers "how many"
        ("norms", False),
        ("security-related", False),
        ("someone", False),
    ],
)
def test_a_number_is_stated_in_digits_or_in_words(word, number):
    assert states_number(word) is number
