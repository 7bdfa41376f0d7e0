"""`as_retriever()` and `as_runnable()` used as a LangChain user would: composed in LCEL with a prompt,
streamed, batched and awaited, over the real article index."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from helpers import ARTICLE_SOURCE
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from qa import Assistant
from qa.errors import QAError, QuestionError
from qa.models import Answer, Citation

pytestmark = pytest.mark.integration

BEIJING = "Where did the second round of the cybercrime dialogue take place?"
POPULATION = "What is the population of Beijing?"


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(
        f"[{d.metadata['source']} {d.metadata['start']}-{d.metadata['end']}] {d.page_content}" for d in docs
    )


def test_the_retriever_is_a_base_retriever_whose_documents_point_at_exact_offsets(
    article_index, article_text
):
    retriever = article_index.assistant.as_retriever(k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("cybercrime dialogue")
    assert len(docs) == 3
    for doc in docs:
        meta = doc.metadata
        assert set(meta) == {"source", "start", "end", "page", "score"}
        assert meta["source"] == ARTICLE_SOURCE and meta["page"] is None and 0 < meta["score"] <= 1
        assert article_text[meta["start"] : meta["end"]] == doc.page_content


def test_the_retriever_composes_with_a_prompt_in_lcel(article_index):
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer only from this context:\n\n{context}"), ("human", "{question}")]
    )
    chain = {
        "context": article_index.assistant.as_retriever(k=2) | format_docs,
        "question": RunnablePassthrough(),
    } | prompt
    messages = chain.invoke(BEIJING).to_messages()
    assert messages[-1].content == BEIJING
    assert "Beijing" in messages[0].content and ARTICLE_SOURCE in messages[0].content


def test_the_retriever_keeps_to_the_sources_it_was_given(private_article_index, tmp_path):
    (private_article_index.corpus_dir / "quokkas.txt").write_text(
        "Quokkas live on Rottnest Island near Perth. The dialogue of quokkas is a series of squeaks.\n",
        encoding="utf-8",
    )
    assistant = private_article_index.assistant
    assistant.rebuild()
    docs = assistant.as_retriever(k=4, sources=["quokkas.txt"]).invoke("dialogue")
    assert docs and {d.metadata["source"] for d in docs} == {"quokkas.txt"}


def test_the_runnable_answers_a_question_with_exact_citations(article_index, article_text):
    runnable = article_index.assistant.as_runnable()
    assert isinstance(runnable, Runnable)
    answer = runnable.invoke(BEIJING)
    assert isinstance(answer, Answer) and answer.answerable and "Beijing" in answer.text
    assert all(article_text[c.start : c.end] == c.text for c in answer.citations)


def test_the_runnable_takes_a_follow_up_with_its_history_as_pairs_or_chat_messages(article_index):
    runnable = article_index.assistant.as_runnable()
    first_question = "What did the Senior Experts Group discuss?"
    first = runnable.invoke(first_question)
    follow_up = "When did they first meet?"
    by_pairs = runnable.invoke({"question": follow_up, "history": [(first_question, first.text)]})
    by_messages = runnable.invoke(
        {"question": follow_up, "history": [HumanMessage(first_question), AIMessage(first.text)]}
    )
    assert by_pairs.query == "When did the Senior Experts Group first meet?"  # rewritten from the history
    assert by_messages.query == by_pairs.query and by_messages.text == by_pairs.text


def test_the_runnable_batches_and_awaits(article_index):
    runnable = article_index.assistant.as_runnable()
    answered, declined = runnable.batch([BEIJING, POPULATION])
    assert answered.answerable and not declined.answerable and declined.nearest
    awaited = asyncio.run(runnable.ainvoke(BEIJING))
    assert awaited.text == answered.text and awaited.citations == answered.citations


def test_the_runnable_feeds_an_lcel_chain(article_index):
    chain = article_index.assistant.as_runnable() | RunnableLambda(
        lambda a: {"text": a.text, "ok": a.answerable}
    )
    assert chain.invoke(POPULATION)["ok"] is False


def test_a_bad_input_is_a_one_line_question_error(article_index):
    runnable = article_index.assistant.as_runnable()
    for bad in ({"q": BEIJING}, 42, {"question": BEIJING, "history": "not turns"}):
        with pytest.raises(QuestionError, match="give a question") as caught:
            runnable.invoke(bad)  # type: ignore[arg-type]
        assert "\n" not in str(caught.value)


class GrowingAssistant(Assistant):
    """A real Assistant whose stream replays answers that grow, as a language model's do."""

    ANSWERS: ClassVar[list[Answer]] = [
        Answer(
            "First part. [1]", True, [Citation(1, "a.txt", 0, 11, "First part.")], query="q?", final=False
        ),
        Answer(
            "First part. [1] Second part. [2]",
            True,
            [Citation(1, "a.txt", 0, 11, "First part."), Citation(2, "a.txt", 12, 24, "Second part.")],
            query="q?",
        ),
    ]

    def stream(self, question: str, history: Any = None, sources: Any = None) -> Iterator[Answer]:
        self.asked = (question, history, sources)
        yield from self.ANSWERS


def test_streaming_yields_growing_answers_and_the_last_is_final(tmp_path):
    assistant = GrowingAssistant(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    runnable = assistant.as_runnable()
    updates = list(runnable.stream({"question": "q?", "history": [("a", "b")], "sources": ["a.txt"]}))
    assert [u.text for u in updates] == [a.text for a in GrowingAssistant.ANSWERS]
    assert [u.final for u in updates] == [False, True]
    assert assistant.asked == ("q?", [("a", "b")], ["a.txt"])

    async def collect() -> list[Answer]:
        return [a async for a in runnable.astream("q?")]

    assert [a.text for a in asyncio.run(collect())] == [a.text for a in GrowingAssistant.ANSWERS]
    assert runnable.invoke("q?").text == GrowingAssistant.ANSWERS[-1].text  # invoke keeps the final one


def test_streaming_a_real_answer_ends_with_the_checked_final_answer(article_index):
    updates = list(article_index.assistant.as_runnable().stream(BEIJING))
    assert updates and updates[-1].final and updates[-1].answerable
    assert updates[-1].text == article_index.assistant.ask(BEIJING).text


@pytest.mark.parametrize("k", [0, 51, "4"])
def test_a_retriever_asked_for_an_impossible_number_of_passages_is_refused_in_one_line(article_index, k):
    with pytest.raises(QAError, match="1 to 50") as caught:
        article_index.assistant.as_retriever(k=k)
    assert "\n" not in str(caught.value)
