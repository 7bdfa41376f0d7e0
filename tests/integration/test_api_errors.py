"""Bad input through the Python API raises the right QAError with a one-line message, and a failed
ingest never harms the index that was already there."""

from __future__ import annotations

import contextlib

import pytest
from helpers import ARTICLE_SOURCE

from qa import Assistant
from qa.errors import CorpusError, DocumentNotFoundError, IndexMismatchError, QAError, QuestionError

pytestmark = pytest.mark.integration

BEIJING_QUESTION = "Where did the second round of the cybercrime dialogue take place?"


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    assert isinstance(error.value, QAError)
    return message


def assert_still_answers(built) -> None:
    """The index is the one built before, and a fresh assistant still answers from it."""
    fresh = built.open_assistant()
    assert fresh.status().generation == built.generation
    answer = fresh.ask(BEIJING_QUESTION)
    assert answer.answerable and "Beijing" in answer.text


@pytest.mark.parametrize("question", ["", "   ", "\t\n"])
def test_an_empty_or_blank_question_raises_question_error(article_index, question):
    with pytest.raises(QuestionError) as caught:
        article_index.assistant.ask(question)
    assert "empty" in one_line(caught)


def test_a_question_of_2001_characters_raises_question_error_naming_the_limit(article_index):
    with pytest.raises(QuestionError) as caught:
        article_index.assistant.ask("Where " + "x" * 1995)
    assert "2001 characters" in one_line(caught) and "QA_MAX_QUESTION_CHARS" in str(caught.value)


def test_a_question_of_exactly_2000_characters_is_accepted(article_index):
    question = ("Where was the cybercrime dialogue held? " * 60)[:2000]
    answer = article_index.assistant.ask(question)
    assert answer.final and isinstance(answer.answerable, bool)


def test_an_empty_corpus_folder_raises_corpus_error_and_builds_no_index(tmp_path):
    (tmp_path / "corpus").mkdir()
    assistant = Assistant(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", answerer="extractive")
    with pytest.raises(CorpusError) as caught:
        assistant.ask(BEIJING_QUESTION)
    assert "no usable documents" in one_line(caught)
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_a_corpus_path_that_does_not_exist_raises_corpus_error(tmp_path):
    assistant = Assistant(
        corpus_dir=tmp_path / "nowhere", index_dir=tmp_path / "index", answerer="extractive"
    )
    with pytest.raises(CorpusError) as caught:
        assistant.rebuild()
    assert "does not exist" in one_line(caught) and "QA_CORPUS_DIR" in str(caught.value)


def test_a_failed_ingest_from_an_empty_corpus_folder_leaves_the_index_intact(private_article_index, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError) as caught:
        Assistant(
            corpus_dir=empty, index_dir=private_article_index.index_dir, answerer="extractive"
        ).rebuild()
    assert "left as it was" in one_line(caught)
    assert_still_answers(private_article_index)


def test_a_failed_ingest_from_a_missing_corpus_folder_leaves_the_index_intact(
    private_article_index, tmp_path
):
    gone = Assistant(
        corpus_dir=tmp_path / "gone", index_dir=private_article_index.index_dir, answerer="extractive"
    )
    with pytest.raises(CorpusError) as caught:
        gone.rebuild()
    one_line(caught)
    assert_still_answers(private_article_index)


def test_a_failed_ingest_of_only_unusable_files_leaves_the_index_intact(private_article_index, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "blob.txt").write_bytes(b"\x00\x01binary")
    (bad / "empty.md").write_text("  \n", encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        Assistant(corpus_dir=bad, index_dir=private_article_index.index_dir, answerer="extractive").rebuild(
            full=True
        )
    one_line(caught)
    assert_still_answers(private_article_index)


def test_an_unusable_new_version_of_a_document_keeps_its_last_good_version(private_article_index):
    (private_article_index.corpus_dir / ARTICLE_SOURCE).write_bytes(b"\x00 corrupted")
    report = private_article_index.assistant.rebuild()
    assert [s.source for s in report.skipped] == [ARTICLE_SOURCE]
    assert "NUL" in report.skipped[0].reason
    assert report.embedded == 0
    assert_still_answers(private_article_index)


def test_adding_a_folder_instead_of_a_file_raises_corpus_error_and_changes_nothing(
    private_article_index, tmp_path
):
    with pytest.raises(CorpusError) as caught:
        private_article_index.assistant.add([tmp_path])
    assert "is not a file" in one_line(caught)
    assert_still_answers(private_article_index)


def test_removing_an_unknown_document_names_the_indexed_ones(private_article_index):
    with pytest.raises(DocumentNotFoundError) as caught:
        private_article_index.assistant.remove(["ghost.txt"])
    assert ARTICLE_SOURCE in one_line(caught)
    assert_still_answers(private_article_index)


def test_an_index_built_with_other_chunking_raises_index_mismatch_with_the_command_to_fix_it(article_index):
    mismatched = article_index.open_assistant(chunk_size=500)
    with pytest.raises(IndexMismatchError) as caught:
        mismatched.ask(BEIJING_QUESTION)
    message = one_line(caught)
    assert "qa index build --full" in message and "700" in message and "500" in message
    with pytest.raises(IndexMismatchError):
        mismatched.search("Beijing")
    assert_still_answers(article_index)


def test_an_incremental_rebuild_with_other_chunking_is_refused_and_leaves_the_index_intact(
    private_article_index,
):
    mismatched = private_article_index.open_assistant(chunk_size=500)
    with pytest.raises(IndexMismatchError) as caught:
        mismatched.rebuild()
    assert "qa index build --full" in one_line(caught)
    assert_still_answers(private_article_index)


def test_a_full_rebuild_with_the_new_chunking_resolves_the_mismatch(private_article_index):
    rechunked = private_article_index.open_assistant(chunk_size=500)
    report = rechunked.rebuild(full=True)
    assert report.embedded == report.chunks
    assert rechunked.status().chunking["size"] == 500
    answer = rechunked.ask(BEIJING_QUESTION)
    assert answer.answerable and "Beijing" in answer.text
    with pytest.raises(IndexMismatchError):  # now the old settings are the mismatched ones
        private_article_index.open_assistant().ask(BEIJING_QUESTION)


def test_removing_the_last_document_leaves_the_corpus_and_the_index_in_agreement(private_article_index):
    assistant = private_article_index.assistant
    with contextlib.suppress(QAError):  # refusing to remove the last document would be fine too
        assistant.remove([ARTICLE_SOURCE])
    file_exists = (private_article_index.corpus_dir / ARTICLE_SOURCE).exists()
    indexed = [d.source for d in private_article_index.open_assistant().documents()]
    assert (ARTICLE_SOURCE in indexed) == file_exists
