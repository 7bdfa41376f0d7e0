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
    record_id,
    resolve,
    superseded,
)

WHEN = "2024-01-01T00:00:00+00:00"


def entry(sha: str) -> DocumentEntry:
    return DocumentEntry(sha, 10, 1, ((0, 1), (5, 2)), WHEN, WHEN)


HEADER = Header(MANIFEST_FORMAT, "model", 384, "torch", Chunking(700, 1, 1), 7, WHEN, WHEN, dirty=True)


def test_a_header_and_a_document_entry_survive_their_json_unchanged():
    assert Header.from_json(HEADER.to_json()) == HEADER
    assert DocumentEntry.from_json(entry("abc").to_json()) == entry("abc")


def test_a_header_written_by_an_older_format_is_refused_by_its_format():
    old = json.loads(HEADER.to_json()) | {"format": 3, "documents": {}}
    with pytest.raises(ManifestFormatError, match="format 3"):
        Header.from_json(json.dumps(old))


def test_a_damaged_record_is_refused_with_the_field_that_is_wrong():
    damaged = json.loads(entry("abc").to_json()) | {"chunks": "many"}
    with pytest.raises(ManifestFormatError, match="chunks"):
        DocumentEntry.from_json(json.dumps(damaged))
    with pytest.raises(ManifestFormatError, match="not JSON"):
        DocumentEntry.from_json("{")


def test_a_reader_takes_each_sources_highest_record_at_or_below_its_version():
    records = [
        DocumentRecord("a.txt", 1, entry("a1")),
        DocumentRecord("a.txt", 3, entry("a3")),
        DocumentRecord("a.txt", 4, entry("a4")),  # written by an update that has not committed
        DocumentRecord("b.txt", 2, entry("b2")),
    ]
    assert {s: e.sha256 for s, e in resolve(records, 3).items()} == {"a.txt": "a3", "b.txt": "b2"}
    assert {s: e.sha256 for s, e in resolve(records, 4).items()} == {"a.txt": "a4", "b.txt": "b2"}
    assert resolve(records, 0) == {}


def test_a_tombstone_hides_the_document_from_its_version_on():
    records = [DocumentRecord("a.txt", 1, entry("a1")), DocumentRecord("a.txt", 2, None)]
    assert list(resolve(records, 1)) == ["a.txt"]
    assert resolve(records, 2) == {}


def test_superseded_records_go_before_the_tombstones_that_hid_them():
    records = [
        DocumentRecord("a.txt", 1, entry("a1")),
        DocumentRecord("a.txt", 2, entry("a2")),
        DocumentRecord("b.txt", 1, entry("b1")),
        DocumentRecord("b.txt", 2, None),
        DocumentRecord("c.txt", 1, entry("c1")),
    ]
    older, tombstones = superseded(records, 2)
    assert sorted(older) == sorted([record_id("a.txt", 1), record_id("b.txt", 1)])
    assert tombstones == [record_id("b.txt", 2)]
    assert superseded(records, 1) == ([], [])


def test_record_ids_name_the_version_and_do_not_grow_with_the_source_name():
    long_name = "folder/" * 50 + "report.pdf"
    assert record_id(long_name, 12) == record_id(long_name, 12)
    assert record_id(long_name, 12).endswith(":12") and len(record_id(long_name, 12)) == len("doc:") + 16 + 3
    assert record_id("a.txt", 1) != record_id("b.txt", 1)
