"""How likely the documents answer a question: features of the question-evidence match, and the
fitted model that turns them into a calibrated probability (`Answer.support`).

The features describe how the question meets its best sentence, never the document itself, so that
a fit on some articles carries over to others: how much of the question's wording (weighted by
rarity) the sentence and its passage contain, exactly or by meaning; how rare the missing words are
and whether the documents mention them at all; whether the sentence holds the kind of answer the
question asks for; how far ahead of the other sentences it is; whether the reader (`qa.reader`),
which reads the question and the sentence together, finds a span in it that answers the question.
Scores are taken relative to the other candidate sentences, so a short note and a long report read
alike.

The weights are a logistic regression fitted by `python -m bench.calibrate` on labelled questions
(SQuAD 2.0 and XQuAD articles), cross-validated by article; the fitted parameters ship beside this
module in `support_model.json`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PACKAGED_MODEL = Path(__file__).with_name("support_model.json")

FEATURES = (
    "similarity",  # cosine of the question and the best sentence
    "similarity_lead",  # that cosine minus the median over every candidate sentence
    "coverage",  # rarity-weighted share of the question's terms found in the best sentence
    "context_coverage",  # the same, over the passage the sentence is in
    "soft_coverage",  # the same, a missing term counting by its closest word's cosine
    "weakest_match",  # the lowest cosine of a missing term to any word of the passage (1: none missing)
    "unmatched_rarity",  # the rarest term missing from the passage, its IDF over the largest possible
    "absent_names",  # names, acronyms, numbers, two-word names of the question no document has (at most 2)
    "absent_words",  # other words of the question no document contains in any form (at most 2)
    "expects_type",  # the question asks for a date, a number or a name
    "type_missing",  # ... and the best sentence holds none outside the question's own words
    "new_terms",  # log(1 + the best sentence's terms that are not the question's)
    "margin",  # the best sentence's match score minus the runner-up's
    "negation_mismatch",  # the question negates, the best sentence negates nothing (`qa.opposites`)
    "question_terms",  # log(1 + the question's content terms)
    "reader_margin",  # the reader's best span in the best sentence over its "no span" score (`qa.reader`)
    "antonym_swap",  # the best sentence states an antonym, or another number, year, name (`qa.opposites`)
)


@dataclass(frozen=True)
class SupportModel:
    """A logistic regression over standardised `FEATURES`, with its decision thresholds.

    `threshold`: below it a question is declined. `confident`: from it up an answer is stated
    plainly; between the two it is offered as "the closest the documents come". `vetoes`: features
    that decline a question by themselves when non-zero, whatever the rest of the match (a name no
    document mentions); such a question's support is `veto_support`, the share of those questions the
    fit saw whose answer would still have been right."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5
    confident: float = 0.7
    vetoes: tuple[str, ...] = ()
    veto_support: float = 0.0
    folds: dict[str, SupportModel] = field(default_factory=dict)  # per held-out article, for eval
    about: dict[str, object] = field(default_factory=dict)  # how and on what it was fitted

    def logit(self, values: dict[str, float]) -> float:
        x = np.array([values[name] for name in self.features], dtype=np.float64)
        z = (x - np.array(self.mean)) / np.array(self.scale)
        return float(z @ np.array(self.weights) + self.bias)

    def vetoed(self, values: dict[str, float]) -> bool:
        return any(values[name] for name in self.vetoes)

    def probability(self, values: dict[str, float]) -> float:
        if self.vetoed(values):
            return self.veto_support
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, self.logit(values)))))

    def contributions(self, values: dict[str, float]) -> dict[str, float]:
        """How much each feature moved the logit away from an average question (negative: toward a
        decline); used to say why a question was declined."""
        return {
            name: w * (values[name] - m) / s
            for name, m, s, w in zip(self.features, self.mean, self.scale, self.weights, strict=True)
        }

    def fold(self, name: str) -> SupportModel:
        """The model fitted without article `name` (to measure on it), or this one."""
        return self.folds.get(name, self)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["folds"] = {k: {**v.to_json(), "folds": {}, "about": {}} for k, v in self.folds.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SupportModel:  # parsed JSON from a model file
        """The model a `to_json` wrote; KeyError, TypeError or ValueError when it is not one."""
        model = cls(
            **regression_fields(data),
            threshold=float(data.get("threshold", 0.5)),
            confident=float(data.get("confident", 0.7)),
            vetoes=tuple(str(v) for v in data.get("vetoes") or ()),
            veto_support=float(data.get("veto_support", 0.0)),
            folds={str(k): cls.from_json(v) for k, v in dict(data.get("folds") or {}).items()},
            about=dict(data.get("about") or {}),
        )
        if not len(model.features) == len(model.mean) == len(model.scale) == len(model.weights):
            raise ValueError("features, mean, scale and weights differ in length")
        if not set(model.vetoes) <= set(model.features):
            raise ValueError("a veto is not one of the features")
        return model


def regression_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The fitted logistic regression of a parsed model file: features, mean, scale, weights and
    bias. KeyError, TypeError or ValueError when it has none."""
    return {
        "features": tuple(str(f) for f in data["features"]),
        "mean": tuple(float(v) for v in data["mean"]),
        "scale": tuple(float(v) for v in data["scale"]),
        "weights": tuple(float(v) for v in data["weights"]),
        "bias": float(data["bias"]),
    }


def load_model(path: str | Path | None = None) -> SupportModel:
    """The fitted model at `path`, or the packaged one. A file fitted on other features is refused."""
    from .errors import QAError

    target = Path(path) if path else PACKAGED_MODEL
    try:
        model = SupportModel.from_json(json.loads(target.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QAError(
            f"cannot read the support model {target} ({exc}); refit it with `python -m bench.calibrate`"
        ) from exc
    if tuple(model.features) != FEATURES:
        raise QAError(
            f"the support model {target} was fitted on other features; refit it with "
            "`python -m bench.calibrate`"
        )
    return model


def fit_logistic(
    x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, l2: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Weighted, L2-regularised logistic regression by Newton's method on standardised features.

    Returns (mean, scale, weights, bias). Small and exact: no solver dependency for a dozen columns."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    sw = np.ones(len(x)) if sample_weight is None else sample_weight
    sw = sw / sw.mean()
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -50, 50)))
        gradient = z.T @ (sw * (p - y)) + penalty * beta
        hessian = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, beta[:-1], float(beta[-1])
