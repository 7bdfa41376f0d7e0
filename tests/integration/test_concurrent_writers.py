"""Several real processes on one index: writers take turns through the file lock, and a long-lived
reader (a process holding an `Assistant` open, like the web chat) sees what another process added or
removed on its next question, without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from helpers import ARTICLE_SOURCE, QUOKKAS, WOMBATS, read_document

from qa import Assistant

pytestmark = pytest.mark.integration

BEIJING_QUESTION = "Where did the second round of the cybercrime dialogue take place?"
WOMBAT_QUESTION = "What shape are wombat droppings?"

# A reader process: one Assistant opened once, answering one JSON question per stdin line with one
# JSON line on stdout (its logs go to stderr).
READER = textwrap.dedent(
    """
    import json, sys
    from qa import Assistant

    assistant = Assistant(corpus_dir=sys.argv[1], index_dir=sys.argv[2], answerer="extractive")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        question = json.loads(line)["question"]
        answer = assistant.ask(question)
        hits = assistant.search(question, k=10)
        print(json.dumps({
            "answer": answer.to_dict(),
            "searched": [h.source for h in hits],
            "version": assistant.status().version,
        }), flush=True)
    """
)


def qa_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QA_")}


def qa_command(built, *args: object) -> list[str]:
    return [
        sys.executable,
        "-m",
        "qa.cli",
        "--corpus",
        str(built.corpus_dir),
        "--index",
        str(built.index_dir),
        *map(str, args),
    ]


def run_qa(built, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        qa_command(built, *args),
        capture_output=True,
        text=True,
        env=qa_env(),
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def stored_chunks(assistant: Assistant) -> list[dict]:
    """Every chunk in the live generation's Chroma collection, listed by the manifest or not."""
    snapshot = assistant.store.open()  # drops Chroma's per-process cache: what is on disk now
    got = assistant.store.storage.chunks(snapshot.generation).get(include=["metadatas"])
    return [{"id": i, **m} for i, m in zip(got["ids"], got["metadatas"], strict=True)]


def assert_no_duplicated_or_stray_chunks(assistant: Assistant) -> None:
    stored = stored_chunks(assistant)
    listed = {d.source: d.chunks for d in assistant.documents()}
    assert Counter(c["source"] for c in stored) == Counter(listed)
    places = Counter((c["source"], c["start"], c["end"]) for c in stored)
    assert all(n == 1 for n in places.values()), [p for p, n in places.items() if n > 1]


class Reader:
    """A long-lived process with an open Assistant, asked questions over a pipe."""

    def __init__(self, built, log: Path) -> None:
        self._log = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER, str(built.corpus_dir), str(built.index_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=qa_env(),
        )
        self.log = log
        assert json.loads(self._readline()) == {"ready": True}

    def _readline(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=60)
            raise AssertionError(
                f"the reader exited ({self.process.returncode}): {self.log.read_text(encoding='utf-8')}"
            )
        return line

    def ask(self, question: str) -> dict:
        self.process.stdin.write(json.dumps({"question": question}) + "\n")
        self.process.stdin.flush()
        return json.loads(self._readline())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=60)
        self.process.stdout.close()
        self._log.close()


@pytest.fixture
def reader(private_article_index, tmp_path):
    process = Reader(private_article_index, tmp_path / "reader.log")
    yield process
    process.close()


def cited_sources(reply: dict) -> set[str]:
    return {c["source"] for c in reply["answer"]["citations"]}


def test_two_qa_index_add_processes_started_together_both_succeed_and_both_documents_are_indexed_once(
    private_article_index, tmp_path
):
    built = private_article_index
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    (incoming / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    processes = [
        subprocess.Popen(
            qa_command(built, "index", "add", incoming / name, "--json"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=qa_env(),
        )
        for name in ("quokkas.txt", "wombats.md")
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    reports = [json.loads(stdout) for stdout, _ in outputs]
    # Whichever took the lock first indexed what it found; together they added each document once.
    added = [source for report in reports for source in report["added"] + report["updated"]]
    assert sorted(added) == ["quokkas.txt", "wombats.md"]

    assistant = built.open_assistant()
    assert sorted(d.source for d in assistant.documents()) == [ARTICLE_SOURCE, "quokkas.txt", "wombats.md"]
    assert_no_duplicated_or_stray_chunks(assistant)
    assert assistant.search("quokkas appear to smile", k=1)[0].source == "quokkas.txt"
    assert assistant.search("wombat cube-shaped droppings", k=1)[0].source == "wombats.md"
    answer = assistant.ask(WOMBAT_QUESTION)
    assert answer.answerable and "cube-shaped" in answer.text
    assert {c.source for c in answer.citations} == {"wombats.md"}


def test_a_running_reader_answers_about_a_document_another_process_added_without_restarting(
    private_article_index, reader, tmp_path
):
    built = private_article_index
    before = reader.ask(BEIJING_QUESTION)  # the reader has opened the index
    assert before["answer"]["answerable"] and cited_sources(before) == {ARTICLE_SOURCE}
    not_yet = reader.ask(WOMBAT_QUESTION)
    assert "wombats.md" not in cited_sources(not_yet) and "wombats.md" not in not_yet["searched"]

    incoming = tmp_path / "wombats.md"
    incoming.write_text(WOMBATS, encoding="utf-8")
    done = run_qa(built, "index", "add", incoming)
    assert done.returncode == 0, done.stderr

    after = reader.ask(WOMBAT_QUESTION)
    assert after["version"] > before["version"]
    assert after["answer"]["answerable"] and "cube-shaped" in after["answer"]["answer"]
    assert cited_sources(after) == {"wombats.md"}
    text = read_document(built.corpus_dir / "wombats.md")
    assert all(text[c["start"] : c["end"]] == c["text"] for c in after["answer"]["citations"])
    assert after["searched"][0] == "wombats.md"
    # The documents it had before are still there.
    again = reader.ask(BEIJING_QUESTION)
    assert again["answer"]["answerable"] and cited_sources(again) == {ARTICLE_SOURCE}


def test_a_running_reader_stops_citing_a_document_another_process_removed(
    private_article_index, reader, tmp_path
):
    built = private_article_index
    (built.corpus_dir / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    assert run_qa(built, "index", "build").returncode == 0

    cited = reader.ask(WOMBAT_QUESTION)
    assert cited["answer"]["answerable"] and cited_sources(cited) == {"wombats.md"}

    done = run_qa(built, "index", "remove", "wombats.md")
    assert done.returncode == 0, done.stderr
    assert not (built.corpus_dir / "wombats.md").exists()

    after = reader.ask(WOMBAT_QUESTION)
    assert after["version"] > cited["version"]
    assert "wombats.md" not in cited_sources(after)
    assert "wombats.md" not in after["searched"]
    assert all(p["source"] != "wombats.md" for p in after["answer"]["nearest"])
    still = reader.ask(BEIJING_QUESTION)
    assert still["answer"]["answerable"] and cited_sources(still) == {ARTICLE_SOURCE}


def test_a_long_lived_writer_adding_after_another_process_keeps_that_process_s_vectors(
    private_article_index, tmp_path
):
    """A writer keeps its Chroma client between writes while it is the last writer (the `WRITER`
    signature) and reloads it otherwise: either way, a document another process added in between must
    keep its vectors, and no chunk may be duplicated or stray, when this one writes again."""
    built = private_article_index
    writer = Assistant(corpus_dir=built.corpus_dir, index_dir=built.index_dir, answerer="extractive")
    documents = {"quokkas.txt": QUOKKAS, "wombats.md": WOMBATS, "kelp.txt": KELP}
    for name in documents:
        (tmp_path / name).write_text(documents[name], encoding="utf-8")
    writer.add([tmp_path / "quokkas.txt"])  # this process has written and holds the vectors
    done = run_qa(built, "index", "add", tmp_path / "wombats.md")
    assert done.returncode == 0, done.stderr
    writer.add([tmp_path / "kelp.txt"])  # written over what the other process added

    fresh = Assistant(corpus_dir=built.corpus_dir, index_dir=built.index_dir, answerer="extractive")
    snapshot = fresh.store.open()
    assert not snapshot.strays
    for name, text in documents.items():  # the vector search alone finds each one
        best, _ = snapshot.nearest(fresh.embeddings.embed_query(text), k=1)[0]
        assert snapshot.keyword.source_of(snapshot.keyword.row(best)) == name
    assert_no_duplicated_or_stray_chunks(fresh)


KELP = (
    "Kelp forests\n\n"
    "Giant kelp grows up to half a metre a day in cold coastal waters. "
    "Sea otters protect kelp forests by eating the urchins that graze on them.\n"
)
