"""A fact question's answer opens with the fact itself, cut from the cited sentence."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from qa.errors import QAError
from qa.generative import propose_short
from qa.models import Citation
from qa.short_answers import (
    TOKEN_FEATURES,
    asks_for,
    find_span,
    phrase_encoder,
    short_answer,
    span_features,
    span_model,
    token_features,
    verbatim_span,
)

OPM = (
    "First, we have not seen the disclosure of a likely Chinese state-sponsored cyber operation akin to "
    "the U.S. Office of Personnel Management data breach revealed in June 2015."
)
OBAMA = (
    "First, while there may be a slowdown in Chinese state-sponsored attacks on the private sector, U.S. "
    "President Barack Obama extended a national state of emergency due to continued cyberattacks against "
    "U.S. critical information infrastructure in April 2015."
)
BEIJING = (
    "With the second round of the China-U.S. High-Level Dialogue on Cybercrime and Related Issues held on "
    "June 14 in Beijing finished, it might be time for a tentative mid-year assessment."
)
MANUAL = "As I noted previously, the U.S. Department of Defense published a new Law of War Manual, in which"
MANUAL_TITLES = ("Law of War Manual", "new Law of War Manual", "a new Law of War Manual")
OBAMAS = ("Barack Obama", "President Barack Obama", "U.S. President Barack Obama")


def span(question: str, sentence: str) -> str | None:
    found = find_span(question, sentence)
    return sentence[found[0] : found[1]] if found else None


def cite(sentence: str, n: int = 1, start: int = 0) -> Citation:
    return Citation(n, "a.txt", start, start + len(sentence), sentence)


@pytest.mark.parametrize(
    ("question", "sentence", "fact"),
    [
        ("When was the OPM data breach revealed?", OPM, "June 2015"),
        (
            "Who extended the national state of emergency over cyberattacks?",
            OBAMA,
            OBAMAS,
        ),
        ("When was the second round of the High-Level Dialogue on Cybercrime held?", BEIJING, "June 14"),
        ("What did the U.S. Department of Defense publish?", MANUAL, MANUAL_TITLES),
        (
            "How many reasons are there to be optimistic?",
            "There is reason for optimism for three reasons.",
            "three",
        ),
    ],
)
def test_a_fact_question_gets_the_phrase_of_the_kind_it_asks_for(question, sentence, fact):
    assert span(question, sentence) in ((fact,) if isinstance(fact, str) else fact)


@pytest.mark.parametrize(
    "question",
    ["Why did Obama extend the state of emergency?", "How did the talks go?", "Describe the agreement."],
)
def test_a_question_asking_for_an_explanation_gets_no_short_answer(question):
    assert asks_for(question) is None
    assert span(question, OBAMA) is None


def test_a_date_question_gets_none_from_a_sentence_without_a_date():
    assert span("When was the manual published?", MANUAL) is None


def test_no_candidate_repeats_only_the_question_even_across_a_hyphen_or_a_non_breaking_space():
    sentence = "In a letter,\xa0Obama wrote that Chinese state-sponsored attacks fell by a third in 2015."
    spans, _ = span_features("According to Obama's letter, what did state-sponsored attacks do?", sentence)
    phrases = {sentence[a:b] for a, b in spans}
    assert {"Obama", "\xa0Obama", "state-sponsored", "state", "sponsored"}.isdisjoint(phrases)
    assert "2015" in phrases  # what the question does not say stays
    assert not any(p != p.strip() for p in phrases)  # no phrase starts or ends with a space


def test_a_how_many_question_is_never_answered_by_a_rank():
    assert span("How many people attended the meeting?", "It was their first meeting in Beijing.") is None
    assert span("How many people attended the meeting?", "Five people attended its first meeting.") == "Five"
    sentence = "The team finished third in 2015."
    spans, _ = span_features("What number did the team finish?", sentence)
    assert "third" in {sentence[a:b] for a, b in spans}  # a rank can be the number asked for


def test_a_how_many_question_is_never_answered_by_a_calendar_date_but_may_be_by_a_length_of_time():
    assert span("How many attacks did China launch in 2015?", "The attacks slowed in April 2015.") is None
    assert span("How many attacks were there?", "The attacks stopped on June 14.") is None
    assert span("How many years did the talks last?", "The talks lasted three years.") == "three"


def test_the_short_answer_is_the_exact_span_of_the_document_with_its_citation_number():
    document = "Intro line.\n\n" + OPM + " More text."
    start = document.index(OPM)
    cited = Citation(2, "a.txt", start, start + len(OPM), OPM)
    short = short_answer("When was the OPM data breach revealed?", [cited])
    assert short is not None and short.n == 2 and short.source == "a.txt"
    assert document[short.start : short.end] == short.text == "June 2015"


def test_a_short_answer_keeps_the_page_section_and_ocr_mark_of_the_sentence_it_is_cut_from():
    cited = Citation(3, "deck.pptx", 40, 40 + len(OPM), OPM, page=2, section="slide 2", ocr=True)
    for short in (
        short_answer("When was the OPM data breach revealed?", [cited]),
        verbatim_span("June 2015", [cited]),
    ):
        assert short is not None and short.text == "June 2015"
        assert (short.n, short.source, short.page, short.section, short.ocr) == (
            3,
            "deck.pptx",
            2,
            "slide 2",
            True,
        )
        assert short.start == 40 + OPM.index("June 2015") and short.end == short.start + len("June 2015")


def test_the_next_cited_sentence_is_read_when_the_first_holds_no_fact_of_that_kind():
    first = Citation(1, "a.txt", 0, len(MANUAL), MANUAL)
    second = Citation(2, "a.txt", 500, 500 + len(OPM), OPM)
    short = short_answer("When was the OPM data breach revealed?", [first, second])
    assert short is not None and short.n == 2 and short.start == 500 + OPM.index("June 2015")


def test_a_proposed_phrase_is_kept_only_when_it_is_verbatim_in_a_cited_sentence():
    cited = Citation(1, "a.txt", 100, 100 + len(OPM), OPM)
    kept = verbatim_span(" june 2015. ", [cited])
    assert kept is not None and kept.text == "June 2015" and kept.start == 100 + OPM.index("June 2015")
    assert verbatim_span("July 2015", [cited]) is None
    assert verbatim_span("", [cited]) is None


class OneReply(BaseChatModel):
    """A chat model that always gives the same reply: a real subclass of LangChain's interface."""

    reply: str

    @property
    def _llm_type(self) -> str:
        return "one-reply"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply))])


def test_a_phrase_the_model_copies_is_kept_only_when_it_is_in_the_cited_sentence():
    cited = [Citation(1, "a.txt", 0, len(OPM), OPM)]
    copied = propose_short(OneReply(reply="June 2015."), "When was the breach revealed?", cited)
    kept = verbatim_span(copied or "", cited)
    assert kept is not None and kept.text == "June 2015"
    invented = propose_short(OneReply(reply="In the summer of 2015"), "When was the breach revealed?", cited)
    assert verbatim_span(invented or "", cited) is None


@pytest.mark.parametrize(
    "question",
    ["What did the U.S. Department of Defense publish?", "What did the Department of Defense publish?"],
)
def test_an_open_what_or_which_question_states_its_phrase_only_when_the_span_model_is_confident(question):
    assert asks_for(question) == "thing"
    found = find_span(question, MANUAL)
    assert found is not None and MANUAL[found[0] : found[1]] in MANUAL_TITLES
    assert short_answer(question, [cite(MANUAL)], show_at=found[2] + 0.01) is None
    stated = short_answer(question, [cite(MANUAL)], show_at=found[2])
    assert stated is not None and stated.text == MANUAL[found[0] : found[1]]


def test_the_packaged_span_model_states_what_it_fitted_and_a_damaged_one_is_refused(tmp_path):
    model = span_model()
    assert 0.0 < model.show_at < 1.0 and len(model.features) == len(model.weights) > 20
    damaged = tmp_path / "span_model.json"
    damaged.write_text(
        '{"features": ["distance"], "mean": [0], "scale": [1], "weights": [1], "bias": 0, "show_at": 0.2}'
    )
    with pytest.raises(QAError, match=r"fitted on other features; refit it with `python -m bench.fit_spans`"):
        span_model(damaged)
    damaged.write_text("not json")
    with pytest.raises(QAError, match=r"cannot read the span model .*bench.fit_spans"):
        span_model(damaged)


def test_a_who_question_states_the_person_first():
    cited = Citation(1, "a.txt", 0, len(OBAMA), OBAMA)
    short = short_answer("Who extended the national state of emergency over cyberattacks?", [cited])
    assert short is not None and short.text in OBAMAS


NETS = "The Nets moved from New Jersey to Brooklyn, a borough of New York City, in 2012."


def test_a_phrase_like_the_noun_the_question_names_is_marked_so():
    spans, rows = span_features("Which borough did the Nets move to?", NETS)
    likeness = {NETS[a:b]: row["noun_likeness"] for (a, b), row in zip(spans, rows, strict=True)}
    assert likeness["Brooklyn"] > likeness["New Jersey"] > likeness["2012"]
    assert sum(row["most_like_the_noun"] for row in rows) == 1.0
    assert max(row["noun_likeness_gap"] for row in rows) == 0.0


def test_a_question_naming_no_noun_gives_no_likeness_and_the_phrases_share_one_probability():
    spans, rows = span_features("When did the Nets move to Brooklyn?", NETS, span_model().probes)
    assert spans and all(row["noun_likeness"] == row["most_like_the_noun"] == 0.0 for row in rows)
    probabilities = span_model().probabilities(rows)
    assert probabilities.sum() == pytest.approx(1.0) and NETS[slice(*spans[probabilities.argmax()])] == "2012"


def test_the_token_probes_read_the_answer_where_it_stands_in_the_sentence():
    question = "When did the Nets move to Brooklyn?"
    offsets, states = phrase_encoder().token_states(question, NETS)
    assert [NETS[a:b] for a, b in offsets][:3] == ["The", "Nets", "moved"]  # the sentence's own tokens
    probes = span_model().probes
    assert probes is not None
    scores = probes.scores(states)
    assert scores.shape == (len(offsets), 3)
    assert NETS[slice(*offsets[scores[:, 0].argmax()])] == "2012"  # where the answer starts
    assert NETS[slice(*offsets[scores[:, 1].argmax()])] == "2012"  # and ends


def test_a_phrase_is_read_at_its_first_and_last_token_and_beside_its_edges():
    offsets = np.array([[0, 3], [4, 9], [10, 12], [13, 18]])
    scores = np.array([[0.0, 0.0, -3.0], [2.0, -1.0, 1.0], [-1.0, 3.0, 2.0], [0.0, 0.0, -2.0]])
    whole, cut, none = token_features([(4, 12), (4, 9), (20, 25)], offsets, scores)
    assert whole == {
        "token_start": 2.0,
        "token_end": 3.0,
        "token_inside_mean": 1.5,
        "token_inside_least": 1.0,
        "token_beside_most": -2.0,
    }
    assert cut["token_end"] == -1.0 and cut["token_beside_most"] == 2.0  # stops short of the answer
    assert set(none) == set(TOKEN_FEATURES) and max(none.values()) < -5
