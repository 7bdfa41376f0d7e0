"""The web chat over a real Assistant: the streaming handler, escaping, launch safety, a real server.

The Assistant is built once per module over a temporary copy of the corpus (plus one hostile
document), because loading the embedding model takes seconds. No browser here: that is a later tier.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import gradio as gr
import pytest
from click.testing import CliRunner
from helpers import (
    QUOKKAS,
    WOMBATS,
    free_port,
    make_epub,
    make_pdf,
    make_pptx,
    make_xlsx,
    stored_chunk_count,
)

import qa.ui
import qa.ui.app as app
from qa import Assistant
from qa.cli import main
from qa.errors import QAError
from qa.models import Answer, Citation
from qa.ui import render
from qa.ui.render import Turn

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


SKIP = gr.skip()


def run(
    respond: Any, question: str, turns: list[Turn] | None = None, within: list[str] | None = None
) -> list[Any]:
    return list(respond(question, turns or [], within or []))


def last_message(update: tuple[Any, ...]) -> str:
    chat = update[0]
    return str(chat[-1]["content"])


def turn_for(assistant: Assistant, question: str) -> Turn:
    return Turn(question, assistant.ask(question))


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


def test_importing_the_app_builds_no_page_and_building_one_loads_no_model() -> None:
    code = (
        "import sys, gradio\n"
        "pages = []\n"
        "init = gradio.Blocks.__init__\n"
        "def counted(self, *args, **kwargs):\n"
        "    pages.append(self)\n"
        "    init(self, *args, **kwargs)\n"
        "gradio.Blocks.__init__ = counted\n"
        "import qa.ui.app\n"
        "assert not pages, 'importing qa.ui.app built a page'\n"
        "assert isinstance(qa.ui.app.build_demo(), gradio.Blocks) and len(pages) == 1\n"
        "heavy = ('qa.assistant', 'sentence_transformers', 'torch', 'chromadb')\n"
        "loaded = [name for name in heavy if name in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_serve_builds_exactly_one_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    pages: list[gr.Blocks] = []
    launched: list[gr.Blocks] = []
    init = gr.Blocks.__init__

    def counted(self: gr.Blocks, *args: Any, **kwargs: Any) -> None:
        pages.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(gr.Blocks, "__init__", counted)
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **options: launched.append(self))
    monkeypatch.delitem(sys.modules, "qa.ui.app")  # so serve imports it afresh, as in a new process
    monkeypatch.delattr(qa.ui, "app")
    places = ["--corpus", str(corpus), "--index", str(tmp_path / "index")]
    result = CliRunner().invoke(main, [*places, "serve", "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    assert len(pages) == 1 and launched == pages


def test_building_the_demo_raises_no_deprecation_warnings(assistant: Assistant) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        demo = app.build_demo(assistant)
    noisy = [w for w in caught if not issubclass(w.category, ResourceWarning)]
    assert not noisy, [str(w.message) for w in noisy]
    assert isinstance(demo, gr.Blocks)


# ---- the streaming handler ----------------------------------------------------------------------


def test_the_answer_shows_the_question_at_once_then_the_answer_and_its_evidence(
    respond: Any, assistant: Assistant
) -> None:
    updates = run(respond, BEIJING)
    assert len(updates) >= 2
    first_chat, turns, status, box, evidence, *_ = updates[0]
    assert first_chat[0]["role"] == "user" and "cybercrime dialogue" in first_chat[0]["content"]
    assert first_chat[-1]["content"] == render.SEARCHING
    assert box == "" and turns == SKIP and evidence == SKIP  # the box is cleared once, at the start

    final_chat, turns, status, box, evidence, md, js = updates[-1]
    expected = assistant.ask(BEIJING)
    assert expected.citations
    assert [m["role"] for m in final_chat] == ["user", "assistant"]
    assert last_message(updates[-1]) == render.chat_markdown(expected, BEIJING, 1)
    assert [(t.question, t.answer.text) for t in turns] == [(BEIJING, expected.text)]
    assert [e.text for e in turns[0].excerpts] == [c.text for c in expected.citations]
    assert box == SKIP and status == ""  # a question typed meanwhile is not wiped
    highlighted = re.sub(r'<strong class="qa-short">(.*?)</strong>', r"\1", evidence)  # the fact in bold
    assert (
        'id="qa-ev-1-1"' in evidence and f"<mark>{escape(expected.citations[0].text)}</mark>" in highlighted
    )
    assert md.interactive and Path(md.value["path"]).read_text(encoding="utf-8").count("## 1.") == 1
    assert md.value["orig_name"] == "conversation.md" and js.value["orig_name"] == "conversation.json"
    assert (
        json.loads(Path(js.value["path"]).read_text(encoding="utf-8"))["turns"][0]["answer"] == expected.text
    )


def test_a_question_the_documents_cannot_answer_is_declined_with_unsupporting_passages(
    respond: Any, assistant: Assistant
) -> None:
    expected = assistant.ask(POPULATION)
    assert not expected.answerable and expected.nearest
    final = run(respond, POPULATION)[-1]
    assert last_message(final).startswith(render.escape_text(expected.text))  # the decline, plainly
    evidence = final[4]
    label = evidence.index("these do NOT support an answer")
    for passage in expected.nearest:
        assert evidence.index(escape(passage.source), label) > label
    assert "<mark>" not in evidence


def test_a_follow_up_is_rewritten_with_the_conversation_and_shows_what_was_searched(
    respond: Any, assistant: Assistant
) -> None:
    earlier = [turn_for(assistant, "What did the Senior Experts Group discuss?")]
    final_chat, turns, *_ = run(respond, "When did they first meet?", earlier)[-1]
    assert "Searched for: When did the Senior Experts Group first meet&#63;" in final_chat[-1]["content"]
    assert len(turns) == 2 and len(final_chat) == 4
    assert turns[1].answer.answerable and "May" in turns[1].answer.text


def test_asking_within_a_document_cites_only_that_document(respond: Any) -> None:
    question = "What did the inspector write in the margin of the report?"
    turns = run(respond, question, within=["harbour-notes.txt"])[-1][1]
    assert {c.source for c in turns[0].answer.citations} == {"harbour-notes.txt"}
    other = run(respond, question, within=["china-us-relations-in-cyberspace.txt"])[-1][1]
    assert all(c.source != "harbour-notes.txt" for c in other[0].answer.citations)


def test_an_empty_question_becomes_a_visible_one_line_message(respond: Any, assistant: Assistant) -> None:
    earlier = [turn_for(assistant, BEIJING)]
    updates = run(respond, "   ", earlier)  # no exception escapes the handler
    chat, turns, status, box, *_ = updates[-1]
    assert chat == app.messages(earlier)  # the pending question is taken back out
    assert turns == SKIP
    assert "question is empty" in status and "\n" not in status
    assert "Traceback" not in status
    assert box == "   "  # left in the box, to be fixed


def test_a_too_long_question_becomes_a_visible_message(assistant: Assistant) -> None:
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
    assert "Copy answer" not in answers[0] and "Copy answer" in answers[1]
    assert updates[1][1] == SKIP  # the conversation grows only with the final answer
    assert [t.answer.text for t in updates[-1][1]] == ["First part. [1] Second part. [2]"]


def test_a_hostile_document_is_escaped_end_to_end(respond: Any) -> None:
    final = run(respond, "What did the inspector write in the margin of the report?")[-1]
    message, evidence = last_message(final), final[4]
    assert "harbour&#45;notes&#46;txt" in message  # the hostile document was really cited
    assert "<script" not in message and "<img" not in message
    assert "&#60;script&#62;" in message
    assert "<script" not in evidence and "<img" not in evidence
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evidence


def test_new_conversation_empties_chat_evidence_and_exports() -> None:
    chat, turns, status, evidence, md, js = app._new_conversation()
    assert chat == [] and turns == [] and status == ""
    assert "appear here" in evidence
    assert md.interactive is False and md.value is None and js.value is None


# ---- documents: upload, list, remove -----------------------------------------------------------


@pytest.fixture
def own_assistant(assistant: Assistant, tmp_path: Path) -> Assistant:
    """An assistant over its own copy of the corpus and index, free to change."""
    shutil.copytree(assistant.corpus_dir, tmp_path / "corpus")
    shutil.copytree(assistant.index_dir, tmp_path / "index")
    return Assistant(
        settings=assistant.settings, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index"
    )


def test_an_upload_is_indexed_listed_and_answerable_then_removable(
    own_assistant: Assistant, tmp_path: Path
) -> None:
    upload = tmp_path / "uploads" / "quokkas.txt"
    upload.parent.mkdir()
    upload.write_text(QUOKKAS, encoding="utf-8")
    steps: list[tuple[Any, str | None]] = []

    def progress(value: Any, desc: str | None = None, unit: str = "") -> None:
        steps.append((value, desc))

    status, documents, within, to_remove = app.make_upload(lambda: own_assistant)([str(upload)], [], progress)
    chunks = {d.source: d.chunks for d in own_assistant.documents()}["quokkas.txt"]
    assert f"Added quokkas.txt ({chunks} chunk" in status
    assert "<td>quokkas.txt</td>" in documents
    assert "quokkas.txt" in [c[0] for c in within.choices] and "quokkas.txt" in [
        c[0] for c in to_remove.choices
    ]
    assert ((chunks, chunks), "Embedding chunks") in steps  # progress reached the end of embedding

    answer = own_assistant.ask("What do quokkas eat?")
    assert answer.answerable and {c.source for c in answer.citations} == {"quokkas.txt"}

    status, documents, within, _ = app.make_remove(lambda: own_assistant)("quokkas.txt", ["quokkas.txt"])
    assert status == "<p>Removed quokkas.txt.</p>"
    assert "quokkas.txt" not in documents and within.value == []  # the filter forgets it too
    assert not (own_assistant.corpus_dir / "quokkas.txt").exists()


def test_an_unusable_upload_is_reported_in_the_page_and_never_reaches_the_corpus(
    own_assistant: Assistant, tmp_path: Path
) -> None:
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4 nothing readable")
    before = own_assistant.documents()
    status, *_ = app.make_upload(lambda: own_assistant)([str(bad)], [], lambda *a, **k: None)
    assert 'class="qa-problem"' in status and "Not added: scan.pdf: is not a readable PDF" in status
    assert not (own_assistant.corpus_dir / "scan.pdf").exists()
    assert own_assistant.documents() == before


def test_removing_the_last_document_is_refused_with_a_message(own_assistant: Assistant) -> None:
    remove = app.make_remove(lambda: own_assistant)
    assert "choose a document" in remove(None, [])[0]
    remove("harbour-notes.txt", [])
    status, documents, *_ = remove("china-us-relations-in-cyberspace.txt", [])
    assert "would leave nothing to answer from" in status
    assert "china-us-relations-in-cyberspace.txt" in documents


def test_uploads_from_two_sessions_at_once_both_land_and_the_index_stays_whole(
    own_assistant: Assistant, tmp_path: Path
) -> None:
    upload = app.make_upload(lambda: own_assistant)
    files = []
    for name, text in [("quokkas.txt", QUOKKAS), ("wombats.md", WOMBATS)]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        files.append(str(tmp_path / name))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda f: upload([f], [], lambda *a, **k: None), files))
    assert all("qa-problem" not in status for status, *_ in results)
    listed = {d.source: d.chunks for d in own_assistant.documents()}
    assert {"quokkas.txt", "wombats.md"} <= set(listed)
    assert stored_chunk_count(own_assistant) == sum(listed.values())  # no strays, nothing missing
    assert own_assistant.ask("What shape are wombat droppings?").citations[0].source == "wombats.md"


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


def test_launch_allows_a_non_loopback_host_without_login_only_when_told_to(assistant: Assistant) -> None:
    opted_out = assistant.settings.model_copy(update={"ui_auth": None, "ui_insecure_no_login": True})
    assert app.launch_options(opted_out, "0.0.0.0", 7860)["auth"] is None


def test_launch_options_pass_the_login_and_keep_the_page_offline(assistant: Assistant) -> None:
    settings = assistant.settings.model_copy(update={"ui_auth": "ana:s3cret:with-colon"})
    options = app.launch_options(settings, "0.0.0.0", 7860)
    assert options["auth"] == ("ana", "s3cret:with-colon")
    assert app.launch_options(assistant.settings, "127.0.0.1", 7860)["auth"] is None
    assert app.launch_options(assistant.settings, "::1", 7860)["auth"] is None
    assert app.launch_options(assistant.settings, "localhost", 7860)["auth"] is None
    assert options["theme"] is app.THEME and options["css"] and options["js"]  # Gradio 6: in launch()
    assert options["max_file_size"] == int(assistant.settings.max_file_mb * 1e6)


# ---- a real server ---------------------------------------------------------------------------------


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
    chat, status, _box, evidence, *_ = client.predict(
        "What did the Senior Experts Group discuss?", [], api_name="/ask"
    )
    assert "international norms" in json.dumps(chat) and "Sources" in json.dumps(chat)
    assert status == "" and "<mark>" in evidence
    _, status, *_ = client.predict("", [], api_name="/ask")
    assert "question is empty" in status


def test_the_documents_panel_lists_indexed_sources_and_fills_the_pickers(assistant: Assistant) -> None:
    documents, within, to_remove = app._document_views(lambda: assistant, ["gone.txt"])
    assert (
        "<td>china-us-relations-in-cyberspace.txt</td>" in documents
        and "<td>harbour-notes.txt</td>" in documents
    )
    assert within.value == []  # a filter on a document that is gone is dropped
    assert [c[0] for c in to_remove.choices] == [
        "china-us-relations-in-cyberspace.txt",
        "harbour-notes.txt",
    ]


def test_clicking_an_example_asks_its_text() -> None:
    from gradio.utils import get_type_hints

    # Gradio injects the select event only when it can resolve the annotation to gr.SelectData.
    assert get_type_hints(app._example_text)["evt"] is gr.SelectData
    event = gr.SelectData(None, {"index": 0, "value": {"text": app.EXAMPLES[0]}})
    assert app._example_text(event) == app.EXAMPLES[0]


def test_a_pdf_upload_cites_its_page_in_the_chat_and_the_evidence(
    own_assistant: Assistant, tmp_path: Path
) -> None:
    pdf = tmp_path / "field-guide.pdf"
    pdf.write_bytes(
        make_pdf(["Field guide to marsupials.", "Quokkas live on Rottnest Island, off Western Australia."])
    )
    status, *_ = app.make_upload(lambda: own_assistant)([str(pdf)], [], lambda *a, **k: None)
    assert "Added field-guide.pdf" in status
    final = list(app.make_respond(lambda: own_assistant)("Where do quokkas live?", [], ["field-guide.pdf"]))[
        -1
    ]
    message, evidence = last_message(final), final[4]
    assert "field&#45;guide&#46;pdf p&#46; 2" in message
    assert "[1]</span> field-guide.pdf, page 2, characters" in evidence
    assert '<mark>Quokkas live on <strong class="qa-short">Rottnest Island' in evidence  # the fact, in bold
    assert "Field guide to marsupials." in evidence  # page 1's text, shown as the context before it


def test_uploaded_slides_workbook_and_e_book_are_answered_citing_slide_sheet_and_chapter(
    own_assistant: Assistant, tmp_path: Path
) -> None:
    uploads = {"deck.pptx": make_pptx(), "book.xlsx": make_xlsx(), "tales.epub": make_epub()}
    for name, data in uploads.items():
        (tmp_path / name).write_bytes(data)
    broken = tmp_path / "broken.pptx"
    broken.write_bytes(b"PK\x03\x04 not a presentation")
    paths = [str(tmp_path / name) for name in [*uploads, "broken.pptx"]]
    status, *_ = app.make_upload(lambda: own_assistant)(paths, [], lambda *a, **k: None)
    assert all(name in status for name in uploads)
    assert "broken.pptx" in status and "not a PowerPoint .pptx file" in status
    respond = app.make_respond(lambda: own_assistant)
    for question, source, where in [
        ("Where is the orchard we should mention?", "deck.pptx", "slide 1"),
        ("What is the role of Ada on the staff?", "book.xlsx", "sheet Staff"),
        ("In which city were the pears sold?", "tales.epub", "chapter 1: The Harvest"),
    ]:
        evidence = list(respond(question, [], [source]))[-1][4]
        assert f"{source}, {where}, characters" in evidence, (question, evidence)


def test_with_a_login_configured_the_page_asks_for_it_first(assistant: Assistant) -> None:
    guarded = Assistant(settings=assistant.settings, ui_auth="ana:s3cret")
    port = free_port()
    demo = app.launch(guarded, host="127.0.0.1", port=port, prevent_thread_lock=True)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(f"http://127.0.0.1:{port}/config")
        assert refused.value.code == 401
        for password, expected in [("wrong", 400), ("s3cret", 200)]:
            form = urllib.parse.urlencode({"username": "ana", "password": password}).encode()
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/login", data=form, timeout=30
                ) as response:
                    code = response.status
            except urllib.error.HTTPError as exc:
                code = exc.code
            assert code == expected, password
    finally:
        demo.close()


def test_an_unexpected_failure_while_indexing_an_upload_is_one_line_and_logged(
    own_assistant: Assistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Assistant):
        def add(self, paths: Any, progress: Any = None) -> Any:
            raise RuntimeError("disk on fire")

    broken = Broken(settings=own_assistant.settings)
    (tmp_path / "notes.txt").write_text(QUOKKAS, encoding="utf-8")
    status, documents, *_ = app.make_upload(lambda: broken)([str(tmp_path / "notes.txt")], [], None)
    assert "indexing the upload failed; the index is as it was before" in status
    assert "disk on fire" not in status and "disk on fire" in caplog.text
    assert "<td>china-us-relations-in-cyberspace.txt</td>" in documents


def test_exports_are_written_to_a_folder_only_this_user_can_read(respond: Any) -> None:
    run(respond, BEIJING)
    folder = app._export_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert any(folder.rglob("conversation.md"))
