"""Collections: named, separate document sets, each with its own corpus folder and index.

The default collection is QA_CORPUS_DIR and QA_INDEX_DIR (./corpus and ./index), as before collections
existed. A named one lives in QA_COLLECTIONS_DIR (./collections): NAME/corpus and NAME/index; with
QA_CHROMA_URL its chunks are the server's `qa.NAME-*` collections, and its writer lock stays in
NAME/index. A collection exists exactly when its folder does, so a process sees one that another
created without restarting.

`Collections` is what the servers (web chat, HTTP API, MCP) ask for an Assistant by collection name:
one per collection, created on first use and shared by threads, with the embedding model and the
answerer loaded once for all of them.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import Timeout

from .errors import CollectionError
from .index import writer_lock
from .settings import COLLECTION_NAME, DEFAULT_COLLECTION, Settings, collection_name, get_settings
from .store import ServerStore

if TYPE_CHECKING:
    from .assistant import Assistant

log = logging.getLogger(__name__)


def collection_names(settings: Settings) -> list[str]:
    """Every collection: the default one first, then the named ones in QA_COLLECTIONS_DIR by name."""
    root = settings.collections_dir
    named = (
        sorted(p.name for p in root.iterdir() if p.is_dir() and COLLECTION_NAME.fullmatch(p.name))
        if (root.is_dir())
        else []
    )
    return [DEFAULT_COLLECTION, *(n for n in named if n != DEFAULT_COLLECTION)]


def _home(settings: Settings, name: str) -> Path:
    return settings.collections_dir / collection_name(name)


def create_collection(settings: Settings, name: str) -> Path:
    """Make an empty collection (its corpus and index folders); its folder."""
    if collection_name(name) == DEFAULT_COLLECTION:
        raise CollectionError(
            f"{DEFAULT_COLLECTION!r} is the collection of QA_CORPUS_DIR; choose another name"
        )
    home = _home(settings, name)
    try:
        home.mkdir(parents=True)
    except FileExistsError:
        raise CollectionError(f"collection {name!r} already exists in {settings.collections_dir}") from None
    (home / "corpus").mkdir()
    (home / "index").mkdir()
    log.info("created collection %s in %s", name, home)
    return home


def delete_collection(settings: Settings, name: str) -> None:
    """Delete a named collection, its documents and its index; refused while anything writes to it.

    Under the writer lock, the folder is first renamed out of the way (atomic: no one sees it half
    gone), and only then removed."""
    if collection_name(name) == DEFAULT_COLLECTION:
        raise CollectionError(
            f"the {DEFAULT_COLLECTION!r} collection cannot be deleted; remove its documents with "
            "`qa index remove` instead"
        )
    home = _home(settings, name)
    if not home.is_dir():
        raise CollectionError(f"no collection named {name!r} in {settings.collections_dir}; nothing deleted")
    trash = home.with_name(f".deleted-{name}-{secrets.token_hex(4)}")
    try:
        with writer_lock(home / "index", timeout=0):
            if settings.chroma_url:
                ServerStore(settings.chroma_url, name).delete_all()
            home.rename(trash)
    except Timeout:
        raise CollectionError(
            f"collection {name!r} is being written (an index build or upload is running); "
            "try again when it has finished"
        ) from None
    shutil.rmtree(trash, ignore_errors=True)
    log.info("deleted collection %s", name)


class Collections:
    """One Assistant per collection, created on first use and shared (thread-safe).

    `get(None)` is the collection the settings select (QA_COLLECTION, else the default one). A collection
    created by another process is found on the next `get`; one deleted elsewhere is dropped from the
    cache and refused."""

    def __init__(
        self, settings: Settings | None = None, *, assistant: Assistant | None = None, **overrides: Any
    ) -> None:
        """`overrides` are Assistant arguments (answerer, ...) for every collection; an `assistant`
        already made serves its own collection and lends the others its models."""
        self.settings = assistant.base_settings if assistant is not None else settings or get_settings()
        self._overrides = overrides
        self._lock = threading.Lock()
        self._assistants: dict[str, Assistant] = {}
        self._first: Assistant | None = assistant
        if assistant is not None:
            self._assistants[assistant.collection] = assistant

    @property
    def default(self) -> str:
        """The collection `get(None)` answers from."""
        return self.settings.collection

    def names(self) -> list[str]:
        """Every collection, the default one first; read from disk on each call."""
        return collection_names(self.settings)

    def get(self, collection: str | None = None) -> Assistant:
        """The Assistant of `collection` (None: the default one); a CollectionError for a bad or
        unknown name."""
        name = collection_name(collection or self.default)
        with self._lock:
            cached = self._assistants.get(name)
            if cached is not None:
                if name == DEFAULT_COLLECTION or _home(self.settings, name).is_dir():
                    return cached
                del self._assistants[name]  # deleted since; fall through to the error below
            if self._first is None:
                from .assistant import Assistant

                made = Assistant(settings=self.settings, collection=name, **self._overrides)
                self._first = made
            else:
                made = self._first.for_collection(name)
            self._assistants[name] = made
            return made

    def create(self, name: str) -> Assistant:
        """Create an empty collection and return its Assistant."""
        create_collection(self.settings, name)
        return self.get(name)

    def delete(self, name: str) -> None:
        """Delete a named collection (refused while it is written) and forget its Assistant."""
        delete_collection(self.settings, name)
        with self._lock:
            self._assistants.pop(collection_name(name), None)
