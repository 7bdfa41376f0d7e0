"""The web chat in a real browser: the page loads, a question typed and sent with Enter is answered
from the article, and the page asks for nothing outside this machine (checked by the `page` fixture).

Selectors are the stable elem_ids (`#qa-chat`, `#qa-question`), not Gradio's markup, except for the
bot's message (Gradio's own `data-testid="bot"`): the chat as a whole says "Beijing" before any answer,
in the example "What is the population of Beijing?"."""

from __future__ import annotations

TITLE = "Ask the documents"
QUESTION = "Where did the second round of the cybercrime dialogue take place?"
ANSWER_TIMEOUT_MS = 120_000  # the local model on two CPU cores, with room to spare


def test_a_question_typed_and_sent_with_enter_is_answered_from_the_article(served_app, page, shot):
    from playwright.sync_api import expect  # here, so a missing Playwright skips (or fails) via the fixtures

    page.goto(served_app.url)
    expect(page).to_have_title(TITLE)
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    chat = page.locator("#qa-chat")
    expect(chat.get_by_text(QUESTION, exact=True)).to_be_visible()  # the example question

    question = page.locator("#qa-question textarea")
    question.fill(QUESTION)
    question.press("Enter")

    answer = chat.locator('[data-testid="bot"]').last
    expect(answer).to_contain_text("Beijing", timeout=ANSWER_TIMEOUT_MS)
    shot(page, "smoke-answer.png")
