"""Cited sentence + fact question -> the fact itself, as a span of that sentence (`Answer.short`).

"When was the OPM breach made public?" is answered by a 34-word sentence; the fact a reader wants is
"June 2015". A question that asks for a fact (when, how many, who, where, what, which ..., wherever
the question word stands: `asks_for`) gets the span of its first cited sentence that the reader
(`qa.reader`, the packaged MiniLM fine-tuned on SQuAD training articles) rates most likely to answer
it. An explanation (why, how ..., describe) gets none, since no phrase answers it, and so does a
count or amount ("how many", "what percentage") when the reader's best span states no number: a
phrase of another kind is not the fact asked for, and an answer in bold would say it is.

The span is always cut from the sentence itself, so `document_text[start:end] == text` holds as for
any citation. `python -m bench.fit_reader` fits the reader; `python -m bench.short_answers`
measures it end to end on held-out SQuAD and XQuAD questions, beside asking the language model to
copy the phrase.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from .models import Citation
from .text import bare, states_number, words

if TYPE_CHECKING:
    from .reader import Reader

# Question openings that ask for an explanation, which no single phrase answers.
_EXPLAIN_FIRST = frozenset({"why", "explain", "describe", "summarize", "summarise", "discuss", "tell"})
_HOW_FACT = frozenset({"many", "much", "long", "old", "far", "big", "large", "often", "tall", "high"})
QUESTION_WORDS = frozenset({"who", "whom", "whose", "what", "which", "when", "where", "how", "why"})
# "how many", "what percentage": a count or an amount, stated with a number in nearly every gold
# answer of the shared data ("how long" and "how often" are often answered in words: "a month").
_COUNT_AFTER = {
    "how": frozenset({"many", "much"}),
    "what": frozenset({"number", "percentage", "proportion", "amount"}),
}


def _question_word(question: str) -> tuple[list[str], str, str]:
    """The question's words (bare, lower case), its question word wherever it stands ("" when it has
    none) and the word after it."""
    plain = [bare(w) for w in re.findall(r"[^\W_]+(?:['’][^\W_]+)?", question)]
    at = next((i for i, w in enumerate(plain) if w in QUESTION_WORDS), None)
    if at is None:
        return plain, "", ""
    return plain, plain[at], plain[at + 1] if at + 1 < len(plain) else ""


def asks_for(question: str) -> str | None:
    """The kind of fact a question asks for ("date", "number", "name", "place", "thing"), or None
    when it asks for an explanation. The question word decides, wherever it stands: "In which year
    ...", "Peyton Manning took how many teams ...?", "... before whose theory?"."""
    plain, first, second = _question_word(question)
    if not plain or plain[0] in _EXPLAIN_FIRST:
        return None
    if not first:
        return "thing" if plain[0] == "name" else None  # "Name the agency that ..."
    if first == "why":
        return None
    if first == "how":
        return "number" if second in _HOW_FACT else None
    if first == "when" or (first in {"what", "which"} and second in {"year", "date", "time", "day", "month"}):
        return "date"
    if _counts(first, second):
        return "number"
    if first in {"who", "whom", "whose"}:
        return "name"
    if first == "where":
        return "place"
    return "thing"


def short_answer(question: str, citations: list[Citation], reader: Reader | None = None) -> Citation | None:
    """The fact `question` asks for as the reader's span of the first cited sentence (the one the
    answer rests on most), or None for an explanation. The span keeps its citation's number."""
    if asks_for(question) is None or not citations:
        return None  # without loading the reader
    if reader is None:
        from .reader import reader as packaged

        reader = packaged()
    first = citations[0]
    found = reader.find(question, first.text)
    if not found:
        return None
    span = first.text[found[0] : found[1]]
    if asks_count(question) and not any(states_number(w) for w in words(span)):
        return None
    return _within(first, found[0], found[1])


def asks_count(question: str) -> bool:
    """Does the question ask how many or how much ("How many people ...?", "... what percentage ...")?"""
    _, first, second = _question_word(question)
    return _counts(first, second)


def _counts(first: str, second: str) -> bool:
    return second in _COUNT_AFTER.get("what" if first == "which" else first, frozenset())


def _within(citation: Citation, a: int, b: int) -> Citation:
    """Characters a:b of a cited sentence as a citation of their own: its number, page, section and
    OCR mark are the sentence's."""
    return replace(citation, start=citation.start + a, end=citation.start + b, text=citation.text[a:b])
