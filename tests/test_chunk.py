"""Structure-aware chunks of the sample letter, and the recognisers they rely on."""

from __future__ import annotations

import pytest
from conftest import SAMPLE_NAME, SAMPLE_PDF

from assistant.ingest.letters import parse_date, parse_reference
from assistant.ingest.pipeline import parse_document
from assistant.ingest.principles import find_principles
from assistant.ingest.sentences import split_sentences


@pytest.fixture(scope="module")
def chunks():
    return parse_document(SAMPLE_PDF, SAMPLE_NAME, "f" * 64).chunks


def by_text(chunks, start):
    found = [c for c in chunks if c.text.startswith(start)]
    assert len(found) == 1, start
    return found[0]


def test_every_numbered_question_is_one_chunk(chunks):
    questions = [c for c in chunks if c.kind == "question"]
    assert [c.question_number for c in questions] == list(range(1, 9))
    assert all(c.section == "questions" for c in questions)
    assert all(c.text.startswith(f"{c.question_number}. Please") for c in questions)


def test_question_two_stays_whole_across_the_page_break(chunks):
    second = by_text(chunks, "2. Please provide information")
    assert second.page == 3 and second.pages == (3, 4)
    assert "business relationships. This includes the exercise of adequate oversight" in second.text
    assert second.text.endswith("other contemporary forms of slavery.")


def test_footer_never_lands_in_a_chunk_and_the_sentence_is_whole(chunks):
    assert all("ZTE Corporation" not in c.text for c in chunks)
    paragraph = by_text(chunks, "In this connection, we have received information")
    assert paragraph.pages == (1, 2)
    assert paragraph.text.endswith("human rights due diligence across their supply chains.")


def test_footnote_is_its_own_chunk(chunks):
    note = by_text(chunks, "¹ We take note")
    assert note.kind == "footnote" and note.page == 2
    moreover = by_text(chunks, "Moreover, Uyghur")
    assert moreover.pages == (2, 3) and "organized mandarin language classes" in moreover.text


@pytest.mark.parametrize(
    ("start", "principles", "pages"),
    [
        ("“The responsibility to respect human rights requires", (13,), (6,)),
        ("“In order to prevent and mitigate", (19,), (6,)),
        ("To fulfil their responsibility", (15,), (6,)),
        ("In this connection, we recall that Guiding Principle 22", (22,), (6, 7)),
        ("Guiding Principle 20 states that businesses should track", (20,), (7,)),
        ("Furthermore, business enterprises are expected to utilize", (19,), (7,)),
        ("Guiding Principles 25 to 31", tuple(range(25, 32)), (7,)),
    ],
)
def test_quoted_principles_are_whole_chunks_with_their_numbers(chunks, start, principles, pages):
    chunk = by_text(chunks, start)
    assert chunk.section == "annex" and chunk.kind == "principle"
    assert chunk.principles == principles and chunk.pages == pages


def test_principle_lists_stay_with_their_lead_in(chunks):
    gp15 = by_text(chunks, "To fulfil their responsibility")
    assert gp15.text.count("\n- (") == 3 and gp15.text.endswith("(Guiding Principle 15)")


def test_sections_and_letter_metadata(chunks):
    assert {c.section for c in chunks} == {"body", "questions", "annex"}
    assert by_text(chunks, "Annex").section == "annex"
    assert by_text(chunks, "Please note that letters").section == "body"
    assert all(c.reference == "AL OTH 170/2021" and c.date == "2021-03-12" for c in chunks)
    assert all(c.addressee == "ZTE Corporation" for c in chunks)
    header = chunks[0]
    assert header.text.startswith("Mandates of the Working Group") and "AL OTH 170/2021" in header.text


def test_chunks_are_paragraph_sized(chunks):
    assert 25 <= len(chunks) <= 60
    assert max(len(c.text) for c in chunks) <= 1600


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Guiding Principle 22 states", (22,)),
        ("Guiding Principles 25 to 31 provide", tuple(range(25, 32))),
        ("(Commentary to Guiding Principle 19)", (19,)),
        ("what about GP 15 and gp22?", (15, 22)),
        ("UNGP 13", (13,)),
        ("principles 13, 15 and 20", (13, 15, 20)),
        ("GPs 25-31", tuple(range(25, 32))),
        ("the UN Guiding Principles on Business and Human Rights, endorsed in 2011", ()),
        ("resolutions 44/15, 37/12", ()),
        ("Principle 45", ()),
    ],
)
def test_find_principles(text, expected):
    assert find_principles(text) == expected


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("REFERENCE: AL OTH 170/2021", "AL OTH 170/2021"),
        ("Reference: UA CHN 12/2020", "UA CHN 12/2020"),
        ("JAL GBR (5/2019)", "JAL GBR 5/2019"),
        ("no reference here 170/2021", None),
    ],
)
def test_parse_reference(text, reference):
    assert parse_reference(text) == reference


def test_parse_date():
    assert parse_date("AL OTH 170/2021 12 March 2021 Dear") == "2021-03-12"
    assert parse_date("31 February 2021") is None


def test_sentences_respect_abbreviations_and_list_items():
    assert split_sentences("Please accept, Mr. Li Zixue, our thanks. 2. Please explain.") == [
        "Please accept, Mr. Li Zixue, our thanks.",
        "2. Please explain.",
    ]
    assert split_sentences("“Avoid harm.” (Guiding Principle 13). Next.") == [
        "“Avoid harm.” (Guiding Principle 13).",
        "Next.",
    ]
