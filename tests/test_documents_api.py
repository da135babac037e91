"""Documents over HTTP: POST /documents (type read from the content, safe names, size limit, bad files refused
with nothing saved) and DELETE /documents/{name} (gone from the folder and every index)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import SAMPLE_NAME, SAMPLE_PDF, LiveServer, make_assistant
from pydantic import SecretStr
from test_bad_documents import encrypted_pdf

from assistant.api import create_app
from assistant.service import Assistant
from bench.synthetic import write_letter

ADMIN = {"Authorization": "Bearer admin-key"}


@pytest.fixture(scope="module")
def letter(tmp_path_factory) -> bytes:
    return write_letter(tmp_path_factory.mktemp("upload") / "letter.pdf", 41).read_bytes()


@contextmanager
def serving(folder: Path, embedder) -> Iterator[tuple[httpx.Client, Assistant]]:
    """A live server over a fresh index of the sample letter in `folder`, accepting the admin key."""
    assistant = make_assistant(folder, embedder, admin_key=SecretStr("admin-key"), max_document_mb=0.2)
    assistant.ingest()
    with LiveServer(create_app(assistant)) as live, httpx.Client(base_url=live.url, timeout=120) as http:
        yield http, assistant


@pytest.fixture
def server(tmp_path, embedder):
    with serving(tmp_path, embedder) as served:
        yield served


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory, embedder):
    """One server for tests that only refuse uploads or add files under new names."""
    with serving(tmp_path_factory.mktemp("shared"), embedder) as served:
        yield served


def upload(http: httpx.Client, name: str, content: bytes) -> httpx.Response:
    return http.post("/documents", files={"file": (name, content, "application/octet-stream")}, headers=ADMIN)


def corpus_files(assistant) -> list[str]:
    return sorted(p.name for p in Path(assistant.settings.corpus_dir).iterdir())


def test_upload_indexes_one_document_and_replacing_it_answers_200(server, letter):
    http, assistant = server
    response = upload(http, "letter to Harbour.pdf", letter)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["replaced"] is False
    document = body["document"]
    assert document["name"] == "letter-to-Harbour.pdf" and document["reference"] == "AL OTH 141/2016"
    assert document["chunks"] > 20
    names = [d["name"] for d in http.get("/documents").json()["documents"]]
    assert names == [SAMPLE_NAME, "letter-to-Harbour.pdf"]
    assert corpus_files(assistant) == [SAMPLE_NAME, "letter-to-Harbour.pdf"]
    results = http.post("/search", json={"query": "forced labour", "reference": "AL OTH 141/2016"}).json()
    assert results["results"] and {r["document"] for r in results["results"]} == {"letter-to-Harbour.pdf"}
    again = upload(http, "letter to Harbour.pdf", letter)
    assert again.status_code == 200 and again.json()["replaced"] is True
    assert assistant.index.vector_count() == len(assistant.index.snapshot.chunks)
    assert not assistant.is_stale()  # the folder and the index agree


@pytest.mark.parametrize(
    ("sent", "saved"),
    [
        ("../../outside.pdf", "outside.pdf"),
        ("..\\..\\windows.pdf", "windows.pdf"),
        ("/etc/passwd", "passwd.pdf"),
        ("Lettre à l'entreprise (copie).pdf", "Lettre-a-l-entreprise-copie.pdf"),
        (".hidden.pdf", "hidden.pdf"),
        ("letter.v2", "letter.v2.pdf"),
    ],
)
def test_upload_names_are_made_safe(shared_server, letter, sent, saved):
    http, assistant = shared_server
    response = upload(http, sent, letter)
    assert response.status_code == 201, response.text
    assert response.json()["document"]["name"] == saved
    corpus = assistant.settings.corpus_dir
    assert (corpus / saved).is_file()
    assert not (corpus.parent / "outside.pdf").exists() and not (corpus.parent / "windows.pdf").exists()
    http.delete(f"/documents/{saved}", headers=ADMIN)


def test_text_uploads_keep_or_get_a_text_suffix(shared_server):
    http, _ = shared_server
    note = b"Guiding Principle 13 asks companies to address impacts linked to them."
    assert upload(http, "note.md", note).json()["document"]["name"] == "note.md"
    assert upload(http, "note", note).json()["document"]["name"] == "note.txt"
    for name in ("note.md", "note.txt"):
        assert http.delete(f"/documents/{name}", headers=ADMIN).status_code == 200


@pytest.mark.parametrize(
    ("name", "content", "status", "detail"),
    [
        ("empty.pdf", b"", 422, "empty.pdf: the file is empty (0 bytes)"),
        ("fake.pdf", b"plain words", 422, "fake.pdf: not a PDF (the file does not start with a %PDF header)"),
        (
            "photo.jpg",
            b"\xff\xd8\xff\xe0" + bytes(200),
            422,
            "photo.jpg: neither a PDF (no %PDF header) nor UTF-8 text",
        ),
        (
            "scan.txt",
            b"%PDF-1.7 ...",
            422,
            "scan.txt: the content is a PDF but the name ends in .txt; use .pdf",
        ),
        ("...", b"text", 422, "...: the file name has no letters or digits to keep; rename the file"),
        ("damaged.pdf", b"%PDF-1.4\n1 0 obj", 422, "damaged.pdf: the PDF is damaged and cannot be read"),
        ("big.txt", b"word " * 50_000, 413, "big.txt: the file is larger than the limit of 0.2 MB"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_saved(shared_server, name, content, status, detail):
    http, assistant = shared_server
    before = assistant.index.snapshot
    response = upload(http, name, content)
    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)
    assert corpus_files(assistant) == [SAMPLE_NAME]  # no file, not even a hidden half-written one
    assert assistant.index.snapshot is before


def test_a_bad_replacement_keeps_the_indexed_version(server, tmp_path):
    http, assistant = server
    before = assistant.index.snapshot.chunks
    response = upload(http, SAMPLE_NAME, encrypted_pdf(tmp_path / "locked.pdf").read_bytes())
    assert response.status_code == 422
    assert response.json() == {
        "detail": f"{SAMPLE_NAME}: the PDF is encrypted with a password; save an unlocked copy"
    }
    assert assistant.index.snapshot.chunks == before
    assert (assistant.settings.corpus_dir / SAMPLE_NAME).read_bytes() == SAMPLE_PDF.read_bytes()


def test_delete_removes_the_document_everywhere(server, letter, tmp_path):
    http, assistant = server
    upload(http, "letter.pdf", letter)
    response = http.delete("/documents/letter.pdf", headers=ADMIN)
    assert response.status_code == 200 and response.json() == {"removed": "letter.pdf"}
    assert [d["name"] for d in http.get("/documents").json()["documents"]] == [SAMPLE_NAME]
    assert corpus_files(assistant) == [SAMPLE_NAME]
    results = http.post("/search", json={"query": "Harbour Textiles forced labour", "k": 50}).json()[
        "results"
    ]
    assert {r["document"] for r in results} == {SAMPLE_NAME}
    assert assistant.index.vector_count() == len(assistant.index.snapshot.chunks)
    assert http.delete("/documents/letter.pdf", headers=ADMIN).status_code == 404
    (tmp_path / "keep.txt").write_text("not in the corpus")
    response = http.delete("/documents/../keep.txt", headers=ADMIN)
    assert response.status_code == 404 and (tmp_path / "keep.txt").exists()
    assert http.delete("/documents/%2e%2e%2fkeep.txt", headers=ADMIN).status_code == 404
    assert (tmp_path / "keep.txt").exists()
