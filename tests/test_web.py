"""The web page in a real browser: Debian's Chromium driven by Playwright against the app on 127.0.0.1.
Chat: load `/`, ask, watch the answer stream in, open a source, follow up, use the keyboard, read it at
phone width, and see a clear message when the server is gone. Letters: list the letters, open a response
outline (deadlines, questions with their principles and annex quotes, facts alleged), copy or download
it as Markdown, deep links, the empty state. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import (
    ARTIFACTS,
    SAMPLE_NAME,
    LiveServer,
    collapse,
    make_assistant,
    reconfigured,
    reference_text,
)
from pydantic import SecretStr

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


def unreachable(server: LiveServer, ending: str) -> str:
    """The page's message when the server is gone; `ending` is what the view adds."""
    return (
        f"Cannot reach the assistant server at {server.url}. Check that it is running (make serve, or ungp "
        f"serve) and try again{ending}"
    )


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
    assert alert.inner_text() == unreachable(server, "; your question is still in the box.")
    assert page.get_by_label("Your question").input_value() == "What does GP 13 say?"
    assert page.locator(".turn").count() == 0
    assert page.get_by_role("button", name="Ask").is_enabled()


# -- the Letters view ----------------------------------------------------------------------------------
SLUG = "AL-OTH-170-2021"
# Both ways the page can copy fail: the clipboard API refuses and so does execCommand("copy").
NO_CLIPBOARD = """
navigator.clipboard.writeText = () => Promise.reject(new DOMException("denied", "NotAllowedError"));
document.execCommand = () => false;
"""


def outline_json(page, server: LiveServer) -> dict:
    response = page.request.get(f"{server.url}/letters/{SLUG}/outline")
    assert response.ok
    return response.json()


def open_sample_outline(page):
    """Wait for the outline of the sample letter; return its heading."""
    heading = page.get_by_role("heading", name="Response outline: AL OTH 170/2021", level=2)
    page.locator(".question-item").first.wait_for()
    return heading


def test_letters_list_outline_sources_and_markdown(page, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(f"{live_server.url}/#letters")
    nav = page.get_by_role("navigation", name="Views")
    assert nav.get_by_role("link", name="Letters").get_attribute("aria-current") == "page"
    assert nav.get_by_role("link", name="Chat").get_attribute("aria-current") is None
    assert page.get_by_role("heading", name="Letters", level=2).is_visible()
    assert page.get_by_label("Your question").is_hidden()

    card = page.locator(".letter-card").filter(has_text="AL OTH 170/2021")
    card.wait_for()
    assert page.locator(".letter-card").count() == 1
    assert card.locator(".fact-date").inner_text() == "12 March 2021"
    assert card.locator(".fact-addressee").inner_text() == "Mr. Li Zixue, ZTE Corporation"
    assert card.locator(".fact-questions").inner_text() == "8"
    assert card.locator(".fact-published").inner_text() == "11 May 2021"
    assert page.title() == "Letters — UNGP Assistant"

    card.get_by_role("link", name="AL OTH 170/2021").click()
    heading = open_sample_outline(page)
    assert page.url.endswith(f"#letters/{SLUG}")
    assert page.evaluate("document.activeElement.id") == "outline-title"  # focus moved to the outline
    assert heading.is_visible() and page.locator("#letters-index").is_hidden()
    assert page.locator("#outline .fact-signatories li").count() == 7

    deadline = page.locator(".deadline").filter(has_text="11 May 2021")
    assert "made public" in deadline.locator(".deadline-label").inner_text()
    assert "will be made public" in deadline.locator("blockquote").inner_text()
    assert deadline.get_by_role("link").get_attribute("href") == f"/documents/{SAMPLE_NAME}/file#page=4"

    questions = page.locator(".question-item")
    assert questions.count() == 8
    assert page.locator(".question-title").all_inner_texts() == [f"Question {n}" for n in range(1, 9)]
    seventh = page.locator("#question-7")
    assert "remediation" in seventh.locator(".question-text").inner_text()
    assert "22" in seventh.locator(".engaged-list").inner_text().split(", ")
    support = seventh.locator(".support").filter(
        has=page.locator(".support-principles", has_text=re.compile(r"^GP 22$"))
    )
    quote = support.locator("blockquote").inner_text()
    assert "Guiding Principle 22" in quote and collapse(quote) in reference_text(with_footer=False)
    source = support.get_by_role("link", name="Open the PDF at page 6")
    assert source.get_attribute("href") == f"/documents/{SAMPLE_NAME}/file#page=6"
    assert source.get_attribute("target") == "_blank"
    with page.context.expect_page() as opened:
        source.click()
    pdf = opened.value
    assert pdf.url == f"{live_server.url}/documents/{SAMPLE_NAME}/file#page=6"
    pdf.close()

    outline = outline_json(page, live_server)
    facts = page.locator(".allegation-text").all_inner_texts()
    assert facts == [a["text"] for a in outline["allegations"]] and len(facts) >= 3
    assert "80,000 Uyghur" in " ".join(facts)
    screenshot(page, "letters-view.png")

    markdown = outline["markdown"]
    page.get_by_role("button", name="Copy as Markdown").click()
    assert page.get_by_role("status").inner_text() == "Copied the outline as Markdown."
    assert page.evaluate("navigator.clipboard.readText()") == markdown
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download .md").click()
    download = downloading.value
    assert download.suggested_filename == f"{SLUG}-outline.md"
    assert Path(download.path()).read_text(encoding="utf-8") == markdown

    page.get_by_role("link", name="← All letters").click()
    page.locator("#letters-index").wait_for()
    page.wait_for_function("document.activeElement.dataset.slug === 'AL-OTH-170-2021'")  # back on it
    assert page.title() == "Letters — UNGP Assistant"


def test_letters_keyboard_copy_fallback_phone_width_and_deep_links(page, live_server):
    page.add_init_script(NO_CLIPBOARD)
    # keyboard from the list: the skip link leads to the heading, Tab to the letter, Enter opens it
    page.goto(f"{live_server.url}/#letters")
    page.locator(".letter-card").first.wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the letters"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "letters-title"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "AL OTH 170/2021"
    page.keyboard.press("Enter")
    open_sample_outline(page)
    page.wait_for_function("document.activeElement.id === 'outline-title'")

    # copying when the browser refuses: the Markdown is shown, selected, for Ctrl+C
    page.keyboard.press("Tab")  # from the heading to the copy button
    assert page.evaluate("document.activeElement.id") == "copy-md"
    page.keyboard.press("Enter")
    box = page.get_by_label(re.compile("The outline as Markdown"))
    box.wait_for()
    assert box.input_value() == outline_json(page, live_server)["markdown"]
    assert page.evaluate(
        "[document.activeElement.id, document.activeElement.selectionStart,"
        " document.activeElement.selectionEnd === document.activeElement.value.length]"
    ) == ["copy-text", 0, True]
    assert "press Ctrl+C" in page.get_by_role("status").inner_text()

    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.question-text')).fontSize)")
    assert font >= 16

    # the reference as printed works too, and the address becomes the slug
    page.goto(f"{live_server.url}/#letters/AL%20OTH%20170%2F2021")
    page.wait_for_url(f"**/#letters/{SLUG}")
    assert page.locator(".question-item").count() == 8

    # a deep link opened in a new tab goes straight to the outline, focused
    fresh = page.context.new_page()
    fresh.goto(f"{live_server.url}/#letters/{SLUG}")
    open_sample_outline(fresh)
    assert fresh.evaluate("document.activeElement.id") == "outline-title"
    assert fresh.locator(".question-item").count() == 8
    assert fresh.title() == "AL OTH 170/2021 — Letters — UNGP Assistant"

    # a reference that is not indexed: the server's message, in the page's alert
    fresh.goto(f"{live_server.url}/#letters/AL-OTH-999-2021")
    alert = fresh.get_by_role("alert")
    alert.wait_for()
    assert (
        alert.inner_text()
        == "no indexed letter has the reference 'AL OTH 999/2021'; `ungp letters` lists them"
    )
    assert fresh.get_by_role("button", name="Try again").is_visible()
    assert fresh.locator(".question-item").count() == 0


def test_letters_empty_state_then_server_gone(page, tmp_path, embedder):
    empty = make_assistant(tmp_path, embedder, files=[])
    server = LiveServer(create_app(empty))
    with server:
        page.goto(f"{server.url}/#letters")
        state = page.locator("#letters-state")
        page.wait_for_function(
            "document.querySelector('#letters-list').getAttribute('aria-busy') === 'false'"
        )
        assert state.inner_text().startswith("No letter is indexed yet.")
        assert page.locator(".letter-card").count() == 0
        assert page.get_by_role("alert").is_hidden()
    # the server is gone now: going back to the list says so, and offers to try again
    nav = page.get_by_role("navigation", name="Views")
    nav.get_by_role("link", name="Chat").click()
    nav.get_by_role("link", name="Letters").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == unreachable(server, ".")
    assert page.get_by_role("button", name="Try again").is_visible()


# -- a server that needs an access key ------------------------------------------------------------------
ACCESS_KEY = "page-key-2468"


@pytest.fixture(scope="module")
def keyed_server(assistant):
    with LiveServer(create_app(reconfigured(assistant, api_key=SecretStr(ACCESS_KEY)))) as server:
        yield server


def test_with_an_access_key(page, keyed_server):
    page.goto(keyed_server.url)
    assert page.title() == "UNGP Assistant"  # the page itself is open
    key_form = page.get_by_role("form", name="Access to this server")
    key_box = page.get_by_label("Access key", exact=True)
    message = page.locator("#key-message")
    assert key_form.is_hidden()

    # asking without a key: the key form, focused; cancelling keeps the question in the box
    page.get_by_label("Your question").fill(QUESTION)
    page.get_by_role("button", name="Ask").click()
    key_form.wait_for()
    assert message.inner_text() == "This server needs an access key"
    assert key_box.get_attribute("type") == "password"
    assert page.evaluate("document.activeElement.id") == "key-input"
    page.keyboard.press("Escape")
    assert key_form.is_hidden()
    assert page.get_by_role("alert").inner_text() == (
        "This server needs an access key; nothing was sent without it. Your question is still in the box."
    )
    assert page.locator(".turn").count() == 0
    assert page.get_by_label("Your question").input_value() == QUESTION

    # a wrong key is refused (and forgotten); the right one sends the question, once
    page.get_by_role("button", name="Ask").click()
    key_form.wait_for()
    key_box.fill("not-the-key")
    page.get_by_role("button", name="Use key").click()
    page.wait_for_function("document.querySelector('#key-message').textContent === 'That key was refused'")
    assert key_form.is_visible() and key_box.input_value() == ""
    assert key_box.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "key-input"
    assert page.evaluate("sessionStorage.getItem('ungp.key')") is None
    screenshot(page, "key-refused.png")
    key_box.fill(ACCESS_KEY)
    key_box.press("Enter")
    turn = page.locator(".turn").first
    turn.locator(".answer:not(.streaming)").wait_for()
    assert key_form.is_hidden() and page.locator(".turn").count() == 1
    assert "cooperate in their remediation" in turn.locator(".answer-text").inner_text()
    assert turn.locator(".cite").count() >= 1
    assert page.evaluate("sessionStorage.getItem('ungp.key')") == ACCESS_KEY

    # a source's PDF is fetched with the key and opened from a blob: URL, at the page
    turn.get_by_role("button", name="Source 1: AL OTH 170/2021, page 6", exact=True).click()
    link = turn.get_by_role("link", name="Open the document at page 6")
    with (
        page.expect_request(lambda request: request.url.endswith("/file")) as fetched,
        page.context.expect_page() as opened,
    ):
        link.click()
    assert fetched.value.all_headers()["authorization"] == f"Bearer {ACCESS_KEY}"
    pdf = opened.value
    pdf.wait_for_url(re.compile(rf"^blob:{re.escape(keyed_server.url)}/[0-9a-f-]+#page=6$"))
    pdf.close()

    # the Letters view uses the same key: the list, an outline, the Markdown download
    page.get_by_role("navigation", name="Views").get_by_role("link", name="Letters").click()
    page.locator(".letter-card").filter(has_text="AL OTH 170/2021").get_by_role("link").click()
    open_sample_outline(page)
    assert page.locator(".question-item").count() == 8
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download .md").click()
    download = downloading.value
    assert download.suggested_filename == f"{SLUG}-outline.md"
    expected = page.request.get(
        f"{keyed_server.url}/letters/{SLUG}/outline", headers={"Authorization": f"Bearer {ACCESS_KEY}"}
    ).json()["markdown"]
    assert Path(download.path()).read_text(encoding="utf-8") == expected
    assert key_form.is_hidden() and page.get_by_role("alert").is_hidden()

    # a reload keeps the key for this tab: the conversation comes back without asking again
    page.goto(keyed_server.url)
    page.locator(".turn .cite").first.wait_for()
    assert key_form.is_hidden()
    screenshot(page, "chat-with-key.png")
