"""Collections through the command line, and kept apart on one real Chroma server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import QUOKKAS, WOMBATS
from test_chroma_server import chroma_server  # noqa: F401 - the fixture: a real `chroma run`

from qa import Assistant
from qa.cli import main
from qa.collections import Collections
from qa.settings import Settings, get_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    (tmp_path / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    get_settings.cache_clear()  # the CLI reads QA_* once per process
    yield {
        "QA_CORPUS_DIR": str(tmp_path / "corpus"),
        "QA_INDEX_DIR": str(tmp_path / "index"),
        "QA_COLLECTIONS_DIR": str(tmp_path / "collections"),
        "QA_ANSWERER": "extractive",
    }
    get_settings.cache_clear()


def qa(env: dict[str, str], *args: object, input: str | None = None):
    get_settings.cache_clear()
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def one_error_line(result, fragment: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert result.stdout == ""


def test_a_collection_is_created_filled_asked_listed_and_deleted_from_the_command_line(env, tmp_path):
    assert qa(env, "collections", "create", "islands").exit_code == 0
    one_error_line(qa(env, "collections", "create", "islands"), "already exists")

    added = qa(env, "--collection", "islands", "index", "add", tmp_path / "quokkas.txt")
    assert added.exit_code == 0, added.output
    assert (tmp_path / "collections" / "islands" / "corpus" / "quokkas.txt").is_file()
    assert not (tmp_path / "corpus" / "quokkas.txt").exists()

    asked = qa(env, "ask", "--collection", "islands", "--json", "Where do quokkas live?")  # after the command
    answer = json.loads(asked.stdout)
    assert answer["answerable"] and {c["source"] for c in answer["citations"]} == {"quokkas.txt"}
    default = json.loads(qa(env, "ask", "--json", "Where do quokkas live?").stdout)
    assert all(c["source"] == "wombats.md" for c in default["citations"] + default["nearest"])

    listed = json.loads(qa(env, "collections", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["default", "islands"]
    assert listed[0]["corpus_dir"] == env["QA_CORPUS_DIR"]
    assert listed[1]["index_dir"] == str(tmp_path / "collections" / "islands" / "index")

    status = json.loads(qa(env, "--collection", "islands", "index", "status", "--json").stdout)
    assert [s["source"] for s in status["sources"]] == ["quokkas.txt"]

    one_error_line(qa(env, "collections", "delete", "default", "--yes"), "cannot be deleted")
    refused = qa(env, "collections", "delete", "islands", input="n\n")  # asked first; "no" keeps it
    assert refused.exit_code == 1 and (tmp_path / "collections" / "islands").is_dir()
    assert qa(env, "collections", "delete", "islands", "--yes").exit_code == 0
    assert not (tmp_path / "collections" / "islands").exists()
    one_error_line(qa(env, "--collection", "islands", "ask", "Where?"), "qa collections create islands")


@pytest.mark.parametrize("name", ["../corpus", "Islands", "a/b", ".hidden"])
def test_a_bad_collection_name_exits_1_with_one_line_and_touches_nothing(env, tmp_path, name):
    one_error_line(qa(env, "--collection", name, "ask", "Where?"), "cannot name a collection")
    one_error_line(qa(env, "collections", "create", name), "cannot name a collection")
    one_error_line(qa(env, "collections", "delete", name, "--yes"), "cannot name a collection")
    assert not (tmp_path / "collections").exists() and not (tmp_path / "index").exists()


def test_a_collection_and_explicit_folders_together_are_refused(env, tmp_path):
    qa(env, "collections", "create", "islands")
    one_error_line(
        qa(env, "--collection", "islands", "index", "build", "--corpus", tmp_path / "corpus"), "not both"
    )


def test_on_one_chroma_server_two_collections_stay_apart_and_deleting_one_leaves_the_other(
    chroma_server,  # noqa: F811
    tmp_path,
):
    import chromadb

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    settings = Settings(
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        collections_dir=tmp_path / "collections",
        chroma_url=chroma_server,
        answerer="extractive",
    )
    collections = Collections(assistant=Assistant(settings=settings))
    islands = collections.create("islands")
    (islands.corpus_dir / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    collections.get().rebuild()
    islands.rebuild()
    islands.rebuild(full=True)  # a second generation: the first is pruned only within its own names

    assert [p.source for p in collections.get().search("marsupial island", k=3)] == ["wombats.md"]
    assert [p.source for p in islands.search("marsupial island", k=3)] == ["quokkas.txt"]
    server = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_server.rsplit(":", 1)[1]))
    names = {c.name for c in server.list_collections()}
    assert any(n.startswith("qa.islands-chunks-gen-") for n in names)
    assert any(n.startswith("qa-chunks-gen-") for n in names)

    collections.delete("islands")
    left = {c.name for c in server.list_collections()}
    assert not any(n.startswith("qa.islands") for n in left)
    assert {n for n in names if n.startswith("qa-")} == left  # the default collection's names untouched
    assert collections.get().ask("What shape are wombat droppings?").answerable
