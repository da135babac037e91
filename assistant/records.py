"""Frozen dataclasses shared by every layer: pages, chunks, passages, citations, answers, letters. Data
only."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any

SECTIONS = ("body", "questions", "annex")
# Bump when ingest makes different chunks from the same file: indexes built before re-read every document.
CHUNKING_VERSION = "1"
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


def name_words(text: str) -> tuple[str, ...]:
    """Lower-cased words of a name ("ZTE Corporation" -> ("zte", "corporation")): what the addressee
    filter compares on both sides (Chroma metadata and the lexical index), so they always agree."""
    return tuple(dict.fromkeys(re.findall(r"\w+", text.casefold())))


def date_number(iso: str) -> int:
    """ "2021-03-12" -> 20210312: Chroma compares only numbers with $gte/$lte."""
    return int(iso.replace("-", ""))


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
    person: str | None = None

    def page_at(self, offset: int) -> int:
        """The page on which the character at `offset` of the text is printed."""
        return self.pages[bisect_right(self.page_breaks, offset)] if self.page_breaks else self.page

    def addressee_words(self) -> tuple[str, ...]:
        """Words of the addressee (company or footer) and the person written to, for the filter."""
        return name_words(f"{self.addressee or ''} {self.person or ''}")

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
            meta["date_number"] = date_number(self.date)
        if self.question_number is not None:
            meta["question_number"] = self.question_number
        if self.addressee:
            meta["addressee"] = self.addressee
        if self.page_breaks:
            meta["page_breaks"] = list(self.page_breaks)
        if self.person:
            meta["person"] = self.person
        if words := self.addressee_words():
            meta["addressee_words"] = list(words)
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
            person=meta.get("person"),
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

    def to_dict(self) -> dict[str, Any]:
        """The answer as plain JSON-ready data, without its passages (stores keep what was shown)."""
        return {
            "answer": self.answer,
            "grounded": self.grounded,
            "citations": [asdict(c) for c in self.citations],
            "support": self.support,
            "mode": self.mode,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """Inverse of `to_dict()`."""
        citations = tuple(Citation(**{**c, "principles": tuple(c["principles"])}) for c in data["citations"])
        return cls(**{**data, "citations": citations})


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


# -- letters -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Excerpt:
    """A verbatim piece of a document and the page it starts on."""

    text: str
    page: int


@dataclass(frozen=True)
class Signatory:
    """A mandate holder who signed the letter, with the mandate printed under the name."""

    name: str
    mandate: str | None = None


@dataclass(frozen=True)
class LetterQuestion:
    """One numbered question the letter asks, in full, with the principles it names itself (if any)."""

    number: int
    text: str
    page: int
    pages: tuple[int, ...]
    principles: tuple[int, ...] = ()


@dataclass(frozen=True)
class PrincipleMention:
    """One place where the letter quotes or cites Guiding Principles: which, on what page, the exact
    words, whether it quotes the principle's text (not just names it) and whether that is the
    commentary rather than the principle."""

    numbers: tuple[int, ...]
    page: int
    quote: str
    quoted: bool
    commentary: bool
    section: str


@dataclass(frozen=True)
class Letter:
    """What a Special Procedures letter says, field by field. A field the letter does not state is None
    (or empty), never guessed."""

    document: str
    reference: str
    letter_type: str
    country: str
    number: int
    year: int
    date: str | None = None
    addressee: str | None = None
    person: str | None = None
    company: str | None = None
    mandates: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    signatories: tuple[Signatory, ...] = ()
    questions: tuple[LetterQuestion, ...] = ()
    response_days: int | None = None
    response_date: str | None = None
    response_notice: Excerpt | None = None
    publication_days: int | None = None
    publication_date: str | None = None
    publication_notice: Excerpt | None = None
    press_release_notice: Excerpt | None = None
    governments_also: tuple[str, ...] = ()
    companies_also: tuple[str, ...] = ()
    other_companies_also: bool = False
    principle_mentions: tuple[PrincipleMention, ...] = ()
    allegations: tuple[Excerpt, ...] = ()
    annex_page: int | None = None
    pages: int = 0
    pages_without_text: tuple[int, ...] = ()

    @property
    def slug(self) -> str:
        """The reference as one URL path segment: "AL OTH 170/2021" -> "AL-OTH-170-2021"."""
        return re.sub(r"[\s/]+", "-", self.reference)

    @property
    def principles(self) -> tuple[int, ...]:
        """Every Guiding Principle the letter quotes or cites, sorted."""
        return tuple(sorted({n for m in self.principle_mentions for n in m.numbers}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (as stored in the index and served by the API), derived fields included."""
        return {**asdict(self), "slug": self.slug, "principles": list(self.principles)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Letter:
        """Inverse of `to_dict()`; keys it does not know (derived ones, or from a newer version) are
        ignored, so a stored letter never stops the index from opening."""
        known = {f.name for f in dataclass_fields(cls)}
        fields = {k: v for k, v in data.items() if k in known}

        def excerpt(value: dict[str, Any] | None) -> Excerpt | None:
            return Excerpt(**value) if value else None

        return cls(
            **{
                **fields,
                "mandates": tuple(fields.get("mandates", ())),
                "resolutions": tuple(fields.get("resolutions", ())),
                "signatories": tuple(Signatory(**s) for s in fields.get("signatories", ())),
                "questions": tuple(
                    LetterQuestion(**{**q, "pages": tuple(q["pages"]), "principles": tuple(q["principles"])})
                    for q in fields.get("questions", ())
                ),
                "publication_notice": excerpt(fields.get("publication_notice")),
                "response_notice": excerpt(fields.get("response_notice")),
                "press_release_notice": excerpt(fields.get("press_release_notice")),
                "governments_also": tuple(fields.get("governments_also", ())),
                "companies_also": tuple(fields.get("companies_also", ())),
                "principle_mentions": tuple(
                    PrincipleMention(**{**m, "numbers": tuple(m["numbers"])})
                    for m in fields.get("principle_mentions", ())
                ),
                "allegations": tuple(Excerpt(**a) for a in fields.get("allegations", ())),
                "pages_without_text": tuple(fields.get("pages_without_text", ())),
            }
        )


@dataclass(frozen=True)
class Support:
    """An annex passage that links a question to Guiding Principles: where it is and its exact words."""

    principles: tuple[int, ...]
    page: int
    quote: str
    chunk_id: str
    score: float


@dataclass(frozen=True)
class OutlineQuestion:
    """One question of a response outline: its text, the principles it engages and the support."""

    number: int
    text: str
    page: int
    pages: tuple[int, ...]
    principles: tuple[int, ...]
    support: tuple[Support, ...]


@dataclass(frozen=True)
class Deadline:
    """A date the company must plan for, with the sentence of the letter that sets it."""

    label: str
    date: str | None
    days: int | None
    quote: str
    page: int


@dataclass(frozen=True)
class Outline:
    """A response outline for a letter's addressee: questions with their principles, deadlines, facts."""

    letter: Letter
    questions: tuple[OutlineQuestion, ...]
    deadlines: tuple[Deadline, ...]
    allegations: tuple[Excerpt, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: what `GET /letters/{reference}/outline` and `ungp outline --format json` print."""
        return {
            "letter": self.letter.to_dict(),
            "questions": [asdict(q) for q in self.questions],
            "deadlines": [asdict(d) for d in self.deadlines],
            "allegations": [asdict(a) for a in self.allegations],
            "notes": list(self.notes),
        }


# -- conversations -----------------------------------------------------------------------------------
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


# -- answers shown, and what people thought of them ----------------------------------------------------
@dataclass(frozen=True)
class ShownAnswer:
    """An answer as it was shown to someone (in Slack): kept so that its quotes can be revealed later
    and so that feedback on it can be reviewed with the question it answered."""

    id: str
    question: str
    resolved: str
    answer: Answer
    asker: str
    channel: str
    via: str  # "mention", "dm" or "slash"
    created: float


@dataclass(frozen=True)
class Feedback:
    """One person's verdict on a shown answer (the latest, if they changed their mind)."""

    shown: ShownAnswer
    user: str
    helpful: bool
    created: float
