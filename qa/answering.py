"""Evidence selection and the extractive answerer: cited sentences, or an honest refusal.

The decision to answer is made here, from the question and the retrieved passages, before any
text is written, and no later stage can overturn a refusal. A question is declined when

- it asks for writing rather than information ("Write a poem about ..."),
- it names something the documents never mention (a person, place, acronym or year),
- the thing it asks about ("What is the *population* of ...") appears nowhere in the documents,
- it expects a kind of answer (a date, a count, a name) that no supporting sentence contains, or
- no sentence supports it well enough: `support` mixes meaning (cosine similarity of question
  and sentence) with coverage (the share of the question's terms, weighted by rarity, that the
  sentence contains).

The answer quotes the best supporting sentences verbatim, each with its exact span as a citation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .chunking import Span, split_sentences
from .embeddings import PackagedMiniLM
from .keyword_index import KeywordIndex
from .models import Answer, Chunk, Citation, Passage
from .text import STOPWORDS, WORD, normalise, terms, words

DECLINE_PREFIX = "The documents don't say"
SIMILARITY_WEIGHT = 0.5  # support = w * similarity + (1 - w) * coverage
SECOND_SENTENCE_RATIO = 0.85  # a second sentence is quoted only when nearly as good as the first
MAX_SENTENCES = 2
CONTEXT_RATIO = 0.7  # sentences this close to the best one may be shown to a language model
MODEL_PASSAGES = 4  # at most this many numbered passages in a prompt: a small model reads few well

_CREATIVE = re.compile(
    r"^\s*(?:please\s+)?(?:write|compose|create|generate|draft|invent|imagine|pretend|compose|sing|"
    r"make\s+up|tell\s+me\s+a\s+(?:joke|story|poem))\b",
    re.IGNORECASE,
)
_QUESTION_WORDS = frozenset(
    """what which who whom whose when where why how are is do does did can could was were will
    would should has have""".split()
)
_AUX = frozenset(
    """is are was were do does did has have had will can could would should may might must be
    been""".split()
)
_NP_STOP = _AUX | frozenset(
    """of in on for at by from to with about that who which whom whose the a an and or than as
    into over under""".split()
)
# Heads too generic to say what a question is about ("the name of ...", "the main point").
_GENERIC_HEADS = frozenset(
    """name kind type sort part number amount way reason one thing things example term word date
    year time day month role purpose goal result outcome effect impact problem issue main
    point idea topic subject focus meaning significance view opinion status state source cause
    difference relationship situation message argument conclusion summary gist tone percentage
    share level colour color size shape age height weight length width price cost""".split()
)
# Verbs that open requests ("List the reasons ..."); a capitalised first word is otherwise a name.
_IMPERATIVES = frozenset(
    """list give name summarise summarize compare explain describe tell show find quote define outline
    identify state provide please according""".split()
)
_TITLE_HEADS = {"title", "headline", "heading"}
_SUBTITLE_HEADS = {"subtitle", "subheading", "standfirst", "subhead", "tagline"}
# Names a question may use for what a document calls otherwise.
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

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"  # noqa: E501
_DATE = re.compile(
    rf"\b(?:{_MONTHS}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?|(?:1[5-9]|20)\d\d(?:s)?|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}|"
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|yesterday|today|tomorrow|"
    r"(?:last|next|this|past|coming)\s+(?:week|month|year|decade|century|spring|summer|autumn|fall|winter)|"
    r"\d+\s+(?:days?|weeks?|months?|years?|decades?)\s+ago|(?:months|weeks|years)\s+ahead|recently|"
    r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})\b"
)
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve dozen dozens hundred
    hundreds thousand thousands million millions billion billions several many few half""".split()
)


@dataclass(frozen=True)
class Question:
    """What a question asks for, read off its wording."""

    text: str
    terms: list[str]
    entities: list[str]  # names as written: capitalised words, acronyms, years
    focus: list[str]  # the noun phrase asked about in "what is the X of" / "which X did"
    expects: str | None  # "date", "number", "name" or None
    creative: bool

    @property
    def head(self) -> str | None:
        return self.focus[-1] if self.focus else None

    @property
    def asks_title(self) -> bool:
        return self.head in _TITLE_HEADS

    @property
    def asks_subtitle(self) -> bool:
        return any(w.lower() in _SUBTITLE_HEADS for w in words(self.text))


@dataclass(frozen=True)
class Evidence:
    """A sentence of a retrieved passage, scored for how well it supports an answer."""

    source: str
    span: Span
    similarity: float
    coverage: float
    support: float
    page: int | None = None


@dataclass
class Decision:
    """The answer-or-decline verdict with the evidence behind it."""

    answerable: bool
    evidence: list[Evidence] = field(default_factory=list)  # what an extractive answer quotes
    reason: str = ""
    context: list[Evidence] = field(default_factory=list)  # what a language model may read

    @property
    def passages_for_model(self) -> list[Evidence]:
        return self.context or self.evidence


def analyse(question: str) -> Question:
    """Read the question's wording: its terms, names, focus and expected kind of answer."""
    found = list(WORD.finditer(question))
    tokens = [m.group(0) for m in found]
    lower = [t.lower() for t in tokens]
    runs: list[tuple[int, int, int]] = []  # adjacent name tokens form one name: "European Union"
    for i, token in enumerate(tokens):
        if lower[i] in _QUESTION_WORDS or lower[i] in STOPWORDS or token == "I":
            continue
        if i == 0 and (lower[i] in _IMPERATIVES or (not token[1:2].isupper() and lower[i].endswith("ing"))):
            continue  # "List the ...", "Summarise ...": a request, not a name
        if token[0].isupper() or (token.isdigit() and len(token) == 4):
            end = found[i].end() + (
                1 if question[found[i].end() : found[i].end() + 1] == "." and "." in token else 0
            )
            if runs and runs[-1][2] == i - 1:
                runs[-1] = (runs[-1][0], end, i)
            else:
                runs.append((found[i].start(), end, i))
    entities = [question[a:b] for a, b, _ in runs]
    focus = _focus_phrase(lower)
    head = focus[-1] if focus else None
    expects = None
    first = lower[0] if lower else ""
    joined = " ".join(lower[:4])
    if first == "when" or joined.startswith(
        ("what year", "what date", "what time", "which year", "what day")
    ):
        expects = "date"
    elif joined.startswith(("how many", "how much", "what number", "what percentage", "what proportion")) or (
        head in {"population", "number", "amount", "percentage", "cost", "price", "size", "total"}
    ):
        expects = "number"
    elif first in {"who", "whom"} or first == "where":
        expects = "name"
    return Question(
        text=question,
        terms=list(dict.fromkeys(terms(question))),
        entities=entities,
        focus=focus,
        expects=expects,
        creative=bool(_CREATIVE.match(question)),
    )


def asks_about_opening(question: str) -> bool:
    """Does the question ask for a document's title or subtitle (found in its first lines)?"""
    q = analyse(question)
    return q.asks_title or q.asks_subtitle


def _focus_phrase(lower: list[str]) -> list[str]:
    """The noun phrase a question asks about: "What is the population of ..." -> [population],
    "Which Chinese telecom company did ..." -> [chinese, telecom, company]. Empty for other shapes
    ("What did X say"), whose subject need not be named in the documents."""
    if len(lower) < 2 or lower[0] not in {"what", "which", "who", "whom"}:
        return []
    i = 1
    if lower[1] in {"is", "are", "was", "were"}:
        i = 2
        while i < len(lower) and lower[i] in {"the", "a", "an"}:
            i += 1
    elif lower[0] in {"who", "whom"} or lower[1] in _AUX:
        return []
    phrase: list[str] = []
    while i < len(lower) and lower[i] not in _NP_STOP and not (phrase and lower[i].endswith("ed")):
        phrase.append(lower[i])
        i += 1
    return [w for w in phrase if w not in STOPWORDS]


def _known(term: str, keyword: KeywordIndex) -> bool:
    return keyword.document_frequency.get(term, 0) > 0


def _spelled_out(token: str, keyword: KeywordIndex) -> bool:
    """An acronym the documents only write in full ("OPM" for "Office of Personnel Management")."""
    return 2 <= len(token) <= 6 and token.isupper() and token.isalpha() and token.lower() in keyword.acronyms


def missing_entities(question: Question, keyword: KeywordIndex) -> list[str]:
    """Names in the question that no document mentions."""
    missing = []
    for entity in question.entities:
        for token in entity.split():
            lower = token.lower()
            if lower in STOPWORDS:
                continue
            term = normalise(_ALIASES.get(lower, token))
            if (
                not _known(term, keyword)
                and not any(_known(normalise(p), keyword) for p in token.split("-") if p)
                and not _spelled_out(token, keyword)
            ):
                missing.append(entity)
                break
    return missing


def _has_expected(sentence: str, question: Question) -> bool:
    """Does the sentence contain the kind of thing the question asks for?"""
    asked = {w.lower() for w in words(question.text)}
    if question.expects == "date":
        return bool(_DATE.search(sentence))
    if question.expects == "number":
        no_dates = _DATE.sub(" ", sentence)
        for token in words(no_dates):
            lower = token.lower()
            if lower in asked:
                continue
            if any(ch.isdigit() for ch in token) or lower in _NUMBER_WORDS:
                return True
        return False
    if question.expects == "name":
        tokens = words(sentence)
        for i, token in enumerate(tokens):
            if i == 0 or token == "I" or token.lower() in asked or token.lower() in STOPWORDS:
                continue
            if token[0].isupper() and not re.search(r"\.[a-z]{2,4}$", token):  # a name, not a web address
                return True
        return False
    return True


def document_heads(first_chunks: list[Chunk]) -> dict[str, tuple[Span | None, Span | None]]:
    """Each document's title line and the sentence that follows it as a subtitle, when it has them."""
    heads: dict[str, tuple[Span | None, Span | None]] = {}
    for chunk in first_chunks:
        source = chunk.source
        spans = split_sentences(chunk.text, offset=chunk.start)
        title = next((s for s in spans if len(s.text.split()) >= 3 and s.text[-1] not in ".!?"), None)
        subtitle = None
        if title is not None:
            after = [s for s in spans if s.start > title.start and s.text != title.text]
            subtitle = next((s for s in after if len(s.text.split()) >= 6 and s.text[-1] in ".!?"), None)
        heads[source] = (title, subtitle)
    return heads


class EvidenceSelector:
    """Scores the sentences of retrieved passages against a question and decides answerability."""

    def __init__(self, embeddings: PackagedMiniLM, min_support: float) -> None:
        self.embeddings = embeddings
        self.min_support = min_support

    def decide(
        self,
        question: str,
        passages: list[Passage],
        keyword: KeywordIndex,
        heads: dict[str, tuple[Span | None, Span | None]] | None = None,
        sources: list[str] | None = None,
    ) -> Decision:
        q = analyse(question)
        if q.creative:
            return Decision(False, reason="I answer questions from the documents; I don't write new text.")
        missing = missing_entities(q, keyword)
        if missing:
            return Decision(False, reason=f"they never mention {_listing(missing)}.")
        structural = self._structural(q, passages, heads or {}, sources)
        if structural:
            return Decision(True, structural)
        unknown = [
            w
            for w in q.focus
            if w not in _GENERIC_HEADS and not _known(normalise(w), keyword) and not _spelled_out(w, keyword)
        ]
        if unknown:
            return Decision(False, reason=f"they never mention {_listing(unknown)}.")
        if not passages:
            return Decision(False, reason="no passage matches the question.")

        scored = self.score(q, passages, keyword)
        typed = [e for e in scored if _has_expected(e.span.text, q)]
        if not typed:
            return Decision(False, scored[:3], f"the closest passages give no {q.expects or 'answer'}.")
        best = typed[0]
        if best.support < self.min_support:
            return Decision(False, scored[:3], "no passage supports an answer closely enough.")
        chosen = [best]
        for other in typed[1:]:
            if len(chosen) >= MAX_SENTENCES or other.support < best.support * SECOND_SENTENCE_RATIO:
                break
            if other.span.text != best.span.text:
                chosen.append(other)
        # A model may also read the next-best supporting sentences, in document order for readability.
        context = [e for e in scored if e.support >= max(self.min_support, best.support * CONTEXT_RATIO)]
        unique: dict[str, Evidence] = {}  # one copy of a line a document repeats (titles often are)
        for e in [*chosen, *context]:
            unique.setdefault(" ".join(e.span.text.split()), e)
        context = list(unique.values())[:MODEL_PASSAGES]
        return Decision(True, chosen, context=sorted(context, key=lambda e: (e.source, e.span.start)))

    def score(self, q: Question, passages: list[Passage], keyword: KeywordIndex) -> list[Evidence]:
        """Every sentence of the passages with its support for the question, best first."""
        candidates = list(_sentences(passages))
        vectors = self.embeddings.encode([s.text for _, s, _ in candidates])
        q_vector = np.asarray(self.embeddings.embed_query(q.text), dtype=np.float32)
        similarity = vectors @ q_vector
        weights = {t: keyword.idf(t) for t in q.terms}
        total = sum(weights.values()) or 1.0
        scored: list[Evidence] = []
        for (source, span, page), sim in zip(candidates, similarity, strict=True):
            present = set(terms(span.text))
            coverage = sum(w for t, w in weights.items() if t in present) / total
            support = SIMILARITY_WEIGHT * float(sim) + (1 - SIMILARITY_WEIGHT) * coverage
            scored.append(Evidence(source, span, float(sim), coverage, support, page))
        scored.sort(key=lambda e: -e.support)
        return scored

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


def _listing(items: list[str]) -> str:
    quoted = [f"“{i}”" for i in dict.fromkeys(items)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def extractive_answer(question: str, query: str, decision: Decision, nearest: list[Passage]) -> Answer:
    """Quote the chosen sentences verbatim, each followed by its citation number."""
    if not decision.answerable:
        text = f"{DECLINE_PREFIX}: {decision.reason}"
        return Answer(text=text, answerable=False, nearest=nearest, query=query, mode="extractive")
    citations = [
        Citation(n=i, source=e.source, start=e.span.start, end=e.span.end, text=e.span.text, page=e.page)
        for i, e in enumerate(decision.evidence, start=1)
    ]
    text = " ".join(f"{c.text} [{c.n}]" for c in citations)
    return Answer(text=text, answerable=True, citations=citations, query=query, mode="extractive")
