"""The web chat: a Gradio page over `qa.Assistant`, with no retrieval or answering logic of its own.

    qa serve                      # builds or updates the index, then serves http://127.0.0.1:7860
    python -m qa.ui.app           # the same page with settings from QA_* variables

Layout: the conversation on the left (answers stream in, each `[n]` links to its passage); on the right
the evidence panel (every cited passage in its surroundings, the cited words highlighted) and the
documents (upload, list, remove). Narrow windows stack the two columns.

Importing this module builds no page: `launch` builds the one page it serves, so `qa serve` and
`python -m qa.ui.app` each build exactly one. A page given no Assistant creates one on first use, so the
model loads only when someone asks. What the page shows is rendered by `qa.ui.render`, which escapes all
document text; the page asks for nothing outside the server (system fonts, no analytics, no CDN).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Before gradio is imported: it reads this at import time and would otherwise phone home.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from starlette.routing import Mount

from qa.errors import QAError
from qa.loaders import SUPPORTED_SUFFIXES
from qa.models import Answer, Excerpt
from qa.server import ANSWERS_AT_ONCE, AnswerSlots
from qa.settings import is_loopback

from . import render
from .render import Turn

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.collections import Collections
    from qa.index import BuildReport
    from qa.settings import Settings

log = logging.getLogger(__name__)

TITLE = "Ask the documents"
EXAMPLES = [
    "Where did the second round of the cybercrime dialogue take place?",
    "What did the Senior Experts Group discuss?",
    "Who extended the national state of emergency over cyberattacks?",
    "What is the population of Beijing?",
]
QUEUE_CONCURRENCY = ANSWERS_AT_ONCE  # two answers at a time on a 2-core laptop; more only slows each down
QUEUE_MAX_SIZE = 32  # beyond this, new questions are turned away instead of waiting minutes
CACHE_MAX_AGE = 3600  # seconds uploaded and exported files are kept (in Gradio's cache and ours)

# System fonts only: a GoogleFont (or a LocalFont the browser lacks) would make the page reach outside.
THEME = gr.themes.Soft(
    primary_hue="indigo",
    font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"],
)
CSS = """
#qa-status p, #qa-upload-status p.qa-problem { color: var(--error-text-color); margin: 0; }
#qa-upload-status { min-height: 4em; }
#qa-upload-limits p { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 4px 0 0; }
#qa-evidence { max-height: 72vh; overflow-y: auto !important; }
@media (max-width: 900px) { #qa-upload-status { min-height: 4em; }
#qa-upload-limits p { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 4px 0 0; }
#qa-evidence { max-height: none; } }
.qa-turn { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px;
  margin-bottom: 8px; }
.qa-turn > summary { cursor: pointer; font-weight: 600; }
.qa-meta { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 4px 0 6px; }
.qa-cite { border-left: 4px solid var(--color-accent); padding: 4px 10px; margin: 8px 0;
  scroll-margin: 16px; }
.qa-cite header, .qa-nearest header { font-weight: 600; font-size: 0.9em; overflow-wrap: anywhere; }
.qa-context { margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.qa-around { color: var(--body-text-color-subdued); }
.qa-context mark { background: #fde68a; color: #111; padding: 0 1px; border-radius: 2px; }
.qa-declined { font-weight: 600; }
.qa-declined-label { font-weight: 600; color: var(--error-text-color); margin-top: 8px; }
.qa-nearest { border: 1px dashed var(--border-color-primary); padding: 4px 10px; margin: 6px 0;
  opacity: 0.85; }
.qa-copy { margin-top: 6px; padding: 2px 10px; border: 1px solid var(--border-color-primary);
  border-radius: 6px; background: var(--button-secondary-background-fill); cursor: pointer; }
.qa-flash { animation: qa-flash 1.6s ease-out; }
@keyframes qa-flash { from { background: #fde68a; } to { background: transparent; } }
.qa-docs { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.qa-docs th, .qa-docs td { text-align: left; padding: 3px 6px; white-space: nowrap;
  border-bottom: 1px solid var(--border-color-primary); }
.qa-docs td:first-child { white-space: normal; overflow-wrap: anywhere; }
.qa-empty { color: var(--body-text-color-subdued); }
"""
# In-page behaviour the server cannot do: jump from an `[n]` link to its passage (opening a folded turn),
# and copy an answer. Delegated on the document, so it survives Gradio re-rendering the chat and panel.
JS = """
() => {
  const copyText = async (text, button) => {
    try { await navigator.clipboard.writeText(text); }
    catch (e) {
      const area = document.createElement('textarea');
      area.value = text; document.body.appendChild(area); area.select();
      document.execCommand('copy'); area.remove();
    }
    if (button.dataset.qaLabel === undefined) button.dataset.qaLabel = button.textContent;
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = button.dataset.qaLabel; }, 1500);
  };
  document.addEventListener('click', (event) => {
    const el = event.target.closest('a[href^="#qa-"], button[data-qa-copy]');
    if (!el) return;
    const id = el.dataset.qaCopy || el.getAttribute('href').slice(1);
    const target = document.getElementById(id);
    event.preventDefault(); event.stopPropagation();
    if (!target) return;
    if (id.startsWith('qa-copy-')) { copyText(target.value, el); return; }
    const turn = target.closest('details'); if (turn) turn.open = true;
    target.scrollIntoView({behavior: 'smooth', block: 'center'});
    target.focus({preventScroll: true});
    target.classList.remove('qa-flash'); void target.offsetWidth; target.classList.add('qa-flash');
  }, true);
}
"""

# Gradio's own message format ({role, content, metadata}); its values are whatever Gradio accepts.
ChatMessages = list[dict[str, Any]]


def _status(message: str) -> str:
    return f"⚠️ {render.escape_text(message)}"


class LazyAssistant:
    """Hands out one Assistant per collection, each created on first use: building the page must not
    load models. Called with no collection: the page's own (the one `qa serve` was given)."""

    def __init__(self, assistant: Assistant | None = None) -> None:
        self._assistant = assistant
        self._collections: Collections | None = None
        self._lock = threading.Lock()

    def collections(self) -> Collections:
        with self._lock:
            if self._collections is None:
                from qa.collections import Collections

                self._collections = (
                    Collections(assistant=self._assistant) if self._assistant else Collections()
                )
            return self._collections

    def __call__(self, collection: str | None = None) -> Assistant:
        return self.collections().get(collection)


# A handler's way to its assistant: called with a collection name, or with none for the page's default.
AssistantFor = Callable[..., "Assistant"]


def _pick(get_assistant: AssistantFor, collection: str | None) -> Assistant:
    return get_assistant(collection) if collection else get_assistant()


def messages(turns: list[Turn]) -> ChatMessages:
    """The chat as Gradio messages, rebuilt from the finished turns (the single source of truth)."""
    out: ChatMessages = []
    for n, turn in enumerate(turns, start=1):
        out.append({"role": "user", "content": render.user_markdown(turn.question)})
        out.append({"role": "assistant", "content": render.chat_markdown(turn.answer, turn.question, n)})
    return out


def _excerpts(assistant: Assistant, answer: Answer) -> list[Excerpt]:
    """Each citation in its surroundings; a citation whose surroundings cannot be read is shown alone."""
    try:
        return [assistant.excerpt(c) for c in answer.citations]
    except QAError as exc:  # e.g. the index was rebuilt with other settings a moment ago
        log.warning("could not read the surroundings of the citations: %s", exc)
        return []


@functools.cache
def _export_dir() -> Path:
    """A private folder (mode 0700) for this process's exports: conversations about private documents
    must not sit in a world-readable /tmp folder that any local user could also pre-create."""
    return Path(tempfile.mkdtemp(prefix="qa-exports-"))


def _export_buttons(turns: list[Turn]) -> tuple[Any, Any]:
    """The two download buttons, holding the conversation as Markdown and as JSON (or disabled when there
    is nothing to export). Gradio copies the files into its cache after the handler returns, so they stay
    in a folder of their own (named by content: sessions never clash) that is pruned after an hour."""
    if not turns:
        return gr.DownloadButton(value=None, interactive=False), gr.DownloadButton(
            value=None, interactive=False
        )
    md, js = render.export_markdown(turns), render.export_json(turns)
    exports = _export_dir()
    folder = exports / hashlib.sha256((md + js).encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conversation.md").write_text(md, encoding="utf-8")
    (folder / "conversation.json").write_text(js, encoding="utf-8")
    cutoff = time.time() - CACHE_MAX_AGE
    for old in exports.iterdir():
        if old != folder and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
    return (
        gr.DownloadButton(value=folder / "conversation.md", interactive=True),
        gr.DownloadButton(value=folder / "conversation.json", interactive=True),
    )


def make_respond(
    get_assistant: AssistantFor, slots: AnswerSlots | None = None
) -> Callable[..., Iterator[tuple[Any, ...]]]:
    """The chat's streaming handler, bound to an assistant (a factory, so it can be created lazily).

    While it answers it holds one of `slots`, the limit on answers written at a time that the page shares
    with the HTTP API (`qa serve` passes one; alone, the page gets its own).
    Outputs: chat, turns, status line, question box, evidence panel, the two export buttons."""
    slots = slots or AnswerSlots()

    def respond(
        question: str, turns: list[Turn], within: list[str] | None, collection: str | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """Show the question at once, then the answer as it grows, then the checked final answer with
        its evidence. A QAError (empty or too long question, ...) becomes one line in the page, the chat
        is left as it was and the question goes back into the box to be fixed.

        The question box is cleared once, at the start, and then left alone, so a question typed while
        this one is answered is not wiped (it is asked next: the submit event is `always_last`)."""
        turns = list(turns or [])
        skip = gr.skip()
        done = messages(turns)
        n = len(turns) + 1
        pending = [*done, {"role": "user", "content": render.user_markdown(question)}]
        yield [*pending, {"role": "assistant", "content": render.SEARCHING}], skip, "", "", skip, skip, skip
        history = [(t.question, t.answer.text) for t in turns]
        answer: Answer | None = None
        try:
            assistant = _pick(get_assistant, collection)
            with slots.hold():
                for answer in assistant.stream(question, history=history, sources=within or None):
                    if not answer.final:
                        shown = render.chat_markdown(answer, question, n)
                        yield (
                            [*pending, {"role": "assistant", "content": shown}],
                            skip,
                            "",
                            skip,
                            skip,
                            skip,
                            skip,
                        )
            if answer is None:  # the assistant always yields a final answer; guard the contract anyway
                raise QAError("no answer came back; see the server log")
            turn = Turn(question.strip(), answer, _excerpts(assistant, answer))
        except QAError as exc:
            yield done, skip, _status(str(exc)), question, skip, skip, skip
            return
        except Exception:
            log.exception("answering %r failed", question)
            failure = _status("something went wrong while answering; see the server log")
            yield done, skip, failure, question, skip, skip, skip
            return
        turns.append(turn)
        md, js = _export_buttons(turns)
        yield messages(turns), turns, "", skip, render.evidence_html(turns), md, js

    return respond


def _new_conversation() -> tuple[Any, ...]:
    md, js = _export_buttons([])
    return [], [], "", render.evidence_html([]), md, js


def _example_text(evt: gr.SelectData) -> str:
    """The text of the example the user clicked (Gradio passes it as the select event's value)."""
    value = evt.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value)


# ---- documents ---------------------------------------------------------------------------------


def _document_views(
    get_assistant: AssistantFor, within: list[str] | None, collection: str | None = None
) -> tuple[Any, ...]:
    """The document list and the two pickers (ask within, remove), from the index's manifest."""
    try:
        documents = _pick(get_assistant, collection).documents()
    except QAError as exc:
        return f'<p class="qa-empty">{render.escape_html(str(exc))}</p>', gr.Dropdown(), gr.Dropdown()
    names = [d.source for d in documents]
    kept = [name for name in within or [] if name in names]
    return (
        render.documents_html(documents),
        gr.Dropdown(choices=names, value=kept, multiselect=True),
        gr.Dropdown(choices=names, value=None),
    )


def collection_picker(get_assistant: LazyAssistant, current: str | None) -> Any:
    """The collection picker: every collection (read now, so one created since the server started is
    there after a reload), shown only when there is a choice."""
    try:
        collections = get_assistant.collections()
        names = collections.names()
    except (QAError, OSError) as exc:
        log.warning("cannot list the collections: %s", exc)
        return gr.Dropdown(visible=False)
    value = current if current in names else collections.default
    return gr.Dropdown(choices=names, value=value, visible=len(names) > 1)


def switch_to(get_assistant: AssistantFor, collection: str | None) -> tuple[Any, ...]:
    """Another collection for this browser session: a new conversation, and that collection's documents.
    Outputs: the conversation's six (as a new conversation), then the document list and the two pickers."""
    return *_new_conversation(), *_document_views(get_assistant, [], collection)


def upload_limits(get_assistant: AssistantFor) -> str:
    """The upload rules, said before anyone trips over them."""
    limit = get_assistant().settings.max_file_mb
    return f"Up to {limit:g} MB per file (QA\\_MAX\\_FILE\\_MB): {', '.join(SUPPORTED_SUFFIXES)}."


def _problem(text: str) -> str:
    return f'<p class="qa-problem">⚠️ {render.escape_html(text)}</p>'


def _chunks(n: int) -> str:
    return f"{n} chunk" if n == 1 else f"{n} chunks"


def upload_message(report: BuildReport, uploaded: list[str], chunks: dict[str, int]) -> str:
    """What happened to each uploaded file, in one short line each (HTML, escaped)."""
    mine = set(uploaded)
    h = render.escape_html
    lines = [
        f"Added {h(name)} ({_chunks(chunks.get(name, 0))}); ask about it now."
        for name in report.added
        if name in mine
    ]
    lines += [
        f"Replaced {h(name)} with the uploaded version ({_chunks(chunks.get(name, 0))})."
        for name in report.updated
        if name in mine
    ]
    lines += [f"{h(name)} is already indexed, unchanged." for name in report.unchanged if name in mine]
    lines += [
        f"{h(name)} has the same content as {h(kept)}, which is indexed; not added twice."
        for name, kept in report.duplicates.items()
        if name in mine
    ]
    problems = [_problem(f"Not added: {i.source}: {i.reason}") for i in report.skipped if i.source in mine]
    return "".join(f"<p>{line}</p>" for line in lines) + "".join(problems)


_PROGRESS = gr.Progress()  # Gradio fills a parameter defaulting to a Progress with the live tracker


_STAGES = {  # build stage -> what the progress bar says, and what it counts
    "read": ("Reading files", "files"),
    "ocr": ("Recognising text (OCR)", "pages"),
    "embed": ("Embedding chunks", "chunks"),
}


def make_upload(get_assistant: AssistantFor) -> Callable[..., tuple[Any, ...]]:
    def upload(
        files: list[str] | None,
        within: list[str] | None,
        progress: gr.Progress = _PROGRESS,
        collection: str | None = None,
    ) -> tuple[Any, ...]:
        """Index uploaded files into the session's collection, with progress. Outputs: upload status,
        documents, the two pickers."""
        paths = [Path(f) for f in files or []]
        if not paths:
            return "", *_document_views(get_assistant, within, collection)

        def report_progress(stage: str, done: int, total: int) -> None:
            what, unit = _STAGES.get(stage, ("Embedding chunks", "chunks"))
            progress((done, max(total, 1)), desc=what, unit=unit)

        try:
            assistant = _pick(get_assistant, collection)
            report = assistant.add(paths, progress=report_progress)
        except QAError as exc:
            return _problem(str(exc)), *_document_views(get_assistant, within, collection)
        except Exception:  # a failed build leaves the index as it was: say so, log the details
            log.exception("indexing the upload %s failed", [p.name for p in paths])
            failure = "indexing the upload failed; the index is as it was before; see the server log"
            return _problem(failure), *_document_views(get_assistant, within, collection)
        views = _document_views(get_assistant, within, collection)
        chunks = {d.source: d.chunks for d in assistant.documents()}
        return upload_message(report, [p.name for p in paths], chunks), *views

    return upload


def make_remove(get_assistant: AssistantFor) -> Callable[..., tuple[Any, ...]]:
    def remove(
        source: str | None, within: list[str] | None, collection: str | None = None
    ) -> tuple[Any, ...]:
        """Remove one document from the session's collection's corpus and index. Outputs as for upload."""
        views = functools.partial(_document_views, get_assistant, within, collection)
        if not source:
            return _problem("choose a document to remove first"), *views()
        try:
            _pick(get_assistant, collection).remove([source])
        except QAError as exc:
            return _problem(str(exc)), *views()
        return f"<p>Removed {render.escape_html(source)}.</p>", *views()

    return remove


# ---- the page ----------------------------------------------------------------------------------


def build_demo(
    assistant: Assistant | LazyAssistant | None = None, slots: AnswerSlots | None = None
) -> gr.Blocks:
    """The chat page. With no assistant, one is created from QA_* settings on the first request; `qa serve`
    passes the LazyAssistant it shares with the API, and `slots`, the limit on answers written at a time.

    Theme, CSS and JS are not set here: Gradio 6 takes them in `launch()` (see `launch_options`)."""
    get_assistant = assistant if isinstance(assistant, LazyAssistant) else LazyAssistant(assistant)
    with gr.Blocks(title=TITLE, delete_cache=(CACHE_MAX_AGE, CACHE_MAX_AGE)) as demo:
        gr.Markdown(
            f"# {TITLE}\n"
            "Answers come only from the indexed documents, and every answer cites the exact passages "
            "it rests on. When the documents don't say, it says so."
        )
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    show_label=False,  # its floating label chip would cover the first message
                    height=560,
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder="Ask a question about the documents, or pick an example.",
                    buttons=[],  # copy would copy the escaped Markdown; "Copy answer" copies plain text
                    feedback_options=None,
                    latex_delimiters=[],  # "$" in a document is money, not maths
                    allow_tags=False,
                    sanitize_html=True,
                    elem_id="qa-chat",
                )
                question = gr.Textbox(
                    placeholder="Ask about the documents… (follow-up questions understand what came before)",
                    show_label=False,
                    submit_btn="Ask",
                    autofocus=True,
                    lines=1,
                    max_lines=6,
                    elem_id="qa-question",
                )
                status = gr.Markdown(elem_id="qa-status")
                picker = gr.Dropdown(  # shown once there is more than one collection to choose from
                    label="Collection",
                    choices=[],
                    value=None,
                    visible=False,
                    # the choices are filled in per session on load; API callers name any collection,
                    # and the handlers refuse a name that is not one
                    allow_custom_value=True,
                    elem_id="qa-collection",
                )
                within = gr.Dropdown(
                    label="Ask within (leave empty for all documents)",
                    choices=[],
                    value=[],
                    multiselect=True,
                    elem_id="qa-within",
                )
                with gr.Row():
                    new_conversation = gr.Button("New conversation", size="sm", variant="secondary")
                    export_md = gr.DownloadButton(
                        "Export Markdown", size="sm", interactive=False, elem_id="qa-export-md"
                    )
                    export_json = gr.DownloadButton(
                        "Export JSON", size="sm", interactive=False, elem_id="qa-export-json"
                    )
            with gr.Column(scale=2, min_width=300):
                gr.Markdown("### Evidence")
                evidence = gr.HTML(render.evidence_html([]), elem_id="qa-evidence")
                with gr.Accordion("Documents", open=False, elem_id="qa-documents-panel"):
                    upload = gr.UploadButton(
                        "Add documents…",
                        file_count="multiple",
                        file_types=list(SUPPORTED_SUFFIXES),
                        size="sm",
                        elem_id="qa-upload",
                    )
                    limits = gr.Markdown(elem_id="qa-upload-limits")
                    upload_status = gr.HTML(elem_id="qa-upload-status")
                    documents = gr.HTML(elem_id="qa-documents")
                    with gr.Row():
                        to_remove = gr.Dropdown(
                            label="Remove a document", choices=[], value=None, elem_id="qa-remove-choice"
                        )
                        remove = gr.Button("Remove", variant="stop", size="sm", elem_id="qa-remove", scale=0)

        respond = make_respond(get_assistant, slots)
        answer_outputs = [chatbot, turns, status, question, evidence, export_md, export_json]
        answer_inputs = [question, turns, within, picker]
        # Answers share one queue slot pool; a question submitted while one is answered runs next.
        # These dicts are keyword arguments for Gradio's event listeners, typed there.
        answering: dict[str, Any] = {"concurrency_id": "answer", "trigger_mode": "always_last"}
        question.submit(respond, answer_inputs, answer_outputs, api_name="ask", **answering)
        quick: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
        chatbot.example_select(_example_text, None, question, **quick).then(
            respond, answer_inputs, answer_outputs, api_visibility="private", concurrency_id="answer"
        )
        cleared = [chatbot, turns, status, evidence, export_md, export_json]
        new_conversation.click(_new_conversation, None, cleared, **quick)
        chatbot.clear(_new_conversation, None, cleared, **quick)

        def list_documents(current: list[str] | None, collection: str | None) -> tuple[Any, ...]:
            return _document_views(get_assistant, current, collection)

        def list_collections(current: str | None) -> Any:
            return collection_picker(get_assistant, current)

        def switch_collection(collection: str | None) -> tuple[Any, ...]:
            return switch_to(get_assistant, collection)

        # Writers go one at a time through the page (the index also locks across processes).
        indexing: dict[str, Any] = {
            "concurrency_id": "index",
            "concurrency_limit": 1,
            "show_progress_on": [upload_status],  # one progress bar, not one over every output
            "api_visibility": "private",
        }
        doc_outputs = [upload_status, documents, within, to_remove]
        upload.upload(make_upload(get_assistant), [upload, within, picker], doc_outputs, **indexing)
        remove.click(make_remove(get_assistant), [to_remove, within, picker], doc_outputs, **indexing)
        picker.input(switch_collection, picker, [*cleared, documents, within, to_remove], **quick)
        demo.load(list_collections, picker, picker, **quick)
        demo.load(list_documents, [within, picker], [documents, within, to_remove], **quick)
        demo.load(lambda: upload_limits(get_assistant), None, limits, **quick)
    demo.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    return demo


def _auth(settings: Settings, host: str) -> tuple[str, str] | None:
    """The login pair from QA_UI_AUTH; required whenever the page is reachable from other machines,
    unless the operator opted out explicitly (QA_UI_INSECURE_NO_LOGIN / --insecure-no-login)."""
    if not settings.ui_auth:
        if is_loopback(host):
            return None
        if settings.ui_insecure_no_login:
            log.warning(
                "serving on %s with no login: anyone who can reach it can read and change the documents", host
            )
            return None
        raise QAError(
            f"refusing to serve on {host} without a login: set QA_UI_AUTH=user:password "
            "(or serve on 127.0.0.1, or pass --insecure-no-login on a trusted network)"
        )
    user, sep, password = settings.ui_auth.partition(":")
    if not sep or not user or not password:
        raise QAError("QA_UI_AUTH must look like user:password (both parts non-empty)")
    return user, password


def launch_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """The keyword arguments for `Blocks.launch()`; raises QAError for an unsafe host without a login."""
    return {
        "server_name": host,
        "server_port": port,
        "auth": _auth(settings, host),
        "theme": THEME,  # Gradio 6 takes theme, css and js in launch(), not in Blocks()
        "css": CSS,
        "js": JS,
        "max_file_size": int(settings.max_file_mb * 1e6),  # bytes; Gradio refuses bigger uploads early
        "footer_links": ["api", "settings"],  # no "built with Gradio" link out of an offline page
        "run_history": False,  # questions about private documents are not kept in the browser
        "ssr_mode": False,  # server-side rendering needs Node; the page renders in the browser
        "show_error": False,  # errors the user should see are shown in the page by the handlers
    }


def http_routes(
    get_assistant: LazyAssistant, slots: AnswerSlots, settings: Settings, host: str
) -> list[Mount]:
    """The HTTP API (/api/v1) and the OpenAI-compatible endpoint (/v1), to serve beside the page.

    Off loopback they need QA_API_KEY (or the explicit opt-out), the page's login does not cover them."""
    from qa.api import PREFIX as API_PREFIX
    from qa.api import build_api
    from qa.openai_api import PREFIX as OPENAI_PREFIX
    from qa.openai_api import build_openai_api
    from qa.server import Access

    collections = get_assistant.collections()
    access = Access.for_host(settings, host)
    max_file_bytes = int(settings.max_file_mb * 1e6)
    return [
        Mount(API_PREFIX, app=build_api(collections, slots, access, max_file_bytes)),
        Mount(OPENAI_PREFIX, app=build_openai_api(collections, slots, access)),
    ]


def launch(
    assistant: Assistant | None,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    prevent_thread_lock: bool = False,
) -> gr.Blocks:
    """Build the chat page and serve it with the HTTP API and the OpenAI-compatible endpoint beside it, in
    one server (used by `qa serve`). Blocks until stopped unless `prevent_thread_lock`.

    Binds loopback by default; any other host needs QA_UI_AUTH=user:password (or the explicit opt-out),
    checked before anything is built or bound. The page and the API share one limit on answers written at
    a time (`AnswerSlots`), so API clients cannot crowd out people at the page, nor the other way round."""
    if assistant is not None:
        settings = assistant.settings
    else:
        from qa.settings import get_settings

        settings = get_settings()
    options = launch_options(settings, host, port)
    get_assistant = LazyAssistant(assistant)
    slots = AnswerSlots(limit=QUEUE_CONCURRENCY)
    # Gradio builds its FastAPI app inside launch(); routes given to that app's constructor come before
    # Gradio's own, so /api/v1 and /v1 are served by our apps and the page keeps its login and queue.
    routes = http_routes(get_assistant, slots, settings, host)
    demo = build_demo(get_assistant, slots)
    log.info("serving the web chat on http://%s:%d, the HTTP API under /api/v1 and /v1", host, port)
    try:
        demo.launch(prevent_thread_lock=prevent_thread_lock, app_kwargs={"routes": routes}, **options)
    except OSError as exc:  # Gradio's message names its own GRADIO_* variables; ours names ours
        log.debug("binding %s:%d failed: %s", host, port, exc)
        raise QAError(
            f"cannot serve on {host}:{port}: the port is in use or the address is not available here; "
            "choose another with --port (QA_PORT) or --host (QA_HOST)"
        ) from exc
    return demo


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        from qa.settings import get_settings

        launch(None, host=get_settings().host, port=get_settings().port)
    except QAError as exc:
        log.error("error: %s", exc)
        raise SystemExit(1) from None
