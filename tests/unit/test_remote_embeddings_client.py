"""The embeddings-server client against a scripted OpenAI-compatible server: a real HTTP server on a
loopback port, in a thread, that can fail on cue. The real server process is in
tests/integration/test_remote_embeddings.py."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from helpers import free_port

from qa.assistant import Assistant
from qa.errors import QAError
from qa.remote_embeddings import RemoteEmbeddings
from qa.settings import Settings

DIM = 8


def raw_vector(text: str) -> list[float]:
    """A deterministic vector of length 3 + len(text) (not unit length, as llama.cpp's are not)."""
    vec = np.zeros(DIM)
    for i, byte in enumerate(text.encode()):
        vec[i % DIM] += byte
    vec[0] += 1.0
    return list(vec / np.linalg.norm(vec) * (3 + len(text)))


@dataclass
class Scripted:
    """What the server does: the statuses to answer before succeeding, and what it was asked."""

    url: str
    failures: list[int] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: ["fake-model"])
    reverse: bool = False  # send the rows in reverse order (the `index` field says which is which)
    retry_after: str | None = None
    delay: float = 0.0  # seconds each embeddings request takes
    requests: list[dict[str, Any]] = field(default_factory=list)
    active: int = 0
    most_active: int = 0  # the most embeddings requests handled at once
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def server() -> Iterator[Scripted]:
    port = free_port()
    scripted = Scripted(f"http://127.0.0.1:{port}/v1")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _fail_if_scripted(self) -> bool:
            if not scripted.failures:
                return False
            status = scripted.failures.pop(0)
            headers = {"Retry-After": scripted.retry_after} if scripted.retry_after else None
            self._send(status, {"error": {"message": f"scripted {status}", "type": "test"}}, headers)
            return True

        def do_GET(self) -> None:
            scripted.requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
            if self._fail_if_scripted():
                return
            if self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": m} for m in scripted.models]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            scripted.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
            with scripted.lock:
                scripted.active += 1
                scripted.most_active = max(scripted.most_active, scripted.active)
            time.sleep(scripted.delay)
            with scripted.lock:
                scripted.active -= 1
            if self._fail_if_scripted():
                return
            if self.path != "/v1/embeddings":
                self._send(404, {"error": {"message": "not found"}})
                return
            rows = [
                {"object": "embedding", "index": i, "embedding": raw_vector(text)}
                for i, text in enumerate(body["input"])
            ]
            self._send(
                200,
                {"object": "list", "model": body["model"], "data": rows[:: -1 if scripted.reverse else 1]},
            )

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield scripted
    finally:
        httpd.shutdown()
        httpd.server_close()


def client(server: Scripted, **kwargs: Any) -> RemoteEmbeddings:
    kwargs.setdefault("model", "fake-model")
    kwargs.setdefault("backoff", 0.0)
    return RemoteEmbeddings(server.url, **kwargs)


def embedding_requests(server: Scripted) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["path"] == "/v1/embeddings"]


def test_texts_are_sent_in_batches_and_come_back_in_order_as_unit_length_float32_rows(server):
    server.reverse = True
    texts = [f"text number {i}" for i in range(70)]
    vectors = client(server, batch_size=32).encode(texts)
    # batches are in flight together, so they may reach the server in any order
    assert sorted(len(r["body"]["input"]) for r in embedding_requests(server)) == [6, 32, 32]
    assert vectors.dtype == np.float32 and vectors.shape == (70, DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    expected = np.asarray([raw_vector(t) for t in texts])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_batches_are_sent_several_at_a_time_but_no_more_than_asked(server):
    server.delay = 0.2
    texts = [f"text {i}" for i in range(10 * 4)]
    vectors = client(server, batch_size=4, in_flight=3).encode(texts)
    assert len(vectors) == 40 and len(embedding_requests(server)) == 10
    assert server.most_active == 3


def test_one_at_a_time_when_asked(server):
    server.delay = 0.05
    client(server, batch_size=4, in_flight=1).encode([f"text {i}" for i in range(12)])
    assert server.most_active == 1


def test_after_a_failed_batch_the_batches_not_yet_sent_are_dropped(server):
    server.failures = [400]
    server.delay = 0.1
    with pytest.raises(QAError, match="refused the request"):
        client(server, batch_size=1, in_flight=2).encode([f"text {i}" for i in range(20)])
    assert len(embedding_requests(server)) <= 4


def test_the_langchain_interface_gives_the_same_vectors_as_lists(server):
    remote = client(server)
    assert remote.embed_documents([]) == []
    doc = remote.embed_documents(["alpha", "beta"])
    query = remote.embed_query("alpha")
    assert len(doc) == 2 and all(isinstance(x, float) for x in query)
    np.testing.assert_allclose(doc[0], query, atol=1e-6)


def test_the_dimension_is_asked_from_the_server_once(server):
    remote = client(server)
    assert remote.dimension == DIM and remote.dimension == DIM
    assert len(embedding_requests(server)) == 1


def test_after_embedding_the_dimension_needs_no_probe(server):
    remote = client(server)
    remote.encode(["x", "y"])
    assert remote.dimension == DIM and len(embedding_requests(server)) == 1


def test_a_configured_dimension_needs_no_request_and_a_different_one_is_refused(server):
    remote = client(server, dimension=384)
    assert remote.dimension == 384 and server.requests == []
    with pytest.raises(QAError, match=r"returned 8-dimensional vectors, not 384; fix QA_EMBEDDINGS_DIM"):
        remote.encode(["x"])


def test_the_model_name_is_the_one_the_server_lists_when_none_is_configured(server):
    server.models = ["served-model"]
    remote = RemoteEmbeddings(server.url)
    assert remote.name == "served-model"
    remote.encode(["x"])
    assert embedding_requests(server)[0]["body"]["model"] == "served-model"


def test_a_server_with_several_models_needs_the_model_named(server):
    server.models = ["a", "b"]
    with pytest.raises(QAError, match=r"serves 2 models \(a, b\); set QA_EMBEDDINGS_MODEL"):
        _ = RemoteEmbeddings(server.url).name


def test_the_api_key_is_sent_as_a_bearer_token(server):
    client(server, api_key="sekrit").encode(["x"])
    assert embedding_requests(server)[0]["auth"] == "Bearer sekrit"


@pytest.mark.parametrize("status", [503, 502, 500, 429])
def test_a_transient_failure_is_retried(server, status, caplog):
    caplog.set_level(logging.INFO, logger="qa.remote_embeddings")
    server.failures = [status, status]
    vectors = client(server).encode(["x"])
    assert vectors.shape == (1, DIM)
    assert len(embedding_requests(server)) == 3
    assert f"HTTP {status}; retrying" in caplog.text


def test_a_retry_after_header_sets_the_wait(server, caplog):
    caplog.set_level(logging.INFO, logger="qa.remote_embeddings")
    server.failures, server.retry_after = [429], "0"
    client(server, backoff=5.0).encode(["x"])  # would wait 5 s without the header
    assert "retrying in 0.0s" in caplog.text


def test_retries_are_bounded_and_the_error_names_the_server(server):
    server.failures = [503] * 10
    with pytest.raises(QAError) as caught:
        client(server, retries=2).encode(["x"])
    message = str(caught.value)
    assert len(embedding_requests(server)) == 3
    assert message.startswith(f"the embeddings server at {server.url} refused the request (503")
    assert "3 tries" in message and "\n" not in message


@pytest.mark.parametrize(
    ("status", "hint"),
    [(401, "set QA_EMBEDDINGS_API_KEY"), (404, "ending in /v1"), (400, "check QA_EMBEDDINGS_MODEL")],
)
def test_a_refusal_is_not_retried_and_says_what_to_fix(server, status, hint):
    server.failures = [status]
    with pytest.raises(QAError, match=hint) as caught:
        client(server).encode(["x"])
    assert len(embedding_requests(server)) == 1
    assert f"scripted {status}" in str(caught.value) and "\n" not in str(caught.value)


def test_an_unreachable_server_is_one_line_naming_the_url_and_what_to_do():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(QAError) as caught:
        RemoteEmbeddings(url, model="m", retries=1, backoff=0.0).encode(["x"])
    message = str(caught.value)
    assert message == (
        f"cannot reach the embeddings server at {url} (ConnectError after 2 tries); "
        "start it, or fix or unset QA_EMBEDDINGS_URL"
    )


@pytest.mark.parametrize("url", ["localhost:8001/v1", "ftp://host/v1"])
def test_a_url_that_is_not_http_is_refused_with_an_example(url):
    with pytest.raises(QAError, match=r"is not an http\(s\) URL; .* e\.g\. http://127\.0\.0\.1:8001/v1"):
        RemoteEmbeddings(url)


def test_a_url_given_with_its_embeddings_path_is_taken_as_the_base(server):
    remote = RemoteEmbeddings(server.url + "/embeddings/", model="m", backoff=0.0)
    assert remote.url == server.url
    remote.encode(["x"])
    assert len(embedding_requests(server)) == 1


def test_the_assistant_embeds_through_the_server_when_its_url_is_set(server, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_EMBEDDINGS_URL", server.url)
    a = Assistant(
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        settings=Settings(),
        answerer="extractive",
    )
    assert isinstance(a.embeddings, RemoteEmbeddings)
    status = a.status()
    assert (status.embedding_model, status.embedding_dim, status.embedding_backend) == (
        "fake-model",
        DIM,
        "remote",
    )


def test_without_a_url_the_assistant_embeds_in_process(tmp_path):
    a = Assistant(corpus_dir=tmp_path, index_dir=tmp_path / "index", answerer="extractive", embeddings_url="")
    assert not isinstance(a.embeddings, RemoteEmbeddings)
    assert a.embeddings.backend in ("torch", "onnx-int8")
