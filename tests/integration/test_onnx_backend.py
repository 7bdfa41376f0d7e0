"""The ONNX int8 backend with the real packaged model: exported once per session into a temporary
cache, compared with PyTorch, run in a fresh process without torch, and kept apart from indexes
that PyTorch built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import ARTICLE_PATH, read_document

from qa import onnx_backend
from qa.chunking import split_sentences
from qa.embeddings import MODEL_NAME, PackagedMiniLM, model_dir
from qa.errors import IndexMismatchError
from qa.index import IndexStore
from qa.onnx_backend import ensure_onnx_model, load_tokenizer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
QUOKKAS = (
    "The quokka is a small marsupial that lives on Rottnest Island near Perth. "
    "Visitors photograph quokkas because the animals appear to smile.\n"
)


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the real export (torch, about 10-20 s), made once per session."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    path = ensure_onnx_model(model_dir(), MODEL_NAME, quantized=True, cache_dir=cache)
    assert path.is_file() and path.parent.parent == cache / "onnx"
    return cache


@pytest.fixture
def use_cache(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QA_CACHE_DIR", str(onnx_cache))
    return onnx_cache


@pytest.fixture(scope="module")
def torch_model() -> PackagedMiniLM:
    return PackagedMiniLM(backend="torch")


def article_sentences(count: int = 8) -> list[str]:
    sentences = [s.text for s in split_sentences(read_document(ARTICLE_PATH)) if len(s.text) > 40]
    step = max(1, len(sentences) // count)
    return sentences[::step][:count]


def test_onnx_int8_embeddings_agree_with_torch_on_article_sentences(use_cache, torch_model):
    sentences = article_sentences()
    onnx = PackagedMiniLM(backend="onnx").encode(sentences)
    reference = torch_model.encode(sentences)
    cosines = (onnx * reference).sum(axis=1)
    assert onnx.shape == reference.shape == (len(sentences), 384) and onnx.dtype == np.float32
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert cosines.min() > 0.98, cosines


def test_the_onnx_tokens_are_the_ones_sentence_transformers_feeds_the_model(torch_model):
    texts = [*article_sentences(3), read_document(ARTICLE_PATH)]  # the whole article: truncated at 256
    expected = torch_model._load().preprocess(texts)
    tokenizer = load_tokenizer(model_dir(), 256)
    for row, text in enumerate(texts):
        ours = tokenizer.encode(text).ids
        theirs = [
            int(i)
            for i, m in zip(expected["input_ids"][row], expected["attention_mask"][row], strict=True)
            if m
        ]
        assert ours == theirs
    assert len(tokenizer.encode(texts[-1]).ids) == 256


def test_embedding_a_query_with_onnx_in_a_fresh_process_never_imports_torch(onnx_cache):
    script = (
        "import json, sys\n"
        "from qa.embeddings import PackagedMiniLM\n"
        "vector = PackagedMiniLM(backend='onnx').embed_query('Where was the dialogue held?')\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'dim': len(vector), 'norm': sum(x * x for x in vector)}))\n"
    )
    env = {**os.environ, "QA_CACHE_DIR": str(onnx_cache)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["heavy"] == [] and got["dim"] == 384 and abs(got["norm"] - 1.0) < 1e-4
    assert "exporting" not in done.stderr  # the session's export was reused


def test_a_second_onnx_model_reuses_the_cached_export(use_cache, monkeypatch):
    cached = onnx_backend.export_folder(model_dir(), MODEL_NAME) / onnx_backend.INT8_FILE
    before = cached.stat()

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the model was cached")

    monkeypatch.setattr(onnx_backend, "export_onnx_model", no_export)
    first = PackagedMiniLM(backend="onnx").embed_query("cyber security")
    second = PackagedMiniLM(backend="onnx").embed_query("cyber security")
    after = cached.stat()
    assert np.allclose(first, second)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert json.loads((cached.parent / "export.json").read_text())["int8_cosine_with_torch"]["min"] > 0.97


def test_an_index_built_with_torch_is_refused_by_the_onnx_backend_until_rebuilt(use_cache, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    index_dir = tmp_path / "index"

    def store(backend: str) -> IndexStore:
        return IndexStore(index_dir, PackagedMiniLM(backend=backend), chunk_size=700, chunk_overlap=1)

    store("torch").build(corpus, 50_000_000)
    assert store("torch").open().manifest.embedding_backend == "torch"
    with pytest.raises(IndexMismatchError, match="qa index build --full") as refused:
        store("onnx").open()
    assert "onnx-int8" in str(refused.value)

    onnx_store = store("onnx")
    onnx_store.build(corpus, 50_000_000, full=True)
    snapshot = onnx_store.open()
    assert snapshot.manifest.embedding_backend == "onnx-int8"
    question = onnx_store.embeddings.encode(["Which animal appears to smile?"])[0]
    found = [snapshot.chunks[snapshot.positions[i]] for i, _ in snapshot.nearest(question, k=1)]
    assert found and "quokka" in found[0].text
    with pytest.raises(IndexMismatchError, match="qa index build --full"):
        store("torch").open()


def test_with_the_automatic_backend_an_existing_torch_index_keeps_answering_until_a_full_rebuild(
    use_cache, tmp_path
):
    from qa import Assistant

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    index_dir = tmp_path / "index"
    Assistant(corpus_dir=corpus, index_dir=index_dir, embedding_backend="torch").rebuild()

    automatic = Assistant(corpus_dir=corpus, index_dir=index_dir, embedding_backend="auto")
    passages = automatic.search("Which animal appears to smile?", k=1)
    assert passages and passages[0].source == "quokkas.txt"
    assert automatic.embeddings.backend == "torch"  # followed the index instead of refusing it

    report = Assistant(corpus_dir=corpus, index_dir=index_dir, embedding_backend="auto").rebuild(full=True)
    assert report.embedded == 1
    assert Assistant(corpus_dir=corpus, index_dir=index_dir).status().embedding_backend == "onnx-int8"
