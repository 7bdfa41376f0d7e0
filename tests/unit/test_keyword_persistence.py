"""The keyword index saved with each committed manifest version: opened without reading any chunk text,
saved by the writer before it commits, rebuilt (once) when missing, stale or damaged; real Chroma,
deterministic `HashingEmbeddings`.

A reader that had to rebuild the keyword index reads every chunk back from Chroma (`read_chunks`):
`CountingStore` counts those reads, which is how these tests tell a reopen from a rebuild."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import HashingEmbeddings

from qa.index import IndexStore
from qa.keyword_index import KeywordIndex
from qa.manifest import Header
from qa.retrieval import hybrid_search
from qa.store import EmbeddedStore

MAX_BYTES = 1_000_000
FILES = {
    "quokkas.txt": "Quokkas live on Rottnest Island. The Office of Personnel Management counts no quokkas.",
    "wombats.md": "# Wombats\n\nWombats dig burrows. A wombat leaves cube-shaped droppings near its burrow.",
    "rivers.txt": "The river floods each spring. Farmers on the island plant rice beside the river.",
}
QUERIES = ["quokka island", "wombat burrows", "river floods", "OPM", "cube droppings"]


class CountingStore(EmbeddedStore):
    """The embedded store, counting how often every chunk text is read back."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(index_dir)
        self.full_reads = 0

    def read_chunks(self, generation, versions):
        self.full_reads += 1
        return super().read_chunks(generation, versions)


class CommitFails(EmbeddedStore):
    """A writer killed after it saved the next version's keyword index, before the header committed it."""

    def write_header(self, generation: str, header: Header) -> None:
        if header.version > 1:
            raise KeyboardInterrupt("killed before the commit")
        super().write_header(generation, header)


def store(index_dir: Path, storage: EmbeddedStore | None = None) -> IndexStore:
    return IndexStore(index_dir, HashingEmbeddings(), chunk_size=700, chunk_overlap=1, storage=storage)


def reader(index_dir: Path) -> tuple[IndexStore, CountingStore]:
    counting = CountingStore(index_dir)
    return store(index_dir, counting), counting


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def built(tmp_path, corpus):
    index_dir = tmp_path / "index"
    store(index_dir).build(corpus, MAX_BYTES)
    return index_dir


def keyword_folders(index_dir: Path) -> list[Path]:
    generation = (index_dir / "CURRENT").read_text().strip()
    return sorted(p for p in (index_dir / generation / "keywords").iterdir() if not p.name.startswith("."))


def results(index: IndexStore, query: str) -> list[tuple[str, int, int, str, float]]:
    found = hybrid_search(index.open(), index.embeddings, query, k=3)
    return [(p.source, p.start, p.end, p.text, p.score) for p in found]


def test_a_build_saves_the_keyword_index_and_a_new_reader_opens_it_without_reading_any_chunk(built):
    [folder] = keyword_folders(built)
    stamp = (folder / "meta.json").stat().st_mtime_ns
    index, counting = reader(built)
    snapshot = index.open()
    assert counting.full_reads == 0
    assert (folder / "meta.json").stat().st_mtime_ns == stamp  # opened, not written again
    assert snapshot.keyword.size == snapshot.manifest.chunks
    assert results(index, "quokka island")[0][0] == "quokkas.txt"


def test_an_incremental_add_saves_its_version_before_the_commit_and_readers_never_rebuild(built, corpus):
    (corpus / "otters.txt").write_text("Sea otters hold hands while they sleep.", encoding="utf-8")
    store(built).build(corpus, MAX_BYTES)
    index, counting = reader(built)
    snapshot = index.open()
    assert counting.full_reads == 0 and snapshot.version == 2
    assert results(index, "otters sleep")[0][0] == "otters.txt"
    rebuilt = KeywordIndex(snapshot.chunks)  # the same rows, from every text: what a rebuild would give
    for query in [*QUERIES, "otters"]:
        np.testing.assert_array_equal(snapshot.keyword.scores(query), rebuilt.scores(query))


def test_only_the_two_latest_keyword_indexes_of_a_generation_are_kept(built, corpus):
    for n in range(3):
        (corpus / f"note-{n}.txt").write_text(f"Note number {n} mentions lighthouses.", encoding="utf-8")
        store(built).build(corpus, MAX_BYTES)
    assert [p.name.split("-")[0] for p in keyword_folders(built)] == ["v3", "v4"]


def test_a_missing_keyword_index_is_built_from_the_stored_chunks_once_then_reused(built):
    expected = {q: results(store(built), q) for q in QUERIES}
    shutil.rmtree(keyword_folders(built)[0])  # as an index from before the keyword index was saved
    first, counting = reader(built)
    assert {q: results(first, q) for q in QUERIES} == expected
    assert counting.full_reads == 1
    again, counting_again = reader(built)
    again.open()
    assert counting_again.full_reads == 0


@pytest.mark.parametrize("damaged", ["tf.npy", "bm25/data.csc.index.npy", "ids.npy"])
def test_a_damaged_keyword_index_is_detected_logged_and_rebuilt(built, caplog, damaged):
    expected = {q: results(store(built), q) for q in QUERIES}
    path = keyword_folders(built)[0] / damaged
    os.truncate(path, path.stat().st_size - 8)
    index, counting = reader(built)
    with caplog.at_level(logging.WARNING, logger="qa.index"):
        assert {q: results(index, q) for q in QUERIES} == expected
    assert counting.full_reads == 1
    assert "unusable" in caplog.text and damaged in caplog.text
    again, counting_again = reader(built)
    again.open()
    assert counting_again.full_reads == 0  # the rebuilt one was saved in its place


def test_a_keyword_index_saved_for_other_documents_is_never_used(built, caplog):
    [folder] = keyword_folders(built)
    other = KeywordIndex([])  # a stale one under the current version's folder name, with another key
    other.save(folder, "gen-other/v1-0000")
    index, counting = reader(built)
    with caplog.at_level(logging.WARNING, logger="qa.index"):
        assert results(index, "quokka island")[0][0] == "quokkas.txt"
    assert counting.full_reads == 1 and "gen-other" in caplog.text


def test_a_keyword_index_saved_by_a_build_killed_before_its_commit_is_never_used(tmp_path, built, corpus):
    (corpus / "otters.txt").write_text("Sea otters hold hands while they sleep.", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        store(built, CommitFails(built)).build(corpus, MAX_BYTES)
    index, counting = reader(built)
    snapshot = index.open()
    assert snapshot.version == 1 and counting.full_reads == 0
    assert "otters.txt" not in {
        p.source for p in hybrid_search(snapshot, index.embeddings, "otters sleep", k=3)
    }
    (corpus / "otters.txt").write_text(
        "River otters fish at dawn.", encoding="utf-8"
    )  # version 2, other text
    store(built).build(corpus, MAX_BYTES)
    later, counting_later = reader(built)
    found = hybrid_search(later.open(), later.embeddings, "otters fish dawn", k=1)
    assert found[0].text == "River otters fish at dawn." and counting_later.full_reads == 0


def test_search_from_the_saved_keyword_index_equals_search_from_one_rebuilt_from_the_texts(built, tmp_path):
    saved = {q: results(store(built), q) for q in QUERIES}
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    for folder in keyword_folders(copy):
        shutil.rmtree(folder)
    rebuilt, counting = reader(copy)
    assert {q: results(rebuilt, q) for q in QUERIES} == saved
    assert counting.full_reads == 1


def test_text_of_a_range_is_read_from_that_documents_chunks_alone(built):
    snapshot = store(built).open()
    text = FILES["wombats.md"]
    assert snapshot.text("wombats.md", 0, len(text)) == text
    assert snapshot.text("wombats.md", 11, 28) == text[11:28]
    assert snapshot.text("nowhere.txt", 0, 10) is None


def test_incremental_changes_to_a_layered_index_keep_its_base_and_readers_never_rebuild(
    built, corpus, monkeypatch
):
    monkeypatch.setattr(KeywordIndex, "LAYER_MIN_ROWS", 1)  # layered at this size (default: 20,000 rows)
    monkeypatch.setattr(KeywordIndex, "LAYER_SHARE", 10.0)
    [base] = keyword_folders(built)
    base_stamp = (base / "meta.json").stat().st_mtime_ns
    for n in range(3):
        (corpus / f"note-{n}.txt").write_text(f"Note number {n} mentions lighthouses.", encoding="utf-8")
        store(built).build(corpus, MAX_BYTES)
    (corpus / "note-0.txt").write_text("Note 0 now mentions harbours.", encoding="utf-8")  # in the delta
    (corpus / "rivers.txt").unlink()  # in the base
    store(built).build(corpus, MAX_BYTES)
    names = [p.name for p in keyword_folders(built)]
    assert base.name in names and [n.split("-")[0] for n in names if n != base.name] == ["v4", "v5"]
    assert (base / "meta.json").stat().st_mtime_ns == base_stamp  # never written again
    index, counting = reader(built)
    snapshot = index.open()
    assert counting.full_reads == 0 and snapshot.version == 5 and snapshot.keyword.layered
    assert snapshot.keyword.size == snapshot.manifest.chunks == 5
    assert results(index, "lighthouses number 2")[0][0] == "note-2.txt"
    assert all(p[0] != "rivers.txt" for p in results(index, "river floods"))
    assert {c.source for c in snapshot.chunks} == set(snapshot.manifest.documents)
    # the replaced and removed chunks were deleted by the ids the layered index gave: none is left over
    stored = set(index.storage.chunks(snapshot.generation).get(include=[])["ids"])
    assert stored == {snapshot.keyword.chunk_id(r) for r in snapshot.keyword.live_rows()}
