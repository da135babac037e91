"""Validate the gold evaluation set against the corpus PDFs.

Usage: python eval/check_questions.py [FILE]  (default eval/questions.jsonl; a relative
path missing from the cwd is taken from the repo root). Uses pypdf directly (not the
project package) to extract each page of every PDF in corpus/, collapses whitespace and
checks every item: fields, types, kind/split values, evidence verbatim on a listed page,
must_include in the text (case-insensitive), empty lists for unanswerable items, unique
ids, and minimum counts for the gold set (not for the held-out sets). Prints one line per problem
and a summary; exits 1 on any problem.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "eval" / "questions.jsonl"
KINDS = {"principle", "letter-fact", "question-list", "procedure", "multi-hop"}
SPLITS = {"tune", "test", "holdout", "holdout2", "holdout3", "holdout4"}
PRINCIPLES = {13, 15, 19, 20, 22, *range(25, 32)}  # the principles the letter quotes or names
FIELDS: dict[str, type] = {
    "id": str,
    "question": str,
    "answerable": bool,
    "evidence": list,
    "pages": list,
    "principles": list,
    "must_include": list,
    "kind": str,
    "split": str,
}
LISTS = ("evidence", "pages", "principles", "must_include")
MIN_UNANSWERABLE, MIN_MULTI_HOP = 15, 8


def norm(text: str) -> str:
    """Collapse every run of whitespace to a single space."""
    return re.sub(r"\s+", " ", text).strip()


def load_corpus(corpus: Path = ROOT / "corpus") -> list[list[str]]:
    """Return, for every PDF in corpus/, its whitespace-collapsed page texts."""
    return [
        [norm(page.extract_text() or "") for page in PdfReader(pdf).pages]
        for pdf in sorted(corpus.glob("*.pdf"))
    ]


def check_item(item: dict[str, Any], docs: list[list[str]]) -> list[str]:
    """Return the problems of one item (without the id prefix)."""
    bad = [
        f"missing or mistyped field {k!r} (want {t.__name__})"
        for k, t in FIELDS.items()
        if not isinstance(item.get(k), t)
    ]
    if bad:
        return bad
    bad += ["empty question"] * (not item["question"].strip())
    bad += [f"bad kind {item['kind']!r}"] * (item["kind"] not in KINDS)
    bad += [f"bad split {item['split']!r}"] * (item["split"] not in SPLITS)
    ev, pages, pr, mi = (item[k] for k in LISTS)
    if not item["answerable"]:
        return bad + [f"unanswerable item has non-empty {k}" for k in LISTS if item[k]]
    if not pages or any(type(p) is not int or not 1 <= p <= max(map(len, docs)) for p in pages):
        return bad + [f"bad pages {pages}"]
    bad += [f"bad principles {pr}"] * any(type(p) is not int or p not in PRINCIPLES for p in pr)
    bad += [f"{len(ev)} evidence phrases (want 1-3)"] * (not 1 <= len(ev) <= 3)
    found: set[int] = set()
    n_bad = len(bad)
    for phrase in ev:
        if not isinstance(phrase, str) or not 5 <= len(phrase.split()) <= 15:
            bad.append(f"evidence {phrase!r} should be a string of 5-15 words")
            continue
        hits = {p for p in pages for d in docs if p <= len(d) and norm(phrase) in d[p - 1]}
        if not hits:
            where = sorted({i + 1 for d in docs for i, t in enumerate(d) if norm(phrase) in t})
            bad.append(f"evidence {phrase!r} not on pages {pages} (found on {where})")
        found |= hits
    if len(bad) == n_bad:  # every phrase was found, so every listed page must hold one
        bad += [f"page {p} holds none of the evidence" for p in sorted(set(pages) - found)]
    bad += [f"{len(mi)} must_include facts (want 1-4)"] * (not 1 <= len(mi) <= 4)
    full = [" ".join(d).lower() for d in docs]
    for fact in mi:
        if not isinstance(fact, str) or not 1 <= len(fact.split()) <= 5:
            bad.append(f"must_include {fact!r} should be a string of 1-5 words")
        elif not any(norm(fact).lower() in t for t in full):
            bad.append(f"must_include {fact!r} not in document text")
    return bad


def resolve(path: str | Path) -> Path:
    """Use a relative path from the cwd if it exists there, else from the repo root."""
    path = Path(path)
    return path if path.is_absolute() or path.exists() else ROOT / path


def check(path: str | Path = DEFAULT_FILE) -> list[str]:
    """Check every item of the JSONL file at ``path``; return a list of problems."""
    docs = load_corpus()
    if not docs:
        return ["no PDFs found in corpus/"]
    problems: list[str] = []
    items: list[dict[str, Any]] = []
    for n, line in enumerate(resolve(path).read_text(encoding="utf-8").splitlines(), 1):
        try:
            item = json.loads(line) if line.strip() else None
        except json.JSONDecodeError as exc:
            item = f"invalid JSON ({exc})"
        if line.strip() and not isinstance(item, dict):
            problems.append(f"line {n}: not a JSON object: {item}")
        elif isinstance(item, dict):
            items.append(item)
            problems += [f"{item.get('id', f'line {n}')}: {p}" for p in check_item(item, docs)]
    ids = [i.get("id") for i in items]
    problems += [f"duplicate id {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1}, key=str)]
    if resolve(path) != DEFAULT_FILE:
        return problems  # held-out sets are smaller: only the gold set has minimum counts
    n_unans = sum(i.get("answerable") is False for i in items)
    n_multi = sum(i.get("kind") == "multi-hop" for i in items)
    if n_unans < MIN_UNANSWERABLE:
        problems.append(f"only {n_unans} unanswerable items (want >= {MIN_UNANSWERABLE})")
    if n_multi < MIN_MULTI_HOP:
        problems.append(f"only {n_multi} multi-hop items (want >= {MIN_MULTI_HOP})")
    return problems


def main(argv: list[str]) -> int:
    path = resolve(argv[1] if len(argv) > 1 else DEFAULT_FILE)
    if not path.is_file():
        print(f"no such file: {path}")
        return 1
    problems = check(path)
    for problem in problems:
        print(problem)
    n = sum(bool(line.strip()) for line in path.read_text(encoding="utf-8").splitlines())
    print(f"{path}: {n} lines checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
