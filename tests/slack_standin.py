"""Stand-ins for Slack on 127.0.0.1. `SlackStandIn`: Slack's Web API, a real HTTP server that answers the
methods the app calls the way Slack does, checks the tokens, and records every call (with the time it
arrived), plus `response_url` endpoints under /respond/. `SocketModeStandIn`: Slack's Socket Mode
WebSocket (hello, envelopes out, acknowledgements back). Used by tests/test_slack.py and bench/slack.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiohttp import WSMsgType, web

BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
TEAM = "T0TEAM"


def signature_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request with: HMAC-SHA256 of "v0:{timestamp}:{body}" with the app's
    signing secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


@dataclass(frozen=True)
class Call:
    """One request the app made: the Web API method (or "respond" for a response_url), its arguments,
    and when it arrived (`time.perf_counter()`, comparable with the test's own clock)."""

    method: str
    params: dict[str, Any]
    path: str
    at: float
    headers: dict[str, str] = field(default_factory=dict)
    reply: Any = None  # what the stand-in answered


class SlackStandIn:
    """Slack's Web API on a free port of 127.0.0.1 (`url` + "/api/" is the client's base URL)."""

    def __init__(self, token: str, app_token: str | None = None) -> None:
        self.token = token
        self.app_token = app_token
        self.socket_url: str | None = None  # what apps.connections.open hands out
        self.calls: list[Call] = []
        self._changed = threading.Condition()
        self._ts = itertools.count(1)
        self.responses_open = threading.Event()  # cleared: response_url posts wait until it is set
        self.responses_open.set()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body = standin.handle(self.path, dict(self.headers), raw)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                kind = "text/plain" if isinstance(body, str) else "application/json; charset=utf-8"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SlackStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what Slack would answer -----------------------------------------------------------------------
    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any] | str]:
        at = time.perf_counter()
        path, _, query = path.partition("?")
        params = {k: v[0] for k, v in parse_qs(query).items()} | parse_body(
            headers.get("Content-Type", ""), raw
        )
        if path.startswith("/respond/"):
            self.responses_open.wait(timeout=30)
            self.record(Call("respond", params, path, at, headers, "ok"))
            return 200, "ok"
        method = path.removeprefix("/api/")
        token = self.app_token if method == "apps.connections.open" else self.token
        if headers.get("Authorization") != f"Bearer {token}":
            reply = {"ok": False, "error": "invalid_auth"}
        else:
            reply = self.answer(method, params)
        self.record(Call(method, params, path, at, headers, reply))
        return 200, reply

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://standin.slack.com/",
                "team": "Stand-in",
                "user": "ungp",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "apps.connections.open":
            if self.socket_url is None:
                return {"ok": False, "error": "socket_mode_not_enabled"}
            return {"ok": True, "url": self.socket_url}
        if method == "chat.postMessage":
            if not params.get("channel"):
                return {"ok": False, "error": "channel_not_found"}
            ts = f"{1_800_000_000 + next(self._ts)}.000200"
            message = {**params, "ts": ts, "user": BOT_USER, "bot_id": BOT_ID, "type": "message"}
            return {"ok": True, "channel": params["channel"], "ts": ts, "message": message}
        if method == "chat.update":
            if not params.get("ts"):
                return {"ok": False, "error": "message_not_found"}
            return {"ok": True, "channel": params["channel"], "ts": params["ts"], "text": params.get("text")}
        if method == "chat.postEphemeral":
            if not params.get("user"):
                return {"ok": False, "error": "user_not_in_channel"}
            return {"ok": True, "message_ts": f"{1_800_000_000 + next(self._ts)}.000300"}
        return {"ok": False, "error": "unknown_method"}

    # -- what the tests look at ------------------------------------------------------------------------
    def record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def find(self, method: str, where: Callable[[Call], bool] = lambda call: True) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method and where(c)]

    def wait(
        self,
        method: str,
        where: Callable[[Call], bool] = lambda call: True,
        count: int = 1,
        timeout: float = 30,
    ) -> list[Call]:
        """The first `count` calls of `method` that match `where`, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls if c.method == method and where(c)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.path) for c in self.calls[-10:]]
                    raise AssertionError(
                        f"no {count} {method} call(s) within {timeout} s; last calls: {seen}"
                    )
                self._changed.wait(left)


def parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    """A Web API request's arguments, sent as JSON or form-encoded (where blocks arrive as a JSON string)."""
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        return json.loads(raw)  # type: ignore[no-any-return]
    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
    if isinstance(params.get("blocks"), str):
        params["blocks"] = json.loads(params["blocks"])
    return params


class SocketModeStandIn:
    """Slack's Socket Mode endpoint: a WebSocket server on 127.0.0.1 that greets a client with `hello`,
    sends it envelopes, and records the acknowledgements it sends back (with the time they arrived)."""

    def __init__(self) -> None:
        self.acks: list[tuple[float, dict[str, Any]]] = []
        self.clients: list[web.WebSocketResponse] = []
        self._changed = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""

    def __enter__(self) -> SocketModeStandIn:
        self.thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_get("/link", self._link)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        return f"ws://127.0.0.1:{port}/link"

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0UNGP"}, "debug_info": {}}
        )
        with self._changed:
            self.clients.append(socket)
            self._changed.notify_all()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                with self._changed:
                    self.acks.append((time.perf_counter(), json.loads(message.data)))
                    self._changed.notify_all()
        return socket

    def send(self, envelope: dict[str, Any], timeout: float = 30) -> None:
        """Send an envelope to the connected client (waiting for it to connect)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.clients, timeout):
                raise AssertionError(f"no Socket Mode client connected within {timeout} s")
            socket = self.clients[-1]
        asyncio.run_coroutine_threadsafe(socket.send_json(envelope), self.loop).result(timeout)

    def ack(self, envelope_id: str, timeout: float = 30) -> tuple[float, dict[str, Any]]:
        """The client's acknowledgement of an envelope, and when it arrived."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: [a for a in self.acks if a[1].get("envelope_id") == envelope_id], timeout
            )
        if not found:
            raise AssertionError(f"envelope {envelope_id} was not acknowledged within {timeout} s")
        return found[0]
