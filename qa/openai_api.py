"""An OpenAI-compatible endpoint under /v1, so any OpenAI client or chat front end can use `qa` as a model.

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="unused-on-loopback")
    reply = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": "..."}])

`GET /v1/models` lists one model per collection (`qa` is the default one, `qa:NAME` another). In
`POST /v1/chat/completions` the last user message is the question and the earlier user and assistant
turns are the history. The reply's text carries [n] markers and a "Sources:" list; the same citations
come as data in the extra field `citations` (and `answerable`) of the completion, and of the final chunk
when streamed. A decline is an ordinary reply that says the documents don't say.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from .errors import QAError
from .schemas import CitationJSON, ErrorDetail, ErrorJSON
from .server import (
    UNEXPECTED,
    Access,
    AnswerSlots,
    CollectionSource,
    access_dependency,
    close_answers,
    final_answer,
    first_answer,
    held_answers,
    install_error_handlers,
    next_answer,
    qa_error_json,
)
from .settings import DEFAULT_COLLECTION

if TYPE_CHECKING:
    from .models import Answer

log = logging.getLogger(__name__)

PREFIX = "/v1"
MODEL = "qa"  # the default collection's model name; another collection is `qa:NAME`
SOURCES_HEADING = "Sources:"
CHECKED_AGAIN = "Checked answer (replaces the text above):"
QUOTE_CHARS = 200  # of each cited passage, in the sources list of the reply text


# ---- request and response shapes (OpenAI's, with our extra fields) ------------------------------


class OpenAIShape(BaseModel):
    """OpenAI's bodies carry many optional fields we do not use (temperature, tools, ...): allowed, unused."""

    model_config = ConfigDict(extra="allow")


class ContentPart(OpenAIShape):
    type: str
    text: str | None = None


class ChatMessage(OpenAIShape):
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(OpenAIShape):
    model: str = Field(description="`qa` (the default collection) or `qa:NAME`; see GET /v1/models.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "qa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class Message(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: Message
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    citations: list[CitationJSON] = Field(description="The passages the [n] markers point at (extra field).")
    answerable: bool = Field(description="False when the documents do not answer (extra field).")


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    citations: list[CitationJSON] | None = Field(None, description="On the final chunk: the citations.")
    answerable: bool | None = Field(None, description="On the final chunk: whether it was answered.")


# ---- turning a conversation into a question, and an answer into a reply --------------------------


def model_name(collection: str) -> str:
    return MODEL if collection == DEFAULT_COLLECTION else f"{MODEL}:{collection}"


def collection_of(model: str, collections: CollectionSource) -> str:
    """The collection a model name stands for; a 404 naming the models there are otherwise."""
    names = collections.names()
    for name in names:
        if model == model_name(name):
            return name
    available = ", ".join(model_name(name) for name in names)
    raise HTTPException(404, f"no model named {model!r}; available: {available} (GET /v1/models)")


def conversation(messages: list[ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last message, which must be the user's) and the earlier (question, answer)
    pairs. System and tool messages are left out: the documents, not a prompt, decide the answers."""
    last = messages[-1]
    if last.role != "user" or not last.text().strip():
        raise HTTPException(422, "the last message must be the user's question; end the messages with it")
    history: list[tuple[str, str]] = []
    asked: str | None = None
    for message in messages[:-1]:
        if message.role == "user":
            asked = message.text()
        elif message.role == "assistant" and asked is not None:
            history.append((asked, without_sources(message.text())))
            asked = None
    return last.text(), history


def without_sources(reply: str) -> str:
    """An earlier reply without the sources list this endpoint appended to it."""
    return reply.split(f"\n\n{SOURCES_HEADING}\n", 1)[0].split(f"\n\n{CHECKED_AGAIN}\n", 1)[-1]


def sources_text(answer: Answer) -> str:
    """The "Sources:" list under an answer: each [n] with its document, place and the cited words."""
    if not answer.citations:
        return ""
    lines = [f"\n\n{SOURCES_HEADING}"]
    for c in answer.citations:
        where = c.source + (f", page {c.page}" if c.page else "") + f", characters {c.start}-{c.end}"
        quote = " ".join(c.text.split())
        quote = quote if len(quote) <= QUOTE_CHARS else quote[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"[{c.n}] {where}: “{quote}”")
    return "\n".join(lines)


def reply_text(answer: Answer) -> str:
    return answer.text + sources_text(answer)


def data(chunk: BaseModel) -> str:
    return f"data: {chunk.model_dump_json(exclude_none=False)}\n\n"


async def chunks(
    answers: Iterator[Answer], first: Answer, completion_id: str, created: int, model: str
) -> AsyncIterator[str]:
    """The reply as OpenAI's stream: a role chunk, content deltas as the answer grows, the sources list,
    a final chunk carrying `citations` and `answerable`, then `[DONE]`. When the checked final answer is
    not a continuation of what streamed, it follows in full under CHECKED_AGAIN."""

    def chunk(delta: Delta, **extra: Any) -> ChatCompletionChunk:
        finish = extra.pop("finish_reason", None)
        choice = ChunkChoice(delta=delta, finish_reason=finish)
        return ChatCompletionChunk(id=completion_id, created=created, model=model, choices=[choice], **extra)

    sent = ""
    try:
        yield data(chunk(Delta(role="assistant", content="")))
        answer: Answer | None = first
        final = first
        while answer is not None:
            final = answer
            if answer.text.startswith(sent):
                if len(answer.text) > len(sent):
                    yield data(chunk(Delta(content=answer.text[len(sent) :])))
                    sent = answer.text
            elif answer.final:
                yield data(chunk(Delta(content=f"\n\n{CHECKED_AGAIN}\n{answer.text}")))
                sent = answer.text
            answer = None if answer.final else await next_answer(answers)
        yield data(chunk(Delta(content=sources_text(final))))
        citations = [CitationJSON.of(c) for c in final.citations]
        yield data(chunk(Delta(), finish_reason="stop", citations=citations, answerable=final.answerable))
        yield "data: [DONE]\n\n"
    except QAError as exc:
        yield data(qa_error_json(exc))
    except Exception:
        log.exception("streaming a chat completion failed")
        yield data(ErrorJSON(error=ErrorDetail(type="server_error", message=UNEXPECTED)))
    finally:
        await close_answers(answers)


def build_openai_api(collections: CollectionSource, slots: AnswerSlots, access: Access) -> FastAPI:
    """The /v1 app, to mount at PREFIX."""
    app = FastAPI(title="qa OpenAI-compatible endpoint", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app, upload_limit=0)  # no uploads here
    api = APIRouter(dependencies=[Depends(access_dependency(access))])

    @api.get("/models", response_model=ModelList)
    def models() -> ModelList:
        """One model per collection: `qa` for the default one, `qa:NAME` for another."""
        return ModelList(data=[Model(id=model_name(name)) for name in collections.names()])

    @api.post("/chat/completions", response_model=ChatCompletion)
    async def chat_completions(request: ChatCompletionRequest) -> ChatCompletion | StreamingResponse:
        """Answer the last user message from the collection's documents, the earlier turns as history."""
        collection = collection_of(request.model, collections)
        question, history = conversation(request.messages)
        answers = held_answers(collections, slots, collection, question, history)
        first = await first_answer(answers)
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if request.stream:
            return StreamingResponse(
                chunks(answers, first, completion_id, created, request.model),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        final = await final_answer(answers, first)
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=request.model,
            choices=[Choice(message=Message(content=reply_text(final)))],
            citations=[CitationJSON.of(c) for c in final.citations],
            answerable=final.answerable,
        )

    app.include_router(api)
    return app
