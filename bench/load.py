"""Drive a running server with N concurrent clients for T seconds; report throughput, latency percentiles
and errors. Every answer is checked for shape (citations match the [n] markers, quotes are present), so a
fast wrong answer counts as an error.

    python -m bench.load --url http://127.0.0.1:8000 --clients 20 --seconds 30
    python -m bench.load --url ... --api-key "$UNGP_API_KEY" --endpoint search --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

# Varied questions a lawyer might ask of any letter; none is tuned to a particular answer.
QUESTIONS = (
    "What does Guiding Principle 22 require of a company that caused harm?",
    "What are the allegations about forced labour in the supply chain?",
    "Which human rights due diligence steps does the letter ask about?",
    "What does the letter ask about grievance mechanisms?",
    "When will the communication be made public?",
    "How should a business use its leverage over suppliers?",
    "Which principles deal with access to remedy?",
    "What is the responsibility of business enterprises to respect human rights?",
    "What monitoring and evaluation systems does the letter ask about?",
    "Which governments also received letters?",
    "What does the annex say about international human rights law?",
    "What is the capital of Australia?",
)
MARKER = re.compile(r"\[(\d+)\]")
Check = Callable[[str, dict[str, Any]], str | None]


def answer_problem(endpoint: str, body: dict[str, Any]) -> str | None:
    """Why a response body is malformed, or None when it is well-formed."""
    if endpoint == "search":
        results = body.get("results")
        if not isinstance(results, list):
            return "no results list"
        scores = [r.get("score") for r in results]
        if any(not isinstance(r.get("text"), str) or not r["text"] for r in results):
            return "a result without text"
        if scores != sorted(scores, reverse=True):
            return "results not ranked by score"
        return None
    answer, citations = body.get("answer"), body.get("citations")
    if not isinstance(answer, str) or not answer or not isinstance(citations, list):
        return "no answer or no citations list"
    if not isinstance(body.get("grounded"), bool):
        return "grounded is not a boolean"
    ids = [c.get("id") for c in citations]
    if len(set(ids)) != len(ids):
        return "duplicate citation ids"
    if body["grounded"] and not citations:
        return "a grounded answer without citations"
    if {int(n) for n in MARKER.findall(answer)} != set(ids) and body["grounded"]:
        return "the [n] markers and the citations disagree"
    for citation in citations:
        if not citation.get("quote") or not citation.get("document") or int(citation.get("page", 0)) < 1:
            return "a citation without quote, document or page"
    return None


@dataclass
class LoadResult:
    """What a load run measured."""

    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        """Latency at `share` (0-1) in seconds, nearest rank."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]

    def summary(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": round(self.percentile(0.50) * 1000, 1),
            "p95_ms": round(self.percentile(0.95) * 1000, 1),
            "p99_ms": round(self.percentile(0.99) * 1000, 1),
            "errors": len(self.errors),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


async def _client(
    http: httpx.AsyncClient,
    endpoint: str,
    questions: Sequence[str],
    offset: int,
    stop_at: float,
    result: LoadResult,
    check: Check,
) -> None:
    turn = offset
    while time.monotonic() < stop_at:
        question = questions[turn % len(questions)]
        turn += 1
        payload = {"question": question} if endpoint == "ask" else {"query": question, "k": 5}
        started = time.perf_counter()
        try:
            response = await http.post(f"/{endpoint}", json=payload)
        except httpx.HTTPError as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.05)  # a server that is down must not be hammered
            continue
        result.latencies.append(time.perf_counter() - started)
        result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
        if response.status_code != 200:
            result.errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
            continue
        problem = check(endpoint, response.json())
        if problem:
            result.errors.append(f"{question!r}: {problem}")


async def run_load(
    url: str,
    clients: int = 20,
    seconds: float = 10.0,
    endpoint: str = "ask",
    questions: Sequence[str] = QUESTIONS,
    headers: dict[str, str] | None = None,
    check: Check = answer_problem,
) -> LoadResult:
    """Run `clients` concurrent clients against `url` for `seconds`, each asking in turn."""
    result = LoadResult(clients=clients, seconds=seconds)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as http:
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(
            *(_client(http, endpoint, questions, n, stop_at, result, check) for n in range(clients))
        )
        result.seconds = time.monotonic() - started
    return result


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="Base URL of the running server.")
    parser.add_argument("--clients", type=int, default=20, help="Concurrent clients.")
    parser.add_argument("--seconds", type=float, default=30.0, help="How long to run.")
    parser.add_argument("--endpoint", choices=("ask", "search"), default="ask", help="What to call.")
    parser.add_argument("--api-key", help="Bearer key, when the server needs one.")
    parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else None
    result = asyncio.run(run_load(args.url, args.clients, args.seconds, args.endpoint, headers=headers))
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{summary['requests']} requests from {args.clients} clients in {summary['seconds']} s: "
            f"{summary['throughput_rps']} req/s, p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, "
            f"p99 {summary['p99_ms']} ms, {summary['errors']} errors {summary['statuses']}"
        )
    for error in result.errors[:10]:
        print("  error:", error)
    raise SystemExit(1 if result.errors else 0)


if __name__ == "__main__":
    main()
