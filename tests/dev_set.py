"""Judging answers against the development set (`tests/data/article_dev.jsonl`).

The rules are the ones in `tests/data/README.md`:

- `must`: groups of alternatives; an answer holds the expected facts when it contains at least one
  alternative of every group, case-insensitively, starting at a word boundary (alternatives of three
  characters or fewer as whole words), with `[n]` citation markers ignored.
- `evidence`: passages of the document, exact except that any run of whitespace (non-breaking spaces
  included) may stand for any other.
- a citation is correct when its span overlaps an evidence span by at least 20 characters, or covers a
  shorter evidence span whole.

Kept free of `qa` imports beyond duck typing so it can move into the package unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

MIN_OVERLAP = 20
SHORT_ALTERNATIVE = 3
_MARKER = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Case:
    """One development question and what a correct answer to it looks like."""

    id: str
    question: str
    answerable: bool
    must: list[list[str]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


class Spanned(Protocol):
    start: int
    end: int


def load_cases(path: str | Path) -> list[Case]:
    """Every case of a JSON-lines development set, in file order."""
    cases = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            raw = json.loads(line)
            cases.append(
                Case(
                    id=raw["id"],
                    question=raw["question"],
                    answerable=bool(raw["answerable"]),
                    must=[list(group) for group in raw.get("must", [])],
                    evidence=list(raw.get("evidence", [])),
                )
            )
    return cases


def _alternative_pattern(alternative: str) -> re.Pattern[str]:
    # Whitespace inside an alternative matches any run of whitespace, like the evidence rule.
    body = r"\s+".join(re.escape(part) for part in alternative.split())
    if len(alternative) <= SHORT_ALTERNATIVE:
        return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
    return re.compile(rf"(?<!\w){body}", re.IGNORECASE)


def holds_expected_facts(answer_text: str, must: list[list[str]]) -> bool:
    """True when the answer contains an alternative of every `must` group (`[n]` markers ignored)."""
    text = _MARKER.sub(" ", answer_text)
    return all(any(_alternative_pattern(alt).search(text) for alt in group) for group in must)


def evidence_spans(document_text: str, evidence: list[str]) -> list[tuple[int, int]]:
    """The (start, end) spans of every occurrence of each evidence passage in the document.

    Raises ValueError when a passage does not occur: a stale dev set must fail loudly, not score zero.
    """
    spans: list[tuple[int, int]] = []
    for passage in evidence:
        pattern = r"\s+".join(re.escape(part) for part in passage.split())
        found = [(m.start(), m.end()) for m in re.finditer(pattern, document_text)]
        if not found:
            raise ValueError(f"evidence not found in the document: {passage!r}")
        spans.extend(found)
    return spans


def citation_is_correct(citation: Spanned, spans: list[tuple[int, int]]) -> bool:
    """True when the citation overlaps an evidence span by >= 20 characters or covers a shorter one whole."""
    for start, end in spans:
        overlap = min(citation.end, end) - max(citation.start, start)
        if overlap >= MIN_OVERLAP:
            return True
        if end - start < MIN_OVERLAP and citation.start <= start and end <= citation.end:
            return True
    return False
