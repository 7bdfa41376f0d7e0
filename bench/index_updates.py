"""What index updates cost on 1,000 small documents: a full build, a no-op rebuild, and adding one
document to the big index compared with indexing that document alone.

    python -m bench.index_updates [--docs 1000] [--repeat 3] [--keep DIR] [--out FILE]

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr. Targets (not
asserted here): a no-op rebuild of 1,000 small documents in under 2 s, without loading the embedding
model; adding one document to 1,000 costs about what indexing it alone costs.

In-process figures use one `IndexStore` whose model is loaded before timing starts, so they measure
index work; CLI figures are wall times of fresh `qa` processes (interpreter start, imports and, where
needed, loading the model included).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import MAX_BYTES, emit, median, quiet_logging, start_run

log = logging.getLogger("bench.index_updates")

SUBJECTS = (
    "The harbour master", "A retired engineer", "The village council", "Our neighbour", "The museum curator",
    "A young botanist", "The ferry captain", "The school librarian", "A travelling cartographer",
    "The night baker", "The orchard cooperative", "A visiting geologist", "The railway historian",
    "The choir director", "A local beekeeper", "The lighthouse keeper",
)  # fmt: skip
VERBS = (
    "repaired", "catalogued", "photographed", "measured", "restored", "painted", "surveyed", "donated",
    "rediscovered", "insured", "moved", "described", "sketched", "inspected", "weighed", "auctioned",
)  # fmt: skip
OBJECTS = (
    "a brass telescope", "the old tide clock", "forty glass floats", "a cracked church bell",
    "the mill's waterwheel", "a box of wartime letters", "the stone footbridge", "two carved figureheads",
    "a herbarium of alpine plants", "the signal lamp", "a rusted steam winch", "the parish ledger",
    "a set of copper kettles", "the weather vane", "an oak rowing boat", "a map of the salt marshes",
)  # fmt: skip
WHEN = (
    "last spring", "in 1911", "during the flood of 1953", "after the autumn fair", "on a foggy morning",
    "before the harvest", "in the winter of 1987", "at midsummer", "two years ago", "in March",
)  # fmt: skip
WHY = (
    "because the tourists kept asking about it", "to settle an argument about its age",
    "so that the school could borrow it", "after a storm damaged the roof above it",
    "for an exhibition about local trades", "because nobody remembered who owned it",
    "to raise money for the new clinic", "as a gift to the town archive",
)  # fmt: skip
EXTRAS = (
    "It now weighs {n} kilograms less than the records claim.",
    "Around {n} people came to see it on the first weekend.",
    "The work took {n} days and two borrowed ladders.",
    "A plaque lists the {n} families who paid for it.",
    "Its serial number, {n}, was found under a layer of paint.",
    "The newspaper printed {n} letters about it that month.",
)


def document_text(i: int) -> str:
    """2-4 varied sentences; a place name unique to the document makes it findable."""
    rnd = random.Random(i)
    place = f"Ashby-{i:04d}"
    sentences = [
        f"{rnd.choice(SUBJECTS)} of {place} {rnd.choice(VERBS)} {rnd.choice(OBJECTS)} {rnd.choice(WHEN)}.",
        f"It was done {rnd.choice(WHY)}.",
    ]
    for template in rnd.sample(EXTRAS, rnd.randrange(0, 3)):
        sentences.append(template.format(n=rnd.randrange(2, 900)))
    return f"Notes from {place}\n\n" + " ".join(sentences) + "\n"


def write_corpus(folder: Path, count: int, first: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + count):
        (folder / f"doc-{i:04d}.txt").write_text(document_text(i), encoding="utf-8")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def qa_process(
    corpus: Path, index: Path, *args: str, python_flags: tuple[str, ...] = ()
) -> tuple[float, str]:
    """Wall time of a fresh `qa` process, and its stderr. Fails loudly on a non-zero exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    command = [sys.executable, *python_flags, "-m", "qa.cli", "--corpus", str(corpus), "--index", str(index)]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=1800
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"`qa {' '.join(args)}` exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done.stderr


def imported(importtime_stderr: str, module: str) -> bool:
    """Whether `python -X importtime` reported importing `module` itself."""
    return any(line.rsplit("|", 1)[-1].strip() == module for line in importtime_stderr.splitlines())


def run(docs: int, repeat: int, root: Path) -> dict[str, Any]:
    from qa.embeddings import PackagedMiniLM
    from qa.index import IndexStore
    from qa.settings import Settings

    settings = Settings()
    corpus, index = root / "corpus", root / "index"
    write_corpus(corpus, docs)
    sizes = [p.stat().st_size for p in corpus.iterdir()]
    log.info("%d documents, %d bytes in all", docs, sum(sizes))

    def store(index_dir: Path, embeddings: PackagedMiniLM) -> IndexStore:
        return IndexStore(index_dir, embeddings, settings.chunk_size, settings.chunk_overlap)

    embeddings = PackagedMiniLM()
    load_seconds, _ = timed(lambda: embeddings.encode(["warm up"]))
    log.info("model loaded in %.1fs", load_seconds)

    # Full build, in-process, model already loaded.
    big = store(index, embeddings)
    build_seconds, report = timed(lambda: big.build(corpus, MAX_BYTES))
    chunks = report.chunks
    log.info("full build: %d chunks in %.1fs", chunks, build_seconds)

    # Reference: reading and hashing every file, all a no-op rebuild has to do besides the manifest.
    hash_times = []
    for _ in range(repeat):
        seconds, _ = timed(
            lambda: [hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(corpus.iterdir())]
        )
        hash_times.append(seconds)

    # No-op rebuild in-process: a fresh store with a fresh (unloaded) model, as a new process has.
    noop_inprocess, model_loaded_by_noop = [], False
    for _ in range(repeat):
        cold = PackagedMiniLM()
        seconds, noop = timed(partial(store(index, cold).build, corpus, MAX_BYTES))
        assert noop.embedded == 0 and not noop.changed, noop.to_dict()
        noop_inprocess.append(seconds)
        model_loaded_by_noop |= cold._model is not None

    # No-op rebuild through the CLI: a fresh process each time; one more run reports its imports.
    noop_cli = [qa_process(corpus, index, "index", "build")[0] for _ in range(repeat)]
    # Baseline: a process that starts, imports, opens the index and reads the manifest, nothing more.
    status_cli = [qa_process(corpus, index, "index", "status")[0] for _ in range(repeat)]
    _, importtime = qa_process(corpus, index, "-v", "index", "build", python_flags=("-X", "importtime"))
    heavy = ("sentence_transformers", "torch", "onnxruntime", "chromadb")
    no_op_imports = {m: imported(importtime, m) for m in heavy}
    no_op_loaded_model = "loading embedding model" in importtime
    log.info("no-op rebuild: %.2fs in-process, %.2fs CLI", median(noop_inprocess), median(noop_cli))

    # One more document: into the 1,000-document index vs alone into an empty one (in-process).
    add_big, add_alone = [], []
    for r in range(repeat):
        extra = docs + r
        write_corpus(corpus, 1, first=extra)
        seconds, added = timed(lambda: big.build(corpus, MAX_BYTES))
        assert added.added == [f"doc-{extra:04d}.txt"] and added.embedded >= 1, added.to_dict()
        add_big.append(seconds)

        alone_corpus, alone_index = root / f"alone-{r}" / "corpus", root / f"alone-{r}" / "index"
        write_corpus(alone_corpus, 1, first=extra)
        seconds, alone = timed(partial(store(alone_index, embeddings).build, alone_corpus, MAX_BYTES))
        assert alone.embedded == added.embedded, (alone.to_dict(), added.to_dict())
        add_alone.append(seconds)
    log.info("add one: %.3fs to %d docs, %.3fs alone", median(add_big), docs, median(add_alone))

    # What a reader holding the big index open pays on its next question after that update.
    reader = store(index, PackagedMiniLM())
    reader.open()
    write_corpus(corpus, 1, first=docs + repeat)
    big.build(corpus, MAX_BYTES)
    reopen_seconds, snapshot = timed(reader.open)
    assert len(snapshot.manifest.documents) == docs + repeat + 1

    # The same comparison through the CLI: `qa index add` of one file, each in a fresh process.
    cli_big, cli_alone = [], []
    for r in range(repeat):
        extra = docs + repeat + 1 + r
        incoming = root / "incoming" / f"r{r}"
        write_corpus(incoming, 1, first=extra)
        path = str(incoming / f"doc-{extra:04d}.txt")
        cli_big.append(qa_process(corpus, index, "index", "add", path)[0])
        alone = root / f"cli-alone-{r}"
        cli_alone.append(qa_process(alone / "corpus", alone / "index", "index", "add", path)[0])
    log.info("CLI add one: %.2fs to %d docs, %.2fs alone", median(cli_big), docs, median(cli_alone))

    return {
        "benchmark": "index_updates",
        "documents": docs,
        "bytes": sum(sizes),
        "chunks": chunks,
        "repeat": repeat,
        "embedding_backend": getattr(embeddings, "backend", None),
        "model_load_seconds": round(load_seconds, 3),
        "full_build": {
            "seconds": round(build_seconds, 3),
            "chunks_per_second": round(chunks / build_seconds, 1),
        },
        "hash_files_seconds": median(hash_times),
        "no_op_rebuild": {
            "in_process_seconds": median(noop_inprocess),
            "in_process_loaded_model": model_loaded_by_noop,
            "cli_seconds": median(noop_cli),
            "cli_index_status_seconds": median(status_cli),
            "cli_imported": no_op_imports,
            "cli_loaded_model": no_op_loaded_model,
            "target_seconds": 2.0,
        },
        "add_one_document": {
            "to_index_seconds": median(add_big),
            "alone_seconds": median(add_alone),
            "ratio": round(statistics.median(add_big) / statistics.median(add_alone), 2),
            "cli_to_index_seconds": median(cli_big),
            "cli_alone_seconds": median(cli_alone),
            "cli_ratio": round(statistics.median(cli_big) / statistics.median(cli_alone), 2),
        },
        "reader_reopen_after_update_seconds": round(reopen_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1000, help="How many small documents (default 1000).")
    parser.add_argument("--repeat", type=int, default=3, help="Repeats of each small measurement (median).")
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep it (default: a temp folder).")
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    quiet_logging()
    begun = start_run()

    if args.keep:
        if args.keep.exists():
            shutil.rmtree(args.keep)
        args.keep.mkdir(parents=True)
        result = run(args.docs, args.repeat, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
            result = run(args.docs, args.repeat, Path(tmp))
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
