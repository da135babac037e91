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
_QUESTION_SHORTHAND = re.compile(r"\b(?:q|qn|qu)\.?\s?(\d{1,2})\b", re.IGNORECASE)
# Abbreviations people type in chat, spelled the way the letters and the Guiding Principles write them.
GLOSSARY = {
    "govt": "government",
    "govts": "governments",
    "gov": "government",
    "wg": "Working Group",
    "hr": "human rights",
    "hrc": "Human Rights Council",
    "hrdd": "human rights due diligence",
    "ungps": "UN Guiding Principles",
    "ungp": "UN Guiding Principles",
    "gps": "Guiding Principles",
    "sr": "Special Rapporteur",
    "srs": "Special Rapporteurs",
    "ngo": "non-governmental organisation civil society",
    "ngos": "non-governmental organisations civil society",
    "co": "company",
    "cos": "companies",
}
_GLOSSARY = re.compile(r"\b(" + "|".join(GLOSSARY) + r")\b", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9]+")
_stemmer = Stemmer.Stemmer("english")


def expand_shorthand(text: str) -> str:
    """'GP22' -> 'Guiding Principle 22', 'q7' -> 'question 7', 'govts' -> 'governments': shorthand
    typed in chat, rewritten in the words the letters use."""
    text = _SHORTHAND.sub(lambda m: f"Guiding Principle {m.group(1)}", text)
    text = _QUESTION_SHORTHAND.sub(lambda m: f"question {m.group(1)}", text)
    return _GLOSSARY.sub(lambda m: GLOSSARY[m.group(1).lower()], text)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed tokens of `text`, in order."""
    words = _TOKEN.findall(expand_shorthand(text).lower().replace("’", "'"))
    return [_stem(w) for w in words if w not in STOPWORDS]
