"""The `Assistant` facade: ingest, search, ask, documents. The only thing entry points call."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from assistant.answer import compose
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.errors import BadQuestion, DocumentNotFound, DocumentRejected, DocumentTooLarge
from assistant.index import Index
from assistant.ingest.pipeline import (
    Limits,
    ParsedDocument,
    file_hash,
    parse_changed,
    parse_document,
    plan_ingest,
)
from assistant.ingest.uploads import upload_name
from assistant.records import Answer, DocumentInfo, IngestReport, Passage, Skipped
from assistant.retrieve import NO_FILTERS, Filters, retrieve

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


class Assistant:
    """Holds the loaded model and index; safe to share between threads (writes are serialised)."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, index: Index | None = None
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._index = index
        self._load_lock = threading.Lock()
        self._ingest_lock = threading.Lock()

    # -- loaded parts --------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            with self._load_lock:
                if self._embedder is None:
                    self._embedder = Embedder(
                        self.settings.model,
                        self.settings.query_embeddings,
                        self.settings.index_dir / "models",
                    )
        return self._embedder

    @property
    def index(self) -> Index:
        """The index under `settings.index_dir`, opened on first use."""
        if self._index is None:
            with self._load_lock:
                if self._index is None:
                    self._index = Index(
                        self.settings.index_dir, self.settings.chroma_host, self.settings.chroma_port
                    )
        return self._index

    def close(self) -> None:
        """Release the index (its files and connections); the next use opens it again."""
        with self._load_lock:
            if self._index is not None:
                self._index.close()
                self._index = None

    def warm_up(self) -> None:
        """Load model and index now, so the first question is not the slow one."""
        self.embedder.warm_up()
        _ = self.index.snapshot

    # -- ingest --------------------------------------------------------------------------------------
    def is_stale(self, corpus_dir: Path | None = None) -> bool:
        """True when the corpus folder holds files the index has not seen (or no longer holds some)."""
        plan = plan_ingest(corpus_dir or self.settings.corpus_dir, self.index.document_hashes())
        return bool(plan.changed or plan.removed)

    def ingest(
        self, corpus_dir: Path | None = None, rebuild: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Bring the index in step with the corpus folder: new and changed files are (re)indexed,
        deleted ones removed, unchanged ones skipped by content hash; unreadable files are reported."""
        started = time.perf_counter()
        folder = corpus_dir or self.settings.corpus_dir
        with self._ingest_lock, self.index.batch():
            self.index.sync()
            known = self.index.document_hashes()
            plan = plan_ingest(folder, known, rebuild=rebuild)
            added: list[str] = []
            updated: list[str] = []
            skipped: list[Skipped] = []
            chunk_count = 0
            for item in parse_changed(plan, progress, self.limits):
                if isinstance(item, Skipped):
                    log.warning("skipped %s: %s", item.name, item.reason)
                    skipped.append(item)
                    continue
                self._store(item)
                chunk_count += len(item.chunks)
                (updated if item.info.name in known else added).append(item.info.name)
            for name in plan.removed:
                self.index.remove_document(name)
            if rebuild:
                for name in set(known) - {n for _, n, _ in plan.changed}:
                    self.index.remove_document(name)
        return IngestReport(
            added=tuple(added),
            updated=tuple(updated),
            removed=tuple(plan.removed),
            unchanged=tuple(plan.unchanged),
            skipped=tuple(skipped),
            chunks_indexed=chunk_count,
            seconds=time.perf_counter() - started,
        )

    @property
    def limits(self) -> Limits:
        """The largest document ingest and upload accept."""
        return Limits(
            max_pages=self.settings.max_document_pages,
            max_bytes=int(self.settings.max_document_mb * 1_000_000),
        )

    def sync(self) -> int:
        """Pick up documents other replicas wrote to a shared Chroma server (no-op for a local index)."""
        return self.index.sync()

    def _store(self, document: ParsedDocument) -> None:
        vectors = self.embedder.embed_documents([c.embedding_text() for c in document.chunks])
        self.index.replace_document(document.info, document.chunks, vectors)

    def add_document(self, filename: str, content: bytes) -> tuple[DocumentInfo, bool]:
        """Save an uploaded file into the corpus folder and index just that file; returns its entry and
        whether it replaced a document of the same name. The type is read from the content, the name is
        made safe, and a file that cannot be indexed is refused before anything is saved."""
        max_bytes = self.limits.max_bytes or 0
        if len(content) > max_bytes:
            raise DocumentTooLarge(
                filename or "upload",
                f"the file is larger than the limit of {self.settings.max_document_mb:g} MB "
                "(UNGP_MAX_DOCUMENT_MB)",
            )
        name = upload_name(filename, content)
        corpus = self.settings.corpus_dir
        corpus.mkdir(parents=True, exist_ok=True)
        # A hidden name: a folder ingest running meanwhile never picks up a half-written upload.
        pending = corpus / f".upload-{uuid.uuid4().hex}{Path(name).suffix}"
        with self._ingest_lock:
            try:
                pending.write_bytes(content)
                try:
                    document = parse_document(pending, name, file_hash(pending), self.limits)
                except DocumentRejected as exc:
                    raise DocumentRejected(name, exc.reason) from exc
                replaced = name in self.index.document_hashes()
                os.replace(pending, corpus / name)
            finally:
                pending.unlink(missing_ok=True)
            self._store(document)
        log.info("added %s (%d chunks, replaced: %s)", name, len(document.chunks), replaced)
        return document.info, replaced

    def remove_document(self, name: str) -> None:
        """Forget one document in every index and delete its file from the corpus folder (first, so an
        interrupted removal is finished by the next ingest instead of bringing the document back)."""
        corpus = self.settings.corpus_dir.resolve()
        path = (corpus / name).resolve()
        if not path.is_relative_to(corpus) or path == corpus:
            raise DocumentNotFound(f"no document named {name!r} is indexed")
        with self._ingest_lock:
            had_file = path.is_file()
            if had_file:
                path.unlink()
            if not self.index.remove_document(name) and not had_file:
                raise DocumentNotFound(f"no document named {name!r} is indexed")
        log.info("removed %s", name)

    # -- questions -----------------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, filters: Filters = NO_FILTERS) -> list[Passage]:
        """The passages that best match `query`, best first."""
        query = self._checked(query)
        return retrieve(query, self.index, self.embedder, k or self.settings.k, filters)

    def ask(self, question: str, filters: Filters = NO_FILTERS) -> Answer:
        """A grounded, cited answer to `question`, or a plain refusal when the corpus does not say."""
        question = self._checked(question)
        snapshot = self.index.snapshot  # one snapshot for retrieval and answer: no torn reads mid-ingest
        passages = retrieve(
            question, self.index, self.embedder, max(self.settings.k, 5), filters, snapshot=snapshot
        )
        return compose(
            question,
            passages,
            snapshot,
            self.embedder,
            max_chars=self.settings.max_answer_chars,
            min_support=self.settings.min_support,
        )

    def _checked(self, text: str) -> str:
        text = (text or "").strip()
        if not text:
            raise BadQuestion(
                "the question is empty; ask something about the letters or the Guiding Principles"
            )
        if len(text) > self.settings.max_question_chars:
            limit = self.settings.max_question_chars
            raise BadQuestion(f"the question is {len(text)} characters long; the limit is {limit}")
        return text

    # -- documents -----------------------------------------------------------------------------------
    def documents(self) -> tuple[DocumentInfo, ...]:
        """Every indexed document with pages and chunk counts."""
        return self.index.documents()

    def document_path(self, name: str) -> Path:
        """The file behind an indexed document, checked to lie inside the corpus folder."""
        if name not in {d.name for d in self.documents()}:
            raise DocumentNotFound(f"no document named {name!r} is indexed")
        corpus = self.settings.corpus_dir.resolve()
        path = (corpus / name).resolve()
        if not path.is_relative_to(corpus) or not path.is_file():
            raise DocumentNotFound(f"the file for {name!r} is no longer in the corpus folder")
        return path

    def document_text(self, name: str) -> str:
        """The cleaned text of a document as indexed (its chunks in order)."""
        chunks = [c for c in self.index.snapshot.chunks if c.document == name]
        if not chunks:
            raise DocumentNotFound(f"no document named {name!r} is indexed")
        return "\n".join(c.text for c in chunks)
