"""Observability: request ids in and out, JSON log lines that carry them (also from work done in the thread
pool), and Prometheus metrics with request counts, latencies by route template, and index size."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import httpx
import pytest
from conftest import SAMPLE_NAME, LiveServer
from prometheus_client.parser import text_string_to_metric_families

from assistant.api import create_app
from assistant.telemetry import JsonFormatter


@pytest.fixture(scope="module")
def served(assistant):
    app = create_app(assistant)

    @app.get("/log-something")
    def log_something() -> dict[str, str]:  # a sync route: runs in the thread pool
        logging.getLogger("assistant.service").warning("working on it")
        return {"status": "logged"}

    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


@pytest.fixture
def json_lines():
    """Log lines as the server writes them with UNGP_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous)


def test_request_ids_are_echoed_or_made(served):
    assert served.get("/documents", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    made = served.get("/documents").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    forged = served.get("/documents", headers={"X-Request-ID": 'x" level=error'}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", forged)
    refused = served.post("/ask", json={"question": ""}, headers={"X-Request-ID": "bad-question"})
    assert refused.status_code == 422 and refused.headers["X-Request-ID"] == "bad-question"


def test_log_lines_are_json_with_the_request_id(served, json_lines):
    served.get("/log-something", headers={"X-Request-ID": "req-42"})
    served.get(f"/documents/{SAMPLE_NAME}/file", headers={"X-Request-ID": "req-43"})
    deadline = time.monotonic() + 10  # the request line is written just after the response is sent
    while time.monotonic() < deadline:
        if any(line.get("request_id") == "req-43" for line in json_lines()):
            break
        time.sleep(0.02)
    lines = json_lines()
    inner = next(line for line in lines if line["message"] == "working on it")
    assert inner["request_id"] == "req-42" and inner["logger"] == "assistant.service"
    assert inner["level"] == "warning"
    request = next(line for line in lines if line.get("request_id") == "req-43" and "status" in line)
    assert request["logger"] == "assistant.http" and request["status"] == 200
    assert request["method"] == "GET" and request["path"] == f"/documents/{SAMPLE_NAME}/file"
    assert request["route"] == "/documents/{name:path}/file" and request["duration_ms"] > 0
    assert request["message"] == f"GET /documents/{SAMPLE_NAME}/file 200"


def metrics(http: httpx.Client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_metrics_count_requests_by_route_and_report_the_index_size(served, assistant):
    before = metrics(served)
    ask_ok = (("method", "POST"), ("route", "/ask"), ("status", "200"))
    for _ in range(3):
        served.post("/ask", json={"question": "What does Guiding Principle 22 require?"})
    served.post("/ask", json={"question": ""})
    served.get("/nowhere/at/all")
    after = metrics(served)
    requests = after["ungp_http_requests_total"]
    assert requests[ask_ok] - before.get("ungp_http_requests_total", {}).get(ask_ok, 0) == 3
    assert requests[(("method", "POST"), ("route", "/ask"), ("status", "422"))] >= 1
    assert requests[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] >= 1
    latency = after["ungp_http_request_duration_seconds_count"]
    assert latency[(("method", "POST"), ("route", "/ask"))] >= 4
    assert (
        after["ungp_http_request_duration_seconds_bucket"][
            (("le", "+Inf"), ("method", "POST"), ("route", "/ask"))
        ]
        == latency[(("method", "POST"), ("route", "/ask"))]
    )
    snapshot = assistant.index.snapshot
    assert after["ungp_index_documents"][()] == len(snapshot.documents) == 1
    assert after["ungp_index_chunks"][()] == after["ungp_index_vectors"][()] == len(snapshot.chunks)
