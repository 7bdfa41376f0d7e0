"""The Python API's checks that need no model: questions, status, removing and adding documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import HashingEmbeddings

from qa.assistant import Assistant
from qa.embeddings import PackagedMiniLM
from qa.errors import CorpusError, DocumentNotFoundError, QuestionError
from qa.index import IndexStore


@pytest.fixture
def nowhere(tmp_path):
    """An assistant over a corpus folder that does not exist: any index access would fail."""
    return Assistant(corpus_dir=tmp_path / "missing", index_dir=tmp_path / "index", answerer="extractive")


@pytest.mark.parametrize("question", ["", "   ", "\n\t\u00a0"])
def test_an_empty_question_is_refused_before_the_index_is_touched(nowhere, question, tmp_path):
    with pytest.raises(QuestionError, match="the question is empty") as caught:
        nowhere.ask(question)
    assert "\n" not in str(caught.value)
    with pytest.raises(QuestionError):
        nowhere.search(question)
    with pytest.raises(QuestionError):
        next(nowhere.stream(question))
    assert not (tmp_path / "index").exists()


def test_a_question_over_the_limit_is_refused_with_its_length_and_the_setting(nowhere):
    with pytest.raises(
        QuestionError, match=r"2001 characters long, over the 2000 limit \(QA_MAX_QUESTION_CHARS\)"
    ):
        nowhere.ask("x" * 2001)


def test_the_question_limit_follows_the_setting(tmp_path):
    short = Assistant(corpus_dir=tmp_path / "missing", index_dir=tmp_path / "index", max_question_chars=20)
    with pytest.raises(QuestionError, match="over the 20 limit"):
        short.ask("Where were the talks held?")


def test_a_question_that_is_not_text_is_refused(nowhere):
    with pytest.raises(QuestionError):
        nowhere.ask(None)  # type: ignore[arg-type]


def test_status_of_a_missing_index_says_there_is_none(nowhere, tmp_path):
    status = nowhere.status()
    assert status.documents == 0 and status.chunks == 0 and status.built_at is None
    assert status.index_dir == str(tmp_path / "index")
    assert nowhere.documents() == []


def test_status_of_a_missing_index_still_names_the_embedding_model(nowhere):
    assert nowhere.status().embedding_model == PackagedMiniLM.name


def test_removing_a_document_that_is_not_in_the_corpus_names_what_is_indexed(nowhere):
    with pytest.raises(DocumentNotFoundError, match=r"no document named 'ghost.txt'.*indexed: none"):
        nowhere.remove(["ghost.txt"])


def test_removing_a_path_outside_the_corpus_is_refused_and_deletes_nothing(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me", encoding="utf-8")
    a = Assistant(corpus_dir=corpus, index_dir=tmp_path / "index")
    with pytest.raises(DocumentNotFoundError):
        a.remove(["../precious.txt"])
    assert outside.read_text(encoding="utf-8") == "keep me"


def test_adding_a_path_that_is_not_a_file_is_refused(nowhere, tmp_path):
    with pytest.raises(CorpusError, match="is not a file"):
        nowhere.add([tmp_path / "no-such-file.txt"])


class MiniLMStandIn(HashingEmbeddings):
    """Writes a manifest that MiniLM accepts, so a real Assistant can reopen the index."""

    name = PackagedMiniLM.name


def test_status_and_a_no_op_rebuild_never_load_the_embedding_model(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Quokkas live on Rottnest Island. They are small.", encoding="utf-8")
    IndexStore(tmp_path / "index", MiniLMStandIn(), chunk_size=700, chunk_overlap=1).build(corpus, 1_000_000)
    script = (
        "import json, sys\n"
        "from qa import Assistant\n"
        f"a = Assistant(corpus_dir={str(corpus)!r}, index_dir={str(tmp_path / 'index')!r})\n"
        "status = a.status()\n"
        "report = a.rebuild()\n"
        "print(json.dumps({'documents': status.documents, 'embedded': report.embedded,\n"
        "                  'model_imported': 'sentence_transformers' in sys.modules}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == {"documents": 1, "embedded": 0, "model_imported": False}
