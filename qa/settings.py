"""One settings object, read from QA_* environment variables; explicit arguments win.

Nothing is read at import time: `get_settings()` builds (and caches) the object on first use,
so tests and the API can pass their own values without touching the environment.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import CollectionError

EmbeddingBackendName = Literal["auto", "torch", "onnx"]

DEFAULT_COLLECTION = "default"  # the corpus and index folders of QA_CORPUS_DIR and QA_INDEX_DIR
# Lower case only: on a case-insensitive disk "Legal" and "legal" would be one folder.
COLLECTION_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class Settings(BaseSettings):
    """Everything a user can configure. Each field is one `QA_<NAME>` variable (see the README table)."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to answer from.")
    index_dir: Path = Field(Path("index"), description="Folder holding the built index (derived data).")
    collection: str = Field(
        DEFAULT_COLLECTION,
        description="The collection (a separate set of documents with its own index) to use: `default` "
        "is QA_CORPUS_DIR and QA_INDEX_DIR; any other is created with `qa collections create NAME`.",
    )
    collections_dir: Path = Field(
        Path("collections"),
        description="Folder of the named collections, each as NAME/corpus and NAME/index.",
    )
    answerer: str = Field(
        "auto",
        description="Who writes answers: a name in `qa.answerers.ANSWERERS`, or auto (a language model "
        "when one is installed, else quoting).",
    )
    chroma_url: str | None = Field(None, description="URL of a Chroma server; unset = embedded index.")
    llm_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible model server.")
    llm_model: str | None = Field(None, description="Model name to ask the OpenAI-compatible server for.")
    llm_api_key: str | None = Field(None, description="API key for the OpenAI-compatible server.")
    ui_auth: str | None = Field(None, description="`user:password` required by the web chat.")
    ui_insecure_no_login: bool = Field(
        False,
        description="Serve the web chat on a non-loopback host without a login (anyone who can reach it "
        "can read and change the documents); `qa serve --insecure-no-login` sets it.",
    )
    api_key: str | None = Field(
        None,
        description="Bearer token that the HTTP API (/api/v1), the OpenAI-compatible endpoint (/v1) and MCP "
        "over HTTP (`qa mcp --http`) require whenever it is set; unset = open on loopback only.",
    )
    api_insecure_no_auth: bool = Field(
        False,
        description="Serve MCP over HTTP on a non-loopback host without QA_API_KEY (anyone who can reach "
        "it can read the documents); `qa mcp --http --insecure-no-auth` sets it.",
    )
    host: str = Field("127.0.0.1", description="Interface the web chat binds to.")
    port: int = Field(7860, description="Port of the web chat.")

    embedding_backend: EmbeddingBackendName = Field(
        "auto",
        description="How the embedding model runs: torch (PyTorch fp32), onnx (int8 ONNX, exported once into "
        "QA_CACHE_DIR, default ~/.cache/qa), or auto (the faster one measured on this machine). An index "
        "is refused by another backend: rebuild with `qa index build --full` after changing it.",
    )
    embeddings_url: str | None = Field(
        None,
        description="Base URL (ending in /v1) of an OpenAI-compatible embeddings server that embeds "
        "documents and questions instead of the packaged model; unset = in-process. An index is refused "
        "by another embedding model: rebuild with `qa index build --full` after changing it.",
    )
    embeddings_model: str | None = Field(
        None,
        description="Model name to ask the embeddings server for (recorded in the index); unset = the one "
        "model the server lists at /v1/models.",
    )
    embeddings_api_key: str | None = Field(None, description="API key for the embeddings server.")
    embeddings_dim: int | None = Field(
        None, ge=1, description="Dimension of the server's vectors; unset = asked once from the server."
    )

    chunk_size: int = Field(700, ge=100, le=4000, description="Largest chunk, in characters.")
    chunk_overlap: int = Field(1, ge=0, le=5, description="Sentences repeated between neighbouring chunks.")
    top_k: int = Field(4, ge=1, le=50, description="Passages handed to the answerer.")
    min_support: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Support (the fitted probability that the documents answer) below which a question is "
        "declined; unset = the threshold fitted with the model.",
    )
    support_model: Path | None = Field(
        None,
        description="A support model fitted by `python -m bench.calibrate` on your own labelled questions; "
        "unset = the packaged one.",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    max_file_mb: float = Field(50.0, gt=0, description="Largest document accepted, in MB.")
    ocr: Literal["auto", "off"] = Field(
        "auto",
        description="auto: recognise the text of images (.png, .jpg, .tif) and of PDF pages without a usable "
        "text layer (scans) with the packaged OCR models, once per document version (cached in "
        "QA_CACHE_DIR); off: refuse images and scanned PDFs.",
    )

    @field_validator("answerer")
    @classmethod
    def _known_answerer(cls, name: str) -> str:
        from .answerers import choices

        name = name.strip().lower()
        if name not in choices():
            raise ValueError(f"no answerer named {name!r}; choose one of {', '.join(choices())}")
        return name

    def collection_dirs(self) -> tuple[Path, Path]:
        """The corpus and index folders of the selected collection (its name already checked)."""
        name = collection_name(self.collection)
        if name == DEFAULT_COLLECTION:
            return self.corpus_dir, self.index_dir
        home = self.collections_dir / name
        return home / "corpus", home / "index"


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps a server reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname may resolve to anything: treat it as reachable from outside


def collection_name(name: str) -> str:
    """`name` if it can name a collection's folder safely (no path tricks), else a CollectionError."""
    if not isinstance(name, str) or not COLLECTION_NAME.fullmatch(name):
        shown = repr(name)[:60]
        raise CollectionError(
            f"{shown} cannot name a collection: use 1-40 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment, built once per process."""
    return Settings()
