"""Settings come from QA_* environment variables; explicit Assistant arguments win over them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from qa.assistant import Assistant
from qa.errors import AnswererUnavailableError, QAError
from qa.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No QA_* variable from the developer's shell leaks in, and the cached settings start fresh."""
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_are_the_local_corpus_and_index_folders_and_the_automatic_answerer():
    s = Settings()
    assert (s.corpus_dir, s.index_dir, s.answerer) == (Path("corpus"), Path("index"), "auto")
    assert s.chroma_url is None and s.llm_base_url is None and s.ui_auth is None
    assert (s.chunk_size, s.chunk_overlap, s.max_question_chars) == (700, 1, 2000)


def test_every_documented_variable_is_read_from_the_environment(monkeypatch, tmp_path):
    values = {
        "QA_CORPUS_DIR": str(tmp_path / "docs"),
        "QA_INDEX_DIR": str(tmp_path / "idx"),
        "QA_ANSWERER": "extractive",
        "QA_CHROMA_URL": "http://127.0.0.1:8000",
        "QA_LLM_BASE_URL": "http://127.0.0.1:8080/v1",
        "QA_LLM_MODEL": "qwen",
        "QA_LLM_API_KEY": "secret",
        "QA_UI_AUTH": "user:password",
        "QA_HOST": "0.0.0.0",
        "QA_PORT": "9000",
        "QA_CHUNK_SIZE": "500",
        "QA_CHUNK_OVERLAP": "2",
        "QA_TOP_K": "6",
        "QA_MIN_SUPPORT": "0.4",
        "QA_MAX_QUESTION_CHARS": "300",
        "QA_MAX_FILE_MB": "2.5",
        "QA_EMBEDDINGS_URL": "http://127.0.0.1:8001/v1",
        "QA_EMBEDDINGS_MODEL": "all-MiniLM-L6-v2",
        "QA_EMBEDDINGS_API_KEY": "key",
        "QA_EMBEDDINGS_DIM": "384",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    assert s.corpus_dir == tmp_path / "docs" and s.index_dir == tmp_path / "idx"
    assert s.answerer == "extractive"
    assert (s.chroma_url, s.llm_base_url, s.llm_model, s.llm_api_key, s.ui_auth) == (
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8080/v1",
        "qwen",
        "secret",
        "user:password",
    )
    assert (s.host, s.port) == ("0.0.0.0", 9000)
    assert (s.chunk_size, s.chunk_overlap, s.top_k, s.min_support) == (500, 2, 6, 0.4)
    assert (s.max_question_chars, s.max_file_mb) == (300, 2.5)
    assert (s.embeddings_url, s.embeddings_model, s.embeddings_api_key, s.embeddings_dim) == (
        "http://127.0.0.1:8001/v1",
        "all-MiniLM-L6-v2",
        "key",
        384,
    )


def test_environment_variable_names_are_case_insensitive(monkeypatch):
    monkeypatch.setenv("qa_top_k", "7")
    assert Settings().top_k == 7


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QA_ANSWERER", "gpt"),
        ("QA_CHUNK_SIZE", "50"),
        ("QA_TOP_K", "0"),
        ("QA_MIN_SUPPORT", "1.5"),
        ("QA_PORT", "x"),
    ],
)
def test_an_invalid_environment_value_is_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("QA_").lower()):
        Settings()


def test_get_settings_is_built_once_and_reads_the_environment_when_first_called(monkeypatch):
    monkeypatch.setenv("QA_TOP_K", "9")
    first = get_settings()
    monkeypatch.setenv("QA_TOP_K", "3")
    assert get_settings() is first and first.top_k == 9


def test_an_assistant_takes_its_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_CORPUS_DIR", str(tmp_path / "env-corpus"))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "env-index"))
    monkeypatch.setenv("QA_CHUNK_SIZE", "900")
    a = Assistant()
    assert a.corpus_dir == tmp_path / "env-corpus"
    assert a.index_dir == tmp_path / "env-index"
    assert a.store.chunk_size == 900


def test_explicit_assistant_arguments_win_over_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_CORPUS_DIR", str(tmp_path / "env-corpus"))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "env-index"))
    monkeypatch.setenv("QA_ANSWERER", "local")  # would be refused: not available in this version
    monkeypatch.setenv("QA_CHUNK_SIZE", "900")
    a = Assistant(
        corpus_dir=tmp_path / "mine",
        index_dir=str(tmp_path / "my-index"),
        answerer="extractive",
        chunk_size=400,
    )
    assert a.corpus_dir == tmp_path / "mine"
    assert a.index_dir == tmp_path / "my-index"
    assert a.answerer == "extractive"
    assert a.settings.chunk_size == a.store.chunk_size == 400


def test_an_explicit_settings_object_replaces_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_TOP_K", "9")
    a = Assistant(settings=Settings(top_k=2, corpus_dir=tmp_path / "c"))
    assert a.settings.top_k == 2 and a.corpus_dir == tmp_path / "c"


def test_the_openai_answerer_without_a_server_url_is_refused_with_what_to_set(monkeypatch):
    monkeypatch.setenv("QA_ANSWERER", "openai")
    monkeypatch.delenv("QA_LLM_BASE_URL", raising=False)
    with pytest.raises(AnswererUnavailableError, match="QA_LLM_BASE_URL"):
        Assistant()


def test_the_automatic_answerer_is_local_exactly_when_its_runtime_is_installed():
    from qa.llm import local_runtime_installed

    expected = "local" if local_runtime_installed() else "extractive"
    assert Assistant(answerer="auto").answerer == expected


@pytest.mark.parametrize("override", [{"chunk_size": 0}, {"top_k": -1}, {"min_support": 7}])
def test_an_invalid_keyword_override_is_refused_like_an_invalid_environment_value(override, tmp_path):
    with pytest.raises((ValueError, QAError)):
        Assistant(corpus_dir=tmp_path, index_dir=tmp_path / "index", **override)


def test_a_misspelt_keyword_override_is_refused(tmp_path):
    with pytest.raises((TypeError, ValueError, QAError)):
        Assistant(corpus_dir=tmp_path, index_dir=tmp_path / "index", chunk_sise=500)


def test_an_unknown_answerer_is_refused_with_the_names_to_choose_from(tmp_path):
    with pytest.raises(
        QAError, match=r"no answerer named 'gpt'; choose one of auto, extractive, local, openai"
    ):
        Assistant(corpus_dir=tmp_path, index_dir=tmp_path / "index", answerer="gpt")
