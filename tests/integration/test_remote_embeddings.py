"""Remote embeddings (`QA_EMBEDDINGS_URL`) against a real server process: llama.cpp's OpenAI-compatible
server (`python -m llama_cpp.server --embedding true`) serving the packaged MiniLM, written as GGUF by
`qa.minilm_gguf`, on a loopback port. It serves the same model as the in-process encoder, so the
rankings must be the same."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from helpers import ARTICLE_SOURCE, free_port, stop

from qa import Assistant
from qa.embeddings import MODEL_DIM, MODEL_NAME, PackagedMiniLM
from qa.errors import IndexMismatchError
from qa.minilm_gguf import export, server_command
from qa.remote_embeddings import RemoteEmbeddings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not all(importlib.util.find_spec(m) for m in ("llama_cpp", "gguf", "uvicorn")),
        reason="the server extra (llama-cpp-python[server], gguf) is not installed",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    json.loads(line)["question"]
    for name in ("article_dev.jsonl", "article_paraphrased.jsonl")
    for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
    if line.strip()
]
BEIJING = "Where did the second round of the cybercrime dialogue take place?"
STARTUP_SECONDS = 120
log = logging.getLogger(__name__)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="session")
def minilm_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(tmp_path_factory.mktemp("gguf") / "all-MiniLM-L6-v2.gguf")


def start_server(gguf: Path, folder: Path) -> Server:
    """llama.cpp's server with the packaged MiniLM, as the README starts it, on a free loopback port."""
    port = free_port()
    log_path = folder / f"embeddings-server-{port}.log"
    command = server_command(gguf, port)
    with open(log_path, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"the embeddings server exited ({process.returncode}):\n{log_path.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{url}/models", timeout=2).is_success:
                return Server(url, process, log_path)
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop(process)
            pytest.fail(f"the embeddings server did not answer in {STARTUP_SECONDS}s")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def server(minilm_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start_server(minilm_gguf, tmp_path_factory.mktemp("embeddings-server"))
    try:
        yield started
    finally:
        stop(started.process)


@pytest.fixture(scope="module")
def torch_minilm() -> PackagedMiniLM:
    """The in-process encoder in full precision: the same computation the server does."""
    return PackagedMiniLM(backend="torch")


def copy_corpus(article_index: Any, folder: Path) -> Path:
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    (corpus / ARTICLE_SOURCE).write_bytes((article_index.corpus_dir / ARTICLE_SOURCE).read_bytes())
    return corpus


@pytest.fixture(scope="module")
def remote_index(server: Server, article_index: Any, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The article indexed through the server."""
    root = tmp_path_factory.mktemp("remote-index")
    a = Assistant(
        corpus_dir=copy_corpus(article_index, root),
        index_dir=root / "index",
        answerer="extractive",
        embeddings_url=server.url,
    )
    report = a.rebuild()
    assert report.added == [ARTICLE_SOURCE] and report.embedded > 5
    return a


@pytest.fixture(scope="module")
def torch_index(article_index: Any, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The article indexed in-process with the same model, in full precision."""
    root = tmp_path_factory.mktemp("torch-index")
    a = Assistant(
        corpus_dir=copy_corpus(article_index, root),
        index_dir=root / "index",
        answerer="extractive",
        embedding_backend="torch",
    )
    a.rebuild()
    return a


def test_the_server_gives_the_in_process_vectors_and_dense_rankings_for_every_question(
    remote_index, torch_minilm, server
):
    chunks = [c.text for c in remote_index.store.open().chunks]
    remote = RemoteEmbeddings(server.url, model=MODEL_NAME)
    got, expected = remote.encode(chunks + QUESTIONS), torch_minilm.encode(chunks + QUESTIONS)
    assert got.shape == expected.shape == (len(chunks) + len(QUESTIONS), MODEL_DIM)
    agreement = np.sum(got * expected, axis=1)
    # The dense scores retrieval ranks by: every question against every chunk.
    n = len(chunks)
    remote_scores, local_scores = got[n:] @ got[:n].T, expected[n:] @ expected[:n].T
    score_gap = np.abs(remote_scores - local_scores).max()
    top5 = [np.argsort(-scores, axis=1)[:, :5] for scores in (remote_scores, local_scores)]
    same = int(np.all(top5[0] == top5[1], axis=1).sum())
    log.warning(
        "vector cosine min %.7f; largest question-chunk score gap %.2e; dense top-5 identical for %d of %d",
        agreement.min(), score_gap, same, len(QUESTIONS),
    )  # fmt: skip
    assert agreement.min() > 1 - 1e-3
    assert score_gap < 1e-3
    assert same == len(QUESTIONS)


def test_search_over_the_article_ranks_as_the_in_process_encoder_does(remote_index, torch_index):
    differing = []
    for question in QUESTIONS:
        remote = [(p.source, p.start, p.end) for p in remote_index.search(question, k=5)]
        local = [(p.source, p.start, p.end) for p in torch_index.search(question, k=5)]
        if remote != local:
            differing.append(question)
    log.warning("top-5 identical for %d of %d questions", len(QUESTIONS) - len(differing), len(QUESTIONS))
    assert differing == []


def test_an_index_built_through_the_server_records_its_model_and_answers(remote_index):
    status = remote_index.status()
    assert (status.embedding_model, status.embedding_dim, status.embedding_backend) == (
        MODEL_NAME,
        MODEL_DIM,
        "remote",
    )
    answer = remote_index.ask(BEIJING)
    assert answer.answerable and "Beijing" in answer.text
    assert answer.citations and all("Beijing" in c.text for c in answer.citations[:1])


def test_an_index_built_in_process_is_refused_with_the_command_that_rebuilds_it(
    server, private_article_index
):
    a = private_article_index.open_assistant(embeddings_url=server.url)
    with pytest.raises(IndexMismatchError) as caught:
        a.search(BEIJING)
    message = str(caught.value)
    assert "embedding_backend=" in message and "(now 'remote')" in message
    assert message.endswith("rebuild it with `qa index build --full`") and "\n" not in message

    report = a.rebuild(full=True)
    assert report.embedded > 5
    assert a.search(BEIJING, k=1)[0].text.count("Beijing")
    in_process = private_article_index.open_assistant()
    with pytest.raises(IndexMismatchError, match=r"embedding_backend='remote'"):
        in_process.search(BEIJING)


class FlakyProxy:
    """A real HTTP server in front of the real one that answers the first `failures` embeddings
    requests with 503 Service Unavailable, as a busy or restarting server does, then passes through."""

    def __init__(self, upstream: str, failures: int) -> None:
        self.upstream, self.failures, self.seen = upstream, failures, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if method == "POST":
                    proxy.seen += 1
                    if proxy.seen <= proxy.failures:
                        self.send_response(503)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                path = self.path.removeprefix("/v1")
                response = httpx.request(
                    method, proxy.upstream + path, content=body, headers={"Content-Type": "application/json"}
                )
                self.send_response(response.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            def do_GET(self) -> None:
                self._relay("GET")

            def do_POST(self) -> None:
                self._relay("POST")

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_transient_503_from_the_server_is_retried(server, torch_minilm, caplog):
    caplog.set_level(logging.INFO, logger="qa.remote_embeddings")
    proxy = FlakyProxy(server.url, failures=2)
    try:
        vectors = RemoteEmbeddings(proxy.url, model=MODEL_NAME, backoff=0.05).encode([BEIJING])
    finally:
        proxy.close()
    assert proxy.seen == 3
    assert caplog.text.count("HTTP 503; retrying") == 2
    assert float(vectors[0] @ torch_minilm.encode([BEIJING])[0]) > 1 - 1e-3


def test_a_stopped_server_is_one_line_on_stderr_naming_its_url(minilm_gguf, article_index, tmp_path):
    own = start_server(minilm_gguf, tmp_path)
    try:
        corpus, index = copy_corpus(article_index, tmp_path), tmp_path / "index"
        env = {**os.environ, "QA_EMBEDDINGS_URL": own.url, "QA_ANSWERER": "extractive"}
        qa = [sys.executable, "-m", "qa.cli", "--corpus", str(corpus), "--index", str(index)]
        built = subprocess.run([*qa, "index", "build"], env=env, capture_output=True, text=True, timeout=300)
        assert built.returncode == 0, built.stderr
        status = subprocess.run([*qa, "index", "status", "--json"], env=env, capture_output=True, text=True)
        assert json.loads(status.stdout)["embedding_backend"] == "remote"
    finally:
        stop(own.process)
    searched = subprocess.run([*qa, "search", BEIJING], env=env, capture_output=True, text=True, timeout=300)
    assert searched.returncode == 1 and searched.stdout == ""
    assert searched.stderr.strip().splitlines() == [
        f"error: cannot reach the embeddings server at {own.url} (ConnectError after 4 tries); "
        "start it, or fix or unset QA_EMBEDDINGS_URL"
    ]
