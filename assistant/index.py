"""Own the stores: Chroma for vectors and a SQLite chunk store from which the BM25 index is built.

SQLite is the record of what is indexed. A document is written to Chroma first, then committed to
SQLite in one transaction (its row, its chunks and, for a letter, the parsed letter as JSON, so the three
can never disagree); vectors that SQLite does not list (left by a crash between the two) are
never returned and are swept on the next open. Readers work on an immutable snapshot that a writer
swaps in whole, so a query never sees half a document.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np

from assistant.database import transaction
from assistant.records import Chunk, DocumentInfo, Letter
from assistant.terms import terms

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
log = logging.getLogger(__name__)
COLLECTION = "chunks"
SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, pages INTEGER NOT NULL,
    reference TEXT, date TEXT, addressee TEXT, ingested_at TEXT DEFAULT CURRENT_TIMESTAMP, letter TEXT);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, document TEXT NOT NULL REFERENCES documents(name) ON DELETE CASCADE,
    position INTEGER NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(document, position);
"""


@dataclass(frozen=True)
class Snapshot:
    """Everything a query reads, swapped in whole after each write."""

    chunks: tuple[Chunk, ...]
    by_id: dict[str, Chunk]
    position: dict[str, int]
    lexical: bm25s.BM25 | None
    documents: tuple[DocumentInfo, ...]
    by_principle: dict[int, tuple[Chunk, ...]]
    by_question: dict[int, tuple[Chunk, ...]]
    document_frequency: dict[str, int]
    letters: dict[str, Letter] = field(default_factory=dict)  # document name -> parsed letter

    @property
    def highest_question(self) -> int:
        """The highest question number of any letter (0 when no letter has numbered questions)."""
        return max(self.by_question, default=0)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term over the chunks; a term the corpus never uses
        weighs most."""
        df = self.document_frequency.get(term, 0)
        return math.log(1 + (len(self.chunks) - df + 0.5) / (df + 0.5))


class Index:
    """The indexed corpus: add or replace a document, remove one, and query by vector or by terms."""

    def __init__(self, index_dir: Path, chroma_host: str | None = None, chroma_port: int = 8000) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        index_dir.mkdir(parents=True, exist_ok=True)
        self.index_dir = index_dir
        self._db_path = index_dir / "chunks.sqlite3"
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if chroma_host:
            self._client = chromadb.HttpClient(host=chroma_host, port=chroma_port, settings=chroma_settings)
        else:
            self._client = chromadb.PersistentClient(path=str(index_dir / "chroma"), settings=chroma_settings)
        self._collection = self._client.get_or_create_collection(
            COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self._write_lock = threading.Lock()
        with self._db() as db:
            db.executescript(SCHEMA)
            self._add_letter_column(db)
        self._sweep_orphans()
        self.snapshot = self._load_snapshot()

    # -- writing -----------------------------------------------------------------------------------
    def replace_document(
        self, info: DocumentInfo, chunks: list[Chunk], vectors: np.ndarray, letter: Letter | None = None
    ) -> None:
        """Index `chunks` as the whole content of document `info.name` (and `letter`, what it says as a
        letter), replacing what it had."""
        with self._write_lock:
            old_ids = self._chunk_ids(info.name)
            if chunks:
                for start in range(0, len(chunks), 1000):
                    part = chunks[start : start + 1000]
                    self._collection.upsert(
                        ids=[c.id for c in part],
                        embeddings=vectors[start : start + len(part)].tolist(),
                        documents=[c.text for c in part],
                        metadatas=[c.metadata() for c in part],  # type: ignore[misc]
                    )
            with self._db() as db:
                db.execute("DELETE FROM chunks WHERE document = ?", (info.name,))
                db.execute(
                    "INSERT OR REPLACE INTO documents"
                    "(name, sha256, pages, reference, date, addressee, letter) VALUES (?,?,?,?,?,?,?)",
                    (
                        info.name,
                        info.sha256,
                        info.pages,
                        info.reference,
                        info.date,
                        info.addressee,
                        json.dumps(letter.to_dict(), ensure_ascii=False) if letter else None,
                    ),
                )
                db.executemany(
                    "INSERT INTO chunks(id, document, position, text, metadata) VALUES (?,?,?,?,?)",
                    [(c.id, info.name, i, c.text, json.dumps(c.metadata())) for i, c in enumerate(chunks)],
                )
            stale = sorted(old_ids - {c.id for c in chunks})
            if stale:
                self._collection.delete(ids=stale)
            self.snapshot = self._load_snapshot()

    def remove_document(self, name: str) -> bool:
        """Forget a document everywhere; False when it was not indexed."""
        with self._write_lock:
            ids = self._chunk_ids(name)
            with self._db() as db:
                removed = db.execute("DELETE FROM documents WHERE name = ?", (name,)).rowcount
                db.execute("DELETE FROM chunks WHERE document = ?", (name,))
            if ids:
                self._collection.delete(ids=sorted(ids))
            self.snapshot = self._load_snapshot()
            return bool(removed)

    # -- reading -----------------------------------------------------------------------------------
    def documents(self) -> tuple[DocumentInfo, ...]:
        """Every indexed document with its page and chunk counts."""
        return self.snapshot.documents

    def letters(self) -> dict[str, Letter]:
        """Document name -> parsed letter, for every indexed document that is a letter."""
        return self.snapshot.letters

    def document_hashes(self) -> dict[str, str]:
        """Document name -> content hash, to tell which files changed since the last ingest."""
        return {d.name: d.sha256 for d in self.snapshot.documents}

    def dense_search(
        self, vector: np.ndarray, n: int, where: dict[str, object] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity, best first, restricted by a Chroma `where` filter."""
        snapshot = self.snapshot
        if not snapshot.chunks:
            return []
        result = self._collection.query(
            query_embeddings=[vector.tolist()],
            n_results=min(n, len(snapshot.chunks)),
            where=where or None,  # type: ignore[arg-type]
            include=["distances"],
        )
        hits: list[tuple[Chunk, float]] = []
        for chunk_id, distance in zip(result["ids"][0], result["distances"][0], strict=True):  # type: ignore[index]
            chunk = snapshot.by_id.get(chunk_id)
            if chunk is not None:  # vectors not (or no longer) listed in SQLite are not part of the index
                hits.append((chunk, 1.0 - float(distance)))
        return hits

    def lexical_search(
        self, query: str, n: int, keep: Callable[[Chunk], bool] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Best BM25 matches, best first, among the chunks `keep` accepts."""
        snapshot = self.snapshot
        query_terms = terms(query)
        if snapshot.lexical is None or not query_terms:
            return []
        scores = snapshot.lexical.get_scores(query_terms)
        order = np.argsort(-scores, kind="stable")
        hits: list[tuple[Chunk, float]] = []
        for position in order:
            score = float(scores[position])
            if score <= 0 or len(hits) >= n:
                break
            chunk = snapshot.chunks[position]
            if keep is None or keep(chunk):
                hits.append((chunk, score))
        return hits

    # -- internals ---------------------------------------------------------------------------------
    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db_path)

    @staticmethod
    def _add_letter_column(db: sqlite3.Connection) -> None:
        """Upgrade an index built before letters were parsed: add the column and forget the stored
        hashes, so the next ingest re-reads every document (and `ungp serve` sees the index as stale)."""
        columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
        if "letter" not in columns:
            db.execute("ALTER TABLE documents ADD COLUMN letter TEXT")
            db.execute("UPDATE documents SET sha256 = ''")

    def _chunk_ids(self, name: str) -> set[str]:
        with self._db() as db:
            return {row[0] for row in db.execute("SELECT id FROM chunks WHERE document = ?", (name,))}

    def _sweep_orphans(self) -> None:
        """Delete vectors that SQLite does not list: the trace of a write interrupted half-way."""
        with self._db() as db:
            known = {row[0] for row in db.execute("SELECT id FROM chunks")}
        stored = set(self._collection.get(include=[])["ids"])
        orphans = sorted(stored - known)
        if orphans:
            log.warning("removing %d vectors left by an interrupted ingest", len(orphans))
            for start in range(0, len(orphans), 5000):
                self._collection.delete(ids=orphans[start : start + 5000])

    def _load_snapshot(self) -> Snapshot:
        with self._db() as db:
            rows = db.execute("SELECT id, text, metadata FROM chunks ORDER BY document, position").fetchall()
            documents = db.execute(
                "SELECT d.name, d.pages, COUNT(c.id), d.sha256, d.reference, d.date, d.addressee "
                "FROM documents d LEFT JOIN chunks c ON c.document = d.name GROUP BY d.name ORDER BY d.name"
            ).fetchall()
            letters = db.execute("SELECT name, letter FROM documents WHERE letter IS NOT NULL").fetchall()
        chunks = tuple(Chunk.from_metadata(cid, text, json.loads(meta)) for cid, text, meta in rows)
        lexical = None
        chunk_terms = [terms(c.search_text()) or ["\u2205"] for c in chunks]
        if chunks:
            lexical = bm25s.BM25()
            lexical.index(chunk_terms, show_progress=False)
        by_principle: dict[int, list[Chunk]] = {}
        by_question: dict[int, list[Chunk]] = {}
        for chunk in chunks:
            for number in chunk.principles:
                by_principle.setdefault(number, []).append(chunk)
            if chunk.question_number is not None:
                by_question.setdefault(chunk.question_number, []).append(chunk)
        return Snapshot(
            chunks=chunks,
            by_id={c.id: c for c in chunks},
            position={c.id: i for i, c in enumerate(chunks)},
            lexical=lexical,
            documents=tuple(DocumentInfo(*row) for row in documents),
            by_principle={n: tuple(found) for n, found in by_principle.items()},
            by_question={n: tuple(found) for n, found in by_question.items()},
            document_frequency=Counter(t for terms_ in chunk_terms for t in set(terms_)),
            letters={name: Letter.from_dict(json.loads(data)) for name, data in letters},
        )
