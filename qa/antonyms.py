"""Question + sentence -> a word of the question whose opposite the sentence states instead.

A question written to look answerable often swaps one word of a sentence for its opposite: "What is
the least used type of reduction?" of a sentence about the most used one. Sentence embeddings score
such a pair as a close match (antonyms share their contexts), and every other word matches, so the
match features cannot see the swap. WordNet's direct antonyms can: `swapped` finds a question word
that the sentence an answer would quote never uses in any form while it states one of that word's
antonyms. The decision declines such a question (`antonym_swap` is a veto: `bench.calibrate`).

The pairs come from Princeton WordNet 3.0 (`bench.antonyms` writes `antonyms.json`; the licence is
`WORDNET-LICENSE.txt`).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from .text import STOPWORDS, words

ANTONYMS = Path(__file__).with_name("antonyms.json")
# Regular English endings -> what they may replace: "smallest" -> "small", "studies" -> "study",
# "stopped" -> "stop" (a doubled consonant is undone separately).
_ENDINGS = (
    ("s", ""), ("es", ""), ("ies", "y"), ("ed", ""), ("ed", "e"), ("ied", "y"), ("ing", ""),
    ("ing", "e"), ("er", ""), ("er", "e"), ("ier", "y"), ("est", ""), ("est", "e"), ("iest", "y"),
    ("ly", ""), ("ily", "y"),
)  # fmt: skip


_NEGATIONS = frozenset({"not", "no", "never", "neither", "nor", "without", "cannot"})
_CLAUSE = re.compile(r"[,;:.!?()\u2013\u2014]\s|[;:!?()\u2013\u2014]")  # where a negation's reach ends


@functools.cache
def _table() -> tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]]]:
    data = json.loads(ANTONYMS.read_text(encoding="utf-8"))
    antonyms = {word: frozenset(opposites) for word, opposites in data["antonyms"].items()}
    return antonyms, {form: tuple(bases) for form, bases in data["irregular"].items()}


@functools.lru_cache(maxsize=65536)
def lemmas(word: str) -> frozenset[str]:
    """The word lower-cased and the base forms it may be an inflection of (candidates, not checked
    against a dictionary: a wrong candidate only matters if it happens to have an antonym)."""
    lower = word.lower()
    found = {lower, *_table()[1].get(lower, ())}
    for ending, base in _ENDINGS:
        stem = lower[: -len(ending)]
        if lower.endswith(ending) and len(stem) >= 3:
            found.add(stem + base)
            if base == "" and len(stem) >= 4 and stem[-1] == stem[-2]:
                found.add(stem[:-1])  # "stopped" -> "stop", "biggest" -> "big"
    return frozenset(found)


def swapped(question: str, sentence: str) -> tuple[str, str] | None:
    """(the question's word, the sentence's antonym of it) when the sentence never uses the question's
    word in any form but states an antonym of it; else None. Not counted: function words of the
    question (the passage may answer "least" with "most"), a word the question itself sets against its
    antonym ("simple or complex?"), and a word or antonym just after a negation ("not equal" says
    "unequal")."""
    antonyms = _table()[0]
    used: set[str] = set()
    plain: dict[str, str] = {}  # a lemma the sentence states without a negation -> its word there
    for token, negated in _read(sentence):
        forms = lemmas(token)
        used |= forms
        if not negated:
            for lemma in forms:
                plain.setdefault(lemma, token)
    asked = [(token, negated, lemmas(token)) for token, negated in _read(question)]
    in_question = set().union(*(forms for _, _, forms in asked))
    for token, negated, forms in asked:
        if negated or token.lower() in STOPWORDS or not token.isalpha() or len(token) < 3 or forms & used:
            continue
        for lemma in sorted(forms):
            opposites = antonyms.get(lemma, frozenset())
            if opposites & in_question:
                break
            opposite = next((a for a in sorted(opposites) if a in plain), None)
            if opposite is not None:
                return token, plain[opposite]
    return None


def _read(text: str) -> list[tuple[str, bool]]:
    """Each word with whether a negation earlier in its clause negates it ("neither the Pentagon nor
    industry is happy", "it is not yet known")."""
    read: list[tuple[str, bool]] = []
    for clause in _CLAUSE.split(text):
        negated = False
        for token in words(clause):
            read.append((token, negated))
            negated = negated or token.lower() in _NEGATIONS or token.lower().endswith(("n't", "n’t"))
    return read
