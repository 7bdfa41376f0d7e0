"""Quoting: the chosen sentences verbatim, each with its citation. Needs no language model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from ..models import Answer, Citation, Passage
from ..short_answers import short_answer
from .base import Answerer

if TYPE_CHECKING:
    from ..answering import Decision
    from ..embeddings import EmbeddingModel


class Extractive(Answerer):
    name = "extractive"
    describes = "Quoted from the documents (extractive answerer)."
    auto_rank = 1

    def write(
        self, query: str, decision: Decision, quoted: Answer, embeddings: EmbeddingModel
    ) -> Iterator[Answer]:
        """The quotation, one cited sentence at a time, so a chat shows it growing like any other."""
        shown = opening(decision, quoted.short)
        for citation in quoted.citations[:-1]:
            shown = f"{shown} {citation.text} [{citation.n}]".strip()
            yield replace(quoted, text=shown, citations=quoted.citations[: citation.n], final=False)
        yield quoted


def opening(decision: Decision, short: Citation | None) -> str:
    """What an answer opens with: the fact itself ("June 2015 [1]."), after a hedge when the answer is
    uncertain ("The closest the documents come: June 2015 [1].")."""
    from ..answering import TENTATIVE_PREFIX

    fact = f"{short.text} [{short.n}]." if short is not None else ""
    return f"{TENTATIVE_PREFIX} {fact}".strip() if decision.tentative else fact


def quote(query: str, decision: Decision) -> Answer:
    """The chosen sentences verbatim, each followed by its citation number; for a fact question the
    fact comes first, as a span of the sentence it is cut from."""
    citations = [
        Citation(n=i, source=e.source, start=e.span.start, end=e.span.end, text=e.span.text, page=e.page)
        for i, e in enumerate(decision.evidence, start=1)
    ]
    short = short_answer(query, citations) if decision.kind == "match" else None
    quoted = " ".join(f"{c.text} [{c.n}]" for c in citations)
    text = f"{opening(decision, short)} {quoted}".strip()
    support = round(decision.support, 4)
    return Answer(
        text, True, citations, query=query, mode=Extractive.name, support=support, short=short,
        kind=decision.kind,
    )  # fmt: skip


def decline(query: str, decision: Decision, nearest: list[Passage]) -> Answer:
    """The refusal, with its reason and the closest passages (which do not support an answer). No model
    writes it, whichever answerer is chosen, so it is marked as quoted."""
    from ..answering import DECLINE_PREFIX

    text = f"{DECLINE_PREFIX}: {decision.reason}"
    return Answer(
        text, False, nearest=nearest, query=query, mode=Extractive.name, support=round(decision.support, 4)
    )
