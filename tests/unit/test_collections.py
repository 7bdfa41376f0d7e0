"""Collections without a model: names, folders, create and delete, and the shared provider."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.collections import Collections, collection_names, create_collection, delete_collection
from qa.errors import CollectionError
from qa.index import writer_lock
from qa.settings import Settings
from qa.store import ServerStore


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        collections_dir=tmp_path / "collections",
        answerer="extractive",
    )


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "", " ", "Legal", "x" * 41, ".hidden", "-lead", "a.b", "a\nb", "/abs"]
)
def test_a_name_that_could_escape_the_folder_or_is_not_plain_is_refused_in_one_line(settings, name):
    with pytest.raises(CollectionError, match="cannot name a collection: use 1-40 lower-case") as caught:
        create_collection(settings, name)
    assert "\n" not in str(caught.value)
    with pytest.raises(CollectionError):
        Assistant(settings=settings, collection=name)
    assert not settings.collections_dir.exists()  # nothing was made, anywhere


def test_the_default_collection_is_the_corpus_and_index_folders_as_before(settings):
    assistant = Assistant(settings=settings)
    assert assistant.collection == "default"
    assert (assistant.corpus_dir, assistant.index_dir) == (settings.corpus_dir, settings.index_dir)
    assert collection_names(settings) == ["default"]


def test_a_created_collection_has_its_own_corpus_and_index_folders(settings):
    home = create_collection(settings, "legal-2024")
    assistant = Assistant(settings=settings, collection="legal-2024")
    assert (assistant.corpus_dir, assistant.index_dir) == (home / "corpus", home / "index")
    assert assistant.corpus_dir.is_dir() and assistant.settings.corpus_dir == home / "corpus"
    assert assistant.status().index_dir == str(home / "index")
    assert collection_names(settings) == ["default", "legal-2024"]


def test_asking_for_a_collection_that_does_not_exist_says_how_to_create_it(settings):
    with pytest.raises(CollectionError, match=r"no collection named 'legal'.*qa collections create legal"):
        Assistant(settings=settings, collection="legal")


def test_a_named_collection_with_explicit_folders_is_refused_as_ambiguous(settings, tmp_path):
    create_collection(settings, "legal")
    with pytest.raises(CollectionError, match="not both"):
        Assistant(settings=settings, collection="legal", corpus_dir=tmp_path / "elsewhere")


def test_the_collection_setting_comes_from_qa_collection(settings, monkeypatch):
    create_collection(settings, "legal")
    monkeypatch.setenv("QA_COLLECTION", "legal")
    monkeypatch.setenv("QA_COLLECTIONS_DIR", str(settings.collections_dir))
    assert Assistant(settings=Settings()).collection == "legal"


def test_creating_a_collection_twice_or_one_named_default_is_refused(settings):
    create_collection(settings, "legal")
    with pytest.raises(CollectionError, match="already exists"):
        create_collection(settings, "legal")
    with pytest.raises(CollectionError, match="choose another name"):
        create_collection(settings, "default")


def test_deleting_a_collection_removes_its_documents_and_index(settings):
    home = create_collection(settings, "legal")
    (home / "corpus" / "brief.txt").write_text("A brief.", encoding="utf-8")
    delete_collection(settings, "legal")
    assert not home.exists()
    assert list(settings.collections_dir.iterdir()) == []  # no leftover renamed folder either
    assert collection_names(settings) == ["default"]


def test_deleting_the_default_collection_is_refused(settings):
    settings.corpus_dir.mkdir()
    (settings.corpus_dir / "keep.txt").write_text("Keep me.", encoding="utf-8")
    with pytest.raises(CollectionError, match="cannot be deleted"):
        delete_collection(settings, "default")
    assert (settings.corpus_dir / "keep.txt").exists()


def test_deleting_a_collection_that_does_not_exist_is_refused(settings):
    with pytest.raises(CollectionError, match="no collection named 'ghost'"):
        delete_collection(settings, "ghost")


def test_deleting_a_collection_while_its_index_is_written_is_refused_and_deletes_nothing(settings):
    home = create_collection(settings, "legal")
    (home / "corpus" / "brief.txt").write_text("A brief.", encoding="utf-8")
    with writer_lock(home / "index", timeout=0), pytest.raises(CollectionError, match="is being written"):
        delete_collection(settings, "legal")  # the lock an index build holds (IndexStore.lock)
    assert (home / "corpus" / "brief.txt").read_text(encoding="utf-8") == "A brief."
    delete_collection(settings, "legal")  # once the writer is done, it goes
    assert not home.exists()


def test_deleting_is_refused_while_another_process_writes_the_index(settings):
    home = create_collection(settings, "legal")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\nfrom qa.index import writer_lock\n"
            f"with writer_lock(Path({str(home / 'index')!r}), timeout=5):\n"
            "    print('locked', flush=True)\n    sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(CollectionError, match="is being written"):
            delete_collection(settings, "legal")
        assert home.is_dir()
    finally:
        holder.communicate("done\n", timeout=30)


def test_the_provider_hands_out_one_assistant_per_collection_across_threads(settings):
    create_collection(settings, "legal")
    collections = Collections(settings)
    got: list[Assistant] = []
    threads = [threading.Thread(target=lambda: got.append(collections.get("legal"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8 and all(a is got[0] for a in got)
    assert got[0].collection == "legal"
    assert collections.get(None) is collections.get("default") is not got[0]


def test_every_collection_shares_one_embedding_model_and_answerer(settings):
    create_collection(settings, "legal")
    collections = Collections(settings)
    default, legal = collections.get(), collections.get("legal")
    assert legal.embeddings is default.embeddings and legal.writer is default.writer
    assert legal.store is not default.store and legal.index_dir != default.index_dir


def test_the_provider_serves_the_collection_the_settings_select_by_default(settings):
    create_collection(settings, "legal")
    collections = Collections(settings.model_copy(update={"collection": "legal"}))
    assert collections.default == "legal" and collections.get().collection == "legal"


def test_the_provider_sees_a_collection_another_process_created_and_one_it_deleted(settings):
    collections = Collections(settings)
    assert collections.names() == ["default"]
    env = {**os.environ, "QA_COLLECTIONS_DIR": str(settings.collections_dir)}
    subprocess.run(
        [sys.executable, "-m", "qa.cli", "collections", "create", "legal"],
        env=env,
        check=True,
        capture_output=True,
    )
    assert collections.names() == ["default", "legal"]
    assert collections.get("legal").collection == "legal"
    subprocess.run(
        [sys.executable, "-m", "qa.cli", "collections", "delete", "legal", "--yes"],
        env=env,
        check=True,
        capture_output=True,
    )
    with pytest.raises(CollectionError, match="no collection named 'legal'"):
        collections.get("legal")
    assert collections.names() == ["default"]


def test_a_provider_around_an_existing_assistant_serves_it_for_its_collection(settings):
    assistant = Assistant(settings=settings)
    collections = Collections(assistant=assistant)
    assert collections.get() is assistant and collections.get("default") is assistant


def test_on_a_chroma_server_each_collection_has_its_own_names_and_the_default_keeps_the_old_ones():
    default, legal = ServerStore("http://127.0.0.1:8000"), ServerStore("http://127.0.0.1:8000", "legal")
    generation = "gen-20260101T000000-abcdef"
    assert default.name(generation, "chunks") == f"qa-chunks-{generation}"
    assert legal.name(generation, "chunks") == f"qa.legal-chunks-{generation}"
    assert legal.name(generation, "manifest") == f"qa.legal-manifest-{generation}"
