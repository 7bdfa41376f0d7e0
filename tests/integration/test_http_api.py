"""The HTTP API under /api/v1, served by `qa.ui.app.launch` beside the web chat on one loopback port, over
a real Assistant (the packaged embedding model, a real Chroma index of the article, extractive answers).
Requests go over real HTTP with httpx, as a program on another machine would send them."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers import ANSWER_KEYS, ARTICLE_SOURCE, QUOKKAS, free_port, read_document

import qa.ui.app as app
from qa import Assistant
from qa.api import build_api
from qa.collections import Collections
from qa.errors import IndexBusyError
from qa.server import Access, AnswerSlots

pytestmark = pytest.mark.integration

BEIJING = "Where did the second round of the cybercrime dialogue take place?"
SEG = "What did the Senior Experts Group discuss?"
FOLLOW_UP = "When did they first meet?"
POPULATION = "What is the population of Beijing?"


@pytest.fixture(scope="module")
def served(article_index: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Assistant]]:
    """`launch` on a free loopback port over a copy of the article index that tests here may change."""
    root = tmp_path_factory.mktemp("http-api")
    shutil.copytree(article_index.corpus_dir, root / "corpus")
    shutil.copytree(article_index.index_dir, root / "index", ignore=shutil.ignore_patterns(".lock"))
    assistant = Assistant(corpus_dir=root / "corpus", index_dir=root / "index", answerer="extractive")
    port = free_port()
    demo = app.launch(assistant, host="127.0.0.1", port=port, prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{port}", assistant
    finally:
        demo.close()


@pytest.fixture
def api(served: tuple[str, Assistant]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0] + "/api/v1", timeout=120) as client:
        yield client


def one_line_error(response: httpx.Response, status: int, type_: str) -> str:
    """The error body's message, after checking the shape every error has."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == type_
    message = body["error"]["message"]
    assert message and "\n" not in message and "Traceback" not in message
    return str(message)


def test_ask_returns_the_cli_json_with_citations_that_quote_the_document_exactly(
    api: httpx.Client, served: tuple[str, Assistant]
) -> None:
    response = api.post("/ask", json={"question": BEIJING})
    assert response.status_code == 200
    answer = response.json()
    assert list(answer) == ANSWER_KEYS
    assert answer["answerable"] and "Beijing" in answer["answer"] and "[1]" in answer["answer"]
    assert answer["mode"] == "extractive"
    article = read_document(served[1].corpus_dir / ARTICLE_SOURCE)
    for citation in answer["citations"]:
        assert article[citation["start"] : citation["end"]] == citation["text"]
    assert answer == served[1].ask(BEIJING).to_dict()  # the same answer the Python API gives


def test_a_follow_up_uses_the_history_sent_with_it(api: httpx.Client) -> None:
    first = api.post("/ask", json={"question": SEG}).json()
    history = [{"question": SEG, "answer": first["answer"]}]
    follow_up = api.post("/ask", json={"question": FOLLOW_UP, "history": history}).json()
    assert follow_up["query"] == "When did the Senior Experts Group first meet?"
    assert "May" in follow_up["answer"]


def test_a_question_the_documents_cannot_answer_is_declined_with_its_nearest_passages(
    api: httpx.Client,
) -> None:
    answer = api.post("/ask", json={"question": POPULATION}).json()
    assert answer["answerable"] is False and answer["citations"] == []
    assert "don't say" in answer["answer"] and answer["nearest"]


def test_ask_with_stream_sends_growing_answers_then_the_final_checked_one(api: httpx.Client) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    with api.stream("POST", "/ask", json={"question": BEIJING, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((str(event), json.loads(line.removeprefix("data: "))))
    assert {name for name, _ in events} == {"answer"}
    updates = [data for _, data in events]
    assert len(updates) >= 2 and [u["final"] for u in updates] == [False] * (len(updates) - 1) + [True]
    texts = [u["answer"] for u in updates]
    assert all(len(a) < len(b) for a, b in itertools.pairwise(texts))  # it grows
    final = {k: v for k, v in updates[-1].items() if k != "final"}
    assert final == api.post("/ask", json={"question": BEIJING}).json()


def test_ask_within_one_document_answers_only_from_it(api: httpx.Client) -> None:
    answer = api.post("/ask", json={"question": BEIJING, "sources": ["no-such.txt"]}).json()
    assert answer["answerable"] is False


def test_search_returns_k_passages_of_the_search_shape(api: httpx.Client) -> None:
    passages = api.get("/search", params={"q": "cybercrime dialogue in Beijing", "k": 3}).json()
    assert len(passages) == 3
    assert all(
        list(p) == ["source", "start", "end", "text", "score", "page", "section", "ocr"] for p in passages
    )
    assert "Beijing" in passages[0]["text"]
    only = api.get("/search", params={"q": "cybercrime", "source": ARTICLE_SOURCE}).json()
    assert {p["source"] for p in only} == {ARTICLE_SOURCE}


@pytest.mark.parametrize("k", [0, 51])
def test_search_refuses_k_outside_1_to_50_with_one_line(api: httpx.Client, k: int) -> None:
    message = one_line_error(
        api.get("/search", params={"q": "cybercrime", "k": k}), 422, "invalid_request_error"
    )
    assert message.startswith("invalid request: k: ")


def test_a_too_long_question_is_a_400_naming_the_limit(api: httpx.Client) -> None:
    response = api.post("/ask", json={"question": "Where " + "x" * 1995})
    message = one_line_error(response, 400, "question_error")
    assert "2001 characters" in message and "QA_MAX_QUESTION_CHARS" in message


def test_an_empty_question_and_a_malformed_body_are_one_line_errors(api: httpx.Client) -> None:
    assert "question is empty" in one_line_error(
        api.post("/ask", json={"question": " "}), 400, "question_error"
    )
    missing = one_line_error(api.post("/ask", json={"sources": []}), 422, "invalid_request_error")
    assert "question: Field required" in missing
    unknown = one_line_error(
        api.post("/ask", json={"question": "q", "strem": True}), 422, "invalid_request_error"
    )
    assert "strem" in unknown
    not_json = api.post("/ask", content=b"{not json", headers={"Content-Type": "application/json"})
    one_line_error(not_json, 422, "invalid_request_error")


def test_an_unknown_collection_is_a_404_that_says_how_to_create_it(api: httpx.Client) -> None:
    response = api.post("/ask", json={"question": BEIJING, "collection": "legal"})
    assert "qa collections create legal" in one_line_error(response, 404, "not_found_error")
    assert api.get("/documents", params={"collection": "default"}).status_code == 200


def test_an_unknown_route_is_a_json_404(api: httpx.Client) -> None:
    assert "no such route" in one_line_error(api.get("/nowhere"), 404, "not_found_error")
    assert "not allowed" in one_line_error(api.put("/ask", json={}), 405, "invalid_request_error")


def test_status_documents_and_health_have_the_cli_shapes(
    api: httpx.Client, served: tuple[str, Assistant]
) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    status = api.get("/status").json()
    assert status["generation"] == served[1].status().generation
    assert [d["source"] for d in status["sources"]] == [ARTICLE_SOURCE]
    documents = api.get("/documents").json()
    assert documents == status["sources"] and documents[0]["chunks"] == status["chunks"]


def test_an_uploaded_document_is_answerable_then_removable(
    api: httpx.Client, served: tuple[str, Assistant], tmp_path: Path
) -> None:
    response = api.post(
        "/documents", files=[("files", ("../../quokka-notes.txt", QUOKKAS.encode(), "text/plain"))]
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["added"] == ["quokka-notes.txt"] and report["skipped"] == []
    assert (served[1].corpus_dir / "quokka-notes.txt").is_file()  # under its own name, no path
    answer = api.post("/ask", json={"question": "Where do quokkas live?"}).json()
    assert answer["citations"][0]["source"] == "quokka-notes.txt" and "Rottnest" in answer["answer"]

    removed = api.delete("/documents/quokka-notes.txt").json()
    assert removed["removed"] == ["quokka-notes.txt"]
    assert not (served[1].corpus_dir / "quokka-notes.txt").exists()
    missing = one_line_error(api.delete("/documents/quokka-notes.txt"), 404, "not_found_error")
    assert ARTICLE_SOURCE in missing  # says which documents there are


def test_an_upload_that_cannot_be_used_is_refused_and_never_reaches_the_corpus(
    api: httpx.Client, served: tuple[str, Assistant]
) -> None:
    before = sorted(p.name for p in served[1].corpus_dir.iterdir())
    slides = api.post(
        "/documents", files=[("files", ("slides.pptx", b"PK\x03\x04 not ours", "application/zip"))]
    )
    assert "slides.pptx" in one_line_error(slides, 422, "corpus_error")
    hidden = api.post("/documents", files=[("files", (".env", b"SECRET=1", "text/plain"))])
    assert "name the corpus ignores" in one_line_error(hidden, 422, "corpus_error")
    assert sorted(p.name for p in served[1].corpus_dir.iterdir()) == before


def test_an_upload_over_the_size_limit_is_a_413_before_it_is_stored(
    api: httpx.Client, served: tuple[str, Assistant]
) -> None:
    limit = int(served[1].settings.max_file_mb * 1e6)
    big = b"quokka " * (limit // 7 + 1)
    response = api.post("/documents", files=[("files", ("big.txt", big, "text/plain"))])
    assert "QA_MAX_FILE_MB" in one_line_error(response, 413, "request_too_large")
    assert not (served[1].corpus_dir / "big.txt").exists()


def test_removing_the_last_document_is_refused(api: httpx.Client) -> None:
    message = one_line_error(api.delete(f"/documents/{ARTICLE_SOURCE}"), 422, "corpus_error")
    assert "nothing to answer from" in message


def test_the_docs_page_and_schema_are_served_from_this_machine(served: tuple[str, Assistant]) -> None:
    base = served[0]
    page = httpx.get(base + "/api/v1/docs", timeout=30)
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "cdn." not in page.text and "https://" not in page.text.replace("https://fastapi.tiangolo.com", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/api/v1/docs/assets/{asset}" in page.text
        assert httpx.get(f"{base}/api/v1/docs/assets/{asset}", timeout=30).status_code == 200
    schema = httpx.get(base + "/api/v1/openapi.json", timeout=30).json()
    assert {"/ask", "/search", "/documents", "/documents/{source}", "/status", "/health"} <= set(
        schema["paths"]
    )
    answer = schema["components"]["schemas"]["AnswerJSON"]["properties"]
    assert list(answer) == ANSWER_KEYS


def test_the_web_chat_is_still_served_beside_the_api(served: tuple[str, Assistant]) -> None:
    page = httpx.get(served[0] + "/", timeout=30)
    assert page.status_code == 200 and "gradio" in page.text.lower()
    config = httpx.get(served[0] + "/config", timeout=30).json()
    assert "components" in config


# ---- failures that are not the caller's ------------------------------------------------------------


class BrokenAssistant(Assistant):
    """A real Assistant whose search fails unexpectedly, and whose documents report a busy index."""

    def search(self, query: str, k: int = 5, sources: list[str] | None = None) -> Any:
        raise RuntimeError("disk on fire at /srv/secret/path")

    def documents(self) -> Any:
        raise IndexBusyError("another process is writing the index; try again in a minute")


def test_an_unexpected_failure_is_a_500_with_one_plain_line_and_the_details_only_in_the_log(
    article_index: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken = BrokenAssistant(settings=article_index.assistant.settings)
    api = build_api(Collections(assistant=broken), AnswerSlots(), Access(None, open=True), 1_000_000)
    with TestClient(api, raise_server_exceptions=False) as client:
        response = client.get("/search", params={"q": "cybercrime"})
        message = one_line_error(response, 500, "server_error")
        assert "disk on fire" not in response.text and "/srv/secret" not in response.text
        assert "server" in message and "log" in message
        busy = client.get("/documents")
        assert "try again" in one_line_error(busy, 503, "index_error")
    assert "disk on fire" in caplog.text and "Traceback" in caplog.text


def test_every_answer_gives_its_slot_back_streamed_or_not_answered_or_declined(article_index: Any) -> None:
    slots = AnswerSlots(limit=1, waiting=0, wait_seconds=1)  # a kept slot would turn the next one away
    api = build_api(Collections(assistant=article_index.assistant), slots, Access(None, open=True), 10**6)
    with TestClient(api) as client:
        for question in (BEIJING, POPULATION):
            for stream in (False, True):
                response = client.post("/ask", json={"question": question, "stream": stream})
                assert response.status_code == 200, response.text
                assert slots.busy == 0, (question, stream)
        assert client.post("/ask", json={"question": ""}).status_code == 400
        assert slots.busy == 0
