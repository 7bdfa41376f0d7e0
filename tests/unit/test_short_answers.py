"""A fact question's answer opens with the fact itself, cut from the cited sentence."""

from __future__ import annotations

import numpy as np
import pytest

from qa.errors import QAError
from qa.models import Citation
from qa.reader import load_reader, reader, tidy_span
from qa.short_answers import asks_count, asks_for, short_answer

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
    """What `Answer.short` states for `question` over one cited sentence."""
    short = short_answer(question, [cite(sentence)])
    return short.text if short else None


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


def test_a_count_question_gets_no_short_answer_when_the_span_states_no_number():
    question = "How many pages does the new Law of War Manual have?"
    found = reader().find(question, MANUAL)
    assert found is not None  # the reader offers a phrase, of another kind: not shown as the fact
    assert span(question, MANUAL) is None
    assert span("How many reasons are there?", "There are twenty-four reasons.") == "twenty-four"


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("How many people attended?", True),
        ("Peyton Manning took how many teams to the final?", True),
        ("Which percentage of the vote did she win?", True),
        ("How much did the film make?", True),
        ("How long was the delay?", False),  # often answered in words ("a month")
        ("What is the amount of the fine?", False),
        ("Who attended?", False),
    ],
)
def test_a_count_or_amount_is_asked_by_how_many_or_much_and_what_number_or_percentage(question, count):
    assert asks_count(question) is count


def test_the_short_answer_is_the_exact_span_of_the_document_with_its_citation_number():
    document = "Intro line.\n\n" + OPM + " More text."
    start = document.index(OPM)
    cited = Citation(2, "a.txt", start, start + len(OPM), OPM)
    short = short_answer("When was the OPM data breach revealed?", [cited])
    assert short is not None and short.n == 2 and short.source == "a.txt"
    assert document[short.start : short.end] == short.text == "June 2015"


def test_a_short_answer_keeps_the_page_section_and_ocr_mark_of_the_sentence_it_is_cut_from():
    cited = Citation(3, "deck.pptx", 40, 40 + len(OPM), OPM, page=2, section="slide 2", ocr=True)
    for short in (short_answer("When was the OPM data breach revealed?", [cited]),):
        assert short is not None and short.text == "June 2015"
        assert (short.n, short.source, short.page, short.section, short.ocr) == (
            3,
            "deck.pptx",
            2,
            "slide 2",
            True,
        )
        assert short.start == 40 + OPM.index("June 2015") and short.end == short.start + len("June 2015")


def test_a_who_question_states_the_person_first():
    cited = Citation(1, "a.txt", 0, len(OBAMA), OBAMA)
    short = short_answer("Who extended the national state of emergency over cyberattacks?", [cited])
    assert short is not None and short.text in OBAMAS


NETS = "The Nets moved from New Jersey to Brooklyn, a borough of New York City, in 2012."


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("When did the Nets move to Brooklyn?", "2012"),
        ("Who moved to Brooklyn in 2012?", "The Nets"),
    ],
)
def test_the_reader_reads_which_phrase_of_one_sentence_answers_which_question(question, fact):
    assert span(question, NETS) == fact


def test_the_reader_scores_only_the_sentence_and_its_span_is_whole_words_and_likely():
    logits, offsets = reader().scores("When did the Nets move to Brooklyn?", NETS)
    assert logits.shape == (len(offsets), 2)
    assert [NETS[a:b] for a, b in offsets][:3] == ["The", "Nets", "moved"]  # the sentence's own tokens
    found = reader().find("When did the Nets move to Brooklyn?", NETS)
    assert found is not None and NETS[found[0] : found[1]] == "2012" and 0.5 < found[2] <= 1.0
    # a name the tokenizer cuts into wordpieces is still stated whole
    sentence = "The treaty was signed by Chancellor Kurzweilberg in Vienna."
    stated = span("Who signed the treaty?", sentence)
    assert stated is not None and stated.endswith("Kurzweilberg")


@pytest.mark.parametrize(
    ("question", "answers"),
    [
        ("When did the Nets move to Brooklyn?", True),
        ("Who moved to Brooklyn in 2012?", True),
        ("How many fans watched the Nets' first game in Brooklyn?", False),  # no number in the sentence
        ("Who coached the Nets in 2012?", False),  # no coach either
    ],
)
def test_the_reader_says_whether_a_sentence_answers_a_question_at_all(question, answers):
    """`margin` (a feature of the decision) is above 0 when the reader finds an answering span."""
    assert (reader().margin(question, NETS) > 0) is answers


def test_a_missing_or_foreign_reader_file_is_refused_with_the_command_that_refits_it(tmp_path):
    with pytest.raises(QAError, match=r"cannot read the reader .*python -m bench\.fit_reader"):
        load_reader(tmp_path / "missing.npz")
    foreign = tmp_path / "foreign.npz"
    np.savez(
        foreign, **{"head.weight": np.zeros((2, 384)), "head.bias": np.zeros(2), "other.weight": np.zeros(3)}
    )
    with pytest.raises(QAError, match=r"does not fit the packaged MiniLM .*python -m bench\.fit_reader"):
        load_reader(foreign)


def test_the_numpy_reader_computes_what_the_packaged_model_computes_in_torch():
    import torch
    from safetensors.numpy import load_file
    from transformers import AutoModel

    from qa.embeddings import model_dir
    from qa.reader import Reader, merge

    packaged = load_file(str(model_dir() / "model.safetensors"))
    plain = Reader(merge(packaged, {}), reader().tokenizer)  # no fine-tuning: the packaged MiniLM itself
    encoding = plain.tokenizer.encode("When did the Nets move?", NETS)
    ours = plain._encoder(np.array(encoding.ids), np.array(encoding.type_ids))
    with torch.no_grad():
        theirs = AutoModel.from_pretrained(str(model_dir()))(
            input_ids=torch.tensor([encoding.ids]), token_type_ids=torch.tensor([encoding.type_ids])
        ).last_hidden_state[0]
    assert np.allclose(ours, theirs.numpy(), atol=1e-4)


@pytest.mark.parametrize(
    ("sentence", "start", "end", "tidied"),
    [
        ("The army reached the Seven Years' War.", 21, 38, "Seven Years' War"),  # the sentence's stop
        ("The talks were held in the U.S.", 27, 31, "U.S."),  # an abbreviation keeps its own
        ("It was signed in Vien", 17, 19, "Vien"),  # never half a word
        ("In 2012, the Nets moved.", 3, 8, "2012"),  # nor the sentence's comma
    ],
)
def test_a_span_is_tidied_to_whole_words_without_the_sentence_s_punctuation(sentence, start, end, tidied):
    a, b = tidy_span(sentence, start, end)
    assert sentence[a:b] == tidied
