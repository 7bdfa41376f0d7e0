"""The typed manifest: its JSON records, and which document records a reader at a version sees."""

from __future__ import annotations

import json

import pytest

from qa.manifest import (
    MANIFEST_FORMAT,
    Chunking,
    DocumentEntry,
    DocumentRecord,
    Header,
    ManifestFormatError,
    checkpoint_documents,
    checkpoint_shards,
    record_id,
    resolve,
    superseded,
)

WHEN = "2024-01-01T00:00:00+00:00"


def entry(sha: str) -> DocumentEntry:
    return DocumentEntry(sha, 10, 1, ((0, 1), (5, 2)), WHEN, WHEN)


HEADER = Header(MANIFEST_FORMAT, "model", 384, "torch", Chunking(700, 1, 1), 7, WHEN, WHEN, 5, 2, dirty=True)


def test_a_header_and_a_document_entry_survive_their_json_unchanged():
    assert Header.from_json(HEADER.to_json()) == HEADER
    assert DocumentEntry.from_json(entry("abc").to_json()) == entry("abc")


def test_a_header_written_by_an_older_format_is_refused_by_its_format():
    old = json.loads(HEADER.to_json()) | {"format": 3, "documents": {}}
    with pytest.raises(ManifestFormatError, match="format 3"):
        Header.from_json(json.dumps(old))


@pytest.mark.parametrize(
    ("field", "value"),
    [("chunks", "many"), ("bytes", True), ("sha256", None), ("mtime_ns", 1.5), ("digest", 7), ("pages", {})],
)
def test_a_damaged_record_is_refused_with_the_field_that_is_wrong(field, value):
    damaged = json.loads(entry("abc").to_json()) | {field: value}
    with pytest.raises(ManifestFormatError, match=field):
        DocumentEntry.from_json(json.dumps(damaged))
    del damaged[field]
    if field in {"mtime_ns", "digest"}:  # optional: an entry written before they existed
        assert DocumentEntry.from_json(json.dumps(damaged)) == entry("abc")
    else:
        with pytest.raises(ManifestFormatError, match=field):
            DocumentEntry.from_json(json.dumps(damaged))


def test_a_record_with_broken_pages_is_refused():
    damaged = json.loads(entry("abc").to_json()) | {"pages": [[0, "one"]]}
    with pytest.raises(ManifestFormatError, match="pages"):
        DocumentEntry.from_json(json.dumps(damaged))


def test_a_record_that_is_not_json_is_refused():
    with pytest.raises(ManifestFormatError, match="not JSON"):
        DocumentEntry.from_json("{")


def test_a_reader_takes_each_sources_highest_record_at_or_below_its_version():
    records = [
        DocumentRecord("a.txt", 1, entry("a1")),
        DocumentRecord("a.txt", 3, entry("a3")),
        DocumentRecord("a.txt", 4, entry("a4")),  # written by an update that has not committed
        DocumentRecord("b.txt", 2, entry("b2")),
    ]
    assert {s: e.sha256 for s, e in resolve({}, records, 0, 3).items()} == {"a.txt": "a3", "b.txt": "b2"}
    assert {s: e.sha256 for s, e in resolve({}, records, 0, 4).items()} == {"a.txt": "a4", "b.txt": "b2"}
    assert resolve({}, records, 0, 0) == {}


def test_records_above_the_checkpoint_override_it_and_records_at_or_below_it_are_ignored():
    checkpoint = {"a.txt": entry("a-checkpoint"), "b.txt": entry("b-checkpoint")}
    records = [
        DocumentRecord("a.txt", 2, entry("a2")),  # folded into the checkpoint already
        DocumentRecord("b.txt", 6, entry("b6")),
        DocumentRecord("c.txt", 7, entry("c7")),
    ]
    found = resolve(checkpoint, records, 5, 7)
    assert {s: e.sha256 for s, e in found.items()} == {"a.txt": "a-checkpoint", "b.txt": "b6", "c.txt": "c7"}


def test_a_tombstone_hides_the_document_from_its_version_on_even_in_the_checkpoint():
    records = [DocumentRecord("a.txt", 1, entry("a1")), DocumentRecord("a.txt", 2, None)]
    assert list(resolve({}, records, 0, 1)) == ["a.txt"]
    assert resolve({}, records, 0, 2) == {}
    assert resolve({"a.txt": entry("a0")}, [DocumentRecord("a.txt", 4, None)], 3, 4) == {}


def test_superseded_records_are_those_a_newer_one_hides_and_the_newest_stays_even_as_a_tombstone():
    records = [
        DocumentRecord("a.txt", 1, entry("a1")),
        DocumentRecord("a.txt", 2, entry("a2")),
        DocumentRecord("b.txt", 1, entry("b1")),
        DocumentRecord("b.txt", 2, None),
        DocumentRecord("c.txt", 1, entry("c1")),
        DocumentRecord("c.txt", 3, entry("c3")),  # not committed at version 2
    ]
    assert sorted(superseded(records, 2)) == sorted([record_id("a.txt", 1), record_id("b.txt", 1)])
    assert superseded(records, 1) == []


def test_a_checkpoint_survives_its_json_shards_unchanged():
    documents = {f"doc-{i}.txt": entry(f"sha{i}") for i in range(7)}
    shards = checkpoint_shards(documents, 3)
    assert len(shards) == 3
    assert checkpoint_documents(shards) == documents
    assert checkpoint_documents([]) == {}


def test_record_ids_name_the_version_and_do_not_grow_with_the_source_name():
    long_name = "folder/" * 50 + "report.pdf"
    assert record_id(long_name, 12) == record_id(long_name, 12)
    assert record_id(long_name, 12).endswith(":12") and len(record_id(long_name, 12)) == len("doc:") + 16 + 3
    assert record_id("a.txt", 1) != record_id("b.txt", 1)
