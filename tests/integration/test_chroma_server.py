"""The index on a real Chroma server (`chroma run`, the executable installed with chromadb): build,
search, ask, incremental updates and full rebuilds, and a second client with an empty local index
folder that sees the same index, which proves nothing lives only in the local folder.

Skipped when `chroma run` cannot start here, unless QA_REQUIRE_CHROMA_SERVER=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import (
    ARTICLE_SOURCE,
    CORPUS_DIR,
    free_port,
    manifest_chunk_total,
    read_document,
    stop,
    stored_chunk_count,
)

from qa import Assistant
from qa.index import IndexStore
from qa.retrieval import hybrid_search
from qa.store import ServerStore

pytestmark = pytest.mark.integration

BEIJING_QUESTION = "Where did the second round of the cybercrime dialogue take place?"
HEARTBEAT = "/api/v2/heartbeat"  # chromadb 1.x serves v2 only (v1 answers 410 Gone)
START_TIMEOUT = 60.0  # seconds to wait for the heartbeat (a bound, not a check)
# A made-up word that only the ledger contains. The decoy is full of look-alike words, so the dense
# ranking (MiniLM's word pieces) puts the decoy first; only the keyword (BM25) ranking, which matches
# whole words, puts the ledger first, and with it the fused ranking.
KEYWORD = "Zorvexilian"
LEDGER = (
    "Inventory ledger\n\n"
    f"Crate 41 holds the {KEYWORD} gaskets ordered in March. "
    "Crate 42 holds spare hinges and two boxes of screws.\n"
)
DECOY = (
    "Zorvex\n\n"
    "Zorvex, Zorvexia and Vexilia are invented names from a fantasy novel about the Zorvexi people.\n"
)
INDEXED = [ARTICLE_SOURCE, "ledger.txt", "zorvex.txt"]
WOMBATS = (
    "# Wombats\n\n"
    "Wombats are burrowing marsupials native to Australia. "
    "A wombat produces cube-shaped droppings, which it uses to mark its territory.\n"
)


def heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + HEARTBEAT, timeout=2) as response:
            return response.status == 200 and "heartbeat" in response.read().decode()
    except OSError:
        return False


def cannot_start(reason: str) -> None:
    if os.environ.get("QA_REQUIRE_CHROMA_SERVER") == "1":
        pytest.fail(f"QA_REQUIRE_CHROMA_SERVER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def chroma_server(tmp_path):
    """A `chroma run` server on a free loopback port with its data in tmp; its URL. Always stopped."""
    executable = Path(sys.executable).with_name("chroma")
    if not executable.exists():
        cannot_start(f"no `chroma` executable next to {sys.executable}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "chroma.log"
    data = tmp_path / "chroma-data"
    command = [str(executable), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not heartbeat(url):
            if server.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                cannot_start(f"`chroma run` did not answer {HEARTBEAT} on {url}: {output}")
            time.sleep(0.2)
        yield url
    finally:
        stop(server, timeout=20)


@dataclass
class ServerIndex:
    url: str
    corpus_dir: Path
    assistant: Assistant  # built the index on the server; its local index folder is its own
    generation: str

    def client(self, index_dir: Path) -> Assistant:
        return Assistant(
            corpus_dir=self.corpus_dir, index_dir=index_dir, answerer="extractive", chroma_url=self.url
        )


@pytest.fixture
def server_index(chroma_server, tmp_path) -> ServerIndex:
    """The article, a small ledger and a decoy, built on the server by an Assistant given the server's URL."""
    corpus_dir = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, corpus_dir)
    (corpus_dir / "ledger.txt").write_text(LEDGER, encoding="utf-8")
    (corpus_dir / "zorvex.txt").write_text(DECOY, encoding="utf-8")
    assistant = Assistant(
        corpus_dir=corpus_dir, index_dir=tmp_path / "index-a", answerer="extractive", chroma_url=chroma_server
    )
    report = assistant.rebuild()
    assert sorted(report.added) == INDEXED and not report.skipped
    return ServerIndex(chroma_server, corpus_dir, assistant, report.generation)


def assert_answers_beijing_with_exact_citations(assistant: Assistant, corpus_dir: Path) -> None:
    answer = assistant.ask(BEIJING_QUESTION)
    assert answer.answerable and "Beijing" in answer.text, answer.text
    assert {c.source for c in answer.citations} == {ARTICLE_SOURCE}
    article = read_document(corpus_dir / ARTICLE_SOURCE)
    assert all(article[c.start : c.end] == c.text for c in answer.citations)


def test_an_index_built_on_a_chroma_server_answers_and_its_keyword_search_finds_a_made_up_word(
    server_index, tmp_path
):
    assistant = server_index.assistant
    assert assistant.status().documents == len(INDEXED)
    assert_answers_beijing_with_exact_citations(assistant, server_index.corpus_dir)
    snapshot = assistant.store.open()
    [(nearest, _)] = snapshot.nearest(assistant.embeddings.encode([KEYWORD])[0], k=1)
    dense_only = snapshot.chunks[snapshot.positions[nearest]]
    assert dense_only.source == "zorvex.txt"  # the premise: dense alone picks the decoy
    [hit, *_] = assistant.search(KEYWORD, k=3)
    assert hit.source == "ledger.txt" and KEYWORD in hit.text
    assert read_document(server_index.corpus_dir / "ledger.txt")[hit.start : hit.end] == hit.text
    # Everything is on the server: the local index folder holds no Chroma data and no pointer.
    local = tmp_path / "index-a"
    assert not (local / "CURRENT").exists() and not list(local.glob("gen-*"))


def test_a_second_client_with_an_empty_local_index_folder_sees_the_same_index_on_the_server(
    server_index, tmp_path
):
    empty = tmp_path / "index-b"
    other = server_index.client(empty)
    assert other.status().generation == server_index.generation
    assert other.documents() == server_index.assistant.documents()
    assert [h.source for h in other.search(KEYWORD, k=1)] == ["ledger.txt"]
    assert_answers_beijing_with_exact_citations(other, server_index.corpus_dir)
    assert not empty.exists() or not any(empty.iterdir())


def test_the_qa_command_line_uses_the_server_named_by_qa_chroma_url(server_index, tmp_path):
    corpus = server_index.corpus_dir
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["QA_CHROMA_URL"] = server_index.url
    where = ["--corpus", str(corpus), "--index", str(tmp_path / "index-c")]
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", *where, "search", KEYWORD, "-k", "1", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    [hit] = json.loads(done.stdout)
    assert hit["source"] == "ledger.txt" and KEYWORD in hit["text"]
    assert not (tmp_path / "index-c" / "CURRENT").exists()


def test_an_incremental_add_on_the_server_is_seen_by_another_client_on_its_next_question(
    server_index, tmp_path
):
    reader = server_index.client(tmp_path / "index-b")
    assert "wombats.md" not in {h.source for h in reader.search("wombat droppings", k=5)}  # opened now

    incoming = tmp_path / "wombats.md"
    incoming.write_text(WOMBATS, encoding="utf-8")
    report = server_index.assistant.add([incoming])
    assert report.added == ["wombats.md"] and sorted(report.unchanged) == INDEXED
    assert report.embedded == {d.source: d.chunks for d in reader.documents()}["wombats.md"]
    assert report.generation == server_index.generation  # updated in place: nothing copied

    answer = reader.ask("What shape are wombat droppings?")
    assert answer.answerable and "cube-shaped" in answer.text
    assert {c.source for c in answer.citations} == {"wombats.md"}
    assert stored_chunk_count(reader) == manifest_chunk_total(reader)

    server_index.assistant.remove(["wombats.md"])
    assert all(h.source != "wombats.md" for h in reader.search("wombat cube-shaped droppings", k=5))
    assert stored_chunk_count(reader) == manifest_chunk_total(reader)


def test_a_full_rebuild_on_the_server_switches_every_client_to_the_new_generation(server_index, tmp_path):
    reader = server_index.client(tmp_path / "index-b")
    assert reader.status().generation == server_index.generation
    reader.search(KEYWORD, k=1)  # the reader has the old generation open

    report = server_index.assistant.rebuild(full=True)
    assert report.generation != server_index.generation
    assert report.embedded == report.chunks == manifest_chunk_total(reader)

    assert reader.status().generation == report.generation
    assert [h.source for h in reader.search(KEYWORD, k=1)] == ["ledger.txt"]
    assert_answers_beijing_with_exact_citations(reader, server_index.corpus_dir)
    assert stored_chunk_count(reader) == manifest_chunk_total(reader)

    # The old generation stays for readers that still hold it; a second full rebuild drops it.
    second = server_index.assistant.rebuild(full=True)
    client = reader.store.storage.client("")
    names = {c.name for c in client.list_collections()}
    generations = {n.split("-", 2)[2] for n in names if n.startswith("qa-chunks-")}
    assert generations == {report.generation, second.generation}


class CountingServerStore(ServerStore):
    """The server store with its own keyword cache folder, counting how often every chunk text is read."""

    def __init__(self, url: str, cache_dir: Path) -> None:
        super().__init__(url, cache_dir=cache_dir)
        self.full_reads = 0

    def read_chunks(self, generation, versions):
        self.full_reads += 1
        return super().read_chunks(generation, versions)


def test_a_client_downloads_the_chunk_texts_once_then_opens_its_cached_keyword_index(server_index, tmp_path):
    writer = server_index.assistant
    cache = tmp_path / "client-cache"

    def client() -> tuple[IndexStore, CountingServerStore]:
        storage = CountingServerStore(server_index.url, cache_dir=cache)
        settings = writer.settings
        index = IndexStore(
            tmp_path / "index-b", writer.embeddings, settings.chunk_size, settings.chunk_overlap,
            chroma_url=server_index.url, storage=storage,
        )  # fmt: skip
        return index, storage

    def found(index: IndexStore, query: str) -> list[tuple[str, int, int, float]]:
        return [
            (p.source, p.start, p.end, p.score)
            for p in hybrid_search(index.open(), writer.embeddings, query, k=3)
        ]

    expected = [(p.source, p.start, p.end, p.score) for p in writer.search(KEYWORD, k=3)]
    first, first_storage = client()
    assert found(first, KEYWORD) == expected
    assert first_storage.full_reads == 1  # no cached keyword index yet: every text, once
    assert len(list(cache.rglob("meta.json"))) == 1

    second, second_storage = client()  # a fresh start of the same client machine
    assert found(second, KEYWORD) == expected
    assert second_storage.full_reads == 0

    incoming = tmp_path / "wombats.md"
    incoming.write_text(WOMBATS, encoding="utf-8")
    writer.add([incoming])  # another machine's incremental build: the client fetches only that document
    third, third_storage = client()
    assert found(third, "wombat droppings")[0][0] == "wombats.md"
    assert found(third, KEYWORD) == [(p.source, p.start, p.end, p.score) for p in writer.search(KEYWORD, k=3)]
    assert third_storage.full_reads == 0
