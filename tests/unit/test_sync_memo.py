"""A whole-corpus sync leaves a memo of what it scanned, so that the next sync of an unchanged corpus
is a no-op without reading the manifest; any change to the corpus, the settings or the index must
still be seen. Real Chroma, deterministic `HashingEmbeddings`."""

from __future__ import annotations

import os

import pytest
from helpers import HashingEmbeddings

from qa import planning
from qa.index import SYNC_MEMO, IndexStore
from qa.store import WRITER_FILE

MAX_BYTES = 1_000_000
FILES = {
    "one.txt": "The first document talks about quokkas. Quokkas live on Rottnest Island.",
    "two.md": "# Second\n\nThe second document is about wombats. Wombats dig burrows.",
    "copy.txt": "The first document talks about quokkas. Quokkas live on Rottnest Island.",
    "notes.xyz": "not a supported type",
}


class CountingStore(IndexStore):
    """The real store, counting how often a build reads the whole manifest."""

    manifest_reads = 0

    def _read_state(self, generation):
        CountingStore.manifest_reads += 1
        return super()._read_state(generation)


@pytest.fixture(autouse=True)
def trust_fresh_files(monkeypatch):
    """Files written by the test are milliseconds old; the racy-file rule is tested on its own below."""
    monkeypatch.setattr(planning, "RACY_NS", 0)
    CountingStore.manifest_reads = 0


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")  # unusable: no text
    return folder


def new_store(tmp_path) -> CountingStore:
    return CountingStore(tmp_path / "index", HashingEmbeddings(), chunk_size=700, chunk_overlap=1)


def report_sets(report):
    skipped = sorted((s.source, s.reason) for s in report.skipped)
    return sorted(report.unchanged), skipped, report.duplicates, report.chunks


def test_a_noop_after_a_whole_corpus_sync_reads_no_manifest_and_reports_what_a_full_compare_does(
    tmp_path, corpus
):
    first = new_store(tmp_path).build(corpus, MAX_BYTES)
    assert (tmp_path / "index" / SYNC_MEMO).exists()
    CountingStore.manifest_reads = 0

    noop = new_store(tmp_path).build(corpus, MAX_BYTES)  # a new process, as `qa index build`
    assert CountingStore.manifest_reads == 0
    assert not noop.changed and noop.generation == first.generation

    (tmp_path / "index" / SYNC_MEMO).unlink()
    compared = new_store(tmp_path).build(corpus, MAX_BYTES)
    assert CountingStore.manifest_reads == 1
    assert report_sets(noop) == report_sets(compared)
    assert noop.duplicates == {"one.txt": "copy.txt"}
    assert {s.source for s in noop.skipped} == {"empty.txt", "notes.xyz"}
    assert sorted(noop.unchanged) == ["copy.txt", "two.md"]


@pytest.mark.parametrize("change", ["edit", "add", "remove", "unusable"])
def test_any_change_to_the_corpus_is_seen_after_a_memo(tmp_path, corpus, change):
    store = new_store(tmp_path)
    store.build(corpus, MAX_BYTES)
    if change == "edit":
        (corpus / "two.md").write_text("# Second\n\nWombats are marsupials now.", encoding="utf-8")
    elif change == "add":
        (corpus / "three.txt").write_text("Numbats eat termites.", encoding="utf-8")
    elif change == "remove":
        (corpus / "two.md").unlink()
    else:  # the empty file gets text, a size the last sync never saw
        (corpus / "empty.txt").write_text("Bilbies have long ears.", encoding="utf-8")

    report = store.build(corpus, MAX_BYTES)
    expected = {"edit": ("updated", "two.md"), "add": ("added", "three.txt"),
                "remove": ("removed", "two.md"), "unusable": ("added", "empty.txt")}[change]  # fmt: skip
    assert getattr(report, expected[0]) == [expected[1]]
    assert CountingStore.manifest_reads == 1  # this build compared the manifest: no shortcut taken


def test_another_setting_for_reading_files_is_not_a_noop(tmp_path, corpus):
    store = new_store(tmp_path)
    store.build(corpus, MAX_BYTES)
    report = store.build(corpus, max_bytes=10)  # every file is now too big: each keeps its last version
    assert CountingStore.manifest_reads == 1
    assert {s.source for s in report.skipped} >= {"copy.txt", "two.md"}
    assert sorted(report.unchanged) == ["copy.txt", "two.md"]


def test_a_memo_is_not_trusted_once_the_index_changed_or_a_build_was_killed(tmp_path, corpus):
    store = new_store(tmp_path)
    store.build(corpus, MAX_BYTES)
    extra = tmp_path / "extra.txt"
    extra.write_text("Echidnas lay eggs.", encoding="utf-8")
    os.replace(extra, corpus / "extra.txt")
    store.build(corpus, MAX_BYTES, only=["extra.txt"])  # a scoped add: the memo's version is old now
    reads = CountingStore.manifest_reads
    report = store.build(corpus, MAX_BYTES)
    assert CountingStore.manifest_reads == reads + 1 and not report.changed
    assert "extra.txt" in report.unchanged

    store.build(corpus, MAX_BYTES)  # memo of the current version, trusted
    assert CountingStore.manifest_reads == reads + 1
    (tmp_path / "index" / WRITER_FILE).write_text("someone\nwriting\n", encoding="utf-8")  # killed writer
    store.build(corpus, MAX_BYTES)
    assert CountingStore.manifest_reads == reads + 2


def test_a_damaged_memo_is_ignored(tmp_path, corpus):
    store = new_store(tmp_path)
    store.build(corpus, MAX_BYTES)
    (tmp_path / "index" / SYNC_MEMO).write_text('{"generation": 3', encoding="utf-8")
    report = store.build(corpus, MAX_BYTES)
    assert not report.changed and sorted(report.unchanged) == ["copy.txt", "two.md"]
    assert CountingStore.manifest_reads == 1


def test_a_file_changed_moments_ago_leaves_no_memo(tmp_path, corpus, monkeypatch):
    """A file modified within the racy window could change again in the same clock tick and keep its
    times, so a sync that saw one leaves no memo (and the next one compares the manifest)."""
    monkeypatch.setattr(planning, "RACY_NS", 60 * 10**9)
    store = new_store(tmp_path)
    store.build(corpus, MAX_BYTES)
    assert not (tmp_path / "index" / SYNC_MEMO).exists()
    store.build(corpus, MAX_BYTES)
    assert CountingStore.manifest_reads == 1
