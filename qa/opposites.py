"""Question + sentence -> whether the sentence says the opposite of what the question asks.

A question written to look answerable often takes a sentence's words and turns one of them around:
"What is the least used type of reduction?" of a sentence about the most used one, or "What did the
court not rule on?" of a sentence on what it ruled. Sentence embeddings score such a pair as a close
match (opposites share their contexts), and every other word matches, so the match features cannot
see the turn. Two checks can:

- `swapped`: the sentence states an antonym of a question word (WordNet's direct antonyms) and never
  the word itself in any form, or states another number word than the question's ("the twenty-fourth
  film" for "the thirty-fourth film", "three men" for "four men"), another year than one the
  question names and the passage never states, or another name in the place of one the question
  writes and the passage never states ("filmed in Spain last year" for "filmed in Portugal last
  year");
- `asks_negated` and `negates`: the question negates ("not", "never", "n't") and the sentence
  negates nothing, neither with such a word, nor by meaning ("lacks"), nor by a prefix ("unable").

The decision declines such a question (`antonym_swap` and `negation_mismatch` are vetoes:
`bench.calibrate`). The pairs come from Princeton WordNet 3.0 (`bench.antonyms` writes
`antonyms.json`; the licence is `WORDNET-LICENSE.txt`), and so do the irregular verb forms
(`verb_forms`) by which `qa.answering.known_word` knows that a document saying "held" mentions "hold".
"""

from __future__ import annotations

import functools
import json
import re
from difflib import SequenceMatcher
from pathlib import Path

from .text import STOPWORDS, WORD, normalise, words

ANTONYMS = Path(__file__).with_name("antonyms.json")
# Regular English endings -> what they may replace: "smallest" -> "small", "studies" -> "study",
# "stopped" -> "stop" (a doubled consonant is undone separately).
_ENDINGS = (
    ("s", ""), ("es", ""), ("ies", "y"), ("ed", ""), ("ed", "e"), ("ied", "y"), ("ing", ""),
    ("ing", "e"), ("er", ""), ("er", "e"), ("ier", "y"), ("est", ""), ("est", "e"), ("iest", "y"),
    ("ly", ""), ("ily", "y"),
)  # fmt: skip


_NEGATIONS = frozenset({"not", "no", "never", "none", "neither", "nor", "without", "cannot"})
# Words that negate by their meaning: "most species lack combs" says which do not have them.
_NEGATIVE = frozenset({"lack", "fail", "refuse", "refusal", "avoid", "deny", "absent", "missing", "except"})
# Prefixes that make a word's opposite ("unable", "illegal"), counted as a negation when
# WordNet lists the prefixed word as the antonym of the rest.
_PREFIXES = ("un", "in", "im", "il", "ir", "non", "dis")
# Number words, spelled out; a count and a rank are told apart. Digits are not read: a year or a score
# beside another says less ("1995" and "19 games" in one passage answer different questions).
_CARDINALS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety""".split()
)
_ORDINALS = frozenset(
    """first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth
    fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth fortieth
    fiftieth sixtieth seventieth eightieth ninetieth""".split()
)
# A count after these asks for that many things ("which two streets", "what were three sites", "name
# two"): the sentence lists them without stating the count.
_ASKING_COUNT = frozenset({"which", "what", "name", "list", "give", "are", "were"})
# An opening "First," or "Secondly," orders the writer's points; it ranks nothing the sentence is about.
_ENUMERATION = re.compile(rf"^\W*(?:{'|'.join(sorted(_ORDINALS))})(?:ly)?,", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:1\d{3}|20\d\d)\b")  # a year as written in prose: 1000-2099
_CHOICE = re.compile(r"\bor\s+(?:\w+\s+)?not\b", re.IGNORECASE)  # "whether or not", "may or may not"
_CLAUSE = re.compile(r"[,;:.!?()\u2013\u2014]\s|[;:!?()\u2013\u2014]")  # where a negation's reach ends


@functools.cache
def _table() -> tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]]]:
    data = json.loads(ANTONYMS.read_text(encoding="utf-8"))
    antonyms = {word: frozenset(opposites) for word, opposites in data["antonyms"].items()}
    return antonyms, {form: tuple(bases) for form, bases in data["irregular"].items()}


@functools.cache
def _verbs() -> dict[str, frozenset[str]]:
    """Each irregular verb form and base -> the other forms of its verbs ("held" -> hold, "hold" -> held)."""
    related: dict[str, set[str]] = {}
    for form, bases in json.loads(ANTONYMS.read_text(encoding="utf-8"))["verbs"].items():
        for base in bases:
            related.setdefault(form, set()).add(base)
            related.setdefault(base, set()).add(form)
    return {word: frozenset(others) for word, others in related.items()}


def verb_forms(word: str) -> frozenset[str]:
    """The word's other forms as an irregular verb ("met" for "meet", "held" for "holds", "hold" for
    "held"; WordNet's exception list), which no stemmer derives; empty for other words."""
    found: set[str] = set()
    for lemma in lemmas(word):
        found |= _verbs().get(lemma, frozenset())
    for base in tuple(found):
        found |= _verbs().get(base, frozenset())
    return frozenset(found - {word.lower()})


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


def swapped(question: str, sentence: str, passage: str = "") -> tuple[str, str] | None:
    """(the question's word, the sentence's antonym of it) when the sentence never uses the question's
    word in any form but states an antonym of it, or states another number word (`_other_number`), or
    another year (`_other_year`) or name (`_other_name`) than one the question names and neither it
    nor its `passage` states; else None. Not counted: function words of the question (the passage may
    answer "least" with "most"), a word the question itself sets against its antonym ("simple or
    complex?"), and a word or antonym after a negation in its clause ("not equal" says "unequal")."""
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
    return (
        _other_number(question, sentence)
        or _other_year(question, sentence, passage or sentence)
        or _other_name(question, sentence, passage or sentence)
    )


def _other_name(question: str, sentence: str, passage: str) -> tuple[str, str] | None:
    """(the question's name, the sentence's other name in its place) when a name the question writes
    (capitalised past its first word) is in neither the sentence nor its passage, and the sentence
    writes another name right beside a content word that stands on the same side of the question's, in
    the same case ("filmed in Portugal last year" of "filmed in Spain last year", "in late May" of "in
    late March"). The passage, not only the sentence: a name stated beside the sentence may be what "he"
    or "the film" stands for. Not counted: another spelling of the name (`_spelling`), a hyphenated
    name the sentence writes a part of, an acronym (the sentence may spell it out), a word across
    punctuation ("London, Bond" has no name before "Bond"), and a question that capitalises every
    word."""
    asked = list(WORD.finditer(question))
    if not any(t.group()[:1].islower() for t in asked[1:]):
        return None
    stated = list(WORD.finditer(sentence))
    asked_plain = [normalise(t.group()) for t in asked]
    stated_plain = [normalise(t.group()) for t in stated]
    in_question = set(asked_plain)
    around = set(stated_plain) | {normalise(t) for t in words(passage)}

    def name(token: str) -> bool:
        return token[:1].isupper() and token.lower() not in STOPWORDS

    def next_to(tokens: list[re.Match[str]], text: str, i: int, k: int) -> bool:
        if not 0 <= k < len(tokens):
            return False
        first, second = sorted((tokens[i], tokens[k]), key=lambda t: t.start())
        return text[first.end() : second.start()].isspace()

    def beside(i: int, j: int, step: int) -> bool:  # the same content word on the same side of both
        k, m = i + step, j + step
        return (
            next_to(asked, question, i, k)
            and next_to(stated, sentence, j, m)
            and asked[k].group().lower() not in STOPWORDS
            and asked_plain[k] == stated_plain[m]
            and asked[k].group()[:1].isupper() == stated[m].group()[:1].isupper()
        )

    for i, match in enumerate(asked[1:], 1):
        token = match.group()
        if not name(token) or asked_plain[i] in around or _acronym(token):
            continue
        if "-" in token and any(normalise(part) in around for part in token.split("-")):
            continue
        for j, other in enumerate(stated[1:], 1):
            if not name(other.group()) or stated_plain[j] in in_question:
                continue
            if (beside(i, j, -1) or beside(i, j, 1)) and not _spelling(asked_plain[i], stated_plain[j]):
                return token, other.group()
    return None


def _acronym(token: str) -> bool:
    letters = token.removesuffix("'s").removesuffix("’s")
    return len(letters) > 1 and letters.isupper()


def _spelling(a: str, b: str) -> bool:
    """Are the two names (`normalise`d) one name spelt two ways: the same first four letters ("Germany",
    "German"), or three quarters of their letters alike and in order ("Tully", "Tilly"; "Catherine",
    "Katharine")? Asked only of names standing in each other's place: the ratio is the costly test."""
    return a[:4] == b[:4] or SequenceMatcher(None, a, b).ratio() >= 0.75


def _other_year(question: str, sentence: str, passage: str) -> tuple[str, str] | None:
    """(the question's year, the sentence's other one) when the question names a year that neither the
    sentence nor its passage states, and the sentence states another that the question does not name
    ("revealed in December 2004" of "revealed in December 2014"). A year the question names too swaps
    nothing: "How did sales in 2019 compare with 2018?" is answered by "Sales in 2019 rose by a tenth
    on the previous year". The passage, not only the sentence: a year stated next to the sentence may
    well be the one the question means."""
    asked = _YEAR.findall(question)
    stated = _YEAR.findall(sentence)
    for year in asked:
        if year not in passage and year not in sentence:
            other = next((y for y in stated if y not in asked), None)
            if other is not None:
                return year, other
    return None


def _other_number(question: str, sentence: str) -> tuple[str, str] | None:
    """(the question's number word, the sentence's other one) when the sentence states a count or rank
    the question does not and never the question's own. Not counted: a count the question asks for
    (`_ASKING_COUNT`), "one" in a question ("what is one reason": any one of several), and in the
    sentence "one of" (a pronoun) and an opening "First," (`_ENUMERATION`)."""
    asked = _numbers(words(question), asking=True)
    stated = _numbers(words(_ENUMERATION.sub("", sentence)), asking=False)
    for kind in ("count", "rank"):
        if asked[kind] and stated[kind] and not set(asked[kind]) & set(stated[kind]):
            return asked[kind][0], stated[kind][0]
    return None


def _numbers(tokens: list[str], asking: bool) -> dict[str, list[str]]:
    """The spelled-out counts ("three", "twenty-one") and ranks ("fourth", "thirty-fourth") among the
    tokens, lower-cased, in order."""
    found: dict[str, list[str]] = {"count": [], "rank": []}
    for i, token in enumerate(tokens):
        lower = token.lower()
        *tens, last = lower.split("-")
        if not all(t in _CARDINALS for t in tens):
            continue
        if last in _ORDINALS:
            found["rank"].append(lower)
        elif last in _CARDINALS:
            after = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
            before = tokens[i - 1].lower() if i else ""
            if asking and (lower == "one" or before in _ASKING_COUNT):
                continue
            if not asking and lower == "one" and after == "of":
                continue
            found["count"].append(lower)
    return found


def _read(text: str) -> list[tuple[str, bool]]:
    """Each word with whether a negation earlier in its clause negates it ("neither the Pentagon nor
    industry is happy", "it is not yet known")."""
    read: list[tuple[str, bool]] = []
    for clause in _CLAUSE.split(text):
        negated = False
        for token in words(clause):
            read.append((token, negated))
            negated = negated or _negation_word(token)
    return read


def _negation_word(token: str) -> bool:
    lower = token.lower()
    return lower in _NEGATIONS or lower.endswith(("n't", "n’t"))


def asks_negated(question: str) -> bool:
    """Does the question negate ("What did the court not rule on?"), other than to offer a choice
    ("whether or not")?"""
    return any(_negation_word(t) for t in words(_CHOICE.sub(" ", question)))


def negates(sentence: str) -> bool:
    """Does the sentence negate something: a negation word, a word that negates by its meaning, or a
    word made the opposite of another by a prefix?"""
    antonyms = _table()[0]
    for token in words(sentence):
        if _negation_word(token):
            return True
        forms = lemmas(token)
        if forms & _NEGATIVE:
            return True
        for form in forms:
            for prefix in _PREFIXES:
                if form.startswith(prefix) and form[len(prefix) :] in antonyms.get(form, ()):
                    return True
    return False
