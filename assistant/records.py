"""Frozen dataclasses shared by every layer: pages, chunks, passages, citations, answers. Data only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECTIONS = ("body", "questions", "annex")


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

    def search_text(self) -> str:
        """What the indexes see: the text under a short header (letter, addressee, question number or
        annex), so that "question 3" or the company's name finds passages that do not repeat them."""
        parts = [self.reference or "", f"letter to {self.addressee}" if self.addressee else ""]
        if self.question_number is not None:
            parts.append(f"question {self.question_number}")
        elif self.section == "annex":
            parts.append("annex")
        header = " - ".join(p for p in parts if p)
        return f"{header}\n{self.text}" if header else self.text

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


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation as stored: what was asked, how it was understood, the answer,
    and the topic (key words and principles) that a follow-up may lean on."""

    message: str
    resolved: str
    answer: Answer
    topic: tuple[str, ...] = ()
    principles: tuple[int, ...] = ()


@dataclass(frozen=True)
class ChatReply:
    """An answer within a conversation: the `/ask` answer plus the conversation it belongs to and the
    standalone question it answered (the message with its follow-up references resolved)."""

    conversation_id: str
    message: str
    resolved: str
    answer: Answer


@dataclass(frozen=True)
class Resolution:
    """How a chat message will be searched: `query` first; `alternative` (the message read as a
    follow-up of the previous turn) when `query` alone finds no support; only in `section` first when
    the follow-up asks which of a letter's questions covers the topic."""

    query: str
    alternative: str | None = None
    section: str | None = None
