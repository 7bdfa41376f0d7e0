"""Cited sentence + fact question -> the fact itself, as a span of that sentence (`Answer.short`).

"When was the OPM breach made public?" is answered by a 34-word sentence; the fact a reader wants is
"June 2015". A question that asks for a date, a number, a person or a place (when, how many, who,
where, what year ...) gets the phrase of its best cited sentence that holds that kind of thing, is
not made of the question's own words, and stands nearest to the words of the question that the
sentence repeats (answers sit next to what the question already says). An explanation (why, how ...,
describe) gets none: no phrase answers it. Nor does an open "what"/"which" question: measured on
held-out articles, the phrase picked for those was the exact answer about one time in eight, and a
bold wrong "fact" misleads more than none (`STATED_KINDS`).

The span is always cut from the sentence itself, so `document_text[start:end] == text` holds as for
any citation; a span a language model proposes is kept only when it is such a substring
(`verbatim_span`). `python -m bench.short_answers` measures the methods on held-out SQuAD answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .models import Citation
from .text import STOPWORDS, bare, normalise, words

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
class SpanWeights:
    """How a "what"/"which" question weighs its candidates beyond their distance (in tokens) to the
    question's words: a bare phrase (likely a verb) gives up `phrase_penalty` to a noun phrase, and
    a noun phrase `name_bonus` to a name. Chosen by `python -m bench.short_answers`, which picks them
    on some articles and reports them on others."""

    phrase_penalty: float = 3.0
    name_bonus: float = 1.5
    length_penalty: float = 0.5  # per word past four: answers are short


WEIGHTS = SpanWeights()

# The kinds of fact stated first, in bold: those whose span `python -m bench.short_answers` finds
# exactly right often (its `by_kind` table: dates, numbers, names, places), not "thing" (an open
# what/which question), whose span it finds exactly right about one time in eight.
STATED_KINDS = frozenset({"date", "number", "name", "place"})
EVERY_KIND = STATED_KINDS | {"thing"}


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


_FITS = {
    "date": ("date",),
    "number": ("number",),
    "name": ("name", "place"),
    # Only a name after "in", "at", ...: on held-out SQuAD and XQuAD questions any other name of the
    # sentence was rarely the place asked for, so a "where" question then gets no short answer.
    "place": ("place",),
    "thing": ("name", "place", "thing", "number", "date"),
}


def find_span(
    question: str, sentence: str, asked_terms: set[str] | None = None, weights: SpanWeights = WEIGHTS
) -> tuple[int, int] | None:
    """The (start, end) of the phrase of `sentence` that answers the fact `question`, or None when the
    question asks for an explanation or the sentence holds no phrase of the kind it asks for."""
    kind = asks_for(question)
    if kind is None:
        return None
    asked = asked_terms if asked_terms is not None else {normalise(w) for w in words(question)}
    tokens = _tokens(sentence)
    if not tokens:
        return None
    anchors = [i for i, t in enumerate(tokens) if t.lower not in STOPWORDS and normalise(t.text) in asked]
    best: tuple[float, int, int] | None = None
    candidates = _candidates(tokens, sentence, asked)
    groups = [_FITS[kind]] if kind == "thing" else [(fits,) for fits in _FITS[kind]]
    for rank, fitting in enumerate(groups):
        for raw in candidates:
            if raw.kind not in fitting:
                continue
            c = _trim(raw, tokens, asked) if raw.kind in {"name", "place", "thing"} else raw
            if c is None or all(
                normalise(tokens[k].text) in asked or tokens[k].lower in STOPWORDS
                for k in range(c.first, c.last + 1)
            ):
                continue  # only what the question already says
            distance = min((min(abs(a - c.first), abs(a - c.last)) for a in anchors), default=0)
            length = c.last - c.first + 1
            score = float(rank * 100 + distance)
            if kind == "thing":  # a noun phrase (after a determiner) or a name, of a few words
                opened = c.first > 0 and tokens[c.first - 1].lower in _DETERMINERS
                score += 0 if opened or c.kind != "thing" else weights.phrase_penalty
                score += weights.length_penalty * max(0, length - 4)
                score -= weights.name_bonus if c.kind in {"name", "place"} else 0
            if best is None or score < best[0]:
                best = (score, tokens[c.first].start, tokens[c.last].end)
        if best is not None:
            break
    return (best[1], best[2]) if best else None


def short_answer(
    question: str,
    citations: list[Citation],
    weights: SpanWeights = WEIGHTS,
    kinds: frozenset[str] = STATED_KINDS,
) -> Citation | None:
    """The fact `question` asks for as a span of the first cited sentence that holds one; None for an
    explanation or a kind of question not in `kinds`. The span keeps the number of the citation it is
    cut from."""
    if asks_for(question) not in kinds:
        return None
    for citation in citations:
        found = find_span(question, citation.text, weights=weights)
        if found is not None:
            a, b = found
            return Citation(
                citation.n,
                citation.source,
                citation.start + a,
                citation.start + b,
                citation.text[a:b],
                citation.page,
            )
    return None


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
            end = at + len(phrase)
            return Citation(
                citation.n,
                citation.source,
                citation.start + at,
                citation.start + end,
                citation.text[at:end],
                citation.page,
            )
    return None
