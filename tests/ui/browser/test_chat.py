"""The web chat as a person uses it, in headless Chromium against `qa serve` (with the local model when it
is installed). Every test also fails if the page asked for anything outside this machine (the `page`
fixture checks every request), and each leaves screenshots in build/screenshots/ to look at.

Selectors are our elem_ids (`#qa-chat`, `#qa-question`, `#qa-evidence`, ...) and the ids the evidence
panel gives each passage (`qa-ev-T-N`), plus Gradio's own `data-testid="bot"` for the answer bubble.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

XQUAD = Path(__file__).resolve().parents[3] / "eval" / "xquad" / "xquad.en.dev.json"
TITLE = "Ask the documents"
BEIJING = "Where did the second round of the cybercrime dialogue take place?"
SEG = "What did the Senior Experts Group discuss?"
FOLLOW_UP = "When did they first meet?"
SLOW_MS = 180_000  # the local model on two busy CPU cores, with room to spare
QUOKKA_NOTES = (
    "Quokka field notes.\n\n"
    "Quokkas live on Rottnest Island, off the coast of Western Australia. "
    "A grown quokka weighs between 2.5 and 5 kilograms.\n"
)
HOSTILE_NOTICE = (
    'Festival notice. <script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2">\n\n'
    "The zorblax festival takes place every spring in the town of Quillon.\n"
)
# Records every text the last answer bubble shows, so the test can see the answer grow while streaming.
WATCH_ANSWERS = """
() => {
  window.__qaStates = [];
  const chat = document.querySelector('#qa-chat');
  new MutationObserver(() => {
    const bots = chat.querySelectorAll('[data-testid="bot"]');
    const text = bots.length ? bots[bots.length - 1].innerText : '';
    const states = window.__qaStates;
    if (text && states[states.length - 1] !== text) states.push(text);
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}
"""


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect  # imported late: a missing Playwright skips

    return playwright_expect(target)


def ask(page: Any, question: str) -> None:
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")


def wait_for_turn(page: Any, turn: int) -> Any:
    """The evidence of answer number `turn`, once it is final (the panel is filled at the end)."""
    evidence = page.locator(f"#qa-turn-{turn}")
    expect(evidence).to_be_attached(timeout=SLOW_MS)
    return evidence


def open_documents(page: Any) -> None:
    panel = page.locator("#qa-documents-panel")
    if not panel.locator("#qa-upload").is_visible():
        panel.get_by_text("Documents", exact=True).first.click()
    expect(panel.locator("#qa-upload")).to_be_visible()


def upload(page: Any, *paths: Path) -> None:
    open_documents(page)
    with page.expect_file_chooser() as chooser:
        page.locator("#qa-upload").click()
    chooser.value.set_files([str(p) for p in paths])


def choose(page: Any, picker: str, name: str) -> None:
    """Pick `name` in one of our dropdowns (scoped to it: another open dropdown lists the same names)."""
    page.locator(f"{picker} input").click()
    page.locator(picker).get_by_role("option", name=name).click()


def remove_document(page: Any, name: str) -> None:
    choose(page, "#qa-remove-choice", name)
    page.locator("#qa-remove").click()
    expect(page.locator("#qa-upload-status")).to_contain_text(f"Removed {name}.", timeout=SLOW_MS)


def test_an_answer_streams_with_its_cited_span_highlighted_and_a_follow_up_is_rewritten(
    served_app: Any, page: Any, page_log: Any, shot: Any
) -> None:
    page.goto(served_app.url)
    expect(page).to_have_title(TITLE)
    chat = page.locator("#qa-chat")
    expect(chat.get_by_text(BEIJING, exact=True)).to_be_visible()  # example questions on first load
    shot(page, "chat-1-first-load")

    page.evaluate(WATCH_ANSWERS)
    ask(page, SEG)
    evidence = wait_for_turn(page, 1)
    answer = chat.locator('[data-testid="bot"]').last
    expect(answer).to_contain_text("[1]")
    states = page.evaluate("window.__qaStates")
    assert states[0].startswith("Searching the documents"), states  # the page answered at once
    assert "[1]" in states[-1] and len(states) >= 2, states

    cited = page.locator("#qa-ev-1-1 mark")
    expect(cited).to_be_visible()
    highlighted = cited.inner_text()
    assert "Senior Experts Group" in highlighted
    around = page.locator("#qa-ev-1-1 .qa-around")
    assert sum(len(part) for part in around.all_inner_texts()) > 100  # the span is shown in its surroundings
    expect(page.locator("#qa-ev-1-1 header")).to_contain_text(
        "china-us-relations-in-cyberspace.txt, characters"
    )
    shot(page, "chat-2-answer-with-evidence")

    ask(page, FOLLOW_UP)
    wait_for_turn(page, 2)
    follow_up = chat.locator('[data-testid="bot"]').last
    expect(follow_up).to_contain_text("Searched for: When did the Senior Experts Group first meet?")
    expect(follow_up).to_contain_text("May")
    expect(page.locator("#qa-turn-1")).not_to_have_attribute("open", "")  # earlier evidence folds away

    chat.locator('a[href="#qa-ev-1-1"]').first.click()  # [1] of the first answer leads to its passage
    expect(page.locator("#qa-turn-1")).to_have_attribute("open", "")
    expect(page.locator("#qa-ev-1-1")).to_be_focused()
    expect(page.locator("#qa-ev-1-1")).to_be_in_viewport()
    shot(page, "chat-3-follow-up-and-jump")

    ask(page, "What is the population of Beijing?")
    declined = wait_for_turn(page, 3)
    expect(declined).to_contain_text("The documents don't say")
    expect(declined).to_contain_text("these do NOT support an answer")
    assert declined.locator("mark").count() == 0  # nearest passages are never highlighted as evidence
    shot(page, "chat-4-declined")
    assert evidence.count() == 1
    assert not page_log.page_errors, page_log.page_errors


def test_a_fact_is_stated_first_in_bold_and_a_whole_document_question_is_answered_from_it(
    served_app: Any, page: Any, page_log: Any, shot: Any
) -> None:
    page.goto(served_app.url)
    chat = page.locator("#qa-chat")
    ask(page, "Who extended the national state of emergency over cyberattacks?")
    wait_for_turn(page, 1)
    answer = chat.locator('[data-testid="bot"]').last
    expect(answer.locator("strong").first).to_contain_text("Barack Obama")  # the fact, then its sentence
    expect(answer).to_contain_text("critical information infrastructure")

    ask(page, "When?")  # a bare question word leans on the previous question and its answer
    evidence = wait_for_turn(page, 2)
    answer = chat.locator('[data-testid="bot"]').last
    expect(answer).to_contain_text("Searched for: When did")
    expect(answer).to_contain_text("Barack Obama extend")
    expect(answer.locator("strong").first).to_have_text("April 2015")
    expect(evidence.locator("mark strong.qa-short")).to_have_text("April 2015")  # inside the highlight
    shot(page, "chat-fact-first")

    ask(page, "What is the article about?")
    overview = wait_for_turn(page, 3)
    expect(chat.locator('[data-testid="bot"]').last).to_contain_text("[1]")
    expect(overview.locator("#qa-ev-3-1 mark")).to_contain_text("While some progress has been made")
    assert chat.locator('[data-testid="bot"]').last.locator("strong").count() == 0  # no "fact" to bold
    shot(page, "chat-whole-document")
    assert not page_log.page_errors, page_log.page_errors


def test_an_uploaded_document_is_answerable_and_removable_and_its_markup_stays_inert(
    served_app: Any, page: Any, page_log: Any, shot: Any, tmp_path: Path
) -> None:
    notes, notice = tmp_path / "quokka-notes.txt", tmp_path / "festival-notice.txt"
    notes.write_text(QUOKKA_NOTES, encoding="utf-8")
    notice.write_text(HOSTILE_NOTICE, encoding="utf-8")
    page.goto(served_app.url)
    upload(page, notes, notice)
    status = page.locator("#qa-upload-status")
    expect(status).to_contain_text("Added festival-notice.txt", timeout=SLOW_MS)
    expect(status).to_contain_text("Added quokka-notes.txt")
    documents = page.locator("#qa-documents")
    expect(documents).to_contain_text("quokka-notes.txt")
    expect(documents.locator("tr", has_text="china-us-relations-in-cyberspace.txt")).to_contain_text("16")
    shot(page, "docs-1-uploaded")

    ask(page, "Where do quokkas live?")
    wait_for_turn(page, 1)
    expect(page.locator("#qa-ev-1-1 header")).to_contain_text("quokka-notes.txt")
    expect(page.locator("#qa-ev-1-1 mark")).to_contain_text("Rottnest Island")

    ask(page, "Where does the zorblax festival take place?")
    wait_for_turn(page, 2)
    expect(page.locator("#qa-ev-2-1 header")).to_contain_text("festival-notice.txt")
    expect(page.locator("#qa-ev-2-1")).to_contain_text("<script>window.__pwned = 1</script>")  # shown as text
    assert page.evaluate("window.__pwned") is None  # ... and never run
    assert page.locator("#qa-evidence img, #qa-chat img, #qa-evidence script").count() == 0
    assert not [url for url in page_log.requests if url.rstrip("/").endswith("/x")]
    shot(page, "docs-2-inert-markup")

    choose(page, "#qa-within", "quokka-notes.txt")  # ask within the quokka notes only
    page.get_by_role("heading", name="Evidence").click()  # close the list
    ask(page, "Where did the second round of the cybercrime dialogue take place?")
    within = wait_for_turn(page, 3)
    expect(within).to_contain_text("The documents don't say")  # the article is outside the chosen documents
    assert "china-us-relations" not in within.inner_text()

    for name in ("quokka-notes.txt", "festival-notice.txt"):
        remove_document(page, name)
        expect(documents).not_to_contain_text(name)
    assert sorted(p.name for p in served_app.corpus_dir.iterdir()) == ["china-us-relations-in-cyberspace.txt"]
    expect(page.locator("#qa-within")).not_to_contain_text("quokka-notes.txt")  # the filter forgets it
    ask(page, "Where do quokkas live?")
    expect(page.locator("#qa-turn-4")).to_contain_text("The documents don't say", timeout=SLOW_MS)
    shot(page, "docs-3-removed")


def test_an_upload_of_the_wrong_type_is_refused_with_a_message_in_the_page(
    served_app: Any, page: Any, tmp_path: Path, shot: Any
) -> None:
    slides = tmp_path / "slides.key"
    slides.write_bytes(b"PK\x03\x04 not a document we read")
    page.goto(served_app.url)
    open_documents(page)
    expect(page.locator("#qa-upload-limits")).to_contain_text(
        "Up to 50 MB per file (QA_MAX_FILE_MB): .txt, .md"
    )
    upload(page, slides)
    expect(page.get_by_text("Invalid file type: slides.key")).to_be_visible(timeout=30_000)
    shot(page, "docs-4-wrong-type")
    assert not (served_app.corpus_dir / "slides.key").exists()


def test_a_large_upload_shows_its_progress_then_its_chunk_count(
    served_app: Any, page: Any, tmp_path: Path, shot: Any
) -> None:
    paragraphs = [
        p["context"] for a in json.loads(XQUAD.read_text(encoding="utf-8"))["data"] for p in a["paragraphs"]
    ]
    large = tmp_path / "encyclopedia.txt"
    large.write_text(
        "Encyclopedia sample\n\n" + "\n\n".join(paragraphs[:300]), encoding="utf-8"
    )  # ~400 chunks
    page.goto(served_app.url)
    upload(page, large)
    status = page.locator("#qa-upload-status")
    expect(status).to_contain_text("Embedding chunks", timeout=SLOW_MS)  # a progress bar, while it works
    shot(page, "docs-5-progress")
    expect(status).to_contain_text("Added encyclopedia.txt (", timeout=SLOW_MS)
    expect(page.locator("#qa-documents tr", has_text="encyclopedia.txt")).to_be_visible()
    remove_document(page, "encyclopedia.txt")


def test_a_question_typed_while_another_is_answered_is_asked_next(served_app: Any, page: Any) -> None:
    page.goto(served_app.url)
    ask(page, BEIJING)
    expect(page.locator('#qa-chat [data-testid="user"]', has_text=BEIJING)).to_be_visible()
    ask(page, SEG)  # as soon as the first shows in the chat, while it is still being answered
    wait_for_turn(page, 2)
    summaries = page.locator("#qa-evidence summary").all_inner_texts()
    assert summaries == [f"2. {SEG}", f"1. {BEIJING}"]


def test_export_and_copy_give_the_answer_with_its_sources(served_app: Any, page: Any) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(served_app.url)
    ask(page, BEIJING)
    wait_for_turn(page, 1)

    with page.expect_download() as markdown:
        page.locator("#qa-export-md").click()
    text = Path(markdown.value.path()).read_text(encoding="utf-8")
    assert markdown.value.suggested_filename == "conversation.md"
    assert f"## 1. {BEIJING}" in text and "[1] china-us-relations-in-cyberspace.txt, characters" in text
    with page.expect_download() as as_json:
        page.locator("#qa-export-json").click()
    assert '"citations"' in Path(as_json.value.path()).read_text(encoding="utf-8")

    page.locator("#qa-turn-1 button.qa-copy").click()
    expect(page.locator("#qa-turn-1 button.qa-copy")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Beijing" in copied and "Sources:\n[1] china-us-relations-in-cyberspace.txt" in copied
    assert "&#" not in copied

    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#qa-evidence .qa-turn")).to_have_count(0)
    expect(page.locator('#qa-chat [data-testid="bot"]')).to_have_count(0)
    expect(page.locator("#qa-export-md")).to_be_disabled()


def test_the_keyboard_alone_asks_and_follows_a_citation(served_app: Any, page: Any) -> None:
    page.goto(served_app.url)
    expect(page.locator("#qa-question textarea")).to_be_focused()  # typing can start at once
    page.keyboard.type(BEIJING)
    page.keyboard.press("Enter")
    wait_for_turn(page, 1)
    link = page.locator('#qa-chat a[href="#qa-ev-1-1"]').first
    link.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#qa-ev-1-1")).to_be_focused()


@pytest.mark.parametrize("width", [390])
def test_a_phone_width_window_stacks_chat_and_evidence_without_sideways_scrolling(
    served_app: Any, phone_page: Any, shot: Any, width: int
) -> None:
    phone_page.goto(served_app.url)
    ask(phone_page, BEIJING)
    wait_for_turn(phone_page, 1)
    overflow = phone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a {width}px phone"
    chat_box = phone_page.locator("#qa-chat").bounding_box()
    evidence_box = phone_page.locator("#qa-evidence").bounding_box()
    assert evidence_box["y"] > chat_box["y"] + chat_box["height"] - 1  # stacked, evidence below the chat
    shot(phone_page, "phone-1-answer")


def test_two_sessions_ask_at_the_same_time_and_each_keeps_its_own_conversation(
    served_app: Any, chromium_browser: Any, page: Any, page_log: Any
) -> None:
    other = chromium_browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    other.context.on("request", lambda request: page_log.requests.append(request.url))  # checked at teardown
    try:
        page.goto(served_app.url)
        other.goto(served_app.url)
        ask(page, BEIJING)
        ask(other, SEG)
        wait_for_turn(page, 1)
        wait_for_turn(other, 1)
        expect(page.locator("#qa-turn-1 summary")).to_have_text(f"1. {BEIJING}")
        expect(page.locator("#qa-ev-1-1 mark")).to_contain_text("Beijing")
        expect(other.locator("#qa-turn-1 summary")).to_have_text(f"1. {SEG}")
        expect(other.locator("#qa-ev-1-1 mark")).to_contain_text("Senior Experts Group")
        assert (
            page.locator("#qa-evidence .qa-turn").count()
            == other.locator("#qa-evidence .qa-turn").count()
            == 1
        )
    finally:
        other.context.close()


def test_clicking_an_example_question_asks_it(served_app: Any, page: Any) -> None:
    page.goto(served_app.url)
    page.locator("#qa-chat").get_by_text("What is the population of Beijing?", exact=True).click()
    declined = wait_for_turn(page, 1)
    expect(declined.locator("summary")).to_have_text("1. What is the population of Beijing?")
    expect(declined).to_contain_text("these do NOT support an answer")


def test_two_sessions_uploading_at_once_both_land_and_the_index_stays_whole(
    served_app: Any, chromium_browser: Any, page: Any, page_log: Any, tmp_path: Path
) -> None:
    other = chromium_browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    other.context.on("request", lambda request: page_log.requests.append(request.url))
    notes, wombats = tmp_path / "quokka-notes.txt", tmp_path / "wombat-notes.txt"
    notes.write_text(QUOKKA_NOTES, encoding="utf-8")
    wombats.write_text("Wombat notes.\n\nA wombat produces cube-shaped droppings.\n", encoding="utf-8")
    try:
        page.goto(served_app.url)
        other.goto(served_app.url)
        upload(page, notes)
        upload(other, wombats)  # while the first may still be indexing: writes queue, one at a time
        expect(page.locator("#qa-upload-status")).to_contain_text("Added quokka-notes.txt", timeout=SLOW_MS)
        expect(other.locator("#qa-upload-status")).to_contain_text("Added wombat-notes.txt", timeout=SLOW_MS)
        ask(page, "What shape are wombat droppings?")  # the other session's document, without a reload
        wait_for_turn(page, 1)
        expect(page.locator("#qa-ev-1-1 header")).to_contain_text("wombat-notes.txt")
        for name in ("quokka-notes.txt", "wombat-notes.txt"):
            remove_document(other, name)
    finally:
        other.context.close()
