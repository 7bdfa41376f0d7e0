"""Cited sentence + fact question -> the fact itself, as a span of that sentence (`Answer.short`).

"When was the OPM breach made public?" is answered by a 34-word sentence; the fact a reader wants is
"June 2015". A question that asks for a fact (when, how many, who, where, what, which ..., wherever
the question word stands) gets the phrase of its best cited sentence that a fitted span model
(`SpanModel`) rates most likely to be exactly the answer. As in the SQuAD paper's feature-based
reader, the sentence is parsed (`qa.parsing`) and its candidates are whole phrases: named entities,
noun chunks, constituents (a word's subtree) and content words, less those that only repeat the
question. They are scored by where they stand relative to the words the sentence shares with the
question (in the text and in the dependency tree), by their entity type, part of speech and role in
the clause against the kind of fact asked for and the question word's own role, by how much they are
like the noun the question names ("which borough": the packaged MiniLM's cosine), by their
length and shape, and by what three token probes read in the packaged MiniLM's states of the
question and sentence read together (`TokenProbes`: is this token where the answer starts, ends, or
inside it). The phrase is stated only when the model is confident enough
(`SpanModel.show_at`); an explanation (why, how ..., describe) gets none, since no phrase answers it.

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
from typing import TYPE_CHECKING

import numpy as np

from .models import Citation
from .parsing import parse
from .support import regression_fields
from .text import bare, normalise, words

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

    from .embeddings import PackagedMiniLM

SPAN_MODEL = Path(__file__).with_name("span_model.json")

# Question openings that ask for an explanation, which no single phrase answers.
_EXPLAIN_FIRST = frozenset({"why", "explain", "describe", "summarize", "summarise", "discuss", "tell"})
_HOW_FACT = frozenset({"many", "much", "long", "old", "far", "big", "large", "often", "tall", "high"})
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
)


_WH = frozenset({"who", "whom", "whose", "what", "which", "when", "where", "how", "why"})


def asks_for(question: str) -> str | None:
    """The kind of fact a question asks for ("date", "number", "name", "place", "thing"), or None
    when it asks for an explanation. The question word decides, wherever it stands: "In which year
    ...", "Peyton Manning took how many teams ...?", "... before whose theory?"."""
    plain = [bare(w) for w in re.findall(r"[^\W_]+(?:['’][^\W_]+)?", question)]
    if not plain or plain[0] in _EXPLAIN_FIRST:
        return None
    at = next((i for i, w in enumerate(plain) if w in _WH), None)
    if at is None:
        return "thing" if plain[0] == "name" else None  # "Name the agency that ..."
    first, second = plain[at], plain[at + 1] if at + 1 < len(plain) else ""
    if first == "why":
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
    return "thing"


_CALENDAR = re.compile(rf"{_MONTH}|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day", re.IGNORECASE)
_YEAR = re.compile(r"(?:1[5-9]|20)\d\d")
KINDS = ("date", "number", "name", "place", "thing")
# spaCy's entity labels, grouped by the kind of fact they state.
_ENTITY_KIND = {
    "PERSON": "person", "NORP": "group", "ORG": "organisation", "GPE": "place", "LOC": "place",
    "FAC": "place", "DATE": "date", "TIME": "date", "CARDINAL": "count", "QUANTITY": "count",
    "MONEY": "money", "PERCENT": "percent", "ORDINAL": "ordinal", "EVENT": "title",
    "WORK_OF_ART": "title", "LAW": "title", "PRODUCT": "title", "LANGUAGE": "group",
}  # fmt: skip
_ENTITY_KINDS = (*sorted(set(_ENTITY_KIND.values())), "none")
_DATE_LABELS = frozenset({"DATE", "TIME"})
_NUMBER_LABELS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"})
_POS = ("NOUN", "PROPN", "NUM", "VERB", "ADJ", "ADV", "PRON", "other")
# Dependency labels, grouped by the role a phrase plays in its clause.
_ROLE = {
    "nsubj": "subject", "nsubjpass": "subject", "csubj": "subject", "expl": "subject",
    "dobj": "object", "dative": "object", "pobj": "prep_object", "attr": "attribute",
    "acomp": "attribute", "oprd": "attribute", "appos": "apposition", "compound": "modifier",
    "amod": "modifier", "nmod": "modifier", "poss": "modifier", "nummod": "number",
    "quantmod": "number", "npadvmod": "adverbial", "advmod": "adverbial", "conj": "conjunct",
    "ROOT": "root", "ccomp": "clause", "xcomp": "clause", "advcl": "clause", "relcl": "clause",
    "acl": "clause", "pcomp": "clause",
}  # fmt: skip
_ROLES = (*sorted(set(_ROLE.values())), "other")
_QUESTION_ROLES = ("subject", "object", "other")
_LONGEST = 12  # tokens: longer phrases are clauses, not facts


def _role(dep: str) -> str:
    return _ROLE.get(dep, "other")


@dataclass(frozen=True)
class Asked:
    """What the parsed question says about its answer: the part the question word plays in its clause
    ("Who extended ..." asks for a subject, "What did they publish?" for an object; an answer often
    plays the same part in the sentence), the noun it names ("which country" -> "country"), and the
    question's main verb."""

    role: str
    noun: str | None  # normalised
    verb: str | None
    noun_as_written: str | None = None


def _asked(question: Doc) -> Asked:
    role, noun, written = "other", None, None
    for t in question:
        if t.tag_ in {"WP", "WP$", "WDT", "WRB"}:
            word = t.head if t.dep_ in {"det", "poss"} else t
            if word is not t and word.pos_ in {"NOUN", "PROPN"}:
                noun, written = normalise(word.text), word.text.lower()
            role = _role(word.dep_)
            role = role if role in {"subject", "object"} else "other"
            break
    verbs = [t for t in question if t.dep_ == "ROOT" and t.pos_ in {"VERB", "AUX"}]
    verb = verbs[0].lemma_.lower() if verbs and verbs[0].lemma_.lower() not in {"be", "do", "have"} else None
    return Asked(role, noun, verb, written)


def _phrases(doc: Doc) -> dict[tuple[int, int], set[str]]:
    """Every phrase of the parsed sentence that could be an answer, by token range [a, b), with what
    makes it one: a named entity, a noun chunk, a whole constituent (a word's subtree), a word."""
    found: dict[tuple[int, int], set[str]] = {}

    def add(a: int, b: int, source: str) -> None:
        while a < b and (doc[a].is_punct or doc[a].is_space or doc[a].dep_ == "cc"):
            a += 1
        while b > a and (doc[b - 1].is_punct or doc[b - 1].is_space or doc[b - 1].dep_ == "cc"):
            b -= 1
        if 0 < b - a <= _LONGEST:
            found.setdefault((a, b), set()).add(source)
            if doc[a].pos_ in {"DET", "PRON"} and b - a > 1 and doc[a].dep_ in {"det", "poss"}:
                found.setdefault((a + 1, b), set()).add(source)  # "its new manual" -> "new manual"

    for e in doc.ents:
        add(e.start, e.end, "entity")
    for chunk in doc.noun_chunks:
        add(chunk.start, chunk.end, "noun_chunk")
    for t in doc:
        if t.is_punct or t.is_space:
            continue
        add(t.left_edge.i, t.right_edge.i + 1, "constituent")
        if not t.is_stop:
            add(t.i, t.i + 1, "word")
    return found


def _tree_distances(doc: Doc, anchors: list[int]) -> list[int]:
    """Each token's distance in the dependency tree (edges either way) to the nearest anchor."""
    far = len(doc) + 1
    distance = [far] * len(doc)
    frontier = list(anchors)
    for i in frontier:
        distance[i] = 0
    while frontier:
        nxt = []
        for i in frontier:
            t = doc[i]
            for j in [t.head.i, *(c.i for c in t.children)]:
                if distance[j] > distance[i] + 1:
                    distance[j] = distance[i] + 1
                    nxt.append(j)
        frontier = nxt
    return distance


def _governing_verb(token: Token) -> str | None:
    """The lemma of the nearest verb above `token` in the tree (itself if it is one)."""
    for _ in range(12):
        if token.pos_ in {"VERB", "AUX"}:
            return str(token.lemma_).lower()
        if token.head.i == token.i:
            return None
        token = token.head
    return None


def _entity_kind(doc: Doc, a: int, b: int) -> tuple[str, float]:
    """The kind of the entity the phrase is (exactly: 1.0) or holds (0.5), else "none"."""
    for e in doc.ents:
        if e.start == a and e.end == b:
            return _ENTITY_KIND.get(e.label_, "title"), 1.0
    for e in doc.ents:
        if a <= e.start and e.end <= b:
            return _ENTITY_KIND.get(e.label_, "title"), 0.5
    return "none", 0.0


def _cuts_a_name(doc: Doc, a: int, b: int) -> bool:
    """The phrase begins or ends inside a name: through an entity, or beside more of a run of proper
    nouns, "of" and "and" included ("a new Law" of "a new Law of War Manual")."""
    if any(e.start < a < e.end or e.start < b < e.end for e in doc.ents):
        return True

    def proper(i: int) -> bool:
        return 0 <= i < len(doc) and doc[i].pos_ == "PROPN"

    def joined(i: int, step: int) -> bool:  # token i carries a name on, in the direction of step
        if not 0 <= i < len(doc):
            return False
        return proper(i) or (doc[i].lower_ in {"of", "and", "&"} and proper(i + step))

    return (proper(b - 1) and joined(b, 1)) or (proper(a) and joined(a - 1, -1))


def _fits(kind: str, doc: Doc, a: int, b: int, counts: bool = False) -> bool:
    """A "when" question is answered by a date and a "how many" one by a number, never another phrase;
    a `counts` question ("how many", "how long") never by a rank alone ("first", "third") nor by a
    calendar date ("April 2015"), though a length of time may answer it ("three years")."""
    tokens = doc[a:b]
    if kind == "date":
        return any(t.ent_type_ in _DATE_LABELS or t.like_num or _CALENDAR.fullmatch(t.text) for t in tokens)
    if kind == "number":
        return any(
            (t.ent_type_ in _NUMBER_LABELS or t.like_num)
            and not (counts and (t.ent_type_ == "ORDINAL" or _in_calendar_date(t)))
            for t in tokens
        )
    return True


def _in_calendar_date(token: Token) -> bool:
    """Is the token a year or a day of a named month ("2015", "14" in "June 14"), inside a date?"""
    if token.ent_type_ not in _DATE_LABELS:
        return False
    if _YEAR.fullmatch(token.text):
        return True
    entity = next((e for e in token.doc.ents if e.start <= token.i < e.end), None)
    return entity is not None and any(_CALENDAR.fullmatch(t.text) for t in entity)


def span_features(
    question: str, sentence: str, probes: TokenProbes | None = None
) -> tuple[list[tuple[int, int]], list[dict[str, float]]]:
    """The candidate phrases of `sentence` for the fact `question` as (start, end) character spans, each
    with the features `SpanModel` scores: where it stands relative to the words the sentence shares
    with the question, in the text and in the dependency tree (answers sit beside them); what kind of
    phrase it is (entity type, part of speech, its role in the clause) against the kind asked for and
    the question word's own role; its length and shape; and, given `probes`, what the token probes
    read at its edges (`token_features`). Nothing about the subject matter, so a fit carries over."""
    kind = asks_for(question)
    if kind is None or not sentence.strip():
        return [], []
    doc = parse(sentence)
    n = len(doc)
    # the parser splits "state-sponsored" where `words` keeps it whole: its parts are asked too
    asked = {normalise(p) for w in words(question) for p in {w, *re.split(r"[-/]", w)} if p}
    about = _asked(parse(question))

    def in_question(i: int) -> bool:
        return not doc[i].is_stop and not doc[i].is_punct and normalise(doc[i].text) in asked

    anchors = [i for i in range(n) if in_question(i)]
    tree = _tree_distances(doc, anchors) if anchors else [n + 1] * n
    spans: list[tuple[int, int]] = []
    rows: list[dict[str, float]] = []
    counts = kind == "number" and re.search(r"\bhow\b", question, re.IGNORECASE) is not None
    for (a, b), sources in _phrases(doc).items():
        if not _fits(kind, doc, a, b, counts):
            continue
        content = [i for i in range(a, b) if not (doc[i].is_stop or doc[i].is_punct or doc[i].is_space)]
        inside = sum(in_question(i) for i in content)
        if (content and inside == len(content)) or (not content and kind not in {"number", "date"}):
            continue  # only what the question already says, or only function words
        length = b - a
        left = [x for x in anchors if x < a]
        right = [x for x in anchors if x >= b]
        to_left = a - max(left) if left else 30
        to_right = min(right) - b + 1 if right else 30
        distance = math.log1p(min(to_left, to_right))
        root = doc[a:b].root
        entity, entity_exact = _entity_kind(doc, a, b)
        pos = root.pos_ if root.pos_ in _POS else "other"
        role = _role(root.dep_)
        tree_distance = math.log1p(min(tree[root.i], 10))
        window_left = sum(in_question(i) for i in range(max(0, a - 3), a))
        window_right = sum(in_question(i) for i in range(b, min(n, b + 3)))
        capitals = sum(t.text[:1].isupper() for t in doc[a:b]) / length
        digits = float(any(ch.isdigit() for t in doc[a:b] for ch in t.text))
        f = {
            "distance": distance,
            "adjacent": float(min(to_left, to_right) <= 1),
            "distance_left": math.log1p(to_left),
            "distance_right": math.log1p(to_right),
            "anchors_near": float(sum(a - 4 <= x < b + 4 for x in anchors)),
            "between_anchors": float(bool(left and right)),
            "question_found": len(anchors) / max(1, len(asked)),
            "window_left": float(window_left),
            "window_right": float(window_right),
            "tree_distance": tree_distance,
            "head_is_anchor": float(root.head.i in anchors and root.head.i != root.i),
            "names_the_noun_asked": float(
                about.noun is not None
                and any(normalise(t.text) == about.noun for t in doc[max(0, a - 2) : b + 1])
            ),
            "under_the_verb_asked": float(about.verb is not None and _governing_verb(root) == about.verb),
            "length": float(length),
            "one_word": float(length == 1),
            "past_four_words": float(max(0, length - 4)),
            "question_words_inside": inside / max(1, len(content)),
            "entity_exact": entity_exact,
            "cuts_a_name": float(_cuts_a_name(doc, a, b)),
            "leaves_out_its_own_words": float(  # "a new Law" of "a new Law of War Manual"
                any(not c.is_punct and not a <= c.i < b for c in root.children)
            ),
            "noun_chunk": float("noun_chunk" in sources),
            "constituent": float("constituent" in sources),
            "word": float(sources == {"word"}),
            "opens_with_determiner": float(doc[a].pos_ == "DET"),
            "after_comma": float(a > 0 and doc[a - 1].text in {",", "("}),
            "before_comma": float(b < n and doc[b].text in {",", ")"}),
            "ends_sentence": float(b >= n - 1),
            "opens_sentence": float(a == 0),
            "capitals": capitals,
            "digits": digits,
            "position": a / n,
        }
        for k in KINDS:
            asked_k = float(kind == k)
            for e in _ENTITY_KINDS:
                f[f"{k}_asked_entity_{e}"] = asked_k * (entity == e)
            for p in _POS:
                f[f"{k}_asked_pos_{p}"] = asked_k * (pos == p)
            f[f"{k}_asked_length"] = asked_k * length
            f[f"{k}_asked_distance"] = asked_k * distance
            f[f"{k}_asked_tree_distance"] = asked_k * tree_distance
            f[f"{k}_asked_capitals"] = asked_k * capitals
        for q in _QUESTION_ROLES:
            for r in _ROLES:
                f[f"question_{q}_phrase_{r}"] = float(q == about.role and r == role)
        spans.append((doc[a].idx, doc[b - 1].idx + len(doc[b - 1].text)))
        rows.append(f)
    _add_likeness(rows, [sentence[x:y] for x, y in spans], about.noun_as_written)
    if probes is not None and spans:
        offsets, states = phrase_encoder().token_states(question, sentence)
        for row, extra in zip(rows, token_features(spans, offsets, probes.scores(states)), strict=True):
            row.update(extra)
    return spans, rows


# What the token probes say about a phrase: how likely its first token starts the answer and its last
# ends it, how answer-like its tokens are on average and at the least, and the most answer-like token
# just outside it (a phrase that stops short of the answer has one).
TOKEN_FEATURES = ("token_start", "token_end", "token_inside_mean", "token_inside_least", "token_beside_most")


@dataclass(frozen=True)
class TokenProbes:
    """Three linear probes on the packaged MiniLM's last-layer token states of the pair (question,
    sentence) (`PackagedMiniLM.token_states`): the score (a log-odds) of each token of the sentence
    being the answer's first token, its last token, and inside it. The encoder reads the question and
    the sentence together, so a token's state says how it relates to what is asked, which phrase type
    and position cannot: the reader's half of a trained extractive-QA model, with a fitted linear
    head instead of a fine-tuned one (nothing but the packaged model exists offline)."""

    weights: tuple[tuple[float, ...], ...]  # start, end, inside: one row of the state's width each
    bias: tuple[float, ...]

    def scores(self, states: np.ndarray) -> np.ndarray:
        """(tokens, 3) log-odds: start, end, inside."""
        return np.asarray(states, dtype=np.float64) @ np.array(self.weights).T + np.array(self.bias)


def tokens_within(offsets: np.ndarray, start: int, end: int) -> list[int]:
    """The tokens (by their character `offsets`) that overlap characters start:end. One rule for the
    probes' training labels (`bench.fit_spans`) and their readings here, so the two cannot drift."""
    return [k for k, (x, y) in enumerate(offsets) if y > start and x < end]


def token_features(
    spans: list[tuple[int, int]], offsets: np.ndarray, scores: np.ndarray
) -> list[dict[str, float]]:
    """`TOKEN_FEATURES` of each (start, end) character span, from the per-token `scores` of
    `TokenProbes` and the tokens' character `offsets` in the same sentence."""
    out = []
    outside = -10.0  # beyond the sentence: no answer there
    for a, b in spans:
        inside = tokens_within(offsets, a, b)
        if not inside:
            out.append(dict.fromkeys(TOKEN_FEATURES, outside))
            continue
        first, last = inside[0], inside[-1]
        beside = [scores[k, 2] for k in (first - 1, last + 1) if 0 <= k < len(offsets)]
        out.append(
            {
                "token_start": float(scores[first, 0]),
                "token_end": float(scores[last, 1]),
                "token_inside_mean": float(scores[inside, 2].mean()),
                "token_inside_least": float(scores[inside, 2].min()),
                "token_beside_most": float(max(beside, default=outside)),
            }
        )
    return out


def _add_likeness(rows: list[dict[str, float]], phrases: list[str], noun: str | None) -> None:
    """How much each phrase is like the noun the question names ("which borough" -> "Brooklyn" more
    than "New York City"), by the packaged MiniLM's cosine: what the phrase is, which its position and
    type cannot tell. All zero when the question names no noun."""
    likeness = np.zeros(len(phrases))
    if noun is not None and phrases:
        vectors = phrase_encoder().encode([noun, *phrases]).astype(np.float64)
        likeness = vectors[1:] @ vectors[0]
    named = float(noun is not None and bool(phrases))
    top = int(np.argmax(likeness)) if phrases else -1
    for i, row in enumerate(rows):
        row["noun_likeness"] = float(likeness[i])
        row["most_like_the_noun"] = named * (i == top)
        row["noun_likeness_gap"] = named * float(likeness[i] - likeness.max())


def phrase_encoder() -> PackagedMiniLM:
    """The packaged MiniLM, whatever embeds the index: the span model was fitted on its cosines and
    token states. The assistant's own instance when it uses that model
    (`qa.embeddings.packaged_minilm`), else one more."""
    from .embeddings import packaged_minilm

    return packaged_minilm()


@dataclass(frozen=True)
class SpanModel:
    """A choice model over `span_features` (a conditional logit): the phrases of one sentence compete,
    and each gets the probability that it, and not one of the others, is the answer. A phrase is judged
    against its rivals rather than against every phrase of every sentence, which is how a reader
    picks (on training articles left out one at a time, phrase F1 0.593 and exact match 0.476, against
    0.564 and 0.459 for a logistic regression per phrase on the same features, and 0.569 and 0.447
    without the token probes; `docs/results/span_fit.json`).
    Fitted by `python -m bench.fit_spans` on SQuAD training articles (never on the articles reported)
    and shipped as `span_model.json`; `show_at` is the probability from which the phrase is stated."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    show_at: float
    probes: TokenProbes | None = None  # the token probes whose readings are among `features`
    about: dict[str, object] = field(default_factory=dict)

    def probabilities(self, rows: list[dict[str, float]]) -> np.ndarray:
        """The probability of each of one sentence's candidate phrases (they sum to 1)."""
        x = np.array([[row[name] for name in self.features] for row in rows], dtype=np.float64)
        z = (x - np.array(self.mean)) / np.array(self.scale) @ np.array(self.weights) + self.bias
        z = np.exp(z - z.max())
        return z / z.sum()

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@functools.cache
def span_model(path: Path = SPAN_MODEL) -> SpanModel:
    """The packaged span model; a file fitted on other features is refused with the command to refit."""
    from .errors import QAError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        probes = data.get("probes")
        model = SpanModel(
            **regression_fields(data),
            show_at=float(data["show_at"]),
            probes=None
            if probes is None
            else TokenProbes(
                weights=tuple(tuple(float(v) for v in row) for row in probes["weights"]),
                bias=tuple(float(v) for v in probes["bias"]),
            ),
            about=dict(data.get("about") or {}),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QAError(
            f"cannot read the span model {path} ({exc}); refit it with `python -m bench.fit_spans`"
        ) from exc
    probe = span_features("What is it?", "It is a probe sentence.")[1]
    read = set(TOKEN_FEATURES) if model.probes is not None else set()
    if not probe or set(model.features) != set(probe[0]) | read:
        raise QAError(
            f"the span model {path} was fitted on other features; refit it with `python -m bench.fit_spans`"
        )
    return model


def find_span(question: str, sentence: str, model: SpanModel | None = None) -> tuple[int, int, float] | None:
    """The (start, end) of the phrase of `sentence` most likely to be the fact `question` asks for, with
    that probability; None when the question asks for an explanation or no phrase fits."""
    model = model or span_model()
    spans, rows = span_features(question, sentence, model.probes)
    if not spans:
        return None
    p = model.probabilities(rows)
    best = int(np.argmax(p))
    return spans[best][0], spans[best][1], float(p[best])


def short_answer(
    question: str, citations: list[Citation], model: SpanModel | None = None, show_at: float | None = None
) -> Citation | None:
    """The fact `question` asks for as a span of the first cited sentence that holds a candidate, when
    the span model gives it at least `show_at` (the fitted one unless set): a bold wrong "fact"
    misleads more than none. None for an explanation. The span keeps its citation's number."""
    if asks_for(question) is None:
        return None  # without loading the parser and the model
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
