"""The OpenAI-compatible endpoint and the key, as users meet them: a real `qa serve` process, driven by the
official `openai` Python client (streaming and not) and by plain HTTP.

The server listens on all interfaces with QA_API_KEY and QA_UI_AUTH set, as it would on a network: the
API then needs the key, and a missing or wrong key gets a 401 that gives nothing away. It is reached at
127.0.0.1. Answers are extractive (fast); the article index is copied from the session's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import ARTICLE_SOURCE, ROOT, free_port, read_document, stop

pytestmark = pytest.mark.integration

KEY = "test-key-6f1d0c2a9b"
BEIJING = "Where did the second round of the cybercrime dialogue take place?"
SEG = "What did the Senior Experts Group discuss?"
FOLLOW_UP = "When did they first meet?"
POPULATION = "What is the population of Beijing?"
START_TIMEOUT = 180.0


@dataclass
class Served:
    url: str
    corpus_dir: Path
    log_path: Path


@pytest.fixture(scope="module")
def served(article_index: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("openai-endpoint")
    shutil.copytree(article_index.corpus_dir, root / "corpus")
    shutil.copytree(article_index.index_dir, root / "index", ignore=shutil.ignore_patterns(".lock"))
    port, log_path = free_port(), root / "serve.log"
    env = {
        **os.environ,
        "QA_CORPUS_DIR": str(root / "corpus"),
        "QA_INDEX_DIR": str(root / "index"),
        "QA_ANSWERER": "extractive",
        "QA_API_KEY": KEY,
        "QA_UI_AUTH": "ana:page-password",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    command = [sys.executable, "-m", "qa.cli", "serve", "--host", "0.0.0.0", "--port", str(port)]
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        while True:
            try:
                if httpx.get(url + "/api/v1/health", timeout=2).status_code == 401:
                    break  # up, and asking for the key
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() - started > START_TIMEOUT:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                pytest.fail(f"`qa serve` did not come up on {url}:\n{tail}")
            time.sleep(0.5)
        yield Served(url, root / "corpus", log_path)
    finally:
        stop(server, timeout=20)


@pytest.fixture
def client(served: Served) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=served.url + "/v1", api_key=KEY, max_retries=0, timeout=120)


def test_the_models_are_one_per_collection(client: Any) -> None:
    assert [model.id for model in client.models.list()] == ["qa"]


def test_a_completion_carries_markers_a_sources_list_and_the_citations_as_data(
    client: Any, served: Served
) -> None:
    completion = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": BEIJING}])
    text = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert "Beijing" in text and "[1]" in text and "\n\nSources:\n[1] " + ARTICLE_SOURCE in text
    extra = completion.model_extra
    assert extra["answerable"] is True
    article = read_document(served.corpus_dir / ARTICLE_SOURCE)
    assert extra["citations"] and all(
        article[c["start"] : c["end"]] == c["text"] and c["source"] == ARTICLE_SOURCE
        for c in extra["citations"]
    )
    assert [c["n"] for c in extra["citations"]] == list(range(1, len(extra["citations"]) + 1))


def test_a_streamed_completion_grows_and_ends_with_the_citations(client: Any) -> None:
    stream = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": BEIJING}], stream=True
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 3  # the answer in steps, then the sources list
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert final.model_extra["answerable"] is True and final.model_extra["citations"]
    assert all(c.model_extra.get("citations") is None for c in chunks[:-1])
    whole = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": BEIJING}])
    assert "".join(pieces) == whole.choices[0].message.content
    assert final.model_extra["citations"] == whole.model_extra["citations"]


def test_earlier_turns_are_the_history_of_a_follow_up(client: Any) -> None:
    first = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": SEG}])
    follow_up = client.chat.completions.create(
        model="qa",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": SEG},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": FOLLOW_UP},
        ],
    )
    assert "May" in follow_up.choices[0].message.content


def test_a_decline_is_a_normal_reply_that_says_so(client: Any) -> None:
    completion = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": POPULATION}]
    )
    assert completion.choices[0].finish_reason == "stop"
    assert "don't say" in completion.choices[0].message.content
    assert completion.model_extra["answerable"] is False and completion.model_extra["citations"] == []


def test_an_unknown_model_is_a_404_naming_the_models_there_are(client: Any) -> None:
    from openai import NotFoundError

    with pytest.raises(NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": BEIJING}])
    assert "available: qa" in caught.value.body["message"]


def test_a_wrong_or_missing_key_is_a_401_that_gives_nothing_away(served: Served) -> None:
    from openai import AuthenticationError, OpenAI

    wrong = OpenAI(base_url=served.url + "/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(AuthenticationError):
        wrong.chat.completions.create(model="qa", messages=[{"role": "user", "content": BEIJING}])
    bodies = set()
    for path in ("/v1/models", "/api/v1/status", "/api/v1/documents", "/api/v1/search?q=Beijing"):
        for headers in ({}, {"Authorization": "Bearer not-the-key"}, {"Authorization": f"Basic {KEY}"}):
            response = httpx.get(served.url + path, headers=headers, timeout=30)
            assert response.status_code == 401, (path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
            bodies.add(response.text)
    asked = httpx.post(served.url + "/api/v1/ask", json={"question": BEIJING}, timeout=30)
    assert asked.status_code == 401
    bodies.add(asked.text)
    assert len(bodies) == 1  # the same body whatever was wrong, and whatever was asked for
    (body,) = bodies
    assert KEY not in body and ARTICLE_SOURCE not in body and "Traceback" not in body
    assert "QA_API_KEY" in body


def test_with_the_key_the_http_api_answers_and_the_page_still_wants_its_own_login(served: Served) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    answer = httpx.post(served.url + "/api/v1/ask", json={"question": BEIJING}, headers=headers, timeout=120)
    assert answer.status_code == 200 and answer.json()["answerable"] is True
    assert httpx.get(served.url + "/config", headers=headers, timeout=30).status_code == 401
    assert httpx.get(served.url + "/api/v1/docs", timeout=30).status_code == 200  # no data: open
