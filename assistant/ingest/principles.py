"""Find the Guiding Principle numbers a text refers to ("Guiding Principle 22", "GP 15", "Principles 25 to
31", "Commentary to Guiding Principle 19")."""

from __future__ import annotations

import re
from collections.abc import Iterable

HIGHEST_PRINCIPLE = 31
_NUMBERS = r"\d{1,2}(?:\s*(?:-|–|—|to|through|and|or|,|&)\s*\d{1,2})*"
PRINCIPLE_REFERENCE = re.compile(
    rf"\b(?:UNGPs?|GPs?|(?:guiding\s+)?principles?)\s*(?:no\.?|nos\.?|#)?\s*({_NUMBERS})\b",
    re.IGNORECASE,
)
_RANGE = re.compile(r"(\d{1,2})\s*(?:-|–|—|to|through)\s*(\d{1,2})", re.IGNORECASE)


def find_principles(text: str) -> tuple[int, ...]:
    """Sorted, distinct principle numbers (1-31) that `text` names, ranges expanded."""
    found: set[int] = set()
    for match in PRINCIPLE_REFERENCE.finditer(text):
        numbers = match.group(1)
        for low, high in _RANGE.findall(numbers):
            first, last = int(low), int(high)
            if first < last:
                found.update(range(first, last + 1))
        found.update(int(n) for n in re.findall(r"\d{1,2}", numbers))
    return tuple(sorted(n for n in found if 1 <= n <= HIGHEST_PRINCIPLE))


def named_principles(text: str) -> tuple[int, ...]:
    """The principle numbers `text` names one by one: "Principles 25 to 31" names 25 and 31 as the ends
    of a range, not 26-30, and is counted as naming none of them on its own."""
    named: set[int] = set()
    for match in PRINCIPLE_REFERENCE.finditer(text):
        numbers = match.group(1)
        if _RANGE.search(numbers):
            continue
        named.update(int(n) for n in re.findall(r"\d{1,2}", numbers))
    return tuple(sorted(n for n in named if 1 <= n <= HIGHEST_PRINCIPLE))


def format_ranges(numbers: Iterable[int]) -> str:
    """[13, 15, 25, 26, 27] -> '13, 15, 25-27': how a list of principles reads best."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and runs[-1][-1] == n - 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
