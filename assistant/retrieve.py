"""Query + filters -> ranked passages: dense and lexical rankings fused by reciprocal rank, with passages
that carry a Guiding Principle the question names moved to the front."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from assistant.embeddings import Embedder
from assistant.index import Index
from assistant.ingest.principles import find_principles
from assistant.records import Chunk, Letter, Passage, date_number, name_words
from assistant.terms import expand_shorthand

RRF_K = 20
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
PRINCIPLE_BONUS = 1.0
QUOTED_PRINCIPLE_BONUS = 0.25


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to part of the corpus; every field left None means no restriction.

    `where()` (Chroma) and `accepts()` (the lexical side) express the same restriction over the same
    chunk fields, so the two halves of hybrid retrieval always see the same passages. The service checks
    and normalises a `Filters` (e.g. a reference typed as a slug) before it is used.
    """

    document: str | None = None
    reference: str | None = None
    section: str | None = None
    principle: int | None = None
    addressee: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def where(self) -> dict[str, object] | None:
        """The same restriction as a Chroma `where` clause."""
        clauses: list[dict[str, object]] = []
        if self.document:
            clauses.append({"document": self.document})
        if self.reference:
            clauses.append({"reference": self.reference})
        if self.section:
            clauses.append({"section": self.section})
        if self.principle is not None:
            clauses.append({"principles": {"$contains": self.principle}})
        for word in name_words(self.addressee or ""):
            clauses.append({"addressee_words": {"$contains": word}})
        if self.date_from:
            clauses.append({"date_number": {"$gte": date_number(self.date_from.isoformat())}})
        if self.date_to:
            clauses.append({"date_number": {"$lte": date_number(self.date_to.isoformat())}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, chunk: Chunk) -> bool:
        """True when `chunk` passes every restriction."""
        return (
            (self.document is None or chunk.document == self.document)
            and (self.section is None or chunk.section == self.section)
            and (self.principle is None or self.principle in chunk.principles)
            and self._matches_letter(chunk.reference, chunk.date, chunk.addressee_words())
        )

    def accepts_letter(self, letter: Letter) -> bool:
        """True when `letter` passes the restrictions that describe a whole letter (document, reference,
        addressee, dates, and a principle it cites): how `/letters` narrows its list."""
        words = name_words(f"{letter.company or letter.addressee or ''} {letter.person or ''}")
        return (
            (self.document is None or letter.document == self.document)
            and (self.principle is None or self.principle in letter.principles)
            and self._matches_letter(letter.reference, letter.date, words)
        )

    def _matches_letter(self, reference: str | None, day: str | None, words: tuple[str, ...]) -> bool:
        return (
            (self.reference is None or reference == self.reference)
            and set(name_words(self.addressee or "")) <= set(words)
            and (self.date_from is None or (day is not None and day >= self.date_from.isoformat()))
            and (self.date_to is None or (day is not None and day <= self.date_to.isoformat()))
        )


NO_FILTERS = Filters()


def retrieve(
    query: str, index: Index, embedder: Embedder, k: int = 5, filters: Filters = NO_FILTERS
) -> list[Passage]:
    """The `k` passages that best answer `query`, best first."""
    depth = max(30, 4 * k)
    vector = embedder.embed_query(expand_shorthand(query))
    dense = index.dense_search(vector, depth, filters.where())
    lexical = index.lexical_search(query, depth, filters.accepts)
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    dense_score = {c.id: s for c, s in dense}
    lexical_score = {c.id: s for c, s in lexical}
    for weight, ranking in ((DENSE_WEIGHT, dense), (LEXICAL_WEIGHT, lexical)):
        for rank, (chunk, _) in enumerate(ranking):
            scores[chunk.id] = scores.get(chunk.id, 0.0) + weight / (RRF_K + rank + 1)
            chunks[chunk.id] = chunk
    asked = set(find_principles(query))
    if asked:
        quoting = {c.id: c for n in asked for c in index.snapshot.by_principle.get(n, ())}
        for chunk in quoting.values():
            if filters.accepts(chunk):
                chunks[chunk.id] = chunk
                bonus = PRINCIPLE_BONUS + (QUOTED_PRINCIPLE_BONUS if chunk.kind == "principle" else 0.0)
                scores[chunk.id] = scores.get(chunk.id, 0.0) + bonus
    ranked = sorted(scores, key=lambda cid: -scores[cid])[:k]
    return [
        Passage(
            chunk=chunks[cid],
            score=scores[cid],
            dense=dense_score.get(cid, 0.0),
            lexical=lexical_score.get(cid, 0.0),
            rank=rank,
        )
        for rank, cid in enumerate(ranked)
    ]
