"""Opening an index reads its header, not its document list: the header names the saved keyword index
by the digest of the documents' versions, and a document's entry (pages, version) is looked up alone,
from its newest record or the one checkpoint shard that spans it. Real embedded Chroma throughout; the
stores are real subclasses of `EmbeddedStore` that count reads or write the way older versions did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import HashingEmbeddings

import qa.index
from qa.index import IndexStore
from qa.manifest import Header, documents_digest
from qa.store import EmbeddedStore

MAX_BYTES = 1_000_000
MANY = 120
LOOKED_UP = ["note-000.txt", "note-031.txt", "note-060.txt", "note-119.txt", "new.txt", "note-001.txt",
             "note-002.txt", "a-missing.txt", "zz-missing.txt"]  # fmt: skip


class ReadCountingStore(EmbeddedStore):
    """Counts reads of a whole checkpoint (what listing every document costs)."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(index_dir)
        self.whole_reads = 0

    def read_checkpoint(self, generation: str, version: int, shards: int) -> list[str] | None:
        self.whole_reads += 1
        return super().read_checkpoint(generation, version, shards)


class OlderStore(EmbeddedStore):
    """Writes headers without their digest and shards without their first source, as qa did before."""

    def write_header(self, generation: str, header: Header) -> None:
        super().write_header(generation, replace(header, digest="", chunk_count=-1))

    def write_checkpoint(self, generation: str, version: int, shards: Sequence[str]) -> None:
        collection = self._manifest(generation)
        for i, text in enumerate(shards):
            collection.upsert(
                ids=[f"checkpoint:{version}:{i}"],
                documents=[text],
                metadatas=[{"checkpoint": version, "shard": i}],
                embeddings=[[0.0]],
            )


def index_store(index_dir: Path, storage: EmbeddedStore | None = None) -> IndexStore:
    return IndexStore(index_dir, HashingEmbeddings(), chunk_size=700, chunk_overlap=1, storage=storage)


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(qa.index, "CHECKPOINT_SHARD", 25)  # several shards, so lookups must pick one
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(MANY):
        (folder / f"note-{i:03d}.txt").write_text(f"Note {i} tells of the harbour of Village{i:04d}.")
    return folder


def change_three(corpus: Path) -> None:
    """Records above the checkpoint: one document added, one replaced, one removed."""
    (corpus / "new.txt").write_text("A new note about the lighthouse of Zorvex.", encoding="utf-8")
    (corpus / "note-001.txt").write_text("Note 1 now tells of the observatory of Qualo.", encoding="utf-8")
    (corpus / "note-002.txt").unlink()


def test_a_reader_opens_from_the_header_and_reads_only_the_entries_it_looks_up(tmp_path, corpus):
    index_store(tmp_path / "index").build(corpus, MAX_BYTES)
    change_three(corpus)
    index_store(tmp_path / "index").build(corpus, MAX_BYTES)
    manifest = index_store(tmp_path / "index").manifest()
    assert manifest is not None and manifest.checkpoint < manifest.version  # records above it
    assert manifest.digest == documents_digest(manifest.chunking, manifest.documents)
    assert manifest.chunk_count == manifest.chunks

    storage = ReadCountingStore(tmp_path / "index")
    snapshot = index_store(tmp_path / "index", storage).open()
    for source in LOOKED_UP:
        assert snapshot.entry(source) == manifest.documents.get(source), source
    assert snapshot.entry("note-002.txt") is None and snapshot.entry("new.txt") is not None
    assert storage.whole_reads == 0 and "manifest" not in snapshot.__dict__
    assert snapshot.manifest == manifest  # the whole list, read when asked for
    assert storage.whole_reads == 1


def test_an_index_written_before_headers_had_a_digest_opens_and_its_next_build_records_one(tmp_path, corpus):
    index_store(tmp_path / "index", OlderStore(tmp_path / "index")).build(corpus, MAX_BYTES)
    change_three(corpus)
    index_store(tmp_path / "index", OlderStore(tmp_path / "index")).build(corpus, MAX_BYTES)
    older = index_store(tmp_path / "index").manifest()
    assert older is not None and older.digest == "" and older.chunk_count == -1

    snapshot = index_store(tmp_path / "index").open()  # read as before: the whole list
    assert [snapshot.entry(s) for s in LOOKED_UP] == [older.documents.get(s) for s in LOOKED_UP]

    report = index_store(tmp_path / "index").build(corpus, MAX_BYTES)  # nothing changed in the corpus
    assert report.added == report.updated == report.removed == []
    upgraded = index_store(tmp_path / "index").manifest()
    assert upgraded is not None and upgraded.documents == older.documents
    assert upgraded.version == older.version and upgraded.digest and upgraded.chunk_count == older.chunks

    storage = ReadCountingStore(tmp_path / "index")
    snapshot = index_store(tmp_path / "index", storage).open()
    assert [snapshot.entry(s) for s in LOOKED_UP] == [older.documents.get(s) for s in LOOKED_UP]
    assert storage.whole_reads == 0
