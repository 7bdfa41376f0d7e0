"""The `openai` answerer against a real OpenAI-compatible server: llama.cpp's own server
(`python -m llama_cpp.server`) serving the packaged model on a loopback port, reached through
langchain-openai's ChatOpenAI exactly as an Ollama or vLLM server would be."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import free_port, stop
from langchain_core.messages import HumanMessage

from qa import Assistant
from qa.answering import DECLINE_PREFIX
from qa.errors import AnswererUnavailableError
from qa.llm import local_model_file, local_runtime_installed
from qa.settings import Settings

BEIJING = "Where did the second round of the cybercrime dialogue take place?"
POPULATION = "What is the population of Beijing?"
STARTUP_SECONDS = 180
COMPLETIONS = '"POST /v1/chat/completions'

requires_model = pytest.mark.skipif(
    not local_runtime_installed(), reason="the local extra (model + llama.cpp) is not installed"
)


@dataclass
class Server:
    base_url: str
    model: str
    log: Path
    process: subprocess.Popen[bytes]

    def completions(self) -> int:
        """How many chat completions the server has been asked for (from its access log)."""
        return self.log.read_text(encoding="utf-8", errors="replace").count(COMPLETIONS)


def _models(base_url: str) -> list[str]:
    with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
        return [m["id"] for m in json.load(response)["data"]]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """llama.cpp's OpenAI-compatible server with the packaged model, on a free loopback port."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(local_model_file()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_threads",
        "2",
        "--n_ctx",
        "2048",
        "--rope_freq_base",
        "0",  # the model's own RoPE base (1e6 for Qwen2.5), not 1e4
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        models: list[str] = []
        while not models:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp's server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"llama.cpp's server did not answer in {STARTUP_SECONDS}s:\n{log.read_text()[-3000:]}"
                )
            try:
                models = _models(base_url)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        yield Server(base_url, models[0], log, process)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def remote(server, article_index) -> Assistant:
    return Assistant(
        corpus_dir=article_index.corpus_dir,
        index_dir=article_index.index_dir,
        answerer="openai",
        llm_base_url=server.base_url,
        llm_model=server.model,
    )


@pytest.mark.integration
@requires_model
def test_the_server_reports_the_model_it_serves(server):
    assert server.model == str(local_model_file())
    assert _models(server.base_url) == [server.model]


@pytest.mark.integration
@requires_model
def test_an_answer_through_the_server_is_written_by_the_model_with_exact_citations(
    remote, server, article_text
):
    before = server.completions()
    answer = remote.ask(BEIJING)
    assert server.completions() == before + 1  # the answer alone: the fact stated first is the reader's
    assert (
        answer.short is not None and article_text[answer.short.start : answer.short.end] == answer.short.text
    )
    assert answer.answerable and answer.final
    assert answer.mode == "openai"
    assert "Beijing" in answer.text
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert answer.citations
    for c in answer.citations:
        assert article_text[c.start : c.end] == c.text
        assert f"[{c.n}]" in answer.text


@pytest.mark.integration
@requires_model
def test_a_streamed_answer_through_the_server_grows_and_ends_with_the_final_one(remote):
    updates = list(remote.stream(BEIJING))
    *partial, final = updates
    assert len(updates) >= 2
    assert final.final and not any(u.final for u in partial)
    assert all(u.mode == "openai" and u.answerable and u.citations for u in updates)
    opening = f"{final.short.text} [{final.short.n}]. " if final.short else ""  # stated once complete
    for update in partial:
        assert update.short is None and final.text.removeprefix(opening).startswith(update.text)
    assert final.text == remote.ask(BEIJING).text  # temperature 0: the same answer again


@pytest.mark.integration
@requires_model
def test_a_declined_question_never_reaches_the_server(remote, server):
    before = server.completions()
    answer = remote.ask(POPULATION)
    assert not answer.answerable and answer.text.startswith(DECLINE_PREFIX)
    assert answer.mode == "extractive" and answer.citations == []
    assert server.completions() == before


@pytest.mark.integration
@requires_model
def test_the_reply_length_cap_holds_on_llama_cpp_server(remote):
    model = remote.chat_model()
    prompt = [
        HumanMessage(
            content="Write a long, detailed essay of at least 800 words about the history of computing."
        )
    ]
    pieces = 0
    for chunk in model.stream(prompt):
        pieces += bool(chunk.content)
        if pieces > 160:  # one token per streamed piece: past the cap, no need to read on
            break
    assert pieces <= 160


@pytest.mark.integration
def test_a_server_that_is_not_running_gives_the_extractive_answer_and_a_warning(article_index, caplog):
    down = Assistant(
        corpus_dir=article_index.corpus_dir,
        index_dir=article_index.index_dir,
        answerer="openai",
        llm_base_url=f"http://127.0.0.1:{free_port()}/v1",
        llm_model="qwen",
    )
    expected = article_index.assistant.ask(BEIJING)
    with caplog.at_level(logging.WARNING, logger="qa.answerers"):
        answer = down.ask(BEIJING)
    assert answer.answerable and answer.mode == "extractive"
    assert (answer.text, answer.citations) == (expected.text, expected.citations)
    assert re.search(r"the openai answerer failed \(\w*ConnectionError: Connection error", caplog.text)
    assert "answering extractively" in caplog.text


def test_the_openai_answerer_without_a_base_url_is_refused_naming_the_setting(tmp_path, monkeypatch):
    for name in ("QA_LLM_BASE_URL", "QA_LLM_MODEL", "QA_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AnswererUnavailableError, match="QA_LLM_BASE_URL") as caught:
        Assistant(
            corpus_dir=tmp_path / "corpus",
            index_dir=tmp_path / "index",
            answerer="openai",
            settings=Settings(),
        )
    assert "QA_LLM_MODEL" in str(caught.value)
    assert not (tmp_path / "index").exists()
