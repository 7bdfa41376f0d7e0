"""The web chat's collection picker: each browser session asks, uploads to and lists its own collection,
switching without a restart, over real indexes (the real model) and a served page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from helpers import QUOKKAS, WOMBATS, free_port

import qa.ui.app as app
from qa import Assistant
from qa.collections import create_collection
from qa.settings import Settings

QUOKKA_QUESTION = "Where do quokkas live?"
WOMBAT_QUESTION = "What shape are wombat droppings?"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A default collection about wombats and a collection `islands` about quokkas, both indexed."""
    root = tmp_path_factory.mktemp("picker")
    (root / "corpus").mkdir()
    (root / "corpus" / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    settings = Settings(
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        collections_dir=root / "collections",
        answerer="extractive",
    )
    home = create_collection(settings, "islands")
    (home / "corpus" / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    return settings


@pytest.fixture(scope="module")
def lazy(settings: Settings) -> app.LazyAssistant:
    assistant = Assistant(settings=settings)
    assistant.rebuild()
    pages = app.LazyAssistant(assistant)
    pages("islands").rebuild()
    return pages


def final_answer(updates: list[Any]) -> str:
    return json.dumps(updates[-1][0][-1]["content"])


def test_the_picker_offers_every_collection_with_the_default_chosen(lazy: app.LazyAssistant) -> None:
    picker = app.collection_picker(lazy, None)
    assert picker.visible is True and picker.value == "default"
    assert [choice[0] for choice in picker.choices] == ["default", "islands"]
    assert app.collection_picker(lazy, "islands").value == "islands"  # a session's choice is kept


def test_the_picker_is_hidden_while_there_is_only_one_collection(tmp_path: Path) -> None:
    alone = Assistant(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", collections_dir=tmp_path / "none"
    )
    assert app.collection_picker(app.LazyAssistant(alone), None).visible is False


def test_a_collection_created_while_serving_is_offered_on_the_next_page_load(
    lazy: app.LazyAssistant, settings: Settings
) -> None:
    create_collection(settings, "later")
    try:
        assert "later" in [choice[0] for choice in app.collection_picker(lazy, None).choices]
    finally:
        lazy.collections().delete("later")
    assert "later" not in [choice[0] for choice in app.collection_picker(lazy, None).choices]


def test_each_collection_answers_from_its_own_documents(lazy: app.LazyAssistant) -> None:
    respond = app.make_respond(lazy)
    islands = final_answer(list(respond(QUOKKA_QUESTION, [], [], "islands")))
    assert "Rottnest Island" in islands and "quokkas&#46;txt" in islands
    default = final_answer(list(respond(WOMBAT_QUESTION, [], [], None)))
    assert "cube" in default and "wombats&#46;md" in default
    elsewhere = final_answer(list(respond(QUOKKA_QUESTION, [], [], "default")))
    assert "quokkas&#46;txt" not in elsewhere


def test_switching_starts_a_new_conversation_over_the_chosen_collections_documents(
    lazy: app.LazyAssistant,
) -> None:
    chat, turns, status, _evidence, _md, _js, documents, within, to_remove = app.switch_to(lazy, "islands")
    assert chat == [] and turns == [] and status == ""
    assert "quokkas.txt" in documents and "wombats.md" not in documents
    assert [choice[0] for choice in within.choices] == ["quokkas.txt"]
    assert [choice[0] for choice in to_remove.choices] == ["quokkas.txt"]


def test_an_upload_goes_into_the_sessions_collection_only(
    lazy: app.LazyAssistant, settings: Settings, tmp_path: Path
) -> None:
    upload = tmp_path / "penguins.txt"
    upload.write_text("Little penguins nest on Phillip Island in Victoria.\n", encoding="utf-8")
    try:
        status, documents, *_ = app.make_upload(lazy)([str(upload)], [], lambda *a, **k: None, "islands")
        assert "Added penguins.txt" in status and "penguins.txt" in documents
        assert (settings.collections_dir / "islands" / "corpus" / "penguins.txt").is_file()
        assert not (settings.corpus_dir / "penguins.txt").exists()
    finally:
        app.make_remove(lazy)("penguins.txt", [], "islands")
    assert "penguins.txt" not in app.switch_to(lazy, "islands")[6]


@pytest.fixture(scope="module")
def server(lazy: app.LazyAssistant) -> Iterator[str]:
    port = free_port()
    demo = app.launch(lazy(), host="127.0.0.1", port=port, prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # Gradio's queue stats vs pandas 3
def test_two_sessions_of_the_served_page_ask_their_own_collections_at_once(server: str) -> None:
    from gradio_client import Client

    def ask(question: str, collection: str | None) -> str:
        chat, *_ = Client(server, verbose=False).predict(question, [], collection, api_name="/ask")
        return json.dumps(chat)

    with ThreadPoolExecutor(4) as pool:
        islands = [pool.submit(ask, QUOKKA_QUESTION, "islands") for _ in range(2)]
        default = [pool.submit(ask, WOMBAT_QUESTION, None) for _ in range(2)]
        for future in islands:
            assert "Rottnest Island" in future.result() and "wombats" not in future.result()
        for future in default:
            assert "cube" in future.result() and "quokkas" not in future.result()


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_a_session_naming_a_collection_that_does_not_exist_gets_one_line(server: str) -> None:
    from gradio_client import Client

    _chat, status, box, *_ = Client(server, verbose=False).predict(
        QUOKKA_QUESTION, [], "../etc", api_name="/ask"
    )
    assert "cannot name a collection" in status and "Traceback" not in status
    assert box == QUOKKA_QUESTION  # the question goes back into the box
