"""The web chat: a Gradio page over `qa.Assistant`, with no retrieval or answering logic of its own.

    qa serve                      # builds or updates the index, then serves http://127.0.0.1:7860
    python -m ui.app              # the same page with settings from QA_* variables

Importing this module is cheap: `demo` creates its Assistant on the first question, so the model
loads only when someone asks. Everything that comes from documents is escaped before it reaches the
page, and the page asks for nothing outside the server (system fonts, no analytics).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

# Before gradio is imported: it reads this at import time and would otherwise phone home.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from qa.errors import QAError
from qa.models import Answer, Citation, Passage

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.settings import Settings

log = logging.getLogger(__name__)

TITLE = "Ask the documents"
EXAMPLES = [
    "Where did the second round of the cybercrime dialogue take place?",
    "What did the Senior Experts Group discuss?",
    "Who extended the national state of emergency over cyberattacks?",
    "What is the population of Beijing?",
]
SEARCHING = "_Searching the documents…_"
SOURCES_HEADING = "**Sources**"
NEAREST_HEADING = "**Nearest passages — these do NOT support an answer:**"
NEAREST_CHARS = 300  # a declined answer's passages are context, not evidence: a snippet is enough
QUEUE_CONCURRENCY = 2  # two answers at a time on a 2-core laptop; more only slows each one down
QUEUE_MAX_SIZE = 32  # beyond this, new questions are turned away instead of waiting minutes

# System fonts only: a GoogleFont (or a LocalFont the browser lacks) would make the page reach outside.
THEME = gr.themes.Soft(
    primary_hue="indigo",
    font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"],
)
CSS = """
#qa-status p { color: var(--error-text-color); margin: 0; }
"""

ChatMessages = list[dict[str, Any]]
History = list[tuple[str, str]]
Update = tuple[ChatMessages, History, str, str]  # chat, history, status line, question box

# Every ASCII punctuation mark becomes a numeric character reference. That covers what HTML needs
# (& < > " ') and everything Markdown could read as syntax (* _ [ ] # > ` | ~ $ : ...), including
# autolinks, and the browser still shows the original characters.
_ENTITIES = {ord(ch): f"&#{ord(ch)};" for ch in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}


def escape_text(text: str) -> str:
    """Document text (user data) made safe to put into the chat's Markdown: shown literally, run never.

    Whitespace is collapsed to single spaces so a passage stays inside its quote block."""
    return " ".join(text.split()).translate(_ENTITIES)


def _label(prefix: str, source: str, start: int, end: int, page: int | None) -> str:
    page_part = f" (page {page})" if page else ""
    return f"**{escape_text(f'{prefix}{source}{page_part}, chars {start}-{end}')}**"


def render_citation(citation: Citation) -> str:
    """One citation as Markdown: "[n] source (page), chars start-end" and the quoted text, escaped."""
    label = _label(f"[{citation.n}] ", citation.source, citation.start, citation.end, citation.page)
    return f"{label}\n> “{escape_text(citation.text)}”"


def render_passage(passage: Passage) -> str:
    """A nearest passage offered with a refusal: where it is and a snippet of it, escaped."""
    snippet = " ".join(passage.text.split())
    if len(snippet) > NEAREST_CHARS:
        snippet = snippet[:NEAREST_CHARS].rsplit(" ", 1)[0] + " …"
    label = _label("", passage.source, passage.start, passage.end, passage.page)
    return f"{label}\n> {escape_text(snippet)}"


def render_answer(answer: Answer, question: str) -> str:
    """The assistant's chat message: what was searched (if rewritten), the answer, and its sources.

    A refusal is shown as it is, with the nearest passages under a heading that says they are no
    support, so nobody mistakes them for citations."""
    parts = []
    if answer.query and answer.query != question.strip():
        parts.append(f"_Searched for: {escape_text(answer.query)}_")
    parts.append(escape_text(answer.text))
    if answer.answerable and answer.citations:
        parts.append(SOURCES_HEADING)
        parts.extend(render_citation(c) for c in answer.citations)
    elif not answer.answerable and answer.nearest:
        parts.append(NEAREST_HEADING)
        parts.extend(render_passage(p) for p in answer.nearest)
    return "\n\n".join(parts)


def _user_message(question: str) -> dict[str, Any]:
    return {"role": "user", "content": escape_text(question)}


def _assistant_message(content: str) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def _status(message: str) -> str:
    return f"⚠️ {escape_text(message)}"


class _LazyAssistant:
    """Hands out one Assistant, created on first use: building the page must not load models."""

    def __init__(self, assistant: Assistant | None = None) -> None:
        self._assistant = assistant
        self._lock = threading.Lock()

    def __call__(self) -> Assistant:
        with self._lock:
            if self._assistant is None:
                from qa.assistant import Assistant

                self._assistant = Assistant()
            return self._assistant


def make_respond(
    get_assistant: Callable[[], Assistant],
) -> Callable[[str, ChatMessages, History], Iterator[Update]]:
    """The chat's streaming handler, bound to an assistant (a factory, so it can be created lazily)."""

    def respond(question: str, chat: ChatMessages, history: History) -> Iterator[Update]:
        """Show the question at once, then the answer as it grows, then the checked final answer.

        A QAError (empty or too long question, no corpus, ...) becomes one line in the page, the chat
        is left as it was and the question stays in the box to be fixed."""
        chat = list(chat or [])
        history = list(history or [])
        pending = [*chat, _user_message(question)]
        yield [*pending, _assistant_message(SEARCHING)], history, "", ""
        answer: Answer | None = None
        try:
            for answer in get_assistant().stream(question, history=history):
                if not answer.final:
                    yield [*pending, _assistant_message(render_answer(answer, question))], history, "", ""
        except QAError as exc:
            yield chat, history, _status(str(exc)), question
            return
        except Exception:
            log.exception("answering %r failed", question)
            yield chat, history, _status("something went wrong while answering; see the server log"), question
            return
        if answer is None:  # the assistant always yields a final answer; guard the contract anyway
            yield chat, history, _status("no answer came back; see the server log"), question
            return
        final = [*pending, _assistant_message(render_answer(answer, question))]
        yield final, [*history, (question.strip(), answer.text)], "", ""

    return respond


def _documents_markdown(get_assistant: Callable[[], Assistant]) -> str:
    """The indexed documents, listed on page load (reads the manifest only; loads no model)."""
    try:
        documents = get_assistant().documents()
    except QAError as exc:
        return _status(str(exc))
    if not documents:
        return "No index yet: it is built from the corpus folder on the first question."
    return "\n".join(f"- {escape_text(d['source'])} ({d['chunks']} chunks)" for d in documents)


def _example_text(evt: gr.SelectData) -> str:
    """The text of the example the user clicked (Gradio passes it as the select event's value)."""
    value = evt.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value)


def _new_conversation() -> tuple[ChatMessages, History, str]:
    return [], [], ""


def build_demo(assistant: Assistant | None = None) -> gr.Blocks:
    """The chat page. With no assistant, one is created from QA_* settings on the first request.

    Theme and CSS are not set here: Gradio 6 takes them in `launch()` (see `launch_options`)."""
    get_assistant = _LazyAssistant(assistant)
    respond = make_respond(get_assistant)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"# {TITLE}\n"
            "Answers come only from the indexed documents, and every answer cites the exact passages "
            "it rests on. When the documents don't say, it says so."
        )
        chatbot = gr.Chatbot(
            label="Conversation",
            height=520,
            examples=[{"text": q} for q in EXAMPLES],
            placeholder="Ask a question about the documents, or pick an example.",
            buttons=[],  # copy buttons would copy the escaped Markdown source, not the text shown
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
        history = gr.State([])
        with gr.Row():
            new_conversation = gr.Button("New conversation", size="sm", variant="secondary", scale=0)
        with gr.Accordion("Documents in the index", open=False):
            documents = gr.Markdown()

        def list_documents() -> str:
            return _documents_markdown(get_assistant)

        # Listing documents reads a small manifest: it skips the queue so it never waits behind answers.
        refresh: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
        outputs = [chatbot, history, status, question]
        question.submit(respond, [question, chatbot, history], outputs, api_name="ask").then(
            list_documents, None, documents, **refresh
        )
        chatbot.example_select(_example_text, None, question, **refresh).then(
            respond, [question, chatbot, history], outputs, api_visibility="private"
        ).then(list_documents, None, documents, **refresh)
        cleared = [chatbot, history, status]
        new_conversation.click(_new_conversation, None, cleared, queue=False, api_visibility="private")
        chatbot.clear(_new_conversation, None, cleared, queue=False, api_visibility="private")
        demo.load(list_documents, None, documents, **refresh)
    demo.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    return demo


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname may resolve to anything: treat it as reachable from outside


def _auth(settings: Settings, host: str) -> tuple[str, str] | None:
    """The login pair from QA_UI_AUTH; required whenever the page is reachable from other machines."""
    if not settings.ui_auth:
        if _is_loopback(host):
            return None
        raise QAError(
            f"refusing to serve on {host} without a login: set QA_UI_AUTH=user:password "
            "(or serve on 127.0.0.1)"
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
        "theme": THEME,  # Gradio 6: theme and css are launch() arguments, no longer Blocks()
        "css": CSS,
        "footer_links": ["api", "settings"],  # no "built with Gradio" link out of an offline page
        "run_history": False,  # questions about private documents are not kept in the browser
        "ssr_mode": False,  # server-side rendering needs Node; the page renders in the browser
        "show_error": False,  # errors the user should see are shown in the page by the handler
    }


def launch(
    assistant: Assistant | None,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    prevent_thread_lock: bool = False,
) -> gr.Blocks:
    """Serve the chat (used by `qa serve`). Blocks until stopped unless `prevent_thread_lock`.

    Binds loopback by default; any other host needs QA_UI_AUTH=user:password, checked before
    anything is built or bound."""
    if assistant is not None:
        settings = assistant.settings
    else:
        from qa.settings import get_settings

        settings = get_settings()
    options = launch_options(settings, host, port)
    demo = build_demo(assistant)
    log.info("serving the web chat on http://%s:%d", host, port)
    try:
        demo.launch(prevent_thread_lock=prevent_thread_lock, **options)
    except OSError as exc:  # Gradio's message names its own GRADIO_* variables; ours names ours
        log.debug("binding %s:%d failed: %s", host, port, exc)
        raise QAError(
            f"cannot serve on {host}:{port}: the port is in use or the address is not available here; "
            "choose another with --port (QA_PORT) or --host (QA_HOST)"
        ) from exc
    return demo


demo = build_demo()

if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        from qa.settings import get_settings

        launch(None, host=get_settings().host, port=get_settings().port)
    except QAError as exc:
        log.error("error: %s", exc)
        raise SystemExit(1) from None
