"""Load over a real socket: 20 concurrent clients for 10 s against uvicorn on 127.0.0.1 while a document is
uploaded, replaced and deleted over and over. Every request must succeed, every answer be well-formed, and
no search may ever see a document torn between two versions. (Speed targets live in bench/, not here.)"""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest
from conftest import LiveServer, make_assistant
from pydantic import SecretStr

from assistant.api import create_app
from assistant.embeddings import Embedder
from bench.load import run_load

CLIENTS, SECONDS = 20, 10.0
PARTS = 6
ADMIN = {"Authorization": "Bearer admin-key"}
REVISION = re.compile(r"Revision (\d+), part \d+")


def versioned_note(revision: int) -> bytes:
    """A note whose every paragraph names its revision, so a mix of two revisions is visible."""
    topics = ("remediation", "grievance mechanisms", "leverage", "due diligence", "tracking", "policy")
    paragraphs = [
        f"Revision {revision}, part {part}: internal guidance on {topics[part % len(topics)]} for the "
        f"compliance team, with the steps the company takes and who is responsible."
        for part in range(1, PARTS + 1)
    ]
    return ("# Versioned note\n\n" + "\n\n".join(paragraphs) + "\n").encode()


async def churn(url: str, stop_at: float) -> tuple[list[str], int]:
    """Upload new revisions of one note (and now and then delete it) until `stop_at`."""
    errors, changes, revision = [], 0, 0
    async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=120) as http:
        while time.monotonic() < stop_at:
            revision += 1
            files = {"file": ("versioned.md", versioned_note(revision), "text/markdown")}
            response = await http.post("/documents", files=files)
            if response.status_code not in (200, 201):
                errors.append(f"upload {revision}: HTTP {response.status_code} {response.text[:200]}")
            changes += 1
            if revision % 3 == 0:
                response = await http.delete("/documents/versioned.md")
                if response.status_code != 200:
                    errors.append(f"delete {revision}: HTTP {response.status_code} {response.text[:200]}")
                changes += 1
    return errors, changes


async def watch(url: str, stop_at: float) -> tuple[list[str], int]:
    """Search the churning note until `stop_at`: each answer must hold all of one revision or nothing."""
    errors, looks = [], 0
    query = {"query": "revision guidance compliance team", "document": "versioned.md", "k": 10}
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        while time.monotonic() < stop_at:
            response = await http.post("/search", json=query)
            looks += 1
            if response.status_code != 200:
                errors.append(f"search: HTTP {response.status_code}")
                continue
            texts = [r["text"] for r in response.json()["results"]]
            revisions = {m.group(1) for t in texts for m in REVISION.finditer(t)}
            if texts and (len(revisions) != 1 or len(texts) != PARTS):
                errors.append(f"torn read: {len(texts)} passages from revisions {sorted(revisions)}")
    return errors, looks


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The server as `ungp serve` runs it: questions embedded through the ONNX export (the default)."""
    folder = tmp_path_factory.mktemp("load")
    embedder = Embedder("bundled", "onnx", folder / "models")
    assistant = make_assistant(folder, embedder, admin_key=SecretStr("admin-key"))
    assistant.ingest()
    with LiveServer(create_app(assistant)) as live:
        yield live


def test_concurrent_clients_and_uploads_get_no_errors_and_no_torn_results(server):
    async def scenario():
        stop_at = time.monotonic() + SECONDS
        return await asyncio.gather(
            run_load(server.url, clients=CLIENTS, seconds=SECONDS),
            churn(server.url, stop_at),
            watch(server.url, stop_at),
        )

    load, (upload_errors, changes), (torn, looks) = asyncio.run(scenario())
    summary = load.summary()
    print("load:", summary, "document changes:", changes, "searches of the changing note:", looks)
    assert load.errors == [] and upload_errors == [] and torn == []
    assert load.statuses == {200: load.requests} and load.requests >= CLIENTS
    assert changes >= 3 and looks >= 3  # the churn and the watch really overlapped the load
