"""Question + sentence -> the phrase of the sentence that answers it, and whether there is one: the
packaged MiniLM fine-tuned as an extractive reader.

The packaged MiniLM was trained to embed sentences, not to read them. Fine-tuned as a SQuAD 2.0-style
reader (a score for each token of the sentence being where the answer starts, one for where it ends,
and a "no span" score on [CLS], all read with the question in the same input) on eight SQuAD 2.0
training articles in `eval/`, with as many pairs it must answer with no span (near-miss edits of
their questions, and their questions asked of another sentence: `bench.near_misses`), it does two jobs:

- it finds the answering phrase of the right sentence: token F1 0.625 on XQuAD and 0.568 on the
  SQuAD 2.0 development article under SQuAD's protocol, articles it never saw
  (`docs/results/reader_fit.json`; 0.554 and 0.456 for the span model over spaCy's phrases it
  replaced, `span_fit.json` at commit d2ec575);
- its best span's score over "no span" (`margin`) is a feature of the decision to answer
  (`qa.support`): a question asking for a number of a sentence that holds none scores far below 0.

A second 90 MB model is not shipped for that: the fine-tuning changes each weight matrix of the
packaged model by a low-rank update (LoRA), and only those updates, the biases, the layer norms and the
two-score head are stored (`reader.npz`, about 1.4 MB). The packaged weights are read from the
installed model's safetensors, merged with the updates once, and the reader runs in numpy: no torch
at answer time. `python -m bench.fit_reader` refits it.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import QAError

log = logging.getLogger(__name__)

READER = Path(__file__).with_name("reader.npz")
LONGEST = 15  # wordpieces (about 12 words): a longer span is a clause, not a fact
RECENT = 64  # (question, sentence) readings kept
_HEADS = 12
_EPS = 1e-12


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function (Abramowitz and Stegun 7.1.26, error < 1.5e-7): numpy has none, and BERT's
    GELU is the exact one the reader was fine-tuned with."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * weight + bias


def merge(packaged: dict[str, np.ndarray], tuned: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The fine-tuned weights, ready to multiply: each layer's matrix plus its low-rank update
    (`NAME.lora_b @ NAME.lora_a`), transposed once here to (in, out) (a product with a transposed view
    takes twice as long), and every bias, layer norm and head tensor the file stores in place of the
    packaged one. Other packaged float32 tensors are used as they are, not copied."""
    weights = {name: np.asarray(value, dtype=np.float32) for name, value in packaged.items()}
    weights |= {
        name: np.asarray(value, dtype=np.float32)
        for name, value in tuned.items()
        if not name.endswith((".lora_a", ".lora_b"))
    }
    for name, value in weights.items():
        if name.startswith("encoder.") and value.ndim == 2:
            matrix = np.ascontiguousarray(value.T)
            if name + ".lora_a" in tuned:
                a = tuned[name + ".lora_a"].astype(np.float32)
                b = tuned[name + ".lora_b"].astype(np.float32)
                matrix += a.T @ b.T
            weights[name] = matrix
    return weights


@dataclass(frozen=True)
class Reader:
    """The fine-tuned MiniLM (`merge`d weights) and its tokenizer: `read` reads a (question,
    sentence) pair, `find` picks the answering span, `margin` says how sure it is there is one."""

    weights: dict[str, np.ndarray]  # each layer's matrices transposed, (in, out), as they multiply
    tokenizer: Any
    recent: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, float]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def _encoder(self, ids: np.ndarray, types: np.ndarray) -> np.ndarray:
        w = self.weights
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(len(ids))]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        layer = 0
        while f"encoder.layer.{layer}.attention.self.query.weight" in w:
            p = f"encoder.layer.{layer}."

            def linear(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return v @ w[p + name + ".weight"] + w[p + name + ".bias"]

            tokens, width = x.shape
            size = width // _HEADS

            def heads(v: np.ndarray, size: int = size, tokens: int = tokens) -> np.ndarray:
                return v.reshape(tokens, _HEADS, size).transpose(1, 0, 2)

            q = heads(linear(x, "attention.self.query"))
            k = heads(linear(x, "attention.self.key"))
            v = heads(linear(x, "attention.self.value"))
            att = q @ k.transpose(0, 2, 1) / math.sqrt(size)
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            context = (att @ v).transpose(1, 0, 2).reshape(tokens, width)
            x = _layer_norm(
                x + linear(context, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = _gelu(linear(x, "intermediate.dense"))
            x = _layer_norm(
                x + linear(inner, "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
            layer += 1
        return x

    def read(self, question: str, sentence: str) -> tuple[np.ndarray, np.ndarray, float]:
        """(tokens, 2) start and end scores of the sentence's tokens, read after the question, with
        each token's (start, end) characters in the sentence, and the score of "no span" ([CLS] as
        start and end). The last few pairs are kept: the decision and the short answer read the same
        sentence. Threads share them: one may clear them between another's check and read, so a
        reading is fetched in one step."""
        key = (question, sentence)
        kept = self.recent.get(key)
        if kept is not None:
            return kept
        encoding = self.tokenizer.encode(question, sentence)
        hidden = self._encoder(np.array(encoding.ids), np.array(encoding.type_ids))
        logits = hidden @ self.weights["head.weight"].T + self.weights["head.bias"]
        keep = [i for i, s in enumerate(encoding.sequence_ids) if s == 1]
        offsets = np.array([encoding.offsets[i] for i in keep], dtype=np.int64).reshape(-1, 2)
        found = (logits[keep], offsets, float(logits[0, 0] + logits[0, 1]))
        if len(self.recent) >= RECENT:
            self.recent.clear()
        self.recent[key] = found
        return found

    def scores(self, question: str, sentence: str) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, 2) start and end scores of the sentence's tokens, with their characters."""
        logits, offsets, _ = self.read(question, sentence)
        return logits, offsets

    def margin(self, question: str, sentence: str) -> float:
        """How far the best span's score (start plus end) is above "no span": above 0, the reader
        thinks `sentence` answers `question`. A feature of the decision (`qa.support`)."""
        logits, offsets, no_span = self.read(question, sentence)
        if not len(offsets):
            return -no_span
        raw = logits[:, 0][:, None] + logits[:, 1][None, :]
        return float(np.where(_allowed(len(offsets)), raw, -np.inf).max() - no_span)

    def find(self, question: str, sentence: str) -> tuple[int, int, float] | None:
        """The (start, end) characters of the span of `sentence` the reader rates most likely to answer
        `question` (at most `LONGEST` wordpieces; `tidy_span`), with that probability."""
        logits, offsets = self.scores(question, sentence)
        if not len(offsets):
            return None
        start = _log_softmax(logits[:, 0])
        end = _log_softmax(logits[:, 1])
        pairs = np.where(_allowed(len(offsets)), start[:, None] + end[None, :], -np.inf)
        a, b = np.unravel_index(int(np.argmax(pairs)), pairs.shape)
        first, last = tidy_span(sentence, int(offsets[a][0]), int(offsets[b][1]))
        return first, last, float(np.exp(pairs[a, b]))


def _allowed(n: int) -> np.ndarray:
    """(n, n): which (start, end) token pairs make a span: in order, at most `LONGEST` long."""
    return np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), LONGEST)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


def tidy_span(text: str, start: int, end: int) -> tuple[int, int]:
    """start:end widened so that it neither starts nor ends inside a word (a wordpiece span can), less
    what belongs to the sentence rather than the fact: commas, colons and semicolons at its ends, and
    the sentence's closing full stop (not an abbreviation's, as in "U.S.")."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    while end > start + 1 and text[end - 1] in ",;:":
        end -= 1
    while start < end - 1 and text[start] in ",;:":
        start += 1
    last_word = text[start : end - 1].rsplit(maxsplit=1)[-1] if end - 1 > start else ""
    closes = not text[end:].strip(" \"'”’)")
    if text[end - 1 : end] == "." and closes and len(last_word) > 1 and "." not in last_word:
        end -= 1
    return start, end


def load_reader(path: Path = READER) -> Reader:
    """The packaged MiniLM merged with the fine-tuning in `path`; a missing or damaged file is refused
    with the command that refits it."""
    from safetensors.numpy import load_file

    from .embeddings import model_dir
    from .onnx_backend import load_tokenizer

    try:
        with np.load(path) as stored:
            tuned = {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as exc:
        raise QAError(
            f"cannot read the reader {path} ({exc}); refit it with `python -m bench.fit_reader`"
        ) from exc
    packaged = load_file(str(model_dir() / "model.safetensors"))
    unknown = [n for n in tuned if n.removesuffix(".lora_a").removesuffix(".lora_b") not in packaged]
    if set(unknown) != {"head.weight", "head.bias"}:
        raise QAError(
            f"the reader {path} does not fit the packaged MiniLM ({len(unknown)} unknown tensors); "
            "refit it with `python -m bench.fit_reader`"
        )
    log.debug("reader: %d fine-tuned tensors merged into the packaged MiniLM", len(tuned))
    return Reader(merge(packaged, tuned), load_tokenizer(model_dir(), 256))


@functools.cache
def reader() -> Reader:
    """The packaged reader, loaded once per process."""
    return load_reader()
