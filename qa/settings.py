"""One settings object, read from QA_* environment variables; explicit arguments win.

Nothing is read at import time: `get_settings()` builds (and caches) the object on first use,
so tests and the API can pass their own values without touching the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EmbeddingBackendName = Literal["auto", "torch", "onnx"]


class Settings(BaseSettings):
    """Everything a user can configure. Each field is one `QA_<NAME>` variable (see the README table)."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to answer from.")
    index_dir: Path = Field(Path("index"), description="Folder holding the built index (derived data).")
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
        description="Bearer token the HTTP API (/api/v1) and the OpenAI-compatible endpoint (/v1) require; "
        "unset = open on loopback, closed elsewhere unless QA_UI_INSECURE_NO_LOGIN.",
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

    @field_validator("answerer")
    @classmethod
    def _known_answerer(cls, name: str) -> str:
        from .answerers import choices

        name = name.strip().lower()
        if name not in choices():
            raise ValueError(f"no answerer named {name!r}; choose one of {', '.join(choices())}")
        return name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment, built once per process."""
    return Settings()
