"""The HTTP API under /api/v1: ask (JSON or Server-Sent Events), search, documents, status, health.

    curl -s localhost:7860/api/v1/ask -H 'Content-Type: application/json' \\
         -d '{"question": "Where did the second round of the cybercrime dialogue take place?"}'

Bodies have the shapes `qa ... --json` prints (`qa.schemas`), and the OpenAPI page at /api/v1/docs is
generated from them. A thin layer over `Assistant`, like the CLI and the web chat: it checks the
request, holds an answer slot shared with the web chat while answering, and turns errors into
`{"error": {"type", "message"}}`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from .errors import CorpusError, QAError
from .schemas import (
    MAX_K,
    AnswerJSON,
    AnswerUpdateJSON,
    AskRequest,
    BuildReportJSON,
    DocumentJSON,
    ErrorDetail,
    ErrorJSON,
    PassageJSON,
    StatusJSON,
)
from .server import (
    UNEXPECTED,
    UPLOAD_FILES,
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

if TYPE_CHECKING:
    from .models import Answer

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorJSON, "description": what}
    for status, what in [
        (400, "The question or another input cannot be used; the message says what to do."),
        (401, "A key is needed (off loopback): send `Authorization: Bearer QA_API_KEY`."),
        (404, "No such document or collection; the message lists the ones there are."),
        (422, "A field is missing or out of range (e.g. k over 50)."),
        (503, "Every answer slot is taken, or the index is being written: try again shortly."),
    ]
}


class Health(BaseModel):
    status: Literal["ok"] = "ok"


def sse(event: str, data: BaseModel) -> str:
    """One Server-Sent Event."""
    return f"event: {event}\ndata: {data.model_dump_json()}\n\n"


async def stream_events(answers: Iterator[Answer], first: Answer) -> AsyncIterator[str]:
    """The answers as `answer` events; an error after the stream has started becomes an `error` event
    (the status line is already sent)."""
    try:
        update: Answer | None = first
        while update is not None:
            yield sse("answer", AnswerUpdateJSON.of(update))
            update = None if update.final else await next_answer(answers)
    except QAError as exc:
        yield sse("error", qa_error_json(exc))
    except Exception:
        log.exception("streaming an answer failed")
        yield sse("error", ErrorJSON(error=ErrorDetail(type="server_error", message=UNEXPECTED)))
    finally:
        await close_answers(answers)


def _upload_name(raw: str | None) -> str:
    """The uploaded file's own base name (a client may send a path, with either kind of slash)."""
    name = PureWindowsPath(raw or "").name.strip()
    if not name or name in {".", ".."}:
        raise HTTPException(422, "every uploaded file needs a file name; send it with the file")
    return name


def build_api(
    collections: CollectionSource, slots: AnswerSlots, access: Access, max_file_bytes: int
) -> FastAPI:
    """The /api/v1 app, to mount at PREFIX (its OpenAPI page is then /api/v1/docs)."""
    # FastAPI's own docs page loads Swagger UI from a CDN; fastapi-offline serves the same files from
    # the package, so the page asks for nothing outside this machine. The docs and the schema are open
    # to all: they hold no data, only the API's shape.
    app = FastAPIOffline(
        title="qa HTTP API",
        version="1",
        summary="Answers questions about your documents, citing the exact passages every answer rests on.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        static_url="/docs/assets",
        favicon_url=None,
    )
    install_error_handlers(app, upload_limit=UPLOAD_FILES * max_file_bytes + 1_000_000)
    api = APIRouter(dependencies=[Depends(access_dependency(access))], responses=ERRORS)

    @api.post(
        "/ask",
        response_model=AnswerJSON,
        responses={200: {"content": {"text/event-stream": {}}, "description": "With stream=true: events."}},
    )
    async def ask(request: AskRequest) -> JSONResponse | StreamingResponse:
        """Answer from the documents with numbered citations, or decline when they do not say.

        With `stream: true` the reply is `text/event-stream`: `event: answer` events whose data is an
        AnswerUpdateJSON, growing, the last with `final: true` (checked; it may differ from what
        streamed); an error after the first event arrives as `event: error` with an ErrorJSON."""
        history = request.turns()
        answers = held_answers(
            collections, slots, request.collection, request.question, history, request.sources
        )
        first = await first_answer(answers)
        if not request.stream:
            return JSONResponse(AnswerJSON.of(await final_answer(answers, first)).to_json())
        return StreamingResponse(
            stream_events(answers, first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @api.get("/search", response_model=list[PassageJSON])
    def search(
        q: Annotated[str, Query(description="What to look for.")],
        k: Annotated[int, Query(ge=1, le=MAX_K, description=f"How many passages (1-{MAX_K}).")] = 5,
        source: Annotated[list[str] | None, Query(description="Only these documents (repeatable).")] = None,
        collection: Annotated[str | None, Query(description="The collection; unset = the default.")] = None,
    ) -> list[PassageJSON]:
        """The passages that best match `q` (meaning and keywords fused), best first."""
        passages = collections.get(collection).search(q, k=k, sources=source or None)
        return [PassageJSON.of(p) for p in passages]

    @api.get("/documents", response_model=list[DocumentJSON])
    def documents(
        collection: Annotated[str | None, Query(description="The collection; unset = the default.")] = None,
    ) -> list[DocumentJSON]:
        """What is indexed: each document with its chunk count, size and when it was added."""
        return [DocumentJSON.of(d) for d in collections.get(collection).documents()]

    @api.post("/documents", response_model=BuildReportJSON)
    def upload(
        files: Annotated[list[UploadFile], File(description="The documents (.txt .md .html .pdf .docx).")],
        collection: Annotated[str | None, Form(description="The collection; unset = the default.")] = None,
    ) -> BuildReportJSON:
        """Add documents, with the web chat's checks: type, size (QA_MAX_FILE_MB), readable, a usable name.
        A file with the name of an indexed document replaces it. Files that cannot be used are listed in
        `skipped` with the reason and never reach the corpus; when none can, the reply is a 422."""
        assistant = collections.get(collection)
        if len(files) > UPLOAD_FILES:
            raise HTTPException(413, f"an upload may carry up to {UPLOAD_FILES} files; send them in parts")
        names = [_upload_name(f.filename) for f in files]
        if len(set(names)) < len(names):
            raise HTTPException(422, "two uploaded files have the same name; rename one or send it apart")
        limit_mb = max_file_bytes / 1e6
        for name, file in zip(names, files, strict=True):
            if file.size is not None and file.size > max_file_bytes:
                raise HTTPException(
                    413, f"{name} is over the {limit_mb:g} MB limit (QA_MAX_FILE_MB); send a smaller file"
                )
        folder = Path(tempfile.mkdtemp(prefix="qa-upload-"))  # private (0700) until added
        try:
            paths = []
            for name, file in zip(names, files, strict=True):
                path = folder / name
                with path.open("wb") as out:
                    shutil.copyfileobj(file.file, out)
                paths.append(path)
            report = assistant.add(paths)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        refused = {item.source: item.reason for item in report.skipped}
        if names and all(name in refused for name in names):
            raise CorpusError("; ".join(f"not added: {name}: {refused[name]}" for name in names))
        return BuildReportJSON.of(report)

    @api.delete("/documents/{source:path}", response_model=BuildReportJSON)
    def remove(
        source: str,
        collection: Annotated[str | None, Query(description="The collection; unset = the default.")] = None,
    ) -> BuildReportJSON:
        """Remove a document (by its source name) from the corpus folder and the index."""
        return BuildReportJSON.of(collections.get(collection).remove([source]))

    @api.get("/status", response_model=StatusJSON)
    def status(
        collection: Annotated[str | None, Query(description="The collection; unset = the default.")] = None,
    ) -> StatusJSON:
        """A summary of the index and its documents: what `qa index status --json` prints."""
        assistant = collections.get(collection)
        return StatusJSON.of(assistant.status(), assistant.documents())

    @api.get("/health", response_model=Health)
    def health() -> Health:
        """The server is up (loads nothing, answers at once)."""
        return Health()

    app.include_router(api)
    return app
