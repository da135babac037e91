"""Walk the corpus folder and turn each changed file into chunks, reporting progress through a callback."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import DocumentRejected
from assistant.ingest.chunk import chunk_document
from assistant.ingest.clean import clean_pdf_pages, clean_text_pages
from assistant.ingest.letters import parse_letter, read_letter_header, stamp
from assistant.ingest.pdf import read_pdf
from assistant.records import Chunk, DocumentInfo, Letter, Page, Skipped

SUFFIXES = (".pdf", ".txt", ".md")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ParsedDocument:
    """One file read, cleaned and chunked, ready for the index; `letter` when it is a letter."""

    info: DocumentInfo
    chunks: list[Chunk]
    pages: list[Page]
    letter: Letter | None = None


@dataclass(frozen=True)
class Limits:
    """The largest document ingest accepts; None means no limit."""

    max_pages: int | None = None
    max_bytes: int | None = None


NO_LIMITS = Limits()


@dataclass(frozen=True)
class Plan:
    """What an ingest run has to do, given what the index already holds."""

    changed: list[tuple[Path, str, str]]  # (path, document name, sha256)
    unchanged: list[str]
    removed: list[str]


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every indexable file under `corpus_dir`, in a stable order (hidden files and READMEs skipped)."""
    if not corpus_dir.is_dir():
        return []
    return sorted(
        path
        for path in corpus_dir.rglob("*")
        if path.is_file()
        and path.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(corpus_dir).parts)
        and path.stem.upper() != "README"
    )


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the identity ingest uses to skip unchanged files."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def document_key(name: str, sha: str) -> str:
    """The prefix of a document's chunk ids: new content gets new ids (so a half-written replacement never
    overwrites the indexed version), and two files with the same bytes under different names do not
    collide."""
    return hashlib.sha256(f"{name}\0{sha}".encode()).hexdigest()


def plan_ingest(corpus_dir: Path, indexed: dict[str, str], rebuild: bool = False) -> Plan:
    """Compare the corpus folder with the index: which files are new or changed, which are gone."""
    changed, unchanged = [], []
    present = set()
    for path in corpus_files(corpus_dir):
        name = path.relative_to(corpus_dir).as_posix()
        present.add(name)
        sha = file_hash(path)
        if not rebuild and indexed.get(name) == sha:
            unchanged.append(name)
        else:
            changed.append((path, name, sha))
    removed = sorted(set(indexed) - present)
    return Plan(changed, unchanged, removed)


def parse_document(path: Path, name: str, sha: str, limits: Limits = NO_LIMITS) -> ParsedDocument:
    """Read, clean and chunk one file; raises `DocumentRejected` with the reason it cannot be used."""
    size = path.stat().st_size
    if limits.max_bytes is not None and size > limits.max_bytes:
        raise DocumentRejected(
            name,
            f"the file is {size / 1e6:.1f} MB, over the limit of {limits.max_bytes / 1e6:g} MB "
            "(UNGP_MAX_DOCUMENT_MB)",
        )
    if path.suffix.lower() == ".pdf":
        pages = clean_pdf_pages(read_pdf(path, max_pages=limits.max_pages))
    else:
        try:
            pages = clean_text_pages(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise DocumentRejected(name, "the text file is not UTF-8") from exc
    if not any(page.paragraphs for page in pages):
        raise DocumentRejected(name, "no text found in the document")
    header = read_letter_header(pages[0])
    chunks = chunk_document(name, pages, document_key(name, sha), header)
    letter = parse_letter(name, pages, chunks)
    if letter is not None:
        chunks = stamp(chunks, letter)
    info = DocumentInfo(
        name=name,
        pages=len(pages),
        chunks=len(chunks),
        sha256=sha,
        reference=letter.reference if letter else None,
        date=letter.date if letter else None,
        addressee=(letter.company or letter.addressee) if letter else None,
    )
    return ParsedDocument(info, chunks, pages, letter)


def parse_changed(
    plan: Plan, progress: Progress | None = None, limits: Limits = NO_LIMITS
) -> Iterator[ParsedDocument | Skipped]:
    """Parse each changed file in turn; a file that cannot be read yields `Skipped` with its reason."""
    total = len(plan.changed)
    for done, (path, name, sha) in enumerate(plan.changed, start=1):
        try:
            yield parse_document(path, name, sha, limits)
        except DocumentRejected as exc:
            yield Skipped(name, exc.reason)
        if progress:
            progress(name, done, total)
