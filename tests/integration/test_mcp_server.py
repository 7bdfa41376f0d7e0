"""`qa mcp` as an MCP client sees it: the official SDK's own client against a real `qa mcp` process,
over stdio and over streamable HTTP, with the real model and the article index."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import ARTICLE_SOURCE, QUOKKAS, free_port, stop

pytestmark = pytest.mark.integration

mcp = pytest.importorskip("mcp")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

BEIJING = "Where did the second round of the cybercrime dialogue take place?"
POPULATION = "What is the population of Beijing?"
ROOT = Path(__file__).resolve().parents[2]


def server_env(built: Any, collections_dir: Path, **extra: str) -> dict[str, str]:
    """What `qa mcp` needs and nothing from the developer's QA_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(
        QA_CORPUS_DIR=str(built.corpus_dir),
        QA_INDEX_DIR=str(built.index_dir),
        QA_COLLECTIONS_DIR=str(collections_dir),
        QA_ANSWERER="extractive",
        PYTHONPATH=str(ROOT),  # this checkout's qa, whatever the venv points at
        **extra,
    )
    return env


def stdio_server(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "qa.cli", "mcp"], env=env, cwd=str(ROOT))


def structured(result: Any) -> Any:
    """A tool's structured result (a list comes wrapped as {"result": [...]} on older protocols)."""
    assert not result.is_error, result.content
    data = result.structured_content
    return data["result"] if isinstance(data, dict) and set(data) == {"result"} else data


def error_text(result: Any) -> str:
    assert result.is_error
    return " ".join(block.text for block in result.content)


def test_an_mcp_client_over_stdio_asks_searches_and_lists_with_exact_citations(
    article_index, article_text, tmp_path
):
    async def session() -> dict[str, Any]:
        async with Client(stdio_server(server_env(article_index, tmp_path / "collections"))) as client:
            tools = (await client.list_tools()).tools
            return {
                "tools": {t.name: t for t in tools},
                "ask": await client.call_tool("ask", {"question": BEIJING}),
                "declined": await client.call_tool("ask", {"question": POPULATION}),
                "search": await client.call_tool("search", {"query": "cybercrime dialogue", "k": 3}),
                "documents": await client.call_tool("list_documents", {}),
                "collections": await client.call_tool("list_collections", {}),
            }

    got = asyncio.run(session())
    assert {"search", "ask", "list_documents"} <= set(got["tools"])
    assert "collection" in got["tools"]["ask"].input_schema["properties"]

    answer = structured(got["ask"])
    assert answer["answerable"] is True and answer["citations"]
    assert "Beijing" in answer["answer"]
    for citation in answer["citations"]:
        assert citation["source"] == ARTICLE_SOURCE
        assert article_text[citation["start"] : citation["end"]] == citation["text"]
        assert f"[{citation['n']}]" in answer["answer"]
    assert 0.5 < answer["support"] <= 1.0 and answer["mode"] == "extractive"

    declined = structured(got["declined"])
    assert declined["answerable"] is False and declined["citations"] == [] and declined["nearest"]

    passages = structured(got["search"])
    assert len(passages) == 3
    assert all(article_text[p["start"] : p["end"]] == p["text"] for p in passages)
    assert [d["source"] for d in structured(got["documents"])] == [ARTICLE_SOURCE]
    assert structured(got["collections"]) == ["default"]


def test_over_stdio_each_collection_answers_from_its_own_documents_and_bad_input_is_one_line(
    article_index, tmp_path
):
    collections = tmp_path / "collections"
    env = server_env(article_index, collections)
    notes = tmp_path / "quokkas.txt"
    notes.write_text(QUOKKAS, encoding="utf-8")
    for args in (
        ["collections", "create", "animals"],
        ["--collection", "animals", "index", "add", str(notes)],
    ):
        subprocess.run(
            [sys.executable, "-m", "qa.cli", *args], env=env, cwd=ROOT, check=True, capture_output=True
        )

    async def session() -> dict[str, Any]:
        async with Client(stdio_server(env)) as client:
            return {
                "animals": await client.call_tool(
                    "ask", {"question": "Where do quokkas live?", "collection": "animals"}
                ),
                "animal_documents": await client.call_tool("list_documents", {"collection": "animals"}),
                "default": await client.call_tool("ask", {"question": "Where do quokkas live?"}),
                "ghost": await client.call_tool("ask", {"question": BEIJING, "collection": "ghost"}),
                "path": await client.call_tool("search", {"query": "x", "collection": "../etc"}),
                "empty": await client.call_tool("ask", {"question": "  "}),
                "too_many": await client.call_tool("search", {"query": "dialogue", "k": 51}),
            }

    got = asyncio.run(session())
    animals = structured(got["animals"])
    assert animals["answerable"] and "Rottnest Island" in animals["answer"]
    assert {c["source"] for c in animals["citations"]} == {"quokkas.txt"}
    assert [d["source"] for d in structured(got["animal_documents"])] == ["quokkas.txt"]
    default = structured(got["default"])
    assert all(c["source"] == ARTICLE_SOURCE for c in default["citations"] + default["nearest"])

    assert "no collection named 'ghost'" in error_text(got["ghost"])
    assert "cannot name a collection" in error_text(got["path"])
    assert "the question is empty" in error_text(got["empty"])
    assert got["too_many"].is_error
    for key in ("ghost", "path", "empty"):
        text = error_text(got[key])
        assert "\n" not in text and "Traceback" not in text


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else "exited"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/mcp", timeout=2)
        except urllib.error.HTTPError:
            return  # it answers (a GET without a session is refused): it is up
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"qa mcp --http did not listen on {port} in {timeout}s")


def test_over_streamable_http_the_key_is_required_and_a_missing_or_wrong_one_leaks_nothing(
    article_index, article_text, tmp_path
):
    import httpx2

    port = free_port()
    env = server_env(article_index, tmp_path / "collections", QA_API_KEY="s3cret-key")
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "mcp", "--http", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_for_port(port, process)

        async def session() -> Any:
            headers = {"Authorization": "Bearer s3cret-key"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=120) as http,
                Client(mcp.client.streamable_http.streamable_http_client(url, http_client=http)) as client,
            ):
                return await client.call_tool("ask", {"question": BEIJING})

        answer = structured(asyncio.run(session()))
        assert answer["answerable"] and all(
            article_text[c["start"] : c["end"]] == c["text"] for c in answer["citations"]
        )

        initialize = (
            b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
            b'"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
        )
        for auth in (None, "Bearer wrong-key", "s3cret-key"):
            request = urllib.request.Request(url, data=initialize, method="POST")
            request.add_header("Content-Type", "application/json")
            request.add_header("Accept", "application/json, text/event-stream")
            if auth:
                request.add_header("Authorization", auth)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            body = refused.value.read().decode()
            assert refused.value.code == 401
            assert (
                "API key" in body
                and "cyber" not in body.lower()
                and "qa" not in body.replace("QA_API_KEY", "")
            )
    finally:
        stop(process)


def test_serving_mcp_off_loopback_without_a_key_is_refused_before_anything_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(
        PYTHONPATH=str(ROOT), QA_CORPUS_DIR=str(tmp_path / "missing"), QA_INDEX_DIR=str(tmp_path / "index")
    )
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "mcp", "--http", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "set QA_API_KEY" in lines[0] and "--insecure-no-auth" in lines[0]
    assert not (tmp_path / "index").exists()  # refused before the index was touched
