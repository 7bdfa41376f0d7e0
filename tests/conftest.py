"""Shared fixtures: deterministic embeddings for fast tests, and the article index (real model,
real Chroma) built once per session for the integration tier."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `helpers` from any test folder

# The default tier answers extractively; tests of the language-model answerers ask for them by name.
os.environ.setdefault("QA_ANSWERER", "extractive")

from helpers import ARTICLE_PATH, ARTICLE_SOURCE, CORPUS_DIR, HashingEmbeddings, read_document


@pytest.fixture
def hashing_embeddings() -> HashingEmbeddings:
    return HashingEmbeddings()


@pytest.fixture(scope="session")
def article_text() -> str:
    return read_document(ARTICLE_PATH)


@dataclass
class BuiltIndex:
    """A corpus folder, the index built from it, and an Assistant over both."""

    corpus_dir: Path
    index_dir: Path
    assistant: Any  # qa.Assistant (imported lazily: unit tests never load the model)
    generation: str

    def open_assistant(self, **overrides: Any) -> Any:
        from qa import Assistant

        return Assistant(
            corpus_dir=self.corpus_dir, index_dir=self.index_dir, answerer="extractive", **overrides
        )


@pytest.fixture(scope="session")
def article_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    """The shipped article, indexed once per session with the real model and a real Chroma store.

    Tests must not change it; a test that changes an index copies it first (`private_article_index`)."""
    from qa import Assistant

    root = tmp_path_factory.mktemp("article")
    corpus_dir = root / "corpus"
    shutil.copytree(CORPUS_DIR, corpus_dir)
    index_dir = root / "index"
    assistant = Assistant(corpus_dir=corpus_dir, index_dir=index_dir, answerer="extractive")
    report = assistant.rebuild()
    assert report.added == [ARTICLE_SOURCE] and not report.skipped
    assert report.generation is not None
    return BuiltIndex(corpus_dir, index_dir, assistant, report.generation)


@pytest.fixture
def private_article_index(article_index: BuiltIndex, tmp_path: Path) -> BuiltIndex:
    """A copy of the session's article index and corpus that a test may change or break."""
    from qa import Assistant

    corpus_dir = tmp_path / "corpus"
    index_dir = tmp_path / "index"
    shutil.copytree(article_index.corpus_dir, corpus_dir)
    shutil.copytree(article_index.index_dir, index_dir, ignore=shutil.ignore_patterns(".lock"))
    assistant = Assistant(corpus_dir=corpus_dir, index_dir=index_dir, answerer="extractive")
    return BuiltIndex(corpus_dir, index_dir, assistant, article_index.generation)
