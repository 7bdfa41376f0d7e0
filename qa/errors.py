"""User-facing errors. Each message is one line that says what happened and what to do.

They are raised anywhere in the library and turned into clean exits only at the edges
(the CLI prints the message and exits 1; the web chat shows it in the page).
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: an error whose message is meant for the user, not a traceback."""


class QuestionError(QAError):
    """The question itself cannot be asked (empty, too long)."""


class CorpusError(QAError):
    """The corpus folder is missing, empty, or a document cannot be added."""


class IndexMismatchError(QAError):
    """The index on disk was built with other settings or another embedding model."""


class IndexBusyError(QAError):
    """Another process is writing the index and did not finish in time."""


class DocumentNotFoundError(QAError):
    """A document named by the user is not in the corpus."""


class AnswererUnavailableError(QAError):
    """The configured answerer cannot run here (missing extra, unreachable server)."""


class CollectionError(QAError):
    """A collection name is invalid or unknown, or the collection cannot be created or deleted now."""


class ServerBusyError(QAError):
    """Every answer slot is taken and too many questions are already waiting; try again shortly."""
