"""Passages -> an extractive answer: the sentences that best answer the question, each followed by `[n]`
pointing to a citation with a verbatim quote, or a plain refusal when the corpus does not support one.

The weights and thresholds below were tuned on the "tune" half of eval/questions.jsonl only; the
evaluation report gives the figures on the other half.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.embeddings import Embedder
from assistant.grounding import Judgement, judge
from assistant.index import Snapshot
from assistant.ingest.principles import find_principles, format_ranges
from assistant.ingest.sentences import quotable_spans
from assistant.records import Answer, Chunk, Citation, Passage, labelled
from assistant.terms import expand_shorthand, terms

PASSAGES_READ = 4
MAX_UNITS = 4
SIMILARITY_WEIGHT = 1.0  # cosine between the question and the sentence
OVERLAP_WEIGHT = 0.25  # share of the question's (IDF-weighted) terms the sentence contains
RANK_PRIOR = 0.2  # bonus for sentences of the best passage, halved for each rank below
PRINCIPLE_WEIGHT = 0.1  # bonus for a sentence naming a principle the question names
KEEP_WITHIN = 0.4  # keep every sentence scoring within this margin of the best one
MAX_PER_PASSAGE = 2  # units taken from any one passage, leaving room for a second source
SHORT_SENTENCE = 120  # a best sentence shorter than this is followed by the next one


@dataclass(frozen=True)
class Unit:
    """A quotable piece of a passage: one sentence, or a list lead-in with its items."""

    passage: Passage
    start: int
    end: int

    @property
    def quote(self) -> str:
        """The exact text of the unit in its chunk."""
        return self.passage.chunk.text[self.start : self.end]

    @property
    def text(self) -> str:
        """The quote on one line, as it reads in an answer."""
        return " ".join(self.quote.split())


@dataclass(frozen=True)
class Scored:
    """A unit with how well it answers the question."""

    unit: Unit
    score: float
    similarity: float
    overlap: float


def compose(
    question: str,
    passages: list[Passage],
    snapshot: Snapshot,
    embedder: Embedder,
    max_chars: int = 1200,
    min_support: float = 0.0,
) -> Answer:
    """The answer to `question` from `passages`, or a refusal that says why and names the closest
    topics the corpus does cover."""
    scored = score_units(question, passages, snapshot, embedder)
    chosen = select(scored, max_chars)
    judgement = judge(
        question,
        similarity=scored[0].similarity if scored else 0.0,
        coverage=_coverage(question, passages, snapshot),
        best_texts=[u.text for u in sorted(chosen, key=lambda u: -_score_of(u, scored))],
        passages_text="\n".join(p.chunk.search_text() for p in passages[:3]),
        snapshot=snapshot,
    )
    if not chosen or not judgement.supported or judgement.support < min_support:
        return refuse(passages, judgement, snapshot)
    citations: list[Citation] = []
    parts: list[str] = []
    for unit in chosen:
        chunk = unit.passage.chunk
        citation = Citation(
            id=len(citations) + 1,
            document=chunk.document,
            reference=chunk.reference,
            page=chunk.page_at(unit.start),
            principles=find_principles(unit.quote) or chunk.principles,
            quote=unit.quote,
            section=chunk.section,
            chunk_id=chunk.id,
        )
        citations.append(citation)
        parts.append(f"{unit.text} [{citation.id}]")
    return Answer(
        answer=" ".join(parts),
        grounded=True,
        citations=tuple(citations),
        support=judgement.support,
        passages=tuple(passages),
    )


def score_units(
    question: str, passages: list[Passage], snapshot: Snapshot, embedder: Embedder
) -> list[Scored]:
    """Every unit of the top passages, scored by meaning (embedding cosine), shared rare words and the
    rank of its passage; best first."""
    units = [unit for passage in passages[:PASSAGES_READ] for unit in _units(passage)]
    if not units:
        return []
    question_vector = embedder.embed_query(expand_shorthand(question))
    similarities = embedder.embed_cached([labelled(u.passage.chunk, u.text) for u in units]) @ question_vector
    question_terms = set(terms(question))
    total = sum(snapshot.idf(t) for t in question_terms) or 1.0
    asked = set(find_principles(question))
    scored = []
    for unit, similarity in zip(units, similarities, strict=True):
        overlap = sum(snapshot.idf(t) for t in question_terms & set(terms(unit.quote))) / total
        score = (
            SIMILARITY_WEIGHT * float(similarity)
            + OVERLAP_WEIGHT * overlap
            + RANK_PRIOR * 0.5**unit.passage.rank
            + (PRINCIPLE_WEIGHT if asked & set(find_principles(unit.quote)) else 0.0)
        )
        scored.append(Scored(unit, score, float(similarity), overlap))
    scored.sort(key=lambda s: -s.score)
    return scored


def select(scored: list[Scored], max_chars: int) -> list[Unit]:
    """The best units that fit in `max_chars`, in reading order (passage rank, then position). A short
    best sentence brings the sentence after it: a topic sentence is usually followed by its details."""
    chosen: list[Unit] = []
    length = 0

    def take(unit: Unit) -> None:
        nonlocal length
        overlaps = any(
            u.passage is unit.passage and u.start < unit.end and unit.start < u.end for u in chosen
        )
        cost = len(unit.text) + 5
        crowded = sum(u.passage is unit.passage for u in chosen) >= MAX_PER_PASSAGE
        if not overlaps and not crowded and length + cost <= max_chars:
            chosen.append(unit)
            length += cost

    for position, item in enumerate(scored):
        if len(chosen) >= MAX_UNITS or item.score < scored[0].score - KEEP_WITHIN:
            break
        take(item.unit)
        if position == 0 and len(item.unit.text) < SHORT_SENTENCE:
            following = [
                s.unit
                for s in scored
                if s.unit.passage is item.unit.passage and s.unit.start >= item.unit.end
            ]
            if following:
                take(min(following, key=lambda u: u.start))
    return sorted(chosen, key=lambda u: (u.passage.rank, u.start))


def _score_of(unit: Unit, scored: list[Scored]) -> float:
    return next(s.score for s in scored if s.unit is unit)


def _coverage(question: str, passages: list[Passage], snapshot: Snapshot) -> float:
    """Share of the question's distinctive vocabulary (IDF-weighted) found in the top passages."""
    weights = {t: snapshot.idf(t) for t in set(terms(question))}
    if not weights:
        return 0.0
    found = {t for p in passages[:3] for t in terms(p.chunk.search_text())}
    return sum(w for t, w in weights.items() if t in found) / sum(weights.values())


REFUSALS = {
    "weak": "The corpus does not answer this question, and I will not guess.",
    "number": "The corpus does not give that figure.",
    "date": "The corpus does not give that date.",
    "name": "The corpus does not name that.",
    "detail": "The corpus does not give that detail.",
    "aftermath": "The corpus holds the letters as they were sent; it does not record replies to them or "
    "what happened afterwards.",
}


def refuse(passages: list[Passage], judgement: Judgement, snapshot: Snapshot) -> Answer:
    """Say plainly that the corpus does not answer, why, and what it does cover."""
    reason = judgement.reason or "weak"
    numbers = ", ".join(str(n) for n in judgement.missing_principles)
    plural = "s" if len(judgement.missing_principles) > 1 else ""
    if reason == "principle":
        text = (
            f"The corpus does not quote or cite Guiding Principle{plural} {numbers}, so I cannot say "
            "what it requires."
        )
    elif reason == "principle-in-range":
        text = (
            f"The corpus names Guiding Principle {numbers} only as part of a range and does not quote it, so "
            "I cannot say what it requires on its own."
        )
    elif reason.startswith("unknown:"):
        text = f"The corpus never mentions {reason.split(':', 1)[1]}, so it cannot answer this."
    else:
        text = REFUSALS.get(reason, REFUSALS["weak"])
    if reason.startswith("principle") and snapshot.by_principle:
        text += f" It does cover Guiding Principles {format_ranges(sorted(snapshot.by_principle))}."
    else:
        topics = list(dict.fromkeys(_topic(p.chunk) for p in passages[:3]))
        if topics:
            text += " The closest topics it does cover: " + "; ".join(topics) + "."
    return Answer(answer=text, grounded=False, support=judgement.support, passages=tuple(passages))


def _units(passage: Passage) -> list[Unit]:
    return [Unit(passage, start, end) for start, end in quotable_spans(passage.chunk.text)]


def _topic(chunk: Chunk) -> str:
    where = f"{chunk.reference or chunk.document}, p. {chunk.page}"
    if chunk.question_number is not None:
        return f"question {chunk.question_number} of the letter ({where})"
    if chunk.principles and chunk.section == "annex":
        return f"Guiding Principle {format_ranges(list(chunk.principles))} in the annex ({where})"
    words = " ".join(chunk.text.split()[:9]).rstrip(",;:")
    return f"“{words}…” ({where})"
