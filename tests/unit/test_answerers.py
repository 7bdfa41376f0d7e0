"""The answerer registry: every name users see comes from it, and a new answerer plugs in with one line."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import CORPUS_DIR, STRICT_MODEL, MiniLMStandIn

from qa import Assistant, answerers
from qa.answerers import ANSWERERS, Answerer, choices, describe, resolve
from qa.cli import main
from qa.errors import AnswererUnavailableError
from qa.models import Answer
from qa.settings import Settings


class Shouting(Answerer):
    """A made-up answerer that upper-cases the quotation, to show what plugging one in takes."""

    name = "shouting"
    describes = "Quoted, loudly."

    def write(self, query, decision, quoted, embeddings) -> Iterator[Answer]:  # type: ignore[no-untyped-def]
        yield Answer(quoted.text.upper(), True, quoted.citations, query=query, mode=self.name, support=0.9)


class Broken(Answerer):
    name = "broken"
    describes = "Never runs."
    auto_rank = -1  # preferred by auto, but unavailable: auto must pass over it

    @classmethod
    def unavailable(cls, settings: Settings) -> str | None:
        return "the broken answerer needs a part we do not have; install it"

    def write(self, query, decision, quoted, embeddings) -> Iterator[Answer]:  # type: ignore[no-untyped-def]
        raise AssertionError("an unavailable answerer must never be asked to write")


@pytest.fixture
def registered(monkeypatch) -> None:
    monkeypatch.setitem(ANSWERERS, Shouting.name, Shouting)
    monkeypatch.setitem(ANSWERERS, Broken.name, Broken)


def test_the_registry_names_every_answerer_once_with_auto_first():
    assert choices() == ["auto", *ANSWERERS]
    assert choices(auto=False) == list(ANSWERERS)
    assert all(name == cls.name and cls.describes for name, cls in ANSWERERS.items())


def test_auto_never_picks_an_unavailable_answerer(registered):
    chosen = resolve("auto", Settings())
    assert chosen is not Broken and chosen.auto_rank is not None


def test_choosing_an_unavailable_answerer_says_why_and_what_to_do(registered):
    with pytest.raises(AnswererUnavailableError, match="install it"):
        resolve("broken", Settings())


def test_a_registered_answerer_is_chosen_by_name_used_by_the_assistant_and_described(
    registered, tmp_path: Path, monkeypatch
):
    shutil.copytree(CORPUS_DIR, tmp_path / "corpus")
    monkeypatch.setattr("qa.assistant.packaged_minilm", lambda backend="auto": MiniLMStandIn(backend=backend))
    assistant = Assistant(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", answerer="shouting")
    assistant.selector.model = STRICT_MODEL  # the fitted model's features assume the real MiniLM
    answer = assistant.ask("Where was the second round of the cybercrime dialogue held?")
    assert answer.mode == "shouting" and answer.answerable
    assert answer.text == answer.text.upper() and answer.citations
    assert describe(answer.mode) == "Quoted, loudly."
    assert "shouting" in choices()


def test_the_cli_lists_the_registered_answerers_in_its_help():
    out = CliRunner().invoke(main, ["--help"]).output
    for name in choices():
        assert name in out
    assert answerers.QUOTING in CliRunner().invoke(main, ["eval", "--help"]).output
