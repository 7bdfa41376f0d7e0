"""The Python API: the one place where settings, index, retrieval and answering are wired together.

    from qa import Assistant
    a = Assistant()                       # QA_* settings; defaults ./corpus and ./index
    answer = a.ask("Where did the second round of the cybercrime dialogue take place?")
    answer.text, answer.citations

The CLI and the web chat are thin layers over this class.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .answerers import Answerer, decline, quote, resolve
from .answering import (
    Decision,
    EvidenceSelector,
    OverviewRequest,
    asks_about_opening,
    asks_overview,
    named_document,
)
from .chunking import Span, split_sentences
from .embeddings import EmbeddingModel, packaged_minilm
from .errors import CollectionError, CorpusError, DocumentNotFoundError, QAError, QuestionError
from .index import BuildReport, IndexStore, Progress, Snapshot
from .loaders import IGNORED_NAMES, Skipped, load_file
from .models import Answer, Citation, DocumentInfo, Excerpt, IndexStatus, Passage
from .remote_embeddings import remote_embeddings
from .retrieval import hybrid_search
from .rewriting import leans_on_history, standalone_question
from .settings import DEFAULT_COLLECTION, Settings, collection_name, get_settings
from .support import load_model

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from .langchain import AnswerRunnable, PassageRetriever

log = logging.getLogger(__name__)

NEAREST = 3  # passages offered with a refusal, clearly labelled as not supporting an answer


class Assistant:
    """Answers questions about the documents in a corpus folder, citing exact passages."""

    def __init__(
        self,
        corpus_dir: str | Path | None = None,
        index_dir: str | Path | None = None,
        answerer: str | None = None,
        settings: Settings | None = None,
        collection: str | None = None,
        **overrides: Any,
    ) -> None:
        base = settings or get_settings()
        explicit = {
            key: value
            for key, value in {
                "corpus_dir": corpus_dir,
                "index_dir": index_dir,
                "answerer": answerer,
                "collection": collection,
            }.items()
            if value is not None
        }
        unknown = sorted(set(overrides) - set(Settings.model_fields))
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(unknown)}; see qa.settings.Settings")
        try:
            self.settings = Settings.model_validate({**base.model_dump(), **explicit, **overrides})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise QAError(f"invalid settings ({problems}); fix the QA_* variable or argument") from exc
        self.base_settings = self.settings  # before the collection's folders: what siblings start from
        self.settings = _in_collection(self.settings, folders_given={**explicit, **overrides}.keys())
        self.corpus_dir = Path(self.settings.corpus_dir)
        self.index_dir = Path(self.settings.index_dir)
        remote = remote_embeddings(self.settings)
        self._use_embeddings(remote or packaged_minilm(self.settings.embedding_backend))
        self._backend_checked = remote is not None or self.settings.embedding_backend != "auto"
        self.writer: Answerer = resolve(self.settings.answerer, self.settings)(self.settings)
        self._build_lock = threading.Lock()

    @property
    def collection(self) -> str:
        """The name of the collection this assistant answers from (`default`: QA_CORPUS_DIR)."""
        return self.settings.collection

    def for_collection(self, name: str) -> Assistant:
        """An assistant over another collection with the same settings, sharing this one's embedding
        model and answerer, so a server with several collections loads each model once."""
        sibling = Assistant(settings=self.base_settings, collection=name)
        sibling.writer = self.writer
        if self.embeddings.backend == sibling.embeddings.backend:
            sibling._use_embeddings(self.embeddings)
        return sibling

    def as_retriever(self, k: int = 4, sources: list[str] | None = None) -> PassageRetriever:
        """This assistant's search as a LangChain retriever (see qa/langchain.py)."""
        from .langchain import PassageRetriever

        if not isinstance(k, int) or not 1 <= k <= 50:
            raise QAError(f"k is the number of passages to retrieve, 1 to 50; got {k!r}")
        return PassageRetriever(assistant=self, k=k, sources=sources)

    def as_runnable(self) -> AnswerRunnable:
        """This assistant's answers as a LangChain Runnable (see qa/langchain.py)."""
        from .langchain import AnswerRunnable

        return AnswerRunnable(self)

    @property
    def answerer(self) -> str:
        """The name of the answerer in use (`auto` resolved)."""
        return self.writer.name

    def chat_model(self) -> BaseChatModel | None:
        """The answerer's language model, created on first use; None for one that only quotes."""
        return self.writer.chat_model()

    def _use_embeddings(self, embeddings: EmbeddingModel) -> None:
        self.embeddings = embeddings
        self.store = IndexStore(
            self.index_dir,
            embeddings,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            chroma_url=self.settings.chroma_url,
            ocr=self.settings.ocr == "auto",
            collection=self.settings.collection,
        )
        self.selector = EvidenceSelector(
            embeddings, load_model(self.settings.support_model), self.settings.min_support
        )

    def _follow_index_backend(self) -> None:
        """With QA_EMBEDDING_BACKEND=auto, keep using the backend an existing index was built with
        (vectors of the two differ slightly), instead of refusing it; a full rebuild uses the default."""
        if self._backend_checked:
            return
        self._backend_checked = True
        header = self.store.header()
        built = header.embedding_backend if header else None
        if built in ("torch", "onnx-int8") and built != self.embeddings.backend:
            log.info("the index was built with the %s embedding backend; using it", built)
            self._use_embeddings(packaged_minilm("torch" if built == "torch" else "onnx"))

    # ---- the index ---------------------------------------------------------------------------

    def rebuild(self, full: bool = False, progress: Progress | None = None) -> BuildReport:
        """Bring the index in line with the corpus folder: only new or changed documents are embedded,
        unless `full`. The previous index keeps answering until the new one is complete."""
        return self._sync(full, progress)

    def _sync(
        self, full: bool = False, progress: Progress | None = None, only: Sequence[str] | None = None
    ) -> BuildReport:
        """`rebuild`, or with `only`, the sync of just those sources (an add or a remove)."""
        with self._build_lock:
            if not full:
                self._follow_index_backend()
            return self.store.build(
                self.corpus_dir, int(self.settings.max_file_mb * 1e6), full=full, progress=progress, only=only
            )

    def add(self, paths: Sequence[str | Path], progress: Progress | None = None) -> BuildReport:
        """Copy files into the corpus folder (top level, by their own names) and index them: only them,
        so the cost is theirs whatever the corpus's size (other changes to the folder wait for `rebuild`).

        A file that cannot be used (type, size, unreadable, a hidden or reserved name) is checked before
        it is copied, so it never lands in the corpus: it comes back in `report.skipped` with its
        reason, and the corpus and the index stay as they were. A file with the name of an indexed
        document replaces it."""
        files = [Path(raw) for raw in paths]
        for path in files:
            if not path.is_file():
                raise CorpusError(f"{path} is not a file; give the path of a document to add")
        self.corpus_dir.mkdir(parents=True, exist_ok=True)
        refused: list[Skipped] = []
        for path in files:
            reason = self._unusable(path, progress)
            if reason:
                refused.append(Skipped(path.name, reason))
                continue
            target = self.corpus_dir / path.name
            if target.resolve() != path.resolve():
                shutil.copyfile(path, target)
        added = [p.name for p in files if p.name not in {r.source for r in refused}]
        report = self._sync(progress=progress, only=added)
        report.skipped[:0] = refused
        return report

    def _unusable(self, path: Path, progress: Progress | None = None) -> str | None:
        """Why `path` cannot be added to the corpus, or None: a name the corpus ignores, or whatever
        loading it the way a build does refuses (type, size, unreadable). OCR done here is cached, so
        the build that follows reads the same pages from the cache."""
        if path.name.startswith(".") or path.name in IGNORED_NAMES:
            return "has a name the corpus ignores (hidden or reserved); rename the file and add it again"
        try:
            load_file(
                path,
                path.parent,
                int(self.settings.max_file_mb * 1e6),
                ocr=self.settings.ocr == "auto",
                progress=(lambda done, total: progress("ocr", done, total)) if progress else None,
            )
        except (ValueError, OSError) as exc:
            return str(exc)
        return None

    def remove(self, sources: list[str]) -> BuildReport:
        """Delete documents (by source name) from the corpus folder and from the index (only them)."""
        root = self.corpus_dir.resolve()
        targets = []
        for source in sources:
            target = (self.corpus_dir / source).resolve()
            if root not in target.parents or not target.is_file():
                known = ", ".join(d.source for d in self.documents()) or "none"
                raise DocumentNotFoundError(f"no document named {source!r} in the corpus; indexed: {known}")
            targets.append(target)
        indexed = {d.source for d in self.documents()}
        if indexed and indexed <= set(sources):
            raise CorpusError(
                "removing every document would leave nothing to answer from; add another document first"
            )
        for target in targets:
            target.unlink()
        return self._sync(only=[target.relative_to(root).as_posix() for target in targets])

    def excerpt(self, cited: Citation | Passage, chars: int = 300) -> Excerpt:
        """A citation (or passage) with up to `chars` characters of its document around it, from the
        index version it was cited from, for showing the evidence in place."""
        snapshot = self._snapshot()
        page, section, ocr = cited.page, cited.section, cited.ocr
        if snapshot.text(cited.source, cited.start, cited.end) != cited.text:  # the document changed since
            return Excerpt(
                cited.source, cited.start, cited.end, cited.text, page=page, section=section, ocr=ocr
            )
        lo = max(0, cited.start - chars)
        before = snapshot.text(cited.source, lo, cited.start) or ""
        after = snapshot.text(cited.source, cited.end, cited.end + chars + 1) or ""
        clipped_before, clipped_after = lo > 0, len(after) > chars
        if clipped_before:  # cut at a word boundary, so the context never starts mid-word
            before = before.split(maxsplit=1)[1] if len(before.split(maxsplit=1)) > 1 else ""
        if clipped_after:
            after = after[:chars].rsplit(maxsplit=1)[0] if after[:chars].strip() else ""
        return Excerpt(
            cited.source,
            cited.start,
            cited.end,
            cited.text,
            before,
            after,
            clipped_before,
            clipped_after,
            page,
            section,
            ocr,
        )

    def documents(self) -> list[DocumentInfo]:
        """What is indexed: one entry per document with its chunk count, size and when it was added."""
        manifest = self.store.manifest()
        if manifest is None:
            return []
        return [
            DocumentInfo(source, doc.chunks, doc.bytes, doc.added)
            for source, doc in manifest.documents.items()
        ]

    def status(self) -> IndexStatus:
        """A summary of the index for `qa index status`."""
        manifest = self.store.manifest()
        index_dir, corpus_dir = str(self.index_dir), str(self.corpus_dir)
        if manifest is None:
            e = self.embeddings
            return IndexStatus(0, 0, e.name, e.dimension, e.backend, index_dir, corpus_dir)
        return IndexStatus(
            documents=len(manifest.documents),
            chunks=manifest.chunks,
            embedding_model=manifest.embedding_model,
            embedding_dim=manifest.embedding_dim,
            embedding_backend=manifest.embedding_backend,
            built_at=manifest.built_at,
            updated_at=manifest.updated_at,
            chunking=asdict(manifest.chunking),
            version=manifest.version,
            generation=self.store.current_generation(),
            index_dir=index_dir,
            corpus_dir=corpus_dir,
        )

    def _snapshot(self) -> Snapshot:
        """The live index, built first if there is none yet."""
        self._follow_index_backend()
        if self.store.current_generation() is None:  # cheap: the manifest itself is read only on change
            log.warning(
                "no index in %s yet: building it from %s (first use)", self.index_dir, self.corpus_dir
            )
            report = self.rebuild()
            for item in report.skipped:
                log.warning("skipped %s: %s", item.source, item.reason)
        return self.store.open()

    @staticmethod
    def _document_heads(snapshot: Snapshot) -> dict[str, tuple[Span | None, Span | None]]:
        """Each document's title and subtitle, saved with the keyword index (read on first use)."""
        return snapshot.keyword.heads

    # ---- questions ---------------------------------------------------------------------------

    def _check_question(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("the question is empty; ask something about the documents")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionError(
                f"the question is {len(question)} characters long, over the {limit} limit "
                "(QA_MAX_QUESTION_CHARS); shorten it"
            )
        return question.strip()

    def search(self, query: str, k: int = 5, sources: list[str] | None = None) -> list[Passage]:
        """The `k` passages that best match `query` (dense and keyword rankings fused)."""
        query = self._check_question(query)
        openings = asks_about_opening(query)
        return hybrid_search(
            self._snapshot(), self.embeddings, query, k=k, sources=sources, openings=openings
        )

    def ask(
        self,
        question: str,
        history: list[tuple[str, str]] | None = None,
        sources: list[str] | None = None,
    ) -> Answer:
        """Answer from the documents with numbered citations, or decline when they do not say."""
        *_, final = self.stream(question, history=history, sources=sources)
        return final

    def stream(
        self,
        question: str,
        history: list[tuple[str, str]] | None = None,
        sources: list[str] | None = None,
    ) -> Iterator[Answer]:
        """Answers whose text grows; the last has `final=True` and is the checked, complete answer."""
        question = self._check_question(question)
        model = self.chat_model()
        query = standalone_question(question, history, model)
        snapshot = self._snapshot()
        said = history[-1][1] if history and leans_on_history(question) else None
        decision, passages = self._decide(snapshot, query, sources, asked=question, said=said)
        if not decision.answerable:  # declined before any model is called; nothing can overturn it
            yield _with_pages(decline(query, decision, nearest=passages[:NEAREST]), snapshot)
            return
        for answer in self.writer.write(query, decision, quote(query, decision), self.embeddings):
            yield _with_pages(answer, snapshot) if answer.final else answer

    def decide(self, question: str, sources: list[str] | None = None) -> Decision:
        """Whether the documents answer `question` (taken as standalone), with the evidence and the
        features behind the verdict: what `ask` decides before any text is written."""
        decision, _ = self._decide(self._snapshot(), self._check_question(question), sources)
        return decision

    def _decide(
        self,
        snapshot: Snapshot,
        query: str,
        sources: list[str] | None,
        asked: str | None = None,
        said: str | None = None,
    ) -> tuple[Decision, list[Passage]]:
        passages = hybrid_search(
            snapshot, self.embeddings, query, self.settings.top_k, sources, openings=asks_about_opening(query)
        )
        request = asks_overview(query)
        # only opening and whole-document questions read the documents' titles
        heads = self._document_heads(snapshot) if request is not None or asks_about_opening(query) else {}
        if request is not None:
            overview = self._overview(snapshot, request, passages, heads, sources)
            if overview is not None:
                return overview, passages
        decision = self.selector.decide(
            query, passages, snapshot.keyword, heads, sources, asked, said, documents=snapshot
        )
        return decision, passages

    def _overview(
        self,
        snapshot: Snapshot,
        request: OverviewRequest,
        passages: list[Passage],
        heads: dict[str, tuple[Span | None, Span | None]],
        sources: list[str] | None,
    ) -> Decision | None:
        """A whole-document question's answer from the document it names, the only one there is, or
        the one the best passage is in; None when it names no document (then it is an ordinary question)."""
        documents = sorted(snapshot.manifest.documents)
        if sources is not None:
            documents = [d for d in documents if d in sources]
        if not documents:
            return None
        if request.name is not None:
            titles = {d: (heads.get(d, (None, None))[0] or Span(0, 0, "")).text for d in documents}
            source = named_document(request.name, titles)
            if source is None:
                return None
        elif len(documents) == 1 or not passages:
            source = documents[0]
        else:
            source = next((p.source for p in passages if p.source in documents), documents[0])
        chunks = snapshot.document_chunks(source)
        text = snapshot.text(source, 0, max((c.end for c in chunks), default=0)) or ""
        return self.selector.overview(source, split_sentences(text), heads.get(source, (None, None))[1])


def _in_collection(settings: Settings, folders_given: Iterable[str]) -> Settings:
    """The settings with the corpus and index folders of their collection, which must exist; a named
    collection keeps its own folders, so explicit ones for it are a mistake, not a choice."""
    name = collection_name(settings.collection)
    if name == DEFAULT_COLLECTION:
        return settings
    if {"corpus_dir", "index_dir"} & set(folders_given):
        raise CollectionError(
            f"collection {name!r} has its own corpus and index folders; "
            "give either a collection or corpus and index folders, not both"
        )
    if not (settings.collections_dir / name).is_dir():
        raise CollectionError(
            f"no collection named {name!r} in {settings.collections_dir}; "
            f"create it with `qa collections create {name}` (QA_COLLECTIONS_DIR says where)"
        )
    corpus_dir, index_dir = settings.collection_dirs()
    return settings.model_copy(update={"corpus_dir": corpus_dir, "index_dir": index_dir})


def _with_pages(answer: Answer, snapshot: Snapshot) -> Answer:
    """Give each citation the page its first character is on (a chunk's page is where it starts), the
    page's name, and whether OCR read it."""
    if not any(snapshot.pages(c.source) for c in answer.citations):
        return answer
    citations = []
    for c in answer.citations:
        where = snapshot.locate(c.source, c.start, c.end)
        citations.append(replace(c, page=where.page, section=where.section, ocr=where.ocr))
    return replace(answer, citations=citations)
