"""Hybrid retrieval: dense and BM25 scores standardised over the candidates and averaged, over a
real Chroma store.

`ScriptedEmbeddings` lets each test choose every chunk's cosine similarity to the query, so the
dense scores are known exactly and the fused scores can be computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import ScriptedEmbeddings

from qa.index import IndexStore
from qa.retrieval import DENSE_WEIGHT, hybrid_search

DOCS = {
    "a.txt": ("Zebra stripes are striking.", 1.0),  # dense 1st for any query; no keyword match for quokka
    "b.txt": ("The quokka quokka lives on an island.", 0.8),  # dense 2nd, keyword 1st for quokka
    "c.txt": ("A quokka was seen in the park near the river today.", 0.6),  # dense 3rd, keyword 2nd
    "d.txt": ("Nothing relevant appears here.", 0.0),  # dense 4th, no keyword match
}


def expected_scores(snapshot, query: str, cosines: dict[str, float]) -> dict[str, float]:
    """Fused scores worked out by hand: z-scores of cosine and BM25 over the candidates, averaged,
    then mapped to 0..1 by the logistic function."""
    bm25 = dict(zip([c.source for c in snapshot.chunks], snapshot.keyword.scores(query), strict=True))
    names = sorted(cosines)
    dense = np.array([cosines[n] for n in names])
    sparse = np.array([bm25[n] for n in names])

    def z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / x.std() if x.std() > 0 else np.zeros_like(x)

    fused = DENSE_WEIGHT * z(dense) + (1 - DENSE_WEIGHT) * z(sparse)
    return {n: 1 / (1 + math.exp(-f)) for n, f in zip(names, fused, strict=True)}


def build(tmp_path, docs: dict[str, tuple[str, float]]):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, (text, _) in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    cosines = {text: cos for text, cos in docs.values()}
    embeddings = ScriptedEmbeddings(cosines.get)
    store = IndexStore(tmp_path / "index", embeddings, chunk_size=700, chunk_overlap=1)
    report = store.build(corpus, max_bytes=1_000_000)
    assert report.embedded == len(docs)
    return store.open(), embeddings


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    return build(tmp_path_factory.mktemp("four"), DOCS)


def test_passages_are_ordered_by_fused_score_not_by_either_ranking_alone(four):
    snapshot, embeddings = four
    passages = hybrid_search(snapshot, embeddings, "quokka", k=4)
    assert [p.source for p in passages] == ["b.txt", "c.txt", "a.txt", "d.txt"]


def test_fused_scores_average_the_standardised_cosine_and_bm25_scores(four):
    snapshot, embeddings = four
    scores = {p.source: p.score for p in hybrid_search(snapshot, embeddings, "quokka", k=4)}
    cosines = {name: cos for name, (_, cos) in DOCS.items()}
    assert scores == pytest.approx(expected_scores(snapshot, "quokka", cosines), abs=1e-4)
    assert all(0.0 < score < 1.0 for score in scores.values())


def test_a_passage_first_in_both_rankings_comes_first_with_the_highest_score(four):
    snapshot, embeddings = four
    passages = hybrid_search(snapshot, embeddings, "zebra", k=4)
    assert passages[0].source == "a.txt"
    assert passages[0].score == max(p.score for p in passages) > 0.5


def test_similarity_is_the_cosine_of_query_and_passage(four):
    snapshot, embeddings = four
    similarity = {p.source: p.similarity for p in hybrid_search(snapshot, embeddings, "quokka", k=4)}
    assert similarity == pytest.approx({name: cos for name, (_, cos) in DOCS.items()}, abs=1e-3)


def test_k_limits_the_number_of_passages(four):
    snapshot, embeddings = four
    assert len(hybrid_search(snapshot, embeddings, "quokka", k=2)) == 2
    assert hybrid_search(snapshot, embeddings, "quokka", k=0) == []


def test_sources_restrict_both_rankings_to_the_named_documents(four):
    snapshot, embeddings = four
    passages = hybrid_search(snapshot, embeddings, "quokka", k=4, sources=["c.txt", "d.txt"])
    assert [p.source for p in passages] == ["c.txt", "d.txt"]
    cosines = {"c.txt": DOCS["c.txt"][1], "d.txt": DOCS["d.txt"][1]}  # standardised among those two only
    assert {p.source: p.score for p in passages} == pytest.approx(
        expected_scores(snapshot, "quokka", cosines), abs=1e-4
    )


def test_an_unknown_source_finds_nothing(four):
    snapshot, embeddings = four
    assert hybrid_search(snapshot, embeddings, "quokka", k=4, sources=["nope.txt"]) == []


def test_passage_text_is_the_document_text_at_its_offsets(four):
    snapshot, embeddings = four
    passages = hybrid_search(snapshot, embeddings, "quokka", k=4)
    assert len(passages) == 4
    for p in passages:
        text = DOCS[p.source][0]
        assert text[p.start : p.end] == p.text
        assert p.page is None


def test_a_keyword_only_hit_beyond_the_dense_candidates_gets_its_similarity_from_its_stored_vector(tmp_path):
    docs = {f"filler{i:02d}.txt": (f"Filler sentence number {i} about gardens.", 0.5) for i in range(35)}
    docs["target.txt"] = ("A wombat dug a burrow.", -0.9)  # dense last, beyond the 30 candidates
    snapshot, embeddings = build(tmp_path, docs)
    passages = hybrid_search(snapshot, embeddings, "wombat", k=len(docs))
    target = next(p for p in passages if p.source == "target.txt")
    assert target.similarity == pytest.approx(-0.9, abs=1e-3)
    assert len(passages) == 31  # the 30 dense candidates and the keyword-only one


def test_chunks_with_reads_the_chunks_holding_every_word_or_none_when_more_than_the_limit_do(four):
    snapshot, _ = four
    assert sorted(c.source for c in snapshot.chunks_with(["quokka"], 10)) == ["b.txt", "c.txt"]
    holding = snapshot.chunks_with(["Quokka", "island"], 10)  # as the keyword index reads words
    assert [(c.source, c.text) for c in holding] == [("b.txt", DOCS["b.txt"][0])]
    assert snapshot.chunks_with(["quokka", "zebra"], 10) == []
    assert snapshot.chunks_with(["quokka"], 1) is None


def test_sources_with_names_the_documents_holding_every_word_anywhere_or_none_beyond_the_limit(four):
    snapshot, _ = four
    assert snapshot.sources_with(["quokka", "island"], 10) == {"b.txt"}
    assert snapshot.sources_with(["quokka"], 10) == {"b.txt", "c.txt"}
    assert snapshot.sources_with(["quokka", "zebra"], 10) == set()  # in different documents
    assert snapshot.sources_with(["quokka"], 1) is None
