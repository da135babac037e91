"""Passages -> an extractive answer: the sentences that best answer the question, each followed by `[n]`
pointing to a citation with a verbatim quote, or a plain refusal when the corpus does not support one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.index import Snapshot
from assistant.ingest.principles import find_principles, format_ranges
from assistant.ingest.sentences import sentence_spans
from assistant.records import Answer, Chunk, Citation, Passage
from assistant.terms import terms

PASSAGES_READ = 4
MAX_SENTENCES = 3
PASSAGE_PRIOR = (0.45, 0.25, 0.15, 0.1)
LIST_ITEM = re.compile(r"^(?:[-•–]\s*)?\(?[a-z]{1,3}\)\s")


@dataclass(frozen=True)
class Unit:
    """A quotable piece of a passage: one sentence, or a list lead-in with its items."""

    passage: Passage
    start: int
    end: int

    @property
    def quote(self) -> str:
        return self.passage.chunk.text[self.start : self.end]


@dataclass(frozen=True)
class Evidence:
    """How well the retrieved passages cover the question; `support` in [0, 1] decides grounding."""

    support: float
    dense: float
    coverage: float
    missing_principles: tuple[int, ...]


def compose(
    question: str,
    passages: list[Passage],
    snapshot: Snapshot,
    max_chars: int = 1200,
    min_support: float = 0.5,
) -> Answer:
    """The answer to `question` from `passages`, or a refusal naming the closest topics covered."""
    evidence = assess(question, passages, snapshot)
    if not passages or evidence.missing_principles or evidence.support < min_support:
        return refuse(question, passages, evidence, snapshot)
    chosen = _select_units(question, passages, snapshot, max_chars)
    citations: list[Citation] = []
    parts: list[str] = []
    for unit in chosen:
        chunk = unit.passage.chunk
        citation = Citation(
            id=len(citations) + 1,
            document=chunk.document,
            reference=chunk.reference,
            page=_page_of(chunk, unit.start),
            principles=find_principles(unit.quote) or chunk.principles,
            quote=unit.quote,
            section=chunk.section,
            chunk_id=chunk.id,
        )
        citations.append(citation)
        parts.append(f"{' '.join(unit.quote.split())} [{citation.id}]")
    return Answer(
        answer=" ".join(parts),
        grounded=True,
        citations=tuple(citations),
        support=evidence.support,
        passages=tuple(passages),
    )


def assess(question: str, passages: list[Passage], snapshot: Snapshot) -> Evidence:
    """Score the evidence: semantic closeness of the best passage and how much of the question's
    distinctive vocabulary the top passages contain (rare words weigh more)."""
    asked = find_principles(question)
    missing = tuple(n for n in asked if n not in snapshot.by_principle)
    question_terms = set(terms(question))
    if not passages or not question_terms:
        return Evidence(0.0, 0.0, 0.0, missing)
    dense = max(p.dense for p in passages)
    found = {t for p in passages[:3] for t in terms(p.chunk.search_text())}
    weights = {t: snapshot.idf(t) for t in question_terms}
    coverage = sum(w for t, w in weights.items() if t in found) / sum(weights.values())
    support = 0.5 * min(1.0, max(0.0, (dense - 0.2) / 0.5)) + 0.5 * coverage
    return Evidence(support, dense, coverage, missing)


def refuse(question: str, passages: list[Passage], evidence: Evidence, snapshot: Snapshot) -> Answer:
    """Say plainly that the corpus does not answer, and point to what it does cover."""
    if evidence.missing_principles:
        covered = _ranges(sorted(snapshot.by_principle))
        missing = ", ".join(str(n) for n in evidence.missing_principles)
        plural = "s" if len(evidence.missing_principles) > 1 else ""
        text = (
            f"The corpus does not quote or cite Guiding Principle{plural} {missing}, so I cannot say what "
            f"{'they require' if plural else 'it requires'}. "
            + (f"It does cover Guiding Principles {covered}." if covered else "")
        )
    else:
        topics = [_topic(p.chunk) for p in passages[:3]]
        text = "The corpus does not answer this question, and I will not guess."
        if topics:
            text += " The closest topics it does cover: " + "; ".join(dict.fromkeys(topics)) + "."
    return Answer(answer=text, grounded=False, support=evidence.support, passages=tuple(passages))


def _select_units(question: str, passages: list[Passage], snapshot: Snapshot, max_chars: int) -> list[Unit]:
    question_terms = set(terms(question))
    asked = set(find_principles(question))
    total = sum(snapshot.idf(t) for t in question_terms) or 1.0
    scored: list[tuple[float, Unit]] = []
    for passage in passages[:PASSAGES_READ]:
        prior = PASSAGE_PRIOR[min(passage.rank, len(PASSAGE_PRIOR) - 1)]
        for position, unit in enumerate(_units(passage)):
            unit_terms = set(terms(unit.quote))
            overlap = sum(snapshot.idf(t) for t in question_terms & unit_terms) / total
            score = overlap + prior + (0.05 if position == 0 else 0.0)
            if asked and asked & set(find_principles(unit.quote)):
                score += 0.5
            scored.append((score, unit))
    scored.sort(key=lambda item: -item[0])
    if not scored:
        return []
    best = scored[0][0]
    chosen: list[Unit] = []
    length = 0
    for score, unit in scored:
        if len(chosen) >= MAX_SENTENCES or score < best * 0.6:
            break
        cost = len(" ".join(unit.quote.split())) + 6
        if length + cost > max_chars:
            continue
        chosen.append(unit)
        length += cost
    chosen.sort(key=lambda u: (u.passage.rank, u.start))
    return chosen


def _units(passage: Passage) -> list[Unit]:
    """Sentences of a passage; a sentence ending in ':' keeps the list items that follow it."""
    text = passage.chunk.text
    units: list[Unit] = []
    for start, end in sentence_spans(text):
        previous = units[-1] if units else None
        if previous and (previous.quote.rstrip().endswith(":") or LIST_ITEM.match(text[start:end])):
            units[-1] = Unit(passage, previous.start, end)
        else:
            units.append(Unit(passage, start, end))
    return units


def _page_of(chunk: Chunk, offset: int) -> int:
    """The page a quote starts on: chunks that span pages are split by their share of the text."""
    if len(chunk.pages) == 1:
        return chunk.page
    share = offset / max(1, len(chunk.text))
    return chunk.pages[min(len(chunk.pages) - 1, int(share * len(chunk.pages)))]


def _topic(chunk: Chunk) -> str:
    where = f"{chunk.reference or chunk.document}, p. {chunk.page}"
    if chunk.question_number is not None:
        return f"question {chunk.question_number} of the letter ({where})"
    if chunk.principles and chunk.section == "annex":
        return f"Guiding Principle {_ranges(list(chunk.principles))} in the annex ({where})"
    words = " ".join(chunk.text.split()[:9]).rstrip(",;:")
    return f"“{words}…” ({where})"


def _ranges(numbers: list[int]) -> str:
    """[13, 15, 25, 26, 27] -> '13, 15, 25-27'."""
    return format_ranges(numbers)
