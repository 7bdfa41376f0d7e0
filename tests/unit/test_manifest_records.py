"""Per-document manifest records on a real (embedded) Chroma store with `HashingEmbeddings`: a change
writes only the records of the documents it touches, and an update stopped between its writes leaves
the committed state readable and is cleaned up by the next build.

The stores here are real subclasses of `EmbeddedStore` that count what is written, or stop at a
named step (by raising, as a crash would, with no clean-up on the way out). The integration tier
kills a real process at the same steps."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import HashingEmbeddings

import qa.index
import qa.store
from qa.index import IndexStore
from qa.manifest import DocumentRecord, Header, record_id
from qa.store import EmbeddedStore

MAX_BYTES = 1_000_000
MANY = 200


class CountingStore(EmbeddedStore):
    """Counts the manifest records, checkpoints and headers written and the records deleted."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(index_dir)
        self.written: list[DocumentRecord] = []
        self.deleted: list[str] = []
        self.headers: list[Header] = []
        self.checkpoints: list[int] = []

    def write_records(self, generation: str, records: Sequence[DocumentRecord]) -> None:
        self.written.extend(records)
        super().write_records(generation, records)

    def delete_records(self, generation: str, ids: Sequence[str]) -> None:
        self.deleted.extend(ids)
        super().delete_records(generation, ids)

    def write_header(self, generation: str, header: Header) -> None:
        self.headers.append(header)
        super().write_header(generation, header)

    def write_checkpoint(self, generation: str, version: int, shards: Sequence[str]) -> None:
        self.checkpoints.append(version)
        super().write_checkpoint(generation, version, shards)

    def reset(self) -> None:
        self.written.clear()
        self.deleted.clear()
        self.headers.clear()
        self.checkpoints.clear()


class Crash(Exception):
    """Stands for the process dying at that point."""


class StoppingStore(EmbeddedStore):
    """Raises at a named step of an update: after `after_records` record writes ("records"), at the
    first header write ("header"), right after it ("cleanup"), after writing a new checkpoint
    ("checkpoint"), or after the header that names it ("fold")."""

    def __init__(self, index_dir: Path, step: str, after_records: int = 1) -> None:
        super().__init__(index_dir)
        self.step = step
        self.after_records = after_records

    def write_records(self, generation: str, records: Sequence[DocumentRecord]) -> None:
        for i, record in enumerate(records):  # one at a time, so the stop falls between two of them
            if self.step == "records" and i == self.after_records:
                raise Crash(f"stopped after {i} of {len(records)} records")
            super().write_records(generation, [record])

    def write_checkpoint(self, generation: str, version: int, shards: Sequence[str]) -> None:
        super().write_checkpoint(generation, version, shards)
        if self.step == "checkpoint":
            raise Crash("stopped after writing a checkpoint, before a header names it")

    def write_header(self, generation: str, header: Header) -> None:
        if self.step == "header":
            raise Crash("stopped before the header")
        super().write_header(generation, header)
        if self.step == "cleanup" or (self.step == "fold" and header.checkpoint == header.version):
            raise Crash(f"stopped after the header ({self.step})")


def note(i: int) -> str:
    return f"Note {i} is about the harbour of Village{i:04d}, restored in {1900 + i % 100}."


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(MANY):
        (folder / f"note-{i:03d}.txt").write_text(note(i), encoding="utf-8")
    return folder


def index_store(index_dir: Path, storage: EmbeddedStore | None = None) -> IndexStore:
    return IndexStore(index_dir, HashingEmbeddings(), chunk_size=700, chunk_overlap=1, storage=storage)


@pytest.fixture
def counted(tmp_path: Path, corpus: Path) -> tuple[IndexStore, CountingStore]:
    storage = CountingStore(tmp_path / "index")
    store = index_store(tmp_path / "index", storage)
    store.build(corpus, MAX_BYTES)
    storage.reset()
    return store, storage


def records_of(store: IndexStore) -> list[DocumentRecord]:
    generation = store.current_generation()
    assert generation
    return store.storage.read_records(generation)


def assert_clean(store: IndexStore) -> None:
    """Nothing a finished build would leave: records only between the checkpoint and the committed
    version, one per source at most; only the named checkpoint; no chunk the manifest does not list."""
    manifest = store.manifest()
    generation = store.current_generation()
    assert manifest is not None and not manifest.dirty and generation
    records = records_of(store)
    assert all(manifest.checkpoint < r.version <= manifest.version for r in records)
    assert max(Counter(r.source for r in records).values(), default=1) == 1
    assert store.storage.stale_checkpoints(generation, manifest.checkpoint) == []
    assert store.storage.count_chunks(generation) == manifest.chunks


def test_a_first_build_writes_a_checkpoint_of_every_document_and_no_records(tmp_path, corpus):
    storage = CountingStore(tmp_path / "index")
    store = index_store(tmp_path / "index", storage)
    store.build(corpus, MAX_BYTES)
    assert storage.written == [] and storage.checkpoints == [1]
    manifest = store.manifest()
    assert len(manifest.documents) == MANY and manifest.checkpoint == manifest.version == 1
    assert_clean(store)


def test_adding_one_document_to_an_index_of_many_writes_only_its_record_and_the_header(counted, corpus):
    store, storage = counted
    (corpus / "new.txt").write_text("A new note about the lighthouse of Zorvex.", encoding="utf-8")
    report = store.build(corpus, MAX_BYTES)
    assert report.added == ["new.txt"]
    assert [r.source for r in storage.written] == ["new.txt"]
    assert storage.deleted == [] and storage.checkpoints == []
    assert len(storage.headers) == 2  # the commit, then the same version marked clean
    assert storage.headers[0].dirty and not storage.headers[1].dirty
    assert len(store.manifest().documents) == MANY + 1
    assert_clean(store)


def test_replacing_a_document_twice_writes_a_record_each_time_and_deletes_the_one_replaced(counted, corpus):
    store, storage = counted
    version = store.manifest().version
    for text in ("Note 7 was rewritten entirely.", "Note 7 was rewritten once more."):
        (corpus / "note-007.txt").write_text(text, encoding="utf-8")
        assert store.build(corpus, MAX_BYTES).updated == ["note-007.txt"]
        assert store.manifest().documents["note-007.txt"].sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert [(r.source, r.version) for r in storage.written] == [
        ("note-007.txt", version + 1),
        ("note-007.txt", version + 2),
    ]
    assert storage.deleted == [record_id("note-007.txt", version + 1)]  # the first is in the checkpoint
    assert_clean(store)


def test_removing_one_document_writes_a_tombstone_that_hides_its_checkpoint_entry(counted, corpus):
    store, storage = counted
    (corpus / "note-042.txt").unlink()
    version = store.manifest().version
    report = store.build(corpus, MAX_BYTES)
    assert report.removed == ["note-042.txt"]
    assert storage.written == [DocumentRecord("note-042.txt", version + 1, None)]
    assert storage.deleted == []
    assert "note-042.txt" not in store.manifest().documents
    assert "note-042.txt" not in {c.source for c in store.open().chunks}
    assert_clean(store)


def test_records_are_folded_into_a_new_checkpoint_once_they_pass_the_limit(counted, corpus, monkeypatch):
    monkeypatch.setattr(qa.index, "MIN_RECORDS", 3)  # the limit for MANY documents is max(3, MANY // 20)
    store, storage = counted
    limit = max(3, MANY // qa.index.RECORDS_SHARE)
    for i in range(limit):
        (corpus / f"note-{i:03d}.txt").write_text(f"Note {i}, edited.", encoding="utf-8")
        store.build(corpus, MAX_BYTES)
    assert storage.checkpoints == [] and len(records_of(store)) == limit
    before = store.manifest()

    (corpus / "extra.txt").write_text("One change more.", encoding="utf-8")
    store.build(corpus, MAX_BYTES)
    manifest = store.manifest()
    assert storage.checkpoints == [manifest.version] and manifest.checkpoint == manifest.version
    assert records_of(store) == []
    assert manifest.documents == {**before.documents, "extra.txt": manifest.documents["extra.txt"]}
    assert_clean(store)


def change_three(corpus: Path) -> None:
    """An update that adds one document, replaces one and removes one."""
    (corpus / "new.txt").write_text("A new note about the lighthouse of Zorvex.", encoding="utf-8")
    (corpus / "note-001.txt").write_text("Note 1 now tells of the observatory of Qualo.", encoding="utf-8")
    (corpus / "note-002.txt").unlink()


@pytest.mark.parametrize(
    ("step", "after_records"),
    [("records", 1), ("records", 2), ("header", 0)],
    ids=["after-one-record", "after-two-records", "after-every-record"],
)
def test_an_update_stopped_before_its_header_leaves_the_committed_index_and_the_next_build_cleans_up(
    tmp_path, corpus, step, after_records
):
    store = index_store(tmp_path / "index")
    store.build(corpus, MAX_BYTES)
    before = store.manifest()
    change_three(corpus)

    stopping = index_store(tmp_path / "index", StoppingStore(tmp_path / "index", step, after_records))
    with pytest.raises(Crash):
        stopping.build(corpus, MAX_BYTES)

    reader = index_store(tmp_path / "index")
    assert reader.manifest() == before  # nothing written above the committed version shows
    snapshot = reader.open()
    assert {c.source for c in snapshot.chunks} == set(before.documents)
    assert "note-002.txt" in {c.source for c in snapshot.chunks}
    assert all("Zorvex" not in c.text and "Qualo" not in c.text for c in snapshot.chunks)
    assert any(r.version > before.version for r in records_of(reader))  # what the stopped build left

    report = index_store(tmp_path / "index").build(corpus, MAX_BYTES)
    assert (
        report.added == ["new.txt"]
        and report.updated == ["note-001.txt"]
        and report.removed == ["note-002.txt"]
    )
    assert_clean(reader)
    after = reader.open()
    assert "note-002.txt" not in {c.source for c in after.chunks}
    assert any("Zorvex" in c.text for c in after.chunks) and any("Qualo" in c.text for c in after.chunks)


def test_an_update_stopped_after_its_header_is_committed_and_the_next_build_finishes_its_clean_up(
    tmp_path, corpus
):
    store = index_store(tmp_path / "index")
    store.build(corpus, MAX_BYTES)
    before = store.manifest()
    change_three(corpus)

    stopping = index_store(tmp_path / "index", StoppingStore(tmp_path / "index", "cleanup"))
    with pytest.raises(Crash):
        stopping.build(corpus, MAX_BYTES)

    reader = index_store(tmp_path / "index")
    committed = reader.manifest()
    assert committed.version == before.version + 1 and committed.dirty
    assert "new.txt" in committed.documents and "note-002.txt" not in committed.documents
    snapshot = reader.open()
    assert snapshot.strays  # the replaced and removed documents' chunks are still stored ...
    assert {c.source for c in snapshot.chunks} == set(committed.documents)  # ... and never served

    report = index_store(tmp_path / "index").build(corpus, MAX_BYTES)
    assert not report.changed and report.embedded == 0
    assert_clean(reader)
    assert reader.manifest().documents == committed.documents


@pytest.mark.parametrize("step", ["checkpoint", "fold"])
def test_a_fold_stopped_before_or_after_its_header_leaves_the_manifest_whole_and_the_next_build_cleans_up(
    tmp_path, corpus, monkeypatch, step
):
    monkeypatch.setattr(qa.index, "MIN_RECORDS", 0)
    monkeypatch.setattr(qa.index, "RECORDS_SHARE", 10**9)  # fold after every change
    store = index_store(tmp_path / "index")
    store.build(corpus, MAX_BYTES)
    change_three(corpus)

    stopping = index_store(tmp_path / "index", StoppingStore(tmp_path / "index", step))
    with pytest.raises(Crash):
        stopping.build(corpus, MAX_BYTES)

    reader = index_store(tmp_path / "index")
    committed = reader.manifest()  # the update itself was committed before the fold began
    assert committed.dirty
    assert "new.txt" in committed.documents and "note-002.txt" not in committed.documents
    assert (
        committed.documents["note-001.txt"].sha256
        == hashlib.sha256((corpus / "note-001.txt").read_bytes()).hexdigest()
    )
    assert {c.source for c in reader.open().chunks} == set(committed.documents)

    report = index_store(tmp_path / "index").build(corpus, MAX_BYTES)
    assert not report.changed and report.embedded == 0
    assert reader.manifest().documents == committed.documents
    assert_clean(reader)


class DefaultSyncStore(EmbeddedStore):
    """Creates the manifest collection with Chroma's defaults, as qa did before `MANIFEST_SYNC`."""

    def _manifest(self, generation: str) -> Any:
        return self.client(generation).get_or_create_collection(
            self.name(generation, "manifest"), embedding_function=None
        )


def manifest_sync(store: IndexStore) -> int:
    generation = store.current_generation()
    assert generation
    return int(store.storage._manifest(generation).configuration_json["hnsw"]["sync_threshold"])


def test_the_manifest_persists_its_placeholder_vectors_often_and_a_build_retunes_an_older_one(
    tmp_path, corpus
):
    older = index_store(tmp_path / "index", DefaultSyncStore(tmp_path / "index"))
    older.build(corpus, MAX_BYTES)
    assert manifest_sync(older) == 1000  # Chroma's default: its log keeps every manifest write until then

    (corpus / "new.txt").write_text("A new note about the lighthouse of Zorvex.", encoding="utf-8")
    store = index_store(tmp_path / "index")
    assert store.build(corpus, MAX_BYTES).added == ["new.txt"]
    assert manifest_sync(store) == qa.store.MANIFEST_SYNC
    assert len(store.manifest().documents) == MANY + 1
    assert_clean(store)

    fresh = index_store(tmp_path / "fresh")
    fresh.build(corpus, MAX_BYTES)
    assert manifest_sync(fresh) == qa.store.MANIFEST_SYNC
