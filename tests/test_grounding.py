"""The grounding checks that need no index: which detail a question asks for, and what counts as
showing it."""

from __future__ import annotations

import pytest

from assistant.grounding import asked_detail, shows_detail


@pytest.mark.parametrize(
    ("question", "detail"),
    [
        ("In which cities are the factories?", "cities"),
        ("What is Mr. Li Zixue's job title at ZTE?", "job"),
        ("What is the UN document symbol of the 2018 report?", "symbol"),
        ("which of ztes suppliers are named?", "suppliers"),
        ("Is there a required format for the reply?", "format"),
        ("Which ZTE products were made with forced labour?", "products"),
        # the detail noun is not what the question asks for
        ("What does question 5 ask about our suppliers?", None),
        ("Which question asks about training staff on suppliers?", None),
        ("Where are the factories?", None),
        ("What does the letter say about brands?", None),
        ("What position does the annex take on remediation?", None),  # a stance, not a post
    ],
)
def test_asked_detail(question, detail):
    assert asked_detail(question) == detail


def test_a_detail_shows_by_its_noun_or_by_its_look():
    assert shows_detail("suppliers", "requirements that reach down to your supplier base")
    assert not shows_detail("suppliers", "the supply chains of companies")
    assert shows_detail("title", "Mr. Li Zixue, Chairman of the Board")
    assert not shows_detail("title", "Dear Mr. Li Zixue,")
    assert shows_detail("symbol", "See A/73/163 for the report")
    assert shows_detail("articles", "as set out in article 18 of the Covenant")
    assert not shows_detail("cities", "inside and outside Xinjiang")
