"""The keyword half of hybrid retrieval: BM25 over chunk texts, with the shared tokenizer.

It is rebuilt in memory from the stored chunks when an index generation is opened (bm25s
indexes tens of thousands of short texts per second), so nothing extra has to be kept in
sync on disk or on a Chroma server.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from functools import cached_property

import bm25s
import numpy as np

from .models import Chunk
from .text import terms

log = logging.getLogger(__name__)
# Two or more capitalised words, possibly joined by a small word: "Office of Personnel Management".
# A leading "The"/"A"/"An" is not part of the name.
_NAME_RUN = re.compile(r"\b(?!(?:The|An?)\b)[A-Z][a-z]+(?:\s+(?:(?:of|and|for|the|on|&)\s+)?[A-Z][a-z]+)+")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import and logs every build


class KeywordIndex:
    """BM25 scores for every chunk, plus document frequencies for weighting question terms."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.size = len(chunks)
        self._texts = [c.text for c in chunks]
        tokenised = [terms(c.text) for c in chunks]
        self.document_frequency: Counter[str] = Counter()
        for tokens in tokenised:
            self.document_frequency.update(set(tokens))
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in tokens] for tokens in tokenised]
        self._vocab = vocab
        self._bm25 = bm25s.BM25()
        if chunks:
            self._bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)

    @cached_property
    def acronyms(self) -> set[str]:
        """Lower-cased initials of the multi-word names in the chunks ("opm" for "Office of Personnel
        Management"), so a question may use an acronym the documents only spell out. Built on first use:
        most questions never need it."""
        found = set()
        for text in self._texts:
            for run in _NAME_RUN.findall(text):
                found.add("".join(word[0] for word in run.split() if word[0].isupper()).lower())
        return found

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; a term found nowhere gets the highest weight."""
        df = self.document_frequency.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros when no query term is known)."""
        known = [self._vocab[t] for t in terms(query) if t in self._vocab]
        if not known or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
