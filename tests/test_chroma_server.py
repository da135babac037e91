"""A real Chroma server (`chroma run` on 127.0.0.1): the assistant ingests and answers through it, and a
second replica with an empty local store rebuilds its lexical index from the server and follows the first
replica's changes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import SAMPLE_NAME, make_assistant

CHROMA = Path(sys.executable).parent / "chroma"
QUESTION = "What does Guiding Principle 22 require of a company that caused harm?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    if not CHROMA.exists():
        pytest.fail(f"the chroma command is missing at {CHROMA} (it comes with chromadb)")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    process = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "RUST_LOG": "warn", "ANONYMIZED_TELEMETRY": "False"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"chroma run did not start: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.1)
    yield port
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def replica(folder: Path, embedder, port: int, files: list[Path] | None = None):
    return make_assistant(folder, embedder, files=files, chroma_host="127.0.0.1", chroma_port=port)


def test_ingest_and_answer_through_a_chroma_server(tmp_path, embedder, chroma_server):
    first = replica(tmp_path / "first", embedder, chroma_server)
    report = first.ingest()
    assert report.added == (SAMPLE_NAME,)
    assert not (first.settings.index_dir / "chroma").exists()  # the vectors live on the server
    assert first.index.vector_count() == len(first.index.snapshot.chunks) > 20
    answer = first.ask(QUESTION)
    assert answer.grounded and 6 in {c.page for c in answer.citations}

    # a second replica starts with an empty local store: it rebuilds it (and BM25) from the server
    second = replica(tmp_path / "second", embedder, chroma_server, files=[])
    assert [d.name for d in second.documents()] == [SAMPLE_NAME]
    assert second.documents() == first.documents()
    assert second.index.snapshot.chunks == first.index.snapshot.chunks
    assert second.ask(QUESTION) == answer

    # changes made through one replica reach the other on its next sync
    note = "# Note\n\nGuiding Principle 13 covers impacts linked to business relationships.\n"
    first.add_document("note.md", note.encode())
    assert second.sync() == 1
    assert {d.name for d in second.documents()} == {SAMPLE_NAME, "note.md"}
    assert second.search("impacts linked to business relationships", k=1)[0].chunk.document == "note.md"
    first.remove_document("note.md")
    assert second.sync() == 1 and [d.name for d in second.documents()] == [SAMPLE_NAME]
    assert second.index.vector_count() == len(second.index.snapshot.chunks)
    first.close()
    second.close()
