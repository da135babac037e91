"""Crash safety: a real `ungp ingest` process is SIGKILLed half-way; the index it leaves must be the previous
one plus whole documents (never half of one), fully usable, with no stray vectors, and the next ingest must
finish the work. One run is killed at a natural moment, one in the worst window: vectors written to Chroma
but the document not yet committed to SQLite."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_NAME, make_assistant

from assistant.ingest.pipeline import file_hash, parse_document
from bench.synthetic import letter_name, write_corpus

LETTERS = 6
# The child pauses right after Chroma accepted the vectors of its `pause_at`-th document, before SQLite
# commits it: the moment a crash would leave vectors that no table lists.
PAUSING_CHILD = """
import sys, time
from pathlib import Path
from assistant.index import Index

marker, pause_at = Path(sys.argv[1]), int(sys.argv[2])
written = 0
write_vectors = Index._write_vectors

def write_then_pause(self, *args):
    global written
    write_vectors(self, *args)
    written += 1
    if written == pause_at:
        marker.write_text("vectors written, document not committed")
        time.sleep(600)

Index._write_vectors = write_then_pause
from assistant.cli import cli
cli(sys.argv[3:], prog_name="ungp")
"""


@pytest.fixture(scope="module")
def letters(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_corpus(tmp_path_factory.mktemp("letters"), LETTERS)


def committed_documents(index_dir: Path) -> int:
    """Documents SQLite has committed, read the way a second process would."""
    database = index_dir / "chunks.sqlite3"
    if not database.exists():
        return 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
        return int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNGP_")}
    return {**env, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def kill_when(process: subprocess.Popen[bytes], ready: object, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if process.poll() is not None:
            raise AssertionError(f"the ingest ended (status {process.returncode}) before it could be killed")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the ingest did not reach the kill point in time")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def assert_whole_and_usable(assistant, allowed: set[str]) -> set[str]:
    """Every listed document is complete, every vector belongs to one, and search and ask work."""
    index = assistant.index
    documents = {d.name: d for d in assistant.documents()}
    assert SAMPLE_NAME in documents and set(documents) <= allowed
    corpus = assistant.settings.corpus_dir
    for name, info in documents.items():
        path = corpus / name
        expected = parse_document(path, name, file_hash(path)).chunks
        stored = [c for c in index.snapshot.chunks if c.document == name]
        assert info.chunks == len(expected) == len(stored), name
        assert [c.text for c in stored] == [c.text for c in expected], name
    chunks = index.snapshot.chunks
    assert index.vector_count() == len(chunks)
    vector = assistant.embedder.embed_query("forced labour in the supply chain")
    assert len(index.dense_search(vector, len(chunks))) == len(chunks)  # no vector outside the store
    answer = assistant.ask("What does Guiding Principle 22 require of a company that caused harm?")
    assert answer.grounded and answer.citations
    assert all(c.document in documents for c in answer.citations)
    return set(documents)


@pytest.mark.parametrize("moment", ["half-way", "between-stores"])
def test_a_killed_ingest_leaves_a_usable_index_and_the_next_one_finishes(
    tmp_path, embedder, letters, moment, caplog
):
    assistant = make_assistant(tmp_path, embedder)
    assistant.ingest()
    before = {d.name for d in assistant.documents()}
    assistant.close()
    corpus, index_dir = assistant.settings.corpus_dir, assistant.settings.index_dir
    for letter in letters:
        (corpus / letter.name).write_bytes(letter.read_bytes())
    command = ["--corpus", str(corpus), "--index-dir", str(index_dir), "ingest"]
    half = LETTERS // 2
    if moment == "half-way":
        process = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", *command], env=child_env(), cwd=ROOT
        )
        kill_when(process, lambda: committed_documents(index_dir) >= len(before) + half)
    else:
        marker = tmp_path / "paused"
        process = subprocess.Popen(
            [sys.executable, "-c", PAUSING_CHILD, str(marker), str(half + 1), *command],
            env=child_env(),
            cwd=ROOT,
        )
        kill_when(process, marker.exists)
    committed = committed_documents(index_dir)
    assert len(before) + half <= committed < len(before) + LETTERS

    with caplog.at_level(logging.WARNING, logger="assistant.index"):
        reopened = make_assistant(tmp_path, embedder, files=[])
        survivors = assert_whole_and_usable(reopened, before | {p.name for p in letters})
    assert before < survivors and len(survivors) == committed
    swept = [r.getMessage() for r in caplog.records if "interrupted ingest" in r.getMessage()]
    if moment == "between-stores":
        assert swept, "the kill should have left vectors of an uncommitted document to sweep"

    report = reopened.ingest()
    assert set(report.added) == {p.name for p in letters} - survivors
    assert set(report.unchanged) == survivors and not report.skipped
    final = assert_whole_and_usable(reopened, before | {p.name for p in letters})
    assert final == before | {letter_name(n) for n in range(1, LETTERS + 1)}
    reopened.close()
