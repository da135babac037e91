"""What the evaluation measures: one gold item scored against one system's passages and answer, and the
scores of many items summed up into the figures the report prints.

Every comparison of text is made on whitespace-collapsed text (PDF line breaks are not meaning);
evidence and key facts are matched case-insensitively, citation quotes case-sensitively (a quote is
verbatim or it is not).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from assistant.records import Answer, Passage

MAX_ANSWER_CHARS = 1200
MIN_CONTAINED_QUOTE_WORDS = 5
QuoteCheck = Callable[[str, str], bool]  # (document, quote) -> occurs verbatim in that document

DEFINITIONS: dict[str, str] = {
    "recall@k": "answerable items: share of the item's evidence phrases found (whitespace-collapsed, "
    "case-insensitive) in the union of the top-k passages' texts",
    "mrr@5": "answerable items: 1/rank of the first of the top-5 passages containing any evidence phrase "
    "(0 when none does)",
    "page_recall@5": "answerable items: share of the item's pages covered by the pages of the top-5 passages",
    "citation_validity": "all citations of all answers: share whose quote occurs verbatim (whitespace-"
    "collapsed) in the cited document's text, raw pypdf text or the cleaned text the assistant indexed",
    "citation_support": "answerable items: share with at least one citation whose quote contains an "
    f"evidence phrase, or whose quote of >= {MIN_CONTAINED_QUOTE_WORDS} words lies inside one",
    "principle_accuracy": "items naming required principles: share where the citations' principles "
    "together include every required one",
    "key_fact_coverage": "answerable items: mean share of the item's must_include facts found "
    "(whitespace-collapsed, case-insensitive) in the answer text",
    "conciseness": f"all items: share of answers of at most {MAX_ANSWER_CHARS} characters",
    "refusal_accuracy": "unanswerable items: share answered with grounded = false",
    "false_refusal": "answerable items: share answered with grounded = false (lower is better)",
    "latency": "wall-clock milliseconds of each ask call and of the search (k=5) made right after it on "
    "the same question, p50 and p95 (the assistant and the LangChain recipe reuse the question's embedding "
    "there)",
}


def collapse(text: str) -> str:
    """Every run of whitespace as one space, ends stripped."""
    return " ".join(text.split())


def contains(haystack: str, needle: str) -> bool:
    """`needle` occurs in `haystack`, ignoring case and whitespace differences."""
    return collapse(needle).casefold() in collapse(haystack).casefold()


# -- the metric definitions, one gold item at a time ------------------------------------------------------
def evidence_recall(evidence: Sequence[str], texts: Sequence[str]) -> float:
    """Share of the evidence phrases found in the union of `texts` (each phrase may lie in any of them)."""
    if not evidence:
        return 0.0
    return sum(any(contains(t, phrase) for t in texts) for phrase in evidence) / len(evidence)


def first_hit_rank(evidence: Sequence[str], texts: Sequence[str]) -> int | None:
    """1-based rank of the first text holding any evidence phrase, or None."""
    for rank, text in enumerate(texts, start=1):
        if any(contains(text, phrase) for phrase in evidence):
            return rank
    return None


def reciprocal_rank(evidence: Sequence[str], texts: Sequence[str]) -> float:
    """1/rank of the first text holding any evidence phrase; 0 when none does."""
    rank = first_hit_rank(evidence, texts)
    return 1.0 / rank if rank else 0.0


def page_recall(pages: Sequence[int], retrieved: Iterable[Iterable[int]]) -> float:
    """Share of the gold `pages` among the pages the retrieved passages span."""
    if not pages:
        return 0.0
    covered = {p for passage_pages in retrieved for p in passage_pages}
    return len(set(pages) & covered) / len(set(pages))


def quote_in(text: str, quote: str) -> bool:
    """A citation quote is verbatim in `text` (whitespace-collapsed, case kept); an empty quote never is."""
    quote = collapse(quote)
    return bool(quote) and quote in collapse(text)


def supports(evidence: Sequence[str], quote: str) -> bool:
    """The quote contains an evidence phrase, or is a piece (of at least 5 words) of one."""
    if any(contains(quote, phrase) for phrase in evidence):
        return True
    return len(quote.split()) >= MIN_CONTAINED_QUOTE_WORDS and any(contains(p, quote) for p in evidence)


def principles_covered(required: Iterable[int], cited: Iterable[Iterable[int]]) -> bool:
    """Every required principle is among those the citations carry."""
    found = {n for numbers in cited for n in numbers}
    return set(required) <= found


def key_fact_coverage(must_include: Sequence[str], answer: str) -> float:
    """Share of the key facts the answer text states."""
    if not must_include:
        return 0.0
    return sum(contains(answer, fact) for fact in must_include) / len(must_include)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, like numpy's default; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- one item, scored ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """One gold question (a line of eval/questions.jsonl)."""

    id: str
    question: str
    answerable: bool
    evidence: tuple[str, ...] = ()
    pages: tuple[int, ...] = ()
    principles: tuple[int, ...] = ()
    must_include: tuple[str, ...] = ()
    kind: str = ""
    split: str = ""


@dataclass(frozen=True)
class Outcome:
    """How one system did on one item: the figures each metric needs and the failures in words."""

    item: Item
    recall: dict[int, float]
    first_hit: int | None
    page_recall: float
    quotes: int
    invalid_citations: tuple[int, ...]
    supported: bool
    principles_ok: bool
    key_facts: float
    answer_chars: int
    grounded: bool
    search_ms: float
    ask_ms: float
    failures: tuple[str, ...] = ()
    answer: str = ""
    top_pages: tuple[int, ...] = ()
    support: float = 0.0

    @property
    def valid_quotes(self) -> int:
        return self.quotes - len(self.invalid_citations)


def score_item(
    item: Item,
    passages: Sequence[Passage],
    answer: Answer,
    quote_is_valid: QuoteCheck,
    search_ms: float = 0.0,
    ask_ms: float = 0.0,
) -> Outcome:
    """Score `item` against the top passages of a search and the answer of an ask."""
    texts = [p.chunk.text for p in passages[:5]]
    recall = {k: evidence_recall(item.evidence, texts[:k]) for k in (1, 3, 5)}
    first = first_hit_rank(item.evidence, texts) if item.evidence else None
    pages = page_recall(item.pages, (p.chunk.pages for p in passages[:5]))
    invalid = tuple(c.id for c in answer.citations if not quote_is_valid(c.document, c.quote))
    supported = any(supports(item.evidence, c.quote) for c in answer.citations)
    principles_ok = principles_covered(item.principles, (c.principles for c in answer.citations))
    facts = key_fact_coverage(item.must_include, answer.answer)
    outcome = Outcome(
        item=item,
        recall=recall,
        first_hit=first,
        page_recall=pages,
        quotes=len(answer.citations),
        invalid_citations=invalid,
        supported=supported,
        principles_ok=principles_ok,
        key_facts=facts,
        answer_chars=len(answer.answer),
        grounded=answer.grounded,
        search_ms=search_ms,
        ask_ms=ask_ms,
        answer=answer.answer,
        top_pages=tuple(p.chunk.page for p in passages[:5]),
        support=answer.support,
    )
    return replace(outcome, failures=failures(outcome))


def failures(outcome: Outcome) -> tuple[str, ...]:
    """The item's failures in words, worst first, for the report's failure list."""
    item = outcome.item
    found: list[str] = []
    if outcome.invalid_citations:
        found.append(
            f"quote not verbatim in the cited document: citation(s) {list(outcome.invalid_citations)}"
        )
    if outcome.answer_chars > MAX_ANSWER_CHARS:
        found.append(f"answer too long ({outcome.answer_chars} characters)")
    if not item.answerable:
        if outcome.grounded:
            found.append("answered an unanswerable question")
        return tuple(found)
    if not outcome.grounded:
        found.append("refused an answerable question")
    if outcome.recall[5] < 1:
        found.append(f"evidence recall@5 {outcome.recall[5]:.2f} (top-5 pages {list(outcome.top_pages)})")
    elif outcome.first_hit != 1:
        found.append(f"evidence first at rank {outcome.first_hit}")
    if item.principles and not outcome.principles_ok:
        found.append(f"citations miss principle(s) {list(item.principles)}")
    if outcome.grounded and not outcome.supported:
        found.append("no citation quotes the evidence")
    if outcome.key_facts < 1:
        missing = [f for f in item.must_include if not contains(outcome.answer, f)]
        found.append(f"answer lacks {missing}")
    return tuple(found)


# -- many items, summed up -----------------------------------------------------------------------------
def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(outcomes: Sequence[Outcome]) -> dict[str, float | int | None]:
    """Every metric over `outcomes` (None where no item qualifies, e.g. no unanswerable items)."""
    answerable = [o for o in outcomes if o.item.answerable]
    unanswerable = [o for o in outcomes if not o.item.answerable]
    with_principles = [o for o in outcomes if o.item.principles]
    quotes = sum(o.quotes for o in outcomes)
    return {
        "items": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall@1": _mean([o.recall[1] for o in answerable]),
        "recall@3": _mean([o.recall[3] for o in answerable]),
        "recall@5": _mean([o.recall[5] for o in answerable]),
        "mrr@5": _mean([1 / o.first_hit if o.first_hit else 0.0 for o in answerable]),
        "page_recall@5": _mean([o.page_recall for o in answerable]),
        "citation_validity": sum(o.valid_quotes for o in outcomes) / quotes if quotes else None,
        "citation_support": _mean([float(o.supported) for o in answerable]),
        "principle_accuracy": _mean([float(o.principles_ok) for o in with_principles]),
        "key_fact_coverage": _mean([o.key_facts for o in answerable]),
        "conciseness": _mean([float(o.answer_chars <= MAX_ANSWER_CHARS) for o in outcomes]),
        "refusal_accuracy": _mean([float(not o.grounded) for o in unanswerable]),
        "false_refusal": _mean([float(not o.grounded) for o in answerable]),
        "search_p50_ms": percentile([o.search_ms for o in outcomes], 50),
        "search_p95_ms": percentile([o.search_ms for o in outcomes], 95),
        "ask_p50_ms": percentile([o.ask_ms for o in outcomes], 50),
        "ask_p95_ms": percentile([o.ask_ms for o in outcomes], 95),
    }
