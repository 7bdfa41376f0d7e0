"""The index store's bookkeeping, fast: real Chroma, deterministic `HashingEmbeddings`, no model.

The integration tier repeats the build -> reopen -> query round trip with the packaged model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from filelock import FileLock
from helpers import HashingEmbeddings

from qa.errors import CorpusError, IndexBusyError, IndexMismatchError
from qa.index import IndexStore
from qa.manifest import checkpoint_shards

MAX_BYTES = 1_000_000


class BrokenEmbeddings(HashingEmbeddings):
    """Embeddings that fail half-way through a build, like a model that runs out of memory."""

    def encode(self, texts):
        raise RuntimeError("embedding failed")


def write_corpus(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


FILES = {
    "one.txt": "The first document talks about quokkas. Quokkas live on Rottnest Island.",
    "two.md": "# Second\n\nThe second document is about wombats. Wombats dig burrows.",
}


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus", FILES)


@pytest.fixture
def store(tmp_path):
    return IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1)


def test_a_first_build_adds_every_document_and_switches_current_to_a_complete_generation(store, corpus):
    report = store.build(corpus, MAX_BYTES)
    assert sorted(report.added) == ["one.txt", "two.md"]
    assert report.embedded == report.chunks > 0
    assert store.current_generation() == report.generation
    manifest = store.manifest()
    assert manifest.version == 1
    assert sorted(manifest.documents) == ["one.txt", "two.md"]
    assert sum(d.chunks for d in manifest.documents.values()) == report.chunks


def test_the_manifest_records_the_embedding_model_and_chunking(store, corpus):
    store.build(corpus, MAX_BYTES)
    manifest = store.manifest()
    assert manifest.embedding_model == "test-hashing"
    assert manifest.embedding_dim == 384
    assert manifest.chunking.size == 700 and manifest.chunking.overlap == 1


def test_an_unchanged_corpus_is_a_no_op_that_embeds_nothing(store, corpus):
    first = store.build(corpus, MAX_BYTES)
    again = store.build(corpus, MAX_BYTES)
    assert again.embedded == 0 and not again.changed
    assert again.generation == first.generation == store.current_generation()
    assert sorted(again.unchanged) == ["one.txt", "two.md"]


def test_copied_vectors_of_unchanged_documents_equal_the_originals(store, corpus):
    store.build(corpus, MAX_BYTES)
    before = store.open()
    ids = [c.id for c in before.chunks if c.source == "one.txt"]
    old = before.vectors(ids)
    (corpus / "two.md").write_text("# Second\n\nWombats changed their minds.", encoding="utf-8")
    report = store.build(corpus, MAX_BYTES)
    assert report.updated == ["two.md"] and report.unchanged == ["one.txt"]
    new = store.open().vectors(ids)
    assert sorted(new) == sorted(old) == sorted(ids)
    assert all(np.allclose(old[i], new[i]) for i in ids)


def test_a_failed_build_leaves_the_live_index_and_no_half_built_generation(tmp_path, corpus):
    good = IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1)
    live = good.build(corpus, MAX_BYTES).generation
    (corpus / "three.txt").write_text("A new document that will never be embedded.", encoding="utf-8")
    broken = IndexStore(tmp_path / "index", BrokenEmbeddings(), chunk_size=700, chunk_overlap=1)
    with pytest.raises(RuntimeError, match="embedding failed"):
        broken.build(corpus, MAX_BYTES)
    assert good.current_generation() == live
    assert [p.name for p in (tmp_path / "index").glob("gen-*")] == [live]
    assert sorted(good.manifest().documents) == ["one.txt", "two.md"]


def test_an_index_built_with_other_chunking_is_refused_with_the_command_that_fixes_it(tmp_path, corpus):
    IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1).build(
        corpus, MAX_BYTES
    )
    other = IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=500, chunk_overlap=1)
    with pytest.raises(IndexMismatchError, match="qa index build --full") as caught:
        other.open()
    assert "size" in str(caught.value) and "\n" not in str(caught.value)


def test_an_index_built_with_another_embedding_model_is_refused(tmp_path, corpus):
    IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1).build(
        corpus, MAX_BYTES
    )

    class OtherModel(HashingEmbeddings):
        name = "another-model"

    with pytest.raises(IndexMismatchError, match="another-model"):
        IndexStore(tmp_path / "index", OtherModel(), chunk_size=700, chunk_overlap=1).build(corpus, MAX_BYTES)


def test_opening_a_folder_without_an_index_says_how_to_build_one(store):
    with pytest.raises(CorpusError, match="qa index build"):
        store.open()


def test_a_build_waits_for_another_writer_and_then_gives_up_with_index_busy(store, corpus):
    store.index_dir.mkdir(parents=True)
    with FileLock(str(store.index_dir / ".lock")), pytest.raises(IndexBusyError, match="try again"):
        store.build(corpus, MAX_BYTES, lock_timeout=0.2)
    assert store.current_generation() is None


def test_only_the_live_generation_and_its_predecessor_are_kept(store, corpus):
    generations = []
    for i in range(4):
        (corpus / "one.txt").write_text(f"Version {i} of the first document.", encoding="utf-8")
        generations.append(store.build(corpus, MAX_BYTES, full=True).generation)
    assert len(set(generations)) == 4
    on_disk = sorted(p.name for p in store.index_dir.glob("gen-*"))
    assert on_disk == sorted(generations[-2:])


def test_an_incremental_update_changes_the_live_generation_in_place_and_bumps_its_version(store, corpus):
    first = store.build(corpus, MAX_BYTES)
    (corpus / "one.txt").write_text("A new first document about otters.", encoding="utf-8")
    second = store.build(corpus, MAX_BYTES)
    assert second.generation == first.generation
    assert second.updated == ["one.txt"]
    assert store.manifest().version == 2
    assert [p.name for p in store.index_dir.glob("gen-*")] == [first.generation]
    texts = {c.source: c.text for c in store.open().chunks}
    assert texts["one.txt"] == "A new first document about otters."


def test_every_stored_chunk_has_offsets_true_to_its_document(store, corpus):
    report = store.build(corpus, MAX_BYTES)
    chunks = store.open().chunks
    assert len(chunks) == report.chunks
    for chunk in chunks:
        assert FILES[chunk.source][chunk.start : chunk.end] == chunk.text


def test_a_full_rebuild_reports_documents_already_indexed_as_updated_not_added(store, corpus):
    store.build(corpus, MAX_BYTES)
    report = store.build(corpus, MAX_BYTES, full=True)
    assert report.added == []
    assert sorted(report.updated) == ["one.txt", "two.md"]


def test_a_full_rebuild_reports_documents_deleted_since_the_last_build_as_removed(store, corpus):
    store.build(corpus, MAX_BYTES)
    (corpus / "two.md").unlink()
    report = store.build(corpus, MAX_BYTES, full=True)
    assert report.removed == ["two.md"]


def test_a_full_rebuild_keeps_the_date_each_document_was_added(store, corpus):
    report = store.build(corpus, MAX_BYTES)
    manifest = store.manifest()
    long_ago = {  # as if added long ago
        source: replace(doc, added="2000-01-01T00:00:00+00:00") for source, doc in manifest.documents.items()
    }
    shards = checkpoint_shards(long_ago, 1000)
    assert manifest.checkpoint == manifest.version and manifest.checkpoint_shards == len(shards)
    store.storage.write_checkpoint(report.generation, manifest.checkpoint, shards)
    # A new process: a store caches the checkpoints it wrote or read, which only qa itself writes.
    rebuilder = IndexStore(store.index_dir, HashingEmbeddings(), chunk_size=700, chunk_overlap=1)
    rebuilder.build(corpus, MAX_BYTES, full=True)
    assert {d.added for d in rebuilder.manifest().documents.values()} == {"2000-01-01T00:00:00+00:00"}


def test_two_index_folders_opened_from_many_threads_at_once_all_open(tmp_path, corpus):
    """The web chat opens a fresh snapshot per question, from many sessions and collections at once;
    Chroma's process-wide system cache must not hand one thread another's half-made client."""
    from concurrent.futures import ThreadPoolExecutor

    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        IndexStore(folder, HashingEmbeddings(), chunk_size=700, chunk_overlap=1).build(corpus, MAX_BYTES)

    def open_and_count(folder) -> int:  # a new store each time, as a process that just started
        snapshot = IndexStore(folder, HashingEmbeddings(), chunk_size=700, chunk_overlap=1).open()
        return sum(entry.chunks for entry in snapshot.manifest.documents.values())

    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(open_and_count, folders * 16))
    assert counts == [counts[0]] * 32 and counts[0] > 0


def test_a_checkpoint_is_parsed_once_per_store_and_again_only_when_another_writer_folds_a_new_one(
    tmp_path, corpus, monkeypatch
):
    import qa.index

    parsed: list[int] = []
    original = qa.index.checkpoint_documents

    def counting(shards):
        parsed.append(1)
        return original(shards)

    monkeypatch.setattr(qa.index, "checkpoint_documents", counting)
    monkeypatch.setattr(qa.index, "MIN_RECORDS", 1)  # fold at the second record
    writer = IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1)
    writer.build(corpus, MAX_BYTES)
    reader = IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1)
    first = reader.manifest()
    assert reader.manifest() == first and len(parsed) == 1  # the writer parsed nothing: it wrote it
    for n in range(2):  # two more versions: the second folds the records into a new checkpoint
        (corpus / f"note-{n}.txt").write_text(f"Note {n} mentions lighthouses.", encoding="utf-8")
        writer.build(corpus, MAX_BYTES)
    assert writer.manifest().checkpoint == 3 and len(parsed) == 1  # the writer knew what it folded
    latest = reader.manifest()
    assert latest == writer.manifest() and sorted(latest.documents) == sorted(
        ["one.txt", "two.md", "note-0.txt", "note-1.txt"]
    )
    assert len(parsed) == 2  # the reader parsed the new checkpoint once


def test_a_build_of_named_documents_syncs_those_alone(store, corpus):
    store.build(corpus, MAX_BYTES)
    (corpus / "one.txt").write_text("The first document now talks about otters.", encoding="utf-8")
    (corpus / "three.txt").write_text("A third document, about lighthouses.", encoding="utf-8")
    (corpus / "two.md").unlink()
    report = store.build(corpus, MAX_BYTES, only=["three.txt", "two.md"])
    assert report.added == ["three.txt"] and report.removed == ["two.md"] and not report.updated
    assert sorted(report.unchanged) == ["one.txt"]
    manifest = store.manifest()
    assert sorted(manifest.documents) == ["one.txt", "three.txt"]
    assert store.build(corpus, MAX_BYTES).updated == ["one.txt"]  # the whole folder's sync sees the edit


def test_a_writer_reuses_its_loaded_vectors_only_while_no_other_writer_has_written(tmp_path, corpus):
    def new_store() -> IndexStore:
        return IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1)

    first, second = new_store(), new_store()  # two writers, as two processes are
    first.build(corpus, MAX_BYTES)
    texts = {"three.txt": "A third document, about lighthouses.", "four.txt": "A fourth one, about kelp."}
    for name, writer in (("three.txt", second), ("four.txt", first)):
        (corpus / name).write_text(texts[name], encoding="utf-8")
        writer.build(corpus, MAX_BYTES, only=[name])
    for reader in (first, new_store()):
        snapshot = reader.open()
        assert sorted(snapshot.manifest.documents) == ["four.txt", "one.txt", "three.txt", "two.md"]
        assert not snapshot.strays and snapshot.collection.count() == snapshot.keyword.size
        for name, text in texts.items():  # each document's vector is found by the other's writer too
            best, _ = snapshot.nearest(HashingEmbeddings().encode([text])[0], k=1)[0]
            assert snapshot.keyword.source_of(snapshot.keyword.row(best)) == name


class FailingSecondBatch(HashingEmbeddings):
    """Embeddings that fail on their second batch, after the first was stored: a build that dies
    mid-way leaves chunks no manifest lists."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def encode(self, texts):
        self.batches += 1
        if self.batches == 2:
            raise RuntimeError("embedding failed")
        return super().encode(texts)


def test_strays_of_a_build_that_died_are_counted_and_cleared_and_a_clean_finish_skips_the_count(
    tmp_path, corpus, monkeypatch
):
    monkeypatch.setattr("qa.index.WRITE_BATCH", 1)
    store = IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1)
    store.build(corpus, MAX_BYTES)
    for i in range(3):
        (corpus / f"new{i}.txt").write_text(f"New document number {i} about lighthouses.", encoding="utf-8")
    dying = IndexStore(tmp_path / "index", FailingSecondBatch(), chunk_size=700, chunk_overlap=1)
    with pytest.raises(RuntimeError, match="embedding failed"):
        dying.build(corpus, MAX_BYTES, only=["new0.txt", "new1.txt", "new2.txt"])
    generation = store.current_generation()
    assert store.storage.count_chunks(generation) > store.manifest().chunks  # a stray chunk

    counted: list[str] = []
    count = store.storage.count_chunks
    monkeypatch.setattr(store.storage, "count_chunks", lambda g: counted.append(g) or count(g))
    (corpus / "new1.txt").unlink()
    (corpus / "new2.txt").unlink()
    report = store.build(corpus, MAX_BYTES)  # the last build never finished: count, and clean up
    assert counted == [generation] and report.added == ["new0.txt"]
    assert count(generation) == store.manifest().chunks == store.open().keyword.size

    counted.clear()
    again = IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1)
    monkeypatch.setattr(again.storage, "count_chunks", lambda g: counted.append(g) or count(g))
    assert not again.build(corpus, MAX_BYTES).changed
    assert counted == []  # the last build finished this very version: nothing can be stray


def test_a_clean_update_deletes_the_replaced_and_removed_chunks_by_id_without_a_metadata_sweep(
    tmp_path, corpus, monkeypatch
):
    """A metadata query scans every chunk's metadata (0.2 s a query at 1M chunks): a clean update takes
    the old chunks' ids from the old version's keyword index; only recovery from a killed build sweeps."""
    (corpus / "three.txt").write_text(
        "Numbats eat termites. Numbats live in Western Australia.", encoding="utf-8"
    )
    store = IndexStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1)
    store.build(corpus, MAX_BYTES)
    generation = store.current_generation()
    before = store.open().keyword
    swept: list[object] = []
    sweep = store.storage.delete_chunks_except
    monkeypatch.setattr(
        store.storage, "delete_chunks_except", lambda *a, **k: swept.append(a) or sweep(*a, **k)
    )

    (corpus / "one.txt").write_text("The first document now talks about bilbies.", encoding="utf-8")
    (corpus / "three.txt").unlink()
    report = store.build(corpus, MAX_BYTES)
    assert report.updated == ["one.txt"] and report.removed == ["three.txt"]
    assert swept == []
    stored = set(store.storage.chunks(generation).get(include=[])["ids"])
    after = store.open().keyword
    assert stored == {after.chunk_id(r) for r in after.live_rows()}  # exactly the listed chunks remain
    assert not stored & set(before.chunk_ids_of(["one.txt", "three.txt"]))
    assert set(before.chunk_ids_of(["two.md"])) <= stored
