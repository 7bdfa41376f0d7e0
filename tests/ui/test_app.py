"""The web chat over a real Assistant: the streaming handler, escaping, launch safety, a real server.

The Assistant is built once per module over a temporary copy of the corpus (plus one hostile
document), because loading the embedding model takes seconds. No browser here: that is a later tier.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import urllib.request
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import gradio as gr
import pytest

import ui.app as app
from qa import Assistant
from qa.errors import QAError
from qa.models import Answer, Citation, Passage

ROOT = Path(__file__).resolve().parents[2]
BEIJING = "Where did the second round of the cybercrime dialogue take place?"
POPULATION = "What is the population of Beijing?"
HOSTILE = "<script>alert(1)</script>"
HOSTILE_DOC = (
    "Harbour inspection notes\n\n"
    "The harbour inspector visited the north pier on a Tuesday morning. In the margin of the report "
    f"the inspector wrote {HOSTILE} and drew <img src=x onerror=alert(2)> next to the crane diagram.\n"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ui") / "corpus"
    shutil.copytree(ROOT / "corpus", folder)
    (folder / "harbour-notes.txt").write_text(HOSTILE_DOC, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def assistant(corpus: Path) -> Assistant:
    built = Assistant(corpus_dir=corpus, index_dir=corpus.parent / "index", answerer="extractive")
    built.rebuild()
    return built


@pytest.fixture(scope="module")
def respond(assistant: Assistant) -> Any:
    return app.make_respond(lambda: assistant)


def run(respond: Any, question: str, history: list[tuple[str, str]] | None = None) -> list[Any]:
    return list(respond(question, [], history or []))


def last_message(update: tuple[Any, ...]) -> str:
    chat = update[0]
    return str(chat[-1]["content"])


class ScriptedAssistant(Assistant):
    """A real Assistant whose stream replays prepared answers, to drive the handler's partial updates."""

    def __init__(self, answers: list[Answer], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers = answers

    def stream(
        self, question: str, history: list[tuple[str, str]] | None = None, sources: list[str] | None = None
    ) -> Iterator[Answer]:
        yield from self.answers


# ---- building the page ------------------------------------------------------------------------


def test_importing_the_app_loads_no_model() -> None:
    code = (
        "import sys, ui.app, gradio\n"
        "assert isinstance(ui.app.demo, gradio.Blocks)\n"
        "heavy = ('qa.assistant', 'sentence_transformers', 'torch', 'chromadb')\n"
        "loaded = [name for name in heavy if name in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, timeout=120)


def test_building_the_demo_raises_no_deprecation_warnings(assistant: Assistant) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        demo = app.build_demo(assistant)
    noisy = [w for w in caught if not issubclass(w.category, ResourceWarning)]
    assert not noisy, [str(w.message) for w in noisy]
    assert isinstance(demo, gr.Blocks)


# ---- the streaming handler ----------------------------------------------------------------------


def test_the_answer_shows_the_question_at_once_then_the_answer_with_its_citation(
    respond: Any, assistant: Assistant
) -> None:
    updates = run(respond, BEIJING)
    assert len(updates) >= 2
    first_chat = updates[0][0]
    assert first_chat[0]["role"] == "user" and "cybercrime dialogue" in first_chat[0]["content"]
    assert first_chat[-1]["content"] == app.SEARCHING

    final_chat, history, status, box = updates[-1]
    message = last_message(updates[-1])
    assert [m["role"] for m in final_chat] == ["user", "assistant"]
    expected = assistant.ask(BEIJING)
    assert expected.citations
    assert message.startswith(app.escape_text(expected.text))
    assert app.SOURCES_HEADING in message
    for citation in expected.citations:
        assert app.render_citation(citation) in message
    assert "china&#45;us&#45;relations&#45;in&#45;cyberspace&#46;txt" in message  # source, escaped
    assert message.count("June 14 in Beijing") == 2  # once in the answer, once quoted in the citation
    assert status == "" and box == ""
    assert history == [(BEIJING, expected.text)]


def test_a_question_the_documents_cannot_answer_is_declined_with_unsupporting_passages(
    respond: Any, assistant: Assistant
) -> None:
    expected = assistant.ask(POPULATION)
    assert not expected.answerable and expected.nearest
    message = last_message(run(respond, POPULATION)[-1])
    assert message.startswith(app.escape_text(expected.text))  # the decline, plainly
    assert "do not support" in message.lower()
    assert app.SOURCES_HEADING not in message
    heading = message.index(app.NEAREST_HEADING)
    for passage in expected.nearest:
        assert message.index(app.render_passage(passage)) > heading


def test_a_follow_up_shows_what_was_actually_searched(respond: Any) -> None:
    history = [("What did the Senior Experts Group discuss?", "They discussed international norms.")]
    final_chat, new_history, _, _ = run(respond, "When did they first meet?", history)[-1]
    assert "Searched for: When did the Senior Experts Group first meet&#63;" in final_chat[-1]["content"]
    assert len(new_history) == 2


def test_an_unrewritten_question_does_not_show_searched_for(respond: Any) -> None:
    assert "Searched for" not in last_message(run(respond, BEIJING)[-1])


def test_an_empty_question_becomes_a_visible_one_line_message(respond: Any) -> None:
    previous = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "answer"}]
    updates = list(respond("   ", previous, []))  # no exception escapes the handler
    chat, history, status, box = updates[-1]
    assert chat == previous  # the pending question is taken back out
    assert history == []
    assert "question is empty" in status and "\n" not in status
    assert "Traceback" not in status
    assert box == "   "  # left in the box, to be fixed


def test_a_too_long_question_becomes_a_visible_message(corpus: Path, assistant: Assistant) -> None:
    strict = Assistant(settings=assistant.settings, max_question_chars=10)
    updates = list(app.make_respond(lambda: strict)("a question far longer than ten characters", [], []))
    assert "limit" in updates[-1][2]


def test_an_unexpected_failure_is_logged_and_shown_as_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(ScriptedAssistant):
        def stream(self, *args: Any, **kwargs: Any) -> Iterator[Answer]:
            raise RuntimeError("disk on fire")
            yield  # pragma: no cover

    broken = Broken([], corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    updates = list(app.make_respond(lambda: broken)("anything?", [], []))
    status = updates[-1][2]
    assert "something went wrong" in status and "disk on fire" not in status
    assert "disk on fire" in caplog.text  # the details go to the server log


def test_partial_answers_stream_and_grow(tmp_path: Path) -> None:
    citations = [Citation(1, "a.txt", 0, 11, "First part."), Citation(2, "a.txt", 12, 24, "Second part.")]
    scripted = ScriptedAssistant(
        [
            Answer("First part. [1]", True, citations[:1], query="q?", final=False),
            Answer("First part. [1] Second part. [2]", True, citations, query="q?"),
        ],
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
    )
    updates = list(app.make_respond(lambda: scripted)("q?", [], []))
    answers = [last_message(u) for u in updates[1:]]
    assert len(answers) == 2
    assert "Second part" not in answers[0] and "Second part" in answers[1]
    assert len(answers[0]) < len(answers[1])
    assert updates[0][1] == [] and updates[1][1] == []  # history grows only with the final answer
    assert updates[-1][1] == [("q?", "First part. [1] Second part. [2]")]


# ---- escaping document text -----------------------------------------------------------------------


def test_a_citation_with_markup_is_rendered_as_escaped_text() -> None:
    text = f"Quote {HOSTILE} *bold* [x](javascript:1)"
    rendered = app.render_citation(Citation(3, "evil<img src=x onerror=alert(1)>.txt", 5, 30, text))
    assert "<" not in rendered and ">" not in rendered.replace("\n> ", "")
    assert "&#60;script&#62;alert&#40;1&#41;&#60;&#47;script&#62;" in rendered
    assert "javascript:" not in rendered  # no Markdown link can form
    assert rendered.startswith("**&#91;3&#93; evil&#60;img")
    assert "chars 5&#45;30" in rendered


def test_a_citation_shows_its_page_when_it_has_one() -> None:
    rendered = app.render_citation(Citation(1, "report.pdf", 10, 20, "text", page=4))
    assert "&#40;page 4&#41;" in rendered


def test_a_nearest_passage_with_markup_is_rendered_as_escaped_text() -> None:
    rendered = app.render_passage(Passage("notes.txt", 0, 40, f"Before {HOSTILE} after", 0.5))
    assert "<script>" not in rendered and "&#60;script&#62;" in rendered


def test_a_hostile_document_is_escaped_end_to_end(respond: Any) -> None:
    final_chat, _, _, _ = run(respond, "What did the inspector write in the margin of the report?")[-1]
    message = final_chat[-1]["content"]
    assert "harbour&#45;notes&#46;txt" in message  # the hostile document was really cited
    assert "<script" not in message and "<img" not in message
    assert "&#60;script&#62;" in message and "&#60;img src&#61;x onerror&#61;" in message


# ---- launch safety ---------------------------------------------------------------------------------


def test_launch_refuses_a_non_loopback_host_without_ui_auth(assistant: Assistant) -> None:
    exposed = Assistant(settings=assistant.settings, ui_auth=None, host="0.0.0.0")
    with pytest.raises(QAError, match="QA_UI_AUTH=user:password"):
        app.launch(exposed, host="0.0.0.0", port=free_port())


def test_launch_refuses_a_malformed_ui_auth(assistant: Assistant) -> None:
    broken = Assistant(settings=assistant.settings, ui_auth="just-a-user")
    with pytest.raises(QAError, match="user:password"):
        app.launch(broken, host="0.0.0.0", port=free_port())


def test_launch_turns_a_busy_port_into_a_qa_error(assistant: Assistant) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(QAError, match="--port"):
            app.launch(assistant, host="127.0.0.1", port=busy.getsockname()[1], prevent_thread_lock=True)


def test_launch_options_pass_the_login_and_keep_the_page_offline(assistant: Assistant) -> None:
    settings = assistant.settings.model_copy(update={"ui_auth": "ana:s3cret:with-colon"})
    options = app.launch_options(settings, "0.0.0.0", 7860)
    assert options["auth"] == ("ana", "s3cret:with-colon")
    assert app.launch_options(assistant.settings, "127.0.0.1", 7860)["auth"] is None
    assert app.launch_options(assistant.settings, "::1", 7860)["auth"] is None
    assert app.launch_options(assistant.settings, "localhost", 7860)["auth"] is None
    assert options["theme"] is app.THEME and options["css"]  # Gradio 6: theme/css go to launch()


# ---- a real server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Assets(HTMLParser):
    """Collects the URLs a page makes the browser load: <link href> and <script src>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"link": "href", "script": "src"}.get(tag)
        self.urls.extend(value for name, value in attrs if name == wanted and value)


def _is_local(url: str, base: str) -> bool:
    host = urlparse(urljoin(base, url)).hostname
    return host in {"127.0.0.1", "localhost"}


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode("utf-8")


@pytest.fixture(scope="module")
def server(assistant: Assistant) -> Iterator[str]:
    port = free_port()
    demo = app.launch(assistant, host="127.0.0.1", port=port, prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_the_served_page_loads_and_asks_for_nothing_outside_the_server(server: str) -> None:
    status, page = get(server)
    assert status == 200
    assert "fonts.googleapis.com" not in page
    parser = _Assets()
    parser.feed(page)
    assert parser.urls, "expected the page to load its scripts and styles"
    outside = [url for url in parser.urls if not _is_local(url, server)]
    assert not outside, outside

    _, config_text = get(urljoin(server, "config"))
    config = json.loads(config_text)
    assert "fonts.googleapis.com" not in config_text
    assert all(_is_local(sheet, server) for sheet in config["stylesheets"]), config["stylesheets"]
    assert all(question in config_text for question in app.EXAMPLES)  # examples shown on first load

    _, theme_css = get(urljoin(server, "theme.css"))
    assert "fonts.googleapis.com" not in theme_css and "url(http" not in theme_css


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # Gradio's queue stats vs pandas 3
def test_the_served_chat_answers_through_its_api(server: str) -> None:
    from gradio_client import Client

    client = Client(server, verbose=False)
    chat, status, box = client.predict("What did the Senior Experts Group discuss?", [], api_name="/ask")
    text = json.dumps(chat)
    assert "international norms" in text and "Sources" in text
    assert status == "" and box == ""
    _, status, _ = client.predict("", [], api_name="/ask")
    assert "question is empty" in status


def test_the_documents_panel_lists_indexed_sources_escaped(assistant: Assistant) -> None:
    listing = app._documents_markdown(lambda: assistant)
    assert "- china&#45;us&#45;relations&#45;in&#45;cyberspace&#46;txt (" in listing
    assert "- harbour&#45;notes&#46;txt (" in listing


def test_clicking_an_example_asks_its_text() -> None:
    from gradio.utils import get_type_hints

    # Gradio injects the select event only when it can resolve the annotation to gr.SelectData.
    assert get_type_hints(app._example_text)["evt"] is gr.SelectData
    event = gr.SelectData(None, {"index": 0, "value": {"text": app.EXAMPLES[0]}})
    assert app._example_text(event) == app.EXAMPLES[0]
