"""How well `Answer.short` states the fact: SQuAD's exact match and token F1 of the short answer
against the gold answers, on held-out articles, for several ways of finding the span.

    python -m bench.short_answers [--local-sample N] [--out FILE]

Every question of the SQuAD 2.0 development article and of the XQuAD development half is asked
through the real pipeline (extractive answerer; each article decided by the support model fitted
without it). The short answer is then cut from the answer's cited sentences by each method:

- `types`: `qa.short_answers` as packaged: answer-type candidates outside the question's words,
  nearest to the words the sentence shares with the question, for the kinds it states
  (`STATED_KINDS`: dates, numbers, names, places);
- `types-every-kind`: the same for open "what"/"which" questions too (the "thing" kind);
- `by_kind`: `types-every-kind`'s exact match and F1 per kind of question, over answered
  answerable questions that got a span: what `STATED_KINDS` is chosen from;
- `types-cv`: every kind with the "thing" weights chosen on the other articles (leave one article
  out), so the figure is one the choice never saw; the weights chosen on all articles are printed;
- `nearest`: any candidate phrase nearest to the question's words, type ignored (a baseline);
- `local` (with `--local-sample N`): the packaged language model asked to copy the shortest phrase
  of the cited sentence that answers, kept only when it is a verbatim substring (`verbatim_span`),
  on the first N answered fact questions of each dataset (the model is slow here).

Figures per dataset and method: over answerable questions that were answered (`answered_*`), and
SQuAD's protocol over all questions (`squad_*`: an unanswerable question scores 1 only when
declined, a declined answerable one 0; an answer without a short span scores 0). Also: how often a
fact question's answer states its fact within its first 12 words, and the median answer length.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import logging
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import emit, quiet_logging, start_run
from qa.evaluation import SQUAD2_DEV, Dataset, indexed, squad2_datasets, squad_normalise, xquad_dataset
from qa.evaluation import short_scores as scores
from qa.models import Citation
from qa.short_answers import (
    EVERY_KIND,
    STATED_KINDS,
    WEIGHTS,
    SpanWeights,
    asks_for,
    short_answer,
    verbatim_span,
)

log = logging.getLogger("bench.short_answers")
FIRST_WORDS = 12
GRID = [
    SpanWeights(p, n, length)
    for p, n, length in itertools.product([0.0, 1.5, 3.0, 6.0], [0.0, 1.5, 3.0], [0.0, 0.5, 1.0])
]


@dataclass(frozen=True)
class Asked:
    """One question as answered: what the short-answer methods read."""

    article: str
    question: str  # the standalone query
    answerable: bool
    declined: bool
    gold: list[str]
    citations: list[Citation]
    text: str
    short: Citation | None


def ask_all(dataset: Dataset) -> list[Asked]:
    rows = []
    for part in [dataset]:
        with indexed(part) as (assistant, _):
            packaged = assistant.selector.model
            for case in part.cases:
                assistant.selector.model = packaged.fold(case.article)
                answer = assistant.ask(case.question)
                rows.append(
                    Asked(
                        case.article,
                        answer.query,
                        case.answerable,
                        not answer.answerable,
                        case.answers,
                        answer.citations,
                        answer.text,
                        answer.short,
                    )
                )
    return rows


def summarise(rows: list[Asked], predictions: list[str | None]) -> dict[str, float | int | None]:
    answered = [(r, p) for r, p in zip(rows, predictions, strict=True) if r.answerable and not r.declined]
    ems, f1s = zip(*[scores(p, r.gold) for r, p in answered], strict=True) if answered else ((), ())
    protocol = []
    for r, p in zip(rows, predictions, strict=True):
        if not r.answerable:
            protocol.append((float(r.declined), float(r.declined)))
        elif r.declined:
            protocol.append((0.0, 0.0))
        else:
            protocol.append(scores(p, r.gold))
    return {
        "answered": len(answered),
        "with_short": sum(1 for _, p in answered if p is not None),
        "answered_exact_match": round(statistics.fmean(ems), 4) if ems else None,
        "answered_f1": round(statistics.fmean(f1s), 4) if f1s else None,
        "squad_exact_match": round(statistics.fmean(e for e, _ in protocol), 4) if protocol else None,
        "squad_f1": round(statistics.fmean(f for _, f in protocol), 4) if protocol else None,
    }


def predict(
    rows: list[Asked], weights: SpanWeights, kinds: frozenset[str] = STATED_KINDS
) -> list[str | None]:
    out = []
    for r in rows:
        short = short_answer(r.question, r.citations, weights, kinds) if not r.declined else None
        out.append(short.text if short else None)
    return out


def by_kind(rows: list[Asked], predictions: list[str | None]) -> dict[str, dict[str, float | int]]:
    """Exact match and F1 of the spans given, per kind of question (answered answerable ones)."""
    kinds: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    for r, p in zip(rows, predictions, strict=True):
        if r.answerable and not r.declined and p is not None:
            kinds[str(asks_for(r.question))].append(scores(p, r.gold))
    return {
        kind: {
            "spans": len(found),
            "exact_match": round(statistics.fmean(e for e, _ in found), 4),
            "f1": round(statistics.fmean(f for _, f in found), 4),
        }
        for kind, found in sorted(kinds.items(), key=lambda kv: -len(kv[1]))
    }


def nearest_any(rows: list[Asked]) -> list[str | None]:
    """The baseline: a fact question's nearest candidate of any kind (as a "what" question reads it)."""
    out: list[str | None] = []
    for r in rows:
        if r.declined or asks_for(r.question) is None:
            out.append(None)
            continue
        as_thing = "What " + r.question.split(maxsplit=1)[-1] if len(r.question.split()) > 1 else r.question
        short = short_answer(as_thing, r.citations, kinds=EVERY_KIND)
        out.append(short.text if short else None)
    return out


def cross_validated(rows: list[Asked]) -> tuple[list[str | None], SpanWeights]:
    """Each article's short answers with the weights that scored best (F1) on the other articles."""
    articles = sorted({r.article for r in rows})
    per_weights = [predict(rows, w, EVERY_KIND) for w in GRID]

    def f1_on(indices: list[int], k: int) -> float:
        return sum(scores(per_weights[k][i], rows[i].gold)[1] for i in indices if rows[i].answerable)

    out: list[str | None] = [None] * len(rows)
    for article in articles:
        train = [i for i, r in enumerate(rows) if r.article != article]
        best = max(range(len(GRID)), key=lambda k: f1_on(train, k))
        for i, r in enumerate(rows):
            if r.article == article:
                out[i] = per_weights[best][i]
    everything = list(range(len(rows)))
    return out, GRID[max(range(len(GRID)), key=lambda k: f1_on(everything, k))]


def local_predictions(rows: list[Asked], sample: int) -> tuple[list[Asked], list[str | None]]:
    """The language model's copied phrase for the first `sample` answered fact questions."""
    from qa.generative import propose_short
    from qa.llm import LocalChatModel, local_model_file

    model = LocalChatModel(model_path=str(local_model_file()))
    chosen = [r for r in rows if r.answerable and not r.declined and asks_for(r.question)][:sample]
    out: list[str | None] = []
    for r in chosen:
        phrase = propose_short(model, r.question, r.citations)
        span = verbatim_span(phrase, r.citations) if phrase else None
        out.append(span.text if span else None)
    return chosen, out


def answer_length(rows: list[Asked]) -> dict[str, float | None]:
    import re

    answered = [r for r in rows if not r.declined]
    facts = [r for r in answered if r.answerable and asks_for(r.question) and r.short is not None]
    early = 0
    for r in facts:
        first = " ".join(re.sub(r"\[\d+\]", " ", r.text).split()[:FIRST_WORDS])
        early += squad_normalise(r.short.text) in squad_normalise(first) if r.short else 0
    words = [len(re.sub(r"\[\d+\]", " ", r.text).split()) for r in answered]
    return {
        "median_answer_words": statistics.median(words) if words else None,
        "fact_questions_with_short": len(facts),
        "fact_within_first_12_words": round(early / len(facts), 4) if facts else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--local-sample", type=int, default=0, help="Fact questions per dataset for `local`.")
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()
    datasets = {"squad2-dev": squad2_datasets(SQUAD2_DEV)[0], "xquad": xquad_dataset()[0]}
    asked: dict[str, list[Asked]] = {}
    for name, dataset in datasets.items():
        log.info("asking %d questions of %s", len(dataset.cases), name)
        asked[name] = ask_all(dataset)
    # Weights chosen leaving each article out, over every article of both datasets.
    every = [r for rows in asked.values() for r in rows]
    held_out, chosen = cross_validated(every)
    result: dict[str, object] = {
        "packaged_weights": asdict(WEIGHTS),
        "weights_chosen_on_all_articles": asdict(chosen),
        "grid": len(GRID),
    }
    at = 0
    for name, rows in asked.items():
        cv = held_out[at : at + len(rows)]
        at += len(rows)
        figures: dict[str, object] = {
            "questions": len(rows),
            "types": summarise(rows, predict(rows, WEIGHTS)),
            "types-every-kind": summarise(rows, predict(rows, WEIGHTS, EVERY_KIND)),
            "by_kind": by_kind(rows, predict(rows, WEIGHTS, EVERY_KIND)),
            "types-cv": summarise(rows, cv),
            "nearest": summarise(rows, nearest_any(rows)),
            **answer_length(rows),
        }
        if args.local_sample:
            sample, predicted = local_predictions(rows, args.local_sample)
            figures["local"] = summarise(sample, predicted)
            figures["types_on_local_sample"] = summarise(sample, predict(sample, WEIGHTS))
        result[name] = figures
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
