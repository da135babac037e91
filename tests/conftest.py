"""Shared fixtures: an isolated environment, one loaded model and one built index per session (real
Chroma, real model), an app client, and a live uvicorn server on 127.0.0.1."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from assistant.api import create_app
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.service import Assistant

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PDF = ROOT / "corpus" / "AL-OTH-170-2021-ZTE.pdf"
SAMPLE_NAME = SAMPLE_PDF.name
REFERENCE_TEXT = ROOT / "tests" / "data" / "AL-OTH-170-2021-ZTE.txt"
DATA = ROOT / "tests" / "data"
ARTIFACTS = ROOT / "test-artifacts"


def collapse(text: str) -> str:
    """Whitespace-collapsed text, for verbatim comparisons across line breaks."""
    return " ".join(text.split())


def reference_text(with_footer: bool = True) -> str:
    """The letter as plain text (from the shared reference), with its Markdown marks removed; without
    its first-page footer ("ZTE Corporation", in the middle of a sentence) when asked."""
    text = REFERENCE_TEXT.read_text(encoding="utf-8")
    text = re.sub(r"\[([^\]]+)\]\(#\)", r"\1", text).replace("**", "")
    if not with_footer:
        text = text.replace("\nZTE Corporation\n", "\n")
    return collapse(text)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's UNGP_* or SLACK_* settings; nothing reaches the hub."""
    for name in list(os.environ):
        if name.startswith(("UNGP_", "SLACK_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder("bundled")


def make_assistant(
    tmp: Path, embedder: Embedder, files: list[Path] | None = None, **settings: object
) -> Assistant:
    """An assistant over a fresh corpus folder holding `files` (default: the sample letter)."""
    corpus = tmp / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for path in files if files is not None else [SAMPLE_PDF]:
        shutil.copy(path, corpus / path.name)
    config = Settings(corpus_dir=corpus, index_dir=tmp / "indexes", **settings)  # type: ignore[arg-type]
    return Assistant(config, embedder=embedder)


def reconfigured(assistant: Assistant, **settings: object) -> Assistant:
    """`assistant`'s model and index with other settings (keys, limits), so a server that differs only in
    its configuration needs no index of its own."""
    return Assistant(
        assistant.settings.model_copy(update=settings), embedder=assistant.embedder, index=assistant.index
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "indexes")


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Assistant:
    """The bundled corpus, ingested once per session into a temporary index."""
    built = make_assistant(tmp_path_factory.mktemp("sample"), embedder)
    report = built.ingest()
    assert report.added == (SAMPLE_NAME,)
    return built


class LiveServer:
    """uvicorn serving an app in a daemon thread on a socket bound to 127.0.0.1:0."""

    def __init__(self, app: object) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture(scope="session")
def live_server(assistant: Assistant) -> Iterator[LiveServer]:
    """The HTTP API over the session index, on a real socket."""
    with LiveServer(create_app(assistant)) as server:
        yield server


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SYNTHETIC letters of `synthetic_letters.py` written as PDFs (plus a scan-only PDF and a
    non-letter report), once per session."""
    from synthetic_letters import SYNTHETIC_LETTERS, write_letter, write_report, write_scan_only

    folder = tmp_path_factory.mktemp("synthetic")
    for spec in SYNTHETIC_LETTERS:
        write_letter(spec, folder)
    write_scan_only(folder)
    write_report(folder)
    return folder


@pytest.fixture(scope="session")
def letters_assistant(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, synthetic_dir: Path
) -> Assistant:
    """A corpus of several letters: the sample, the synthetic ones, a scan-only PDF and a report."""
    files = [SAMPLE_PDF, *sorted(p for p in synthetic_dir.iterdir() if p.suffix in (".pdf", ".md"))]
    built = make_assistant(tmp_path_factory.mktemp("letters"), embedder, files)
    built.ingest()
    return built


@pytest.fixture(scope="session")
def letters_server(letters_assistant: Assistant) -> Iterator[LiveServer]:
    """The HTTP API over the corpus of several letters, on a real socket."""
    with LiveServer(create_app(letters_assistant)) as server:
        yield server
