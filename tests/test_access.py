"""Access control over a real socket: bearer keys on every route but /health and the chat page's shell
(including routes added later), the admin key for document changes, the rate limit with Retry-After, the
body cap, readable 422s."""

from __future__ import annotations

import re
import socket

import httpx
import pytest
from conftest import SAMPLE_NAME, LiveServer, reconfigured
from fastapi.routing import APIRoute
from pydantic import SecretStr
from starlette.routing import Route

from assistant.access import RateLimiter, is_page_shell
from assistant.api import create_app, validation_message
from assistant.service import Assistant

API_KEY, ADMIN_KEY = "reader-key-1234", "admin-key-5678"
PDF = b"%PDF-1.4 not really"


def server_for(assistant: Assistant, **settings: object) -> LiveServer:
    """A live server over the session index with other settings (keys, limits)."""
    app = create_app(reconfigured(assistant, **settings))

    @app.get("/added-later")
    def added_later() -> dict[str, str]:
        return {"status": "reached"}

    return LiveServer(app)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def keyed(assistant):
    with server_for(assistant, api_key=SecretStr(API_KEY), admin_key=SecretStr(ADMIN_KEY)) as server:
        yield server


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/ask", {"question": "What does Guiding Principle 22 require?"}),
        ("POST", "/search", {"query": "remediation"}),
        ("POST", "/chat/stream", {"message": "What does Guiding Principle 22 require?"}),
        ("GET", "/documents", None),
        ("GET", f"/documents/{SAMPLE_NAME}/file", None),
        ("GET", "/letters", None),
        ("GET", "/letters/AL-OTH-170-2021/outline", None),
        ("GET", "/metrics", None),
        ("GET", "/openapi.json", None),
        ("GET", "/docs", None),
        ("GET", "/added-later", None),
        ("GET", "/no-such-route", None),
    ],
)
def test_every_data_route_needs_the_api_key(keyed, method, path, body):
    url = keyed.url + path
    missing = httpx.request(method, url, json=body)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "missing API key: send 'Authorization: Bearer <key>'"}
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = httpx.request(method, url, json=body, headers=bearer(API_KEY + "x"))
    assert wrong.status_code == 401 and wrong.json() == {"detail": "invalid API key"}
    basic = httpx.request(method, url, json=body, headers={"Authorization": f"Basic {API_KEY}"})
    assert basic.status_code == 401
    expected = 404 if path == "/no-such-route" else 200
    for key in (API_KEY, ADMIN_KEY):  # the admin key opens everything the API key does
        assert httpx.request(method, url, json=body, headers=bearer(key), timeout=60).status_code == expected


def test_health_stays_open(keyed):
    assert httpx.get(keyed.url + "/health").json()["status"] == "ok"


def raw_request(server: LiveServer, method: str, target: str) -> tuple[int, bytes]:
    """Send the request line exactly as written (httpx would tidy `..` and `//` away); return the status
    and the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        request = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        connection.sendall(request.encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(
    ("method", "path", "marker"),
    [
        ("GET", "/", b"<title>UNGP Assistant</title>"),
        ("GET", "/static/app.js", b"use strict"),
        ("GET", "/static/letters.js", b"use strict"),
        ("GET", "/static/access.js", b"use strict"),
        ("GET", "/static/style.css", b"{"),
        ("HEAD", "/static/style.css", b""),
    ],
)
def test_the_page_shell_loads_without_a_key(keyed, method, path, marker):
    status, body = raw_request(keyed, method, path)
    assert status == 200 and marker in body


def test_a_missing_page_file_is_a_plain_404(keyed):
    assert raw_request(keyed, "GET", "/static/no-such-file.js")[0] == 404


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/"),
        ("PUT", "/static/app.js"),
        ("DELETE", "/static/app.js"),
        ("POST", "/static/app.js"),
        ("GET", "/static"),
        ("GET", "/static/"),
        ("GET", "/static//app.js"),
        ("GET", "/static/../documents"),
        ("GET", "/static/%2e%2e/documents"),
        ("GET", "/static/./app.js"),
        ("GET", "/staticx/app.js"),
        ("GET", "/index.html"),
        ("GET", "//"),
        ("GET", "/docs"),
        ("GET", "/documents"),
        ("GET", f"/documents/{SAMPLE_NAME}/file"),
        ("GET", "/letters"),
    ],
)
def test_near_misses_of_the_page_shell_need_the_key(keyed, method, target):
    status, body = raw_request(keyed, method, target)
    assert status == 401, body


def test_exactly_the_page_and_health_routes_are_open(keyed):
    """Every route of the app (each method, path parameters filled in), asked without a key: only the page
    and /health answer, and /static is the only mount (its files are checked above). A route added later
    is refused like the rest; if it is ever let through, this test names it."""
    app = keyed.server.config.app
    reached, mounts = set(), set()
    for route in app.routes:
        if not isinstance(route, APIRoute | Route):
            mounts.add(route.path)
            continue
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in route.methods or ():
            status, _ = raw_request(keyed, method, path)
            if status != 401:
                reached.add((method, route.path))
    assert reached == {("GET", "/"), ("GET", "/health")}
    assert mounts == {"/static"}


@pytest.mark.parametrize(
    ("method", "path", "public"),
    [
        ("GET", "/", True),
        ("HEAD", "/", True),
        ("OPTIONS", "/", False),
        ("GET", "/static/app.js", True),
        ("GET", "/static/fonts/a.woff2", True),
        ("GET", "/static/", False),
        ("GET", "/static/a/../../documents", False),
        ("GET", "/static", False),
        ("GET", "/docs", False),
        ("GET", "/documents/x.pdf/file", False),
    ],
)
def test_is_page_shell(method, path, public):
    assert is_page_shell(method, path) is public


def test_document_changes_need_the_admin_key(keyed):
    files = {"file": ("letter.pdf", PDF, "application/pdf")}
    url = keyed.url + "/documents"
    assert httpx.post(url, files=files).json() == {
        "detail": "document changes need the admin key: send 'Authorization: Bearer <key>'"
    }
    response = httpx.post(url, files=files, headers=bearer(API_KEY))
    assert response.status_code == 403
    assert response.json() == {"detail": "document changes need the admin key, not the API key"}
    response = httpx.delete(url + "/letter.pdf", headers=bearer(API_KEY))
    assert response.status_code == 403
    response = httpx.delete(url + "/letter.pdf", headers=bearer("guess"))
    assert response.status_code == 401 and response.json() == {"detail": "invalid admin key"}
    # with the admin key the request reaches the service (which finds no such document)
    response = httpx.delete(url + "/letter.pdf", headers=bearer(ADMIN_KEY))
    assert response.status_code == 404


def test_without_an_admin_key_document_changes_are_disabled(assistant):
    with server_for(assistant) as server:
        assert (
            httpx.post(server.url + "/ask", json={"question": "What is GP 22?"}, timeout=60).status_code
            == 200
        )
        response = httpx.delete(server.url + "/documents/x.pdf")
        assert response.status_code == 403
        assert response.json() == {
            "detail": "document changes over HTTP are disabled on this server (UNGP_ADMIN_KEY is not set)"
        }


def test_rate_limit_answers_429_with_retry_after(assistant):
    with server_for(assistant, rate_limit="3/minute") as server, httpx.Client(base_url=server.url) as http:
        statuses = [http.get("/documents").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = http.get("/documents")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 20
        assert refused.json()["detail"].startswith(
            "too many requests: the limit is 3/minute per client; retry in"
        )
        assert all(http.get("/health").status_code == 200 for _ in range(5))


def test_request_bodies_over_the_limit_are_refused_before_reading(assistant):
    with server_for(assistant, admin_key=SecretStr(ADMIN_KEY), max_document_mb=0.1) as server:
        response = httpx.post(
            server.url + "/documents",
            content=b"x" * 1_200_000,
            headers={**bearer(ADMIN_KEY), "Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 413
        assert response.json() == {"detail": "the request body is 1.2 MB, over the limit of 1.1 MB"}


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(2, 60.0, clock=lambda: now[0])
    assert [limiter.wait("a"), limiter.wait("a")] == [0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(30.0)
    assert limiter.wait("b") == 0.0  # each client has its own bucket
    now[0] = 29.0
    assert limiter.wait("a") == pytest.approx(1.0)
    now[0] = 30.0
    assert limiter.wait("a") == 0.0


@pytest.mark.parametrize(
    ("path", "payload", "message"),
    [
        ("/ask", {"question": ""}, "question must not be empty"),
        ("/ask", {}, "question is required"),
        ("/search", {"query": "x", "k": 0}, "k must be at least 1 (got 0)"),
        ("/search", {"query": "x", "k": 51}, "k must be at most 50 (got 51)"),
        ("/search", {"query": "x", "principle": 40}, "principle must be at most 31 (got 40)"),
        ("/search", {"query": 5}, "query: Input should be a valid string"),
    ],
)
def test_validation_errors_are_one_readable_sentence(live_server, path, payload, message):
    response = httpx.post(live_server.url + path, json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == message and body["errors"]


def test_invalid_json_is_named():
    assert (
        validation_message([{"type": "json_invalid", "loc": ("body", 1)}])
        == "the request body is not valid JSON"
    )
