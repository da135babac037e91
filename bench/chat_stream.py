"""Time the chat stream over real HTTP: how long until the first piece of an answer arrives, and until the
stream is done, for first questions and for follow-ups (a measurement, not a test).

    python -m bench.chat_stream --rounds 5
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from httpx_sse import connect_sse

from assistant.api import create_app
from assistant.config import Settings
from assistant.service import Assistant

ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = [
    (
        "What does Guiding Principle 22 require of a company that caused harm?",
        "which question asks about that?",
    ),
    ("When will the communication and any response be made public?", "deadline?"),
    (
        "What is the per-head compensation paid for transferring Uyghur workers?",
        "is it higher outside Xinjiang?",
    ),
    ("Which three things should a business have in place according to GP 15?", "what about GP 13?"),
]


def serve(assistant: Assistant) -> tuple[uvicorn.Server, threading.Thread, str]:
    """uvicorn in a daemon thread on a free port of 127.0.0.1."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(assistant), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def timed_stream(client: httpx.Client, message: str, conversation_id: str | None) -> tuple[float, float, str]:
    """Seconds to the first text event and to the done event, and the conversation id."""
    started = time.perf_counter()
    first = None
    with connect_sse(
        client, "POST", "/chat/stream", json={"message": message, "conversation_id": conversation_id}
    ) as source:
        for event in source.iter_sse():
            if event.event == "text" and first is None:
                first = time.perf_counter() - started
            if event.event == "done":
                total = time.perf_counter() - started
                return first or total, total, event.json()["conversation_id"]
    raise RuntimeError(f"the stream for {message!r} ended without a done event")


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"{label:<28} median {statistics.median(values) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="times each conversation is replayed")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="folder of letters to index")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ungp-bench-chat-"))
    try:
        assistant = Assistant(Settings(corpus_dir=args.corpus, index_dir=work / "indexes"))
        assistant.ingest()
        server, thread, url = serve(assistant)
        first_turn: dict[str, list[float]] = {"first piece": [], "done": []}
        follow_up: dict[str, list[float]] = {"first piece": [], "done": []}
        with httpx.Client(base_url=url, timeout=60) as client:
            timed_stream(client, "warm up", None)
            for _ in range(args.rounds):
                for question, follow in CONVERSATIONS:
                    first, total, conversation_id = timed_stream(client, question, None)
                    first_turn["first piece"].append(first)
                    first_turn["done"].append(total)
                    first, total, _ = timed_stream(client, follow, conversation_id)
                    follow_up["first piece"].append(first)
                    follow_up["done"].append(total)
        server.should_exit = True
        thread.join(timeout=10)
        count = args.rounds * len(CONVERSATIONS)
        print(f"{count} conversations of two turns over HTTP on 127.0.0.1, extractive mode")
        for label, values in first_turn.items():
            print(summary(f"first question, {label}", values))
        for label, values in follow_up.items():
            print(summary(f"follow-up, {label}", values))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
