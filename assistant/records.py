"""Frozen dataclasses shared by every layer: pages, chunks, passages, citations, answers. Data only."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

SECTIONS = ("body", "questions", "annex")
PART_LABELS = {  # words people use for the parts of a letter that the text itself does not name
    "header": "letter header: sent by the mandates, reference number, date sent, addressed to",
    "signatures": "signatures of the signatories: signed by",
    "footnote": "footnote",
}


def labelled(chunk: Chunk, sentence: str) -> str:
    """A sentence as compared with questions: from the parts of a letter that the text does not name
    (header, signatures, footnotes) it carries the label people use for them."""
    label = PART_LABELS.get(chunk.kind)
    return f"{label}: {sentence}" if label else sentence


@dataclass(frozen=True)
class Page:
    """One page of a document after cleaning: its paragraphs in reading order, its footnotes, and the
    layout lines removed from the text (running headers, footers such as the addressee's name)."""

    number: int
    paragraphs: tuple[str, ...]
    footnotes: tuple[str, ...] = ()
    furniture: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A structural unit of a document (paragraph, numbered question, quoted principle) ready to index."""

    id: str
    document: str
    text: str
    page: int
    pages: tuple[int, ...]
    section: str
    principles: tuple[int, ...] = ()
    reference: str | None = None
    date: str | None = None
    kind: str = "paragraph"
    question_number: int | None = None
    addressee: str | None = None
    page_breaks: tuple[int, ...] = ()  # offsets in `text` where pages[1], pages[2]... begin

    def page_at(self, offset: int) -> int:
        """The page on which the character at `offset` of the text is printed."""
        return self.pages[bisect_right(self.page_breaks, offset)] if self.page_breaks else self.page

    def search_text(self) -> str:
        """What the lexical index sees: the text under a short header (letter, addressee, part of the
        letter), so that "question 3" or the company's name finds passages that do not repeat them."""
        parts = [self.reference or "", f"letter to {self.addressee}" if self.addressee else "", self._part()]
        header = " - ".join(p for p in parts if p)
        return f"{header}\n{self.text}" if header else self.text

    def embedding_text(self) -> str:
        """What the embedding model sees: the text under the name of its part only (a letter-wide
        header would pull every short passage of a letter towards the same point)."""
        part = self._part()
        return f"{part}\n{self.text}" if part else self.text

    def _part(self) -> str:
        if self.question_number is not None:
            return f"question {self.question_number}"
        return PART_LABELS.get(self.kind, "annex" if self.section == "annex" else "")

    def metadata(self) -> dict[str, object]:
        """Flat metadata as stored next to the vector (Chroma rejects None and empty lists)."""
        meta: dict[str, object] = {
            "document": self.document,
            "page": self.page,
            "pages": list(self.pages),
            "section": self.section,
            "kind": self.kind,
        }
        if self.principles:
            meta["principles"] = list(self.principles)
        if self.reference:
            meta["reference"] = self.reference
        if self.date:
            meta["date"] = self.date
        if self.question_number is not None:
            meta["question_number"] = self.question_number
        if self.addressee:
            meta["addressee"] = self.addressee
        if self.page_breaks:
            meta["page_breaks"] = list(self.page_breaks)
        return meta

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        """Inverse of `metadata()`."""
        question_number = meta.get("question_number")
        return cls(
            id=chunk_id,
            document=str(meta["document"]),
            text=text,
            page=int(meta["page"]),
            pages=tuple(int(p) for p in meta.get("pages") or [meta["page"]]),
            section=str(meta.get("section", "body")),
            principles=tuple(int(p) for p in meta.get("principles") or []),
            reference=meta.get("reference"),
            date=meta.get("date"),
            kind=str(meta.get("kind", "paragraph")),
            question_number=int(question_number) if question_number is not None else None,
            addressee=meta.get("addressee"),
            page_breaks=tuple(int(o) for o in meta.get("page_breaks") or []),
        )


@dataclass(frozen=True)
class Passage:
    """A chunk as retrieved for a query, with the evidence of why it ranked where it did."""

    chunk: Chunk
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    rank: int = 0


@dataclass(frozen=True)
class Citation:
    """What a lawyer needs to check one claim: where it is, and the exact words."""

    id: int
    document: str
    reference: str | None
    page: int
    principles: tuple[int, ...]
    quote: str
    section: str = "body"
    chunk_id: str = ""


@dataclass(frozen=True)
class Answer:
    """An answer whose every sentence ends in `[n]` markers pointing into `citations`."""

    answer: str
    grounded: bool
    citations: tuple[Citation, ...] = ()
    support: float = 0.0
    mode: str = "extractive"
    note: str | None = None
    passages: tuple[Passage, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class DocumentInfo:
    """One ingested document as listed by `/documents`."""

    name: str
    pages: int
    chunks: int
    sha256: str
    reference: str | None = None
    date: str | None = None
    addressee: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A file that ingest could not read, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    chunks_indexed: int = 0
    seconds: float = 0.0
