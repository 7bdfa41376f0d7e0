"""Which sentences an answer should quote: how often the quoted sentences hold the gold answer, by the
share of the best sentence's match a second sentence needs (`SECOND_SENTENCE_RATIO`), and whether
the choice is limited to sentences holding the kind of answer the question expects.

    .venv/bin/python -m bench.evidence_choice [--results docs/results/evidence_choice.json]

Runs the answerable questions of XQuAD (one paragraph of each article left out, as `qa eval
--dataset xquad-noans`) and the SQuAD 2.0 development article through the real retrieval and
sentence scoring; prints one JSON object.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.common import RESULTS, emit, quiet_logging, start_run
from qa.answering import _has_expected, analyse
from qa.evaluation import SQUAD2_DEV, holds_gold_answer, indexed, squad2_datasets, xquad_noans_dataset
from qa.retrieval import hybrid_search

RATIOS = (1.01, 0.9, 0.85, 0.8, 0.7, 0.6, 0.0)  # 1.01: never a second sentence; 0.0: always


def ranked_sentences() -> dict[str, list[list[tuple[float, bool, bool]]]]:
    """Per corpus, per answerable question: its scored sentences as (match, typed, holds answer)."""
    found: dict[str, list[list[tuple[float, bool, bool]]]] = {}
    for dataset in xquad_noans_dataset() + squad2_datasets(SQUAD2_DEV):
        rows = found.setdefault(dataset.name, [])
        with indexed(dataset) as (assistant, _):
            snapshot = assistant._snapshot()
            for case in dataset.cases:
                if not case.answerable:
                    continue
                passages = hybrid_search(
                    snapshot, assistant.embeddings, case.question, assistant.settings.top_k
                )
                q = analyse(case.question)
                scored = assistant.selector.score(q, passages, snapshot.keyword)
                rows.append(
                    [
                        (e.match, _has_expected(e.span.text, q), holds_gold_answer(e.span.text, case.answers))
                        for e in scored
                    ]
                )
    return found


def holds(rows: list[list[tuple[float, bool, bool]]], ratio: float, typed_only: bool) -> dict[str, float]:
    hit = two = 0
    for sentences in rows:
        pool = [s for s in sentences if s[1]] if typed_only else []
        pool = pool or sentences
        chosen = pool[:1] + [s for s in pool[1:2] if s[0] >= ratio * pool[0][0]]
        hit += any(s[2] for s in chosen)
        two += len(chosen) == 2
    return {"holds_answer": round(hit / len(rows), 4), "two_sentences": round(two / len(rows), 3)}


def main() -> None:
    quiet_logging()
    begun = start_run()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS / "evidence_choice.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for corpus, rows in ranked_sentences().items():
        results[corpus] = {
            "questions": len(rows),
            "any_retrieved_sentence_holds_answer": round(
                sum(any(s[2] for s in r) for r in rows) / len(rows), 4
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
