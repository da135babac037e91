"""Recognise a Special Procedures letter and read its reference and date from the first page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from assistant.records import Page

LETTER_REFERENCE = re.compile(r"\b(AL|UA|OL|JAL|JUA|JOL)\s+([A-Z]{3}|OTH)\s+\(?(\d{1,4})\s*/\s*(\d{4})\)?")
MONTHS = {
    name: number
    for number, name in enumerate(
        "january february march april may june july august september october november december".split(),
        start=1,
    )
}
DATE = re.compile(r"\b(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s+(\d{4})\b", re.IGNORECASE)


@dataclass(frozen=True)
class LetterHeader:
    """What every chunk of a letter carries: its reference and the date it was sent (ISO)."""

    reference: str
    date: str | None
    addressee: str | None = None


def parse_reference(text: str) -> str | None:
    """The first letter reference in `text`, normalised to "AL OTH 170/2021"."""
    match = LETTER_REFERENCE.search(text)
    if not match:
        return None
    kind, country, number, year = match.groups()
    return f"{kind} {country} {int(number)}/{year}"


def parse_date(text: str) -> str | None:
    """The first written date ("12 March 2021") in `text` as ISO "2021-03-12"."""
    match = DATE.search(text)
    if not match:
        return None
    day, month, year = match.groups()
    try:
        return date(int(year), MONTHS[month.lower()], int(day)).isoformat()
    except ValueError:
        return None


def read_letter_header(first_page: Page) -> LetterHeader | None:
    """Reference, date and addressee when the document's first page is a letter's; None otherwise.
    The addressee is the footer that Special Procedures letters print on their first page."""
    text = " ".join(first_page.paragraphs)
    match = LETTER_REFERENCE.search(text)
    if match is None:
        return None
    addressee = next((line for line in first_page.furniture if re.search(r"[A-Za-z]{2}", line)), None)
    return LetterHeader(
        parse_reference(text) or "", parse_date(text[match.end() :]) or parse_date(text), addressee
    )
