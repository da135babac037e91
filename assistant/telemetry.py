"""Observability at the HTTP edge: a request id per request (X-Request-ID in and out), structured JSON log
lines that carry it, and Prometheus metrics (request counts, latencies, index size) for /metrics."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.datastructures import MutableHeaders
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# An id from the client is kept only when it is short and plain, so it cannot forge log lines.
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
QUIET_PATHS = frozenset({"/health", "/metrics"})  # probes and scrapers: logged at DEBUG only
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
http_log = logging.getLogger("assistant.http")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the current request id, and the `http`
    fields of request lines; easy to ship to Loki, ELK or CloudWatch."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current:
            entry["request_id"] = current
        if isinstance(getattr(record, "http", None), dict):
            entry.update(record.http)  # type: ignore[attr-defined]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send every log line (ours, uvicorn's, libraries') to stderr in `log_format` ('json' or 'text')."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class _IndexCollector:
    """Index size gauges, read from the live index at scrape time."""

    def __init__(self, sizes: Callable[[], dict[str, float]]) -> None:
        self._sizes = sizes

    def describe(self) -> Iterator[Metric]:
        yield from self._families({})

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self._sizes())

    @staticmethod
    def _families(sizes: dict[str, float]) -> Iterator[Metric]:
        for name, help_text in (
            ("documents", "Documents in the index."),
            ("chunks", "Chunks (passages) in the index."),
            ("vectors", "Vectors held by Chroma (equal to chunks unless a write is under way)."),
        ):
            family = GaugeMetricFamily(f"ungp_index_{name}", help_text)
            if name in sizes:
                family.add_metric([], sizes[name])
            yield family


class Metrics:
    """The app's own Prometheus registry (not the global one, so several apps can live in one process)."""

    def __init__(self, index_sizes: Callable[[], dict[str, float]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ungp_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ungp_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "ungp_http_requests_in_progress", "HTTP requests being answered now.", registry=self.registry
        )
        self.registry.register(_IndexCollector(index_sizes))  # type: ignore[arg-type]

    def render(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, with its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def route_template(router: Router, scope: Scope) -> str:
    """The route a request matched ("/documents/{name:path}"), never the raw path: one time series per
    route, however many different paths clients try."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    for candidate in router.routes:
        match, _ = candidate.matches(scope)
        if match != Match.NONE:
            return str(getattr(candidate, "path", "other"))
    return "unmatched"


class RequestTelemetry:
    """ASGI middleware, outermost: gives each request an id (the client's X-Request-ID when plain, else a
    new one) echoed in the response, counts and times it, and writes one log line for it."""

    def __init__(self, app: ASGIApp, metrics: Metrics, router: Router) -> None:
        self.app = app
        self.metrics = metrics
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if CLIENT_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, rid)
            await send(message)

        started = time.perf_counter()
        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.in_progress.dec()
            route = route_template(self.router, scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            client = scope["client"][0] if scope.get("client") else None
            fields = {
                "method": method,
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "client": client,
            }
            level = logging.DEBUG if scope["path"] in QUIET_PATHS else logging.INFO
            http_log.log(level, "%s %s %d", method, scope["path"], status, extra={"http": fields})
            request_id.reset(token)
