"""The answerer interface: given a question the evidence selector found answerable, write the answer.

The decision to answer is made before any answerer runs (`qa.answering`), so no answerer can overturn
a decline. An answerer only chooses how the chosen evidence is said: quoted verbatim, or written by a
language model whose every sentence is checked against the passages before anyone sees it.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from ..models import Answer, Citation

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from ..answering import Decision, Evidence
    from ..embeddings import EmbeddingModel
    from ..settings import Settings

log = logging.getLogger(__name__)


class Answerer(ABC):
    """Writes answers for one Assistant. `name` is what QA_ANSWERER and `Answer.mode` say."""

    name: ClassVar[str]
    describes: ClassVar[str]  # for people, under an answer: who wrote it and how it was checked
    auto_rank: ClassVar[int | None] = None  # QA_ANSWERER=auto prefers the lowest; None: never chosen

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def unavailable(cls, settings: Settings) -> str | None:
        """Why this answerer cannot run here, saying what to do; None when it can."""
        return None

    def chat_model(self) -> BaseChatModel | None:
        """The language model behind the answers (also used to rewrite follow-up questions), if any."""
        return None

    @abstractmethod
    def write(
        self, query: str, decision: Decision, quoted: Answer, embeddings: EmbeddingModel
    ) -> Iterator[Answer]:
        """Answers whose text grows; the last has `final=True`. `quoted` is the extractive answer for the
        same evidence: the fallback when nothing better can be said."""


class ModelAnswerer(Answerer):
    """An answerer whose sentences come from a chat model, each one checked before it is shown."""

    def __init__(self, settings: Settings, model: BaseChatModel | None = None) -> None:
        super().__init__(settings)
        self._model = model
        self._lock = threading.Lock()

    @abstractmethod
    def _create_model(self) -> BaseChatModel:
        """The chat model, built on first use (loading it can take seconds)."""

    def chat_model(self) -> BaseChatModel:
        with self._lock:
            if self._model is None:
                self._model = self._create_model()
            return self._model

    def write(
        self, query: str, decision: Decision, quoted: Answer, embeddings: EmbeddingModel
    ) -> Iterator[Answer]:
        """Stream checked sentences from the model; fall back to the quoted answer when none pass."""
        from ..generative import OVERVIEW_REQUEST, Checked, SentenceChecker, compose, generate_checked
        from ..short_answers import short_answer
        from .extractive import opening

        evidence = decision.passages_for_model
        request = OVERVIEW_REQUEST if decision.kind == "overview" else query
        checker = SentenceChecker(embeddings, request, evidence)
        sentences: list[Checked] = []
        support = round(decision.support, 4)

        def answer(final: bool) -> Answer:
            text, citations = compose(sentences, evidence)
            # The fact first, once the answer is complete (so that no streamed update states a fact
            # the final answer replaces): the reader's span of the sentence the decision rests on, as
            # in the quoted answer, cited after the model's own citations when the model did not cite
            # it. Cut from the model's first cited sentence instead, it scored F1 0.43 against 0.47 on
            # the SQuAD 2.0 development article (`qa eval --answerer local`): the model often opens
            # with a neighbouring sentence. Asking the model to copy the phrase scored no better than
            # the reader (`python -m bench.short_answers`), for one more model call.
            short = None
            if final and decision.kind == "match" and decision.evidence:
                with_resting, resting = _citing(citations, decision.evidence[0])
                short = short_answer(query, [resting])
                citations = with_resting if short is not None else citations
            text = f"{opening(decision, short)} {text}".strip()
            return Answer(
                text, True, citations, query=query, mode=self.name, final=final, support=support,
                short=short, kind=decision.kind,
            )  # fmt: skip

        try:
            for checked in generate_checked(self.chat_model(), request, evidence, checker):
                sentences.append(checked)
                yield answer(final=False)
        except Exception as exc:  # an unreachable server or a model error must not lose the answer
            log.warning(
                "the %s answerer failed (%s: %s); %s",
                self.name,
                type(exc).__name__,
                exc,
                "keeping the checked sentences already shown" if sentences else "answering extractively",
            )
        yield answer(final=True) if sentences else quoted


def _citing(citations: list[Citation], sentence: Evidence) -> tuple[list[Citation], Citation]:
    """The citations with the sentence among them (its own, or a new last one) and its citation."""
    for citation in citations:
        if (citation.source, citation.start) == (sentence.source, sentence.span.start):
            return citations, citation
    span = sentence.span
    added = Citation(len(citations) + 1, sentence.source, span.start, span.end, span.text, sentence.page)
    return [*citations, added], added
