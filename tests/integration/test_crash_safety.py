"""A `qa index build` killed with SIGKILL in the middle of embedding, as a real process: the index
that was live before keeps answering, and the next build finishes the job.

The build writes its progress to a pseudo-terminal so that every embedded batch shows up on stderr
(on a pipe the progress bar prints at most a line every few seconds); the test kills the process as
soon as the first `embed` line appears, when one batch of new chunks is already stored in Chroma
but no manifest lists it.
"""

from __future__ import annotations

import json
import os
import pty
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ARTICLE_SOURCE, manifest_chunk_total, read_document, stored_chunk_count

from qa import Assistant
from qa.models import DocumentInfo, IndexStatus

pytestmark = pytest.mark.integration

BEIJING_QUESTION = "Where did the second round of the cybercrime dialogue take place?"
NOTES = 320  # one chunk each: more than one 256-chunk write batch, so a kill lands between batches
SMALL_DOCS = {
    "quokkas.txt": (
        "Quokkas of Rottnest Island\n\n"
        "The quokka is a small marsupial that lives on Rottnest Island near Perth. "
        "Visitors photograph quokkas because the animals appear to smile.\n"
    ),
    "wombats.md": (
        "# Wombats\n\n"
        "Wombats are burrowing marsupials native to Australia. "
        "A wombat produces cube-shaped droppings, which it uses to mark its territory.\n"
    ),
}
EMBED_PROGRESS = re.compile(r"embed \[[#-]+\] (\d+)/(\d+) chunks")  # "embed [###---] 256/338 chunks"
KILL_TIMEOUT = 300.0  # seconds to wait for the first `embed` line before giving up (a bound, not a check)

SYLLABLES = "ka lo mi ra te vu zen dor pli qua ser bon tix gra hel jun".split()
PLACES = "harbour orchard glacier railway library vineyard lighthouse observatory bakery foundry".split()
VERBS = "restored surveyed expanded documented inspected funded rebuilt mapped".split()
THINGS = "visitors workers records finances machinery gardens bridges lanterns".split()


def invented_name(i: int) -> str:
    """A made-up word unique to document `i` (four syllables, base 16): found only by its own document."""
    word = ""
    for _ in range(4):
        word += SYLLABLES[i % 16]
        i //= 16
    return word.capitalize()


def note_name(i: int) -> str:
    return f"note-{i:03d}.txt"


def note_text(i: int) -> str:
    """A few short lines about an invented village: one small chunk, quick to embed."""
    rnd = random.Random(i)
    name = invented_name(i + 4096)
    place, other = rnd.sample(PLACES, 2)
    return (
        f"The {place} of {name}\n\n"
        f"{rnd.randrange(3, 90)} volunteers {rnd.choice(VERBS)} it in {1850 + rnd.randrange(170)}. "
        f"The {name} ledger lists its {rnd.choice(THINGS)} and the {other}.\n"
    )


def write_notes(corpus_dir: Path, count: int = NOTES) -> None:
    for i in range(count):
        (corpus_dir / note_name(i)).write_text(note_text(i), encoding="utf-8")


# ---- real processes --------------------------------------------------------------------------------


def qa_env() -> dict[str, str]:
    """The environment for a `qa` process: ours without QA_* settings (the options say where)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("QA_")}


def qa_command(corpus_dir: Path, index_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "qa.cli", "--corpus", str(corpus_dir), "--index", str(index_dir), *args]


def run_qa(corpus_dir: Path, index_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        qa_command(corpus_dir, index_dir, *args),
        capture_output=True,
        text=True,
        env=qa_env(),
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def kill_build_while_embedding(corpus_dir: Path, index_dir: Path, *options: str) -> str:
    """Start `qa index build`, SIGKILL it when the first embedded batch is reported; its stderr."""
    master, slave = pty.openpty()  # a terminal: the progress bar reports every batch
    process = subprocess.Popen(
        qa_command(corpus_dir, index_dir, "index", "build", *options),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=qa_env(),
    )
    os.close(slave)
    seen = ""
    deadline = time.monotonic() + KILL_TIMEOUT
    try:
        while not (progress := EMBED_PROGRESS.search(seen)):
            if time.monotonic() > deadline:
                raise AssertionError(f"no embed progress within {KILL_TIMEOUT:.0f}s; stderr: {seen[-2000:]}")
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the build closed its terminal, it has ended
                data = b""
            if not data:
                process.wait(timeout=60)
                raise AssertionError(
                    f"the build ended (exit {process.returncode}) before reporting any embedding: {seen}"
                )
            seen += data.decode("utf-8", errors="replace")
        process.send_signal(signal.SIGKILL)
        returncode = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        os.close(master)
    assert returncode == -signal.SIGKILL, f"the build was not killed mid-way (exit {returncode}): {seen}"
    done, total = map(int, progress.groups())
    assert done < total, f"the build had embedded everything before the kill: {seen}"
    return seen


# ---- what the tests look at ------------------------------------------------------------------------


def fresh_assistant(corpus_dir: Path, index_dir: Path) -> Assistant:
    return Assistant(corpus_dir=corpus_dir, index_dir=index_dir, answerer="extractive")


def assert_answers_beijing_with_exact_citations(assistant: Assistant, corpus_dir: Path) -> None:
    answer = assistant.ask(BEIJING_QUESTION)
    assert answer.answerable and "Beijing" in answer.text, answer.text
    assert answer.citations and {c.source for c in answer.citations} == {ARTICLE_SOURCE}
    article = read_document(corpus_dir / ARTICLE_SOURCE)
    assert all(article[c.start : c.end] == c.text for c in answer.citations)


def assert_note_is_found(assistant: Assistant, i: int) -> None:
    name = invented_name(i + 4096)
    hits = assistant.search(f"the {name} ledger", k=3)
    assert hits and hits[0].source == note_name(i), [h.source for h in hits]
    assert name in hits[0].text


@dataclass
class Folders:
    corpus_dir: Path
    index_dir: Path

    def copy_to(self, root: Path) -> Folders:
        """A private copy a test may change (a build killed with SIGKILL holds no lock to copy)."""
        root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.corpus_dir, root / "corpus")
        shutil.copytree(self.index_dir, root / "index", ignore=shutil.ignore_patterns(".lock"))
        return Folders(root / "corpus", root / "index")

    def assistant(self) -> Assistant:
        return fresh_assistant(self.corpus_dir, self.index_dir)


@dataclass
class Crashed(Folders):
    """Folders left by a killed build, and what the index held before that build started."""

    documents_before: list[DocumentInfo]
    status_before: IndexStatus


@pytest.fixture(scope="module")
def before_crash(article_index, tmp_path_factory) -> Crashed:
    """The article and two small documents, indexed; nothing else in the corpus yet."""
    root = tmp_path_factory.mktemp("before-crash")
    shutil.copytree(article_index.corpus_dir, root / "corpus")
    shutil.copytree(article_index.index_dir, root / "index", ignore=shutil.ignore_patterns(".lock"))
    for name, text in SMALL_DOCS.items():
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    assistant = fresh_assistant(root / "corpus", root / "index")
    report = assistant.rebuild()
    assert sorted(report.added) == sorted(SMALL_DOCS)
    return Crashed(root / "corpus", root / "index", assistant.documents(), assistant.status())


@pytest.fixture(scope="module")
def killed_update(before_crash, tmp_path_factory) -> Crashed:
    """`qa index build` killed while embedding 320 new documents into the live generation.

    Tests copy these folders (`copy_to`) rather than change them."""
    root = tmp_path_factory.mktemp("killed-update")
    crashed = before_crash.copy_to(root)
    write_notes(crashed.corpus_dir)
    kill_build_while_embedding(crashed.corpus_dir, crashed.index_dir)
    return Crashed(
        crashed.corpus_dir, crashed.index_dir, before_crash.documents_before, before_crash.status_before
    )


# ---- a build killed while adding documents in place -------------------------------------------------


def test_after_a_build_is_killed_mid_embedding_the_previous_index_still_answers(killed_update, tmp_path):
    folders = killed_update.copy_to(tmp_path)
    assistant = folders.assistant()
    assert_answers_beijing_with_exact_citations(assistant, folders.corpus_dir)


def test_after_a_build_is_killed_status_and_documents_show_the_documents_indexed_before(
    killed_update, tmp_path
):
    assistant = killed_update.copy_to(tmp_path).assistant()
    assert assistant.documents() == killed_update.documents_before
    status = assistant.status()
    for key in ("documents", "chunks", "generation", "version", "built_at"):
        assert getattr(status, key) == getattr(killed_update.status_before, key), key


def test_chunks_stored_by_a_killed_build_are_never_served_to_readers(killed_update, tmp_path):
    assistant = killed_update.copy_to(tmp_path).assistant()
    # The kill came after at least one batch was written: Chroma holds chunks no manifest lists ...
    assert stored_chunk_count(assistant) > manifest_chunk_total(assistant)
    # ... and neither search nor ask uses them.
    for i in (0, 100, NOTES - 1):
        name = invented_name(i + 4096)
        assert all(not p.source.startswith("note-") for p in assistant.search(name, k=10))
        answer = assistant.ask(f"Who kept the {name} ledger?")
        assert all(not c.source.startswith("note-") for c in answer.citations)


def test_after_a_build_is_killed_search_still_returns_k_passages_from_the_previous_index(
    before_crash, killed_update, tmp_path
):
    question = "Who restored the lighthouse?"  # near the topic of the killed build's new documents
    before = before_crash.copy_to(tmp_path / "before").assistant().search(question, k=5)
    assert len(before) == 5
    after = killed_update.copy_to(tmp_path / "after").assistant().search(question, k=5)
    assert [(p.source, p.start) for p in after] == [(p.source, p.start) for p in before]


def test_the_build_after_a_killed_one_finishes_indexes_every_new_document_and_leaves_no_stray_chunks(
    killed_update, tmp_path
):
    folders = killed_update.copy_to(tmp_path)
    done = run_qa(folders.corpus_dir, folders.index_dir, "index", "build", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["added"]) == [note_name(i) for i in range(NOTES)]
    assert report["removed"] == [] and report["skipped"] == []
    assert report["generation"] == killed_update.status_before.generation  # still updated in place

    assistant = folders.assistant()
    sources = {d.source for d in assistant.documents()}
    assert sources == {ARTICLE_SOURCE, *SMALL_DOCS, *(note_name(i) for i in range(NOTES))}
    assert stored_chunk_count(assistant) == manifest_chunk_total(assistant)
    for i in (0, 100, NOTES - 1):
        assert_note_is_found(assistant, i)
    assert_answers_beijing_with_exact_citations(assistant, folders.corpus_dir)


def test_chunks_a_killed_build_stored_for_documents_deleted_since_are_cleaned_up_by_the_next_build(
    killed_update, tmp_path
):
    folders = killed_update.copy_to(tmp_path)
    for i in range(NOTES):
        (folders.corpus_dir / note_name(i)).unlink()
    done = run_qa(folders.corpus_dir, folders.index_dir, "index", "build")
    assert done.returncode == 0, done.stderr
    assistant = folders.assistant()
    assert [d.source for d in assistant.documents()] == [d.source for d in killed_update.documents_before]
    assert stored_chunk_count(assistant) == manifest_chunk_total(assistant)


def test_a_build_killed_while_re_indexing_an_edited_document_leaves_its_previous_version_answering(
    before_crash, tmp_path
):
    folders = before_crash.copy_to(tmp_path)
    article = folders.corpus_dir / ARTICLE_SOURCE
    with open(article, "a", encoding="utf-8") as fh:  # an edit at the end: earlier chunks are unchanged
        fh.write("\n\nEditor's note: this assessment was updated with a short closing paragraph.\n")
    write_notes(folders.corpus_dir)  # sorted after the article, so its chunks are in the first batch
    kill_build_while_embedding(folders.corpus_dir, folders.index_dir)

    assistant = folders.assistant()
    assert assistant.documents() == before_crash.documents_before
    assert_answers_beijing_with_exact_citations(assistant, folders.corpus_dir)
    visible = [c for c in assistant.store.open().chunks if c.source == ARTICLE_SOURCE]
    listed = next(d.chunks for d in assistant.documents() if d.source == ARTICLE_SOURCE)
    assert len(visible) == listed


# ---- a full rebuild killed while writing its new generation ----------------------------------------


def test_a_killed_full_rebuild_leaves_the_old_generation_live_and_the_next_full_rebuild_clears_its_remains(
    before_crash, tmp_path
):
    folders = before_crash.copy_to(tmp_path)
    live = before_crash.status_before.generation
    write_notes(folders.corpus_dir)
    kill_build_while_embedding(folders.corpus_dir, folders.index_dir, "--full")

    # The pointer never moved: the old generation answers, with the documents it had.
    assert (folders.index_dir / "CURRENT").read_text(encoding="utf-8").strip() == live
    half_written = {p.name for p in folders.index_dir.glob("gen-*")} - {live}
    assert len(half_written) == 1  # what the killed build wrote so far, never switched to
    assistant = folders.assistant()
    assert assistant.status().generation == live
    assert assistant.documents() == before_crash.documents_before
    assert stored_chunk_count(assistant) == manifest_chunk_total(assistant)
    assert_answers_beijing_with_exact_citations(assistant, folders.corpus_dir)

    # Running the same command again succeeds, switches to a new generation and removes the remains.
    done = run_qa(folders.corpus_dir, folders.index_dir, "index", "build", "--full", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    new = report["generation"]
    assert new not in {live, *half_written}
    assert report["embedded"] == report["chunks"]
    remaining = {p.name for p in folders.index_dir.glob("gen-*")}
    assert remaining == {new, live}  # the live one and its predecessor, which a reader may hold open

    assistant = folders.assistant()
    assert assistant.status().generation == new
    assert len(assistant.documents()) == 1 + len(SMALL_DOCS) + NOTES
    assert stored_chunk_count(assistant) == manifest_chunk_total(assistant)
    assert_note_is_found(assistant, NOTES // 2)
    assert_answers_beijing_with_exact_citations(assistant, folders.corpus_dir)
