"""Cleaning the sample letter: layout furniture out, text whole, same words as the reference text."""

from __future__ import annotations

import pytest
from conftest import SAMPLE_PDF, collapse, reference_text

from assistant.ingest.clean import clean_pdf_pages, clean_text_pages, join_lines
from assistant.ingest.pdf import read_pdf


@pytest.fixture(scope="module")
def pages():
    return clean_pdf_pages(read_pdf(SAMPLE_PDF))


def test_cleaned_text_matches_the_reference_text_word_for_word(pages):
    body = collapse(" ".join(p for page in pages for p in page.paragraphs))
    footnote = collapse(pages[1].footnotes[0])
    assert body == collapse(reference_text(with_footer=False).replace(footnote, ""))


def test_addressee_footer_is_removed_and_kept_as_furniture(pages):
    assert pages[0].furniture == ("ZTE Corporation",)
    assert all("ZTE Corporation" not in p for page in pages for p in page.paragraphs)


def test_sentence_cut_by_the_footer_reads_on(pages):
    assert pages[0].paragraphs[-1].endswith("human rights due diligence across their")
    assert pages[1].paragraphs[0] == "supply chains."


def test_page_numbers_are_dropped(pages):
    for page in pages[1:]:
        assert str(page.number) not in (page.paragraphs[0], *page.furniture)
        assert not page.paragraphs[0].startswith(f"{page.number} ")


def test_footnote_is_separated_from_the_body(pages):
    assert len(pages[1].footnotes) == 1
    assert pages[1].footnotes[0].startswith("¹ We take note of the Government of China’s white paper")
    assert pages[1].paragraphs[-1].endswith("including organized mandarin")
    assert sum(len(page.footnotes) for page in pages) == 1


def test_hard_wrapped_lines_are_joined(pages):
    assert pages[3].paragraphs[-1] == (
        "Chair-Rapporteur of the Working Group on the issue of human rights and"
    )
    assert all("\n" not in p for page in pages for p in page.paragraphs)


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        (["human rights due dili-", "gence across"], "human rights due diligence across"),
        (["the so-called re-", "education centres"], "the so-called re-education centres"),
        (["a well-", "known brand"], "a well-known brand"),
        (["a dash -", "Next starts"], "a dash - Next starts"),
        (["one", "", "two"], "one two"),
        (["of\ufb01ce ﬂow"], "office flow"),
    ],
)
def test_join_lines(lines, joined):
    assert join_lines(lines, vocabulary={"diligence", "so-called"}) == joined


def test_text_files_split_pages_on_form_feeds_and_paragraphs_on_blank_lines():
    pages = clean_text_pages("# Title\n\nFirst para\nwrapped.\n\nSecond.\fPage two.")
    assert [p.paragraphs for p in pages] == [("Title", "First para wrapped.", "Second."), ("Page two.",)]
