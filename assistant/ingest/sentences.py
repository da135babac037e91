"""Split text into sentences as exact substrings, so quotes taken from them stay verbatim."""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof no nos art arts para paras e.g i.e etc vs cf st inc ltd co corp jr sr "
    "u.s u.k u.n fig p pp vol ed eds".split()
)
_BOUNDARY = re.compile(r"[.!?][”’\"')\]]*(?=\s+[“\"']?[A-Z0-9])|\n+|;(?=\s+\(?[a-z]\)\s)")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`, whitespace trimmed; abbreviations ("Mr.",
    "e.g.") do not end a sentence, and a list item "(a) ..." starts one."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if match.group(0).startswith(".") and (
            _is_abbreviation(text, match.start()) or text[start : match.start()].strip().isdigit()
        ):
            continue
        _add(text, start, end, spans)
        start = end
    _add(text, start, len(text), spans)
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` (exact substrings)."""
    return [text[a:b] for a, b in sentence_spans(text)]


def _is_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([A-Za-z.]+)$", text[:dot])
    return word is not None and (word.group(1).lower() in ABBREVIATIONS or len(word.group(1)) == 1)


def _add(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        offset = start + (len(piece) - len(piece.lstrip()))
        spans.append((offset, offset + len(stripped)))
