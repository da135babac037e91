"""Query + filters -> ranked passages: dense and lexical rankings fused by reciprocal rank, with passages
that carry a Guiding Principle the question names moved to the front."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np

from assistant.embeddings import Embedder
from assistant.index import Index, Snapshot
from assistant.ingest.principles import find_principles
from assistant.ingest.sentences import quotable_spans
from assistant.records import Chunk, Letter, Passage, date_number, labelled, name_words
from assistant.terms import expand_shorthand

RRF_K = 20
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
PRINCIPLE_BONUS = 1.0
QUESTION_BONUS = 1.0
QUOTED_PRINCIPLE_BONUS = 0.25
RERANK_DEPTH = 8  # fused candidates re-scored by their best sentence
SENTENCE_WEIGHT = 0.2  # tuned on the "tune" half of eval/questions.jsonl


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


def sentence_texts(chunk: Chunk) -> list[str]:
    """The chunk's quotable sentences as they are compared with questions (on one line, labelled):
    the texts whose vectors the embedder caches."""
    spans = quotable_spans(chunk.text) or [(0, len(chunk.text))]
    return [labelled(chunk, " ".join(chunk.text[a:b].split())) for a, b in spans]


def best_sentence_similarity(chunks: list[Chunk], vector: np.ndarray, embedder: Embedder) -> list[float]:
    """For each chunk, the cosine between the question and its closest quotable sentence: a long
    paragraph answers a question through one sentence, which a whole-chunk vector blurs."""
    per_chunk = [sentence_texts(chunk) for chunk in chunks]
    texts = [text for sentences in per_chunk for text in sentences]
    similarities = embedder.embed_cached(texts) @ vector if texts else np.zeros(0)
    best, offset = [], 0
    for sentences in per_chunk:
        best.append(float(similarities[offset : offset + len(sentences)].max()))
        offset += len(sentences)
    return best


ORDINALS = {
    word: number
    for number, word in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split(), start=1
    )
}
QUESTION_REFERENCE = re.compile(
    r"\b(?:question|q|qn)s?\s*(?:no\.?|number|#)?\s*(\d{1,2}(?:\s*(?:,|and|&|-|to)\s*\d{1,2})*)\b"
    r"|\b(" + "|".join(ORDINALS) + r"|last|final)\s+(?:numbered\s+)?question",
    re.IGNORECASE,
)


def find_question_numbers(query: str, highest: int) -> tuple[int, ...]:
    """Numbered questions of a letter that the query points at: "question 3", "q7", "the second
    question", "the last question" (`highest` is the last question number in the corpus)."""
    found: set[int] = set()
    for match in QUESTION_REFERENCE.finditer(expand_shorthand(query)):
        if match.group(1):
            found.update(int(n) for n in re.findall(r"\d{1,2}", match.group(1)))
        else:
            word = match.group(2).lower()
            found.add(highest if word in ("last", "final") else ORDINALS[word])
    return tuple(sorted(n for n in found if 1 <= n <= highest))


def retrieve(
    query: str,
    index: Index,
    embedder: Embedder,
    k: int = 5,
    filters: Filters = NO_FILTERS,
    snapshot: Snapshot | None = None,
) -> list[Passage]:
    """The `k` passages that best answer `query`, best first, all read from one snapshot of the index
    (default: the current one), so a document replaced meanwhile never shows up half old, half new."""
    snapshot = snapshot or index.snapshot
    depth = max(30, 4 * k)
    vector = embedder.embed_query(expand_shorthand(query))
    dense = index.dense_search(vector, depth, filters.where(), snapshot=snapshot)
    lexical = index.lexical_search(query, depth, filters.accepts, snapshot=snapshot)
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    dense_score = {c.id: s for c, s in dense}
    lexical_score = {c.id: s for c, s in lexical}
    for weight, ranking in ((DENSE_WEIGHT, dense), (LEXICAL_WEIGHT, lexical)):
        for rank, (chunk, _) in enumerate(ranking):
            scores[chunk.id] = scores.get(chunk.id, 0.0) + weight / (RRF_K + rank + 1)
            chunks[chunk.id] = chunk
    for number in find_question_numbers(query, snapshot.highest_question):
        for chunk in snapshot.by_question.get(number, ()):
            if filters.accepts(chunk):
                chunks[chunk.id] = chunk
                scores[chunk.id] = scores.get(chunk.id, 0.0) + QUESTION_BONUS
    asked = set(find_principles(query))
    if asked:
        quoting = {c.id: c for n in asked for c in snapshot.by_principle.get(n, ())}
        for chunk in quoting.values():
            if filters.accepts(chunk):
                chunks[chunk.id] = chunk
                bonus = PRINCIPLE_BONUS + (QUOTED_PRINCIPLE_BONUS if chunk.kind == "principle" else 0.0)
                scores[chunk.id] = scores.get(chunk.id, 0.0) + bonus
    ranked = sorted(scores, key=lambda cid: -scores[cid])
    head = ranked[:RERANK_DEPTH]
    for cid, similarity in zip(
        head, best_sentence_similarity([chunks[c] for c in head], vector, embedder), strict=True
    ):
        scores[cid] += SENTENCE_WEIGHT * similarity
    ranked = (sorted(head, key=lambda cid: -scores[cid]) + ranked[RERANK_DEPTH:])[:k]
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
