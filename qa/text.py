"""Word-level text handling shared by keyword search and evidence selection.

One tokenizer for both, so that "what the keyword index matched" and "what the evidence
check counts as covered" mean the same thing.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

# Function words plus the words every question carries; they say nothing about the topic.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom whose why will
    with would you your yours yourself yourselves according say says said tell told describe explain
    mention mentioned mentions article text document documents passage still kind many much""".split()
)

# Numbers written out, and the words that state a quantity without one ("several", "none").
NUMBER_WORDS = frozenset(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    hundreds thousand thousands million millions billion billions trillion trillions dozen dozens once
    twice half none several multiple numerous many few""".split()
)

WORD = re.compile(r"[^\W_]+(?:[.&'’-][^\W_]+)*", re.UNICODE)
_stemmer = Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Word tokens as written (case kept): "U.S.", "S&ED", "cyber-enabled" stay whole."""
    return WORD.findall(text)


@lru_cache(maxsize=65536)
def normalise(word: str) -> str:
    """Lower-case, drop accents, dots and possessives, stem: "U.S." -> "us", "Obama's" -> "obama",
    "Beyoncé" -> "beyonc" (people often type names without their accents)."""
    w = word.lower().replace("’", "'")
    if not w.isascii():
        w = "".join(ch for ch in unicodedata.normalize("NFKD", w) if not unicodedata.combining(ch))
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace(".", "").replace("'", "")
    return _stemmer.stemWord(w)


def bare(word: str) -> str:
    """A word lower-cased without its contraction or possessive: "What's" -> "what", "didn't" -> "did"."""
    lower = word.lower().replace("’", "'")
    if lower.endswith("n't"):
        return lower[:-3]
    return lower.split("'", 1)[0]


def terms(text: str) -> list[str]:
    """Content terms: normalised words minus stopwords, hyphenated words also split into parts."""
    out: list[str] = []
    for word in words(text):
        lower = word.lower()
        if lower in STOPWORDS or bare(word) in STOPWORDS:
            continue
        out.append(normalise(word))
        if "-" in word:
            out.extend(normalise(part) for part in word.split("-") if part.lower() not in STOPWORDS)
    return out


def states_number(word: str) -> bool:
    """Does a word state a number: digits ("1,500", "3rd", "2015") or a number word, alone or in a
    compound ("seventeen", "twenty-four", "three-year")?"""
    lower = word.lower()
    return any(ch.isdigit() for ch in lower) or any(part in NUMBER_WORDS for part in lower.split("-"))
