"""What the saved keyword index costs: building it, saving it, opening it, and keeping it current.

    .venv/bin/python -m bench.keyword_index [--sizes 10000 100000] [--repeat 3] [--out FILE]

Prints one JSON object on stdout; logs go to stderr.

The chunks are synthetic: ~80 words each (70-90), drawn from a Zipf-distributed vocabulary of
50,000 made-up words mixed with capitalised names, 12 chunks per document. Only `qa.keyword_index`
is measured, on its own (no Chroma, no embeddings), with the real tokenizer:

- `build_seconds`: `KeywordIndex(chunks)` from the texts (tokenising every text, then scoring): what
  a full build pays once, and a reader pays once when a version's index is missing.
- `save_seconds`, `bytes`: `save()` to a folder (atomic rename included) and its size on disk.
- `open_seconds`: `KeywordIndex.load()` (memory-mapped) plus the first query; the files are in the
  page cache, as they are for a reader on the machine that wrote them.
- `query_ms_p50`: `scores()` for a 4-term query, median over 20 queries.
- `add_one_document_seconds`: what an incremental build adds to the index for one new document of
  12 chunks: `patch()` and `save()`, as a build does it (`add_one_layered`: layered over the saved
  base, from `KeywordIndex.LAYER_MIN_ROWS` rows on); `patch_seconds` is the patch alone.
  `merge_one_document_seconds` is the same change when it merges the layers into one segment
  (re-scoring every row from the stored term ids, no text read): the worst case, once per
  `LAYER_SHARE` of the rows changed. It grows linearly with the number of chunks.
- `layer_drift`: how a layered index's top 10 agree with a merged one's when the layers are as large
  as they may get (documents replaced until the dead and delta rows are `LAYER_SHARE` of the base).

`--term-sizes` measures only opening and adding one document at larger sizes, from an index built
from synthetic term ids (the same Zipf draw, 70-90 terms a chunk, as ids: tokenising a million texts
would take longer than everything else here); `from_term_ids` marks those results.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import emit, median, quiet_logging, start_run
from qa.keyword_index import KeywordIndex
from qa.models import Chunk

SIZES = (10_000, 100_000)
TERM_SIZES = (1_000_000,)
CHUNKS_PER_DOCUMENT = 12
VOCABULARY = 50_000
SYLLABLES = "ka ri to me na su lo vi de pa zu ne ro ti ma se".split()


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """Made-up words and their cumulative Zipf weights."""
    made_up = {
        "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(VOCABULARY * 2)
    }
    words = sorted(made_up)[:VOCABULARY]
    rng.shuffle(words)
    words[::50] = [w.capitalize() for w in words[::50]]  # some names, for the acronyms
    weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))
    return words, weights


def synthetic_chunks(n: int, seed: int = 0, prefix: str = "doc") -> list[Chunk]:
    rng = random.Random(seed)
    words, weights = _vocabulary(random.Random(0))
    chunks = []
    for i in range(n):
        text = " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(70, 90))) + "."
        document, part = divmod(i, CHUNKS_PER_DOCUMENT)
        start = part * 600
        chunks.append(
            Chunk(f"{prefix}-{i:09d}", f"{prefix}-{document:07d}.txt", start, start + len(text), text)
        )
    return chunks


def measure(n: int, repeat: int, folder: Path) -> dict[str, Any]:
    chunks = synthetic_chunks(n)
    queries = [" ".join(c.text.split()[:4]) for c in chunks[:: max(1, n // 20)][:20]]
    builds, saves, opens = [], [], []
    size = 0
    for attempt in range(repeat):
        began = time.perf_counter()
        index = KeywordIndex(chunks)
        builds.append(time.perf_counter() - began)
        target = folder / f"v{attempt}"
        began = time.perf_counter()
        index.save(target, "bench")
        saves.append(time.perf_counter() - began)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        began = time.perf_counter()
        opened = KeywordIndex.load(target, "bench")
        opened.scores(queries[0])
        opens.append(time.perf_counter() - began)
    opened = KeywordIndex.load(folder / "v0", "bench")
    timings = []
    for q in queries:
        began = time.perf_counter()
        opened.scores(q)
        timings.append((time.perf_counter() - began) * 1000)
    return {
        "chunks": n,
        "build_seconds": median(builds),
        "save_seconds": median(saves),
        "bytes": size,
        "bytes_per_chunk": round(size / n, 1),
        "open_seconds": median(opens),
        "query_ms_p50": round(statistics.median(timings), 2),
        **changes(folder / "v0", repeat),
        "layer_drift": drift(folder / "v0", chunks, queries),
    }


def measure_from_term_ids(n: int, repeat: int, folder: Path) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    lengths = rng.integers(70, 91, n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    weights = 1.0 / np.arange(1, VOCABULARY + 1)
    tokens = rng.choice(VOCABULARY, size=int(offsets[-1]), p=weights / weights.sum()).astype(np.int32)
    vocab = {f"w{i}": i for i in range(VOCABULARY)}
    rows = [
        Chunk(f"doc-{i:09d}", f"doc-{i // CHUNKS_PER_DOCUMENT:07d}.txt", i % CHUNKS_PER_DOCUMENT * 600, 0, "")
        for i in range(n)
    ]
    began = time.perf_counter()
    KeywordIndex.from_term_ids(rows, vocab, tokens, offsets).save(folder / "v0", "bench")
    built = time.perf_counter() - began
    size = sum(p.stat().st_size for p in (folder / "v0").rglob("*") if p.is_file())
    opens = []
    for _ in range(repeat):
        began = time.perf_counter()
        opened = KeywordIndex.load(folder / "v0", "bench")
        opened.scores("w1 w20 w300 w4000")
        opens.append(time.perf_counter() - began)
    return {
        "chunks": n,
        "from_term_ids": True,
        "score_and_save_seconds": round(built, 3),
        "bytes": size,
        "bytes_per_chunk": round(size / n, 1),
        "open_seconds": median(opens),
        **changes(folder / "v0", repeat),
    }


def changes(saved: Path, repeat: int) -> dict[str, Any]:
    """Adding one document of 12 chunks to the saved index: as a build does it (layered over the saved
    base from `KeywordIndex.LAYER_MIN_ROWS` rows on), and as the change that merges the layers does it
    (the worst case, once per `LAYER_SHARE` of changed rows): patch, then save, seconds (medians)."""
    timings: dict[str, list[float]] = {"patch": [], "add": [], "merge_patch": [], "merge": []}
    layered = False
    for attempt in range(repeat):
        new = synthetic_chunks(CHUNKS_PER_DOCUMENT, seed=1000 + attempt, prefix="new")
        for kind in ("", "merge_"):
            opened = KeywordIndex.load(saved, "bench")
            if kind:
                opened.LAYER_SHARE = 0.0  # this change merges
            began = time.perf_counter()
            patched = opened.patch((), new)
            timings[kind + "patch"].append(time.perf_counter() - began)
            layered = layered or patched.layered
            patched.save(saved.parent / "p", "bench")
            timings["merge" if kind else "add"].append(time.perf_counter() - began)
            shutil.rmtree(saved.parent / "p")
    return {
        "add_one_layered": layered,
        "patch_seconds": median(timings["patch"]),
        "add_one_document_seconds": median(timings["add"]),
        "merge_patch_seconds": median(timings["merge_patch"]),
        "merge_one_document_seconds": median(timings["merge"]),
    }


def drift(saved: Path, chunks: list[Chunk], queries: list[str]) -> dict[str, Any] | None:
    """How far a layered index's rankings are from a merged one's at the most it is allowed to drift:
    documents replaced until the dead and delta rows reach `LAYER_SHARE` of the base. Mean share of
    the top 10 (by chunk id) that agree, over the queries. None when the index is too small to layer."""
    opened = KeywordIndex.load(saved, "bench")
    if opened.base.size < KeywordIndex.LAYER_MIN_ROWS:
        return None
    documents = sorted({c.source for c in chunks})
    replaced = documents[: int(len(documents) * KeywordIndex.LAYER_SHARE / 2)]
    gone = set(replaced)
    fresh = [Chunk(f"{c.id}-v2", c.source, c.start, c.end, c.text) for c in chunks if c.source in gone]
    layered = opened.patch(gone, fresh)
    merged = KeywordIndex([c for c in chunks if c.source not in gone] + fresh)
    overlaps = []
    for query in queries:
        tops = []
        for index in (layered, merged):
            scores = index.scores(query)
            top = np.argsort(-scores, kind="stable")[:10]
            tops.append({index.chunk_id(int(i)) for i in top if scores[i] > 0})
        overlaps.append(len(tops[0] & tops[1]) / max(len(tops[1]), 1))
    return {
        "layered": layered.layered,
        "rows_changed_share": round((layered.rows - opened.base.size + len(fresh)) / opened.base.size, 4),
        "top10_agreement_mean": round(statistics.mean(overlaps), 4),
        "top10_agreement_min": round(min(overlaps), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--term-sizes", type=int, nargs="*", default=list(TERM_SIZES))
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()
    results = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(measure(n, args.repeat, Path(tmp)))
    for n in args.term_sizes:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(measure_from_term_ids(n, args.repeat, Path(tmp)))
    emit({"repeat": args.repeat, "chunk_words": "70-90", "sizes": results}, begun, args.out)


if __name__ == "__main__":
    main()
