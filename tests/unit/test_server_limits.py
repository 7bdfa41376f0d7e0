"""The limits the HTTP doors share with the web chat: answer slots, and who may call (no model, no server)."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi import HTTPException
from fastapi.security import HTTPAuthorizationCredentials

from qa.errors import QAError, ServerBusyError
from qa.server import Access, AnswerSlots
from qa.settings import Settings


def bearer(token: str) -> HTTPAuthorizationCredentials:
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


# ---- answer slots ----------------------------------------------------------------------------------


def test_no_more_answers_than_the_limit_are_written_at_once() -> None:
    slots = AnswerSlots(limit=2, waiting=10, wait_seconds=30)
    most, lock = 0, threading.Lock()

    def answer() -> None:
        nonlocal most
        with slots.hold():
            with lock:
                most = max(most, slots.busy)
            time.sleep(0.05)

    threads = [threading.Thread(target=answer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2
    assert slots.busy == 0


def test_a_question_beyond_the_waiting_limit_is_turned_away_at_once() -> None:
    slots = AnswerSlots(limit=1, waiting=1, wait_seconds=30)
    release, waiting_started = threading.Event(), threading.Event()

    def hold_the_slot() -> None:
        with slots.hold():
            release.wait(10)

    def wait_for_it() -> None:
        waiting_started.set()
        with slots.hold():
            pass

    holder = threading.Thread(target=hold_the_slot)
    holder.start()
    while slots.busy == 0:
        time.sleep(0.01)
    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    waiting_started.wait(5)
    time.sleep(0.1)  # the waiter is now queued for the one slot
    started = time.monotonic()
    with pytest.raises(ServerBusyError) as caught, slots.hold():
        pass
    assert time.monotonic() - started < 1
    assert "try again" in str(caught.value) and "\n" not in str(caught.value)
    release.set()
    holder.join()
    waiter.join()
    assert slots.busy == 0


def test_a_question_that_waits_too_long_for_a_slot_is_turned_away() -> None:
    slots = AnswerSlots(limit=1, waiting=5, wait_seconds=0.2)
    with slots.hold():
        with pytest.raises(ServerBusyError, match="no answer slot came free"), slots.hold():
            pass
        assert slots.busy == 1
    assert slots.busy == 0


def test_a_slot_is_released_when_the_answer_fails() -> None:
    slots = AnswerSlots(limit=1, waiting=1, wait_seconds=0.5)
    with pytest.raises(RuntimeError), slots.hold():
        raise RuntimeError("model crashed")
    with slots.hold():  # would time out if the failed answer had kept the slot
        assert slots.busy == 1


def test_a_slot_held_by_a_generator_is_released_when_the_generator_is_closed() -> None:
    slots = AnswerSlots(limit=1, waiting=1, wait_seconds=0.5)

    def answers():
        with slots.hold():
            yield "partial"
            yield "final"

    stream = answers()
    assert next(stream) == "partial" and slots.busy == 1
    stream.close()  # a client that went away
    assert slots.busy == 0


# ---- who may call ----------------------------------------------------------------------------------


def settings(**values: object) -> Settings:
    return Settings.model_validate({"api_key": None, "ui_insecure_no_login": False, **values})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_on_loopback_without_a_key_anyone_on_this_machine_may_call(host: str) -> None:
    access = Access.for_host(settings(), host)
    access.check(None)
    access.check(bearer("anything"))


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "qa.example.org"])
def test_with_a_key_set_every_host_requires_exactly_that_key(host: str) -> None:
    access = Access.for_host(settings(api_key="s3cret-token"), host)
    access.check(bearer("s3cret-token"))
    for wrong in (None, bearer(""), bearer("s3cret"), bearer("s3cret-token2")):
        with pytest.raises(HTTPException) as refused:
            access.check(wrong)
        assert refused.value.status_code == 401
        assert refused.value.headers == {"WWW-Authenticate": "Bearer"}


def test_the_refusal_is_the_same_for_a_missing_and_a_wrong_key_and_names_no_secret() -> None:
    access = Access.for_host(settings(api_key="s3cret-token"), "0.0.0.0")
    messages = set()
    for wrong in (None, bearer("guess")):
        with pytest.raises(HTTPException) as refused:
            access.check(wrong)
        messages.add(refused.value.detail)
    assert len(messages) == 1
    (message,) = messages
    assert "s3cret" not in message and "QA_API_KEY" in message


def test_off_loopback_without_a_key_every_request_is_refused() -> None:
    access = Access.for_host(settings(), "0.0.0.0")
    for token in (None, bearer(""), bearer("anything")):
        with pytest.raises(HTTPException) as refused:
            access.check(token)
        assert refused.value.status_code == 401


def test_off_loopback_the_explicit_opt_out_opens_the_api_without_a_key() -> None:
    access = Access.for_host(settings(ui_insecure_no_login=True), "0.0.0.0")
    access.check(None)


def test_an_empty_key_is_refused_with_a_one_line_error() -> None:
    with pytest.raises(QAError, match="QA_API_KEY is set but empty"):
        Access.for_host(settings(api_key="  "), "127.0.0.1")
