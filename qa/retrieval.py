"""Hybrid retrieval: dense (Chroma, cosine) and keyword (BM25) rankings fused by reciprocal rank.

Dense search finds paraphrases; BM25 finds exact names, numbers and rare words. Reciprocal rank
fusion needs no score calibration between the two, and a chunk ranked well by both wins.
"""

from __future__ import annotations

import logging

import numpy as np

from .embeddings import PackagedMiniLM
from .index import Snapshot
from .models import Passage

log = logging.getLogger(__name__)

RRF_K = 60  # the usual constant: damps the head of each ranking so neither list dominates
CANDIDATES = 30  # how deep each ranking is read before fusing


def hybrid_search(
    snapshot: Snapshot,
    embeddings: PackagedMiniLM,
    query: str,
    k: int = 5,
    sources: list[str] | None = None,
    openings: bool = False,
) -> list[Passage]:
    """The `k` best passages for `query`, optionally only from the named `sources`.

    With `openings` (a question about a document's title or subtitle, which no ranking of content
    finds), the opening chunk of the best-ranked document leads, with score 1.0."""
    chunks = snapshot.chunks
    if not chunks or k <= 0:
        return []
    position = {c.id: i for i, c in enumerate(chunks)}  # stored chunks the manifest does not list are ignored
    allowed = np.ones(len(chunks), dtype=bool)
    if sources:
        wanted = set(sources)
        allowed = np.array([c.source in wanted for c in chunks], dtype=bool)
        if not allowed.any():
            return []
    depth = min(CANDIDATES, int(allowed.sum()))

    query_vector = embeddings.embed_query(query)
    where = {"source": {"$in": list(sources)}} if sources else None
    dense_hits = snapshot.vectorstore.similarity_search_by_vector_with_relevance_scores(
        query_vector, k=depth, filter=where
    )
    similarity: dict[int, float] = {}
    dense_rank: list[int] = []
    for doc, distance in dense_hits:
        i = position.get(doc.id or "")
        if i is not None:
            dense_rank.append(i)
            similarity[i] = 1.0 - float(distance)

    keyword_scores = np.where(allowed, snapshot.keyword.scores(query), 0.0)
    order = np.argsort(-keyword_scores, kind="stable")[:depth]
    keyword_rank = [int(i) for i in order if keyword_scores[i] > 0]

    fused: dict[int, float] = {}
    for ranking in (dense_rank, keyword_rank):
        for rank, i in enumerate(ranking):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    top = 2.0 / (RRF_K + 1)  # first in both rankings
    if openings:
        lead_source = chunks[best[0]].source if best else chunks[int(np.argmax(allowed))].source
        opening = next(i for i, c in enumerate(chunks) if c.source == lead_source)  # sorted by start
        fused[opening] = top
        best = [opening, *[i for i in best if i != opening]][:k]

    missing = [i for i in best if i not in similarity]
    if missing:  # keyword-only hits: fetch their stored vectors for an honest similarity
        got = snapshot.vectorstore.get(ids=[chunks[i].id for i in missing], include=["embeddings"])
        vectors = dict(zip(got["ids"], got["embeddings"], strict=True))
        q = np.asarray(query_vector, dtype=np.float32)
        for i in missing:
            vector = vectors.get(chunks[i].id)
            similarity[i] = (
                float(np.dot(q, np.asarray(vector, dtype=np.float32))) if vector is not None else 0.0
            )

    return [
        Passage(
            source=chunks[i].source,
            start=chunks[i].start,
            end=chunks[i].end,
            text=chunks[i].text,
            score=round(fused[i] / top, 4),
            page=chunks[i].page,
            similarity=round(similarity.get(i, 0.0), 4),
        )
        for i in best
    ]
