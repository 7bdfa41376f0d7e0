"""Follow-up questions -> standalone questions, so retrieval sees what the user means.

A follow-up leans on the previous question and on its answer:

- a pronoun: "When did they first meet?" after "What did the Senior Experts Group discuss?" becomes
  "When did the Senior Experts Group first meet?"; "What does it advocate?" after "What did the
  Department of Defense publish?" (answered "Law of War Manual [1]. ...") takes the answer's fact;
- a bare question word (ellipsis): "When?" after "Where was the dialogue held?" becomes "When was the
  dialogue held?", and after "Who extended the state of emergency?" (answered "Barack Obama [1]. ...")
  becomes "When did Barack Obama extend the state of emergency?";
- a vague act: "Why did he do that?" after that question becomes "Why did Barack Obama extend the
  state of emergency?".

With a language model, its rewrite is tried first and kept only when it looks sane; otherwise (and
with no model) the rules above apply. An earlier follow-up is itself resolved (by the rules) before
a later one leans on it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from .answering import TENTATIVE_PREFIX
from .text import STOPWORDS, words

log = logging.getLogger(__name__)

# Personal pronouns only: "this"/"that" are far more often determiners or conjunctions.
_PRONOUN = re.compile(r"\b(they|them|it|he|she|him|her|their|its|his)\b", re.IGNORECASE)
_POSSESSIVE = {"their", "its", "his", "her"}
_PERSONAL = {"he", "she", "him", "his", "her"}
_WH = r"(?:how\s+(?:many|much|long|often|far|old)|when|where|why|how|who|whom|what|which)"
# A follow-up that is only a question word: "When?", "And where?", "Why exactly?".
_ELLIPSIS = re.compile(
    rf"^\s*(?:(?:and|so|but|ok(?:ay)?|then)\W+)*(?P<wh>{_WH})(?:\s+(?:exactly|then|precisely))?\s*[?.!]*\s*$",
    re.IGNORECASE,
)
# A phrase that opens with its own determiner, quantifier or number takes no "the" before it: "a new
# manual", "both China and the United States", "two plants". (A fact opening with "its" or "their" is
# never put in place of "it": it holds a pronoun of its own.)
_DETERMINED = re.compile(
    r"(?:the|a|an|this|that|these|those|both|all|each|every|some|any|no|many|several|few|our|my|your|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|\d[\d,.]*)\s",
    re.IGNORECASE,
)
# An act named only by "do that" or "that happen": it stands for the previous question's act.
_VAGUE_ACT = re.compile(r"\b(?:do|does|did)\s+(?:that|this|it|so)\b", re.IGNORECASE)
_AUX = frozenset(
    """is are was were do does did has have had can could will would should may might must""".split()
)
# Questions whose wh-word is followed by a noun ("Which country hosted ..."): the wh-phrase runs to it.
_WH_DETERMINERS = frozenset({"what", "which", "whose", "how"})
# Irregular past forms, for "did he do that?" -> "did he <base form> ...".
_IRREGULAR = {
    "made": "make",
    "held": "hold",
    "said": "say",
    "wrote": "write",
    "took": "take",
    "gave": "give",
    "met": "meet",
    "began": "begin",
    "became": "become",
    "went": "go",
    "told": "tell",
    "found": "find",
    "led": "lead",
    "won": "win",
    "sent": "send",
    "built": "build",
    "left": "leave",
    "paid": "pay",
    "sold": "sell",
    "bought": "buy",
    "brought": "bring",
    "thought": "think",
    "ran": "run",
    "saw": "see",
    "chose": "choose",
    "spoke": "speak",
    "knew": "know",
    "grew": "grow",
    "drew": "draw",
    "fell": "fall",
    "kept": "keep",
    "lost": "lose",
    "meant": "mean",
    "put": "put",
    "set": "set",
    "struck": "strike",
    "taught": "teach",
    "understood": "understand",
    "was": "be",
    "were": "be",
    "had": "have",
    "did": "do",
}
_BE = frozenset({"is", "are", "was", "were"})
_TRAILING_PREPOSITIONS = frozenset({"about", "for", "of", "with", "from", "to", "on", "in", "at", "by"})
# "the recent one", "that one": a noun left out, to be taken from the previous question.
_ONE = re.compile(r"\b(?:the|this|that)\s+(?:([^\W\d_]+)\s+)?one\b(?![-\w])", re.IGNORECASE)
_FACT = re.compile(r"^\s*(?P<fact>[^\[\]]{1,80}?)\s*\[\d+\]\.(?:\s|$)")


def _subject(question: str) -> str | None:
    """The main name of a question: its longest run of capitalised words (with a leading "the"),
    names joined by "and" or "of" counted as one ("China and the United States")."""
    tokens = words(question)
    best: list[str] = []
    run: list[str] = []
    for i, token in enumerate([*tokens, ""]):
        capital = token and token[0].isupper() and (i > 0 or token.lower() not in STOPWORDS) and token != "I"
        joins = (
            run
            and token.lower() in {"and", "of", "the", "&"}
            and i + 1 < len(tokens)
            and (tokens[i + 1][0].isupper() or tokens[i + 1].lower() == "the")
        )
        if capital or joins:
            run.append(token)
            continue
        while run and run[-1].lower() in {"and", "of", "the", "&"}:
            run.pop()
        if len(run) > len(best):
            best = run
        run = []
    if not best:
        return None
    match = re.search(r"\b(the\s+)?" + r"\W+".join(re.escape(t) for t in best), question, re.IGNORECASE)
    if match is None:
        return " ".join(best)
    return question[match.start() : match.end()]


def leading_fact(answer: str) -> str | None:
    """The fact an answer opens with ("June 2015 [1]. ..." -> "June 2015", also after the hedge of an
    uncertain answer: the user reads it as what was said), or None."""
    match = _FACT.match(answer.removeprefix(TENTATIVE_PREFIX))
    if match is None:
        return None
    fact = match.group("fact").strip()
    return fact if 0 < len(fact.split()) <= 10 else None


def _asks(question: str) -> tuple[str, str, str]:
    """A question split into its wh-phrase, the auxiliary after it ("" for a subject question like
    "Who extended ...?") and the rest: ("Where", "was", "the dialogue held")."""
    body = question.strip().rstrip("?.! ")
    match = re.match(rf"(?P<wh>{_WH})\b\s*(?P<rest>.*)$", body, re.IGNORECASE | re.DOTALL)
    if match is None:
        return "", "", body
    wh, rest = match.group("wh"), match.group("rest")
    tokens = rest.split()
    if wh.lower() in _WH_DETERMINERS and tokens and tokens[0].lower() not in _AUX:
        # "Which country hosted ...", "What agreement did ..." : the noun belongs to the wh-phrase
        for i, token in enumerate(tokens[:4]):
            if token.lower() in _AUX:
                return f"{wh} {' '.join(tokens[:i])}", token, " ".join(tokens[i + 1 :])
        return wh, "", rest
    if tokens and tokens[0].lower() in _AUX:
        return wh, tokens[0], " ".join(tokens[1:])
    return wh, "", rest


def _subject_question(rest: str) -> bool:
    """After "Who is"/"What was", does an adjective or participle follow ("unhappy with", "held in")
    rather than the noun the question asks about ("the president")? Then the wh-word is the subject."""
    first = rest.split()[0].lower() if rest.split() else ""
    return (
        bool(first) and first not in STOPWORDS and not first[:1].isupper() and first not in {"the", "a", "an"}
    )


def _be_subject(aux: str, rest: str) -> str | None:
    """The subject of a "be" question that ends in a participle or a preposition: "When was the OPM
    data breach revealed?" -> "the OPM data breach"; "What was the exercise about?" -> "the exercise"."""
    tokens = rest.split()
    if aux.lower() not in _BE or len(tokens) < 2:
        return None
    last = tokens[-1].lower()
    if not (last.endswith(("ed", "en")) or last in _IRREGULAR or last in _TRAILING_PREPOSITIONS):
        return None
    if tokens[0][:1].islower() and tokens[0].lower() not in {
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
    }:
        return None  # "Who is unhappy with ...": no noun phrase opens it
    return " ".join(tokens[:-1])


def _base_form(verb: str) -> str:
    """A past-tense verb's base form by regular rules ("extended" -> "extend"), for "did ... <verb>"."""
    lower = verb.lower()
    if lower in _IRREGULAR:
        return _IRREGULAR[lower]
    if lower.endswith("ied") and len(lower) > 4:
        return verb[:-3] + "y"
    if lower.endswith(("ated", "ised", "ized", "uded", "ved", "ced", "ged", "zed", "ured", "osed", "ased")):
        return verb[:-1]  # "created" -> "create": the "e" was the verb's own
    if lower.endswith("ed") and len(lower) > 4:
        stem = verb[:-2]
        if stem[-1] == stem[-2] and stem[-1] not in "lsz":
            return stem[:-1]  # "stopped" -> "stop"
        return stem
    if lower.endswith("s") and not lower.endswith("ss") and len(lower) > 3:
        return verb[:-1]
    return verb


def _act(previous: str, fact: str | None) -> str | None:
    """What the previous question asked about as a statement, its subject and verb in base form:
    "Who extended the state of emergency?" + "Barack Obama" -> ("Barack Obama", "extend the state ...")."""
    wh, aux, rest = _asks(previous)
    if not wh or aux or not rest or fact is None:
        return None  # only a subject question ("Who VERBed ...?") names an act its answer did
    verb, _, tail = rest.partition(" ")
    return f"{fact} {_base_form(verb)} {tail}".strip()


def _resolve_by_rules(question: str, history: list[tuple[str, str]]) -> str:
    """The rule-based rewrite (see the module docstring); the question unchanged when none applies."""
    previous_question, previous_answer = history[-1]
    previous = _resolve_by_rules(previous_question, history[:-1]) if len(history) > 1 else previous_question
    fact = leading_fact(previous_answer)
    wh, aux, rest = _asks(previous)

    ellipsis = _ELLIPSIS.match(question)
    if ellipsis:
        asked = ellipsis.group("wh")
        asked = asked[0].upper() + asked[1:]
        if aux and wh.lower() in {"who", "what"} and fact and _subject_question(rest):
            return (
                f"{asked} {aux} {fact} {rest}?"  # "Who is unhappy ...?" -> "Why is the Pentagon unhappy ...?"
            )
        if aux:  # "Where was X held?" -> "When was X held?"
            return f"{asked} {aux} {rest}?"
        act = _act(previous, fact)
        if act:  # "Who extended X?" (Barack Obama) -> "When did Barack Obama extend X?"
            return f"{asked} did {act}?"
        return f"{asked}: {rest}?" if rest else question

    rewritten = question
    vague = _VAGUE_ACT.search(rewritten)
    act = _act(previous, fact)
    if vague and act:  # "Why did he do that?" -> "Why did Barack Obama extend X?"
        head = rewritten[: vague.start()].rstrip()
        head = _PRONOUN.sub("", head).rstrip() if _PRONOUN.search(head) else head
        head = " ".join(head.split())
        return f"{head} {act}{rewritten[vague.end() :]}".strip()

    match = _PRONOUN.search(rewritten)
    be_subject = _be_subject(aux, rest)
    if not match:
        one = _ONE.search(rewritten)
        named = be_subject or _subject(previous)
        if one is None or not named:
            return question
        adjective = f"{one.group(1)} " if one.group(1) else ""
        noun = re.sub(r"^(?:the|a|an)\s+", "", named, flags=re.IGNORECASE)
        return f"{rewritten[: one.start()]}the {adjective}{noun}{rewritten[one.end() :]}"
    pronoun = match.group(1).lower()
    asked_for_thing = wh.split()[0].lower() in {"what", "which"} if wh else False
    asked_for_person = wh.lower() in {"who", "whom"} if wh else False
    if pronoun in _PERSONAL and asked_for_person and fact:
        replacement = fact
    elif pronoun not in _PERSONAL and be_subject and not _PRONOUN.search(be_subject):
        replacement = be_subject  # "When was the breach revealed?" -> "it" is the breach
    elif pronoun in {"it", "its"} and asked_for_thing and fact and not _PRONOUN.search(fact):
        determined = fact[:1].isupper() or _DETERMINED.match(fact)
        replacement = fact if determined else f"the {fact}"  # "a new manual" is not "the a new manual"
    else:
        replacement = _subject(previous) or ""
        if not replacement:
            for earlier, _answer in reversed(history[:-1]):
                replacement = _subject(earlier) or ""
                if replacement:
                    break
    if not replacement:
        return question
    if pronoun in _POSSESSIVE and not (pronoun == "her" and match.end() == len(rewritten.rstrip("?.! "))):
        replacement = f"{replacement}'s"
    return rewritten[: match.start()] + replacement + rewritten[match.end() :]


def leans_on_history(question: str) -> bool:
    """Does the question need the conversation to be understood (a pronoun, a bare question word,
    an act named only as "do that")?"""
    return bool(
        _PRONOUN.search(question)
        or _ELLIPSIS.match(question)
        or _VAGUE_ACT.search(question)
        or _ONE.search(question)
    )


REWRITE_PROMPT = (
    "Rewrite the last question so that it can be understood without the conversation: replace "
    "pronouns with what they refer to (often the previous answer), and complete a question that is "
    "only a question word (like 'When?') from the previous question. Keep its meaning and wording "
    "otherwise. Reply with the rewritten question only."
)


def standalone_question(question: str, history: list[tuple[str, str]] | None, model: Any = None) -> str:
    """The question as it would be asked on its own. Unchanged when it does not lean on the past.
    With a language model, the model rewrites it; its rewrite is kept only when it looks sane."""
    if not history or not leans_on_history(question):
        return question
    if model is not None:
        rewritten = _rewrite_with_model(model, question, history)
        if rewritten and _sane(question, rewritten):
            return rewritten
    return _resolve_by_rules(question, history)


def _sane(question: str, rewritten: str) -> bool:
    """A model's rewrite is kept when it resolved what the follow-up left open and asks the same
    kind of thing (same question word)."""
    if rewritten.strip().lower() == question.strip().lower() or leans_on_history(rewritten):
        return False
    wh = re.search(rf"\b{_WH}\b", question, re.IGNORECASE)
    return wh is None or wh.group(0).lower() in rewritten.lower()


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
