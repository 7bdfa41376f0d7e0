"""LangChain objects over an Assistant, for people who compose their own chains.

    retriever = assistant.as_retriever(k=4)     # a BaseRetriever: hybrid search, Documents whose metadata
                                                # hold source, start, end, page and score
    answers = assistant.as_runnable()           # a Runnable: a question, or {"question", "history"}, to an
                                                # Answer; invoke, stream (growing answers), batch, ainvoke

Only langchain-core (already a dependency), and no model is loaded until a question is asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, NotRequired, TypedDict

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field

from .assistant import Assistant
from .errors import QuestionError
from .models import Answer

History = list[tuple[str, str]]


class QuestionInput(TypedDict):
    """What the runnable takes besides a bare question string."""

    question: str
    history: NotRequired[Sequence[tuple[str, str]] | Sequence[BaseMessage]]
    sources: NotRequired[list[str] | None]


class PassageRetriever(BaseRetriever):
    """The assistant's hybrid search (dense and keyword rankings fused) as a LangChain retriever.

    Each Document is a passage: `page_content` is exactly the document's characters `start` to `end`,
    and the metadata say where it is (source, start, end, page) and how well it matched (score)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Assistant
    k: int = Field(4, ge=1, le=50)
    sources: list[str] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                id=f"{p.source}:{p.start}-{p.end}",
                page_content=p.text,
                metadata={
                    "source": p.source,
                    "start": p.start,
                    "end": p.end,
                    "page": p.page,
                    "score": p.score,
                },
            )
            for p in self.assistant.search(query, k=self.k, sources=self.sources)
        ]


class AnswerRunnable(Runnable[str | QuestionInput, Answer]):
    """`Assistant.ask` as a Runnable: a question (or {"question", "history", "sources"}) to an Answer.

    `stream` yields Answers whose text grows, the last one final and checked (LangChain's own
    accumulation keeps that last one); `batch` and `ainvoke` run `invoke` in threads as usual."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    @property
    def InputType(self) -> Any:
        return str | QuestionInput

    @property
    def OutputType(self) -> type[Answer]:
        return Answer

    def invoke(
        self, input: str | QuestionInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Answer:
        return self._call_with_config(self._ask, input, config)

    def stream(
        self,
        input: str | QuestionInput,
        config: RunnableConfig | None = None,
        **kwargs: Any | None,
    ) -> Iterator[Answer]:
        yield from self._transform_stream_with_config(iter([input]), self._answers, config)

    async def astream(
        self,
        input: str | QuestionInput,
        config: RunnableConfig | None = None,
        **kwargs: Any | None,
    ) -> AsyncIterator[Answer]:
        """`stream`, each step in a worker thread, so the event loop never waits on the model."""
        updates = self.stream(input, config)
        end = object()
        while (answer := await run_in_executor(config, next, updates, end)) is not end:
            yield answer  # type: ignore[misc]

    def _ask(self, item: str | QuestionInput) -> Answer:
        question, history, sources = _unpack(item)
        return self.assistant.ask(question, history=history, sources=sources)

    def _answers(self, items: Iterator[str | QuestionInput]) -> Iterator[Answer]:
        for item in items:
            question, history, sources = _unpack(item)
            yield from self.assistant.stream(question, history=history, sources=sources)


USAGE = "give a question, or {'question': ..., 'history': [(question, answer), ...]}"


def _unpack(item: object) -> tuple[str, History | None, list[str] | None]:
    """(question, history, sources) from what a chain passed in; a QuestionError for anything else."""
    if isinstance(item, str):
        return item, None, None
    if not isinstance(item, dict) or not isinstance(item.get("question"), str):
        raise QuestionError(f"the runnable got {type(item).__name__}; {USAGE}")
    sources = item.get("sources")
    return item["question"], _history(item.get("history")), list(sources) if sources else None


def _history(value: object) -> History | None:
    """Earlier turns as (question, answer) pairs, from pairs or from alternating chat messages."""
    if not value:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise QuestionError(f"the history is a {type(value).__name__}; {USAGE}")
    if all(isinstance(m, BaseMessage) for m in value):
        turns: History = []
        asked: str | None = None
        for message in value:
            if isinstance(message, HumanMessage):
                asked = message.text
            elif isinstance(message, AIMessage) and asked is not None:
                turns.append((asked, message.text))
                asked = None
        return turns
    if all(isinstance(t, Sequence) and not isinstance(t, str) and len(t) == 2 for t in value):
        return [(str(q), str(a)) for q, a in value]
    raise QuestionError(f"the history must be (question, answer) pairs or chat messages; {USAGE}")
