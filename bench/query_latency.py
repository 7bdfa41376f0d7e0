"""Search latency of `Assistant.search(q, k=5)` at 1k, 10k and 100k chunks, with its parts.

    python -m bench.query_latency [--sizes 1000,10000,100000] [--queries 200] [--repeat 3]
                                  [--pool 3000] [--out FILE]

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr. Targets (not asserted
here): p50 under 30 ms at 10k chunks and under 60 ms at 100k.

The corpus at each size is the 240 XQuAD paragraphs (403 chunks) plus generated filler documents
(English-like prose from a small vocabulary, about 7 chunks each, every one with its own number
and place name). Embedding 100k chunks with MiniLM would take far too long on 2 cores, so:

- a pool of the first filler documents, at least `--pool` chunks, is embedded for real, with the
  embedding backend the searching Assistant uses (and so are the XQuAD chunks);
- every later filler document is a variant of a pool document: words swapped for others of the
  same length and class (nouns for nouns, adjectives for adjectives, about a third of them), every
  number redrawn. Same lengths and punctuation mean the chunker cuts it exactly where it cut the
  original, so chunk k of the variant is a real, distinct text whose vector is chunk k's vector of
  the original plus Gaussian noise, re-normalised. The noise is calibrated so that the cosine
  between original and variant matches what the real model gives for such variants (measured on
  100 variant chunks embedded for real);
- the index is built by the real `IndexStore.build(full=True)` path (loading, chunking, Chroma
  upserts, manifest) with an embedder that looks each chunk text up in that table of vectors and
  embeds any text it lacks for real (counted in the output; 0 expected).

At each size: the index open time (a fresh `IndexStore.open()`: fresh Chroma client, manifest, every
chunk read back, BM25 built; median of `--repeat`), then `--repeat` passes over `--queries` XQuAD
questions (every third question), each pass timing per query: the full `Assistant.search`; the
snapshot check it makes on every call (the live generation's name, then `store.open()`, which reads
the manifest version; the whole manifest, timed apart as `manifest_read`, is parsed only when the
version changes); the dense-only part (query
embedding + Chroma k-NN, 30 deep, as `hybrid_search` reads it) and the k-NN alone; the BM25-only
part (scores over every chunk + top 30); fetching the stored vectors of the keyword-only candidates
(BM25's top 30 missing from the dense top 30), which `hybrid_search` scores by cosine. The id ->
position map over every chunk, which opening the index builds once (`Snapshot.positions`), is timed
on its own (`position_map_ms`); what is left of the search p50 after the per-call parts (fusion,
question checks, Python overhead) is `unattributed_p50_ms`, which can come out negative on a busy
machine because each part is timed in its own pass. Percentiles are taken per pass and the median over passes
reported; Python's garbage collections during the search passes are counted and timed per
generation. hit@5 (the gold paragraph among the 5 results) is a sanity check that the filler does
not crowd out real answers.
"""

from __future__ import annotations

import argparse
import gc
import logging
import random
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from bench.common import MAX_BYTES, emit, quiet_logging, start_run
from qa.answerers import QUOTING

log = logging.getLogger("bench.query_latency")

TARGETS_MS = {10_000: 30.0, 100_000: 60.0}
DEPTH = 30  # qa.retrieval.CANDIDATES: how deep each ranking is read
SWAP_PROBABILITY = 0.35
CALIBRATION_CHUNKS = 100

# ---- filler text ------------------------------------------------------------------------------

NOUNS = (
    "harbour", "council", "museum", "bridge", "school", "library", "orchard", "railway", "station",
    "market", "chapel", "garden", "tower", "clinic", "bakery", "quarry", "meadow", "valley", "river",
    "canal", "ferry", "mill", "forge", "barn", "cottage", "archive", "ledger", "letter", "map", "bell",
    "clock", "lamp", "boat", "winch", "kettle", "vane", "statue", "mural", "window", "organ", "piano",
    "engine", "wagon", "signal", "beacon", "harvest", "festival", "storm", "flood", "winter", "summer",
    "survey", "census", "budget", "report", "meeting", "lecture", "concert", "auction", "exhibit",
    "fountain", "cellar", "attic", "stable", "granary", "furnace", "lantern", "compass", "anchor",
    "saddle", "trowel", "ladder", "hammer", "basket", "blanket", "carpet", "curtain", "mirror",
)  # fmt: skip
ADJECTIVES = (
    "old", "new", "small", "large", "narrow", "broad", "quiet", "busy", "damp", "dusty", "bright",
    "faded", "careful", "patient", "local", "distant", "northern", "southern", "wooden", "stone",
    "copper", "brass", "painted", "cracked", "restored", "forgotten", "famous", "modest", "early",
    "late", "heavy", "light", "rusty", "polished", "ancient", "recent", "curious", "sturdy", "fragile",
)  # fmt: skip
SUBJECTS = (
    "The harbour master", "A retired engineer", "The village council", "Our neighbour", "The curator",
    "A young botanist", "The ferry captain", "The school librarian", "A travelling cartographer",
    "The night baker", "The orchard cooperative", "A visiting geologist", "The railway historian",
    "The choir director", "A local beekeeper", "The lighthouse keeper", "The parish clerk",
)  # fmt: skip
VERBS = (
    "repaired", "catalogued", "photographed", "measured", "restored", "painted", "surveyed", "donated",
    "rediscovered", "insured", "moved", "described", "sketched", "inspected", "weighed", "auctioned",
    "cleaned", "borrowed", "returned", "studied", "mapped", "dated", "labelled", "rebuilt",
)  # fmt: skip
WHY = (
    "because visitors kept asking about it", "to settle an argument about its age",
    "so that the school could borrow it", "after a storm damaged the roof above it",
    "for an exhibition about local trades", "because nobody remembered who owned it",
    "to raise money for the new clinic", "as a gift to the town archive",
    "before the insurance ran out", "while the road was closed for repairs",
)  # fmt: skip
MONTHS = ("January", "February", "March", "April", "June", "July", "August", "October", "November")
TEMPLATES = (
    "{Subject} of {place} {verb} the {adj} {noun} in {year}.",
    "It was {verb} {why}.",
    "According to the {noun} {noun2}, the {adj} {noun3} had been {adj2} since {year}.",
    "About {num} {noun}s were {verb} near the {noun2} that {month}.",
    "The {adj} {noun} stood beside the {noun2} while the {noun3} was {verb}.",
    "Records from {year} show that {subject} {verb} the {noun} for {num} days.",
    "Visitors often ask whether the {noun} is older than the {noun2}, and nobody can say for sure.",
    "In {month}, {subject} {verb} a {adj} {noun} {why}.",
    "Why was the {adj} {noun} {verb} twice in {year}?",
    "A {adj} {noun} and a {adj2} {noun2} were found behind the {noun3}, {num} metres from the {noun4}.",
    "The {noun} cost {num} pounds, which the {noun2} paid in {year}.",
    "Nobody at the {noun} kept a list, so the {adj} {noun2} is the only record we have.",
)
_BY_LENGTH: dict[str, dict[int, list[str]]] = {}
for _kind, _words in (("noun", NOUNS), ("adj", ADJECTIVES)):
    for _w in _words:
        _BY_LENGTH.setdefault(_kind, {}).setdefault(len(_w), []).append(_w)
_KIND = {w: "noun" for w in NOUNS} | {w: "adj" for w in ADJECTIVES}
_TITLE = "Field notes {n:06d} from Ashby-{p:04d}"


def filler_document(n: int) -> str:
    """A document of 5-12 paragraphs of 4-8 sentences; its title names it uniquely."""
    rnd = random.Random(n)
    paragraphs = []
    for _ in range(rnd.randint(5, 12)):
        sentences = []
        for _ in range(rnd.randint(4, 8)):
            nouns = rnd.sample(NOUNS, 4)
            adjectives = rnd.sample(ADJECTIVES, 2)
            subject = rnd.choice(SUBJECTS)
            sentences.append(
                rnd.choice(TEMPLATES).format(
                    Subject=subject,
                    subject=subject[0].lower() + subject[1:],
                    place=f"Ashby-{rnd.randrange(10_000):04d}",
                    verb=rnd.choice(VERBS),
                    adj=adjectives[0],
                    adj2=adjectives[1],
                    noun=nouns[0],
                    noun2=nouns[1],
                    noun3=nouns[2],
                    noun4=nouns[3],
                    year=rnd.randrange(1850, 2024),
                    num=rnd.randrange(10, 1000),
                    month=rnd.choice(MONTHS),
                    why=rnd.choice(WHY),
                )
            )
        paragraphs.append(" ".join(sentences))
    return _TITLE.format(n=n, p=rnd.randrange(10_000)) + "\n\n" + "\n\n".join(paragraphs) + "\n"


def variant_document(base_text: str, n: int) -> str:
    """Another document cut from the same cloth: same-length words swapped, numbers redrawn."""
    rnd = random.Random(1_000_003 * n + 7)

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.isdigit() and len(token) == 4:  # years (and place numbers) stay plausible years
            return str(rnd.randrange(1850, 2024))
        if token.isdigit():
            first = str(rnd.randrange(1, 10)) if len(token) > 1 else str(rnd.randrange(10))
            return first + "".join(str(rnd.randrange(10)) for _ in range(len(token) - 1))
        kind = _KIND.get(token)
        if kind is None or rnd.random() >= SWAP_PROBABILITY:
            return token
        return rnd.choice(_BY_LENGTH[kind][len(token)])

    rest = base_text.split("\n", 1)[1]
    return _TITLE.format(n=n, p=rnd.randrange(10_000)) + "\n" + re.sub(r"[a-z]+|\d+", swap, rest)


# ---- vectors ----------------------------------------------------------------------------------


def perturb(vector: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = vector + rng.normal(0.0, sigma, size=vector.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy)).astype(np.float32)


def sigma_for_cosine(cosine: float, dim: int) -> float:
    """Per-component noise whose expected cosine with the unit vector it is added to is `cosine`:
    |v + e|^2 ~ 1 + dim * sigma^2, v . (v + e) ~ 1."""
    cosine = min(max(cosine, 0.5), 0.9999)
    return float(np.sqrt((1.0 / cosine**2 - 1.0) / dim))


def lookup_embedder(real: Any, table: dict[str, np.ndarray]) -> Any:
    """A PackagedMiniLM that returns the table's vector for a known text and embeds any other; its
    `missed` counts the texts it had to embed."""
    from qa.embeddings import PackagedMiniLM

    class Lookup(PackagedMiniLM):
        missed = 0

        def encode(self, texts: list[str]) -> np.ndarray:
            out = np.zeros((len(texts), self.dimension), dtype=np.float32)
            unknown = [i for i, t in enumerate(texts) if t not in table]
            for i, text in enumerate(texts):
                if text in table:
                    out[i] = table[text]
            if unknown:
                self.missed += len(unknown)
                out[unknown] = real.encode([texts[i] for i in unknown])
            return out

    embeddings = Lookup()
    embeddings.batch_size = real.batch_size
    embeddings.backend = real.backend  # the index must record what the searching side uses
    return embeddings


# ---- timing -----------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000.0
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2)}


def per_query(fn: Callable[[str], Any], queries: list[str]) -> list[float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - started)
    return times


def median_of(passes: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(p[key] for p in passes), 2) for key in passes[0]}


class GcWatch:
    """Python garbage collections (count and time per generation) while it is entered."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self, calls: int) -> dict[str, Any]:
        return {
            f"gen{g}": {
                "collections_per_100_searches": round(100 * self.count[g] / calls, 1),
                "ms_per_collection": round(1000 * self.seconds[g] / self.count[g], 1)
                if self.count[g]
                else 0.0,
            }
            for g in range(3)
        }


class Corpus:
    """XQuAD paragraphs plus filler documents, with a vector for every chunk text they produce."""

    def __init__(self, root: Path, embeddings: Any, pool: int, chunk_size: int, overlap: int) -> None:
        from qa.chunking import chunk_document
        from qa.evaluation import xquad_dataset
        from qa.models import Document

        self.folder = root / "corpus"
        self.embeddings = embeddings
        self.chunk = lambda source, text: chunk_document(Document(source, text), chunk_size, overlap)
        self.table: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng(0)
        self.dataset = xquad_dataset()[0]
        self.written = 0  # filler documents written so far
        self.filler_chunks = 0
        self.mismatches = 0

        started = time.perf_counter()
        xquad_texts = [c.text for s, t in self.dataset.documents.items() for c in self.chunk(s, t)]
        self.xquad_chunks = len(xquad_texts)
        self._embed(xquad_texts)
        for source, text in self.dataset.documents.items():
            target = self.folder / "xquad" / source
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

        # The pool: the first filler documents, embedded for real.
        self.base: list[tuple[str, list[str]]] = []  # (text, chunk texts)
        while sum(len(c) for _, c in self.base) < pool:
            text = filler_document(len(self.base))
            self.base.append((text, [c.text for c in self.chunk("f.txt", text)]))
        pool_texts = [t for _, chunks in self.base for t in chunks]
        self._embed(pool_texts)
        self.pool_chunks = len(pool_texts)
        self.embed_seconds = time.perf_counter() - started
        self.embedded_for_real = len(self.table)
        log.info("embedded %d XQuAD + %d pool chunks in %.0fs", self.xquad_chunks, self.pool_chunks,
                 self.embed_seconds)  # fmt: skip
        self._calibrate()

    def _embed(self, texts: list[str]) -> None:
        for i in range(0, len(texts), 256):
            batch = texts[i : i + 256]
            for text, vector in zip(batch, self.embeddings.encode(batch), strict=True):
                self.table[text] = np.asarray(vector, dtype=np.float32)

    def _calibrate(self) -> None:
        """Noise that gives synthetic variants the cosine real variants have with their originals."""
        pairs = []
        for n in range(len(self.base), len(self.base) + CALIBRATION_CHUNKS):
            base_text, base_chunks = self.base[n % len(self.base)]
            variant = [c.text for c in self.chunk("f.txt", variant_document(base_text, n))]
            k = n % min(len(variant), len(base_chunks))
            pairs.append((base_chunks[k], variant[k]))
        vectors = self.embeddings.encode([v for _, v in pairs])
        cosines = [float(self.table[b] @ v) for (b, _), v in zip(pairs, vectors, strict=True)]
        self.real_cosine = {
            "mean": round(statistics.mean(cosines), 4),
            "min": round(min(cosines), 4),
            "max": round(max(cosines), 4),
        }
        self.sigma = sigma_for_cosine(statistics.mean(cosines), self.embeddings.dimension)
        synthetic = [float(self.table[b] @ perturb(self.table[b], self.sigma, self.rng)) for b, _ in pairs]
        self.synthetic_cosine = round(statistics.mean(synthetic), 4)
        log.info("variant cosine: real %.4f, synthetic %.4f (sigma %.5f)", self.real_cosine["mean"],
                 self.synthetic_cosine, self.sigma)  # fmt: skip

    def grow_to(self, chunks: int) -> None:
        """Write filler documents until XQuAD + filler reach `chunks` chunks."""
        while self.xquad_chunks + self.filler_chunks < chunks:
            n = self.written
            base_text, base_chunks = self.base[n % len(self.base)]
            if n < len(self.base):
                text, texts = base_text, base_chunks
            else:
                text = variant_document(base_text, n)
                texts = [c.text for c in self.chunk("f.txt", text)]
                if len(texts) != len(base_chunks):
                    self.mismatches += 1
                for k, t in enumerate(texts):
                    if t not in self.table:
                        self.table[t] = perturb(self.table[base_chunks[min(k, len(base_chunks) - 1)]],
                                                self.sigma, self.rng)  # fmt: skip
            target = self.folder / "filler" / f"{n // 1000:03d}" / f"notes-{n:06d}.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            self.written += 1
            self.filler_chunks += len(texts)


def measure_size(
    corpus: Corpus, size: int, root: Path, queries: list[Any], repeat: int, search_embeddings: Any
) -> dict[str, Any]:
    from qa.assistant import Assistant
    from qa.evaluation import Spanned, overlaps
    from qa.index import IndexStore
    from qa.keyword_index import KeywordIndex
    from qa.settings import Settings

    settings = Settings()
    corpus.grow_to(size)
    index_dir = root / f"index-{size}"
    lookup = lookup_embedder(search_embeddings, corpus.table)
    builder = IndexStore(index_dir, lookup, settings.chunk_size, settings.chunk_overlap)
    started = time.perf_counter()
    report = builder.build(corpus.folder, MAX_BYTES, full=True)
    build_seconds = time.perf_counter() - started
    missed = lookup.missed
    documents = len(report.added)
    log.info("%d chunks: built in %.0fs (%d documents, %d embedded for real)", report.chunks,
             build_seconds, documents, missed)  # fmt: skip
    del builder, lookup

    # Opening the index, as a new reader (a fresh process, or after another process's update) does.
    opens, bm25_builds, manifest_reads = [], [], []
    for _ in range(repeat):
        store = IndexStore(index_dir, search_embeddings, settings.chunk_size, settings.chunk_overlap)
        started = time.perf_counter()
        snapshot = store.open()
        opens.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.manifest()
        manifest_reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        KeywordIndex(snapshot.chunks)
        bm25_builds.append(time.perf_counter() - started)
        del store, snapshot

    assistant = Assistant(corpus_dir=corpus.folder, index_dir=index_dir, answerer=QUOTING)
    assistant.embeddings.embed_query("warm up")
    texts = [case.question for case in queries]
    for q in texts[:10]:
        assistant.search(q, k=5)
    snapshot = assistant.store.open()
    where = snapshot.where(None)
    vectors = {q: assistant.embeddings.embed_query(q) for q in texts}

    def check(q: str) -> None:  # what Assistant._snapshot does on every call
        assistant.store.current_generation()
        assistant.store.open()

    def dense(q: str) -> Any:
        vector = np.asarray(assistant.embeddings.embed_query(q), dtype=np.float32)
        return snapshot.nearest(vector, DEPTH, where)

    def knn(q: str) -> Any:
        return snapshot.nearest(np.asarray(vectors[q], dtype=np.float32), DEPTH, where)

    def keyword(q: str) -> list[int]:
        scores = snapshot.keyword.scores(q)
        return [int(i) for i in np.argsort(-scores, kind="stable")[:DEPTH] if scores[i] > 0]

    # Keyword-only candidates (in BM25's top 30, not in the dense top 30): hybrid_search fetches their
    # stored vectors from Chroma to score them.
    keyword_only: dict[str, list[str]] = {}
    for q in texts:
        dense_ids = {chunk_id for chunk_id, _ in knn(q)}
        keyword_only[q] = [
            snapshot.chunks[i].id for i in keyword(q) if snapshot.chunks[i].id not in dense_ids
        ]

    def fetch(q: str) -> Any:
        if keyword_only[q]:
            return snapshot.vectors(keyword_only[q])
        return None

    parts: dict[str, Callable[[str], Any]] = {
        "search": lambda q: assistant.search(q, k=5),
        "snapshot_check": check,
        "manifest_read": lambda q: assistant.store.manifest(),  # no longer on the per-call path
        "version_check": lambda q: assistant.store.open(),
        "embed_query": assistant.embeddings.embed_query,
        "dense_only": dense,
        "chroma_knn": knn,
        "bm25_only": keyword,
        "keyword_vector_fetch": fetch,
    }
    passes: dict[str, list[dict[str, float]]] = {name: [] for name in parts}
    gc_watch = GcWatch()
    for r in range(repeat):
        for name, fn in parts.items():
            if name == "search":
                with gc_watch:
                    passes[name].append(percentiles(per_query(fn, texts)))
            else:
                passes[name].append(percentiles(per_query(fn, texts)))
        log.info("%d chunks, pass %d: search p50 %.1f ms, p95 %.1f ms", report.chunks, r + 1,
                 passes["search"][-1]["p50"], passes["search"][-1]["p95"])  # fmt: skip
    position_map = []
    for _ in range(20):
        started = time.perf_counter()
        {c.id: i for i, c in enumerate(snapshot.chunks)}  # what opening builds as Snapshot.positions
        position_map.append(time.perf_counter() - started)

    hits = 0
    for case in queries:
        hits += any(overlaps(cast(Spanned, p), case.gold) for p in assistant.search(case.question, k=5))

    latency = {name: median_of(p) for name, p in passes.items()}
    attributed = ("snapshot_check", "embed_query", "chroma_knn", "bm25_only", "keyword_vector_fetch")
    parts_p50 = sum(latency[n]["p50"] for n in attributed)
    position_ms = round(statistics.median(position_map) * 1000, 2)
    target = TARGETS_MS.get(size)
    shutil.rmtree(index_dir, ignore_errors=True)
    return {
        "target_chunks": size,
        "chunks": report.chunks,
        "documents": documents,
        "filler_documents": corpus.written,
        "build_seconds": round(build_seconds, 1),
        "embedded_during_build": missed,
        "open_seconds": round(statistics.median(opens), 3),
        "open_seconds_first": round(opens[0], 3),
        "open_parts_seconds": {
            "manifest_read": round(statistics.median(manifest_reads), 3),
            "bm25_build": round(statistics.median(bm25_builds), 3),
        },
        "latency_ms": latency,
        "position_map_ms": position_ms,
        "unattributed_p50_ms": round(latency["search"]["p50"] - parts_p50, 2),
        "target_p50_ms": target,
        "meets_target": None if target is None else latency["search"]["p50"] < target,
        "manifest_json_bytes": len(snapshot.manifest.to_json().encode())  # header + one record a document
        + sum(len(d.to_json().encode()) for d in snapshot.manifest.documents.values()),
        "gc_during_search": gc_watch.summary(len(texts) * repeat),
        "keyword_only_candidates_mean": round(statistics.mean(len(v) for v in keyword_only.values()), 1),
        "hit_at_5": round(hits / len(queries), 3),
    }


def run(sizes: list[int], queries: int, repeat: int, pool: int, root: Path) -> dict[str, Any]:
    from qa.assistant import Assistant
    from qa.settings import Settings

    settings = Settings()
    # The embedder an Assistant uses (same backend and batch size); its vectors fill the table.
    search_embeddings = Assistant(
        corpus_dir=root / "corpus", index_dir=root / "unused", answerer=QUOTING
    ).embeddings
    search_embeddings.embed_query("warm up")
    corpus = Corpus(root, search_embeddings, pool, settings.chunk_size, settings.chunk_overlap)

    # The XQuAD documents live under corpus/xquad/, so their gold spans do too.
    chosen = [
        replace(c, gold=[(f"xquad/{s}", a, b) for s, a, b in c.gold])
        for c in corpus.dataset.cases[::3][:queries]
    ]
    results = []
    for size in sizes:
        size_started = time.perf_counter()
        results.append(measure_size(corpus, size, root, chosen, repeat, search_embeddings))
        results[-1]["seconds_for_this_size"] = round(time.perf_counter() - size_started, 1)
    return {
        "benchmark": "query_latency",
        "call": "Assistant.search(q, k=5)",
        "queries": len(chosen),
        "repeat": repeat,
        "embedding_backend": search_embeddings.backend,
        "method": {
            "corpus": "XQuAD en dev paragraphs + generated filler documents (~7 chunks each)",
            "embedded_for_real": corpus.embedded_for_real,
            "xquad_chunks": corpus.xquad_chunks,
            "pool_chunks": corpus.pool_chunks,
            "pool_embed_seconds": round(corpus.embed_seconds, 1),
            "variant_rule": f"same-length noun/adjective swaps (p={SWAP_PROBABILITY}), numbers redrawn",
            "variant_vector": "pool chunk's vector + N(0, sigma^2) per component, re-normalised",
            "sigma": round(corpus.sigma, 5),
            "real_variant_cosine": corpus.real_cosine,
            "synthetic_variant_cosine_mean": corpus.synthetic_cosine,
            "variant_chunking_mismatches": corpus.mismatches,
        },
        "sizes": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="Comma-separated chunk counts.")
    parser.add_argument("--queries", type=int, default=200, help="XQuAD questions per pass.")
    parser.add_argument("--repeat", type=int, default=3, help="Passes over the questions (medians).")
    parser.add_argument("--pool", type=int, default=3000, help="Filler chunks embedded for real.")
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="qa-bench-latency-") as tmp:
        result = run(sizes, args.queries, args.repeat, args.pool, Path(tmp))
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
