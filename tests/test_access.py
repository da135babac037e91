"""Access control over a real socket: bearer keys on every route but /health (including routes added later),
the admin key for document changes, the rate limit with Retry-After, the body cap, readable 422s."""

from __future__ import annotations

import httpx
import pytest
from conftest import LiveServer
from pydantic import SecretStr

from assistant.access import RateLimiter
from assistant.api import create_app, validation_message
from assistant.service import Assistant

API_KEY, ADMIN_KEY = "reader-key-1234", "admin-key-5678"
PDF = b"%PDF-1.4 not really"


def server_for(assistant: Assistant, **settings: object) -> LiveServer:
    """A live server over the session index with other settings (keys, limits)."""
    configured = Assistant(
        assistant.settings.model_copy(update=settings), embedder=assistant.embedder, index=assistant.index
    )
    app = create_app(configured)

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
        ("GET", "/documents", None),
        ("GET", "/metrics", None),
        ("GET", "/openapi.json", None),
        ("GET", "/docs", None),
        ("GET", "/added-later", None),
        ("GET", "/no-such-route", None),
    ],
)
def test_every_route_but_health_needs_the_api_key(keyed, method, path, body):
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
