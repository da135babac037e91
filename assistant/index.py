"""Own the stores: Chroma for vectors and a SQLite chunk store from which the BM25 index is built.

SQLite is the record of what is indexed. A document is written to Chroma first, then committed to
SQLite in one transaction (its row, its chunks and, for a letter, the parsed letter as JSON, so the three
can never disagree); vectors that SQLite does not list (left by a crash between the two) are
never returned and are swept on the next open. Readers work on an immutable snapshot that a writer
swaps in whole, so a query never sees half a document. A killed ingest therefore leaves every document
either fully indexed in its old version or fully in its new one (tests/test_crash.py kills a real one).

With a Chroma server shared by several replicas, Chroma becomes the record instead: each vector carries
its document's hash, page count and chunk count, so a replica rebuilds its local SQLite store (and with
it the lexical index) from the server, taking only documents whose chunks are all there (`sync`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from assistant import records
from assistant import terms as terms_module
from assistant.database import transaction
from assistant.records import Chunk, DocumentInfo, Letter
from assistant.terms import terms

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
log = logging.getLogger(__name__)
COLLECTION = "chunks"
CHROMA_BATCH = 1000
# A long ingest publishes a new snapshot when the last rebuild cost less than this share of the time since.
PUBLISH_SHARE = 0.1
SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, pages INTEGER NOT NULL,
    reference TEXT, date TEXT, addressee TEXT, ingested_at TEXT DEFAULT CURRENT_TIMESTAMP, letter TEXT);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, document TEXT NOT NULL REFERENCES documents(name) ON DELETE CASCADE,
    position INTEGER NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(document, position);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
EMPTY_TERMS = "\u2205"
PENDING = "vectors_pending"  # settings key: "1" while a write may have left vectors SQLite does not list


def _lexical_key() -> str:
    """Fingerprint of the code that turns a chunk into lexical terms: stored terms made by other code are
    recomputed instead of trusted."""
    digest = hashlib.sha256()
    for module in (terms_module, records):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


LEXICAL_KEY = _lexical_key()


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
        self.shared = bool(chroma_host)
        self._db_path = index_dir / "chunks.sqlite3"
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if chroma_host:
            self._client = chromadb.HttpClient(host=chroma_host, port=chroma_port, settings=chroma_settings)
        else:
            self._client = chromadb.PersistentClient(path=str(index_dir / "chroma"), settings=chroma_settings)
        self._collection = self._client.get_or_create_collection(
            COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self._write_lock = threading.RLock()
        self._pending = False
        self._batch_depth = 0
        self._stale: set[str] = set()
        self._published_at = 0.0
        self._publish_cost = 0.0
        with self._db() as db:
            db.executescript(SCHEMA)
            self._add_letter_column(db)
            self._check_chunking(db)
            if "terms" not in {row[1] for row in db.execute("PRAGMA table_info(chunks)")}:
                db.execute("ALTER TABLE chunks ADD COLUMN terms TEXT")  # indexes built before the cache
            if db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 0:  # nothing stored by older code
                db.execute(
                    "INSERT OR REPLACE INTO settings(key, value) VALUES ('lexical_key', ?)", (LEXICAL_KEY,)
                )
        self._snapshot: Snapshot | None = None
        self._dirty = False
        if self.shared:
            self.sync()
        else:
            self._sweep_orphans()

    @property
    def snapshot(self) -> Snapshot:
        """What queries read: built on first use (so a run that changes nothing never builds BM25), then
        swapped whole by `publish`."""
        if self._snapshot is None:
            with self._write_lock:
                if self._snapshot is None:
                    self.publish()
        assert self._snapshot is not None
        return self._snapshot

    # -- writing -----------------------------------------------------------------------------------
    def replace_document(
        self, info: DocumentInfo, chunks: list[Chunk], vectors: np.ndarray, letter: Letter | None = None
    ) -> None:
        """Index `chunks` as the whole content of document `info.name` (and `letter`, what it says as a
        letter), replacing what it had."""
        letter_json = json.dumps(letter.to_dict(), ensure_ascii=False) if letter else None
        with self._write_lock:
            self._mark_pending()
            self._write_vectors(info, chunks, vectors, letter_json)
            with self._db() as db:
                db.execute("DELETE FROM chunks WHERE document = ?", (info.name,))
                self._insert(db, info, [(c.id, c.text, c.metadata()) for c in chunks], letter_json)
            new_ids = {c.id for c in chunks}
            self._stale.update(self._vector_ids(info.name) - new_ids)
            self._published()

    def remove_document(self, name: str) -> bool:
        """Forget a document everywhere; False when it was not indexed."""
        with self._write_lock:
            self._mark_pending()
            with self._db() as db:
                removed = db.execute("DELETE FROM documents WHERE name = ?", (name,)).rowcount
                db.execute("DELETE FROM chunks WHERE document = ?", (name,))
            self._stale.update(self._vector_ids(name))
            self._published()
            return bool(removed)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Write many documents with fewer snapshot rebuilds: rebuilding BM25 over the whole corpus after
        each of 1,000 letters is quadratic. Queries keep the previous snapshot meanwhile; a new one is
        published whenever the last rebuild cost under a tenth of the time since, and at the end."""
        with self._write_lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._write_lock:
                self._batch_depth -= 1
                if self._batch_depth == 0 and (self._dirty or self._stale):
                    self.publish()

    def publish(self) -> None:
        """Swap in a snapshot of what SQLite holds, then drop the vectors it no longer lists (after the
        swap, so a query running on the previous snapshot still finds the vectors it expects)."""
        with self._write_lock:
            started = time.perf_counter()
            self._snapshot = self._load_snapshot()
            self._dirty = False
            self._published_at = time.perf_counter()
            self._publish_cost = self._published_at - started
            stale, self._stale = sorted(self._stale), set()
            for start in range(0, len(stale), CHROMA_BATCH):
                self._collection.delete(ids=stale[start : start + CHROMA_BATCH])
            if self._pending:
                self._set_flag(PENDING, "0")  # every write so far is committed and cleaned up
                self._pending = False

    def sync(self) -> int:
        """Bring the local store in step with a shared Chroma server (written to by other replicas):
        documents whose chunks are all on the server are copied in, those gone from it removed.
        Returns the number of documents changed locally. Only for a shared (server) store."""
        if not self.shared:
            return 0
        with self._write_lock:
            wanted = self._complete_versions()
            local = self.document_hashes()
            changes = 0
            for name in sorted(set(local) - set(wanted)):
                with self._db() as db:
                    db.execute("DELETE FROM documents WHERE name = ?", (name,))
                    db.execute("DELETE FROM chunks WHERE document = ?", (name,))
                changes += 1
            for name, (info, ids) in sorted(wanted.items()):
                if local.get(name) == info.sha256:
                    continue
                stored = self._collection.get(ids=ids, include=["documents", "metadatas"])
                rows = sorted(
                    zip(stored["ids"], stored["documents"] or [], stored["metadatas"] or [], strict=True),
                    key=lambda row: _position(row[0]),
                )
                letter_json = next((str(m["letter"]) for _, _, m in rows if m.get("letter")), None)
                with self._db() as db:
                    db.execute("DELETE FROM chunks WHERE document = ?", (name,))
                    self._insert(db, info, [(cid, text, dict(meta)) for cid, text, meta in rows], letter_json)
                changes += 1
            if changes:
                log.info("synced %d document(s) from the Chroma server", changes)
                self.publish()
            return changes

    def close(self) -> None:
        """Release Chroma's files and connections (the next `Index` on the same folder reads it afresh)."""
        with self._write_lock:
            self._client.close()  # type: ignore[attr-defined]

    # -- reading -----------------------------------------------------------------------------------

    def documents(self) -> tuple[DocumentInfo, ...]:
        """Every indexed document with its page and chunk counts."""
        return self.snapshot.documents

    def vector_count(self) -> int:
        """Vectors in Chroma (equal to the chunk count unless a write is under way)."""
        return int(self._collection.count())

    def letters(self) -> dict[str, Letter]:
        """Document name -> parsed letter, for every indexed document that is a letter."""
        return self.snapshot.letters

    def document_hashes(self) -> dict[str, str]:
        """Document name -> content hash, to tell which files changed since the last ingest."""
        with self._db() as db:
            return dict(db.execute("SELECT name, sha256 FROM documents").fetchall())

    def dense_search(
        self,
        vector: np.ndarray,
        n: int,
        where: dict[str, object] | None = None,
        snapshot: Snapshot | None = None,
    ) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity, best first, restricted by a Chroma `where` filter; only
        chunks of `snapshot` (default: the current one) count."""
        snapshot = snapshot or self.snapshot
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
        self,
        query: str,
        n: int,
        keep: Callable[[Chunk], bool] | None = None,
        snapshot: Snapshot | None = None,
    ) -> list[tuple[Chunk, float]]:
        """Best BM25 matches, best first, among the chunks `keep` accepts, in `snapshot` (default: the
        current one)."""
        snapshot = snapshot or self.snapshot
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

    def _published(self) -> None:
        """Publish after a write, or within a batch when a rebuild has become cheap relative to the wait."""
        self._dirty = True
        waited = time.perf_counter() - self._published_at
        if self._batch_depth == 0 or waited > self._publish_cost / PUBLISH_SHARE:
            self.publish()

    def _write_vectors(
        self, info: DocumentInfo, chunks: list[Chunk], vectors: np.ndarray, letter_json: str | None = None
    ) -> None:
        """Upsert a document's vectors, each tagged with what a replica needs to rebuild the document
        from the server alone (hash, pages, chunk count, write time; the parsed letter on the first)."""
        extra: dict[str, Any] = {
            "sha256": info.sha256,
            "document_pages": info.pages,
            "chunk_count": len(chunks),
            "written_at": time.time(),
        }
        for start in range(0, len(chunks), CHROMA_BATCH):
            part = chunks[start : start + CHROMA_BATCH]
            self._collection.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[start : start + len(part)].tolist(),
                documents=[c.text for c in part],
                metadatas=[
                    _vector_metadata(c, extra, letter_json if i == 0 else None)
                    for i, c in enumerate(part, start)
                ],
            )

    @staticmethod
    def _insert(
        db: sqlite3.Connection, info: DocumentInfo, rows: list[tuple[str, str, Any]], letter_json: str | None
    ) -> None:
        """Record a document, its chunks (id, text, metadata) and its letter in the caller's transaction."""
        db.execute(
            "INSERT OR REPLACE INTO documents(name, sha256, pages, reference, date, addressee, letter) "
            "VALUES (?,?,?,?,?,?,?)",
            (info.name, info.sha256, info.pages, info.reference, info.date, info.addressee, letter_json),
        )
        db.executemany(
            "INSERT INTO chunks(id, document, position, text, metadata, terms) VALUES (?,?,?,?,?,?)",
            [_chunk_row(info.name, i, cid, text, meta) for i, (cid, text, meta) in enumerate(rows)],
        )

    @staticmethod
    def _add_letter_column(db: sqlite3.Connection) -> None:
        """Upgrade an index built before letters were parsed: add the column and forget the stored
        hashes, so the next ingest re-reads every document (and `ungp serve` sees the index as stale)."""
        columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
        if "letter" not in columns:
            db.execute("ALTER TABLE documents ADD COLUMN letter TEXT")
            db.execute("UPDATE documents SET sha256 = ''")

    @staticmethod
    def _check_chunking(db: sqlite3.Connection) -> None:
        """An index whose chunks an older version of ingest made forgets its stored hashes, so the next
        ingest re-reads every document with the current code (and `ungp serve` sees the index as stale)."""
        row = db.execute("SELECT value FROM settings WHERE key = 'chunking'").fetchone()
        if row is None or row[0] != records.CHUNKING_VERSION:
            db.execute("UPDATE documents SET sha256 = ''")
            db.execute(
                "INSERT OR REPLACE INTO settings(key, value) VALUES ('chunking', ?)",
                (records.CHUNKING_VERSION,),
            )

    def _vector_ids(self, name: str) -> set[str]:
        """Every vector Chroma holds for document `name`, whichever write left it there."""
        return set(self._collection.get(where={"document": name}, include=[])["ids"])

    def _complete_versions(self) -> dict[str, tuple[DocumentInfo, list[str]]]:
        """Per document on the server, its newest version whose chunks are all present."""
        stored = self._collection.get(include=["metadatas"])
        versions: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
        for chunk_id, stored_meta in zip(stored["ids"], stored["metadatas"] or [], strict=True):
            if "sha256" in stored_meta:
                key = (str(stored_meta["document"]), str(stored_meta["sha256"]))
                versions.setdefault(key, []).append((chunk_id, dict(stored_meta)))
        wanted: dict[str, tuple[DocumentInfo, list[str], float]] = {}
        for (name, sha), members in versions.items():
            meta = members[0][1]
            if len(members) != meta.get("chunk_count"):
                continue  # still being written, or half-deleted
            written = float(str(meta.get("written_at", 0)))
            if name in wanted and wanted[name][2] >= written:
                continue
            info = DocumentInfo(
                name=name,
                pages=int(str(meta.get("document_pages", 0))),
                chunks=len(members),
                sha256=sha,
                reference=_text(meta.get("reference")),
                date=_text(meta.get("date")),
                addressee=_text(meta.get("addressee")),
            )
            wanted[name] = (info, sorted((cid for cid, _ in members), key=_position), written)
        return {name: (info, ids) for name, (info, ids, _) in wanted.items()}

    def _mark_pending(self) -> None:
        """Record, before Chroma is touched, that vectors may soon exist that SQLite does not list; a
        crash before `publish` clears the mark makes the next open sweep them."""
        if not self._pending and not self.shared:
            self._set_flag(PENDING, "1")
            self._pending = True

    def _set_flag(self, key: str, value: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, value))

    def _sweep_orphans(self) -> None:
        """Delete vectors that SQLite does not list: the trace of a write interrupted half-way. Skipped
        when the last write finished cleanly: listing every vector costs seconds at 30,000 chunks."""
        with self._db() as db:
            flag = db.execute("SELECT value FROM settings WHERE key = ?", (PENDING,)).fetchone()
        if flag is not None and flag[0] == "0":
            return
        with self._db() as db:
            known = {row[0] for row in db.execute("SELECT id FROM chunks")}
        stored = set(self._collection.get(include=[])["ids"])
        orphans = sorted(stored - known)
        if orphans:
            log.warning("removing %d vectors left by an interrupted ingest", len(orphans))
            for start in range(0, len(orphans), 5000):
                self._collection.delete(ids=orphans[start : start + 5000])
        self._set_flag(PENDING, "0")

    def _store_terms(self, chunks: tuple[Chunk, ...], cached: list[str | None]) -> list[str | None]:
        """Compute the terms missing from the cache (an older index, or changed term code) and keep them."""
        filled = [
            value if value is not None else _chunk_terms(c) for c, value in zip(chunks, cached, strict=True)
        ]
        with self._db() as db:
            db.executemany(
                "UPDATE chunks SET terms = ? WHERE id = ?",
                [(value, c.id) for c, value, old in zip(chunks, filled, cached, strict=True) if old is None],
            )
            db.execute(
                "INSERT OR REPLACE INTO settings(key, value) VALUES ('lexical_key', ?)", (LEXICAL_KEY,)
            )
        return list(filled)

    def _load_snapshot(self) -> Snapshot:
        with self._db() as db:
            rows = db.execute(
                "SELECT id, text, metadata, terms FROM chunks ORDER BY document, position"
            ).fetchall()
            stored_key = db.execute("SELECT value FROM settings WHERE key = 'lexical_key'").fetchone()
            documents = db.execute(
                "SELECT d.name, d.pages, COUNT(c.id), d.sha256, d.reference, d.date, d.addressee "
                "FROM documents d LEFT JOIN chunks c ON c.document = d.name GROUP BY d.name ORDER BY d.name"
            ).fetchall()
            letters = db.execute("SELECT name, letter FROM documents WHERE letter IS NOT NULL").fetchall()
        chunks = tuple(Chunk.from_metadata(cid, text, json.loads(meta)) for cid, text, meta, _ in rows)
        lexical = None
        trusted = stored_key is not None and stored_key[0] == LEXICAL_KEY
        cached = [row[3] if trusted else None for row in rows]
        if any(value is None for value in cached):
            cached = self._store_terms(chunks, cached)
        chunk_terms = [str(value).split(" ") for value in cached]
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
            document_frequency=Counter(chain.from_iterable(map(set, chunk_terms))),
            letters={name: Letter.from_dict(json.loads(data)) for name, data in letters},
        )


def _vector_metadata(chunk: Chunk, extra: dict[str, Any], letter_json: str | None) -> Any:
    """What Chroma stores next to a vector: the chunk's metadata, the document's, and (on the first chunk
    only) the parsed letter."""
    meta: dict[str, Any] = {**chunk.metadata(), **extra}
    if letter_json:
        meta["letter"] = letter_json
    return meta


def _chunk_row(document: str, position: int, chunk_id: str, text: str, meta: Any) -> tuple[object, ...]:
    terms_text = _chunk_terms(Chunk.from_metadata(chunk_id, text, meta))
    return (chunk_id, document, position, text, json.dumps(meta), terms_text)


def _chunk_terms(chunk: Chunk) -> str:
    """A chunk's lexical terms as stored in SQLite: space-separated stems (they hold no spaces)."""
    return " ".join(terms(chunk.search_text()) or [EMPTY_TERMS])


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _position(chunk_id: str) -> int:
    """A chunk's place in its document, from its id ("<document key>:0007")."""
    return int(chunk_id.rsplit(":", 1)[-1])
