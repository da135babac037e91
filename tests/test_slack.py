"""The Slack app over the real protocol, on loopback only: requests signed as Slack signs them, sent to
`/slack/events` on a live uvicorn server; the app's Web API calls and `response_url` posts go to a stand-in
for Slack's Web API on 127.0.0.1 (tests/slack_standin.py); Socket Mode requests handed to the real Socket
Mode handler."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import logging
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from click.testing import CliRunner
from conftest import LiveServer, collapse, reference_text
from pydantic import SecretStr, ValidationError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_standin import (
    BOT_ID,
    BOT_USER,
    TEAM,
    Call,
    SlackStandIn,
    SocketModeStandIn,
    signature_headers,
)

from assistant.api import create_app
from assistant.cli import cli
from assistant.config import Settings
from assistant.errors import SlackUnavailable
from assistant.records import Answer, Citation, ShownAnswer
from assistant.service import Assistant
from assistant.slack import (
    HELPFUL,
    HIDE_QUOTES,
    NOT_HELPFUL,
    NOT_SUPPORTED,
    SHOW_QUOTES,
    answer_blocks,
    escape,
    pieces,
    run_socket_mode,
    socket_mode_handler,
    thread_conversation,
    usage,
)

TOKEN = "xoxb-0000-standin"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0COMPLIANCE"
ASKER = "U0ASKER"
GP22 = "What does Guiding Principle 22 require of a company that caused harm?"
_ts = itertools.count(1)


def next_ts() -> str:
    """A fresh Slack message timestamp, so that every test has threads of its own."""
    return f"{1_700_000_000 + next(_ts)}.000100"


# -- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def standin():
    with SlackStandIn(TOKEN, app_token="xapp-1-standin") as server:
        yield server


@pytest.fixture(scope="module")
def slack_assistant(assistant: Assistant, standin: SlackStandIn, tmp_path_factory) -> Assistant:
    """The session's model and index with Slack configured; conversations and feedback in a folder of
    its own."""
    settings = Settings(
        corpus_dir=assistant.settings.corpus_dir,
        index_dir=tmp_path_factory.mktemp("slack"),
        slack_bot_token=TOKEN,
        slack_app_token="xapp-1-standin",
        slack_signing_secret=SECRET,
        slack_api_url=f"{standin.url}/api/",
    )
    return Assistant(settings, embedder=assistant.embedder, index=assistant.index)


@pytest.fixture(scope="module")
def slack_server(slack_assistant: Assistant):
    with LiveServer(create_app(slack_assistant)) as server:
        yield server


@pytest.fixture(scope="module")
def http(slack_server: LiveServer):
    with httpx.Client(base_url=slack_server.url, timeout=60) as client:
        yield client


# -- requests as Slack sends them ----------------------------------------------------------------------
def send(http: httpx.Client, body: bytes, content_type: str, **headers: Any) -> httpx.Response:
    signed = signature_headers(body, headers.pop("secret", SECRET), headers.pop("timestamp", None))
    return http.post(
        "/slack/events", content=body, headers={"Content-Type": content_type, **signed, **headers}
    )


def send_event(http: httpx.Client, payload: dict[str, Any], **headers: Any) -> httpx.Response:
    return send(http, json.dumps(payload).encode(), "application/json", **headers)


def send_form(http: httpx.Client, fields: dict[str, str], **headers: Any) -> httpx.Response:
    return send(http, urlencode(fields).encode(), "application/x-www-form-urlencoded", **headers)


def event_callback(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0UNGP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def mention(text: str, ts: str, thread_ts: str | None = None, user: str = ASKER) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
    }
    return event | ({"thread_ts": thread_ts} if thread_ts else {})


def direct_message(text: str, ts: str, thread_ts: str | None = None, **extra: Any) -> dict[str, Any]:
    event = {
        "type": "message",
        "channel_type": "im",
        "user": ASKER,
        "text": text,
        "ts": ts,
        "channel": "D0DIRECT",
        "event_ts": ts,
    }
    return event | ({"thread_ts": thread_ts} if thread_ts else {}) | extra


def slash(text: str, response_url: str) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "standin",
        "channel_id": CHANNEL,
        "channel_name": "compliance",
        "user_id": ASKER,
        "user_name": "asker",
        "command": "/ungp",
        "text": text,
        "api_app_id": "A0UNGP",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def click(
    action_id: str, answer_id: str, posted: Call | None, response_url: str, user: str = "U0REVIEWER"
) -> dict[str, str]:
    """A button click on an answer (`posted`: the chat.postMessage call that showed it; None for an
    ephemeral answer to a slash command)."""
    if posted is not None:
        container = {
            "type": "message",
            "message_ts": posted.reply["ts"],
            "channel_id": posted.params["channel"],
            "is_ephemeral": False,
            "thread_ts": posted.params.get("thread_ts"),
        }
    else:
        container = {"type": "message", "message_ts": "1.1", "channel_id": CHANNEL, "is_ephemeral": True}
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "reviewer", "team_id": TEAM},
        "api_app_id": "A0UNGP",
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": "4.5.6",
        "team": {"id": TEAM, "domain": "standin"},
        "channel": {"id": container["channel_id"], "name": "compliance"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "ungp_answer",
                "value": answer_id,
                "action_ts": str(time.time()),
            }
        ],
    }
    return {"payload": json.dumps(payload)}


# -- reading what the app posted ----------------------------------------------------------------------
def in_thread(ts: str, channel: str = CHANNEL):
    return lambda call: call.params.get("thread_ts") == ts and call.params.get("channel") == channel


def texts(blocks: list[dict], kind: str) -> list[str]:
    """The mrkdwn texts of the blocks of one kind ("section" or "context")."""
    found = []
    for block in blocks:
        if block["type"] == kind == "section":
            found.append(block["text"]["text"])
        elif block["type"] == kind == "context":
            found += [element["text"] for element in block["elements"]]
    return found


def buttons(blocks: list[dict]) -> dict[str, str]:
    """action_id -> value of the message's buttons."""
    return {e["action_id"]: e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]}


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def assert_cites(blocks: list[dict], answer: Answer) -> None:
    """Every citation of `answer` has its context line: [n], reference, document, page, principles."""
    lines = texts(blocks, "context")
    assert answer.citations
    for citation in answer.citations:
        (line,) = [x for x in lines if x.startswith(f"*[{citation.id}]* ")]
        assert citation.document in line and f"p. {citation.page}" in line
        if citation.reference:
            assert citation.reference in line
        if citation.principles:
            assert "GP " + ", ".join(map(str, citation.principles)) in line


# -- signatures ----------------------------------------------------------------------------------------
def test_url_verification_is_answered(http):
    response = send_event(
        http,
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        },
    )
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


@pytest.mark.parametrize(
    ("secret", "age", "why"),
    [
        ("not-the-signing-secret", 0, "forged"),
        (SECRET, 5 * 60 + 10, "stale"),
        (SECRET, -(5 * 60 + 10), "from the future"),
    ],
)
def test_forged_and_stale_requests_are_refused(http, standin, secret, age, why):
    headers = {"secret": secret, "timestamp": int(time.time()) - age}
    ts = next_ts()
    response = send_event(http, event_callback(mention(GP22, ts)), **headers)
    assert response.status_code == 401, why
    challenge = send_event(http, {"token": "x", "challenge": "c", "type": "url_verification"}, **headers)
    assert challenge.status_code == 401, why
    time.sleep(0.3)
    assert standin.find("chat.postMessage", in_thread(ts)) == []


def test_a_request_signed_four_minutes_ago_is_accepted(http):
    body = {"token": "x", "challenge": "four", "type": "url_verification"}
    response = send_event(http, body, timestamp=int(time.time()) - 4 * 60)
    assert response.status_code == 200 and response.json() == {"challenge": "four"}


def test_unsigned_requests_are_refused(http):
    body = json.dumps({"token": "x", "challenge": "c", "type": "url_verification"}).encode()
    response = http.post("/slack/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401


# -- mentions and direct messages ----------------------------------------------------------------------
def test_a_mention_is_answered_in_its_thread_with_citations(http, standin, assistant):
    ts = next_ts()
    started = time.perf_counter()
    response = send_event(http, event_callback(mention(GP22, ts)))
    assert response.status_code == 200
    assert time.perf_counter() - started < 3, "Slack wants the event acknowledged within three seconds"
    (posted,) = standin.wait("chat.postMessage", in_thread(ts))
    expected = assistant.ask(GP22)
    blocks = posted.params["blocks"]
    assert expected.grounded and NOT_SUPPORTED not in texts(blocks, "section")
    assert unescape(" ".join(texts(blocks, "section"))) == expected.answer
    assert_cites(blocks, expected)
    assert 22 in {n for c in expected.citations for n in c.principles}
    assert set(buttons(blocks)) == {SHOW_QUOTES, HELPFUL, NOT_HELPFUL}
    assert posted.params["text"] == expected.answer
    assert posted.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_reply_in_the_thread_is_a_follow_up(http, standin, slack_assistant):
    ts = next_ts()
    send_event(http, event_callback(mention(GP22, ts)))
    standin.wait("chat.postMessage", in_thread(ts))
    send_event(http, event_callback(mention("what about GP 20?", next_ts(), thread_ts=ts)))
    first, second = standin.wait("chat.postMessage", in_thread(ts), count=2)
    resolved = "What does Guiding Principle 20 require of a company that caused harm?"
    blocks = second.params["blocks"]
    assert f"_Read as:_ {resolved}" in texts(blocks, "context")
    assert any("GP 20" in line or "GP 13, 20" in line for line in texts(blocks, "context"))
    assert "track the effectiveness" in " ".join(texts(blocks, "section"))
    turns = slack_assistant.conversation(thread_conversation(TOKEN, TEAM, CHANNEL, ts))
    assert [t.message for t in turns] == [GP22, "what about GP 20?"]
    assert turns[1].resolved == resolved and 20 in {
        n for c in turns[1].answer.citations for n in c.principles
    }


def test_a_new_thread_is_a_new_conversation(http, standin):
    ts = next_ts()
    send_event(http, event_callback(mention("what about GP 20?", ts)))
    (posted,) = standin.wait("chat.postMessage", in_thread(ts))
    assert not any(line.startswith("_Read as:_") for line in texts(posted.params["blocks"], "context"))


def test_a_direct_message_is_answered_in_its_thread_and_followed_up(http, standin):
    ts = next_ts()
    send_event(
        http,
        event_callback(direct_message("When will the communication and any response be made public?", ts)),
    )
    (first,) = standin.wait("chat.postMessage", in_thread(ts, "D0DIRECT"))
    assert "60 days" in first.params["text"]
    send_event(http, event_callback(direct_message("deadline?", next_ts(), thread_ts=ts)))
    _, second = standin.wait("chat.postMessage", in_thread(ts, "D0DIRECT"), count=2)
    assert any(
        line.startswith("_Read as:_ deadline? (about: ") for line in texts(second.params["blocks"], "context")
    )
    assert "60 days" in second.params["text"]


def test_the_apps_own_messages_and_edits_are_not_answered(http, standin):
    own, edited, sentinel = next_ts(), next_ts(), next_ts()
    send_event(http, event_callback(direct_message(GP22, own, user=BOT_USER, bot_id=BOT_ID)))
    send_event(http, event_callback(direct_message(GP22, edited, subtype="message_changed")))
    send_event(http, event_callback(direct_message(GP22, sentinel)))
    standin.wait("chat.postMessage", in_thread(sentinel, "D0DIRECT"))
    time.sleep(0.3)
    assert standin.find("chat.postMessage", lambda c: c.params.get("thread_ts") in (own, edited)) == []


def test_an_unsupported_answer_is_marked(http, standin, assistant):
    question = "What does Guiding Principle 17 say?"
    expected = assistant.ask(question)
    assert not expected.grounded
    ts = next_ts()
    send_event(http, event_callback(mention(question, ts)))
    (posted,) = standin.wait("chat.postMessage", in_thread(ts))
    sections = texts(posted.params["blocks"], "section")
    assert sections[0] == NOT_SUPPORTED
    assert unescape(" ".join(sections[1:])) == expected.answer
    assert posted.params["text"].startswith("Not supported by the corpus. ")


@pytest.mark.parametrize("text", ["", "help", "  HELP "])
def test_a_bare_mention_or_help_shows_usage(http, standin, slack_assistant, text):
    ts = next_ts()
    send_event(http, event_callback(mention(text, ts)))
    (posted,) = standin.wait("chat.postMessage", in_thread(ts))
    assert posted.params["text"] == usage(slack_assistant.settings.max_question_chars)
    assert "/ungp <question>" in posted.params["text"]


def test_an_overlong_mention_is_refused(http, standin, slack_assistant):
    limit = slack_assistant.settings.max_question_chars
    ts = next_ts()
    send_event(http, event_callback(mention("x" * (limit + 1), ts)))
    (posted,) = standin.wait("chat.postMessage", in_thread(ts))
    assert posted.params["text"] == (
        f":no_entry: I can't take that question: the question is {limit + 1} characters long; "
        f"the limit is {limit}. Shorten it and ask again."
    )
    assert "blocks" not in posted.params


def test_a_retried_event_is_answered_once(http, standin):
    ts = next_ts()
    payload = event_callback(mention(GP22, ts))
    assert send_event(http, payload).status_code == 200
    retry = send_event(http, payload, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200 and retry.headers["x-slack-no-retry"] == "1"
    standin.wait("chat.postMessage", in_thread(ts))
    # a later message in the thread is answered after anything the retry could have started
    send_event(http, event_callback(mention("what about GP 20?", next_ts(), thread_ts=ts)))
    standin.wait("chat.postMessage", in_thread(ts), count=2)
    time.sleep(0.3)
    assert len(standin.find("chat.postMessage", in_thread(ts))) == 2


# -- /ungp ---------------------------------------------------------------------------------------------
def test_the_slash_command_acks_before_the_answer_is_computed(http, standin, slack_assistant, assistant):
    url = f"{standin.url}/respond/slash-{uuid.uuid4().hex}"
    standin.responses_open.clear()  # Slack will not take the answer until the test has the ack
    try:
        ack = send_form(http, slash(f"  {GP22} ", url))
        assert ack.status_code == 200
        assert ack.json() == {
            "text": ":hourglass_flowing_sand: Looking that up…",
            "response_type": "ephemeral",
        }
        assert not standin.find("respond", lambda c: c.path == url.removeprefix(standin.url))
    finally:
        standin.responses_open.set()
    (answer,) = standin.wait("respond", lambda c: c.path == url.removeprefix(standin.url))
    expected = assistant.ask(GP22)
    blocks = answer.params["blocks"]
    assert texts(blocks, "context")[0] == f"*<@{ASKER}> asked:* {escape(GP22)}"
    assert unescape(" ".join(texts(blocks, "section"))) == expected.answer
    assert_cites(blocks, expected)
    assert answer.params["response_type"] == "ephemeral" and answer.params["replace_original"] is False


@pytest.mark.parametrize("text", ["help", "", "   ", "Help"])
def test_slash_help_and_an_empty_question_show_usage(http, standin, slack_assistant, text):
    url = f"{standin.url}/respond/usage-{uuid.uuid4().hex}"
    ack = send_form(http, slash(text, url))
    assert ack.status_code == 200
    assert ack.json()["text"] == usage(slack_assistant.settings.max_question_chars)
    time.sleep(0.3)
    assert standin.find("respond", lambda c: c.path == url.removeprefix(standin.url)) == []


def test_an_overlong_slash_question_is_refused_at_once(http, standin, slack_assistant):
    limit = slack_assistant.settings.max_question_chars
    url = f"{standin.url}/respond/long-{uuid.uuid4().hex}"
    ack = send_form(http, slash("why " * limit, url))
    assert ack.json()["text"] == (
        f":no_entry: I can't take that question: the question is {len(('why ' * limit).strip())} "
        f"characters long; the limit is {limit}. Shorten it and ask again."
    )
    time.sleep(0.3)
    assert standin.find("respond", lambda c: c.path == url.removeprefix(standin.url)) == []


# -- buttons and feedback ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def answered(http, standin) -> Call:
    """An answer posted in a thread, to click on."""
    ts = next_ts()
    send_event(http, event_callback(mention(GP22, ts)))
    (posted,) = standin.wait("chat.postMessage", in_thread(ts))
    return posted


def test_show_quotes_reveals_the_verbatim_quotes_and_hide_takes_them_away(http, standin, answered, assistant):
    answer_id = buttons(answered.params["blocks"])[SHOW_QUOTES]
    expected = assistant.ask(GP22)
    response = send_form(http, click(SHOW_QUOTES, answer_id, answered, f"{standin.url}/respond/quotes"))
    assert response.status_code == 200
    is_this_message = lambda c: c.params["ts"] == answered.reply["ts"]  # noqa: E731
    (shown,) = standin.wait("chat.update", is_this_message)
    assert shown.params["channel"] == CHANNEL
    blocks = shown.params["blocks"]
    quotes = {
        t.split("\n>", 1)[0]: unescape(t.split("\n>", 1)[1]) for t in texts(blocks, "section") if "\n>" in t
    }
    letter = reference_text(with_footer=False)
    assert len(quotes) == len(expected.citations)
    for citation in expected.citations:
        quote = quotes[f"*[{citation.id}]* p. {citation.page}"]
        assert quote == collapse(citation.quote) and quote in letter
    assert set(buttons(blocks)) == {HIDE_QUOTES, HELPFUL, NOT_HELPFUL}
    assert_cites(blocks, expected)

    send_form(http, click(HIDE_QUOTES, answer_id, answered, f"{standin.url}/respond/quotes"))
    _, hidden = standin.wait("chat.update", is_this_message, count=2)
    assert hidden.params["blocks"] == answered.params["blocks"]


def test_show_quotes_on_an_ephemeral_answer_replaces_it_through_response_url(http, standin):
    url = f"{standin.url}/respond/slash-{uuid.uuid4().hex}"
    send_form(http, slash(GP22, url))
    (answer,) = standin.wait("respond", lambda c: c.path == url.removeprefix(standin.url))
    answer_id = buttons(answer.params["blocks"])[SHOW_QUOTES]
    click_url = f"{standin.url}/respond/click-{uuid.uuid4().hex}"
    send_form(http, click(SHOW_QUOTES, answer_id, None, click_url))
    (replaced,) = standin.wait("respond", lambda c: c.path == click_url.removeprefix(standin.url))
    assert replaced.params["replace_original"] is True
    assert any("\n>" in t for t in texts(replaced.params["blocks"], "section"))


def feedback_csv(slack_assistant: Assistant, *args: str) -> list[dict[str, str]]:
    result = CliRunner().invoke(cli, ["feedback", "--format", "csv", *args], obj=slack_assistant)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


def test_feedback_clicks_are_stored_and_listed(http, standin, answered, slack_assistant, assistant):
    answer_id = buttons(answered.params["blocks"])[HELPFUL]
    url = f"{standin.url}/respond/feedback"
    for user, action in (("U0ALICE", HELPFUL), ("U0BOB", HELPFUL), ("U0BOB", NOT_HELPFUL)):
        assert send_form(http, click(action, answer_id, answered, url, user=user)).status_code == 200
        standin.wait("chat.postEphemeral", lambda c, user=user: c.params["user"] == user)
    thanks = standin.wait("chat.postEphemeral", lambda c: c.params["user"] == "U0BOB", count=2)
    assert [c.params["text"] for c in thanks] == [
        "Thanks, noted as *helpful*. Your feedback is reviewed.",
        "Thanks, noted as *not helpful*. Your feedback is reviewed.",
    ]
    assert thanks[0].params["thread_ts"] == answered.params["thread_ts"]
    # the thanks is posted once the vote is stored
    rows = [r for r in feedback_csv(slack_assistant) if r["answer_id"] == answer_id]
    expected = assistant.ask(GP22)
    assert {r["user"]: r["verdict"] for r in rows} == {"U0ALICE": "helpful", "U0BOB": "not helpful"}
    for row in rows:
        assert row["question"] == row["resolved_question"] == GP22
        assert row["answer"] == expected.answer and row["grounded"] == "true"
        assert row["asker"] == ASKER and row["channel"] == CHANNEL and row["asked_via"] == "mention"
        assert f"[1] {expected.citations[0].reference} p. {expected.citations[0].page}" in row["sources"]
        assert row["time"].endswith("+00:00")


def test_feedback_is_exported_to_a_file_and_shown_as_a_table(
    http, standin, answered, slack_assistant, tmp_path
):
    answer_id = buttons(answered.params["blocks"])[HELPFUL]
    send_form(http, click(HELPFUL, answer_id, answered, f"{standin.url}/respond/fb", user="U0CAROL"))
    standin.wait("chat.postEphemeral", lambda c: c.params["user"] == "U0CAROL")
    target = tmp_path / "feedback.csv"
    result = CliRunner().invoke(cli, ["feedback", "--output", str(target)], obj=slack_assistant)
    assert result.exit_code == 0, result.output
    written = target.read_text(encoding="utf-8")
    assert written.splitlines()[0] == (
        "time,user,verdict,question,resolved_question,answer,grounded,sources,asked_via,channel,asker,answer_id"
    )
    rows = list(csv.DictReader(io.StringIO(written)))
    assert "U0CAROL" in {r["user"] for r in rows}
    assert collapse(result.output) == f"Wrote {len(rows)} verdict(s) to {target}"
    table = CliRunner().invoke(cli, ["feedback"], obj=slack_assistant)
    assert table.exit_code == 0 and "U0CAROL" in table.output and "helpful" in table.output
    as_json = json.loads(
        CliRunner().invoke(cli, ["feedback", "--format", "json"], obj=slack_assistant).output
    )
    assert as_json == rows


def test_feedback_on_a_forgotten_answer_says_so(http, standin, answered):
    send_form(http, click(HELPFUL, "0" * 32, answered, f"{standin.url}/respond/x", user="U0DAVE"))
    (told,) = standin.wait("chat.postEphemeral", lambda c: c.params["user"] == "U0DAVE")
    assert told.params["text"] == (
        f":no_entry: I can't answer that: no kept answer with id '{'0' * 32}' (old answers are removed to "
        "keep the store small); ask the question again."
    )


def test_feedback_with_nothing_recorded(tmp_path, embedder):
    empty = Assistant(Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "indexes"), embedder)
    result = CliRunner().invoke(cli, ["feedback", "--format", "csv"], obj=empty)
    assert result.exit_code == 0 and result.output.startswith("time,user,verdict,question,")
    assert len(result.output.splitlines()) == 1


# -- Socket Mode ---------------------------------------------------------------------------------------
class Recorder:
    """What the Socket Mode handler talks to instead of the WebSocket client: it keeps the responses."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("test.socket_mode")
        self.responses: list[SocketModeResponse] = []
        self.at: list[float] = []

    async def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.responses.append(response)
        self.at.append(time.perf_counter())


def test_socket_mode_answers_mentions_and_the_slash_command(slack_assistant, standin, assistant):
    ts = next_ts()
    url = f"{standin.url}/respond/socket-{uuid.uuid4().hex}"
    recorder = Recorder()

    async def scenario() -> tuple[Call, Call]:
        handler = socket_mode_handler(slack_assistant)
        try:
            event = event_callback(mention(GP22, ts))
            await handler.handle(
                recorder, SocketModeRequest(type="events_api", envelope_id="env-1", payload=event)
            )
            command = SocketModeRequest(type="slash_commands", envelope_id="env-2", payload=slash(GP22, url))
            await handler.handle(recorder, command)
            # the answers are worked out by tasks on this loop: wait for them without blocking it
            (posted,) = await asyncio.to_thread(standin.wait, "chat.postMessage", in_thread(ts))
            (responded,) = await asyncio.to_thread(
                standin.wait, "respond", lambda c: c.path == url.removeprefix(standin.url)
            )
            return posted, responded
        finally:
            await handler.close_async()

    posted, responded = asyncio.run(scenario())
    assert [r.envelope_id for r in recorder.responses] == ["env-1", "env-2"]
    assert recorder.responses[0].payload is None
    assert recorder.responses[1].payload == {
        "text": ":hourglass_flowing_sand: Looking that up…",
        "response_type": "ephemeral",
    }
    assert recorder.at[1] < responded.at
    expected = assistant.ask(GP22)
    for blocks in (posted.params["blocks"], responded.params["blocks"]):
        assert_cites(blocks, expected)
    assert posted.params["thread_ts"] == ts


def test_ungp_slack_connects_over_a_websocket_and_answers(slack_assistant, standin):
    """Socket Mode end to end: the app asks the Web API for a WebSocket URL with the app token, connects,
    receives envelopes, acknowledges them and posts the answers."""
    ts = next_ts()
    url = f"{standin.url}/respond/ws-{uuid.uuid4().hex}"
    connected = threading.Event()
    with SocketModeStandIn() as socket:
        standin.socket_url = socket.url
        loop = asyncio.new_event_loop()
        task = loop.create_task(run_socket_mode(slack_assistant, connected.set))
        thread = threading.Thread(target=lambda: loop.run_until_complete(asyncio.wait([task])), daemon=True)
        thread.start()
        try:
            assert connected.wait(30)
            opened = standin.find("apps.connections.open")
            assert opened and opened[-1].headers["Authorization"] == "Bearer xapp-1-standin"
            socket.send(
                {
                    "envelope_id": "ws-1",
                    "type": "events_api",
                    "accepts_response_payload": False,
                    "retry_attempt": 0,
                    "retry_reason": "",
                    "payload": event_callback(mention(GP22, ts)),
                }
            )
            sent = time.perf_counter()
            socket.send(
                {
                    "envelope_id": "ws-2",
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                    "payload": slash(GP22, url),
                }
            )
            assert socket.ack("ws-1")[1] == {"envelope_id": "ws-1"}
            acked, ack = socket.ack("ws-2")
            assert ack["payload"]["text"] == ":hourglass_flowing_sand: Looking that up…"
            (posted,) = standin.wait("chat.postMessage", in_thread(ts))
            (responded,) = standin.wait("respond", lambda c: c.path == url.removeprefix(standin.url))
            assert sent < acked < responded.at
            assert set(buttons(posted.params["blocks"])) == {SHOW_QUOTES, HELPFUL, NOT_HELPFUL}
        finally:
            standin.socket_url = None
            loop.call_soon_threadsafe(task.cancel)
            thread.join(10)
            loop.close()
    assert task.cancelled()


def test_ungp_slack_refuses_a_bad_app_token(slack_assistant, standin, tmp_path):
    settings = slack_assistant.settings.model_copy(update={"slack_app_token": SecretStr("xapp-wrong")})
    bad = Assistant(settings, embedder=slack_assistant.embedder, index=slack_assistant.index)
    with pytest.raises(SlackUnavailable) as caught:
        asyncio.run(run_socket_mode(bad))
    assert str(caught.value) == (
        "Slack refused SLACK_APP_TOKEN (invalid_auth); it must be an app-level token with the "
        "connections:write scope, and Socket Mode must be on in the app's settings"
    )


# -- the manifest --------------------------------------------------------------------------------------
MANIFEST = Path(__file__).resolve().parent.parent / "slack" / "manifest.yml"


def test_the_manifest_asks_for_what_the_app_handles(http, slack_assistant):
    """Every event the manifest subscribes to has a listener (Bolt answers 404 to one without, and Slack
    then retries), the slash command is the one the app answers, and the buttons can reach the app."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == {"app_mention", "message.im"}
    for name in events:
        kind = name.split(".")[0]
        ignored = {
            "type": kind,
            "subtype": "message_changed",
            "bot_id": "B0OTHER",
            "channel": "C1",
            "ts": "1.1",
        }
        assert send_event(http, event_callback(ignored)).status_code == 200, name
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/ungp"
    ack = send_form(http, slash("help", f"{http.base_url}respond-unused") | {"command": command["command"]})
    assert ack.json()["text"] == usage(slack_assistant.settings.max_question_chars)
    assert manifest["settings"]["interactivity"]["is_enabled"] and manifest["settings"]["socket_mode_enabled"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= scopes


def test_an_event_without_a_listener_is_not_acknowledged(http):
    """The other side of the manifest test: Bolt answers 404 to an event nobody listens to."""
    assert send_event(http, event_callback({"type": "reaction_added", "user": ASKER})).status_code == 404


# -- configuration -------------------------------------------------------------------------------------
def test_slack_settings_come_from_slacks_own_variable_names(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.setenv("UNGP_SLACK_API_URL", "http://127.0.0.1:9/api/")
    settings = Settings()
    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == "xoxb-1"
    assert settings.slack_app_token is not None and settings.slack_app_token.get_secret_value() == "xapp-1"
    assert settings.slack_http and settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SLACK_BOT_TOKEN": "xapp-1"},
            "SLACK_BOT_TOKEN must start with 'xoxb-'; check that the tokens are not swapped",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"},
            "SLACK_APP_TOKEN must start with 'xapp-'; check that the tokens are not swapped",
        ),
        (
            {"SLACK_SIGNING_SECRET": "s3cret"},
            "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not; Slack needs the bot "
            "token (xoxb-...) to post answers",
        ),
    ],
)
def test_slack_settings_that_cannot_work_are_refused_at_start(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert caught.value.errors()[0]["msg"] == f"Value error, {message}"
    result = CliRunner().invoke(cli, ["feedback"])
    assert result.exit_code == 2 and f"invalid settings: {message}" in result.output


def test_without_slack_settings_slack_is_off(assistant, live_server, caplog):
    with caplog.at_level(logging.INFO, logger="assistant.api"):
        app = create_app(assistant)
    assert "Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in caplog.text
    assert "/slack/events" not in app.openapi()["paths"]
    assert httpx.post(f"{live_server.url}/slack/events", json={"type": "url_verification"}).status_code == 404


def test_with_slack_settings_the_route_is_documented(http):
    route = http.get("/openapi.json").json()["paths"]["/slack/events"]["post"]
    assert "signed with the app's signing secret" in collapse(route["description"])


def test_ungp_slack_without_tokens_says_what_is_missing(settings):
    result = CliRunner().invoke(cli, ["slack"], obj=Assistant(settings))
    assert result.exit_code == 1
    assert "Socket Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN" in result.output


def test_block_kit_limits_are_kept():
    """Slack refuses a message with more than 50 blocks or a section over 3000 characters."""
    text = "word " * 1500
    parts = pieces(text.strip())
    assert len(parts) == 3 and all(len(p) <= 3000 for p in parts)
    assert " ".join(parts) == text.strip()
    citations = tuple(
        Citation(n, "letter.pdf", "AL OTH 1/2024", 1, (22,), "q & <a> " * 600, "annex") for n in range(1, 31)
    )
    shown = ShownAnswer("a" * 32, "q?", "q?", Answer(text, True, citations), ASKER, CHANNEL, "slash", 0.0)
    blocks = answer_blocks(shown, quotes=True)
    assert len(blocks) <= 50
    assert all(len(t) <= 3000 for t in texts(blocks, "section") + texts(blocks, "context"))
    assert "and 10 more sources" in texts(blocks, "context")
    assert texts(blocks, "context")[1] == "*[1]* AL OTH 1/2024 · letter.pdf · p. 1 · annex · GP 22"
    quote = texts(blocks, "section")[-1]
    assert "&lt;a&gt;" in quote and "<a>" not in quote
    assert re.search(r"(&lt;a&gt;|&amp;|q)…$", quote), quote[-20:]  # cut between entities, not in one
