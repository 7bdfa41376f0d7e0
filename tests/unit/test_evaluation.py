"""The judge behind `qa eval` (`qa.evaluation`) applies the rules of `eval/README.md`."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from helpers import ARTICLE_PATH, read_document

from qa.errors import QAError
from qa.evaluation import (
    SQUAD2_DEV,
    XQUAD_FILE,
    article_dataset,
    cases_from_jsonl,
    citation_is_correct,
    evidence_spans,
    holds_expected_facts,
    holds_gold_answer,
    left_out_paragraph,
    load_dataset,
    squad2_datasets,
    squad2_left_out_datasets,
    squad_normalise,
    xquad_dataset,
    xquad_noans_dataset,
)

ARTICLE = read_document(ARTICLE_PATH)
ARTICLE_XQUAD = XQUAD_FILE


@dataclass(frozen=True)
class At:
    start: int
    end: int
    source: str = "a.txt"


def gold(*spans: tuple[int, int]) -> list[tuple[str, int, int]]:
    return [("a.txt", start, end) for start, end in spans]


def test_the_development_set_loads_twenty_two_cases_twelve_of_them_answerable():
    cases = article_dataset()[0].cases
    assert len(cases) == 22
    assert sum(c.answerable for c in cases) == 12
    assert len({c.id for c in cases}) == 22
    for case in cases:
        assert case.question.strip()
        assert bool(case.must) == bool(case.evidence) == bool(case.gold) == case.answerable


def test_a_case_file_skips_blank_lines_and_defaults_missing_fields(tmp_path):
    path = tmp_path / "cases.jsonl"
    rows = [
        {"id": "x", "question": "Q?", "answerable": False},
        {"id": "y", "question": "R?", "answerable": True},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    cases = cases_from_jsonl(path, {"a.txt": "Some text."})
    assert [(c.id, c.answerable, c.must, c.evidence) for c in cases] == [
        ("x", False, [], []),
        ("y", True, [], []),
    ]


def test_every_evidence_passage_of_the_development_set_is_in_the_article():
    for case in article_dataset()[0].cases:
        assert len(evidence_spans(ARTICLE, case.evidence)) >= len(case.evidence), case.id


@pytest.mark.parametrize(
    ("answer", "must", "holds"),
    [
        ("Barack OBAMA extended it [1]", [["Obama"]], True),
        ("It was Michelle.", [["Obama"]], False),
        ("a reduction in hacking", [["reduc", "decline"]], True),  # starts at a word boundary
        ("it was produced", [["reduc"]], False),  # inside a word: no
        ("it fell, unless", [["less"]], False),
        ("a lesser amount", [["less"]], True),  # longer alternatives need only the start boundary
        ("Yes, they are.", [["yes"]], True),
        ("Yesterday they met.", [["yes"]], False),  # three characters or fewer: whole words only
        ("see the DoD manual", [["DoD"]], True),
        ("see the DoDo bird", [["DoD"]], False),
        ("Progress [2] is expected", [["progress"], ["expect"]], True),
        ("Progress is hoped for", [["progress"], ["expect"]], False),  # every group must hold
        ("Passage [2] says so", [["2"]], False),  # citation markers are not answer text
        ("malicious cyber-enabled\u00a0activities", [["malicious cyber-enabled activities"]], True),
    ],
)
def test_holds_expected_facts_applies_the_matching_rules(answer, must, holds):
    assert holds_expected_facts(answer, must) is holds


def test_evidence_matches_across_any_run_of_whitespace_including_non_breaking_spaces():
    spans = evidence_spans(ARTICLE, ["find a modus operandi in cyberspace"])
    assert len(spans) == 1
    start, end = spans[0]
    assert ARTICLE[start:end] == "find a\u00a0modus operandi\u00a0in cyberspace"


def test_evidence_found_several_times_yields_every_span():
    spans = evidence_spans(ARTICLE, ["China-US Relations in Cyberspace: A Half-Year Assessment"])
    assert len(spans) == 3
    assert all(ARTICLE[a:b] == "China-US Relations in Cyberspace: A Half-Year Assessment" for a, b in spans)


def test_evidence_that_is_not_in_the_document_fails_loudly():
    with pytest.raises(ValueError, match="not found"):
        evidence_spans(ARTICLE, ["Beijing has twenty million inhabitants"])


@pytest.mark.parametrize(
    ("citation", "correct"),
    [
        (At(100, 200), True),  # covers the evidence
        (At(130, 150), True),  # inside it, 20 characters
        (At(180, 300), True),  # overlaps its end by exactly 20
        (At(181, 300), False),  # 19 characters
        (At(0, 119), False),  # 19 at the start
        (At(200, 300), False),  # touches, no overlap
    ],
)
def test_a_citation_is_correct_when_it_overlaps_evidence_by_twenty_characters(citation, correct):
    assert citation_is_correct(citation, gold((100, 200))) is correct


def test_a_citation_covering_short_evidence_whole_is_correct_but_partial_cover_is_not():
    short = gold((50, 60))
    assert citation_is_correct(At(40, 70), short)
    assert citation_is_correct(At(50, 60), short)
    assert not citation_is_correct(At(55, 70), short)


def test_a_citation_is_judged_against_every_evidence_span():
    spans = gold((0, 10), (500, 600))
    assert citation_is_correct(At(550, 580), spans)
    assert not citation_is_correct(At(200, 300), spans)
    assert not citation_is_correct(At(550, 580, source="b.txt"), spans)  # right place, wrong document


def test_a_case_whose_evidence_is_in_no_document_is_refused_with_its_line(tmp_path):
    path = tmp_path / "cases.jsonl"
    row = {"id": "z", "question": "Q?", "answerable": True, "must": [["x"]], "evidence": ["not there"]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(QAError, match=r"cases\.jsonl:1"):
        cases_from_jsonl(path, {"a.txt": "Some text."})


def test_xquad_makes_every_paragraph_a_document_and_every_answer_a_gold_span():
    dataset = xquad_dataset()[0]
    assert len(dataset.documents) == 240
    assert len(dataset.cases) > 500 and all(c.answerable for c in dataset.cases)
    for case in dataset.cases[:50]:
        for source, start, end in case.gold:
            assert dataset.documents[source][start:end] in case.evidence


def test_the_paraphrased_article_set_loads_twenty_cases_with_evidence_in_the_article():
    [dataset] = load_dataset("article-paraphrased")
    assert len(dataset.cases) == 20
    assert all(c.gold for c in dataset.cases if c.answerable)
    assert {c.answerable for c in dataset.cases} == {True, False}


@pytest.mark.parametrize(
    ("answer", "answers", "holds"),
    [
        ("It was published by The Times [1].", ["the Times"], True),  # articles and case ignored
        ("Costs rose to $1,000.", ["1,000"], True),  # punctuation ignored on both sides
        ("In 1990s Britain.", ["1990"], False),  # whole words only
        ("Nothing here.", [], False),
    ],
)
def test_holds_gold_answer_uses_squad_normalisation(answer, answers, holds):
    assert holds_gold_answer(answer, answers) is holds


def test_squad_normalise_lower_cases_and_drops_punctuation_and_articles():
    assert squad_normalise("The  U.S. Army, an ally!") == "us army ally"


def test_squad2_makes_each_article_one_document_whose_gold_spans_are_the_answers():
    parts = load_dataset("squad2")
    assert len(parts) == 3
    dev = parts[0]
    assert len(dev.cases) == 418 and sum(not c.answerable for c in dev.cases) == 221
    [(source, text)] = dev.documents.items()
    for case in dev.cases:
        assert case.article == "Computational_complexity_theory"
        for s, start, end in case.gold:
            assert s == source and text[start:end] in case.answers
    assert all(any(not c.answerable for c in part.cases) for part in parts)


def test_a_squad_json_file_is_read_as_squad2_and_a_broken_one_is_refused(tmp_path):
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {
                        "context": "Ada wrote notes.",
                        "qas": [
                            {
                                "id": "1",
                                "question": "Who wrote notes?",
                                "answers": [{"text": "Ada", "answer_start": 0}],
                            },
                            {"id": "2", "question": "Who read them?", "answers": [], "is_impossible": True},
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    [part] = load_dataset(str(path))
    assert [c.answerable for c in part.cases] == [True, False]
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(QAError, match=r"not a SQuAD 2\.0 JSON file"):
        load_dataset(str(bad))


def test_xquad_noans_leaves_one_paragraph_per_article_out_and_its_questions_unanswerable():
    [dataset] = xquad_noans_dataset()
    raw = json.loads(ARTICLE_XQUAD.read_text(encoding="utf-8"))["data"]
    assert len(dataset.documents) == len(raw) == 48
    left_out = {
        qa["id"]
        for article in raw
        for i, p in enumerate(article["paragraphs"])
        if i == left_out_paragraph(article["title"], len(article["paragraphs"]))
        for qa in p["qas"]
    }
    assert {c.id for c in dataset.cases if not c.answerable} == left_out
    for case in dataset.cases:
        for source, start, end in case.gold:
            assert dataset.documents[source][start:end] in case.answers


def test_squad2_left_out_asks_about_paragraphs_missing_from_the_kept_text_and_nothing_it_still_answers():
    [full] = squad2_datasets(SQUAD2_DEV)
    [part] = squad2_left_out_datasets(SQUAD2_DEV)
    [kept] = part.documents.values()
    paragraphs = next(iter(full.documents.values())).split("\n\n")
    missing = [p for p in paragraphs if p not in kept]
    assert 0 < len(missing) < len(paragraphs) / 2
    assert part.cases and all(not c.answerable and c.article == full.cases[0].article for c in part.cases)
    by_id = {c.id: c for c in full.cases}
    for case in part.cases:
        original = by_id[case.id.removesuffix("-left-out")]
        assert original.answerable and not holds_gold_answer(kept, original.answers)
        _, start, end = original.gold[0]
        assert any(next(iter(full.documents.values()))[start:end] in p for p in missing)
