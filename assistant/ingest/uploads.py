"""Decide whether uploaded bytes are a document we can take, and under which safe file name.

The type comes from the content (a PDF starts with %PDF, text must be UTF-8), never from the name the
client sent; the name is reduced to one plain file name that cannot leave the corpus folder.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

from assistant.errors import DocumentRejected

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (".pdf", *TEXT_SUFFIXES)
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_CHARS = 120


def sniff_kind(content: bytes, name: str) -> str:
    """'.pdf' for a PDF, 'text' for UTF-8 text, else `DocumentRejected` saying what the bytes are not."""
    if not content:
        raise DocumentRejected(name, "the file is empty (0 bytes)")
    if b"%PDF-" in content[:1024]:
        return ".pdf"
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentRejected(name, "neither a PDF (no %PDF header) nor UTF-8 text") from exc
    if "\x00" in text:
        raise DocumentRejected(name, "neither a PDF (no %PDF header) nor UTF-8 text (it holds NUL bytes)")
    return "text"


def upload_name(filename: str, content: bytes) -> str:
    """A safe corpus file name for an upload: directories dropped, accents folded, anything but letters,
    digits, '.', '-' and '_' replaced, and a suffix that agrees with the content."""
    shown = filename or "upload"
    base = PurePosixPath(shown.replace("\\", "/")).name
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    suffix = PurePosixPath(base).suffix.lower()
    if suffix not in SUFFIXES:
        suffix = ""  # "letter.v2" is a name with a dot, not a type
    stem = base[: len(base) - len(suffix)] if suffix else base
    stem = UNSAFE.sub("-", stem).strip(".-_")[:MAX_NAME_CHARS]
    if not stem:
        raise DocumentRejected(shown, "the file name has no letters or digits to keep; rename the file")
    if stem.upper() == "README":
        raise DocumentRejected(shown, "files named README are not indexed; rename the file")
    kind = sniff_kind(content, shown)
    if kind == ".pdf":
        if suffix not in ("", ".pdf"):
            raise DocumentRejected(shown, f"the content is a PDF but the name ends in {suffix}; use .pdf")
        return f"{stem}.pdf"
    if suffix == ".pdf":
        raise DocumentRejected(shown, "not a PDF (the file does not start with a %PDF header)")
    return f"{stem}{suffix or '.txt'}"
