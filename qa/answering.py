"""Evidence selection: which sentences answer a question, or an honest refusal.

The decision to answer is made here, before any text is written, and no later stage can overturn a
decline. Every sentence of the retrieved passages gets a match score (cosine similarity of question
and sentence, and the share of the question's terms, weighted by rarity, that it contains). The best
one is described by the features of `qa.support`, and the fitted model turns them into `support`:
the probability that the documents answer the question. Below the model's threshold the question is
declined, and the reason given is the one the features point at.

Two rules stand outside the model, because no evidence bears on them: a request for new writing is
declined, and a question about a document's own title or subtitle is answered from its first lines.

The chosen sentences, each with its exact span, are the evidence every answerer (`qa.answerers`) cites.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Protocol

import numpy as np

from .chunking import SENTENCE_STARTERS, Span, split_sentences
from .chunking import document_heads as document_heads  # its home moved; importable from here too
from .embeddings import EmbeddingModel
from .keyword_index import KeywordIndex
from .models import Chunk, Passage
from .opposites import asks_negated, negates, swapped, verb_forms
from .reader import Reader
from .reader import reader as packaged_reader
from .short_answers import QUESTION_WORDS, asks_count, asks_for
from .support import SupportModel, load_model
from .text import STOPWORDS, WORD, bare, normalise, states_number, terms, words

DECLINE_PREFIX = "The documents don't say"
TENTATIVE_PREFIX = "The closest the documents come:"
SIMILARITY_WEIGHT = 0.5  # match = w * similarity + (1 - w) * coverage: ranks sentences, decides nothing
# A second sentence is quoted when its match is at least this share of the first's: on XQuAD and
# SQuAD 2.0 the quoted sentences then hold the answer 9-11 points more often than one sentence does,
# with a second sentence in half to three quarters of the answers (python -m bench.evidence_choice).
SECOND_SENTENCE_RATIO = 0.7
MAX_SENTENCES = 2
CONTEXT_RATIO = 0.7  # sentences this close to the best one may be shown to a language model
MODEL_PASSAGES = 4  # at most this many numbered passages in a prompt: a small model reads few well
MARGIN_CAP = 10.0  # the reader's margin beyond this way is just as sure (held-out margins: -14 to 6)
# The best few sentences by match are reordered by match + READER_WEIGHT x the reader's margin: the
# reader reads the question with the sentence, so it tells the sentence that answers from one that
# only shares its words. Fitted by leave-one-article-set-out on XQuAD and three SQuAD 2.0 articles,
# it puts a sentence holding the answer first 2.5-6 points more often (python -m bench.evidence_choice).
READ_SENTENCES = 4
READER_WEIGHT = 0.02
VECTOR_CACHE = 50_000  # sentence and word vectors kept (each cache), about 75 MB at most
# A two-word name of the question is read in at most this many chunks holding both words, and its
# words' documents are found when each word is in at most NAME_ROWS chunks; beyond, the pair is
# common enough to be taken as mentioned.
NAME_READS = 50
NAME_ROWS = 5_000


class Documents(Protocol):
    """What the decision reads of the documents beyond the retrieved passages (`qa.index.Snapshot`):
    where a two-word name of the question is looked for."""

    def chunks_with(self, words: Sequence[str], limit: int) -> list[Chunk] | None: ...

    def sources_with(self, words: Sequence[str], limit: int) -> set[str] | None: ...


_CREATIVE = re.compile(
    r"^\s*(?:please\s+)?(?:write|compose|create|generate|draft|invent|imagine|pretend|sing|"
    r"make\s+up|tell\s+me\s+a\s+(?:joke|story|poem))\b",
    re.IGNORECASE,
)
# What a document calls its own heading and the line under it.
_TITLE_WORDS = frozenset({"title", "headline"})
_SUBTITLE_WORDS = frozenset({"subtitle", "subheading", "standfirst", "subhead", "tagline"})
# Demonyms and short forms that name the same country; documents often use only one of them.
_ALIASES = {
    "america": "us",
    "american": "us",
    "americans": "us",
    "usa": "us",
    "britain": "uk",
    "british": "uk",
    "chinese": "china",
    "prc": "china",
}
# The adjective of a place name: its stem plus -ian, -ean, -an, -ese, -ish or -i ("Australian").
_DEMONYM = re.compile(r"([a-z]{4,}?)(?:ian|ean|an|n|ese|ish|i)")
# An adjective of a place or people ("French", "European", "Chinese", "Israeli") before a noun. Wider
# than _DEMONYM, which must also give back the place's name: "French" and "Dutch" give none.
_ADJECTIVE_OF_PLACE = re.compile(r"[a-z]{3,}(?:ian|ean|an|ese|ish|ch|i)")
# Titles people put before any form of a name ("Secretary Kerry" of "Secretary of State John Kerry").
_TITLES = frozenset(
    """mr mrs ms dr sir dame lord lady president vice secretary senator governor general minister prime
    premier chancellor king queen prince princess emperor empress pope saint professor judge justice
    chairman director ambassador mayor captain colonel admiral bishop""".split()
)
# What each kind of expected answer is called in a decline.
_KIND = {"date": "date or time", "number": "number", "name": "name", "place": "place"}
# A place is named after a locative preposition: "in Beijing", "at the Pentagon".
_PLACE = re.compile(
    r"\b(?:in|at|near|from|to|across|outside|inside|within|throughout|around)\s+(?:the\s+)?([A-Z][\w’'.-]*)"
)

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"  # noqa: E501
_DATE = re.compile(
    rf"\b(?:{_MONTHS}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?|(?:1[5-9]|20)\d\d(?:s)?|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}|"
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|yesterday|today|tomorrow|"
    r"(?:last|next|this|past|coming)\s+(?:week|month|year|decade|century|spring|summer|autumn|fall|winter)|"
    r"\d+\s+(?:days?|weeks?|months?|years?|decades?)\s+ago|(?:months|weeks|years)\s+ahead|recently|"
    r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})\b"
)


# ---- whole-document questions: a small grammar of summary, topic and title requests ------------

# What people call a document, or point at it with.
_DOC_NOUN = (
    r"(?:article|document|doc|text|story|piece|paper|report|file|page|post|essay|book|chapter|memo|"
    r"letter|note|source|one|it|this|that)s?"
)
_DOC_REF = rf"(?:(?:the|this|that|these|your|my)\s+)?{_DOC_NOUN}"
# Nouns that name a whole-document digest, and the kinds of points one lists.
_DIGEST = (
    r"(?:summary|overview|gist|synopsis|rundown|recap|abstract|tl\W?;?\W?dr|outline|"
    r"(?:main|key|central|major|most\s+important)\s+(?:points?|ideas?|messages?|arguments?|takeaways?|"
    r"topics?|themes?|findings?|claims?|conclusions?)|(?:topic|subject|theme|thesis|main\s+point))"
)
_POLITE = (
    r"(?:(?:so|and|ok(?:ay)?|hi|hello|please|now)\W+)*(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?"
)
_OVERVIEW_FORMS = [
    # "Summarize this document", "Sum up the article for me"
    rf"(?:summari[sz]e|sum\s+up|recap|outline)(?:\s+(?:(?:for|to)\s+me|briefly))?(?:\s+{_DOC_REF})?(?:\s+(?:for|to)\s+me|\s+briefly)?",
    # "What are the main points?", "Give me a short summary of the article", "The gist?"
    rf"(?:(?:what(?:'s|’s|\s+is|\s+are|\s+were|\s+was)|give\s+me|tell\s+me|show\s+me|list|i\s+want|"
    rf"i'd\s+like|i\s+would\s+like)\s+)?(?:(?:a|an|the|its|their)\s+)?(?:(?:short|brief|quick|one-line)\s+)?"
    rf"{_DIGEST}(?:\s+(?:of|in|from)\s+{_DOC_REF})?",
    # "What does the article say?", "What does this document cover?"
    rf"what\s+(?:does|do|did)\s+{_DOC_REF}\s+(?:say|cover|discuss|argue|describe|talk\s+about|deal\s+with|tell\s+(?:me|us))",
    # "What is the article about?", "What's it about?", and "What is <a document's name> about?"
    r"(?:what(?:'s|’s|\s+is|\s+are|\s+was)|whats)\s+(?P<doc>.+?)\s+(?:(?:mainly|mostly|generally|really|all|actually)\s+)?about",
    # "Tell me about the article", "Describe this document"
    rf"(?:tell\s+me\s+about|describe|explain)\s+{_DOC_REF}",
]
_OVERVIEW = re.compile(
    rf"^\s*{_POLITE}(?:{'|'.join(f'(?:{form})' for form in _OVERVIEW_FORMS)})\s*[?.!]*\s*$", re.IGNORECASE
)
_ANY_DOCUMENT = re.compile(rf"^{_DOC_REF}$", re.IGNORECASE)


@dataclass(frozen=True)
class OverviewRequest:
    """A question about a whole document. `name` is the document it names ("What is <name> about?"),
    or None for "the document" in general."""

    name: str | None = None


def asks_overview(question: str) -> OverviewRequest | None:
    """A request for a document's summary, main points or topic, read by its general form (a
    digest noun, a summarise verb, or "what is ... about" with nothing else asked); None otherwise."""
    match = _OVERVIEW.match(question)
    if match is None:
        return None
    named = match.group("doc")
    if named is None or _ANY_DOCUMENT.match(named.strip()):
        return OverviewRequest()
    return OverviewRequest(named.strip())


def named_document(name: str, titles: dict[str, str]) -> str | None:
    """The document (source) whose file name or title holds the most of `name`'s terms; None when
    none holds any (then "What is X about?" is a question about X, not about a document)."""
    wanted = set(terms(name))
    if not wanted:
        return None
    best, best_share = None, 0.0
    for source, title in titles.items():
        have = set(terms(re.sub(r"[_./-]+", " ", source))) | set(terms(title))
        share = len(wanted & have) / len(wanted)
        if share > best_share:
            best, best_share = source, share
    return best if best_share >= 0.5 else None


OVERVIEW_CENTRAL = 2  # central sentences quoted beside the lead
OVERVIEW_MIN_WORDS = 8  # shorter lines are headings, captions and credits, not statements
OVERVIEW_SENTENCES = 400  # a long document is judged by its first sentences (embedding them costs)


@dataclass(frozen=True)
class Question:
    """What a question asks for, read off its wording."""

    text: str
    terms: list[str]  # distinct content terms, normalised, in order
    wording: dict[str, str]  # each term as the question writes it
    expects: str | None  # "date", "number", "name", "place" or None
    creative: bool
    asks_title: bool
    asks_subtitle: bool
    negated: bool
    name_pairs: list[tuple[str, str]]  # two capitalised words side by side, as written ("Radar Princess")
    opening_pair: tuple[str, str] | None = None  # the same of its first two words ("Clawshot Princess ...")


@dataclass(frozen=True)
class Evidence:
    """A sentence of a retrieved passage with its match to the question (which ranks sentences)."""

    source: str
    span: Span
    similarity: float
    coverage: float
    match: float
    page: int | None = None


@dataclass
class Decision:
    """The answer-or-decline verdict with the evidence behind it.

    `support` is the fitted probability that the documents answer the question; `tentative` marks an
    answer in the uncertain band, offered as the closest the documents come."""

    answerable: bool
    evidence: list[Evidence] = field(default_factory=list)  # what an extractive answer quotes
    reason: str = ""
    context: list[Evidence] = field(default_factory=list)  # what a language model may read
    support: float = 0.0
    tentative: bool = False
    features: dict[str, float] = field(default_factory=dict)
    # "match": sentences matched to the question; "title" or "overview": a question about a whole
    # document, answered from its opening and most central sentences (no short answer for those).
    kind: str = "match"

    @property
    def passages_for_model(self) -> list[Evidence]:
        return self.context or self.evidence


def analyse(question: str) -> Question:
    """Read the question's wording: its terms, the kind of answer it expects, what it asks for."""
    tokens = words(question)
    plain = [bare(t) for t in tokens]
    wording: dict[str, str] = {}
    for token in tokens:
        for term in terms(token):
            wording.setdefault(term, token)
    question_terms = list(dict.fromkeys(terms(question)))
    first = plain[0] if plain else ""
    opening = " ".join(plain[:2])
    expects = None
    if first == "when" or opening in {"what year", "what date", "what time", "which year", "what day"}:
        expects = "date"
    elif asks_count(question):
        expects = "number"
    elif first in {"who", "whom"}:
        expects = "name"
    elif first == "where":
        expects = "place"
    title_terms = {normalise(w) for w in _TITLE_WORDS}
    return Question(
        text=question,
        terms=question_terms,
        wording=wording,
        expects=expects,
        creative=bool(_CREATIVE.match(question)),
        asks_title=bool(question_terms) and set(question_terms) <= title_terms,
        asks_subtitle=any(w in _SUBTITLE_WORDS for w in plain),
        negated=asks_negated(question),
        name_pairs=name_pairs(question),
        opening_pair=opening_pair(question),
    )


def name_pairs(question: str) -> list[tuple[str, str]]:
    """Each two capitalised words the question writes side by side past its first word, with nothing
    but a space between ("Radar Princess", not "Nintendo's Official" or "X, Y"). Crowd-written
    near misses splice two names of a document into one it never uses ("Legend of Zelda: Australia
    Twilight"), and each word alone is known. None when the question capitalises every word past its
    first ("What Is The Main Point"): then capitals say nothing about names."""
    found = list(WORD.finditer(question))
    if not any(m.group()[:1].islower() for m in found[1:]):
        return []
    return [
        (a.group(), b.group())
        for a, b in pairwise(found[1:])
        if _name_word(a.group()) and _name_word(b.group()) and question[a.end() : b.start()] == " "
    ]


def opening_pair(question: str) -> tuple[str, str] | None:
    """The question's first two words when both are capitalised and side by side, and a question word
    follows ("Clawshot Princess uses which controls?"): a question that opens with its subject's name.
    A request opens with a verb and asks no question word ("List Chinese firms ..."). A question's
    first word is capitalised anyway, so the pair is a name only when the documents never write that
    word in lower case (`EvidenceSelector.absent` reads them)."""
    found = list(WORD.finditer(question))
    if len(found) < 3 or not any(m.group()[:1].islower() for m in found[1:]):
        return None
    if not any(bare(m.group()) in QUESTION_WORDS for m in found[2:]):
        return None
    a, b = found[0], found[1]
    if _name_word(a.group()) and _name_word(b.group()) and question[a.end() : b.start()] == " ":
        return a.group(), b.group()
    return None


def _name_word(word: str) -> bool:
    """A capitalised word of letters that is no function word: a word of a name, if not the first."""
    return word[:1].isupper() and word.isalpha() and word.lower() not in STOPWORDS


def asks_about_opening(question: str) -> bool:
    """Does the question ask for a document's title or subtitle (found in its first lines)?"""
    q = analyse(question)
    return q.asks_title or q.asks_subtitle


def known_word(word: str, keyword: KeywordIndex) -> bool:
    """Does any document mention this word: itself, another form of it as an irregular verb ("held" for
    "hold"), the singular of an acronym or model name ("MPs", "DB10s"), a part of it when hyphenated,
    another name for it, the number in an ordinal or a decade ("3rd", "1600s"), or, for an acronym,
    the words it abbreviates ("OPM" for "Office of Personnel Management")? A name may also be misspelt
    by one letter ("Manhatten"), written as one word where the documents write two ("Superbowl"), or be
    the adjective of a place they name ("Russian", "Russia"): absence is evidence only when no such
    reading finds it."""
    frequency = keyword.document_frequency

    def known(w: str) -> bool:
        return frequency.get(normalise(w), 0) > 0

    lower = bare(word)
    digits = re.fullmatch(r"'?(\d+)(?:'?s|st|nd|rd|th)", lower)
    # the plural of an acronym or a model name, which no stemmer undoes ("MPs", "DB10s")
    plural = (
        lower.endswith("s") and len(lower) > 2 and (word[:-1].isupper() or any(c.isdigit() for c in lower))
    )
    if any(
        known(c)
        for c in (
            word,
            _ALIASES.get(lower, word),
            *word.split("-"),
            digits[1] if digits else "",
            lower[:-1] if plural else "",
            *verb_forms(lower),
        )
        if c
    ):
        return True
    acronym = lower.isalpha() and word[: len(lower)].isupper()
    if acronym and 2 <= len(lower) <= 6 and lower in keyword.acronyms:
        return True
    if len(lower) < 5 or not lower.isalpha() or not word[:1].isupper():
        return False  # common words and short names: one letter off is another word
    if any(known(lower[:i]) and known(lower[i:]) for i in range(4, len(lower) - 3)):
        return True
    place = _DEMONYM.fullmatch(lower)
    if place and any(known(place[1] + end) for end in ("", "a", "e", "y", "land")):
        return True
    return any(known(variant) for variant in _one_letter_off(lower))


def _one_letter_off(word: str) -> Iterator[str]:
    """Every spelling one edit away (a letter dropped, added, changed or two swapped), as typed names are."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(len(word) + 1):
        head, tail = word[:i], word[i:]
        if tail:
            yield head + tail[1:]
            if len(tail) > 1:
                yield head + tail[1] + tail[0] + tail[2:]
        for ch in letters:
            yield head + ch + tail
            if tail:
                yield head + ch + tail[1:]


def _writes(pair: tuple[str, str], text: str) -> bool:
    """Does the text have the two words side by side or one word apart ("President Barack Obama" writes
    "President Obama"), the second in any form that shares its stem ("East German", "East Germany")?"""
    first, second = (normalise(w) for w in pair)
    found = [normalise(w) for w in words(text)]

    def same(b: str) -> bool:
        return b == second or (
            min(len(b), len(second)) >= 4 and (b.startswith(second) or second.startswith(b))
        )

    return any(a == first and any(same(b) for b in found[i + 1 : i + 3]) for i, a in enumerate(found))


def _only_capitalised(word: str, documents: Documents) -> bool:
    """Do the documents write `word` only capitalised, as a name? Judged from the chunks holding it;
    a word in more chunks than are read is taken as a common word."""
    holding = documents.chunks_with([word], NAME_READS)
    if not holding:
        return False
    key = normalise(word)
    return not any(w[:1].islower() and normalise(w) == key for c in holding for w in words(c.text))


def _looks_like_name(word: str, question: str) -> bool:
    """A name, acronym or number as the question writes it: capitalised past its first word, all
    capitals, or with digits; a two-word name found absent (`EvidenceSelector.absent`) wherever it
    stands. Such words have few paraphrases, so their absence says more."""
    if any(ch.isdigit() for ch in word) or (len(word) > 1 and word.isupper()) or " " in word:
        return True
    return word[:1].isupper() and not question.lstrip().startswith(word)


def _has_expected(sentence: str, question: Question) -> bool:
    """Does the sentence contain the kind of thing the question asks for, outside the question's words?"""
    asked = {bare(w) for w in words(question.text)}
    if question.expects == "date":
        return bool(_DATE.search(sentence))
    if question.expects == "number":
        return any(t.lower() not in asked and states_number(t) for t in words(_DATE.sub(" ", sentence)))
    if question.expects == "place":
        return any(bare(m.group(1)) not in asked for m in _PLACE.finditer(_DATE.sub(" ", sentence)))
    if question.expects == "name":
        for i, token in enumerate(words(sentence)):
            if token == "I" or bare(token) in asked or token.lower() in STOPWORDS:
                continue
            if i == 0 and (token in SENTENCE_STARTERS or token.lower().endswith("ly")):
                continue  # a capital that only opens the sentence
            if token[0].isupper() or token[0].isdigit():
                return True
        return False
    return True


class EvidenceSelector:
    """Scores the sentences of retrieved passages against a question and decides answerability."""

    def __init__(
        self,
        embeddings: EmbeddingModel,
        model: SupportModel | None = None,
        threshold: float | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.model = model or load_model()
        self._threshold = threshold
        self._reader = reader
        self._word_vectors: dict[str, np.ndarray] = {}
        self._sentence_vectors: dict[str, np.ndarray] = {}

    @property
    def reader(self) -> Reader:
        """The reader that weighs whether the best sentence answers the question (loaded on the first
        question: about a second)."""
        if self._reader is None:
            self._reader = packaged_reader()
        return self._reader

    @property
    def threshold(self) -> float:
        """Support below which a question is declined: the fitted one unless set (QA_MIN_SUPPORT)."""
        return self.model.threshold if self._threshold is None else self._threshold

    def decide(
        self,
        question: str,
        passages: list[Passage],
        keyword: KeywordIndex,
        heads: dict[str, tuple[Span | None, Span | None]] | None = None,
        sources: list[str] | None = None,
        asked: str | None = None,
        said: str | None = None,
        documents: Documents | None = None,
    ) -> Decision:
        """Answer or decline `question` (standalone) from the passages. `asked` is what the user typed,
        when a follow-up was rewritten: a decline only quotes the user's own words. `said` is the
        previous answer when the question is a follow-up to it. `documents` are read beyond the
        passages for a two-word name of the question; without them such names go unchecked."""
        q = analyse(question)
        if q.creative:
            return Decision(False, reason="I answer questions from the documents; I don't write new text.")
        structural = self._structural(q, passages, heads or {}, sources)
        if structural:  # a document's own heading answers it; no match to weigh
            return Decision(True, structural, support=1.0, kind="title")
        if not passages:
            return Decision(False, reason="no passage matches the question.")

        scored = self.reread(q, self.score(q, passages, keyword))
        best = scored[0]
        absent = self.absent(q, keyword, passages, documents)
        passage = _passage_of(best, passages)
        swap = swapped(q.text, best.span.text, passage.text if passage else "")
        features = self.features(q, best, scored, passage, keyword, absent, swap)
        support = self.model.probability(features)
        if support < self.threshold or self.model.vetoed(features):
            reason = self._reason(q, features, absent, swap, asked or question)
            return Decision(False, scored[:3], reason, support=support, features=features)
        chosen = [best]
        for other in scored[1:]:
            if len(chosen) >= MAX_SENTENCES or other.match < best.match * SECOND_SENTENCE_RATIO:
                break
            if other.span.text != best.span.text:
                chosen.append(other)
        if said and asks_for(question) is None and _already_said(best.span.text, said):
            chosen = self._beyond_what_was_said(best, scored, passages, said) or chosen
        # A model may also read the next-best supporting sentences, in document order for readability.
        context = [e for e in scored if e.match >= best.match * CONTEXT_RATIO]
        unique: dict[str, Evidence] = {}  # one copy of a line a document repeats (titles often are)
        for e in [*chosen, *context]:
            unique.setdefault(" ".join(e.span.text.split()), e)
        context = list(unique.values())[:MODEL_PASSAGES]
        return Decision(
            True,
            chosen,
            context=sorted(context, key=lambda e: (e.source, e.span.start)),
            support=support,
            tentative=support < self.model.confident,
            features=features,
        )

    def overview(self, source: str, sentences: list[Span], lead: Span | None) -> Decision:
        """A whole document's answer: its lead (the line under the title, else its first statement)
        and its most central statements (closest to the mean of all its sentences), in document order,
        each quoted with its exact span. No match to weigh: the document itself is what is asked."""
        statements = [
            s
            for s in sentences[:OVERVIEW_SENTENCES]
            if len(s.text.split()) >= OVERVIEW_MIN_WORDS and s.text.rstrip()[-1:] in ".!?”\"'’"
        ]
        if not statements:
            return Decision(False, reason="the document has no full sentences to summarise.")
        if lead is None:
            lead = statements[0]
        vectors = self._vectors([s.text for s in statements], self._sentence_vectors)
        centre = vectors.mean(axis=0)
        centrality = vectors @ (centre / (np.linalg.norm(centre) or 1.0))
        seen = {" ".join(lead.text.split())}
        chosen = [lead]
        for i in np.argsort(-centrality):
            key = " ".join(statements[i].text.split())
            if key in seen:
                continue
            seen.add(key)
            chosen.append(statements[i])
            if len(chosen) > OVERVIEW_CENTRAL:
                break
        evidence = [Evidence(source, span, 1.0, 1.0, 1.0) for span in sorted(chosen, key=lambda s: s.start)]
        return Decision(True, evidence, context=evidence, support=1.0, kind="overview")

    def score(self, q: Question, passages: list[Passage], keyword: KeywordIndex) -> list[Evidence]:
        """Every sentence of the passages with its match to the question, best first."""
        candidates = list(_sentences(passages))
        vectors = self._vectors([s.text for _, s, _ in candidates], self._sentence_vectors)
        q_vector = np.asarray(self.embeddings.embed_query(q.text), dtype=np.float32)
        similarity = vectors @ q_vector
        weights = {t: keyword.idf(t) for t in q.terms}
        total = sum(weights.values()) or 1.0
        scored: list[Evidence] = []
        for (source, span, page), sim in zip(candidates, similarity, strict=True):
            present = set(terms(span.text))
            coverage = sum(w for t, w in weights.items() if t in present) / total
            match = SIMILARITY_WEIGHT * float(sim) + (1 - SIMILARITY_WEIGHT) * coverage
            scored.append(Evidence(source, span, float(sim), coverage, match, page))
        scored.sort(key=lambda e: -e.match)
        return scored

    def reread(self, q: Question, scored: list[Evidence]) -> list[Evidence]:
        """`scored` with its first `READ_SENTENCES` reordered by match and the reader's margin."""
        head = sorted(
            scored[:READ_SENTENCES], key=lambda e: -(e.match + READER_WEIGHT * self.reader_margin(q, e))
        )
        return head + scored[READ_SENTENCES:]

    def reader_margin(self, q: Question, evidence: Evidence) -> float:
        """The reader's best span in the sentence over its "no span" score, within `MARGIN_CAP`."""
        return max(-MARGIN_CAP, min(MARGIN_CAP, self.reader.margin(q.text, evidence.span.text)))

    def features(
        self,
        q: Question,
        best: Evidence,
        scored: list[Evidence],
        passage: Passage | None,
        keyword: KeywordIndex,
        absent: list[str],
        swap: tuple[str, str] | None,
    ) -> dict[str, float]:
        """The `qa.support.FEATURES` of the question, its best sentence and the passage that sentence
        is in; `absent` is what of the question no document mentions (`EvidenceSelector.absent`),
        `swap` the question's word the sentence turns around and what it says instead
        (`qa.opposites.swapped`)."""
        weights = {t: keyword.idf(t) for t in q.terms}
        total = sum(weights.values()) or 1.0
        context = passage.text if passage else best.span.text
        context_terms = set(terms(context))
        missing = [t for t in q.terms if t not in context_terms]
        closeness = self._closest_words([q.wording.get(t, t) for t in missing], context)
        soft = sum(weights[t] * max(0.0, c) for t, c in zip(missing, closeness, strict=True))
        context_coverage = 1.0 - sum(weights[t] for t in missing) / total
        largest_idf = math.log(1.0 + (keyword.size + 0.5) / 0.5)
        runner_up = next((e for e in scored if e.span.text != best.span.text), None)
        sentence_terms = set(terms(best.span.text))
        median = float(np.median([e.similarity for e in scored]))
        return {
            "similarity": best.similarity,
            "similarity_lead": best.similarity - median,
            "coverage": best.coverage,
            "context_coverage": context_coverage if q.terms else 1.0,
            "soft_coverage": min(1.0, context_coverage + soft / total) if q.terms else 1.0,
            "weakest_match": min(closeness, default=1.0),
            "unmatched_rarity": max((weights[t] for t in missing), default=0.0) / largest_idf,
            "absent_names": float(min(2, sum(1 for w in absent if _looks_like_name(w, q.text)))),
            "absent_words": float(min(2, sum(1 for w in absent if not _looks_like_name(w, q.text)))),
            "expects_type": float(q.expects is not None),
            "type_missing": float(q.expects is not None and not _has_expected(best.span.text, q)),
            "new_terms": math.log1p(len(sentence_terms - set(q.terms))),
            "margin": best.match - runner_up.match if runner_up else best.match,
            "negation_mismatch": float(q.negated and not negates(best.span.text)),
            "question_terms": math.log1p(len(q.terms)),
            "reader_margin": self.reader_margin(q, best),
            "antonym_swap": float(swap is not None),
        }

    @staticmethod
    def _beyond_what_was_said(
        best: Evidence, scored: list[Evidence], passages: list[Passage], said: str
    ) -> list[Evidence]:
        """For "Why?" or "How?" after an answer: the sentence that answer quoted states what is to be
        explained, so it matches best but explains nothing. The best sentence of the same passage that
        says something new comes first (reasons stand next to what they explain), the old one after."""
        passage = _passage_of(best, passages)
        if passage is None:
            return []
        fresh = next(
            (e for e in scored if _passage_of(e, [passage]) and not _already_said(e.span.text, said)), None
        )
        return [fresh, best] if fresh is not None else []

    @staticmethod
    def absent(
        q: Question, keyword: KeywordIndex, passages: list[Passage], documents: Documents | None = None
    ) -> list[str]:
        """The question's words (as written) that no document mentions in any form, and, read from
        `documents`, its two-word names that no document writes though one holds both words apart:
        "Radar Princess" of a document on "Twilight Princess" praised by "Games Radar". Words no one
        document holds say less (a misspelling, words of two documents), and neither does a title
        before a name ("President Obama") or an adjective of a place ("French Republicans"). The
        question's first two words count too when the documents write the first only capitalised."""
        missing = [q.wording.get(t, t) for t in q.terms if not known_word(q.wording.get(t, t), keyword)]
        if documents is None:
            return missing
        pairs = list(q.name_pairs)
        if q.opening_pair and _only_capitalised(q.opening_pair[0], documents):
            pairs.insert(0, q.opening_pair)
        for pair in pairs:
            first = pair[0].lower()
            if (
                first in _TITLES
                or _ADJECTIVE_OF_PLACE.fullmatch(first)
                or any(_writes(pair, p.text) for p in passages)
            ):
                continue
            if not all(keyword.document_frequency.get(normalise(w), 0) for w in pair):
                continue  # a word no document holds is missing already, or known in another spelling
            if not documents.sources_with(pair, NAME_ROWS):
                continue
            holding = documents.chunks_with(pair, NAME_READS)
            if holding is not None and not any(_writes(pair, c.text) for c in holding):
                missing.append(" ".join(pair))
        return missing

    def _closest_words(self, asked: list[str], context: str) -> list[float]:
        """For each asked word, the cosine of its vector to the closest content word of `context`."""
        if not asked:
            return []
        found = list(dict.fromkeys(w.lower() for w in words(context) if w.lower() not in STOPWORDS))
        if not found:
            return [0.0 for _ in asked]
        vectors = self._vectors([*(a.lower() for a in asked), *found], self._word_vectors)
        matrix = vectors[len(asked) :]
        return [float((matrix @ vectors[i]).max()) for i in range(len(asked))]

    def _vectors(self, texts: list[str], cache: dict[str, np.ndarray]) -> np.ndarray:
        """Embeddings of `texts`, each computed once: the same sentences and words come back with
        every question about a document. Safe to share between threads (a miss just recomputes)."""
        found: dict[str, np.ndarray] = {t: cache[t] for t in texts if t in cache}
        wanted = [t for t in dict.fromkeys(texts) if t not in found]
        if wanted:
            if len(cache) + len(wanted) > VECTOR_CACHE:
                cache.clear()
            # One text per batch when batches change vectors, so an answer never depends on what was
            # asked (and cached) before it.
            batches = [wanted] if self.embeddings.batch_invariant else [[t] for t in wanted]
            for batch in batches:
                for text, vector in zip(batch, self.embeddings.encode(batch), strict=True):
                    found[text] = cache[text] = np.asarray(vector, dtype=np.float32)
        return np.stack([found[t] for t in texts])

    def _reason(
        self,
        q: Question,
        features: dict[str, float],
        absent: list[str],
        swap: tuple[str, str] | None,
        asked: str,
    ) -> str:
        """The decline's reason in plain words, from what weighed most against answering."""
        if swap and swap[0].lower() in asked.lower():  # the more telling: "says “new”, not “old”"
            return f"the closest passage says “{swap[1]}”, not “{swap[0]}”."
        absent = [w for w in absent if w.lower() in asked.lower()]
        names = [w for w in absent if _looks_like_name(w, q.text)]
        negation = bool(features["negation_mismatch"]) and asks_negated(asked)
        if names or (absent and not negation):  # an absent name says most, and alone: the words add noise
            return f"no passage mentions {_listing(names or absent)}."
        if negation:
            return "the question asks what is not so, and the closest passage only says what is."
        pull = self.model.contributions(features)
        if features["type_missing"] and pull.get("type_missing", 0.0) < 0 and q.expects:
            return f"the closest passages give no {_KIND[q.expects]} for this."
        if features["reader_margin"] < 0 and min(pull, key=pull.__getitem__) == "reader_margin":
            return "the closest passage is on the subject but does not say this."
        return "no passage says this closely enough."

    @staticmethod
    def _structural(
        q: Question,
        passages: list[Passage],
        heads: dict[str, tuple[Span | None, Span | None]],
        sources: list[str] | None,
    ) -> list[Evidence]:
        """Questions about a document's own title or subtitle are answered from its first lines."""
        if not (q.asks_title or q.asks_subtitle):
            return []
        ranked = list(dict.fromkeys([p.source for p in passages] + list(heads)))
        if sources is not None:
            ranked = [s for s in ranked if s in sources]
        for source in ranked:
            title, subtitle = heads.get(source, (None, None))
            span = title if q.asks_title else subtitle
            if span is not None:
                return [Evidence(source, span, 1.0, 1.0, 1.0)]
        return []


def _sentences(passages: list[Passage]) -> Iterator[tuple[str, Span, int | None]]:
    """Every sentence of the passages once, in passage order."""
    seen: set[tuple[str, int]] = set()
    for passage in passages:
        for span in split_sentences(passage.text, offset=passage.start):
            key = (passage.source, span.start)
            if key not in seen:
                seen.add(key)
                yield passage.source, span, passage.page


def _passage_of(evidence: Evidence, passages: list[Passage]) -> Passage | None:
    """The passage the sentence was cut from."""
    return next(
        (p for p in passages if p.source == evidence.source and p.start <= evidence.span.start < p.end),
        None,
    )


def _already_said(sentence: str, said: str) -> bool:
    """Is every content term of the sentence already in what was said (so it adds nothing)?"""
    new = set(terms(sentence))
    return bool(new) and new <= set(terms(said))


def _listing(items: list[str]) -> str:
    quoted = [f"“{i}”" for i in dict.fromkeys(items)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
