"""Questions a sentence does not answer, made from ones it does: the reader's training negatives.

SQuAD 2.0's unanswerable questions were written by people to look answerable: one word of a real
question swapped for another (a different name, year or number, an antonym), or a negation added.
The eval data holds few of them (and measures on those), so the reader learns from the same edits
made to the training articles' answerable questions by general rules:

- a name or number of the question that the sentence contains, swapped for another of the same
  article that the sentence does not;
- a content word the sentence contains, swapped for a word of the article close to it in the
  packaged MiniLM's word embeddings (close words are often antonyms or siblings: "solo" -> "trio");
- an auxiliary verb negated, or a negation removed;
- and, as the commonest case users meet, the same question asked of another sentence of its
  paragraph (the one sharing most of its words) that does not hold the answer.

Some edits leave a question the sentence still answers (a swapped synonym); the reader tolerates that
noise, as it would a mislabelled question.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from qa.text import STOPWORDS, normalise

_AUXILIARY = re.compile(r"\b(is|was|are|were|did|does|do|can|could|has|have|had|will|would|should)\b")
_NEGATION = re.compile(r"\s+(not|never)\b|n't\b")
# A run of capitalised words not opening the question ("Which", "When"): a name.
_NAME = re.compile(r"(?<!^)\b([A-Z][\w'-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'-]*)*)")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_WORD = re.compile(r"[A-Za-z]+")
NEIGHBOURS = 5  # a swapped word is one of this many closest words of the article


def _is_content(word: str) -> bool:
    return word.islower() and len(word) >= 4 and word not in STOPWORDS


def _stems(text: str) -> set[str]:
    return {normalise(w) for w in _WORD.findall(text)}


@dataclass
class ArticleWords:
    """What an edit may swap in: the article's names, numbers and content words."""

    names: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, paragraphs: list[str]) -> ArticleWords:
        found = cls()
        for text in paragraphs:
            found.names.update(m.group(1) for m in _NAME.finditer(text))
            found.numbers.update(m.group(0) for m in _NUMBER.finditer(text))
            found.words.update(w for w in _WORD.findall(text) if _is_content(w))
        return found


Neighbours = Callable[[str, list[str]], list[str]]  # a word, candidates -> the closest candidates


def embedding_neighbours() -> Neighbours:
    """Closest candidates by the cosine of the packaged MiniLM's input embeddings (whole-word
    wordpieces only): cheap, and close in meaning or role."""
    from safetensors.numpy import load_file

    from qa.embeddings import model_dir
    from qa.onnx_backend import load_tokenizer

    vocabulary = load_tokenizer(model_dir(), 256).get_vocab()
    table = load_file(str(model_dir() / "model.safetensors"))["embeddings.word_embeddings.weight"]
    table = table / np.linalg.norm(table, axis=1, keepdims=True)

    def closest(word: str, candidates: list[str]) -> list[str]:
        known = [c for c in candidates if c in vocabulary]
        if word not in vocabulary or not known:
            return []
        cosines = table[[vocabulary[c] for c in known]] @ table[vocabulary[word]]
        return [known[i] for i in np.argsort(-cosines)[:NEIGHBOURS]]

    return closest


def edited(
    question: str, sentence: str, article: ArticleWords, neighbours: Neighbours, rng: random.Random
) -> str | None:
    """`question` with one edit (of a kind drawn at random among those that apply) that `sentence` no
    longer answers; None when none applies."""
    kinds = ["name", "number", "word", "negation"]
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "negation":
            if _NEGATION.search(question):
                return _NEGATION.sub("", question, count=1)
            verb = _AUXILIARY.search(question)
            if verb:
                return question[: verb.end()] + " not" + question[verb.end() :]
        elif kind in ("name", "number"):
            pattern, pool = (_NAME, article.names) if kind == "name" else (_NUMBER, article.numbers)
            shared = [m for m in pattern.finditer(question) if m.group(0) in sentence]
            if not shared:
                continue
            m = rng.choice(shared)
            old = m.group(0)
            if kind == "name":
                others = [n for n in pool if len(n.split()) == len(old.split())]
            else:
                others = [n for n in pool if len(n) == len(old)]
            others = sorted(n for n in others if n not in sentence and n not in question)
            if others:
                return question[: m.start()] + rng.choice(others) + question[m.end() :]
        else:
            in_sentence = _stems(sentence)
            shared = [
                m
                for m in _WORD.finditer(question)
                if _is_content(m.group(0)) and normalise(m.group(0)) in in_sentence
            ]
            if not shared:
                continue
            m = rng.choice(shared)
            old = m.group(0)
            others = sorted(
                w
                for w in article.words
                if normalise(w) not in in_sentence and normalise(w) != normalise(old) and w[:4] != old[:4]
            )
            close = neighbours(old, others)
            if close:
                return question[: m.start()] + rng.choice(close) + question[m.end() :]
    return None


def nearest_other(question: str, others: list[str], rng: random.Random) -> str | None:
    """The sentence of `others` sharing most of the question's content words (ties broken at random)."""
    if not others:
        return None
    asked = _stems(question) - {normalise(w) for w in STOPWORDS}
    return max(others, key=lambda s: len(asked & _stems(s)) + rng.random() * 0.1)
