"""The JSON shapes the outside world reads: what `--json` prints and what the HTTP API sends and takes.

Each shape is defined once, here, as a pydantic model: the CLI prints these models, the HTTP API
returns them and its OpenAPI page (`/api/v1/docs`) is generated from them, so the doors cannot drift
apart. `qa.models` keeps the dataclasses the stages hand each other; `X.of(...)` turns one into its
JSON shape on the way out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from .models import Answer, Citation, DocumentInfo, IndexStatus, JSONObject, Passage

if TYPE_CHECKING:
    from .index import BuildReport

MAX_K = 50  # the most passages one search returns through the API


class Shape(BaseModel):
    """A JSON shape: frozen, and strict about unknown fields where a request is parsed."""

    model_config = ConfigDict(frozen=True)

    def to_json(self) -> JSONObject:
        """As plain JSON values (what `json.dumps` takes)."""
        return self.model_dump(mode="json")


class CitationJSON(Shape):
    """A numbered span an answer rests on; `document_text[start:end] == text`."""

    n: int = Field(description="The number the answer's text shows as [n].")
    source: str = Field(description="The document, relative to the corpus folder.")
    start: int = Field(description="Character offset where the cited span starts.")
    end: int = Field(description="Character offset where it ends (exclusive).")
    text: str = Field(description="The cited text, exactly as in the document.")
    page: int | None = Field(None, description="The page, slide, sheet or chapter number, else null.")
    section: str | None = Field(None, description='The part\'s name ("slide 3", "sheet Sales"), else null.')
    ocr: bool = Field(False, description="Whether the cited text was recognised by OCR.")

    @classmethod
    def of(cls, citation: Citation) -> CitationJSON:
        c = citation
        return cls(
            n=c.n,
            source=c.source,
            start=c.start,
            end=c.end,
            text=c.text,
            page=c.page,
            section=c.section,
            ocr=c.ocr,
        )


class PassageJSON(Shape):
    """A retrieved passage: what `qa search --json` lists, and the nearest passages of a decline."""

    source: str = Field(description="The document, relative to the corpus folder.")
    start: int = Field(description="Character offset where the passage starts.")
    end: int = Field(description="Character offset where it ends (exclusive).")
    text: str = Field(description="The passage's text, exactly as in the document.")
    score: float = Field(description="Fused rank score, 0-1 (1 = first by meaning and by keywords).")
    page: int | None = Field(None, description="The page, slide, sheet or chapter it starts on, else null.")
    section: str | None = Field(None, description='The part\'s name ("slide 3", "sheet Sales"), else null.')
    ocr: bool = Field(False, description="Whether the passage's text was recognised by OCR.")

    @classmethod
    def of(cls, passage: Passage) -> PassageJSON:
        p = passage
        return cls(
            source=p.source, start=p.start, end=p.end, text=p.text, score=p.score, page=p.page,
            section=p.section, ocr=p.ocr,
        )  # fmt: skip


class AnswerJSON(Shape):
    """An answer: what `qa ask --json` prints and `POST /api/v1/ask` returns."""

    answer: str = Field(description="The answer's text, with [n] markers; a decline says so plainly.")
    answerable: bool = Field(description="False when the documents do not answer the question.")
    citations: list[CitationJSON] = Field(description="The spans the [n] markers point at.")
    nearest: list[PassageJSON] = Field(
        description="When declined: the closest passages, which do NOT support an answer."
    )
    query: str = Field(description="The standalone question actually searched (follow-ups rewritten).")
    mode: str = Field(description="Which answerer wrote the text (extractive, local, openai).")
    support: float = Field(description="Fitted probability (0-1) that the documents answer the question.")
    short: CitationJSON | None = Field(
        None,
        description="For a fact question, the fact itself: a span of the cited sentence numbered `n` "
        "(document_text[start:end] == text); null for an explanation or a decline.",
    )
    kind: str = Field(
        "match",
        description="What the answer rests on: `match` (sentences matched to the question; `support` "
        "is fitted), or `title` / `overview` (a whole-document question answered from the title line, "
        "or the opening and most central sentences; `support` is 1.0 by construction).",
    )

    @classmethod
    def of(cls, answer: Answer) -> AnswerJSON:
        return cls(**_answer_fields(answer))


class AnswerUpdateJSON(AnswerJSON):
    """One Server-Sent Event of a streamed answer: the answer so far; the last has `final` true and is
    the checked answer, which may differ from what streamed before it."""

    final: bool = Field(description="True for the last, checked answer.")

    @classmethod
    def of(cls, answer: Answer) -> AnswerUpdateJSON:
        return cls(**_answer_fields(answer), final=answer.final)


def _answer_fields(answer: Answer) -> JSONObject:
    return {
        "answer": answer.text,
        "answerable": answer.answerable,
        "citations": [CitationJSON.of(c) for c in answer.citations],
        "nearest": [PassageJSON.of(p) for p in answer.nearest],
        "query": answer.query,
        "mode": answer.mode,
        "support": answer.support,
        "short": CitationJSON.of(answer.short) if answer.short else None,
        "kind": answer.kind,
    }


class DocumentJSON(Shape):
    """One indexed document."""

    source: str = Field(description="The document, relative to the corpus folder.")
    chunks: int = Field(description="How many chunks it was split into.")
    bytes: int = Field(description="Its size on disk.")
    added: str = Field(description="When this version was indexed (ISO 8601).")

    @classmethod
    def of(cls, document: DocumentInfo) -> DocumentJSON:
        d = document
        return cls(source=d.source, chunks=d.chunks, bytes=d.bytes, added=d.added)


class StatusJSON(Shape):
    """A summary of the index with its documents: what `qa index status --json` prints."""

    documents: int
    chunks: int
    embedding_model: str
    embedding_dim: int
    embedding_backend: str
    index_dir: str
    corpus_dir: str
    built_at: str | None = Field(None, description="When the index was first built; null before that.")
    updated_at: str | None = None
    chunking: dict[str, int] | None = Field(None, description="Size, overlap and version of the chunker.")
    version: int | None = Field(None, description="The manifest's version, raised by every change.")
    generation: str | None = Field(None, description="The committed index generation readers see.")
    sources: list[DocumentJSON]

    @classmethod
    def of(cls, status: IndexStatus, documents: Sequence[DocumentInfo]) -> StatusJSON:
        s = status
        return cls(
            documents=s.documents,
            chunks=s.chunks,
            embedding_model=s.embedding_model,
            embedding_dim=s.embedding_dim,
            embedding_backend=s.embedding_backend,
            index_dir=s.index_dir,
            corpus_dir=s.corpus_dir,
            built_at=s.built_at,
            updated_at=s.updated_at,
            chunking=s.chunking,
            version=s.version,
            generation=s.generation,
            sources=[DocumentJSON.of(d) for d in documents],
        )


class SkippedJSON(Shape):
    source: str = Field(description="The file that was not indexed.")
    reason: str = Field(description="Why, and what to do about it.")


class BuildReportJSON(Shape):
    """What a build did: what `qa index build|add|remove --json` print and the document routes return."""

    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: int = Field(description="How many documents were already indexed as they are.")
    skipped: list[SkippedJSON] = Field(description="Files that were not indexed, each with its reason.")
    duplicates: dict[str, str] = Field(description="A file -> the indexed file with the same content.")
    chunks: int = Field(description="Chunks in the index after the build.")
    embedded: int = Field(description="Chunks embedded by this build.")
    seconds: float
    generation: str | None

    @classmethod
    def of(cls, report: BuildReport) -> BuildReportJSON:
        return cls(
            added=list(report.added),
            updated=list(report.updated),
            removed=list(report.removed),
            unchanged=len(report.unchanged),
            skipped=[SkippedJSON(source=s.source, reason=s.reason) for s in report.skipped],
            duplicates=dict(report.duplicates),
            chunks=report.chunks,
            embedded=report.embedded,
            seconds=round(report.seconds, 3),
            generation=report.generation,
        )


# ---- requests and errors of the HTTP API ---------------------------------------------------------


class Request(BaseModel):
    """A request body: unknown fields are refused, so a misspelt option is an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TurnJSON(Request):
    """One earlier exchange of the conversation, for follow-up questions."""

    question: str
    answer: str


class AskRequest(Request):
    """The body of `POST /api/v1/ask`."""

    question: str = Field(description="The question (at most QA_MAX_QUESTION_CHARS characters).")
    history: list[TurnJSON] = Field(
        default_factory=list, description="Earlier questions and answers, oldest first, for follow-ups."
    )
    sources: list[str] | None = Field(None, description="Answer only from these documents.")
    collection: str | None = Field(None, description="The collection to ask; null = the default one.")
    stream: bool = Field(
        False,
        description="Send Server-Sent Events (`event: answer`, data an AnswerUpdateJSON) as the answer "
        "grows, the last with final=true.",
    )

    def turns(self) -> list[tuple[str, str]]:
        return [(turn.question, turn.answer) for turn in self.history]


ErrorType = Literal[
    "invalid_request_error",  # the request itself is malformed (a field missing, k > 50, ...)
    "authentication_error",  # no or wrong API key
    "not_found_error",  # no such route, document or collection
    "request_too_large",  # an upload over QA_MAX_FILE_MB
    "question_error",  # the question cannot be asked (empty, too long)
    "corpus_error",  # a document cannot be added or removed
    "index_error",  # the index was built with other settings, or another writer holds it
    "unavailable_error",  # the answerer cannot run, or every answer slot is taken: try again
    "server_error",  # anything unexpected: the details are in the server's log, never here
]


class ErrorDetail(Shape):
    type: ErrorType = Field(description="What kind of error, for programs.")
    message: str = Field(description="One line for people: what happened and what to do.")


class ErrorJSON(Shape):
    """Every error the HTTP API returns: `{"error": {"type", "message"}}`, never a stack trace."""

    error: ErrorDetail
