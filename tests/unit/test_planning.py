"""plan_sync: what a build has to do, worked out from the corpus folder and the manifest alone (no
Chroma, no model). Each file is read once, and parsed only when its content is not indexed already."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import qa.planning
from qa.loaders import Skipped, corpus_file, scan_corpus
from qa.manifest import MANIFEST_FORMAT, Chunking, DocumentEntry, Manifest
from qa.planning import plan_sync

MAX_BYTES = 1_000_000
WHEN = "2024-01-01T00:00:00+00:00"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def manifest_of(documents: dict[str, str]) -> Manifest:
    """A committed manifest listing these sources with these texts' hashes."""
    entries = {s: DocumentEntry(sha(t), len(t), 1, (), WHEN, WHEN) for s, t in documents.items()}
    return Manifest(
        MANIFEST_FORMAT, "model", 384, "torch", Chunking(700, 1, 1), 3, WHEN, WHEN, documents=entries
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


def write(corpus: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files plan_sync parses, in order."""
    seen: list[str] = []
    original = qa.planning.load_bytes

    def counting(path, data, corpus_dir, **options):
        seen.append(path.name)
        return original(path, data, corpus_dir, **options)

    monkeypatch.setattr(qa.planning, "load_bytes", counting)
    return seen


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files read from disk, once per read."""
    seen: list[str] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        seen.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    return seen


def plan(corpus: Path, manifest: Manifest | None, full: bool = False, max_bytes: int = MAX_BYTES):
    files, skipped = scan_corpus(corpus)
    return plan_sync(files, corpus, manifest, max_bytes, full, skipped)


def test_a_first_plan_adds_every_file_and_reads_each_once(corpus, reads, parsed):
    write(corpus, {"a.txt": "Alpha text.", "b.md": "# Beta\n\nBeta text."})
    result = plan(corpus, None)
    assert sorted(d.source for d in result.fresh) == ["a.txt", "b.md"]
    assert sorted(result.added) == ["a.txt", "b.md"] and not result.updated and not result.removed
    assert sorted(reads) == ["a.txt", "b.md"]  # hashed and parsed from one read
    assert sorted(parsed) == ["a.txt", "b.md"]
    assert {d.source: d.sha256 for d in result.fresh} == {
        "a.txt": sha("Alpha text."),
        "b.md": sha("# Beta\n\nBeta text."),
    }


def test_unchanged_files_are_kept_without_being_parsed(corpus, reads, parsed):
    write(corpus, {"a.txt": "Alpha text.", "b.txt": "Beta, edited."})
    result = plan(corpus, manifest_of({"a.txt": "Alpha text.", "b.txt": "Beta text."}))
    assert list(result.kept) == ["a.txt"] and result.unchanged == ["a.txt"]
    assert [d.source for d in result.fresh] == ["b.txt"] and result.updated == ["b.txt"]
    assert parsed == ["b.txt"]
    assert sorted(reads) == ["a.txt", "b.txt"]
    assert result.changed


def test_an_unchanged_corpus_plans_no_change(corpus, parsed):
    write(corpus, {"a.txt": "Alpha text."})
    result = plan(corpus, manifest_of({"a.txt": "Alpha text."}))
    assert not result.changed and not result.fresh and parsed == []


def test_a_listed_document_whose_file_is_gone_is_removed(corpus):
    write(corpus, {"a.txt": "Alpha text."})
    result = plan(corpus, manifest_of({"a.txt": "Alpha text.", "gone.txt": "Gone."}))
    assert result.removed == ["gone.txt"]
    assert result.indexed == {"a.txt"}


def test_the_same_content_under_a_new_name_stays_under_the_name_already_indexed(corpus, reads):
    write(corpus, {"a-copy.txt": "Shared text.", "b.txt": "Shared text."})
    result = plan(corpus, manifest_of({"b.txt": "Shared text."}))
    assert result.duplicates == {"a-copy.txt": "b.txt"}
    assert list(result.kept) == ["b.txt"] and not result.fresh and not result.changed
    assert sorted(reads) == ["a-copy.txt", "b.txt"]


def test_a_copy_found_after_the_name_that_owns_its_content_is_not_parsed(corpus, parsed):
    write(corpus, {"a.txt": "Shared text.", "b.txt": "Shared text.", "c.txt": "Other text."})
    result = plan(corpus, None)
    assert result.duplicates == {"b.txt": "a.txt"}
    assert parsed == ["a.txt", "c.txt"]


def test_the_same_content_under_two_new_names_is_indexed_once_under_the_first(corpus):
    write(corpus, {"b.txt": "Shared text.", "a.txt": "Shared text."})
    result = plan(corpus, None)
    assert [d.source for d in result.fresh] == ["a.txt"]
    assert result.duplicates == {"b.txt": "a.txt"}
    assert result.added == ["a.txt"]


def test_a_document_that_became_a_copy_of_another_is_removed_and_reported_as_a_duplicate(corpus):
    write(corpus, {"a.txt": "Alpha text.", "b.txt": "Alpha text."})
    result = plan(corpus, manifest_of({"a.txt": "Alpha text.", "b.txt": "Beta text."}))
    assert result.duplicates == {"b.txt": "a.txt"}
    assert result.removed == ["b.txt"]


def test_a_file_that_fails_keeps_its_last_good_version(corpus):
    write(corpus, {"a.txt": "Alpha text, now far too long for the limit." * 10})
    result = plan(corpus, manifest_of({"a.txt": "Alpha text."}), max_bytes=100)
    assert [s.source for s in result.skipped] == ["a.txt"] and "QA_MAX_FILE_MB" in result.skipped[0].reason
    assert list(result.kept) == ["a.txt"] and result.unchanged == ["a.txt"]
    assert not result.changed


def test_a_new_file_that_cannot_be_parsed_is_skipped_with_its_reason(corpus):
    write(corpus, {"a.txt": "Alpha text.", "empty.txt": "   "})
    result = plan(corpus, None)
    assert result.skipped == [Skipped("empty.txt", "is empty (no text to index)")]
    assert result.indexed == {"a.txt"}


def test_files_the_scan_refused_by_type_are_reported(corpus):
    write(corpus, {"a.txt": "Alpha text.", "slides.key": "not really"})
    result = plan(corpus, None)
    assert [s.source for s in result.skipped] == ["slides.key"]


def test_a_full_plan_re_embeds_everything_but_tells_added_from_updated(corpus, parsed):
    write(corpus, {"a.txt": "Alpha text.", "new.txt": "New text."})
    result = plan(corpus, manifest_of({"a.txt": "Alpha text."}), full=True)
    assert sorted(d.source for d in result.fresh) == ["a.txt", "new.txt"]
    assert result.updated == ["a.txt"] and result.added == ["new.txt"] and not result.kept
    assert sorted(parsed) == ["a.txt", "new.txt"]


def test_sources_in_subfolders_use_forward_slashes(corpus):
    write(corpus, {"notes/a.txt": "Alpha text."})
    assert [d.source for d in plan(corpus, None).fresh] == ["notes/a.txt"]


def test_a_pdf_indexed_by_an_older_extractor_is_read_again_while_unchanged_text_files_are_kept(
    corpus, parsed
):
    from helpers import make_pdf

    from qa.files import file_sha256
    from qa.loaders import document_version

    write(corpus, {"a.txt": "Alpha text."})
    pdf = make_pdf(["A page of text."])
    (corpus / "report.pdf").write_bytes(pdf)
    old = manifest_of({"a.txt": "Alpha text."})
    old.documents["report.pdf"] = DocumentEntry(file_sha256(pdf), len(pdf), 1, ((0, 1),), WHEN, WHEN)
    result = plan(corpus, old)
    assert result.unchanged == ["a.txt"] and parsed == ["report.pdf"] and result.updated == ["report.pdf"]
    fresh = result.fresh[0]
    assert fresh.sha256 == document_version(file_sha256(pdf), ".pdf", ocr=True) != file_sha256(pdf)
    old.documents["report.pdf"] = DocumentEntry(fresh.sha256, len(pdf), 1, ((0, 1),), WHEN, WHEN)
    assert plan(corpus, old).unchanged == ["a.txt", "report.pdf"]


def listed_as_read(corpus: Path, result) -> Manifest:
    """The manifest a build of `result` commits: its fresh documents listed with their file stamps."""
    entries = {
        d.source: DocumentEntry(
            d.sha256, d.size, 1, (), WHEN, WHEN, mtime_ns=result.stamps[d.source].mtime_ns,
            digest=result.stamps[d.source].digest,
        )
        for d in result.fresh
    }  # fmt: skip
    return Manifest(
        MANIFEST_FORMAT, "model", 384, "torch", Chunking(700, 1, 1), 3, WHEN, WHEN, documents=entries
    )


def age(path: Path, seconds: float = 60.0) -> None:
    """Set the file's modification time `seconds` in the past, as for a file not touched lately."""
    when = path.stat().st_mtime_ns - int(seconds * 1e9)
    os.utime(path, ns=(when, when))


def test_a_file_whose_size_and_time_are_as_listed_is_kept_without_being_read(corpus, reads):
    write(corpus, {"a.txt": "Alpha text.", "b.txt": "Beta text."})
    age(corpus / "a.txt")
    age(corpus / "b.txt")
    first = plan(corpus, None)
    assert first.stamps["a.txt"].digest == sha("Alpha text.") and first.stamps["a.txt"].mtime_ns > 0
    reads.clear()
    again = plan(corpus, listed_as_read(corpus, first))
    assert not again.changed and sorted(again.unchanged) == ["a.txt", "b.txt"]
    assert reads == []  # a no-op sync stats the files and reads none


def test_a_file_changed_in_size_or_time_is_read_and_hashed_again(corpus, reads, parsed):
    write(corpus, {"a.txt": "Alpha text.", "b.txt": "Beta text.", "c.txt": "Gamma text."})
    for name in ("a.txt", "b.txt", "c.txt"):
        age(corpus / name)
    listed = listed_as_read(corpus, plan(corpus, None))
    reads.clear()
    parsed.clear()
    write(corpus, {"a.txt": "Alpha text, now longer."})  # new size and time
    os.utime(corpus / "b.txt")  # touched: new time, same bytes
    result = plan(corpus, listed)
    assert sorted(reads) == ["a.txt", "b.txt"]
    assert result.updated == ["a.txt"] and parsed == ["a.txt"]  # b.txt's bytes are as listed: kept
    assert sorted(result.unchanged) == ["b.txt", "c.txt"]


def test_a_file_modified_just_before_it_was_read_is_not_trusted_by_its_time(corpus, reads):
    write(corpus, {"a.txt": "Alpha text."})  # modified now: a change in the same clock tick could hide
    first = plan(corpus, None)
    assert first.stamps["a.txt"].mtime_ns == 0
    reads.clear()
    assert plan(corpus, listed_as_read(corpus, first)).unchanged == ["a.txt"]
    assert reads == ["a.txt"]


def test_an_entry_listed_without_a_stamp_is_read_as_before(corpus, reads):
    write(corpus, {"a.txt": "Alpha text."})
    age(corpus / "a.txt")
    assert plan(corpus, manifest_of({"a.txt": "Alpha text."})).unchanged == ["a.txt"]
    assert reads == ["a.txt"]


def test_the_scan_leaves_out_hidden_and_ignored_files_and_links_to_folders(corpus, tmp_path):
    write(
        corpus, {"a.txt": "A.", "sub/b.md": "B.", ".hidden.txt": "H.", ".git/c.txt": "C.", "README.md": "R."}
    )
    write(corpus, {"sub/deeper/d.txt": "D.", "notes.xyz": "X."})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "e.txt").write_text("E.", encoding="utf-8")
    (corpus / "linked").symlink_to(outside, target_is_directory=True)
    (corpus / "f.txt").symlink_to(outside / "e.txt")
    files, skipped = scan_corpus(corpus)
    assert [f.source for f in files] == ["a.txt", "f.txt", "sub/b.md", "sub/deeper/d.txt"]
    assert [s.source for s in skipped] == ["notes.xyz"]
    assert [f.size for f in files] == [2, 2, 2, 2]  # the linked file's own size, as a read would see


def test_a_scoped_plan_looks_only_at_the_named_files_and_keeps_every_other_document(corpus, reads):
    write(corpus, {"a.txt": "Alpha text, edited.", "new.txt": "A new note.", "other.txt": "Other, new too."})
    listed = manifest_of({"a.txt": "Alpha text.", "b.txt": "Beta text.", "gone.txt": "Gone."})
    files = [corpus_file(corpus / "new.txt", corpus)]  # gone.txt is named but its file is gone
    result = plan_sync(files, corpus, listed, MAX_BYTES, scope=["new.txt", "gone.txt"])
    assert reads == ["new.txt"]
    assert result.added == ["new.txt"] and result.removed == ["gone.txt"] and not result.updated
    assert sorted(result.kept) == ["a.txt", "b.txt"]  # a.txt's edit and other.txt wait for a full sync
    assert result.indexed == {"a.txt", "b.txt", "new.txt"}


def test_a_scoped_file_with_the_content_of_a_document_kept_outside_the_scope_is_a_duplicate(corpus, reads):
    write(corpus, {"copy.txt": "Beta text."})
    listed = manifest_of({"b.txt": "Beta text."})
    result = plan_sync(
        [corpus_file(corpus / "copy.txt", corpus)], corpus, listed, MAX_BYTES, scope=["copy.txt"]
    )
    assert result.duplicates == {"copy.txt": "b.txt"} and not result.fresh and not result.changed
