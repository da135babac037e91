"""Bad documents (damaged, encrypted, scanned, empty, not a PDF, too long, too large) are each reported with
their reason, everything else is indexed, and `ungp ingest --strict` turns any skip into exit status 1."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SAMPLE_NAME, SAMPLE_PDF, make_assistant
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter

from assistant.cli import cli

LIMITS = {"max_document_pages": 7, "max_document_mb": 0.2}  # the sample letter has 7 pages, 40 kB


def text_pdf(path: Path, pages: int) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    topics = ("remediation", "leverage", "grievance mechanisms", "due diligence", "tracking", "policy")
    for number in range(1, pages + 1):
        pdf.add_page()
        topic = topics[number % len(topics)]
        pdf.multi_cell(0, 6, f"Note {number} on {topic}. Guiding Principle {number + 12} speaks to {topic}.")
    pdf.output(str(path))
    return path


def scanned_pdf(path: Path, noise: bool = False, text: str | None = None) -> Path:
    """A page holding only a picture (a scan), or a picture of random noise (large and incompressible)."""
    rng = random.Random(7)
    size = (400, 400) if noise else (200, 100)
    image = Image.new("RGB", size, "white")
    if noise:
        image.putdata(
            [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(400 * 400)]
        )
    pdf = FPDF()
    pdf.add_page()
    if text:
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text)
    pdf.image(image, x=10, y=40, w=150)
    pdf.output(str(path))
    return path


def encrypted_pdf(path: Path) -> Path:
    writer = PdfWriter(clone_from=PdfReader(SAMPLE_PDF))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def bad_corpus(folder: Path) -> dict[str, str]:
    """Write one file of each kind of bad document into `folder`; returns name -> expected reason."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "damaged.pdf").write_bytes(SAMPLE_PDF.read_bytes()[:20000])
    encrypted_pdf(folder / "encrypted.pdf")
    scanned_pdf(folder / "scanned.pdf")
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "picture.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    text_pdf(folder / "too-long.pdf", pages=8)
    big = scanned_pdf(folder / "too-large.pdf", noise=True, text="A large scan with a caption.")
    megabytes = big.stat().st_size / 1e6
    assert megabytes > LIMITS["max_document_mb"]
    return {
        "damaged.pdf": "the PDF is damaged and cannot be read (Stream has ended unexpectedly)",
        "encrypted.pdf": "the PDF is encrypted with a password; save an unlocked copy",
        "scanned.pdf": "none of its 1 pages has a text layer (a scan?); run OCR first",
        "empty.pdf": "the file is empty (0 bytes)",
        "picture.pdf": "not a PDF (the file does not start with a %PDF header)",
        "too-long.pdf": "the PDF has 8 pages, over the limit of 7 (UNGP_MAX_DOCUMENT_PAGES)",
        "too-large.pdf": f"the file is {megabytes:.1f} MB, over the limit of 0.2 MB (UNGP_MAX_DOCUMENT_MB)",
    }


def test_each_bad_document_is_skipped_with_its_reason_and_the_rest_indexed(tmp_path, embedder):
    assistant = make_assistant(tmp_path, embedder, **LIMITS)
    corpus = assistant.settings.corpus_dir
    expected = bad_corpus(corpus)
    text_pdf(corpus / "short.pdf", pages=2)
    report = assistant.ingest()
    assert {s.name: s.reason for s in report.skipped} == expected
    assert report.added == (SAMPLE_NAME, "short.pdf")
    assert [d.name for d in assistant.documents()] == [SAMPLE_NAME, "short.pdf"]
    assert assistant.index.vector_count() == len(assistant.index.snapshot.chunks)
    assert assistant.ask("What does Guiding Principle 22 require?").grounded

    # nothing changed: the bad files are reported again, nothing is re-indexed, the index is intact
    again = assistant.ingest()
    assert {s.name for s in again.skipped} == set(expected) and again.chunks_indexed == 0
    assert [d.name for d in assistant.documents()] == [SAMPLE_NAME, "short.pdf"]


def test_a_document_replaced_by_a_bad_version_keeps_its_indexed_version(tmp_path, embedder):
    assistant = make_assistant(tmp_path, embedder, **LIMITS)
    assistant.ingest()
    before = assistant.index.snapshot.chunks
    encrypted_pdf(assistant.settings.corpus_dir / SAMPLE_NAME)
    report = assistant.ingest()
    assert [(s.name, s.reason) for s in report.skipped] == [
        (SAMPLE_NAME, "the PDF is encrypted with a password; save an unlocked copy")
    ]
    assert assistant.index.snapshot.chunks == before


def test_identical_files_under_two_names_are_both_indexed(tmp_path, embedder):
    copy = tmp_path / "copy-of-letter.pdf"
    copy.write_bytes(SAMPLE_PDF.read_bytes())
    assistant = make_assistant(tmp_path, embedder, files=[SAMPLE_PDF, copy])
    report = assistant.ingest()
    assert report.added == (SAMPLE_NAME, "copy-of-letter.pdf")
    chunks = assistant.index.snapshot.chunks
    assert len({c.id for c in chunks}) == len(chunks)
    assert assistant.index.vector_count() == len(chunks)
    assistant.remove_document("copy-of-letter.pdf")
    assert [d.name for d in assistant.documents()] == [SAMPLE_NAME]
    assert assistant.index.vector_count() == len(assistant.index.snapshot.chunks)


@pytest.mark.parametrize(("strict", "status"), [(False, 0), (True, 1)])
def test_ingest_prints_the_skipped_table_and_strict_fails(tmp_path, strict, status):
    corpus = tmp_path / "corpus"
    expected = bad_corpus(corpus)
    runner = CliRunner()
    args = ["--corpus", str(corpus), "--index-dir", str(tmp_path / "indexes"), "ingest"]
    env = {"UNGP_MAX_DOCUMENT_PAGES": "7", "UNGP_MAX_DOCUMENT_MB": "0.2", "COLUMNS": "200"}
    result = runner.invoke(cli, [*args, "--strict"] if strict else args, env=env)
    assert result.exit_code == status, result.output
    assert "Files not indexed" in result.output
    for name, reason in expected.items():
        assert name in result.output and reason in result.output
    assert ("7 file(s) skipped (--strict)." in result.output) is strict
