"""The keyword index on its own: scores exactly as bm25s's own `index` computes them, a patch equal to
a rebuild, and a saved index that loads memory-mapped or is refused when it cannot be trusted."""

from __future__ import annotations

import json
import os
import random
import shutil

import bm25s
import numpy as np
import pytest

from qa.keyword_index import KeywordIndex, KeywordIndexUnusable
from qa.models import Chunk
from qa.text import terms

WORDS = (
    "quokka wombat island burrow river Office of Personnel Management dialogue cyber norms treaty "
    "Beijing Washington summit hacking espionage theft data breach agreement ministers talks"
).split()
QUERIES = ["quokka island", "Office of Personnel Management", "cyber theft cyber", "treaty", "absent words"]


def random_chunks(seed: int, documents: int = 25, prefix: str = "doc") -> list[Chunk]:
    rng = random.Random(seed)
    chunks = []
    for d in range(documents):
        start = 0
        for j in range(rng.randint(1, 4)):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 30)))
            chunks.append(
                Chunk(f"{prefix}{d:03d}-{j}", f"{prefix}{d:03d}.txt", start, start + len(text), text)
            )
            start += len(text) + 1
    rng.shuffle(chunks)
    return chunks


def bm25s_scores(chunks: list[Chunk], query: str) -> np.ndarray:
    """What the index computed before it was saved: bm25s's own `index`, over the chunks sorted by
    (source, start)."""
    ordered = sorted(chunks, key=lambda c: (c.source, c.start))
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in terms(c.text)] for c in ordered]
    reference = bm25s.BM25()
    reference.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    known = [vocab[t] for t in terms(query) if t in vocab]
    if not known:
        return np.zeros(len(ordered), dtype=np.float32)
    return np.asarray(reference.get_scores(known), dtype=np.float32)


def test_every_row_scores_bit_for_bit_what_bm25s_own_index_computes():
    chunks = random_chunks(1)
    index = KeywordIndex(chunks)
    for query in QUERIES:
        np.testing.assert_array_equal(index.scores(query), bm25s_scores(chunks, query))


def test_rows_are_sorted_by_source_then_start_and_ids_map_back_to_rows():
    chunks = random_chunks(2)
    index = KeywordIndex(chunks)
    ordered = sorted(chunks, key=lambda c: (c.source, c.start))
    assert [index.chunk_id(i) for i in range(index.size)] == [c.id for c in ordered]
    assert all(index.row(c.id) == i for i, c in enumerate(ordered))
    assert index.row("no-such-chunk") is None
    assert index.first_row(ordered[-1].source) == min(
        i for i, c in enumerate(ordered) if c.source == ordered[-1].source
    )


def test_document_frequencies_and_acronyms_are_those_of_the_chunk_texts():
    chunks = random_chunks(3)
    index = KeywordIndex(chunks)
    expected: dict[str, int] = {}
    for chunk in chunks:
        for term in set(terms(chunk.text)):
            expected[term] = expected.get(term, 0) + 1
    assert dict(index.document_frequency) == expected
    assert index.document_frequency.get("nowhere", 0) == 0
    with_name = [c for c in chunks if "Office of Personnel Management" in c.text]
    assert ("opm" in index.acronyms) == bool(with_name)


def test_a_patch_that_removes_and_adds_documents_equals_a_rebuild_from_all_texts():
    chunks = random_chunks(4)
    removed = {"doc003.txt", "doc010.txt"}
    replaced = Chunk("doc003-replaced", "doc003.txt", 0, 30, "Office of Personnel Management quokka")
    added = [*random_chunks(5, documents=3, prefix="new"), replaced]
    patched = KeywordIndex(chunks).patch(removed, added)
    rebuilt = KeywordIndex([c for c in chunks if c.source not in removed] + added)
    assert [patched.chunk_id(i) for i in range(patched.size)] == [
        rebuilt.chunk_id(i) for i in range(rebuilt.size)
    ]
    for query in QUERIES:
        np.testing.assert_array_equal(patched.scores(query), rebuilt.scores(query))
    assert dict(patched.document_frequency) == dict(rebuilt.document_frequency)
    assert patched.acronyms == rebuilt.acronyms and patched.heads == rebuilt.heads
    assert patched.base.sources == rebuilt.base.sources and not patched.layered
    assert all(patched.row(c.id) == rebuilt.row(c.id) for c in [*chunks, *added])


def test_a_saved_index_loads_memory_mapped_and_scores_the_same(tmp_path):
    chunks = random_chunks(6)
    index = KeywordIndex(chunks)
    index.save(tmp_path / "v1", "gen-a/v1-x")
    loaded = KeywordIndex.load(tmp_path / "v1", "gen-a/v1-x")
    assert isinstance(loaded.base.ids, np.memmap) and isinstance(loaded.base.tf, np.memmap)
    for query in QUERIES:
        np.testing.assert_array_equal(loaded.scores(query), index.scores(query))
    assert loaded.acronyms == index.acronyms and loaded.heads == index.heads
    assert [loaded.chunk_id(i) for i in range(loaded.size)] == [index.chunk_id(i) for i in range(index.size)]
    assert not list(tmp_path.glob(".*"))  # no temporary folder left behind


def test_a_saved_index_for_another_key_is_refused(tmp_path):
    KeywordIndex(random_chunks(7)).save(tmp_path / "v1", "gen-a/v1-x")
    with pytest.raises(KeywordIndexUnusable, match="gen-a/v1-x"):
        KeywordIndex.load(tmp_path / "v1", "gen-a/v1-y")


@pytest.mark.parametrize("damaged", ["tf.npy", "bm25/data.csc.index.npy", "meta.json"])
def test_a_truncated_file_makes_a_saved_index_unusable(tmp_path, damaged):
    KeywordIndex(random_chunks(8)).save(tmp_path / "v1", "k")
    path = tmp_path / "v1" / damaged
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(KeywordIndexUnusable):
        KeywordIndex.load(tmp_path / "v1", "k")


def test_a_saved_index_of_another_format_is_refused(tmp_path):
    KeywordIndex(random_chunks(9)).save(tmp_path / "v1", "k")
    meta = json.loads((tmp_path / "v1" / "meta.json").read_text())
    (tmp_path / "v1" / "meta.json").write_text(json.dumps({**meta, "format": 0}))
    with pytest.raises(KeywordIndexUnusable, match="format 0"):
        KeywordIndex.load(tmp_path / "v1", "k")


def test_saving_over_an_existing_folder_replaces_it_whole(tmp_path):
    KeywordIndex(random_chunks(10)).save(tmp_path / "v1", "k")
    newer = KeywordIndex(random_chunks(11))
    newer.save(tmp_path / "v1", "k")
    loaded = KeywordIndex.load(tmp_path / "v1", "k")
    np.testing.assert_array_equal(loaded.scores("quokka"), newer.scores("quokka"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v1"]


def test_an_empty_index_saves_loads_and_scores_nothing(tmp_path):
    KeywordIndex([]).save(tmp_path / "v1", "k")
    loaded = KeywordIndex.load(tmp_path / "v1", "k")
    assert loaded.size == 0 and loaded.scores("quokka").shape == (0,)


def test_patches_of_a_saved_index_one_after_another_equal_a_rebuild_from_all_texts(tmp_path):
    chunks = random_chunks(12)
    KeywordIndex(chunks).save(tmp_path / "v1", "k")
    current = KeywordIndex.load(tmp_path / "v1", "k")
    texts = list(chunks)
    for step in range(4):
        gone = {f"doc{step * 5:03d}.txt"}
        added = random_chunks(20 + step, documents=2, prefix=f"step{step}-")
        current = current.patch(gone, added)
        current.save(tmp_path / f"v{step + 2}", "k")
        current = KeywordIndex.load(tmp_path / f"v{step + 2}", "k")
        texts = [c for c in texts if c.source not in gone] + added
    rebuilt = KeywordIndex(texts)
    for query in QUERIES:
        np.testing.assert_array_equal(current.scores(query), rebuilt.scores(query))
    assert dict(current.document_frequency) == dict(rebuilt.document_frequency)
    assert all(current.row(c.id) == rebuilt.row(c.id) for c in texts)


@pytest.fixture
def layering(monkeypatch):
    """Layer changes over indexes of any size, up to half the base's rows (the defaults apply them
    only from 20,000 rows, which these tests do not build)."""
    monkeypatch.setattr(KeywordIndex, "LAYER_MIN_ROWS", 1)
    monkeypatch.setattr(KeywordIndex, "LAYER_SHARE", 0.5)


def by_id(index: KeywordIndex, query: str) -> dict[str, float]:
    """The committed chunks' scores for the query, by chunk id (row numbers differ between layouts)."""
    scores = index.scores(query)
    return {index.chunk_id(i): float(scores[i]) for i in index.live_rows()}


def test_a_small_change_to_a_saved_index_is_layered_and_saves_only_the_change(tmp_path, layering):
    chunks = random_chunks(30, documents=40)
    KeywordIndex(chunks).save(tmp_path / "v1", "k1")
    base_files = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "v1").iterdir()}
    removed = {"doc003.txt", "doc007.txt"}
    replaced = Chunk("doc007-replaced", "doc007.txt", 0, 30, "Office of Personnel Management quokka")
    added = [*random_chunks(31, documents=2, prefix="new"), replaced]
    layered = KeywordIndex.load(tmp_path / "v1", "k1").patch(removed, added)
    assert layered.layered and layered.delta is not None and layered.dead == frozenset(removed)
    layered.save(tmp_path / "v2", "k2", {c.source: "sha-" + c.source for c in added})
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "v1").iterdir()} == base_files  # shared
    assert sum(p.stat().st_size for p in (tmp_path / "v2").rglob("*")) < sum(
        p.stat().st_size for p in (tmp_path / "v1").rglob("*")
    )
    assert KeywordIndex.base_folder_of(tmp_path / "v2") == "v1"

    loaded = KeywordIndex.load(tmp_path / "v2", "k2")
    rebuilt = KeywordIndex([c for c in chunks if c.source not in removed] + added)
    assert loaded.size == rebuilt.size
    assert sorted(loaded.chunk_id(i) for i in loaded.live_rows()) == sorted(
        c.id for c in rebuilt_chunks(rebuilt)
    )
    for query in QUERIES:
        assert by_id(loaded, query) == by_id(layered, query)
        got, want = by_id(loaded, query), by_id(rebuilt, query)
        assert {i for i, s in got.items() if s > 0} == {i for i, s in want.items() if s > 0}
        np.testing.assert_allclose([got[i] for i in want], list(want.values()), rtol=0.15)
    assert all(loaded.row(c.id) is None for c in chunks if c.source in removed)
    assert loaded.chunk_id(loaded.row("doc007-replaced")) == "doc007-replaced"
    assert loaded.source_of(loaded.first_row("doc007.txt")) == "doc007.txt"
    assert loaded.rows_of(["doc003.txt"]).sum() == 0 and loaded.rows_of(["doc007.txt"]).sum() == 1
    assert "opm" in loaded.acronyms and "doc003.txt" not in loaded.heads
    assert loaded.document_frequency["quokka"] == rebuilt.document_frequency["quokka"] + sum(
        "quokka" in terms(c.text) for c in chunks if c.source in removed
    )  # the dead rows' terms are still counted until the next merge


def rebuilt_chunks(index: KeywordIndex) -> list[Chunk]:
    return [Chunk(index.chunk_id(i), index.source_of(i), 0, 0, "") for i in index.live_rows()]


def test_once_the_layers_pass_their_share_the_next_change_merges_them_into_a_rebuild(
    tmp_path, layering, monkeypatch
):
    chunks = random_chunks(40, documents=20)
    KeywordIndex(chunks).save(tmp_path / "v1", "k")
    current = KeywordIndex.load(tmp_path / "v1", "k")
    texts = list(chunks)
    layered_steps = []
    for step in range(8):
        gone = {f"doc{step * 2:03d}.txt"}
        added = random_chunks(50 + step, documents=1, prefix=f"step{step}-")
        current = current.patch(gone, added)
        layered_steps.append(current.layered)
        current.save(tmp_path / f"v{step + 2}", "k", {c.source: "x" for c in added})
        current = KeywordIndex.load(tmp_path / f"v{step + 2}", "k")
        texts = [c for c in texts if c.source not in gone] + added
    assert layered_steps[0] and not all(layered_steps)  # layered at first, merged once past the share
    monkeypatch.setattr(KeywordIndex, "LAYER_SHARE", 0.0)  # the next change merges whatever is layered
    current = current.patch((), [])
    rebuilt = KeywordIndex(texts)
    assert not current.layered
    for query in QUERIES:
        np.testing.assert_array_equal(current.scores(query), rebuilt.scores(query))
    assert dict(current.document_frequency) == dict(rebuilt.document_frequency)
    assert all(current.row(c.id) == rebuilt.row(c.id) for c in texts)


def test_a_layered_index_whose_base_is_gone_or_replaced_is_unusable(tmp_path, layering):
    KeywordIndex(random_chunks(60)).save(tmp_path / "v1", "k1")
    layered = KeywordIndex.load(tmp_path / "v1", "k1").patch({"doc001.txt"}, random_chunks(61, 1, "new"))
    layered.save(tmp_path / "v2", "k2")
    KeywordIndex(random_chunks(62)).save(tmp_path / "v1", "another key")
    with pytest.raises(KeywordIndexUnusable):
        KeywordIndex.load(tmp_path / "v2", "k2")
    shutil.rmtree(tmp_path / "v1")
    with pytest.raises(KeywordIndexUnusable):
        KeywordIndex.load(tmp_path / "v2", "k2")


def test_a_document_added_then_removed_again_saves_a_pointer_to_the_unchanged_base(tmp_path, layering):
    chunks = random_chunks(90)
    KeywordIndex(chunks).save(tmp_path / "v1", "k1")
    added = random_chunks(91, 1, "new")
    layered = KeywordIndex.load(tmp_path / "v1", "k1").patch((), added)
    layered.save(tmp_path / "v2", "k2")
    back = KeywordIndex.load(tmp_path / "v2", "k2").patch({added[0].source}, [])
    assert not back.layered  # nothing is layered over the base any more
    back.save(tmp_path / "v3", "k3")
    assert KeywordIndex.base_folder_of(tmp_path / "v3") == "v1"  # not a copy of the whole base
    assert sum(p.stat().st_size for p in (tmp_path / "v3").rglob("*")) < 2_000
    loaded, rebuilt = KeywordIndex.load(tmp_path / "v3", "k3"), KeywordIndex(chunks)
    assert loaded.size == rebuilt.size
    for query in QUERIES:
        np.testing.assert_array_equal(loaded.scores(query), rebuilt.scores(query))


def test_an_index_built_in_memory_is_never_layered(layering):
    fresh = KeywordIndex(random_chunks(70)).patch({"doc001.txt"}, random_chunks(71, 1, "new"))
    assert not fresh.layered  # a layer must name a saved base; this one has none


def test_a_layered_index_saved_away_from_its_base_is_saved_whole(tmp_path, layering):
    chunks = random_chunks(80)
    KeywordIndex(chunks).save(tmp_path / "a" / "v1", "k1")
    added = random_chunks(81, 1, "new")
    layered = KeywordIndex.load(tmp_path / "a" / "v1", "k1").patch({"doc001.txt"}, added)
    assert layered.layered
    layered.save(tmp_path / "b" / "v2", "k2")
    loaded = KeywordIndex.load(tmp_path / "b" / "v2", "k2")
    rebuilt = KeywordIndex([c for c in chunks if c.source != "doc001.txt"] + added)
    assert not loaded.layered
    for query in QUERIES:
        np.testing.assert_array_equal(loaded.scores(query), rebuilt.scores(query))
