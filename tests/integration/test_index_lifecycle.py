"""Build -> reopen -> query round trips with the packaged MiniLM model and a real Chroma index, and
incremental rebuilds that embed only what changed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import ARTICLE_SOURCE, QUOKKAS, WOMBATS, read_document

from qa import Assistant

pytestmark = pytest.mark.integration

BEIJING_QUESTION = "Where did the second round of the cybercrime dialogue take place?"


def citations_are_true(answer, corpus_dir) -> bool:
    return all(read_document(corpus_dir / c.source)[c.start : c.end] == c.text for c in answer.citations)


@pytest.fixture
def three_documents(private_article_index):
    """The article index plus two small documents, added by an incremental rebuild."""
    (private_article_index.corpus_dir / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    (private_article_index.corpus_dir / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    report = private_article_index.assistant.rebuild()
    assert sorted(report.added) == ["quokkas.txt", "wombats.md"]
    return private_article_index


def chunk_counts(assistant) -> dict[str, int]:
    return {d.source: d.chunks for d in assistant.documents()}


def test_a_fresh_assistant_reopens_the_index_from_disk_and_searches_it(article_index):
    fresh = article_index.open_assistant()
    status = fresh.status()
    assert status.documents == 1 and status.generation == article_index.generation
    assert status.embedding_model == "all-MiniLM-L6-v2" and status.embedding_dim == 384
    passages = fresh.search("cybercrime dialogue held in Beijing", k=3)
    assert len(passages) == 3
    assert "Beijing" in passages[0].text
    article = read_document(article_index.corpus_dir / ARTICLE_SOURCE)
    for p in passages:
        assert p.source == ARTICLE_SOURCE
        assert article[p.start : p.end] == p.text
        assert 0.0 < p.score <= 1.0 and -1.0 <= p.similarity <= 1.0
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_a_fresh_assistant_reopens_the_index_from_disk_and_answers_with_true_citations(article_index):
    answer = article_index.open_assistant().ask(BEIJING_QUESTION)
    assert answer.answerable and "Beijing" in answer.text
    assert answer.citations and citations_are_true(answer, article_index.corpus_dir)


def test_documents_lists_each_indexed_document_with_its_chunks_size_and_date(article_index):
    [doc] = article_index.open_assistant().documents()
    assert doc.source == ARTICLE_SOURCE
    assert doc.chunks > 5
    assert doc.bytes == (article_index.corpus_dir / ARTICLE_SOURCE).stat().st_size
    assert doc.added.startswith("20")


def test_a_no_op_rebuild_embeds_nothing_and_keeps_the_generation(private_article_index):
    report = private_article_index.assistant.rebuild()
    assert report.embedded == 0
    assert not report.changed and report.unchanged == [ARTICLE_SOURCE]
    assert report.generation == private_article_index.generation
    assert private_article_index.assistant.status().generation == private_article_index.generation


def test_adding_documents_embeds_only_the_new_ones(private_article_index):
    corpus = private_article_index.corpus_dir
    (corpus / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    report = private_article_index.assistant.rebuild()
    assert report.added == ["quokkas.txt"] and report.unchanged == [ARTICLE_SOURCE]
    counts = chunk_counts(private_article_index.assistant)
    assert report.embedded == counts["quokkas.txt"]
    assert report.chunks == sum(counts.values())
    assert report.generation == private_article_index.generation  # updated in place, nothing copied


def test_editing_a_document_re_embeds_only_that_document(three_documents):
    assistant = three_documents.assistant
    before = assistant.status().generation
    (three_documents.corpus_dir / "quokkas.txt").write_text(
        QUOKKAS.replace("appear to smile", "look like they are grinning"), encoding="utf-8"
    )
    report = assistant.rebuild()
    assert report.updated == ["quokkas.txt"] and report.added == [] and report.removed == []
    assert sorted(report.unchanged) == [ARTICLE_SOURCE, "wombats.md"]
    assert report.embedded == chunk_counts(assistant)["quokkas.txt"]
    assert report.generation == before  # updated in place
    [hit] = assistant.search("quokkas grinning", k=1, sources=["quokkas.txt"])
    assert "grinning" in hit.text and "smile" not in hit.text


def test_an_edit_is_seen_by_an_assistant_that_opened_the_index_before_it(three_documents):
    reader = three_documents.open_assistant()
    assert "smile" in reader.search("quokkas", k=1, sources=["quokkas.txt"])[0].text
    (three_documents.corpus_dir / "quokkas.txt").write_text(
        QUOKKAS.replace("smile", "frown"), encoding="utf-8"
    )
    three_documents.assistant.rebuild()
    assert "frown" in reader.search("quokkas", k=1, sources=["quokkas.txt"])[0].text


def test_deleting_a_file_removes_its_chunks(three_documents):
    assistant = three_documents.assistant
    (three_documents.corpus_dir / "wombats.md").unlink()
    report = assistant.rebuild()
    assert report.removed == ["wombats.md"] and report.embedded == 0
    assert sorted(chunk_counts(assistant)) == [ARTICLE_SOURCE, "quokkas.txt"]
    assert report.chunks == sum(chunk_counts(assistant).values())
    assert assistant.search("wombat droppings", k=1, sources=["wombats.md"]) == []
    assert all(p.source != "wombats.md" for p in assistant.search("wombat cube-shaped droppings", k=10))
    reopened = three_documents.open_assistant()
    assert all(p.source != "wombats.md" for p in reopened.search("wombat cube-shaped droppings", k=10))


def test_remove_deletes_the_file_and_its_chunks_by_source_name(three_documents):
    report = three_documents.assistant.remove(["quokkas.txt"])
    assert report.removed == ["quokkas.txt"]
    assert not (three_documents.corpus_dir / "quokkas.txt").exists()
    assert all(p.source != "quokkas.txt" for p in three_documents.assistant.search("quokka smile", k=10))


def test_add_copies_a_file_into_the_corpus_and_indexes_only_it(private_article_index, tmp_path):
    outside = tmp_path / "incoming" / "wombats.md"
    outside.parent.mkdir()
    outside.write_text(WOMBATS, encoding="utf-8")
    report = private_article_index.assistant.add([outside])
    assert report.added == ["wombats.md"]
    assert (private_article_index.corpus_dir / "wombats.md").read_text(encoding="utf-8") == WOMBATS
    assert report.embedded == chunk_counts(private_article_index.assistant)["wombats.md"]
    answer = private_article_index.assistant.ask("What shape are wombat droppings?")
    assert answer.answerable and "cube-shaped" in answer.text
    assert [c.source for c in answer.citations] == ["wombats.md"]
    assert citations_are_true(answer, private_article_index.corpus_dir)


def test_a_full_rebuild_re_embeds_everything_into_a_new_generation(three_documents):
    assistant = three_documents.assistant
    before = assistant.status().generation
    report = assistant.rebuild(full=True)
    assert report.embedded == report.chunks == sum(chunk_counts(assistant).values())
    assert report.generation != before
    answer = Assistant(three_documents.corpus_dir, three_documents.index_dir, "extractive").ask(
        BEIJING_QUESTION
    )
    assert answer.answerable and "Beijing" in answer.text


def test_search_can_be_restricted_to_named_sources(three_documents):
    passages = three_documents.assistant.search("marsupials", k=5, sources=["wombats.md"])
    assert passages and {p.source for p in passages} == {"wombats.md"}
    assert three_documents.assistant.search("marsupials", k=5, sources=["nope.txt"]) == []


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("slides.key", b"PK\x03\x04 not really", "unsupported file type .key"),
        ("slides.pptx", b"PK\x03\x04 not really", "is not a PowerPoint .pptx file"),
        ("empty.txt", b"  \n", "is empty"),
        ("broken.pdf", b"%PDF-1.4 truncated", "is not a readable PDF"),
        (".hidden.txt", b"Hidden notes about wombats.", "name the corpus ignores"),
    ],
)
def test_add_refuses_an_unusable_file_before_it_reaches_the_corpus(
    private_article_index, tmp_path, name, content, reason
):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / name).write_bytes(content)
    (incoming / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    before = sorted(p.name for p in private_article_index.corpus_dir.iterdir())
    report = private_article_index.assistant.add([incoming / name, incoming / "wombats.md"])
    assert [(s.source, reason in s.reason) for s in report.skipped] == [(name, True)]
    assert report.added == ["wombats.md"]  # the usable file beside it still goes in
    after = sorted(p.name for p in private_article_index.corpus_dir.iterdir())
    assert after == sorted([*before, "wombats.md"])  # the unusable one was never copied


def test_add_refuses_a_file_over_the_size_limit_before_copying(private_article_index, tmp_path):
    small = private_article_index.open_assistant(max_file_mb=0.0001)  # 100 bytes
    big = tmp_path / "long-notes.txt"
    big.write_text("Wombats dig burrows. " * 20, encoding="utf-8")
    report = small.add([big])
    assert report.skipped[0].source == "long-notes.txt"  # first: refused before the build ran
    assert "over the 0.0001 MB limit; raise QA_MAX_FILE_MB" in report.skipped[0].reason
    assert not (private_article_index.corpus_dir / "long-notes.txt").exists()


def test_an_excerpt_shows_a_citation_in_its_surroundings(private_article_index, article_text):
    assistant = private_article_index.assistant
    answer = assistant.ask("Where did the second round of the cybercrime dialogue take place?")
    citation = answer.citations[0]
    excerpt = assistant.excerpt(citation, chars=120)
    assert excerpt.text == citation.text == article_text[citation.start : citation.end]
    assert 0 < len(excerpt.before) <= 120 and 0 < len(excerpt.after) <= 120
    assert article_text[: citation.start].endswith(excerpt.before)  # exact text, cut at a word
    assert article_text[citation.end :].startswith(excerpt.after)
    assert excerpt.clipped_before and excerpt.clipped_after


def test_an_excerpt_stops_at_the_ends_of_its_document(private_article_index, article_text):
    assistant = private_article_index.assistant
    opening = assistant.search("China-US Relations in Cyberspace: A Half-Year Assessment", k=1)[0]
    assert opening.start == 0
    excerpt = assistant.excerpt(opening, chars=50)
    assert excerpt.before == "" and not excerpt.clipped_before
    whole = assistant.excerpt(opening, chars=len(article_text))
    assert not whole.clipped_after
    assert whole.text + whole.after == article_text.rstrip()[: len(whole.text + whole.after)]


def test_an_excerpt_of_a_changed_document_shows_only_the_cited_text(private_article_index):
    assistant = private_article_index.assistant
    citation = assistant.ask("Where did the second round of the cybercrime dialogue take place?").citations[0]
    stale = replace(citation, text="words that are no longer in the document")
    excerpt = assistant.excerpt(stale)
    assert excerpt.text == stale.text and excerpt.before == excerpt.after == ""


def test_add_puts_a_file_at_the_top_of_the_corpus_under_its_base_name_only(private_article_index, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    report = private_article_index.assistant.add([tmp_path / "a" / "b" / ".." / "wombats.md"])
    assert report.added == ["wombats.md"]
    corpus = private_article_index.corpus_dir
    assert (corpus / "wombats.md").is_file()
    assert sorted(p.name for p in corpus.parent.iterdir() if p.suffix == ".md") == []  # nothing beside it
