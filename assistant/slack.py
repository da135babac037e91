"""Slack entry point: slack-bolt listeners (mentions, direct messages, `/ungp`, buttons) over the
`Assistant`, and the Block Kit rendering of its answers.

One `AsyncApp` serves both ways of running: Socket Mode (`ungp slack`, through the aiohttp Socket Mode
client, so no public URL is needed) and HTTP mode (`/slack/events` in the FastAPI app, every request's
signature checked by Bolt). Being async, it acknowledges Slack at once while answers are computed in
worker threads (`asyncio.to_thread`): the service is blocking code, and the event loop must stay free for
acks, the web page and the API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from assistant.errors import AnswerNotFound, AssistantError, BadQuestion, SlackUnavailable
from assistant.records import Citation, ShownAnswer
from assistant.service import Assistant

log = logging.getLogger(__name__)
Block = dict[str, Any]

SHOW_QUOTES = "ungp_show_quotes"
HIDE_QUOTES = "ungp_hide_quotes"
HELPFUL = "ungp_helpful"
NOT_HELPFUL = "ungp_not_helpful"
MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
HELP_WORDS = {"", "help", "-h", "--help", "?", "usage"}
SECTION_CHARS = 3000  # Slack's limit on a section's text
QUOTE_CHARS = 2800  # a quote longer than this is cut (its section must stay under SECTION_CHARS)
MAX_SOURCES = 20  # sources shown; with their quotes they stay within Slack's 50 blocks a message
MAX_BLOCKS = 50
NOT_SUPPORTED = ":warning: *Not supported by the corpus.* The indexed letters do not answer this question."
SORRY = "Sorry, something went wrong while answering; the server's log has the details."
RETRY_MEMORY = 10_000  # event ids remembered to drop Slack's retries
RETRY_SECONDS = 3600.0


# -- Block Kit -------------------------------------------------------------------------------------------
def usage(max_chars: int) -> str:
    """What `/ungp help`, an empty question or a bare mention shows."""
    return (
        "*Ask me about the UN Guiding Principles on Business and Human Rights and the Special Procedures "
        "letters I have read.* Every answer cites the letters (document, reference, page, principles); "
        "*Show quotes* reveals the exact words.\n"
        "• `/ungp <question>`, e.g. `/ungp What does Guiding Principle 22 require of a company that caused "
        "harm?`\n"
        "• Mention me in a channel or send me a direct message: I answer in the thread. To follow up, reply "
        "in that thread (mentioning me in a channel), e.g. `what about GP 20?`\n"
        f"• Questions up to {max_chars} characters. `/ungp help` shows this again."
    )


def escape(text: str) -> str:
    """`text` safe inside Slack mrkdwn (the three characters Slack asks apps to escape)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def source_line(citation: Citation) -> str:
    """One compact line per source: "[2] AL OTH 170/2021 · AL-OTH-170-2021-ZTE.pdf · p. 4 · annex · GP 22"."""
    parts = [escape(citation.reference)] if citation.reference else []
    parts += [escape(citation.document), f"p. {citation.page}"]
    if citation.section != "body":
        parts.append(citation.section)
    if citation.principles:
        parts.append("GP " + ", ".join(map(str, citation.principles)))
    return f"*[{citation.id}]* " + " · ".join(parts)


def quote_block(citation: Citation) -> Block:
    quote = escape(" ".join(citation.quote.split()))
    if len(quote) > QUOTE_CHARS:
        quote = pieces(quote, QUOTE_CHARS - 1)[0] + "…"
    return section(f"*[{citation.id}]* p. {citation.page}\n>{quote}")


def pieces(text: str, size: int = SECTION_CHARS) -> list[str]:
    """Escaped `text` in pieces of at most `size` characters, cut at spaces where possible and never
    inside an entity such as `&amp;`."""
    parts = []
    while len(text) > size:
        cut = text.rfind(" ", 0, size)
        if cut <= size // 2:
            entity = text.rfind("&", size - 5, size)
            cut = entity if entity > 0 and ";" not in text[entity:size] else size
        parts.append(text[:cut])
        text = text[cut:].lstrip()
    return [*parts, text] if text else parts


def answer_blocks(shown: ShownAnswer, quotes: bool = False) -> list[Block]:
    """The answer as a Slack message: the question when Slack does not show it (slash command) or how a
    follow-up was read, a warning when the corpus does not support it, the answer, one context line per
    source, the quotes when revealed, then the buttons."""
    answer = shown.answer
    blocks: list[Block] = []
    if shown.via == "slash":
        blocks.append(context(f"*<@{shown.asker}> asked:* {escape(shown.question)}"))
    if shown.resolved != shown.question:
        blocks.append(context(f"_Read as:_ {escape(shown.resolved)}"))
    if not answer.grounded:
        blocks.append(section(NOT_SUPPORTED))
    blocks += [section(piece) for piece in pieces(escape(answer.answer))]
    cited = answer.citations[:MAX_SOURCES]
    blocks += [context(source_line(c)) for c in cited]
    if len(answer.citations) > len(cited):
        blocks.append(context(f"and {len(answer.citations) - len(cited)} more sources"))
    if quotes:  # within Slack's 50 blocks, the actions block included
        blocks += [quote_block(c) for c in cited][: MAX_BLOCKS - 1 - len(blocks)]
    buttons = []
    if cited:
        buttons.append(
            button("Hide quotes", HIDE_QUOTES, shown.id)
            if quotes
            else button("Show quotes", SHOW_QUOTES, shown.id, "primary")
        )
    buttons += [button(":+1: Helpful", HELPFUL, shown.id), button(":-1: Not helpful", NOT_HELPFUL, shown.id)]
    blocks.append({"type": "actions", "block_id": "ungp_answer", "elements": buttons})
    return blocks


def answer_text(shown: ShownAnswer) -> str:
    """The plain-text fallback Slack shows in notifications and to screen readers."""
    prefix = "Not supported by the corpus. " if not shown.answer.grounded else ""
    return (prefix + shown.answer.answer)[:SECTION_CHARS]


def refusal(exc: AssistantError) -> str:
    """A refused question as a message: the service's reason, and what to do."""
    reason = str(exc)
    if isinstance(exc, BadQuestion):
        return f":no_entry: I can't take that question: {reason}. Shorten it and ask again."
    return f":no_entry: I can't answer that: {reason}."


def question_of(text: str) -> str:
    """A message's question: the text without mentions of the bot (or anyone)."""
    return " ".join(MENTION.sub(" ", text or "").split())


def is_help(question: str) -> bool:
    return question.strip().lower() in HELP_WORDS


def thread_conversation(key: str, team: str | None, channel: str, thread_ts: str) -> str:
    """The conversation id of a Slack thread: the same thread always maps to the same conversation, so a
    reply in it is a follow-up. Keyed with a secret (the bot token) so that nobody who knows a channel
    and a timestamp can read the conversation through the HTTP API."""
    message = f"slack:{team or ''}:{channel}:{thread_ts}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


# -- listeners -------------------------------------------------------------------------------------------
class SlackBot:
    """The listeners, sharing the assistant and the memory of event ids already handled."""

    def __init__(self, assistant: Assistant, key: str) -> None:
        self.assistant = assistant
        self.key = key
        self.seen: OrderedDict[str, float] = OrderedDict()

    @property
    def usage(self) -> str:
        return usage(self.assistant.settings.max_question_chars)

    async def drop_retries(
        self, body: dict[str, Any], next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Slack resends an event it thinks was not received (`X-Slack-Retry-Num`); Bolt would answer it
        again. An event id seen before is acknowledged with `x-slack-no-retry: 1` and dropped."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and self.is_repeat(event_id):
            log.info("dropped a repeated Slack event %s", event_id)
            return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
        await next_()
        return None

    def is_repeat(self, event_id: str) -> bool:
        """True when `event_id` was seen in the last hour; remembers it otherwise (bounded)."""
        now = time.monotonic()
        while self.seen and (
            len(self.seen) >= RETRY_MEMORY or next(iter(self.seen.values())) < now - RETRY_SECONDS
        ):
            self.seen.popitem(last=False)
        if event_id in self.seen:
            return True
        self.seen[event_id] = now
        return False

    async def on_mention(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """`@ungp <question>` in a channel: answered in the message's thread."""
        if not event.get("bot_id"):
            await self.answer_in_thread(event, context, client, "mention")

    async def on_message(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """A direct message: answered in its thread. Other message events (edits, joins, other bots, the
        app's own messages) are left alone."""
        if event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id"):
            await self.answer_in_thread(event, context, client, "dm")

    async def answer_in_thread(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, via: str
    ) -> None:
        channel = event["channel"]
        thread = event.get("thread_ts") or event["ts"]
        question = question_of(event.get("text", ""))
        if is_help(question):
            await client.chat_postMessage(channel=channel, thread_ts=thread, text=self.usage)
            return
        conversation = thread_conversation(self.key, context.team_id, channel, thread)
        result = await self.answer(question, event.get("user", ""), channel, via, conversation)
        if isinstance(result, str):
            await client.chat_postMessage(channel=channel, thread_ts=thread, text=result)
            return
        await client.chat_postMessage(
            channel=channel,
            thread_ts=thread,
            text=answer_text(result),
            blocks=answer_blocks(result),
            unfurl_links=False,
            unfurl_media=False,
        )

    async def answer(
        self, question: str, asker: str, channel: str, via: str, conversation: str | None = None
    ) -> ShownAnswer | str:
        """The answer to show (kept for its buttons), or the message that says why there is none. Within a
        conversation the question may be a follow-up; without one it is answered on its own."""
        try:
            if conversation:
                reply = await asyncio.to_thread(self.assistant.chat, question, conversation, create=True)
                answer, resolved = reply.answer, reply.resolved
            else:
                answer, resolved = await asyncio.to_thread(self.assistant.ask, question), question
            return await asyncio.to_thread(
                self.assistant.keep_answer, question, answer, asker, channel, via, resolved
            )
        except AssistantError as exc:
            return refusal(exc)
        except Exception:
            log.exception("answering a Slack question failed")
            return SORRY

    # -- /ungp -----------------------------------------------------------------------------------------
    def slash_reply(self, command: dict[str, Any]) -> str | None:
        """What the acknowledgement itself must say instead of an answer (usage, a refusal), or None."""
        question = command.get("text", "").strip()
        if is_help(question):
            return self.usage
        try:
            self.assistant.checked_question(question)
        except BadQuestion as exc:
            return refusal(exc)
        return None

    async def ack_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """Within Slack's three seconds: usage or a refusal right away, otherwise a note that the answer is
        on its way (it follows through `response_url`)."""
        reply = self.slash_reply(command)
        await ack(response_type="ephemeral", text=reply or ":hourglass_flowing_sand: Looking that up…")

    async def answer_command(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        """After the ack: answer and post through the command's `response_url`."""
        if self.slash_reply(command) is not None:
            return
        question = command["text"].strip()
        result = await self.answer(
            question, command.get("user_id", ""), command.get("channel_id", ""), "slash"
        )
        if isinstance(result, str):
            await respond(text=result, response_type="ephemeral", replace_original=False)
            return
        await respond(
            text=answer_text(result),
            blocks=answer_blocks(result),
            response_type=self.assistant.settings.slack_slash_visibility,
            replace_original=False,
        )

    # -- buttons ---------------------------------------------------------------------------------------
    async def on_quotes(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        """The "Show quotes" / "Hide quotes" buttons: the same message again, with or without the quotes."""
        await ack()
        try:
            shown = await asyncio.to_thread(self.assistant.shown_answer, action["value"])
        except AnswerNotFound as exc:
            await self.tell(body, client, respond, refusal(exc))
            return
        blocks = answer_blocks(shown, quotes=action["action_id"] == SHOW_QUOTES)
        container = body.get("container", {})
        if not container.get("is_ephemeral") and container.get("message_ts"):
            try:
                await client.chat_update(
                    channel=container["channel_id"],
                    ts=container["message_ts"],
                    text=answer_text(shown),
                    blocks=blocks,
                )
                return
            except SlackApiError as exc:  # e.g. a message posted through a response_url
                log.info("chat.update failed (%s); replacing through response_url", exc.response.get("error"))
        await respond(text=answer_text(shown), blocks=blocks, replace_original=True)

    async def on_rating(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        """Helpful / Not helpful: stored with the question and answer; the person who clicked is thanked
        privately (a second click replaces the first)."""
        await ack()
        helpful = action["action_id"] == HELPFUL
        try:
            await asyncio.to_thread(self.assistant.rate_answer, action["value"], body["user"]["id"], helpful)
        except AnswerNotFound as exc:
            await self.tell(body, client, respond, refusal(exc))
            return
        verdict = "helpful" if helpful else "not helpful"
        await self.tell(body, client, respond, f"Thanks, noted as *{verdict}*. Your feedback is reviewed.")

    async def tell(
        self, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, text: str
    ) -> None:
        """A message only the person who clicked sees, in the answer's thread when there is one."""
        container = body.get("container", {})
        if not container.get("is_ephemeral") and container.get("channel_id"):
            message = body.get("message", {})
            try:
                await client.chat_postEphemeral(
                    channel=container["channel_id"],
                    user=body["user"]["id"],
                    text=text,
                    thread_ts=container.get("thread_ts") or message.get("thread_ts"),
                )
                return
            except SlackApiError as exc:
                log.info(
                    "chat.postEphemeral failed (%s); answering through response_url",
                    exc.response.get("error"),
                )
        await respond(text=text, response_type="ephemeral", replace_original=False)


# -- the app and its two ways of running -----------------------------------------------------------------
def build_app(assistant: Assistant) -> AsyncApp:
    """The Bolt app over `assistant`, its Web API calls sent to `settings.slack_api_url`."""
    settings = assistant.settings
    if settings.slack_bot_token is None:
        raise ValueError("Slack needs SLACK_BOT_TOKEN")
    token = settings.slack_bot_token.get_secret_value()
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = AsyncApp(token=token, signing_secret=secret, name="ungp", logger=log)
    # set on Bolt's own client: handing Bolt a client makes it warn when SLACK_BOT_TOKEN is in the
    # environment too; the client joins method names onto the URL, hence the slash
    app.client.base_url = settings.slack_api_url.rstrip("/") + "/"
    bot = SlackBot(assistant, key=token)
    app.middleware(bot.drop_retries)
    app.event("app_mention")(bot.on_mention)
    app.event("message")(bot.on_message)  # every subscribed event needs a listener, or Bolt answers 404
    app.command("/ungp")(ack=bot.ack_command, lazy=[bot.answer_command])
    app.action(re.compile(f"^({SHOW_QUOTES}|{HIDE_QUOTES})$"))(bot.on_quotes)
    app.action(re.compile(f"^({HELPFUL}|{NOT_HELPFUL})$"))(bot.on_rating)
    return app


def http_handler(assistant: Assistant) -> AsyncSlackRequestHandler:
    """HTTP mode: the handler behind `POST /slack/events` (Bolt verifies each request's signature and
    timestamp with SLACK_SIGNING_SECRET, answering 401 to forged or stale ones)."""
    if assistant.settings.slack_signing_secret is None:
        raise ValueError("Slack's HTTP mode needs SLACK_SIGNING_SECRET")
    return AsyncSlackRequestHandler(build_app(assistant))


def socket_mode_handler(assistant: Assistant) -> AsyncSocketModeHandler:
    """Socket Mode: Slack's events arrive over a WebSocket the app opens with SLACK_APP_TOKEN. Call it
    inside a running event loop (the client starts a task)."""
    if assistant.settings.slack_app_token is None:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN")
    return AsyncSocketModeHandler(build_app(assistant), assistant.settings.slack_app_token.get_secret_value())


async def run_socket_mode(assistant: Assistant, connected: Callable[[], None] | None = None) -> None:
    """Load the model and index, connect to Slack and answer until cancelled; `connected` is called once
    the WebSocket is open."""
    await asyncio.to_thread(assistant.warm_up)
    handler = socket_mode_handler(assistant)
    try:
        await check_tokens(handler)
        await handler.connect_async()
        log.info("connected to Slack in Socket Mode")
        if connected:
            connected()
        await asyncio.Event().wait()
    finally:
        await handler.close_async()


async def check_tokens(handler: AsyncSocketModeHandler) -> None:
    """Both tokens tried once before connecting: the Socket Mode client would otherwise retry a refused
    token forever, logging a traceback each time."""
    url = handler.app.client.base_url
    try:
        await handler.app.client.auth_test()
    except SlackApiError as exc:
        raise SlackUnavailable(f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')})") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise SlackUnavailable(f"cannot reach Slack's Web API at {url}: {exc}") from exc
    try:
        # kept: the client connects to this URL instead of asking for another
        handler.client.wss_uri = await handler.client.issue_new_wss_url()
    except SlackApiError as exc:
        raise SlackUnavailable(
            f"Slack refused SLACK_APP_TOKEN ({exc.response.get('error')}); it must be an app-level token "
            "with the connections:write scope, and Socket Mode must be on in the app's settings"
        ) from exc
