"""Fit the span model (`qa/span_model.json`): which phrase of a cited sentence states the fact asked.

    .venv/bin/python -m bench.fit_spans [--out qa/span_model.json] [--results docs/results/span_fit.json]

1. Training questions: the answerable questions of the ten SQuAD 2.0 training articles in `eval/`
   that ask for a fact (`qa.short_answers.asks_for`), each with the sentence that holds its gold
   answer. Every candidate phrase of that sentence (`span_features`) is labelled by whether it is a
   gold answer under SQuAD's normalisation. The XQuAD development half and the SQuAD 2.0
   development article are never fitted on: they are the held-out figures.
2. A conditional logit over the candidates' features: the candidates of one sentence compete, and the
   fit (Newton's method, L2-regularised) maximises the likelihood of the target spread over them,
   each candidate's share proportional to its token F1 against the gold answer raised to a power
   (`SHARPNESS`), so that a near-miss ("the west end of Long Island" for "the west end") counts for
   part of the right one. The power is the one of `SHARPNESS` with the best mean of exact match and
   F1 on training articles left out one at a time (F1 alone favours soft targets that teach that
   "War Manual" is two thirds of "Law of War Manual"; in bold, a cut name is simply wrong); every
   power's figures are saved.
   Among the features are the readings of three token probes (`qa.short_answers.TokenProbes`):
   logistic regressions on the packaged MiniLM's token states of (question, sentence) that score
   each token as the gold answer's first token, last token, or inside it. A training article's
   readings come from probes fitted on the other articles, so the choice model learns how much a
   probe is worth on unseen text; the shipped probes are fitted on all of them. The figures
   without them are saved too.
3. `show_at`, the probability from which the phrase is stated, is chosen leaving one training article
   out at a time: the lowest probability at which the phrases shown on held-out articles have a
   mean token F1 of at least `MIN_SHOWN_F1` (a bold fact is more right than wrong).
4. Figures, all on articles the fit did not see: per training article left out, and on XQuAD and
   the SQuAD 2.0 development article with the packaged model: exact match and F1 of the best phrase
   over every answerable question (SQuAD's protocol given the right sentence: an explanation
   question or an unstated phrase scores 0), the share stated, and the F1 of what is stated.

The pipeline's own figures (retrieval, the decision, the cited sentence) are `python -m bench.short_answers`.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.common import RESULTS, emit, quiet_logging, start_run
from qa.chunking import split_sentences
from qa.evaluation import SQUAD2_DEV, SQUAD2_TRAIN, XQUAD_FILE, short_scores
from qa.short_answers import (
    SPAN_MODEL,
    TOKEN_FEATURES,
    SpanModel,
    TokenProbes,
    asks_for,
    phrase_encoder,
    span_features,
    token_features,
    tokens_within,
)
from qa.support import fit_logistic

log = logging.getLogger("bench.fit_spans")
MIN_SHOWN_F1 = 0.5
L2 = 1.0
PROBE_L2 = 1.0
SHARPNESS = (4.0, 8.0, 16.0)  # powers of F1 tried as the target's shares
PROBABILITIES = [round(0.05 * k, 2) for k in range(1, 16)]


@dataclass
class Question:
    """One answerable question with the sentence holding its gold answer, and its candidates."""

    article: str
    question: str
    golds: list[str]
    spans: list[str]  # candidate phrases
    x: np.ndarray  # their features, in `names` order
    exact: np.ndarray  # 1 where a phrase is a gold answer
    f1: np.ndarray
    at: list[tuple[int, int]]  # the candidates' characters in the sentence
    offsets: np.ndarray  # the sentence's tokens' characters, read after the question
    states: np.ndarray  # their MiniLM states
    labels: np.ndarray  # (tokens, 3): the gold answer's first token, last token, inside it

    def with_probes(self, probes: TokenProbes) -> Question:
        """This question with the token probes' readings appended to `x` (in `TOKEN_FEATURES` order)."""
        extra = token_features(self.at, self.offsets, probes.scores(self.states))
        tokens = np.array([[row[n] for n in TOKEN_FEATURES] for row in extra])
        return replace(self, x=np.hstack([self.x, tokens]))


def token_labels(offsets: np.ndarray, start: int, end: int) -> np.ndarray:
    """Which tokens (by their character offsets) are the first, the last and inside the answer at
    characters start:end."""
    labels = np.zeros((len(offsets), 3))
    inside = tokens_within(offsets, start, end)
    if inside:
        labels[inside[0], 0] = labels[inside[-1], 1] = 1.0
        labels[inside, 2] = 1.0
    return labels


def fit_probes(train: list[Question]) -> TokenProbes:
    """The three token probes, logistic regressions on the token states of the training questions."""
    states = np.vstack([q.states for q in train])
    labels = np.vstack([q.labels for q in train])
    weights, bias = [], []
    for column in range(3):
        mean, scale, w, b = fit_logistic(states, labels[:, column], l2=PROBE_L2)
        weights.append(tuple(float(v) for v in w / scale))  # on the raw states, as they are read
        bias.append(float(b - (w / scale) @ mean))
    return TokenProbes(tuple(weights), tuple(bias))


def questions(path: Path, names: list[str] | None = None) -> tuple[list[Question], int, list[str]]:
    """The answerable fact questions of a SQuAD-format file with their candidates; also the count of
    every answerable question whose answer lies inside one sentence (the denominator of the figures)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out: list[Question] = []
    answerable = 0
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            sentences = split_sentences(context)
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                first = qa["answers"][0]
                at = first["answer_start"]
                sentence = next((s for s in sentences if s.start <= at < s.end), None)
                if sentence is None or at + len(first["text"]) > sentence.end:
                    continue  # the answer crosses sentences: no phrase of one sentence is it
                answerable += 1
                if asks_for(qa["question"]) is None:
                    continue
                spans, rows = span_features(qa["question"], sentence.text)
                if not rows:
                    continue
                names = names or sorted(rows[0])
                golds = [a["text"] for a in qa["answers"]]
                phrases = [sentence.text[a:b] for a, b in spans]
                scored = [short_scores(p, golds) for p in phrases]
                offsets, states = phrase_encoder().token_states(qa["question"], sentence.text)
                start = at - sentence.start
                out.append(
                    Question(
                        article=article["title"],
                        question=qa["question"],
                        golds=golds,
                        spans=phrases,
                        x=np.array([[row[n] for n in names] for row in rows]),
                        exact=np.array([e for e, _ in scored]),
                        f1=np.array([f for _, f in scored]),
                        at=spans,
                        offsets=offsets,
                        states=states,
                        labels=token_labels(offsets, start, start + len(first["text"])),
                    )
                )
    return out, answerable, names or []


def fit(train: list[Question], names: list[str], sharpness: float, show_at: float = 0.0) -> SpanModel:
    """The choice model fitted on the training questions (those with no candidate near a gold answer
    teach nothing about which candidate to pick, and are left out)."""
    x_all = np.vstack([q.x for q in train])
    mean = x_all.mean(axis=0)
    scale = x_all.std(axis=0)
    scale[scale < 1e-9] = 1.0
    groups = []
    for q in train:
        target = q.f1**sharpness
        if target.sum() > 0:
            groups.append(((q.x - mean) / scale, target / target.sum()))
    w = np.zeros(len(names))
    for _ in range(50):
        gradient = L2 * w
        hessian = L2 * np.eye(len(w))
        for x, target in groups:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            gradient += x.T @ (p - target)
            expected = x.T @ p
            hessian += (x.T * p) @ x - np.outer(expected, expected)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return SpanModel(tuple(names), tuple(mean), tuple(scale), tuple(w), 0.0, show_at)


def best(model: SpanModel, q: Question) -> tuple[float, float, float]:
    """(probability, exact match, F1) of the phrase the model picks."""
    names = model.features
    p = model.probabilities([dict(zip(names, row, strict=True)) for row in q.x])
    k = int(np.argmax(p))
    return float(p[k]), float(q.exact[k]), float(q.f1[k])


def figures(picked: list[tuple[float, float, float]], answerable: int, show_at: float) -> dict[str, float]:
    shown = [(e, f) for p, e, f in picked if p >= show_at]
    return {
        "answerable": answerable,
        "fact_questions": len(picked),
        "best_phrase_exact_match": round(sum(e for _, e, _ in picked) / answerable, 4),
        "best_phrase_f1": round(sum(f for _, _, f in picked) / answerable, 4),
        "stated": round(len(shown) / len(picked), 4) if picked else 0.0,
        "stated_exact_match": round(sum(e for e, _ in shown) / answerable, 4),
        "stated_f1": round(sum(f for _, f in shown) / answerable, 4),
        "f1_of_what_is_stated": round(sum(f for _, f in shown) / len(shown), 4) if shown else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SPAN_MODEL, help="Where to write the fitted model.")
    parser.add_argument(
        "--results", type=Path, default=RESULTS / "span_fit.json", help="Where to save the figures."
    )
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()
    plain, train_answerable, plain_names = questions(SQUAD2_TRAIN)
    articles = sorted({q.article for q in plain})
    # Each article's token readings come from probes fitted on the other articles, so the choice
    # model learns how far to trust a probe on text it has not seen (stacking).
    read: dict[int, Question] = {}
    for article in articles:
        probes = fit_probes([q for q in plain if q.article != article])
        read.update({i: q.with_probes(probes) for i, q in enumerate(plain) if q.article == article})
    train = [read[i] for i in range(len(plain))]
    names = [*plain_names, *TOKEN_FEATURES]
    log.info("%d training questions from %d articles, %d features", len(train), len(articles), len(names))
    without_probes = []
    for article in articles:
        model = fit([q for q in plain if q.article != article], plain_names, SHARPNESS[1])
        without_probes += [best(model, q) for q in plain if q.article == article]
    tried: dict[float, list[tuple[float, float, float]]] = {}
    for sharpness in SHARPNESS:
        tried[sharpness] = []
        for article in articles:
            model = fit([q for q in train if q.article != article], names, sharpness)
            tried[sharpness] += [best(model, q) for q in train if q.article == article]
    by_sharpness = {str(k): figures(v, train_answerable, 0.0) for k, v in tried.items()}
    # The alternative, for the record: an independent logistic regression per phrase (picks by argmax).
    per_phrase = []
    for article in articles:
        rest = [q for q in train if q.article != article]
        x = np.vstack([q.x for q in rest])
        mean, scale, weights, bias = fit_logistic(x, np.concatenate([q.exact for q in rest]), l2=L2)
        logistic = SpanModel(tuple(names), tuple(mean), tuple(scale), tuple(weights), bias, 0.0)
        per_phrase += [best(logistic, q) for q in train if q.article == article]
    sharpness = max(
        SHARPNESS,
        key=lambda k: (
            by_sharpness[str(k)]["best_phrase_f1"] + by_sharpness[str(k)]["best_phrase_exact_match"]
        ),
    )
    held = tried[sharpness]
    curve = {}
    for p in PROBABILITIES:
        shown = [f for prob, _, f in held if prob >= p]
        curve[str(p)] = {
            "stated": round(len(shown) / len(held), 4),
            "f1_of_what_is_stated": round(sum(shown) / len(shown), 4) if shown else None,
        }
    stated_well = [p for p in PROBABILITIES if (curve[str(p)]["f1_of_what_is_stated"] or 0.0) >= MIN_SHOWN_F1]
    show_at = stated_well[0] if stated_well else PROBABILITIES[-1]
    model = fit(train, names, sharpness, show_at)
    probes = fit_probes(plain)
    model = SpanModel(
        model.features, model.mean, model.scale, model.weights, model.bias, show_at, probes,
        about={
            "fitted_by": "python -m bench.fit_spans",
            "fitted_on": f"{len(train)} fact questions, {len(articles)} SQuAD 2.0 training articles (eval/)",
            "min_shown_f1": MIN_SHOWN_F1,
        },
    )  # fmt: skip
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    held_out: dict[str, object] = {}
    for name, path in {"xquad": XQUAD_FILE, "squad2-dev": SQUAD2_DEV}.items():
        rows, answerable, _ = questions(path, plain_names)
        held_out[name] = figures([best(model, q.with_probes(probes)) for q in rows], answerable, show_at)
    result = {
        "show_at": show_at,
        "features": len(names),
        "training_questions": len(train),
        "sharpness": sharpness,
        "training_articles_left_out": figures(held, train_answerable, show_at),
        "training_articles_left_out_by_sharpness": by_sharpness,
        "training_articles_left_out_logistic_per_phrase": figures(per_phrase, train_answerable, 0.0),
        f"training_articles_left_out_without_token_probes_sharpness_{SHARPNESS[1]}": figures(
            without_probes, train_answerable, 0.0
        ),
        "curve_on_training_articles_left_out": curve,
        "held_out_with_the_packaged_model": held_out,
    }
    emit(result, begun, args.results)


if __name__ == "__main__":
    main()
