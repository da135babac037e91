"""Access control at the HTTP edge: bearer keys, the admin key for document changes, a per-client rate limit
and a cap on request bodies.

It is one ASGI middleware in front of the whole app rather than a dependency on each route, so a route
added later (or a mounted app) is protected without a line of its own; only `public_paths` and the chat
page's shell (see `is_page_shell`) are open.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# /slack/events authenticates its callers itself: Bolt checks Slack's signature on every request.
PUBLIC_PATHS = frozenset({"/health", "/slack/events"})
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DOCUMENTS = "/documents"
# The chat page's shell: `/` (index.html) and its files under /static/ (CSS, JavaScript). They hold no data,
# and a browser must load them before the page can ask its user for the key.
PAGE = "/"
PAGE_FILES = "/static/"
READING_METHODS = frozenset({"GET", "HEAD"})


def is_page_shell(method: str, path: str) -> bool:
    """True for reading the page itself: exactly `/`, or a file under `/static/` (never `/docs`, never
    `/documents/...`, never a path that climbs out of /static/ with `..`)."""
    if method not in READING_METHODS:
        return False
    if path == PAGE:
        return True
    if not path.startswith(PAGE_FILES):
        return False
    parts = path[len(PAGE_FILES) :].split("/")
    return all(part not in ("", ".", "..") for part in parts)


def is_document_change(method: str, path: str) -> bool:
    """True for requests that change the corpus (upload, replace, delete): they need the admin key."""
    return method in CHANGING_METHODS and (path == DOCUMENTS or path.startswith(DOCUMENTS + "/"))


class RateLimiter:
    """A token bucket per client: `requests` may arrive at once, then one more every `period / requests`
    seconds. Kept in memory, so each server process counts for itself."""

    def __init__(self, requests: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(requests)
        self.rate = requests / period
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, client: str) -> float:
        """Seconds `client` must wait before its request is allowed; 0 allows it (and counts it)."""
        now = self._clock()
        tokens, last = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            self._forget_idle(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        """Drop clients whose bucket has refilled, so memory stays bounded under many addresses."""
        if len(self._buckets) > 10_000:
            full = self.capacity / self.rate
            self._buckets = {c: (t, at) for c, (t, at) in self._buckets.items() if now - at < full}


@dataclass(frozen=True)
class AccessPolicy:
    """Who may call what: keys (None: not required), the rate limit and the largest request body."""

    api_key: str | None = None
    admin_key: str | None = None
    rate_limit: tuple[int, float] | None = None
    rate_limit_text: str = "off"
    max_body_bytes: int | None = None
    public_paths: frozenset[str] = PUBLIC_PATHS


def _matches(given: str, key: str | None) -> bool:
    """Constant-time comparison, so response timing does not reveal how much of a guess was right."""
    return key is not None and hmac.compare_digest(given.encode(), key.encode())


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


class AccessGuard:
    """ASGI middleware that refuses a request before it reaches any route: 429 over the rate limit, 401
    without a valid key, 403 for document changes without the admin key, 413 for oversized bodies."""

    def __init__(
        self, app: ASGIApp, policy: AccessPolicy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.policy = policy
        self.limiter = RateLimiter(*policy.rate_limit, clock=clock) if policy.rate_limit else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in self.policy.public_paths
            or is_page_shell(scope["method"], scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> JSONResponse | None:
        """The error response for a request that may not go on, or None to let it through."""
        policy = self.policy
        if self.limiter is not None:
            client = scope["client"][0] if scope.get("client") else "unknown"
            wait = self.limiter.wait(client)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                return JSONResponse(
                    {
                        "detail": f"too many requests: the limit is {policy.rate_limit_text} per client; "
                        f"retry in {seconds} s"
                    },
                    status_code=429,
                    headers={"Retry-After": str(seconds)},
                )
        token = _bearer(scope)
        if is_document_change(scope["method"], scope["path"]):
            if policy.admin_key is None:
                return _refuse(
                    403, "document changes over HTTP are disabled on this server (UNGP_ADMIN_KEY is not set)"
                )
            if token is None:
                return _refuse(401, "document changes need the admin key: send 'Authorization: Bearer <key>'")
            if not _matches(token, policy.admin_key):
                if _matches(token, policy.api_key):
                    return _refuse(403, "document changes need the admin key, not the API key")
                return _refuse(401, "invalid admin key")
        elif policy.api_key is not None:
            if token is None:
                return _refuse(401, "missing API key: send 'Authorization: Bearer <key>'")
            # Evaluate both comparisons: which key matched must not show in the timing either.
            valid = [_matches(token, policy.api_key), _matches(token, policy.admin_key)]
            if not any(valid):
                return _refuse(401, "invalid API key")
        length = _content_length(scope)
        if policy.max_body_bytes is not None and length is not None and length > policy.max_body_bytes:
            return _refuse(
                413,
                f"the request body is {length / 1e6:.1f} MB, over the limit of "
                f"{policy.max_body_bytes / 1e6:g} MB",
            )
        return None


def _refuse(status: int, detail: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)
