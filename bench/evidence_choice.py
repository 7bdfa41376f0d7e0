"""Which sentences an answer should quote: how often the quoted sentences hold the gold answer, by how
much the reader's margin reorders the best few sentences (`READER_WEIGHT` over `READ_SENTENCES`), by
the share of the best sentence's match a second sentence needs (`SECOND_SENTENCE_RATIO`), and whether
the choice is limited to sentences holding the kind of answer the question expects.

    .venv/bin/python -m bench.evidence_choice [--results docs/results/evidence_choice.json]

Runs the answerable questions of XQuAD (one paragraph of each article left out, as `qa eval
--dataset xquad-noans`) and of the three SQuAD 2.0 articles the reader never trained on through the
real retrieval, sentence scoring and reader; prints one JSON object. The reader's weight is chosen
on three of these four sets and scored on the fourth, each in turn (`reader_weight.held_out`);
`reader_weight.fitted` is the choice on all four, which `qa.answering` ships.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import RESULTS, emit, quiet_logging, start_run
from qa.answering import READ_SENTENCES, READER_WEIGHT, _has_expected, analyse
from qa.evaluation import (
    SQUAD2_DEV,
    SQUAD2_TRAIN,
    SQUAD2_WITH_UNANSWERABLE,
    holds_gold_answer,
    indexed,
    squad2_datasets,
    xquad_noans_dataset,
)
from qa.retrieval import hybrid_search

RATIOS = (1.01, 0.9, 0.85, 0.8, 0.7, 0.6, 0.0)  # 1.01: never a second sentence; 0.0: always
WEIGHTS = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.1)  # 0: the match alone
DEPTHS = (2, 3, 4)  # how many of the best sentences by match the reader reads
READ_MOST = max(DEPTHS)


@dataclass(frozen=True)
class Scored:
    """A candidate sentence of one question: its match, the reader's margin (None beyond the
    sentences read), whether it holds the expected kind of answer, and whether it holds the answer."""

    match: float
    margin: float | None
    typed: bool
    holds: bool


def ranked_sentences() -> dict[str, list[list[Scored]]]:
    """Per corpus, per answerable question: its scored sentences, best match first."""
    found: dict[str, list[list[Scored]]] = {}
    datasets = (
        xquad_noans_dataset()
        + squad2_datasets(SQUAD2_DEV)
        + squad2_datasets(SQUAD2_TRAIN, SQUAD2_WITH_UNANSWERABLE)
    )
    for dataset in datasets:
        rows = found.setdefault(dataset.name, [])
        with indexed(dataset) as (assistant, _):
            snapshot = assistant._snapshot()
            selector = assistant.selector
            for case in dataset.cases:
                if not case.answerable:
                    continue
                passages = hybrid_search(
                    snapshot, assistant.embeddings, case.question, assistant.settings.top_k
                )
                q = analyse(case.question)
                scored = selector.score(q, passages, snapshot.keyword)
                rows.append(
                    [
                        Scored(
                            e.match,
                            selector.reader_margin(q, e) if i < READ_MOST else None,
                            _has_expected(e.span.text, q),
                            holds_gold_answer(e.span.text, case.answers),
                        )
                        for i, e in enumerate(scored)
                    ]
                )
    return found


def reordered(sentences: list[Scored], weight: float, depth: int) -> list[Scored]:
    """As `EvidenceSelector.reread`: the first `depth` by match + weight x margin, the rest as they are."""
    head = sorted(sentences[:depth], key=lambda s: -(s.match + weight * (s.margin or 0.0)))
    return head + sentences[depth:]


def first_holds(rows: list[list[Scored]], weight: float, depth: int) -> float:
    """The share of questions whose first sentence after reordering holds the answer."""
    return sum(reordered(r, weight, depth)[0].holds for r in rows) / len(rows)


def choose(corpora: dict[str, list[list[Scored]]]) -> tuple[float, int]:
    """The weight and depth whose first sentence holds the answer most often, averaged over corpora
    (each counts alike, however many questions it has); the smaller weight and depth on a tie."""
    grid = [(w, d) for d in DEPTHS for w in WEIGHTS]
    return max(grid, key=lambda wd: (sum(first_holds(r, *wd) for r in corpora.values()), -wd[0], -wd[1]))


def reader_weight(found: dict[str, list[list[Scored]]]) -> dict[str, Any]:
    """Leave one corpus out: choose on the others, score on it; then choose on all."""
    held_out = {}
    for corpus, rows in found.items():
        others = {c: r for c, r in found.items() if c != corpus}
        weight, depth = choose(others)
        held_out[corpus] = {
            "weight": weight,
            "depth": depth,
            "first_holds_answer": round(first_holds(rows, weight, depth), 4),
            "by_match_alone": round(first_holds(rows, 0.0, 1), 4),
        }
    weight, depth = choose(found)
    return {
        "held_out": held_out,
        "fitted": {"weight": weight, "depth": depth},
        "shipped": {"weight": READER_WEIGHT, "depth": READ_SENTENCES},
        "by_weight": {
            corpus: {f"{d} {w}": round(first_holds(rows, w, d), 4) for d in DEPTHS for w in WEIGHTS}
            for corpus, rows in found.items()
        },
    }


def holds(rows: list[list[Scored]], ratio: float, typed_only: bool) -> dict[str, float]:
    """With the shipped reordering: how often the quoted sentences hold the answer, and how often two
    are quoted, when a second needs `ratio` of the first's match."""
    hit = two = 0
    for sentences in rows:
        ordered = reordered(sentences, READER_WEIGHT, READ_SENTENCES)
        pool = [s for s in ordered if s.typed] if typed_only else []
        pool = pool or ordered
        chosen = pool[:1] + [s for s in pool[1:2] if s.match >= ratio * pool[0].match]
        hit += any(s.holds for s in chosen)
        two += len(chosen) == 2
    return {"holds_answer": round(hit / len(rows), 4), "two_sentences": round(two / len(rows), 3)}


def main() -> None:
    quiet_logging()
    begun = start_run()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS / "evidence_choice.json")
    args = parser.parse_args()
    found = ranked_sentences()
    results: dict[str, Any] = {"reader_weight": reader_weight(found)}
    for corpus, rows in found.items():
        results[corpus] = {
            "questions": len(rows),
            "any_retrieved_sentence_holds_answer": round(
                sum(any(s.holds for s in r) for r in rows) / len(rows), 4
            ),
            "by_ratio": {
                f"{'typed' if typed else 'any'} {ratio}": holds(rows, ratio, typed)
                for typed in (False, True)
                for ratio in RATIOS
            },
        }
    emit(results, begun, args.results)


if __name__ == "__main__":
    main()
