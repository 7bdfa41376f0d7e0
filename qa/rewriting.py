"""Follow-up questions -> standalone questions, so retrieval sees what the user means.

"When did they first meet?" after "What did the Senior Experts Group discuss?" becomes
"When did the Senior Experts Group first meet?". This rule-based rewrite needs no language
model: it replaces the follow-up's pronoun with the main name of the previous question.
"""

from __future__ import annotations

import re

from .text import STOPWORDS, words

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


def standalone_question(question: str, history: list[tuple[str, str]] | None) -> str:
    """The question as it would be asked on its own. Unchanged when it does not lean on the past."""
    if not history:
        return question
    match = _PRONOUN.search(question)
    if not match:
        return question
    for previous, _answer in reversed(history):
        subject = _subject(previous)
        if subject:
            replacement = f"{subject}'s" if match.group(1).lower() in _POSSESSIVE else subject
            return question[: match.start()] + replacement + question[match.end() :]
    return question
