"""People at the web chat and programs on the HTTP API ask the same `qa serve` at the same time: 2 browser
sessions and 4 API clients (the /api/v1 API and the OpenAI-compatible /v1, each streamed and not), and
every one gets its own correct answer. Answers are extractive here (fast), so the six questions overlap
in the server's shared answer slots rather than in a long model run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

SLOW_MS = 180_000


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect  # imported late: a missing Playwright skips

    return playwright_expect(target)


def wait_for_turn(page: Any, turn: int) -> Any:
    """The evidence of answer number `turn`, once it is final (the panel is filled at the end)."""
    evidence = page.locator(f"#qa-turn-{turn}")
    expect(evidence).to_be_attached(timeout=SLOW_MS)
    return evidence


# Six questions, each with a fact only its own answer holds.
API_QUESTIONS = {
    "api-json": ("Where did the second round of the cybercrime dialogue take place?", "Beijing"),
    "api-stream": ("Who extended the national state of emergency over cyberattacks?", "Obama"),
    "openai": ("What does the image credit say?", "Shutterstock"),
    "openai-stream": ("Which department published the new Law of War Manual?", "Defense"),
}
PAGE_QUESTIONS = [
    ("What did the Senior Experts Group discuss?", "norms"),
    ("What did Chinese hackers become more careful about?", "track"),
]


@pytest.fixture(scope="module")
def answerer() -> str:
    return "extractive"


def ask_json(base: str, question: str) -> str:
    response = httpx.post(f"{base}api/v1/ask", json={"question": question}, timeout=180)
    response.raise_for_status()
    return str(response.json()["answer"])


def ask_streamed(base: str, question: str) -> str:
    final: dict[str, Any] = {}
    with httpx.stream(
        "POST", f"{base}api/v1/ask", json={"question": question, "stream": True}, timeout=180
    ) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data: "):
                final = json.loads(line.removeprefix("data: "))
    assert final.get("final") is True, final
    return str(final["answer"])


def ask_openai(base: str, question: str) -> str:
    from openai import OpenAI

    client = OpenAI(base_url=f"{base}v1", api_key="unused-on-loopback", max_retries=0, timeout=180)
    completion = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": question}])
    return str(completion.choices[0].message.content)


def ask_openai_streamed(base: str, question: str) -> str:
    from openai import OpenAI

    client = OpenAI(base_url=f"{base}v1", api_key="unused-on-loopback", max_retries=0, timeout=180)
    stream = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": question}], stream=True
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


CLIENTS: dict[str, Callable[[str, str], str]] = {
    "api-json": ask_json,
    "api-stream": ask_streamed,
    "openai": ask_openai,
    "openai-stream": ask_openai_streamed,
}


def test_four_api_clients_and_two_browser_sessions_ask_at_once_and_each_gets_its_own_answer(
    served_app: Any, chromium_browser: Any, page: Any, page_log: Any
) -> None:
    other = chromium_browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    other.context.on("request", lambda request: page_log.requests.append(request.url))  # checked at teardown
    pages = [page, other]
    answers: dict[str, str] = {}
    failures: dict[str, BaseException] = {}
    start = threading.Barrier(len(CLIENTS) + 1)

    def client(name: str) -> None:
        question, _ = API_QUESTIONS[name]
        start.wait(timeout=60)
        try:
            answers[name] = CLIENTS[name](served_app.url, question)
        except BaseException as exc:  # reported below, with the client's name
            failures[name] = exc

    threads = [threading.Thread(target=client, args=(name,)) for name in CLIENTS]
    try:
        for p in pages:
            p.goto(served_app.url)
        for thread in threads:
            thread.start()
        boxes = [p.locator("#qa-question textarea") for p in pages]
        for box, (question, _) in zip(boxes, PAGE_QUESTIONS, strict=True):
            box.fill(question)
        start.wait(timeout=60)  # the API clients send now, while the two pages submit
        for box in boxes:
            box.press("Enter")
        for p, (question, fact) in zip(pages, PAGE_QUESTIONS, strict=True):
            turn = wait_for_turn(p, 1)
            expect(turn.locator("summary")).to_have_text(f"1. {question}")
            expect(p.locator('#qa-chat [data-testid="bot"]').last).to_contain_text(fact)
            assert p.locator("#qa-evidence .qa-turn").count() == 1  # its own conversation only
        for thread in threads:
            thread.join(timeout=240)
    finally:
        other.context.close()
    assert not failures, failures
    for name, (_, fact) in API_QUESTIONS.items():
        assert fact in answers[name], (name, answers[name])
        others = [f for n, (_, f) in API_QUESTIONS.items() if n != name]
        assert not any(f in answers[name] for f in others), (name, answers[name])
