"""The JSON shapes are defined once (qa.schemas): the CLI's --json, the HTTP API and the Python objects'
to_dict agree; and an OpenAI conversation becomes a question with its history (no model, no server)."""

from __future__ import annotations

import json

import pytest
from fastapi import HTTPException
from helpers import ANSWER_KEYS

from qa.models import Answer, Citation, DocumentInfo, IndexStatus, Passage
from qa.openai_api import ChatMessage, conversation, reply_text, without_sources
from qa.schemas import AnswerJSON, AnswerUpdateJSON, AskRequest, PassageJSON, StatusJSON

CITATION = Citation(1, "notes.txt", 10, 38, "Quokkas live on Rottnest Island.", page=None)
PASSAGE = Passage(
    "notes.txt", 0, 60, "Quokka notes. Quokkas live on Rottnest Island.", 0.8, 2, similarity=0.61
)
ANSWER = Answer(
    "Quokkas live on Rottnest Island. [1]",
    True,
    [CITATION],
    query="Where do quokkas live?",
    mode="extractive",
    support=0.83,
)
DECLINE = Answer("The documents don't say.", False, nearest=[PASSAGE], query="q", mode="extractive")


def test_an_answer_prints_the_contract_keys_in_the_contract_order() -> None:
    shape = AnswerJSON.of(ANSWER).to_json()
    assert list(shape) == ANSWER_KEYS
    assert shape["citations"] == [
        {"n": 1, "source": "notes.txt", "start": 10, "end": 38, "text": CITATION.text, "page": None,
         "section": None, "ocr": False}
    ]  # fmt: skip


def test_the_python_objects_json_is_the_schemas_json() -> None:
    assert ANSWER.to_dict() == AnswerJSON.of(ANSWER).to_json()
    assert DECLINE.to_dict() == AnswerJSON.of(DECLINE).to_json()


def test_a_passage_has_the_same_shape_in_search_results_and_under_a_decline() -> None:
    alone = PassageJSON.of(PASSAGE).to_json()
    assert alone == {
        "source": "notes.txt",
        "start": 0,
        "end": 60,
        "text": PASSAGE.text,
        "score": 0.8,
        "page": 2,
        "section": None,
        "ocr": False,
    }
    assert AnswerJSON.of(DECLINE).to_json()["nearest"] == [alone]


def test_a_streamed_update_is_the_answer_shape_plus_whether_it_is_final() -> None:
    partial = AnswerUpdateJSON.of(Answer("Quokkas live", True, final=False)).to_json()
    assert partial["final"] is False
    assert set(partial) - {"final"} == set(AnswerJSON.model_fields)


def test_the_status_shape_lists_the_sources_beside_the_summary() -> None:
    status = IndexStatus(1, 3, "all-MiniLM-L6-v2", 384, "onnx-int8", "index", "corpus", built_at="2026-01-01")
    shape = StatusJSON.of(status, [DocumentInfo("notes.txt", 3, 120, "2026-01-01T00:00:00")]).to_json()
    assert shape["documents"] == 1 and shape["embedding_dim"] == 384
    assert shape["sources"] == [
        {"source": "notes.txt", "chunks": 3, "bytes": 120, "added": "2026-01-01T00:00:00"}
    ]
    json.dumps(shape)


def test_an_ask_request_refuses_a_misspelt_field() -> None:
    with pytest.raises(ValueError, match="questoin"):
        AskRequest.model_validate({"question": "q", "questoin": "q"})
    request = AskRequest.model_validate({"question": "q", "history": [{"question": "a", "answer": "b"}]})
    assert request.turns() == [("a", "b")] and request.stream is False


# ---- OpenAI conversations ------------------------------------------------------------------------


def messages(*pairs: tuple[str, object]) -> list[ChatMessage]:
    return [ChatMessage.model_validate({"role": role, "content": content}) for role, content in pairs]


def test_the_last_user_message_is_the_question_and_earlier_turns_the_history() -> None:
    question, history = conversation(
        messages(
            ("system", "You are helpful."),
            ("user", "What did the Senior Experts Group discuss?"),
            ("assistant", reply_text(ANSWER)),
            ("user", "When did they first meet?"),
        )
    )
    assert question == "When did they first meet?"
    assert history == [("What did the Senior Experts Group discuss?", ANSWER.text)]  # sources list dropped


def test_content_given_as_text_parts_is_joined() -> None:
    question, _ = conversation(
        messages(("user", [{"type": "text", "text": "Where do"}, {"type": "text", "text": "quokkas live?"}]))
    )
    assert question == "Where do\nquokkas live?"


@pytest.mark.parametrize(
    "pairs",
    [
        (("user", "Where do quokkas live?"), ("assistant", "On Rottnest Island.")),
        (("user", "   "),),
        (("system", "Be brief."),),
    ],
)
def test_a_conversation_that_does_not_end_with_a_question_is_refused(
    pairs: tuple[tuple[str, str], ...],
) -> None:
    with pytest.raises(HTTPException) as refused:
        conversation(messages(*pairs))
    assert refused.value.status_code == 422
    assert "last message must be the user's question" in str(refused.value.detail)


def test_the_reply_text_carries_the_markers_and_a_numbered_sources_list() -> None:
    text = reply_text(ANSWER)
    assert text.startswith(ANSWER.text)
    assert "\n\nSources:\n[1] notes.txt, characters 10-38: “Quokkas live on Rottnest Island.”" in text
    assert without_sources(text) == ANSWER.text
    assert reply_text(DECLINE) == DECLINE.text  # a decline is a plain reply, with no sources list
