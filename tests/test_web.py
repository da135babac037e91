"""The chat page in a real browser: Debian's Chromium driven by Playwright against the app on 127.0.0.1.
Load `/`, ask, watch the answer stream in, open a source, follow up, use the keyboard, read it at phone
width, and see a clear message when the server is gone. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ARTIFACTS, SAMPLE_NAME, LiveServer, collapse, reference_text

from assistant.api import create_app

CHROMIUM = Path("/usr/bin/chromium")
# Chromium resolves Google hosts on its own; this keeps every lookup on the machine.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"
QUESTION = "What does Guiding Principle 22 require of a company that caused harm?"
# Records every text the answer paragraph is given while it streams (each text node as it was added).
RECORD_STREAM = """
window.__shown = [];
new MutationObserver((records) => {
  for (const record of records) {
    const target = record.target;
    if (target.nodeType !== 1 || !target.matches(".answer.streaming .answer-text")) continue;
    for (const node of record.addedNodes) {
      if (node.nodeType === 3) window.__shown.push(node.data);
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = "Debian Chromium is missing: apt-get install -y chromium (or `make browser`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[OFFLINE])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def ask(page, question: str):
    """Type a question, send it with Enter, and wait for the finished answer; return its turn."""
    count = page.locator(".turn").count()
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    turn = page.locator(".turn").nth(count)
    turn.locator(".answer:not(.streaming)").wait_for()
    return turn


def test_ask_stream_and_open_a_source(page, live_server):
    page.add_init_script(RECORD_STREAM)
    page.goto(live_server.url)
    assert page.title() == "UNGP Assistant"
    assert (
        page.get_by_role("navigation", name="Views")
        .get_by_role("link", name="Chat")
        .get_attribute("aria-current")
        == "page"
    )
    assert page.get_by_role("button", name=QUESTION).is_visible()  # an example question

    turn = ask(page, QUESTION)
    shown = page.evaluate("window.__shown")
    answer_text = turn.locator(".answer-text").inner_text()
    # the answer grew piece by piece, each state a prefix of the final text
    partial = [s for s in dict.fromkeys(shown) if s]
    assert len(partial) >= 3, partial
    assert all(answer_text.startswith(s) for s in partial)
    assert "cooperate in their remediation" in answer_text
    assert page.get_by_label("Your question").input_value() == ""

    marker = turn.get_by_role("button", name="Source 1: AL OTH 170/2021, page 6", exact=True)
    assert marker.get_attribute("aria-expanded") == "false"
    marker.click()
    assert marker.get_attribute("aria-expanded") == "true"
    source = turn.get_by_role("region", name="Source 1")
    assert source.is_visible()
    quote = source.locator("blockquote").inner_text()
    assert "Guiding Principle 22" in quote and collapse(quote) in reference_text(with_footer=False)
    assert source.locator(".fact-page").inner_text() == "6"
    assert source.locator(".fact-document").inner_text() == SAMPLE_NAME
    assert source.locator(".fact-reference").inner_text() == "AL OTH 170/2021"
    assert "Guiding Principle 22" in source.locator(".fact-principles").inner_text()
    link = source.get_by_role("link", name="Open the document at page 6")
    assert link.get_attribute("href") == f"/documents/{SAMPLE_NAME}/file#page=6"
    screenshot(page, "chat-page.png")

    follow = ask(page, "what about GP 20?")
    assert follow.locator(".resolved").inner_text() == (
        "Read as: What does Guiding Principle 20 require of a company that caused harm?"
    )
    principles = []
    for marker in follow.locator(".cite").all():
        marker.click()
        principles.append(follow.locator(".source .fact-principles").inner_text())
    assert any("Guiding Principle 20" in p for p in principles), principles
    screenshot(page, "chat-follow-up.png")

    # the conversation is still there after a reload (it is kept by the server)
    page.reload()
    page.locator(".turn").nth(1).locator(".cite").first.wait_for()
    assert page.locator(".turn .question-text").all_inner_texts() == [QUESTION, "what about GP 20?"]


def test_keyboard_only(page, live_server):
    page.goto(live_server.url)
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to the question box"
    page.keyboard.press("Enter")
    page.keyboard.type("Which three things should a business have in place according to GP 15?")
    page.keyboard.press("Enter")
    turn = page.locator(".turn").first
    turn.locator(".answer:not(.streaming)").wait_for()
    assert page.evaluate("document.activeElement.id") == "message"
    marker = turn.locator(".cite").first
    marker.focus()
    page.keyboard.press("Enter")
    assert turn.get_by_role("region", name="Source 1").is_visible()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Source 1"
    page.keyboard.press("Tab")  # on to the panel's link
    assert page.evaluate("document.activeElement.textContent").startswith("Open the document at page")
    page.keyboard.press("Escape")
    assert turn.get_by_role("region", name="Source 1").is_hidden()
    assert page.evaluate("document.activeElement.dataset.cite") == "1"


def test_readable_at_phone_width(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(live_server.url)
        page.get_by_role("button", name="What can a company do if it lacks leverage over a supplier?").tap()
        turn = page.locator(".turn").first
        turn.locator(".answer:not(.streaming)").wait_for()
        turn.locator(".cite").first.tap()
        turn.locator(".source").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        box = page.get_by_label("Your question").bounding_box()
        send = page.get_by_role("button", name="Ask").bounding_box()
        assert box and send and box["width"] >= 300 and send["width"] >= 300  # stacked, full width
        font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.answer-text')).fontSize)")
        assert font >= 16
        screenshot(page, "chat-phone.png")
    finally:
        context.close()


def test_a_clear_message_when_the_server_is_unreachable(page, assistant):
    server = LiveServer(create_app(assistant))
    with server:
        page.goto(server.url)
        page.get_by_label("Your question").fill("What does GP 13 say?")
    # the server is gone now
    page.get_by_role("button", name="Ask").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == (
        f"Cannot reach the assistant server at {server.url}. Check that it is running (make serve, or ungp "
        "serve) and try again; your question is still in the box."
    )
    assert page.get_by_label("Your question").input_value() == "What does GP 13 say?"
    assert page.locator(".turn").count() == 0
    assert page.get_by_role("button", name="Ask").is_enabled()
