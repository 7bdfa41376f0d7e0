"""How often retrieval puts the right XQuAD paragraph first: the hybrid search `qa` uses, against
dense search alone, BM25 alone and reciprocal rank fusion of the same two rankings.

    python -m bench.retrieval [--limit N] [--out FILE]

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr.

Data: XQuAD's development half as `qa eval --dataset xquad` uses it (240 paragraphs, each its own
document, 604 questions), indexed in a temporary folder with the default settings. For each question:

- hybrid: `Assistant.search(question, k=5)`, the real code path (`qa.retrieval.hybrid_search`, z-score
  fusion with `DENSE_WEIGHT`); also with `DENSE_WEIGHT` set to each of `--weights`;
- dense: the Chroma k-NN ranking `hybrid_search` reads (`CANDIDATES` deep), on its own;
- BM25: the keyword ranking `hybrid_search` reads, on its own;
- reciprocal rank fusion (k = 60) of those two rankings, the usual alternative to score fusion.

A question counts for hit@1 when the first passage comes from its gold paragraph, for hit@5 when any
of the first five does.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import emit, quiet_logging, start_run

log = logging.getLogger("bench.retrieval")

RRF_K = 60
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)


def first_rank(sources: list[str], gold: set[str]) -> int | None:
    return next((i for i, s in enumerate(sources, start=1) if s in gold), None)


def hits(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "hit_at_1": round(sum(1 for r in ranks if r == 1) / n, 4),
        "hit_at_5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4),
    }


def run(limit: int | None, weights: tuple[float, ...]) -> dict[str, Any]:
    import qa.retrieval
    from qa.evaluation import indexed, xquad_dataset

    [dataset] = xquad_dataset()
    cases = dataset.cases[:limit] if limit else dataset.cases
    depth = qa.retrieval.CANDIDATES
    default_weight = qa.retrieval.DENSE_WEIGHT
    ranks: dict[str, list[int | None]] = {}

    def record(method: str, sources: list[str], gold: set[str]) -> None:
        ranks.setdefault(method, []).append(first_rank(sources, gold))

    with indexed(dataset) as (assistant, build_seconds):
        snapshot = assistant.store.open()
        chunks, positions, where = snapshot.chunks, snapshot.positions, snapshot.where(None)
        log.info(
            "%d paragraphs, %d chunks indexed in %.1fs", len(dataset.documents), len(chunks), build_seconds
        )

        def dense_ranking(question: str) -> list[int]:
            vector = assistant.embeddings.encode([question])[0]
            found = snapshot.nearest(vector, k=depth, where=where)
            return [positions[chunk_id] for chunk_id, _ in found if chunk_id in positions]

        def keyword_ranking(question: str) -> list[int]:
            scores = snapshot.keyword.scores(question)
            return [int(i) for i in np.argsort(-scores, kind="stable")[:depth] if scores[i] > 0]

        def search_with(weight: float) -> Callable[[str], list[str]]:
            def search(question: str) -> list[str]:
                qa.retrieval.DENSE_WEIGHT = weight  # read by hybrid_search on every call
                try:
                    return [p.source for p in assistant.search(question, k=5)]
                finally:
                    qa.retrieval.DENSE_WEIGHT = default_weight

            return search

        for n, case in enumerate(cases, start=1):
            gold = {source for source, _, _ in case.gold}
            record("hybrid", [p.source for p in assistant.search(case.question, k=5)], gold)
            for weight in weights:
                record(f"hybrid_dense_weight_{weight}", search_with(weight)(case.question), gold)
            dense = dense_ranking(case.question)
            keyword = keyword_ranking(case.question)
            record("dense", [chunks[i].source for i in dense], gold)
            record("bm25", [chunks[i].source for i in keyword], gold)
            fused: dict[int, float] = {}
            for ranking in (dense, keyword):
                for rank, i in enumerate(ranking, start=1):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
            record(
                "rank_fusion", [chunks[i].source for i in sorted(fused, key=lambda i: (-fused[i], i))], gold
            )
            if n % 100 == 0:
                log.info("%d / %d questions", n, len(cases))

    return {
        "benchmark": "retrieval",
        "dataset": dataset.name,
        "paragraphs": len(dataset.documents),
        "chunks": len(chunks),
        "questions": len(cases),
        "candidates": depth,
        "dense_weight": default_weight,
        "rrf_k": RRF_K,
        "methods": {method: hits(r) for method, r in ranks.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="Only the first N questions.")
    parser.add_argument(
        "--weights", default=",".join(map(str, WEIGHTS)), help="DENSE_WEIGHT values to try (comma-separated)."
    )
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()
    weights = tuple(float(w) for w in args.weights.split(",") if w)
    emit(run(args.limit, weights), begun, args.out)


if __name__ == "__main__":
    main()
