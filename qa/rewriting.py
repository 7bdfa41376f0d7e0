"""Follow-up questions -> standalone questions, so retrieval sees what the user means.

"When did they first meet?" after "What did the Senior Experts Group discuss?" becomes
"When did the Senior Experts Group first meet?". With a language model, its rewrite is tried first
and kept only when it looks sane; otherwise (and with no model) a rule replaces the follow-up's
pronoun with the main name of the previous question.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from .text import STOPWORDS, words

log = logging.getLogger(__name__)

# Personal pronouns only: "this"/"that" are far more often determiners or conjunctions.
_PRONOUN = re.compile(r"\b(they|them|it|he|she|him|her|their|its|his)\b", re.IGNORECASE)
_POSSESSIVE = {"their", "its", "his", "her"}


def _subject(question: str) -> str | None:
    """The main name of a question: its longest run of capitalised words (with a leading "the")."""
    tokens = words(question)
    best: list[str] = []
    run: list[str] = []
    for i, token in enumerate([*tokens, ""]):
        if token and token[0].isupper() and (i > 0 or token.lower() not in STOPWORDS) and token != "I":
            run.append(token)
            continue
        if len(run) > len(best):
            best = run
        run = []
    if not best:
        return None
    phrase = " ".join(best)
    match = re.search(r"\bthe\s+" + re.escape(best[0]), question, re.IGNORECASE)
    return f"the {phrase}" if match else phrase


REWRITE_PROMPT = (
    "Rewrite the last question so that it can be understood without the conversation: replace "
    "pronouns with what they refer to. Keep its meaning and wording otherwise. Reply with the "
    "rewritten question only."
)


def standalone_question(question: str, history: list[tuple[str, str]] | None, model: Any = None) -> str:
    """The question as it would be asked on its own. Unchanged when it does not lean on the past.
    With a language model, the model rewrites it; its rewrite is kept only when it looks sane."""
    if not history:
        return question
    match = _PRONOUN.search(question)
    if not match:
        return question
    if model is not None:
        rewritten = _rewrite_with_model(model, question, history)
        # A small model often hands the question back unchanged; only a rewrite that resolved the
        # pronoun is better than the rule below.
        if rewritten and not _PRONOUN.search(rewritten):
            return rewritten
    for previous, _answer in reversed(history):
        subject = _subject(previous)
        if subject:
            replacement = f"{subject}'s" if match.group(1).lower() in _POSSESSIVE else subject
            return question[: match.start()] + replacement + question[match.end() :]
    return question


def _rewrite_with_model(model: Any, question: str, history: list[tuple[str, str]]) -> str | None:
    from langchain_core.messages import HumanMessage, SystemMessage

    turns = "\n".join(f"Q: {q}\nA: {' '.join(a.split())[:300]}" for q, a in history[-3:])
    try:
        reply = model.invoke(
            [
                SystemMessage(content=REWRITE_PROMPT),
                HumanMessage(content=f"{turns}\nLast question: {question}"),
            ]
        )
    except Exception as exc:  # the rule-based rewrite still works without the model
        log.warning("could not rewrite the follow-up with the model (%s)", type(exc).__name__)
        return None
    text = " ".join(str(reply.content).split()).strip().strip('"')
    if not text or len(text) > 3 * len(question) + 200 or "\n" in text:
        return None
    return text
