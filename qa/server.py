"""What the HTTP doors of `qa serve` share: the collections they answer from, one limit on answers written
at a time (with the web chat), who may call them, and errors as one JSON shape.

The HTTP API (`qa.api`, under /api/v1) and the OpenAI-compatible endpoint (`qa.openai_api`, under /v1)
are FastAPI apps mounted in the web chat's own server (`qa.ui.app.launch`): one process, one port.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import (
    AnswererUnavailableError,
    CollectionError,
    CorpusError,
    DocumentNotFoundError,
    IndexBusyError,
    IndexMismatchError,
    QAError,
    QuestionError,
    ServerBusyError,
)
from .schemas import ErrorDetail, ErrorJSON, ErrorType
from .settings import is_loopback

if TYPE_CHECKING:
    from .assistant import Assistant
    from .models import Answer
    from .settings import Settings

log = logging.getLogger(__name__)

ANSWERS_AT_ONCE = 2  # answers written at a time, web chat and API together: more only slow each other
ANSWERS_WAITING = 16  # beyond this many waiting, a new question is turned away (503) instead of queued
WAIT_SECONDS = 300.0  # longest a question waits for a slot before it is turned away
JSON_BODY_LIMIT = 2_000_000  # bytes of a JSON request: questions and histories are far smaller
UPLOAD_FILES = 10  # most files one upload request may carry


# ---- the collections -----------------------------------------------------------------------------


class CollectionSource(Protocol):
    """Hands out the Assistant of a collection: the one seam between the HTTP doors and the documents."""

    def get(self, collection: str | None) -> Assistant:
        """The Assistant of `collection` (None = the default one); CollectionError if there is none."""
        ...

    def names(self) -> list[str]:
        """Every collection's name, the default one first."""
        ...


# ---- one limit on answers, shared with the web chat ----------------------------------------------


class AnswerSlots:
    """How many answers are written at a time across the web chat and the HTTP API.

    Gradio's queue limits the page's own answers; the API does not go through that queue, so both hold
    one of these slots while they answer. A question that finds `waiting` others already queued, or
    waits longer than `wait_seconds`, gets ServerBusyError (HTTP 503) instead of waiting for minutes."""

    def __init__(
        self,
        limit: int = ANSWERS_AT_ONCE,
        waiting: int = ANSWERS_WAITING,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self.limit = limit
        self.max_waiting = waiting
        self.wait_seconds = wait_seconds
        self._free = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._waiting = 0
        self.busy = 0  # slots taken now

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Take a slot for the duration of the block (any thread may release it: generators move)."""
        taken = self._free.acquire(blocking=False)
        if not taken:
            with self._lock:
                if self._waiting >= self.max_waiting:
                    raise ServerBusyError(
                        f"the server is busy: {self.limit} answers are being written and {self._waiting} "
                        "questions wait; try again in a minute"
                    )
                self._waiting += 1
            try:
                taken = self._free.acquire(timeout=self.wait_seconds)
            finally:
                with self._lock:
                    self._waiting -= 1
        if not taken:
            raise ServerBusyError(
                f"the server is busy: no answer slot came free in {self.wait_seconds:.0f} s; "
                "try again in a minute"
            )
        with self._lock:
            self.busy += 1
        try:
            yield
        finally:
            with self._lock:
                self.busy -= 1
            self._free.release()


# ---- answering while holding a slot ---------------------------------------------------------------


def held_answers(
    collections: CollectionSource,
    slots: AnswerSlots,
    collection: str | None,
    question: str,
    history: list[tuple[str, str]],
    sources: list[str] | None = None,
) -> Iterator[Answer]:
    """The growing answers of `Assistant.stream`, written while holding an answer slot (released when the
    stream ends or is closed)."""
    assistant = collections.get(collection)
    with slots.hold():
        yield from assistant.stream(question, history=history, sources=sources)


async def next_answer(answers: Iterator[Answer]) -> Answer | None:
    """The next answer, computed in a worker thread (answering blocks); None at the end."""
    return await run_in_threadpool(next, answers, None)


async def close_answers(answers: Iterator[Answer]) -> None:
    close = getattr(answers, "close", None)
    if close is not None:
        await run_in_threadpool(close)  # releases the slot the generator holds


async def first_answer(answers: Iterator[Answer]) -> Answer:
    """The first answer, before anything is sent: so a bad question, an unknown collection or a full
    server becomes a plain HTTP error with its status, not an error inside a 200 stream."""
    try:
        first = await next_answer(answers)
    except BaseException:
        await close_answers(answers)
        raise
    if first is None:
        raise QAError("no answer came back; see the server log")
    return first


async def final_answer(answers: Iterator[Answer], first: Answer) -> Answer:
    """The final, checked answer of a stream whose first answer was already taken (the rest is drained
    in one worker thread: one hop, not one per partial answer)."""

    def drain() -> Answer:
        last = first
        try:
            for update in answers:
                last = update
        finally:
            close = getattr(answers, "close", None)
            if close is not None:
                close()
        return last

    if first.final:
        await close_answers(answers)  # the generator still holds its slot until closed
        return first
    return await run_in_threadpool(drain)


# ---- who may call --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """Who may call the HTTP doors: anyone (`key` None and `open`), holders of `key`, or nobody."""

    key: str | None
    open: bool

    @classmethod
    def for_host(cls, settings: Settings, host: str) -> Access:
        """QA_API_KEY, when set, is required on any host. Without it the doors are open on loopback, and
        elsewhere only with the web chat's explicit opt-out (--insecure-no-login); otherwise closed."""
        key = (settings.api_key or "").strip()
        if settings.api_key is not None and not key:
            raise QAError("QA_API_KEY is set but empty; set it to a long random token or unset it")
        if key:
            return cls(key, open=False)
        if is_loopback(host):
            return cls(None, open=True)
        if settings.ui_insecure_no_login:
            log.warning(
                "the HTTP API on %s has no key: anyone who can reach it can read and change the documents",
                host,
            )
            return cls(None, open=True)
        log.warning(
            "the HTTP API (/api/v1, /v1) on %s refuses every request: set QA_API_KEY to let key holders in",
            host,
        )
        return cls(None, open=False)

    def check(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        """Raise 401 unless the request may pass. The message is the same whatever was wrong (no key, a
        wrong key, none configured), so a caller learns nothing about the server from it."""
        if self.open:
            return
        given = credentials.credentials.encode() if credentials else b""
        if self.key is not None and hmac.compare_digest(given, self.key.encode()):
            return
        raise HTTPException(
            status_code=401,
            detail="missing or wrong API key: send the server's QA_API_KEY as `Authorization: Bearer KEY`",
            headers={"WWW-Authenticate": "Bearer"},
        )


BEARER = HTTPBearer(auto_error=False, description="The server's QA_API_KEY (not needed on loopback).")


def access_dependency(access: Access) -> Callable[[HTTPAuthorizationCredentials | None], None]:
    """A FastAPI dependency that lets a request through `access`, shown as Bearer auth in the docs."""
    from fastapi import Depends

    def require_key(credentials: HTTPAuthorizationCredentials | None = Depends(BEARER)) -> None:  # noqa: B008
        access.check(credentials)

    return require_key


# ---- errors as JSON ------------------------------------------------------------------------------

# The most specific class first: each QAError becomes a status and a type.
QA_ERROR_STATUS: list[tuple[type[QAError], int, ErrorType]] = [
    (QuestionError, 400, "question_error"),
    (DocumentNotFoundError, 404, "not_found_error"),
    (CollectionError, 404, "not_found_error"),
    (CorpusError, 422, "corpus_error"),
    (IndexMismatchError, 409, "index_error"),
    (IndexBusyError, 503, "index_error"),
    (ServerBusyError, 503, "unavailable_error"),
    (AnswererUnavailableError, 503, "unavailable_error"),
]
HTTP_TYPES: dict[int, ErrorType] = {
    401: "authentication_error",
    403: "authentication_error",
    404: "not_found_error",
    413: "request_too_large",
}
UNEXPECTED = "something went wrong on the server; its log has the details"


def error_response(status: int, type_: ErrorType, message: str, **headers: str) -> JSONResponse:
    body = ErrorJSON(error=ErrorDetail(type=type_, message=" ".join(message.split())))
    return JSONResponse(body.to_json(), status_code=status, headers=headers or None)


def qa_error_status(exc: QAError) -> tuple[int, ErrorType]:
    """The HTTP status and error type of a QAError (400 for one no rule names)."""
    for cls, status, type_ in QA_ERROR_STATUS:
        if isinstance(exc, cls):
            return status, type_
    return 400, "invalid_request_error"


def qa_error_json(exc: QAError) -> ErrorJSON:
    _, type_ = qa_error_status(exc)
    return ErrorJSON(error=ErrorDetail(type=type_, message=" ".join(str(exc).split())))


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
        problems.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(problems) + " (the docs at /api/v1/docs give every field)"


def install_error_handlers(app: FastAPI, upload_limit: int) -> None:
    """Every error `app` returns is `{"error": {"type", "message"}}` with the right status; an unexpected
    exception is logged with its traceback and answered with one line that gives nothing away. Bodies
    over their limit (`upload_limit` bytes for a multipart upload) are refused with 413."""

    async def on_qa_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, QAError)
        status, type_ = qa_error_status(exc)
        return error_response(status, type_, str(exc))

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "invalid_request_error", _validation_message(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        type_ = HTTP_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
        message = exc.detail if isinstance(exc.detail, str) else "the request was refused"
        if status == 404 and exc.detail == "Not Found":
            message = f"no such route: {request.method} {request.url.path}; see /api/v1/docs"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /api/v1/docs"
        return error_response(status, type_, message, **(exc.headers or {}))

    app.add_exception_handler(QAError, on_qa_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(BodyLimit, upload_limit=upload_limit)


class UnexpectedErrors:
    """Outside FastAPI's handlers: an exception nothing else handled becomes a 500 with one plain line,
    and its traceback goes to the log only. Once a response has started (a stream) it cannot be
    replaced; streams send their own error event instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if not started:
                await error_response(500, "server_error", UNEXPECTED)(scope, receive, send)


class BodyLimit:
    """Refuses a request body over its limit before it is read into memory or onto disk: an upload may
    carry UPLOAD_FILES files of QA_MAX_FILE_MB each, any other request JSON_BODY_LIMIT bytes. The limit
    a body without a length is counted as it arrives."""

    def __init__(self, app: ASGIApp, upload_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        upload = headers.get("content-type", "").startswith("multipart/")
        limit = self.upload_limit if upload else JSON_BODY_LIMIT
        what = (
            f"an upload may carry up to {UPLOAD_FILES} files of QA_MAX_FILE_MB each; send fewer or smaller "
            "files"
            if upload
            else f"a request body may be up to {JSON_BODY_LIMIT // 1_000_000} MB; send a shorter history"
        )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await error_response(413, "request_too_large", f"the request is too large: {what}")(
                scope, receive, send
            )
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, f"the request is too large: {what}")
            return message

        await self.app(scope, counted, send)
