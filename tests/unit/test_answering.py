"""Reading questions, deciding to answer or decline, and quoting evidence with exact citations.

Evidence scoring runs on `HashingEmbeddings`, a deterministic real subclass of the packaged model's
class, and the decisions on hand-set `SupportModel`s, so these tests need no model and no fit; the
integration tier and `qa eval` measure the packaged, fitted model.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import (
    ANSWER_KEYS,
    ARTICLE_PATH,
    ARTICLE_SOURCE,
    STRICT_MODEL,
    HashingEmbeddings,
    hand_set_model,
    read_document,
)

from qa.answerers import decline, quote
from qa.answering import (
    DECLINE_PREFIX,
    MARGIN_CAP,
    MAX_SENTENCES,
    READ_SENTENCES,
    READER_WEIGHT,
    TENTATIVE_PREFIX,
    Decision,
    Evidence,
    EvidenceSelector,
    analyse,
    document_heads,
    known_word,
    name_pairs,
    opening_pair,
)
from qa.chunking import Span, chunk_document
from qa.keyword_index import KeywordIndex
from qa.models import Answer, Chunk, Document, Passage
from qa.reader import Reader
from qa.support import FEATURES
from qa.text import normalise, terms

SOURCE = "talks.txt"
TEXT = (
    "Cyber Talks Resume in Beijing\n\n"
    "Officials from both countries met again after a long pause in their talks.\n\n"
    "The second round of the cybercrime dialogue was held on June 14 in Beijing. "
    "Officials discussed international norms and the protection of networks. "
    "The U.S. State Department called the dialogue fruitful. "
    "Obama extended a national emergency over cyber-enabled threats. "
    "Both sides continue building up their cyber arsenals."
)


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return chunk_document(Document(SOURCE, TEXT), 200, 1)


@pytest.fixture(scope="module")
def keyword(chunks) -> KeywordIndex:
    return KeywordIndex(chunks)


@pytest.fixture(scope="module")
def passages(chunks) -> list[Passage]:
    return [Passage(c.source, c.start, c.end, c.text, score=1.0) for c in chunks]


@pytest.fixture(scope="module")
def heads(chunks):
    return document_heads([chunks[0]])


ANSWER_ALL = hand_set_model(bias=5.0)
DECLINE_ALL = hand_set_model(bias=-5.0)
STRICT = STRICT_MODEL


def absent_name_vetoing() -> EvidenceSelector:
    """A selector that answers everything unless the question names something absent."""
    return EvidenceSelector(
        HashingEmbeddings(), replace(ANSWER_ALL, vetoes=("absent_names",), veto_support=0.3)
    )


@pytest.fixture
def selector() -> EvidenceSelector:
    return EvidenceSelector(HashingEmbeddings(), STRICT)


# ---- reading the question --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expects"),
    [
        ("What is the population of Beijing?", None),
        ("What year did the talks begin?", "date"),
        ("When was the Law of War Manual first drafted?", "date"),
        ("When's the next round?", "date"),
        ("How many cyberattacks did China launch against the United States in 2015?", "number"),
        ("How much did the exercise cost?", "number"),
        ("Who extended the national state of emergency over cyberattacks?", "name"),
        ("Where did the second round of the cybercrime dialogue take place?", "place"),
        ("What did the Senior Experts Group discuss?", None),
        ("Which Chinese leader vowed to improve China's cyberwarfare capabilities?", None),
    ],
)
def test_analyse_reads_the_kind_of_answer_expected(question, expects):
    assert analyse(question).expects == expects


def test_contractions_of_question_words_are_not_content_terms():
    q = analyse("What's the title of the article?")
    assert q.terms == ["titl"]
    assert "what" not in analyse("What's the end goal?").terms


def test_each_term_keeps_the_word_the_question_wrote():
    q = analyse("What did Obama's officials extend?")
    assert q.wording["obama"] == "Obama's"
    assert q.wording["offici"] == "officials"


@pytest.mark.parametrize(
    "question",
    [
        "Write a short poem about cyber security.",
        "please compose a haiku about Beijing",
        "Tell me a joke about China.",
        "Imagine the next round of talks.",
        "Make up a story about hackers.",
    ],
)
def test_requests_for_new_writing_are_recognised_as_creative(question):
    assert analyse(question).creative


@pytest.mark.parametrize(
    "question",
    ["What did the writers compose?", "Who wrote the article?", "What does the story say about Beijing?"],
)
def test_questions_that_merely_mention_writing_are_not_creative(question):
    assert not analyse(question).creative


def test_analyse_keeps_distinct_content_terms_in_order():
    q = analyse("What did Obama and obama’s officials extend, and extend again?")
    assert q.terms == list(dict.fromkeys(q.terms))
    assert q.terms[0] == "obama"


def test_title_and_subtitle_questions_are_recognised():
    assert analyse("What is the title of the article?").asks_title
    assert analyse("What's the headline?").asks_title
    assert analyse("How does the subtitle characterise China-U.S. relations?").asks_subtitle
    assert not analyse("What did the Senior Experts Group discuss?").asks_title
    assert not analyse("What is the title of the Law of War Manual?").asks_title  # a title *in* the text


@pytest.mark.parametrize(
    ("question", "negated"),
    [
        ("What is not a reason for the talks?", True),
        ("Which side didn't agree?", True),
        ("Who agreed?", False),
    ],
)
def test_analyse_notices_a_negated_question(question, negated):
    assert analyse(question).negated is negated


# ---- words the documents never mention ---------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "known"),
    [
        ("Australia", False),
        ("NSA", False),
        ("Beijing", True),
        ("Obama’s", True),
        ("American", True),  # another name for "U.S."
        ("Sino-U.S.", True),  # one known part of a hyphenated name is enough
        ("hold", True),  # the talks were "held": an irregular verb's other form
        ("holds", True),  # and its other forms
        ("meet", True),  # "met"
    ],
)
def test_known_word_finds_a_word_in_any_of_its_forms(word, known, keyword):
    assert known_word(word, keyword) is known


def test_the_plural_of_an_acronym_or_a_model_name_is_known_by_its_singular():
    keyword = KeywordIndex([Chunk("1", "p.txt", 0, 50, "Each MP saw a DB10 and an A320 at the show.")])
    assert all(known_word(w, keyword) for w in ("MPs", "DB10s", "A320s"))
    assert not any(known_word(w, keyword) for w in ("CEOs", "DB11s", "Mps"))


def test_an_acronym_is_known_only_when_a_document_spells_out_those_initials():
    chunks = [Chunk("1", "o.txt", 0, 60, "The Office of Personnel Management and the Federal Reserve met.")]
    keyword = KeywordIndex(chunks)
    assert keyword.acronyms >= {"opm", "fr"}
    assert known_word("OPM", keyword)
    assert not known_word("FBI", keyword)
    assert not known_word("Opm", keyword)  # only capitals read as initials


def test_a_name_is_known_however_a_user_types_it_but_not_when_the_documents_lack_it():
    text = "In the 1600s, trade secrets reached Manhattan from Russia; the Super Bowl is in New York City."
    keyword = KeywordIndex([Chunk("1", "n.txt", 0, len(text), text)])
    for typed in ("Manhatten", "Superbowl", "Russian", "1600s", "NYC's", "Russia's"):
        assert known_word(typed, keyword), typed
    for absent in ("Secretary", "Prussian", "Boston", "1700s", "Seattle"):
        assert not known_word(absent, keyword), absent


def test_a_chinese_alias_is_known_when_a_document_says_china():
    chunks = [Chunk("1", "c.txt", 0, 26, "China held talks in June.")]
    assert known_word("Chinese", KeywordIndex(chunks))
    assert not known_word("Chinese", KeywordIndex([]))


# ---- deciding ----------------------------------------------------------------------------------


def test_a_creative_request_is_declined_before_any_evidence_is_scored(passages, keyword):
    decision = EvidenceSelector(HashingEmbeddings(), ANSWER_ALL).decide(
        "Write a poem about the cybercrime dialogue.", passages, keyword
    )
    assert not decision.answerable
    assert decision.evidence == []
    assert "don't write new text" in decision.reason


def test_a_question_naming_something_never_mentioned_is_declined_and_the_reason_names_it(
    selector, passages, keyword
):
    decision = selector.decide("What did Australia say about the dialogue?", passages, keyword)
    assert not decision.answerable
    assert decision.features["absent_names"] == 1.0 and decision.features["absent_words"] == 0.0
    assert decision.reason == "no passage mentions “Australia”."
    decision = selector.decide("What did Australia promise about the dialogue?", passages, keyword)
    assert decision.features["absent_names"] == 1.0 and decision.features["absent_words"] == 1.0
    assert decision.reason == "no passage mentions “Australia”."  # the name alone: "promise" adds noise
    decision = selector.decide("What did they promise about the dialogue?", passages, keyword)
    assert not decision.answerable and decision.reason == "no passage mentions “promise”."


def test_a_veto_declines_a_question_naming_something_absent_however_well_the_rest_matches(passages, keyword):
    vetoing = absent_name_vetoing()
    decision = vetoing.decide("What did Russia say about the cybercrime dialogue?", passages, keyword)
    assert not decision.answerable and decision.support == 0.3
    assert decision.reason == "no passage mentions “Russia”."
    answered = vetoing.decide("What did the Russian government say about the dialogue?", passages, keyword)
    assert (
        answered.features["absent_names"] == 1.0 and not answered.answerable
    )  # "Russian": Russia is absent too
    assert vetoing.decide("Where was the cybercrime dialogue held?", passages, keyword).answerable


def test_name_pairs_are_two_capitalised_words_side_by_side_past_the_first_word():
    assert name_pairs("What accolade did Radar Princess receive?") == [("Radar", "Princess")]
    assert name_pairs("Who was the Prime Minister of East Germany?") == [
        ("Prime", "Minister"),
        ("East", "Germany"),
    ]
    assert name_pairs("Clawshot Princess uses which controls?") == []  # the first word is capitalised anyway
    assert name_pairs("What was on Nintendo's Official list?") == []  # a possessive ends a name
    assert name_pairs("Which film sold more in the UK, Skyfall or Spectre?") == []  # punctuation between
    assert name_pairs("What was the 2001 ABC logo?") == []  # a number is not a name word
    assert name_pairs("What Is The Main Point Of The Article?") == []  # title case: capitals say nothing


class InMemoryDocuments:
    """`qa.answering.Documents` over chunks in memory, read as `qa.index.Snapshot` reads its index."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks = chunks

    def chunks_with(self, words, limit):
        holding = [c for c in self.chunks if all(normalise(w) in terms(c.text) for w in words)]
        return None if len(holding) > limit else holding

    def sources_with(self, words, limit):
        found = None
        for word in words:
            holding = [c.source for c in self.chunks if normalise(word) in terms(c.text)]
            if len(holding) > limit:
                return None
            found = set(holding) if found is None else found & set(holding)
        return found or set()


class CommonWords(InMemoryDocuments):
    """Documents in which every pair of words is in more chunks than are read."""

    def chunks_with(self, words, limit):
        return None


def test_a_name_is_written_with_its_second_word_in_another_form_and_an_adjective_of_a_place_is_no_name():
    text = "He led East German forces. French troops and republicans met."
    chunk = Chunk("a.txt#0", "a.txt", 0, len(text), text)
    documents = InMemoryDocuments([chunk])
    q = analyse("Who led the East Germany forces and the French Republicans?")
    assert q.name_pairs == [("East", "Germany"), ("French", "Republicans")]
    assert EvidenceSelector.absent(q, KeywordIndex([chunk]), [], documents) == []
    spliced = analyse("Who led the East Republicans?")
    assert EvidenceSelector.absent(spliced, KeywordIndex([chunk]), [], documents) == ["East Republicans"]


def test_the_first_two_words_are_a_pair_when_both_are_capitalised_side_by_side():
    assert opening_pair("Clawshot Princess uses which controls?") == ("Clawshot", "Princess")
    assert opening_pair("What accolade did Radar Princess receive?") is None
    assert opening_pair("Which Princess uses the Clawshot?") is None  # a question word is no name
    assert opening_pair("Clawshot, Princess of Hyrule, uses what?") is None  # punctuation between
    assert opening_pair("Clawshot Princess Uses Which Controls?") is None  # title case: capitals say nothing
    assert opening_pair("List Chinese firms accused of espionage.") is None  # a request asks no question word
    assert opening_pair("Lawrence Orr writes for The Charlotte what?") == ("Lawrence", "Orr")


def test_the_opening_pair_is_absent_only_when_the_documents_write_its_first_word_as_a_name_alone():
    text = "Twilight Princess uses the Clawshot. The Clawshot controls reach far."
    chunk = Chunk("a.txt#0", "a.txt", 0, len(text), text)
    keyword, documents = KeywordIndex([chunk]), InMemoryDocuments([chunk])
    spliced = analyse("Clawshot Princess uses which controls?")
    assert EvidenceSelector.absent(spliced, keyword, [], documents) == ["Clawshot Princess"]
    named = analyse("Twilight Princess uses which controls?")
    assert EvidenceSelector.absent(named, keyword, [], documents) == []
    assert EvidenceSelector.absent(spliced, keyword, [], CommonWords([chunk])) == []  # too common to read
    vetoing = absent_name_vetoing()
    passages = [Passage(chunk.source, chunk.start, chunk.end, chunk.text, 1.0)]
    decision = vetoing.decide(spliced.text, passages, keyword, documents=documents)
    assert decision.features["absent_names"] == 1.0  # a name, though it opens the question
    assert decision.reason == "no passage mentions “Clawshot Princess”."
    # a common noun, though capitalised once: the documents also write it in lower case
    lower = "Twilight Princess uses the clawshot. The Clawshot controls reach far."
    chunk = Chunk("a.txt#0", "a.txt", 0, len(lower), lower)
    assert EvidenceSelector.absent(spliced, KeywordIndex([chunk]), [], InMemoryDocuments([chunk])) == []


def test_a_name_is_written_one_word_apart_and_a_title_may_stand_before_any_form_of_a_name():
    text = "U.S. President Barack Obama met Secretary of State John Kerry and Senator Ann Lee."
    chunk = Chunk("a.txt#0", "a.txt", 0, len(text), text)
    keyword, documents = KeywordIndex([chunk]), InMemoryDocuments([chunk])
    for question in (
        "What did President Obama say?",
        "What did Secretary Kerry say?",
        "Whom did Barack Obama meet?",
    ):
        assert EvidenceSelector.absent(analyse(question), keyword, [], documents) == [], question
    assert EvidenceSelector.absent(analyse("What did Obama Kerry say?"), keyword, [], documents) == [
        "Obama Kerry"
    ]


def test_a_two_word_name_no_document_writes_is_absent_though_a_document_holds_both_words(
    chunks, passages, keyword
):
    vetoing = absent_name_vetoing()
    documents = InMemoryDocuments(chunks)
    # "Obama" and "Department" share a chunk; "Beijing" and "Department" only the document
    reasons = []
    for spliced in (
        "What did the Obama Department call the dialogue?",
        "What did the Beijing Department discuss?",
    ):
        decision = vetoing.decide(spliced, passages, keyword, documents=documents)
        assert not decision.answerable and decision.features["absent_names"] == 1.0
        reasons.append(decision.reason)
    assert reasons == [
        "no passage mentions “Obama Department”.",
        "the closest passage says “State”, not “Beijing”.",  # "State Department"; its passage lacks Beijing
    ]
    assert vetoing.decide(spliced, passages, keyword).answerable  # no documents: two-word names unchecked
    other = Chunk("other.txt#0", "other.txt", 0, 25, "A Spring Festival opened.")
    apart = "What did the Spring Department say?"  # no one document holds both words: says less
    assert vetoing.decide(
        apart, passages, KeywordIndex([*chunks, other]), documents=InMemoryDocuments([*chunks, other])
    ).answerable
    named = "What did the State Department call the dialogue?"
    assert vetoing.decide(named, passages, keyword, documents=documents).answerable
    elsewhere = [p for p in passages if "State Department" not in p.text]  # only the documents have it
    assert elsewhere and len(elsewhere) < len(passages)
    assert vetoing.decide(named, elsewhere, keyword, documents=documents).features["absent_names"] == 0.0
    too_common = vetoing.decide(spliced, passages, keyword, documents=CommonWords(chunks))
    assert too_common.answerable  # more chunks hold both words than are read: taken as mentioned


def test_the_reason_never_names_a_question_word(selector, passages, keyword):
    decision = selector.decide("What's the population of Beijing?", passages, keyword)
    assert not decision.answerable
    assert decision.reason == "no passage mentions “population”."


def test_no_passages_means_no_answer(selector, keyword):
    decision = selector.decide("Where was the cybercrime dialogue held?", [], keyword)
    assert not decision.answerable
    assert decision.reason == "no passage matches the question."


def test_a_question_matching_one_sentence_is_answered_from_that_sentence(selector, passages, keyword):
    decision = selector.decide(
        "Where was the second round of the cybercrime dialogue held?", passages, keyword
    )
    assert decision.answerable
    assert decision.support == pytest.approx(1 / (1 + 2.718281828**-4.0), abs=1e-3)
    best = decision.evidence[0]
    assert best.span.text == "The second round of the cybercrime dialogue was held on June 14 in Beijing."
    assert TEXT[best.span.start : best.span.end] == best.span.text
    assert best.source == SOURCE


def test_every_feature_is_computed_and_bounded(selector, passages, keyword):
    decision = selector.decide(
        "Who extended a national emergency over cyber-enabled threats?", passages, keyword
    )
    f = decision.features
    assert set(f) == set(FEATURES)
    for name in ("coverage", "context_coverage", "soft_coverage", "unmatched_rarity"):
        assert 0.0 <= f[name] <= 1.0, name
    assert f["context_coverage"] <= f["soft_coverage"]
    assert f["coverage"] == pytest.approx(1.0) and f["weakest_match"] == 1.0  # nothing missing
    assert f["expects_type"] == 1.0 and f["type_missing"] == 0.0  # "Obama" names who


def test_a_missing_word_lowers_coverage_and_its_rarity_is_measured(selector, passages, keyword):
    f = selector.decide(
        "Who extended a national emergency over cyber-enabled sanctions?", passages, keyword
    ).features
    assert f["context_coverage"] < 1.0
    assert 0.0 < f["unmatched_rarity"] <= 1.0
    assert f["weakest_match"] < 1.0


def test_match_mixes_similarity_and_coverage_and_ranks_sentences(selector, passages, keyword):
    q = analyse("Who extended a national emergency over cyber-enabled threats?")
    scored = selector.score(q, passages, keyword)
    assert [e.match for e in scored] == sorted((e.match for e in scored), reverse=True)
    assert scored[0].span.text.startswith("Obama extended")
    assert scored[0].coverage == pytest.approx(1.0)
    for e in scored:
        assert 0.0 <= e.coverage <= 1.0
        assert e.match == pytest.approx(0.5 * e.similarity + 0.5 * e.coverage)


def test_every_sentence_of_overlapping_passages_is_scored_once(selector, passages, keyword):
    scored = selector.score(analyse("What did officials discuss?"), passages, keyword)
    starts = [e.span.start for e in scored]
    assert len(starts) == len(set(starts))
    assert len(scored) == 7  # title, standfirst and five sentences


def test_a_date_question_without_a_date_in_the_passages_is_declined_in_plain_words():
    text = "Officials discussed international norms. The State Department called the dialogue fruitful."
    chunks = chunk_document(Document("n.txt", text), 700, 1)
    passages = [Passage(c.source, c.start, c.end, c.text, 1.0) for c in chunks]
    selector = EvidenceSelector(HashingEmbeddings(), STRICT)
    decision = selector.decide(
        "When did officials discuss international norms?", passages, KeywordIndex(chunks)
    )
    assert not decision.answerable
    assert decision.features["type_missing"] == 1.0
    assert decision.reason == "the closest passages give no date or time for this."
    assert decision.evidence  # the closest sentences are kept for the refusal, not as citations


def test_a_decline_the_reader_weighed_most_says_the_passage_does_not_say_it():
    text = "The Nets moved from New Jersey to Brooklyn in 2012. The move pleased their coach."
    chunks = chunk_document(Document("n.txt", text), 700, 1)
    passages = [Passage(c.source, c.start, c.end, c.text, 1.0) for c in chunks]
    doubting_reader = hand_set_model(bias=1.0, reader_margin=1.0)  # answers when the reader finds a span
    selector = EvidenceSelector(HashingEmbeddings(), doubting_reader)
    decision = selector.decide("Who was the coach of the Nets?", passages, KeywordIndex(chunks))
    assert not decision.answerable and decision.features["reader_margin"] < -1.0  # no name of a coach
    assert decision.reason == "the closest passage is on the subject but does not say this."
    moved = selector.decide("When did the Nets move to Brooklyn?", passages, KeywordIndex(chunks))
    assert moved.answerable and moved.features["reader_margin"] > 0


class MarkedReader(Reader):
    """A reader that finds an answer in a sentence holding "answer" and none elsewhere, and records
    which sentences it read."""

    read_sentences: list[str]

    def __init__(self) -> None:
        super().__init__(weights={}, tokenizer=None)
        object.__setattr__(self, "read_sentences", [])

    def margin(self, question: str, sentence: str) -> float:
        self.read_sentences.append(sentence)
        return MARGIN_CAP if "answer" in sentence else -MARGIN_CAP


def test_the_reader_reorders_the_best_few_sentences_only_when_their_matches_are_close():
    def evidence(text: str, match: float) -> Evidence:
        return Evidence("n.txt", Span(0, len(text), text), match, match, match)

    swing = 2 * MARGIN_CAP * READER_WEIGHT  # the most the reader's margin moves a sentence
    matched = evidence("Shares the question's words.", 0.8)
    answers = evidence("Holds the answer, matched a little less.", 0.8 - swing / 2)
    distant = evidence("Holds an answer too, but matches far less.", 0.8 - 2 * swing)
    rest = [evidence(f"Sentence {i} says nothing of it.", 0.1 / i) for i in range(1, READ_SENTENCES)]
    scored = [matched, answers, distant, *rest]
    reader = MarkedReader()
    selector = EvidenceSelector(HashingEmbeddings(), STRICT, reader=reader)
    ordered = selector.reread(analyse("What is it?"), scored)
    assert ordered[:3] == [answers, matched, distant]
    assert ordered[READ_SENTENCES:] == scored[READ_SENTENCES:]  # beyond those read, the order stands
    assert reader.read_sentences == [e.span.text for e in scored[:READ_SENTENCES]]


def test_a_question_is_declined_below_the_threshold_whatever_it_matches(passages, keyword):
    decision = EvidenceSelector(HashingEmbeddings(), DECLINE_ALL).decide(
        "What did officials discuss about networks?", passages, keyword
    )
    assert not decision.answerable
    assert decision.support < 0.01
    assert decision.reason == "no passage says this closely enough."
    assert 0 < len(decision.evidence) <= 3


def test_a_set_minimum_overrides_the_fitted_threshold(passages, keyword):
    question = "What did officials discuss about networks?"
    assert (
        not EvidenceSelector(HashingEmbeddings(), ANSWER_ALL, threshold=0.999)
        .decide(question, passages, keyword)
        .answerable
    )
    assert (
        EvidenceSelector(HashingEmbeddings(), DECLINE_ALL, threshold=0.0)
        .decide(question, passages, keyword)
        .answerable
    )


def test_an_answer_in_the_uncertain_band_says_it_is_the_closest_the_documents_come(passages, keyword):
    unsure = hand_set_model(bias=0.0, threshold=0.4, confident=0.6)  # support 0.5
    decision = EvidenceSelector(HashingEmbeddings(), unsure).decide(
        "What did officials discuss about networks?", passages, keyword
    )
    assert decision.answerable and decision.tentative
    answer = quote("q", decision)
    assert answer.text.startswith(TENTATIVE_PREFIX + " ")
    fact = quote("When did officials discuss networks?", decision)  # a fact question: hedge, then fact
    assert fact.short is not None
    assert fact.text.startswith(f"{TENTATIVE_PREFIX} {fact.short.text} [1].")
    assert answer.support == pytest.approx(0.5)
    sure = EvidenceSelector(HashingEmbeddings(), ANSWER_ALL).decide(
        "What did officials discuss about networks?", passages, keyword
    )
    assert not sure.tentative
    assert not quote("q", sure).text.startswith(TENTATIVE_PREFIX)


def test_at_most_two_sentences_are_chosen_and_never_the_same_text_twice(passages, keyword):
    lenient = EvidenceSelector(HashingEmbeddings(), ANSWER_ALL)
    decision = lenient.decide("What about the dialogue and officials?", passages, keyword)
    assert decision.answerable
    assert 1 <= len(decision.evidence) <= MAX_SENTENCES
    assert len({e.span.text for e in decision.evidence}) == len(decision.evidence)


@pytest.mark.parametrize("question", ["What is the title of the article?", "What's the title?"])
def test_a_title_question_is_answered_from_the_document_title(question, passages, keyword, heads):
    decision = EvidenceSelector(HashingEmbeddings(), DECLINE_ALL).decide(question, passages, keyword, heads)
    assert decision.answerable
    assert [e.span.text for e in decision.evidence] == ["Cyber Talks Resume in Beijing"]


def test_a_subtitle_question_is_answered_from_the_line_after_the_title(selector, passages, keyword, heads):
    decision = selector.decide("What does the subtitle say?", passages, keyword, heads)
    assert decision.answerable
    assert decision.evidence[0].span.text.startswith("Officials from both countries met again")


def test_document_heads_of_the_article_are_its_title_and_standfirst():
    article = read_document(ARTICLE_PATH)
    first = Chunk("c0", ARTICLE_SOURCE, 0, 700, article[:700])
    title, subtitle = document_heads([first])[ARTICLE_SOURCE]
    assert title is not None and subtitle is not None
    assert title.text == "China-US Relations in Cyberspace: A Half-Year Assessment"
    assert subtitle.text.startswith("While some progress has been made, China-U.S. relations in cyberspace")
    assert article[subtitle.start : subtitle.end] == subtitle.text


def test_a_document_without_a_title_line_has_no_heads():
    text = "Just one sentence. And another one."
    assert document_heads([Chunk("c0", "x.txt", 0, len(text), text)])["x.txt"] == (None, None)


# ---- writing the answer ------------------------------------------------------------------------


def test_an_extractive_answer_quotes_each_sentence_with_its_citation_number(passages, keyword):
    lenient = EvidenceSelector(HashingEmbeddings(), ANSWER_ALL)
    decision = lenient.decide("What did officials discuss and call fruitful?", passages, keyword)
    answer = quote("q?", decision)
    assert answer.answerable and answer.mode == "extractive" and answer.final
    assert answer.citations
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert answer.text == " ".join(f"{c.text} [{c.n}]" for c in answer.citations)
    for c in answer.citations:
        assert TEXT[c.start : c.end] == c.text
        assert c.source == SOURCE
    assert answer.nearest == []  # nearest passages are only offered with a refusal
    assert answer.query == "q?"


def test_a_declined_answer_has_no_citations_and_offers_the_nearest_passages(passages):
    decision = Decision(False, reason="no passage mentions “Australia”.", support=0.12)
    answer = decline("standalone q", decision, nearest=passages[:2])
    assert not answer.answerable
    assert answer.text == f"{DECLINE_PREFIX}: no passage mentions “Australia”."
    assert answer.citations == []
    assert answer.nearest == passages[:2]
    assert answer.query == "standalone q"
    assert answer.support == 0.12


def test_the_json_shape_of_an_answer_has_the_contract_keys(passages):
    decision = EvidenceSelector(HashingEmbeddings(), ANSWER_ALL).decide(
        "Where was the cybercrime dialogue held?", passages, KeywordIndex([])
    )
    shape = quote("q", decision).to_dict()
    assert set(shape) == set(ANSWER_KEYS)
    assert 0.0 <= shape["support"] <= 1.0
    assert set(shape["citations"][0]) == {"n", "source", "start", "end", "text", "page", "section", "ocr"}
    declined = Answer("no", False, nearest=passages[:1]).to_dict()
    assert set(declined["nearest"][0]) >= {"source", "start", "end", "text", "score", "page"}


# ---- the kind of answer expected -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "sentence", "holds"),
    [
        ("Where was the exercise held?", "The exercise was held in Beijing.", True),
        (
            "Where was the exercise held?",
            "China and the United States held an exercise in April 2016.",
            False,
        ),
        ("Where was the exercise held?", "The exercise was held at the Pentagon.", True),
        ("When was the exercise held?", "China held an exercise in April 2016.", True),
        ("When was the exercise held?", "China held an exercise.", False),
        ("How many people attended?", "Twelve people attended.", True),  # a counting word at the start
        ("How many people attended in 2016?", "People attended in 2016.", False),  # a year is no count
        ("Who extended the emergency?", "Obama extended the emergency.", True),
        ("Who extended the emergency?", "The emergency was extended.", False),
    ],
)
def test_a_sentence_holds_the_kind_of_answer_asked_for_only_outside_the_questions_words(
    question, sentence, holds
):
    from qa.answering import _has_expected

    assert _has_expected(sentence, analyse(question)) is holds


def test_an_absent_name_and_an_absent_word_are_counted_apart(keyword):
    selector = EvidenceSelector(HashingEmbeddings(), ANSWER_ALL)
    chunks = chunk_document(Document(SOURCE, TEXT), 200, 1)
    passages = [Passage(c.source, c.start, c.end, c.text, score=1.0) for c in chunks]
    f = selector.decide(
        "Which senator did Snowden and the NSA discuss in Beijing?", passages, keyword
    ).features
    assert f["absent_names"] == 2.0  # Snowden, NSA
    assert f["absent_words"] == 1.0  # senator


# ---- the fitted model ----------------------------------------------------------------------------


def test_the_packaged_support_model_loads_with_a_fold_per_held_out_article():
    from qa.support import load_model

    packaged = load_model()
    assert packaged.features == FEATURES and 0.0 < packaged.threshold < 1.0
    assert packaged.vetoes == ("absent_names", "antonym_swap", "negation_mismatch")
    assert packaged.veto_support < packaged.threshold
    assert len(packaged.folds) > 10
    zelda = packaged.fold("The_Legend_of_Zelda:_Twilight_Princess")
    assert zelda is not packaged and zelda.features == FEATURES
    assert packaged.fold("an article it never saw") is packaged


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read the support model"),
        ('{"features": ["x"], "mean": [0], "scale": [1], "weights": [], "bias": 0}', "cannot read"),
        ('{"features": ["x"], "mean": [0], "scale": [1], "weights": [1], "bias": 0}', "other features"),
        (
            '{"features": ["x"], "mean": [0], "scale": [1], "weights": [1], "bias": 0, "vetoes": ["y"]}',
            "a veto",
        ),
    ],
)
def test_a_broken_or_foreign_support_model_is_refused_in_one_line(tmp_path, content, message):
    from qa.errors import QAError
    from qa.support import load_model

    path = tmp_path / "model.json"
    path.write_text(content)
    with pytest.raises(QAError, match=message) as caught:
        load_model(path)
    assert "\n" not in str(caught.value) and "bench.calibrate" in str(caught.value)


def test_a_why_follow_up_puts_a_new_sentence_before_the_one_already_quoted(passages, keyword):
    selector = EvidenceSelector(HashingEmbeddings(), ANSWER_ALL)
    claim = "Obama extended a national emergency over cyber-enabled threats."
    question = "Why did Obama extend a national emergency over cyber-enabled threats?"
    plain = selector.decide(question, passages, keyword)
    assert plain.evidence[0].span.text == claim
    follow_up = selector.decide(question, passages, keyword, said=f"{claim} [1]")
    first, second = follow_up.evidence
    assert second.span.text == claim and first.span.text != claim
    within = [p for p in passages if p.start <= second.span.start < p.end]
    assert any(p.start <= first.span.start < p.end for p in within)  # from the passage of the claim


def test_a_fact_follow_up_may_quote_the_sentence_already_quoted(passages, keyword):
    selector = EvidenceSelector(HashingEmbeddings(), ANSWER_ALL)
    sentence = "The second round of the cybercrime dialogue was held on June 14 in Beijing."
    question = "When was the second round of the cybercrime dialogue held?"
    decision = selector.decide(question, passages, keyword, said=f"Beijing [1]. {sentence} [1]")
    assert decision.evidence[0].span.text == sentence


def test_a_decline_for_a_swapped_opposite_names_both_words():
    text = "Officials named the most common attack. It came from abroad."
    chunks = chunk_document(Document("n.txt", text), 700, 1)
    passages = [Passage(c.source, c.start, c.end, c.text, 1.0) for c in chunks]
    wary = hand_set_model(bias=4.0, antonym_swap=-10.0)  # answers unless the passage says the opposite
    selector = EvidenceSelector(HashingEmbeddings(), wary)
    decision = selector.decide("What was the least common attack?", passages, KeywordIndex(chunks))
    assert not decision.answerable and decision.features["antonym_swap"] == 1.0
    assert decision.reason == "the closest passage says “most”, not “least”."  # though "least" is absent too
    assert selector.decide("What was the most common attack?", passages, KeywordIndex(chunks)).answerable


@pytest.mark.parametrize(
    ("question", "sentence", "elsewhere", "reason"),
    [
        (
            "Where was the cast revealed in December 2004?",
            "The cast was revealed in December 2014 at Pinewood.",
            "Filming had begun in 2004.",
            "the closest passage says “2014”, not “2004”.",
        ),
        (
            "What was filmed in Portugal last year?",
            "A storm was filmed in Spain last year.",
            "Portugal had banned the crew.",
            "the closest passage says “Spain”, not “Portugal”.",
        ),
    ],
)
def test_a_year_or_name_the_closest_passage_never_states_is_a_swap_when_its_sentence_states_another(
    question, sentence, elsewhere, reason
):
    wary = EvidenceSelector(HashingEmbeddings(), hand_set_model(bias=4.0, antonym_swap=-10.0))
    apart = [
        *chunk_document(Document("a.txt", sentence), 700, 1),
        *chunk_document(Document("b.txt", elsewhere), 700, 1),
    ]
    passages = [Passage(c.source, c.start, c.end, c.text, 1.0) for c in apart]
    decision = wary.decide(question, passages, KeywordIndex(apart))
    assert not decision.answerable and decision.reason == reason
    together = chunk_document(Document("c.txt", f"{elsewhere} {sentence}"), 700, 1)
    passages = [Passage(c.source, c.start, c.end, c.text, 1.0) for c in together]
    assert wary.decide(question, passages, KeywordIndex(together)).answerable  # its passage states it


def test_a_negated_question_the_closest_sentence_only_affirms_is_declined_saying_so():
    text = "The court ruled on the merger in May. The ruling surprised investors."
    chunks = chunk_document(Document("n.txt", text), 700, 1)
    passages = [Passage(c.source, c.start, c.end, c.text, 1.0) for c in chunks]
    wary = hand_set_model(bias=4.0, negation_mismatch=-10.0)  # answers unless the negation is unmatched
    selector = EvidenceSelector(HashingEmbeddings(), wary)
    decision = selector.decide("What did the court not rule on?", passages, KeywordIndex(chunks))
    assert not decision.answerable and decision.features["negation_mismatch"] == 1.0
    assert decision.reason == "the question asks what is not so, and the closest passage only says what is."
    assert selector.decide("What did the court rule on?", passages, KeywordIndex(chunks)).answerable
    # the veto that declined it is the reason, not a common word the documents lack ("decide")
    other = selector.decide("What did the court not decide on?", passages, KeywordIndex(chunks))
    assert other.reason == "the question asks what is not so, and the closest passage only says what is."
