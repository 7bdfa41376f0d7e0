"""Cited sentence + fact question -> the fact itself, as a span of that sentence (`Answer.short`).

"When was the OPM breach made public?" is answered by a 34-word sentence; the fact a reader wants is
"June 2015". A question that asks for a fact (when, how many, who, where, what, which ...) gets the
phrase of its best cited sentence that a fitted span model (`SpanModel`) rates most likely to be
exactly the answer: candidates are dates, numbers, names, noun phrases and short runs of words that
are not the question's own words, scored by where they stand relative to the words the sentence
shares with the question, their shape, and their kind against the kind asked for. The phrase is
stated only when the model is confident enough (`SpanModel.show_at`); an explanation (why, how ...,
describe) gets none, since no phrase answers it.

The span is always cut from the sentence itself, so `document_text[start:end] == text` holds as for
any citation; a span a language model proposes is kept only when it is such a substring
(`verbatim_span`). `python -m bench.fit_spans` fits the model; `python -m bench.short_answers`
measures the methods end to end on held-out SQuAD and XQuAD questions.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .models import Citation
from .support import regression_fields
from .text import STOPWORDS, bare, normalise, words

SPAN_MODEL = Path(__file__).with_name("span_model.json")

# Question openings that ask for an explanation, which no single phrase answers.
_EXPLAIN_FIRST = frozenset({"why", "explain", "describe", "summarize", "summarise", "discuss", "tell"})
_HOW_FACT = frozenset({"many", "much", "long", "old", "far", "big", "large", "often", "tall", "high"})
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
)
# A date as a unit: "June 14, 2015", "14 June 2015", "June 2015", "1990s", "2015".
_DATE = re.compile(
    rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{3,4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}"
    rf"(?:,?\s+\d{{3,4}})?|{_MONTH}(?:,?\s+\d{{3,4}})?|\d{{3,4}}s?(?:\s*(?:-|–|to)\s*\d{{2,4}})?"
    r"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday))\b(?!\s*%)"
)
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred hundreds thousand thousands million millions billion billions trillion dozen dozens
    several half""".split()
)
_UNITS = frozenset(
    {"percent", "per", "cent", "%", "km", "miles", "kilometres", "kilometers", "years", "people"}
)
_CALENDAR = re.compile(rf"{_MONTH}|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day", re.IGNORECASE)
_TOKEN = re.compile(r"[$£€]?[^\W_]+(?:[.,&'’-][^\W_]+)*%?\.?", re.UNICODE)
# Words that may join the parts of a name ("Bank of England", "Barack Obama and Xi Jinping" is two).
_NAME_JOINERS = frozenset({"of", "de", "la", "du", "von", "van", "da", "der", "&"})
_LOCATIVE = frozenset(
    "in at on off near from to across along around beside outside inside within throughout".split()
)
# Words that open a noun phrase: a phrase after one of them is a thing, not a verb.
_DETERMINERS = frozenset(
    """a an the its their his her this that these those our your some any each every another new
    of for by with about on in at as""".split()
)


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str

    @property
    def lower(self) -> str:
        return self.text.lower()


def _tokens(sentence: str) -> list[Token]:
    out = []
    for m in _TOKEN.finditer(sentence):
        text = m.group(0)
        end = m.end()
        if text.endswith(".") and not re.fullmatch(r"(?:[A-Z]\.)+", text):  # a full stop, not "U.S."
            text, end = text[:-1], end - 1
        if text:
            out.append(Token(m.start(), end, text))
    return out


def asks_for(question: str) -> str | None:
    """The kind of fact a question asks for ("date", "number", "name", "place", "thing"), or None
    when it asks for an explanation."""
    plain = [bare(w) for w in re.findall(r"[^\W_]+(?:['’][^\W_]+)?", question)]
    if not plain:
        return None
    first, second = plain[0], plain[1] if len(plain) > 1 else ""
    if first in {"and", "so", "but", "then"} and len(plain) > 1:  # "And when?"
        first, second = second, plain[2] if len(plain) > 2 else ""
    if first in _EXPLAIN_FIRST:
        return None
    if first == "how":
        return "number" if second in _HOW_FACT else None
    if first == "when" or (first in {"what", "which"} and second in {"year", "date", "time", "day", "month"}):
        return "date"
    if first in {"what", "which"} and second in {"number", "percentage", "proportion", "amount"}:
        return "number"
    if first in {"who", "whom", "whose"}:
        return "name"
    if first == "where":
        return "place"
    if first in {"what", "which", "name", "in", "on", "at", "during", "to", "for", "by", "from"}:
        return "thing"
    return None


@dataclass(frozen=True)
class Candidate:
    first: int  # token index
    last: int
    kind: str


def _candidates(tokens: list[Token], sentence: str, asked: set[str]) -> list[Candidate]:
    """Phrases of the sentence that could be an answer, each with the kind of thing it is."""
    found: list[Candidate] = []
    index_at = {t.start: i for i, t in enumerate(tokens)}
    ends = {t.end: i for i, t in enumerate(tokens)}
    for m in _DATE.finditer(sentence):
        a, b = index_at.get(m.start()), ends.get(m.end())
        if a is not None and b is not None:
            found.append(Candidate(a, b, "date"))
    i = 0
    while i < len(tokens):  # numbers, with the number words and unit that go with them
        t = tokens[i]
        if any(ch.isdigit() for ch in t.text) or t.lower in _NUMBER_WORDS:
            j = i
            while j + 1 < len(tokens) and (
                any(ch.isdigit() for ch in tokens[j + 1].text)
                or tokens[j + 1].lower in _NUMBER_WORDS
                or tokens[j + 1].lower in _UNITS
            ):
                j += 1
            found.append(Candidate(i, j, "number"))
            i = j + 1
            continue
        i += 1
    i = 0
    while i < len(tokens):  # names: runs of capitalised words, joined by "of", "de", ...
        if _capitalised(tokens, i):
            j = i
            while j + 1 < len(tokens) and (
                _capitalised(tokens, j + 1)
                or (
                    tokens[j + 1].lower in _NAME_JOINERS
                    and j + 2 < len(tokens)
                    and _capitalised(tokens, j + 2)
                )
            ):
                j += 1
            before = tokens[i - 1].lower if i > 0 else ""
            found.append(Candidate(i, j, "place" if before in _LOCATIVE else "name"))
            i = j + 1
            continue
        i += 1
    i = 0
    while i < len(tokens):  # other phrases: runs of content words, "of" inside them
        if _content(tokens[i], asked):
            j = i
            while j + 1 < len(tokens) and (
                _content(tokens[j + 1], asked)
                or (tokens[j + 1].lower == "of" and j + 2 < len(tokens) and _content(tokens[j + 2], asked))
            ):
                if _gap(sentence, tokens[j], tokens[j + 1]):
                    break
                j += 1
            found.append(Candidate(i, j, "thing"))
            i = j + 1
            continue
        i += 1
    return found


def _capitalised(tokens: list[Token], i: int) -> bool:
    """A word written with a capital that is not a function word ("The" opening a sentence is not)
    nor a month or weekday (those make dates, not names)."""
    text = tokens[i].text
    return text[:1].isupper() and text.lower() not in STOPWORDS and not _CALENDAR.fullmatch(text)


def _content(token: Token, asked: set[str]) -> bool:
    return (
        token.lower not in STOPWORDS
        and bare(token.text) not in STOPWORDS
        and normalise(token.text) not in asked
    )


def _gap(sentence: str, a: Token, b: Token) -> bool:
    """Punctuation between two tokens ends a phrase."""
    return bool(re.search(r"[,;:()\[\]“”\"—–]", sentence[a.end : b.start]))


def _trim(c: Candidate, tokens: list[Token], asked: set[str]) -> Candidate | None:
    """The candidate without the question's own words and function words at its edges."""
    first, last = c.first, c.last

    def drop(t: Token) -> bool:
        return normalise(t.text) in asked or (t.lower in STOPWORDS and t.lower not in _NUMBER_WORDS)

    while first <= last and drop(tokens[first]):
        first += 1
    while last >= first and drop(tokens[last]):
        last -= 1
    if first > last:
        return None
    return Candidate(first, last, c.kind)


# A "when" or "how many" question is answered by a date or a number, never by another phrase.
_ONLY = {"date": ("date",), "number": ("number",)}
_COPULAS = frozenset({"is", "was", "are", "were", "be", "been", "called", "named", "as"})
KINDS = ("date", "number", "name", "place", "thing")
_CANDIDATE_KINDS = (*KINDS, "words")


def _spans(tokens: list[Token], sentence: str, asked: set[str]) -> dict[tuple[int, int], str]:
    """Every phrase of the sentence that could answer, by (first, last) token, with its kind: the typed
    candidates (dates, numbers, names, places, noun phrases), trimmed of the question's words, and
    any run of up to seven words inside a clause that neither opens nor closes on a function word."""
    found: dict[tuple[int, int], str] = {}
    for raw in _candidates(tokens, sentence, asked):
        for c in (raw, _trim(raw, tokens, asked)):
            if c is not None:
                found.setdefault((c.first, c.last), c.kind)

    def edge(t: Token) -> bool:
        return t.lower not in STOPWORDS or t.lower in _NUMBER_WORDS

    for i, first in enumerate(tokens):
        if not edge(first):
            continue
        for j in range(i, min(len(tokens), i + 7)):
            if j > i and _gap(sentence, tokens[j - 1], tokens[j]):
                break
            if edge(tokens[j]):
                found.setdefault((i, j), "words")
    return found


def span_features(question: str, sentence: str) -> tuple[list[tuple[int, int]], list[dict[str, float]]]:
    """The candidate phrases of `sentence` for the fact `question` as (start, end) character spans, each
    with the features `SpanModel` scores: where it stands relative to the words the sentence shares
    with the question (answers sit beside them), its length, shape and kind against the kind asked
    for, and the words around it. Nothing about the subject matter, so a fit carries over."""
    kind = asks_for(question)
    asked = {normalise(w) for w in words(question)}
    tokens = _tokens(sentence)
    if kind is None or not tokens:
        return [], []
    n = len(tokens)
    anchors = [i for i, t in enumerate(tokens) if t.lower not in STOPWORDS and normalise(t.text) in asked]
    spans: list[tuple[int, int]] = []
    rows: list[dict[str, float]] = []
    for (a, b), c_kind in _spans(tokens, sentence, asked).items():
        if kind in _ONLY and c_kind not in _ONLY[kind]:
            continue
        inside = sum(
            normalise(tokens[k].text) in asked and tokens[k].lower not in STOPWORDS for k in range(a, b + 1)
        )
        length = b - a + 1
        if inside == length:
            continue  # only what the question already says
        left = [x for x in anchors if x < a]
        right = [x for x in anchors if x > b]
        to_left = a - max(left) if left else 30
        to_right = min(right) - b if right else 30
        distance = math.log1p(min(to_left, to_right))
        before = tokens[a - 1].lower if a > 0 else ""
        capitals = sum(tokens[k].text[:1].isupper() for k in range(a, b + 1)) / length
        digits = float(any(ch.isdigit() for k in range(a, b + 1) for ch in tokens[k].text))
        after_determiner = float(before in _DETERMINERS)
        f = {
            "distance": distance,
            "adjacent": float(min(to_left, to_right) <= 1),
            "distance_left": math.log1p(to_left),
            "distance_right": math.log1p(to_right),
            "anchors_near": float(sum(a - 4 <= x <= b + 4 for x in anchors)),
            "anchors_left": float(min(len(left), 5)),
            "anchors_right": float(min(len(right), 5)),
            "between_anchors": float(bool(left and right)),
            "question_found": len(anchors) / max(1, len(asked)),
            "length": float(length),
            "one_word": float(length == 1),
            "past_four_words": float(max(0, length - 4)),
            "question_words_inside": inside / length,
            "after_determiner": after_determiner,
            "after_locative": float(before in _LOCATIVE),
            "after_copula": float(before in _COPULAS),
            "after_comma": float(
                a > 0 and bool(re.search(r"[,(]", sentence[tokens[a - 1].end : tokens[a].start]))
            ),
            "before_comma": float(
                b + 1 < n and bool(re.search(r"[,)]", sentence[tokens[b].end : tokens[b + 1].start]))
            ),
            "ends_sentence": float(b == n - 1),
            "opens_sentence": float(a == 0),
            "capitals": capitals,
            "digits": digits,
            "position": a / n,
        }
        for k in _CANDIDATE_KINDS:
            f[f"is_{k}"] = float(c_kind == k)
        for q in KINDS:
            asked_q = float(kind == q)
            for k in _CANDIDATE_KINDS:
                f[f"{q}_asked_{k}_found"] = asked_q * (c_kind == k)
            f[f"{q}_asked_digits"] = asked_q * digits
            f[f"{q}_asked_capitals"] = asked_q * capitals
            f[f"{q}_asked_length"] = asked_q * length
            f[f"{q}_asked_distance"] = asked_q * distance
            f[f"{q}_asked_after_determiner"] = asked_q * after_determiner
        spans.append((tokens[a].start, tokens[b].end))
        rows.append(f)
    return spans, rows


@dataclass(frozen=True)
class SpanModel:
    """A logistic regression over `span_features`: the probability that a phrase is exactly the answer.
    Fitted by `python -m bench.fit_spans` on SQuAD training articles (never on the articles reported)
    and shipped as `span_model.json`; `show_at` is the probability from which the phrase is stated."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    show_at: float
    about: dict[str, object] = field(default_factory=dict)

    def probabilities(self, rows: list[dict[str, float]]) -> np.ndarray:
        x = np.array([[row[name] for name in self.features] for row in rows], dtype=np.float64)
        z = (x - np.array(self.mean)) / np.array(self.scale) @ np.array(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@functools.cache
def span_model(path: Path = SPAN_MODEL) -> SpanModel:
    """The packaged span model; a file fitted on other features is refused with the command to refit."""
    from .errors import QAError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = SpanModel(
            **regression_fields(data),
            show_at=float(data["show_at"]),
            about=dict(data.get("about") or {}),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QAError(
            f"cannot read the span model {path} ({exc}); refit it with `python -m bench.fit_spans`"
        ) from exc
    probe = span_features("What is it?", "It is a probe sentence.")[1]
    if not probe or set(model.features) != set(probe[0]):
        raise QAError(
            f"the span model {path} was fitted on other features; refit it with `python -m bench.fit_spans`"
        )
    return model


def find_span(question: str, sentence: str, model: SpanModel | None = None) -> tuple[int, int, float] | None:
    """The (start, end) of the phrase of `sentence` most likely to be the fact `question` asks for, with
    that probability; None when the question asks for an explanation or no phrase fits."""
    spans, rows = span_features(question, sentence)
    if not spans:
        return None
    p = (model or span_model()).probabilities(rows)
    best = int(np.argmax(p))
    return spans[best][0], spans[best][1], float(p[best])


def short_answer(
    question: str, citations: list[Citation], model: SpanModel | None = None, show_at: float | None = None
) -> Citation | None:
    """The fact `question` asks for as a span of the first cited sentence that holds a candidate, when
    the span model gives it at least `show_at` (the fitted one unless set): a bold wrong "fact"
    misleads more than none. None for an explanation. The span keeps its citation's number."""
    model = model or span_model()
    floor = model.show_at if show_at is None else show_at
    for citation in citations:
        found = find_span(question, citation.text, model)
        if found is None:
            continue
        a, b, probability = found
        return _within(citation, a, b) if probability >= floor else None
    return None


def _within(citation: Citation, a: int, b: int) -> Citation:
    """Characters a:b of a cited sentence as a citation of their own: its number, page, section and
    OCR mark are the sentence's."""
    return replace(citation, start=citation.start + a, end=citation.start + b, text=citation.text[a:b])


def verbatim_span(proposed: str, citations: list[Citation]) -> Citation | None:
    """A phrase a language model proposed, as a span of a cited sentence when it occurs there verbatim
    (ignoring case and surrounding punctuation); None when it does not, so it is never shown."""
    phrase = proposed.strip().strip(" \"'“”.,;:[]()")
    phrase = re.sub(r"\s*\[\d+\]\s*$", "", phrase)
    if not phrase or len(phrase) > 120:
        return None
    for citation in citations:
        at = citation.text.lower().find(phrase.lower())
        if at >= 0:
            return _within(citation, at, at + len(phrase))
    return None
