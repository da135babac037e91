"""The evaluation's metric definitions on small hand-made cases, including ones that must score 0."""

from __future__ import annotations

import pytest

from assistant.metrics import (
    Item,
    contains,
    evidence_recall,
    first_hit_rank,
    key_fact_coverage,
    page_recall,
    percentile,
    principles_covered,
    quote_in,
    reciprocal_rank,
    score_item,
    summarise,
    supports,
)
from assistant.records import Answer, Chunk, Citation, Passage

TEXTS = [
    "The company should\n  avoid causing harm.",
    "Remediation through LEGITIMATE processes is expected.",
    "Nothing relevant here.",
]


def passage(text: str, page: int = 1, rank: int = 0, pages: tuple[int, ...] = ()) -> Passage:
    chunk = Chunk(
        id=f"c{rank}", document="letter.pdf", text=text, page=page, pages=pages or (page,), section="body"
    )
    return Passage(chunk=chunk, score=1.0 - rank / 10, rank=rank)


def citation(quote: str, principles: tuple[int, ...] = (), n: int = 1) -> Citation:
    return Citation(id=n, document="letter.pdf", reference=None, page=1, principles=principles, quote=quote)


@pytest.mark.parametrize(
    ("haystack", "needle", "expected"),
    [
        ("Avoid   causing\nharm", "avoid causing harm", True),  # whitespace and case do not matter
        ("avoid causing harm", "avoid  causing  harms", False),
        ("anything", "", True),
    ],
)
def test_contains_collapses_whitespace_and_ignores_case(haystack, needle, expected):
    assert contains(haystack, needle) is expected


@pytest.mark.parametrize(
    ("evidence", "k", "expected"),
    [
        (["avoid causing harm", "legitimate processes"], 1, 0.5),
        (["avoid causing harm", "legitimate processes"], 2, 1.0),
        (["legitimate processes"], 1, 0.0),  # in the corpus, but not in the top 1
        (["not in any passage"], 3, 0.0),
        ([], 3, 0.0),
    ],
)
def test_evidence_recall_counts_phrases_found_in_the_union_of_the_top_k(evidence, k, expected):
    assert evidence_recall(evidence, TEXTS[:k]) == expected


@pytest.mark.parametrize(
    ("evidence", "rank", "rr"),
    [
        (["avoid causing harm"], 1, 1.0),
        (["legitimate processes"], 2, 0.5),
        (["nothing relevant", "legitimate processes"], 2, 0.5),  # the first passage holding any phrase
        (["absent phrase"], None, 0.0),
    ],
)
def test_reciprocal_rank_is_one_over_the_first_passage_with_any_evidence(evidence, rank, rr):
    assert first_hit_rank(evidence, TEXTS) == rank
    assert reciprocal_rank(evidence, TEXTS) == rr


@pytest.mark.parametrize(
    ("gold", "retrieved", "expected"),
    [
        ([3, 4], [(1,), (3, 4)], 1.0),
        ([3, 4], [(4,), (4,)], 0.5),
        ([6], [(1,), (2,), (3,)], 0.0),
        ([], [(1,)], 0.0),
    ],
)
def test_page_recall_is_the_share_of_gold_pages_spanned(gold, retrieved, expected):
    assert page_recall(gold, retrieved) == expected


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("avoid causing\nharm.", True),
        ("Avoid causing harm.", False),  # quotes are verbatim: case counts
        ("avoid causing harm!", False),
        ("   ", False),  # an empty quote proves nothing
    ],
)
def test_quote_in_requires_the_exact_words(quote, expected):
    assert quote_in("The company should avoid causing   harm. Then more.", quote) is expected


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("They should provide for remediation through legitimate processes.", True),  # holds the phrase
        ("remediation through legitimate processes", False),  # inside, but only 4 words
        ("through legitimate processes whenever", False),
        ("provide for remediation through legitimate", True),  # 5 words inside the phrase
        ("through legitimate", False),  # too short to count as support
        ("an unrelated sentence about something else", False),
    ],
)
def test_support_needs_the_evidence_in_the_quote_or_a_long_enough_piece_of_it(quote, expected):
    assert supports(["provide for remediation through legitimate processes"], quote) is expected


@pytest.mark.parametrize(
    ("required", "cited", "expected"),
    [
        ([22], [(15, 22)], True),
        ([15, 22], [(15,), (22,)], True),  # the union of the citations counts
        ([22], [(15,), ()], False),
        ([22], [], False),
        ([], [], True),
    ],
)
def test_principles_covered_by_the_union_of_citations(required, cited, expected):
    assert principles_covered(required, cited) is expected


@pytest.mark.parametrize(
    ("facts", "answer", "expected"),
    [
        (["31 May 2021", "ZTE"], "Reply by 31\nMay 2021 [1], says the letter to zte.", 1.0),
        (["31 May 2021", "sixty days"], "Reply by 31 May 2021.", 0.5),
        (["sixty days"], "The corpus does not answer this question.", 0.0),
        ([], "anything", 0.0),
    ],
)
def test_key_fact_coverage(facts, answer, expected):
    assert key_fact_coverage(facts, answer) == expected


def test_percentile_interpolates_like_numpy():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0], 95) == 10.0
    assert percentile([0.0, 100.0], 95) == 95.0
    assert percentile([], 50) == 0.0


ANSWERABLE = Item(
    id="a1",
    question="What remediation does GP 22 expect?",
    answerable=True,
    evidence=("provide for remediation through legitimate processes",),
    pages=(7,),
    principles=(22,),
    must_include=("legitimate processes",),
    split="test",
)
UNANSWERABLE = Item(id="u1", question="What did the company reply?", answerable=False, split="tune")
DOCUMENT = "They should provide for remediation through legitimate processes. Other text."


def valid_in_document(document: str, quote: str) -> bool:
    return quote_in(DOCUMENT, quote)


def test_a_perfect_outcome_has_no_failures():
    passages = [passage("They should provide for remediation through legitimate processes.", page=7)]
    quote = "They should provide for remediation through legitimate processes."
    answer = Answer(answer=f"{quote} [1]", grounded=True, citations=(citation(quote, (22,)),))
    outcome = score_item(ANSWERABLE, passages, answer, valid_in_document)
    assert outcome.failures == ()
    figures = summarise([outcome])
    for metric in ("recall@1", "recall@5", "mrr@5", "page_recall@5", "citation_validity", "citation_support"):
        assert figures[metric] == 1.0, metric
    assert figures["principle_accuracy"] == figures["key_fact_coverage"] == figures["conciseness"] == 1.0
    assert figures["false_refusal"] == 0.0 and figures["refusal_accuracy"] is None  # no unanswerable item


def test_a_wrong_outcome_scores_zero_and_says_why():
    passages = [passage("Nothing relevant here.", page=2, rank=r) for r in range(5)]
    made_up = "Companies must pay damages."
    answer = Answer(
        answer=made_up + " [1]" + "x" * 1300, grounded=True, citations=(citation(made_up, (15,)),)
    )
    outcome = score_item(ANSWERABLE, passages, answer, valid_in_document)
    figures = summarise([outcome])
    for metric in ("recall@1", "recall@5", "mrr@5", "page_recall@5", "citation_validity", "citation_support"):
        assert figures[metric] == 0.0, metric
    assert figures["principle_accuracy"] == figures["key_fact_coverage"] == figures["conciseness"] == 0.0
    assert outcome.failures == (
        "quote not verbatim in the cited document: citation(s) [1]",
        "answer too long (1331 characters)",
        "evidence recall@5 0.00 (top-5 pages [2, 2, 2, 2, 2])",
        "citations miss principle(s) [22]",
        "no citation quotes the evidence",
        "answer lacks ['legitimate processes']",
    )


def test_refusals_count_for_unanswerable_and_against_answerable_items():
    refusal = Answer(answer="The corpus does not answer this question.", grounded=False)
    right = score_item(UNANSWERABLE, [], refusal, valid_in_document)
    wrong = score_item(ANSWERABLE, [], refusal, valid_in_document)
    assert right.failures == ()
    assert wrong.failures[0] == "refused an answerable question"
    figures = summarise([right, wrong])
    assert figures["refusal_accuracy"] == 1.0 and figures["false_refusal"] == 1.0
    assert figures["citation_validity"] is None  # no quotes at all: nothing to validate
    answered = Answer(answer="Something [1]", grounded=True, citations=(citation("Other text."),))
    confident = score_item(UNANSWERABLE, [], answered, valid_in_document)
    assert confident.failures == ("answered an unanswerable question",)
    assert summarise([confident])["refusal_accuracy"] == 0.0


def test_evidence_found_below_the_top_is_a_failure_with_its_rank():
    passages = [passage("Nothing relevant here.", rank=0), passage(DOCUMENT, page=7, rank=1)]
    quote = "They should provide for remediation through legitimate processes."
    answer = Answer(answer=f"{quote} [1]", grounded=True, citations=(citation(quote, (22,)),))
    outcome = score_item(ANSWERABLE, passages, answer, valid_in_document)
    assert outcome.failures == ("evidence first at rank 2",)
    assert summarise([outcome])["mrr@5"] == 0.5


def test_failures_are_grouped_by_kind_most_frequent_first():
    from assistant.reports import failure_patterns

    refusal = Answer(answer="The corpus does not answer this question.", grounded=False)
    first = score_item(ANSWERABLE, [], refusal, valid_in_document)
    second = score_item(
        Item(id="a2", question="?", answerable=True, must_include=("x",)), [], refusal, valid_in_document
    )
    grouped = failure_patterns([first, second, first])
    assert grouped[0] == ("refused an answerable question", ["a1", "a2", "a1"])
    assert dict(grouped)["citations miss principle(s)"] == ["a1", "a1"]  # a2 requires no principle
    assert [len(ids) for _, ids in grouped] == sorted((len(ids) for _, ids in grouped), reverse=True)
