"""How well `Answer.short` states the fact: SQuAD's exact match and token F1 of the short answer
against the gold answers, on held-out articles, for several ways of finding the span.

    python -m bench.short_answers [--local-sample N] [--out FILE]

Every question of the SQuAD 2.0 development article and of the XQuAD development half is asked
through the real pipeline (extractive answerer; each article decided by the support model fitted
without it). The short answer is then cut from the answer's cited sentences by each method:

- `reader`: `qa.short_answers` as packaged: the span of the first cited sentence that the reader
  (`python -m bench.fit_reader`, fitted on SQuAD training articles, none of these) rates most likely:
  what `Answer.short` is;
- `by_kind`: `reader`'s exact match and F1 per kind of question (answered answerable questions that
  got a span);
- `local` (with `--local-sample N`): the packaged language model asked to copy the shortest phrase
  of the cited sentence that answers (`propose_short`), kept only when it is a verbatim substring
  (`verbatim_span`), on the first N answered fact questions of each dataset (the model is slow
  here); `reader_on_local_sample` is the reader on those same questions, and `local_else_reader` the
  copied phrase falling back to the reader's when it is not verbatim: the alternatives to the reader
  that the model answerers were measured against.

Figures per dataset and method: over answerable questions that were answered (`answered_*`), and
SQuAD's protocol over all questions (`squad_*`: an unanswerable question scores 1 only when
declined, a declined answerable one 0; an answer without a short span scores 0). Also: how often a
fact question's answer states its fact within its first 12 words, and the median answer length.
"""

from __future__ import annotations

import argparse
import collections
import logging
import re
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from bench.common import emit, quiet_logging, start_run
from qa.evaluation import SQUAD2_DEV, Dataset, indexed, squad2_datasets, squad_normalise, xquad_dataset
from qa.evaluation import short_scores as scores
from qa.models import Citation
from qa.short_answers import asks_for, short_answer

log = logging.getLogger("bench.short_answers")
FIRST_WORDS = 12


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


def predict(rows: list[Asked]) -> list[str | None]:
    out = []
    for r in rows:
        short = short_answer(r.question, r.citations) if not r.declined else None
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


SHORT_PROMPT = (
    "Copy, word for word, the shortest phrase of the passage that answers the question: a name, a "
    "date, a number or a few words. Reply with that phrase only."
)


def propose_short(chat_model: Any, question: str, citations: list[Citation]) -> str | None:
    """The phrase a language model copies from the first cited sentence as the answer; the caller
    keeps it only when it is verbatim in a cited sentence (`verbatim_span`)."""
    if not citations:
        return None
    passage = " ".join(citations[0].text.split())
    try:
        reply = chat_model.invoke(
            [
                SystemMessage(content=SHORT_PROMPT),
                HumanMessage(content=f"Passage: {passage}\nQuestion: {question}\nPhrase:"),
            ]
        )
    except Exception as exc:  # the extractive span still stands
        log.warning("could not ask the model for a short answer (%s)", type(exc).__name__)
        return None
    text = " ".join(str(reply.content).split())
    return text or None


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
            return replace(
                citation,
                start=citation.start + at,
                end=citation.start + at + len(phrase),
                text=citation.text[at : at + len(phrase)],
            )
    return None


def local_predictions(rows: list[Asked], sample: int) -> tuple[list[Asked], list[str | None]]:
    """The language model's copied phrase for the first `sample` answered fact questions."""
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
    result: dict[str, object] = {}
    for name, rows in asked.items():
        spans = predict(rows)
        figures: dict[str, object] = {
            "questions": len(rows),
            "reader": summarise(rows, spans),
            "by_kind": by_kind(rows, spans),
            **answer_length(rows),
        }
        if args.local_sample:
            sample, predicted = local_predictions(rows, args.local_sample)
            figures["local"] = summarise(sample, predicted)
            read = predict(sample)
            figures["reader_on_local_sample"] = summarise(sample, read)
            # what the local answerer states: the copied phrase, else (not verbatim) the reader's
            figures["local_else_reader"] = summarise(
                sample,
                [
                    copied if copied is not None else span
                    for copied, span in zip(predicted, read, strict=True)
                ],
            )
        result[name] = figures
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
