"""A second collection, created by `qa collections create` while `qa serve`'s server runs, takes an upload
through the HTTP API and answers through the API and the OpenAI-compatible endpoint, without a restart;
the default collection does not see its documents."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import ARTICLE_SOURCE, QUOKKAS, free_port

import qa.ui.app as app
from qa import Assistant

pytestmark = pytest.mark.integration

QUESTION = "Where do quokkas live?"


def test_a_collection_created_while_serving_takes_an_upload_and_answers_without_a_restart(
    article_index: Any, tmp_path: Path
) -> None:
    shutil.copytree(article_index.corpus_dir, tmp_path / "corpus")
    shutil.copytree(article_index.index_dir, tmp_path / "index", ignore=shutil.ignore_patterns(".lock"))
    collections_dir = tmp_path / "collections"
    assistant = Assistant(
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        collections_dir=collections_dir,
        answerer="extractive",
    )
    port = free_port()
    demo = app.launch(assistant, host="127.0.0.1", port=port, prevent_thread_lock=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["qa"]

            env = {**os.environ, "QA_COLLECTIONS_DIR": str(collections_dir)}
            created = subprocess.run(
                [sys.executable, "-m", "qa.cli", "collections", "create", "legal"],
                env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            assert created.returncode == 0, created.stderr
            assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["qa", "qa:legal"]

            upload = client.post(
                "/api/v1/documents",
                data={"collection": "legal"},
                files=[("files", ("quokka-notes.txt", QUOKKAS.encode(), "text/plain"))],
            )
            assert upload.status_code == 200, upload.text
            assert upload.json()["added"] == ["quokka-notes.txt"]
            assert (collections_dir / "legal" / "corpus" / "quokka-notes.txt").is_file()
            assert not (tmp_path / "corpus" / "quokka-notes.txt").exists()

            legal = client.post("/api/v1/ask", json={"question": QUESTION, "collection": "legal"}).json()
            assert legal["answerable"] and "Rottnest" in legal["answer"]
            assert {c["source"] for c in legal["citations"]} == {"quokka-notes.txt"}
            documents = client.get("/api/v1/documents", params={"collection": "legal"}).json()
            assert [d["source"] for d in documents] == ["quokka-notes.txt"]

            default = client.post("/api/v1/ask", json={"question": QUESTION}).json()
            assert not default["answerable"]
            assert all(p["source"] == ARTICLE_SOURCE for p in default["nearest"])

            chat = client.post(
                "/v1/chat/completions",
                json={"model": "qa:legal", "messages": [{"role": "user", "content": QUESTION}]},
            ).json()
            assert "Rottnest" in chat["choices"][0]["message"]["content"]
            assert [c["source"] for c in chat["citations"]] == ["quokka-notes.txt"]
    finally:
        demo.close()
