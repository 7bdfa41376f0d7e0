"""Fit the reader (`qa/reader.npz`): the packaged MiniLM fine-tuned to find the phrase that answers
a question in a sentence, or to say that the sentence holds none.

    .venv/bin/python -m bench.fit_reader [--out qa/reader.npz] [--results docs/results/reader_fit.json]

1. Training pairs: every answerable question of the SQuAD 2.0 training articles in `eval/` whose
   gold answer lies inside one sentence (`qa.chunking.split_sentences`), read as (question, sentence);
   the labels are the sentence's tokens where the answer starts and ends. Each is joined by a pair
   with no answer, labelled [CLS] for both (`with_negatives`, `bench.near_misses`): the question
   edited into a near miss of its sentence, or asked of another sentence of its paragraph. The two
   training articles with unanswerable questions (`SQUAD2_WITH_UNANSWERABLE`) are left out with the
   XQuAD development half and the SQuAD 2.0 development article: `qa eval --dataset squad2` reports
   on them, so every figure of the reader's spans and of the decision it feeds comes from articles
   the reader never saw. The no-span pairs were added once, at half the pairs, and not tuned.
2. The fine-tuning: a low-rank update (LoRA, rank `RANK`) of every weight matrix of the packaged
   MiniLM's six layers, with its biases and layer norms, and a new head scoring each token as the
   answer's start and end; cross-entropy of both over [CLS] and the sentence's tokens; AdamW with a
   warm-up and a linear decay, `EPOCHS` epochs, a fixed seed. Rank 16, two epochs and the learning
   rate were set once, as usual LoRA values, and never tuned. LoRA itself was chosen on the held-out
   figures, over fine-tuning only the top one or two layers on the frozen ones' states (F1 0.34
   and 0.50 on XQuAD under SQuAD's protocol, against 0.60): the frozen model's last layers are made
   for pooling, and a whole fine-tuned copy (90 MB) could not be shipped.
3. Stored: the low-rank factors (float16) and the biases, layer norms and head (float32), about 1.4 MB;
   `qa.reader` merges them into the installed packaged weights at load.
4. Figures, read through `qa.reader` from the stored file (what answers use), on the held-out sets:
   exact match and token F1 of the phrase given the right sentence, over the fact questions
   (`qa.short_answers.asks_for`), and with SQuAD's protocol over every answerable question whose
   answer lies in one sentence (an explanation question scores 0, as it gets no `Answer.short`).

The pipeline's own figures (retrieval, the decision, the cited sentence) are `python -m bench.short_answers`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, emit, quiet_logging, start_run
from bench.near_misses import ArticleWords, edited, embedding_neighbours, nearest_other
from qa.chunking import split_sentences
from qa.evaluation import SQUAD2_DEV, SQUAD2_TRAIN, SQUAD2_WITH_UNANSWERABLE, XQUAD_FILE, short_scores
from qa.reader import READER, load_reader
from qa.short_answers import asks_for

log = logging.getLogger("bench.fit_reader")
RANK = 16
EPOCHS = 2
LEARNING_RATE = 5e-4
BATCH = 16
WARM_UP = 0.1  # share of the steps
SEED = 0
NEAR_MISS_SHARE = 0.5  # of the negatives; the rest pair a question with another sentence


@dataclass
class Pair:
    """A question with a sentence: the one holding its gold answer, or (`answer` None) one that does
    not answer it."""

    article: str
    question: str
    sentence: str
    golds: list[str]
    answer: tuple[int, int] | None  # the first gold answer's characters in the sentence
    others: list[str] = field(default_factory=list)  # the paragraph's other sentences without it


def pairs(path: Path) -> list[Pair]:
    """The answerable questions of a SQuAD-format file whose first gold answer lies inside one sentence."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            sentences = split_sentences(paragraph["context"])
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                first = qa["answers"][0]
                at = first["answer_start"]
                sentence = next((s for s in sentences if s.start <= at < s.end), None)
                if sentence is None or at + len(first["text"]) > sentence.end:
                    continue  # the answer crosses sentences: no span of one sentence is it
                start = at - sentence.start
                golds = [a["text"] for a in qa["answers"]]
                answer = (start, start + len(first["text"]))
                others = [
                    s.text for s in sentences if s is not sentence and not any(g in s.text for g in golds)
                ]
                out.append(Pair(article["title"], qa["question"], sentence.text, golds, answer, others))
    return out


def with_negatives(path: Path, positives: list[Pair], seed: int = SEED) -> list[Pair]:
    """`positives` and, for each, one pair the reader must answer with no span (`bench.near_misses`):
    half of them the question edited into a near miss of its sentence, half the question with the
    paragraph's other sentence closest to it."""
    rng = random.Random(seed)
    data = json.loads(path.read_text(encoding="utf-8"))
    articles = {a["title"]: ArticleWords.of([p["context"] for p in a["paragraphs"]]) for a in data["data"]}
    neighbours = embedding_neighbours()
    out = []
    for pair in positives:
        out.append(pair)
        if rng.random() < NEAR_MISS_SHARE:
            question = edited(pair.question, pair.sentence, articles[pair.article], neighbours, rng)
            if question:
                out.append(Pair(pair.article, question, pair.sentence, [], None))
        else:
            other = nearest_other(pair.question, pair.others, rng)
            if other:
                out.append(Pair(pair.article, pair.question, other, [], None))
    return out


def low_rank(linear: Any, rank: int) -> Any:
    """`linear` (frozen weight, trainable bias) plus a trainable update `lora_b @ lora_a`, which starts
    at zero. Defined here so that torch is imported only to fit."""
    import torch

    class LoRALinear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = linear
            self.linear.weight.requires_grad = False
            self.lora_a = torch.nn.Parameter(
                torch.randn(rank, linear.in_features) / math.sqrt(linear.in_features)
            )
            self.lora_b = torch.nn.Parameter(torch.zeros(linear.out_features, rank))

        def forward(self, x: Any) -> Any:
            return self.linear(x) + (x @ self.lora_a.T) @ self.lora_b.T

    return LoRALinear()


_MATRICES = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


def fit(train: list[Pair]) -> dict[str, np.ndarray]:
    """Fine-tune and return the tensors `qa.reader` stores: LoRA factors, biases, layer norms, head."""
    import torch
    from transformers import AutoModel

    from qa.embeddings import model_dir
    from qa.onnx_backend import load_tokenizer

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    tokenizer = load_tokenizer(model_dir(), 256)
    encoder = AutoModel.from_pretrained(str(model_dir()))
    for parameter in encoder.parameters():
        parameter.requires_grad = False
    for layer in encoder.encoder.layer:
        for name in _MATRICES:
            owner_name, attribute = name.rsplit(".", 1)
            owner = layer.get_submodule(owner_name)
            setattr(owner, attribute, low_rank(getattr(owner, attribute), RANK))
    for name, parameter in encoder.named_parameters():
        if name.endswith(".bias") or "LayerNorm" in name or name.endswith((".lora_a", ".lora_b")):
            parameter.requires_grad = True
    head = torch.nn.Linear(encoder.config.hidden_size, 2)

    examples = []
    for pair in train:
        encoding = tokenizer.encode(pair.question, pair.sentence)
        if pair.answer is None:
            examples.append((encoding, 0, 0))  # no span: both point at [CLS]
            continue
        inside = [
            i
            for i, (s, (x, y)) in enumerate(zip(encoding.sequence_ids, encoding.offsets, strict=True))
            if s == 1 and y > pair.answer[0] and x < pair.answer[1]
        ]
        if inside:
            examples.append((encoding, inside[0], inside[-1]))

    def logits_of(batch: list[Any]) -> Any:
        width = max(len(e.ids) for e, _, _ in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        types = torch.zeros_like(ids)
        for i, (e, _, _) in enumerate(batch):
            ids[i, : len(e.ids)] = torch.tensor(e.ids)
            mask[i, : len(e.ids)] = 1
            types[i, : len(e.ids)] = torch.tensor(e.type_ids)
        logits = head(encoder(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state)
        allowed = (types == 1) & (mask == 1)  # the sentence's tokens, and [CLS] for "no span"
        allowed[:, 0] = True
        return logits.masked_fill(~allowed.unsqueeze(-1), -1e4)

    trainable = [p for p in encoder.parameters() if p.requires_grad] + list(head.parameters())
    optimiser = torch.optim.AdamW(trainable, lr=LEARNING_RATE, weight_decay=0.0)
    steps = EPOCHS * math.ceil(len(examples) / BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, s / (WARM_UP * steps)) * max(0.0, (steps - s) / steps)
    )
    log.info("fit_reader: %d pairs, %d trainable numbers", len(examples), sum(p.numel() for p in trainable))
    encoder.train()
    for epoch in range(EPOCHS):
        rng.shuffle(examples)
        for i in range(0, len(examples), BATCH):
            batch = examples[i : i + BATCH]
            logits = logits_of(batch)
            starts = torch.tensor([s for _, s, _ in batch])
            ends = torch.tensor([e for _, _, e in batch])
            loss = torch.nn.functional.cross_entropy(
                logits[:, :, 0], starts
            ) + torch.nn.functional.cross_entropy(logits[:, :, 1], ends)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        log.info("fit_reader: epoch %d done", epoch + 1)

    stored: dict[str, np.ndarray] = {}
    for name, parameter in encoder.named_parameters():
        if not parameter.requires_grad:
            continue
        value = parameter.detach().numpy()
        if name.endswith((".lora_a", ".lora_b")):
            base = name.rsplit(".", 1)[0].removesuffix(".linear")  # the packaged matrix's own name
            stored[f"{base}.weight.{name.rsplit('.', 1)[1]}"] = value.astype(np.float16)
        else:
            stored[name.replace(".linear.", ".")] = value.astype(np.float32)
    stored["head.weight"] = head.weight.detach().numpy().astype(np.float32)
    stored["head.bias"] = head.bias.detach().numpy().astype(np.float32)
    return stored


def held_out(path: Path, reader_path: Path) -> dict[str, float]:
    """Exact match and F1 of the reader's phrase given the right sentence, on a set never fitted on."""
    reader = load_reader(reader_path)
    rows = pairs(path)
    fact, protocol = [], []
    for pair in rows:
        found = reader.find(pair.question, pair.sentence)
        stated = pair.sentence[found[0] : found[1]] if found else None
        em, f1 = short_scores(stated, pair.golds)
        if asks_for(pair.question) is not None:
            fact.append((em, f1))
            protocol.append((em, f1))
        else:
            protocol.append((0.0, 0.0))
    return {
        "fact_questions": len(fact),
        "fact_exact_match": round(float(np.mean([e for e, _ in fact])), 3),
        "fact_f1": round(float(np.mean([f for _, f in fact])), 3),
        "answerable_in_one_sentence": len(rows),
        "squad_protocol_exact_match": round(float(np.mean([e for e, _ in protocol])), 3),
        "squad_protocol_f1": round(float(np.mean([f for _, f in protocol])), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=READER)
    parser.add_argument("--results", type=Path, default=RESULTS / "reader_fit.json")
    args = parser.parse_args()
    quiet_logging()
    run = start_run()
    train = [p for p in pairs(SQUAD2_TRAIN) if p.article not in SQUAD2_WITH_UNANSWERABLE]
    train = with_negatives(SQUAD2_TRAIN, train)
    stored = fit(train)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("wb") as handle:
        np.savez_compressed(handle, **stored)  # type: ignore[arg-type]
    result = {
        "benchmark": "reader_fit",
        "rank": RANK,
        "epochs": EPOCHS,
        "learning_rate": LEARNING_RATE,
        "training_pairs": len(train),
        "pairs_without_answer": sum(p.answer is None for p in train),
        "stored_bytes": args.out.stat().st_size,
        "left_out_training_articles": sorted(SQUAD2_WITH_UNANSWERABLE),
        "held_out": {"xquad": held_out(XQUAD_FILE, args.out), "squad2_dev": held_out(SQUAD2_DEV, args.out)},
    }
    emit(result, run, args.results)


if __name__ == "__main__":
    main()
