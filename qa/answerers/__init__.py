"""Who writes an answer once the evidence is chosen: the registry that settings, the CLI, the web chat
and `QA_ANSWERER=auto` all read.

Adding an answerer is one module with an `Answerer` subclass and one line in `ANSWERERS`. Importing
this package is cheap (no model, no LangChain): the CLI reads the names to offer them as choices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import AnswererUnavailableError, QAError
from .base import Answerer, ModelAnswerer
from .extractive import Extractive, decline, quote
from .local import LocalModel
from .openai import OpenAIServer

if TYPE_CHECKING:
    from ..settings import Settings

ANSWERERS: dict[str, type[Answerer]] = {
    Extractive.name: Extractive,
    LocalModel.name: LocalModel,
    OpenAIServer.name: OpenAIServer,
}
AUTO = "auto"
QUOTING = Extractive.name  # needs nothing installed: what `qa eval` measures unless told otherwise

__all__ = [
    "ANSWERERS",
    "AUTO",
    "QUOTING",
    "Answerer",
    "ModelAnswerer",
    "choices",
    "decline",
    "describe",
    "quote",
    "resolve",
]


def choices(auto: bool = True) -> list[str]:
    """The names a user may give, `auto` first when it is allowed."""
    return [AUTO, *ANSWERERS] if auto else list(ANSWERERS)


def resolve(name: str, settings: Settings) -> type[Answerer]:
    """The answerer `name` stands for, checked to be usable here; `auto` is the most preferred one
    that is available (a language model when one is installed, else quoting)."""
    if name == AUTO:
        ranked = sorted((a.auto_rank, a.name) for a in ANSWERERS.values() if a.auto_rank is not None)
        return next(ANSWERERS[name] for _, name in ranked if ANSWERERS[name].unavailable(settings) is None)
    chosen = ANSWERERS.get(name)
    if chosen is None:
        raise QAError(f"no answerer named {name!r}; choose one of {', '.join(choices())}")
    problem = chosen.unavailable(settings)
    if problem:
        raise AnswererUnavailableError(problem)
    return chosen


def describe(name: str) -> str:
    """One line for people on who wrote an answer and how it was checked."""
    known = ANSWERERS.get(name)
    return known.describes if known else f"Written by the {name} answerer."
