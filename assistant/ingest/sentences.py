"""Split text into sentences as exact substrings, so quotes taken from them stay verbatim."""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof no nos art arts para paras e.g i.e etc vs cf st inc ltd co corp jr sr "
    "u.s u.k u.n fig p pp vol ed eds".split()
)
LIST_ITEM = re.compile(r"^(?:[-•–]\s*)?\(?[a-z]{1,3}\)\s")
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


def quotable_spans(text: str) -> list[tuple[int, int]]:
    """Pieces fit to quote on their own, in order. A sentence ending in ':' keeps the list items that
    follow it; a list item "(a) ..." or a bare reference ("See: http://...") is never quoted without
    what it belongs to; a run of short lines (a reference and date, a block of names and titles) is
    one piece, and each name in it with its title is another (these overlap)."""
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        if spans:
            before = text[spans[-1][0] : spans[-1][1]]
            joins_lines = _is_bare_line(before.rsplit("\n", 1)[-1]) and _is_bare_line(piece)
            if before.rstrip().endswith(":") or LIST_ITEM.match(piece) or joins_lines or _is_pointer(piece):
                spans[-1] = (spans[-1][0], end)
                continue
        spans.append((start, end))
    return spans + [record for span in spans for record in _name_records(text, *span)]


def _is_bare_line(line: str) -> bool:
    """A short line that is not a sentence: a name, a title, a reference, a date."""
    return len(line) < 140 and "\n" not in line and not line.rstrip().endswith((".", "?", "!", ";"))


def _is_pointer(sentence: str) -> bool:
    """A bare reference such as "See: http://..." or "Ibid.", which only makes sense with the sentence
    before it."""
    return bool(re.match(r"^(see|ibid|cf|available at)\b[:.]?", sentence, re.IGNORECASE)) or bool(
        re.fullmatch(r"\W*https?://\S+\W*", sentence)
    )


NAME_PARTICLES = frozenset("de da del della der van von la le du bin al el y".split())


def _is_name_line(line: str) -> bool:
    words = line.split()
    return 2 <= len(words) <= 5 and all(w[:1].isupper() or w in NAME_PARTICLES for w in words)


def _name_records(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """In a block of names and titles, each name line with the title lines that follow it."""
    lines, offset = [], start
    for line in text[start:end].split("\n"):
        lines.append((offset, offset + len(line), line))
        offset += len(line) + 1
    if len(lines) < 4 or sum(_is_name_line(line) for *_, line in lines) < 2:
        return []
    records: list[tuple[int, int]] = []
    for begin, stop, line in lines:
        if _is_name_line(line):
            records.append((begin, stop))
        elif records:
            records[-1] = (records[-1][0], stop)
    return records if len(records) > 1 else []
