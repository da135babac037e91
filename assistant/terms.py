"""Normalise text into the stemmed terms that the lexical index and the answer composer both compare."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not now
    of off on once only or other our ours out over own same she should so some such than that the their
    theirs them then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours tell say says said pls plz hey hi""".split()
)
_SHORTHAND = re.compile(r"\b(?:un)?gps?\s*-?\s*(\d{1,2})\b", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9]+")
_stemmer = Stemmer.Stemmer("english")


def expand_shorthand(text: str) -> str:
    """'GP22', 'ungp 15' -> 'Guiding Principle 22', so shorthand meets the letter's own wording."""
    return _SHORTHAND.sub(lambda m: f"Guiding Principle {m.group(1)}", text)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed tokens of `text`, in order."""
    words = _TOKEN.findall(expand_shorthand(text).lower().replace("’", "'"))
    return [_stem(w) for w in words if w not in STOPWORDS]
