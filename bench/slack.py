"""Time the Slack app over the real protocol on 127.0.0.1 (a measurement, not a test): signed requests to
`/slack/events` on uvicorn, the app's Web API calls and `response_url` posts received by the stand-in for
Slack's Web API. Reports how long Slack waits for its acknowledgement, and how long from sending a mention
(or a follow-up in its thread, or a slash command) until the answer reaches Slack.

    python -m bench.slack --questions 20
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx

from assistant.api import create_app
from assistant.config import Settings
from assistant.service import Assistant
from bench.chat_stream import CONVERSATIONS, summary
from tests.conftest import LiveServer
from tests.slack_standin import TEAM, SlackStandIn, signature_headers

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "xoxb-bench"
SECRET = "bench-signing-secret"
CHANNEL = "C0BENCH"


def signed_post(client: httpx.Client, body: bytes, content_type: str) -> tuple[httpx.Response, float]:
    """Post `body` signed as Slack does; the response and the seconds it took."""
    started = time.perf_counter()
    response = client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": content_type, **signature_headers(body, SECRET)},
    )
    response.raise_for_status()
    return response, time.perf_counter() - started


def mention(
    client: httpx.Client, standin: SlackStandIn, text: str, thread: str | None
) -> tuple[str, float, float]:
    """Mention the app (in `thread`, if given): the thread, the ack time and the time to the answer."""
    ts = f"{time.time():.6f}"
    event = {
        "type": "app_mention",
        "user": "U0BENCH",
        "text": f"<@U0BOT> {text}",
        "ts": ts,
        "channel": CHANNEL,
    }
    if thread:
        event["thread_ts"] = thread
    payload = {"type": "event_callback", "team_id": TEAM, "event_id": f"Ev{uuid.uuid4().hex}", "event": event}
    thread = thread or ts
    before = len(standin.find("chat.postMessage", lambda c: c.params.get("thread_ts") == thread))
    started = time.perf_counter()
    _, ack = signed_post(client, json.dumps(payload).encode(), "application/json")
    posted = standin.wait("chat.postMessage", lambda c: c.params.get("thread_ts") == thread, count=before + 1)
    return thread, ack, posted[-1].at - started


def slash(client: httpx.Client, standin: SlackStandIn, text: str) -> tuple[float, float]:
    """Run `/ungp text`: the ack time and the time until the answer is posted to the response_url."""
    path = f"/respond/{uuid.uuid4().hex}"
    fields = {
        "command": "/ungp",
        "text": text,
        "team_id": TEAM,
        "channel_id": CHANNEL,
        "user_id": "U0BENCH",
        "response_url": standin.url + path,
        "trigger_id": "1.2.3",
    }
    started = time.perf_counter()
    _, ack = signed_post(client, urlencode(fields).encode(), "application/x-www-form-urlencoded")
    (answer,) = standin.wait("respond", lambda c: c.path == path)
    return ack, answer.at - started


def eval_questions(count: int) -> list[str]:
    """Distinct questions from eval/questions.jsonl: each is asked once, so no cache has seen it."""
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = list(dict.fromkeys(json.loads(line)["question"] for line in lines if line.strip()))
    return questions[:count]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=20, help="new questions per kind (mention, slash)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="folder of letters to index")
    args = parser.parse_args()
    questions = eval_questions(2 * args.questions)
    work = Path(tempfile.mkdtemp(prefix="ungp-bench-slack-"))
    try:
        with SlackStandIn(TOKEN) as standin:
            settings = Settings(
                corpus_dir=args.corpus,
                index_dir=work / "indexes",
                slack_bot_token=TOKEN,
                slack_signing_secret=SECRET,
                slack_api_url=f"{standin.url}/api/",
            )
            assistant = Assistant(settings)
            assistant.ingest()
            times: dict[str, list[float]] = {
                "event ack": [],
                "mention -> answer posted": [],
                "follow-up -> answer posted": [],
                "slash command ack": [],
                "slash -> answer posted": [],
            }
            with LiveServer(create_app(assistant)) as server, httpx.Client(base_url=server.url) as client:
                mention(client, standin, "warm up", None)
                for question in questions[: args.questions]:
                    _, ack, answered = mention(client, standin, question, None)
                    times["event ack"].append(ack)
                    times["mention -> answer posted"].append(answered)
                for question, follow in CONVERSATIONS:
                    thread, _, _ = mention(client, standin, question, None)
                    _, ack, answered = mention(client, standin, follow, thread)
                    times["follow-up -> answer posted"].append(answered)
                for question in questions[args.questions :]:
                    ack, answered = slash(client, standin, question)
                    times["slash command ack"].append(ack)
                    times["slash -> answer posted"].append(answered)
                health = health_while_busy(client, standin, questions[: args.questions])
        print(
            f"{len(questions)} distinct questions from eval/questions.jsonl (each asked once) and "
            f"{len(CONVERSATIONS)} follow-ups, over HTTP on 127.0.0.1, extractive mode"
        )
        for label, values in times.items():
            print(summary(label, values))
        print(summary("/health while answering", health))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def health_while_busy(client: httpx.Client, standin: SlackStandIn, questions: list[str]) -> list[float]:
    """GET /health timed while four mentions are being answered: the event loop must stay free."""
    workers = [
        threading.Thread(target=mention, args=(client, standin, f"{question} Please cite the page.", None))
        for question in questions[:4]
    ]
    for worker in workers:
        worker.start()
    times = []
    while any(worker.is_alive() for worker in workers):
        started = time.perf_counter()
        client.get("/health").raise_for_status()
        times.append(time.perf_counter() - started)
        time.sleep(0.01)
    for worker in workers:
        worker.join()
    return times


if __name__ == "__main__":
    main()
