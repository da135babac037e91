"""Split a document along its own structure: paragraphs, numbered questions, quoted principles with their
lists, the annex; a sentence that runs over a page break stays whole."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.ingest.principles import find_principles, named_principles
from assistant.ingest.sentences import sentence_spans
from assistant.records import Chunk, Page

if TYPE_CHECKING:  # letters.py reads paragraphs through this module: import the type only
    from assistant.ingest.letters import LetterHeader

MAX_CHUNK_CHARS = 1600
SHORT_LINE_CHARS = 140
NUMBERED = re.compile(r"^(\d{1,2})[.)]\s+\S")
LIST_ITEM = re.compile(r"^(?:[-•–]\s*)?(?:\(?[a-z]{1,3}\)|[-•–])\s+\S")
SECTION_HEADING = re.compile(r"^(annex|appendix)\b", re.IGNORECASE)
TERMINAL = re.compile(r"[.!?;:][”’\"')\]]*$|[”’\"')\]][.!?;:]?\)?\.?$")


@dataclass
class Paragraph:
    """A paragraph in reading order with the page(s) it is printed on."""

    text: str
    pages: list[int]
    breaks: list[int] = field(default_factory=list)  # offsets where pages[1:] begin


@dataclass
class _Group:
    paragraphs: list[Paragraph]
    section: str
    kind: str = "paragraph"
    question_number: int | None = None
    open_for_next: bool = False

    @property
    def pages(self) -> list[int]:
        return sorted({n for p in self.paragraphs for n in p.pages})

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)

    @property
    def page_breaks(self) -> tuple[int, ...]:
        """Offsets in `text` where each page after the first begins."""
        breaks: list[int] = []
        offset, page = 0, self.paragraphs[0].pages[0]
        for paragraph in self.paragraphs:
            if paragraph.pages[0] != page:
                breaks.append(offset)
                page = paragraph.pages[0]
            for inner, next_page in zip(paragraph.breaks, paragraph.pages[1:], strict=False):
                if next_page != page:
                    breaks.append(offset + inner)
                    page = next_page
            offset += len(paragraph.text) + 1
        return tuple(breaks)


@dataclass
class _State:
    section: str = "body"
    groups: list[_Group] = field(default_factory=list)
    next_question: int = 1


def chunk_document(
    name: str, pages: list[Page], content_hash: str, header: LetterHeader | None = None
) -> list[Chunk]:
    """Structural chunks of one document, each with pages, section, principles and letter metadata."""
    paragraphs = flow_paragraphs(pages)
    state = _State()
    for paragraph in paragraphs:
        _place(paragraph, state)
    groups = [
        piece for group in state.groups for part in _split_principles(group) for piece in _split_long(part)
    ]
    footnotes = [
        _Group([Paragraph(note, [page.number])], _section_at(state.groups, page.number), "footnote")
        for page in pages
        for note in page.footnotes
    ]
    if header is not None:
        _label_letter_parts(groups)
    chunks = []
    for index, group in enumerate(groups + footnotes):
        principles = find_principles(group.text)
        chunks.append(
            Chunk(
                id=f"{content_hash[:16]}:{index:04d}",
                document=name,
                text=group.text,
                page=group.pages[0],
                pages=tuple(group.pages),
                section=group.section,
                principles=principles,
                reference=header.reference if header else None,
                date=header.date if header else None,
                kind=_kind(group, principles),
                question_number=group.question_number,
                addressee=header.addressee if header else None,
                page_breaks=group.page_breaks,
            )
        )
    return chunks


CLOSING = re.compile(
    r"(assurances of our (highest )?consideration|yours (sincerely|faithfully)|sincerely,)", re.I
)
SALUTATION = re.compile(r"^Dear\b", re.MULTILINE)


def _label_letter_parts(groups: list[_Group]) -> None:
    """Name the parts of a letter that have a fixed place: the header (senders, reference, date) before
    the salutation, and the signature block after the closing formula."""
    for group in groups:
        if group.kind == "question" or group.section != "body":
            break
        group.kind = "header"
        if SALUTATION.search(group.text):
            break
    for before, group in zip(groups, groups[1:], strict=False):
        if CLOSING.search(before.text) and group.kind == "block":
            group.kind = "signatures"
            break


def _kind(group: _Group, principles: tuple[int, ...]) -> str:
    if group.section == "annex" and principles:
        return "principle"
    if group.kind in ("block", "heading") and not all(_is_short(p.text) for p in group.paragraphs):
        return "paragraph"
    return group.kind


def ends_sentence(text: str) -> bool:
    """True when `text` ends like a finished sentence or clause (period, colon, closing quote...)."""
    return bool(TERMINAL.search(text.rstrip()))


def flow_paragraphs(pages: list[Page]) -> list[Paragraph]:
    """Paragraphs in reading order; one cut by a page break is joined back with its continuation, and
    so is a line set apart by spacing alone that carries on the sentence before it (a wrapped title)."""
    flowed: list[Paragraph] = []
    for page in pages:
        for position, text in enumerate(page.paragraphs):
            if position == 0 and flowed and _continues(flowed[-1].text, text):
                flowed[-1].breaks.append(len(flowed[-1].text) + 1)
                flowed[-1].text = f"{flowed[-1].text} {text}"
                flowed[-1].pages.append(page.number)
            elif position > 0 and text[:1].islower() and not ends_sentence(flowed[-1].text):
                flowed[-1].text = f"{flowed[-1].text} {text}"
            else:
                flowed.append(Paragraph(text, [page.number]))
    return flowed


def _continues(before: str, after: str) -> bool:
    if ends_sentence(before) or NUMBERED.match(after) or SECTION_HEADING.match(after):
        return False
    return after[:1].islower() or before.rstrip().endswith((",", "-", "–"))


def _is_short(text: str) -> bool:
    return len(text) < SHORT_LINE_CHARS and not text.rstrip().endswith((".", "?", "!", ".”", "?”"))


def _place(paragraph: Paragraph, state: _State) -> None:
    """Attach a paragraph to the open group or start a new one, tracking the letter's sections."""
    text = paragraph.text
    last = state.groups[-1] if state.groups else None
    if SECTION_HEADING.match(text) and len(text) < SHORT_LINE_CHARS:
        state.section = "annex"
        state.groups.append(_Group([paragraph], state.section, "heading", open_for_next=True))
        return
    numbered = NUMBERED.match(text)
    if numbered and int(numbered.group(1)) == state.next_question and _opens_questions(last, state):
        state.section = "questions"
        state.next_question += 1
        state.groups.append(_Group([paragraph], state.section, "question", int(numbered.group(1))))
        return
    if state.section == "questions" and not LIST_ITEM.match(text):
        state.section = "body"
    if last is not None and (
        last.open_for_next
        or _is_heading(last)
        or LIST_ITEM.match(text)
        or (_is_short(text) and not ends_sentence(last.paragraphs[-1].text))
        or (_is_short(text) and last.kind == "block")
    ):
        last.paragraphs.append(paragraph)
        last.open_for_next = text.rstrip().endswith(":") or (last.kind == "heading" and _is_short(text))
        if last.kind == "heading" and not last.open_for_next:
            last.kind = "paragraph"
        return
    kind = "block" if _is_short(text) else "paragraph"
    state.groups.append(_Group([paragraph], state.section, kind, open_for_next=text.rstrip().endswith(":")))


def _is_heading(group: _Group) -> bool:
    """A lone short line without closing punctuation ("Annex", a Markdown title) leads what follows."""
    if group.kind != "block" or len(group.paragraphs) != 1:
        return False
    text = group.paragraphs[0].text.rstrip()
    return len(text) < 80 and not text.endswith((",", ".", ";", "?", "!"))


def _opens_questions(last: _Group | None, state: _State) -> bool:
    if state.section == "questions":
        return True
    return last is not None and last.paragraphs[-1].text.rstrip().endswith(":")


PRINCIPLE_OPENING = re.compile(r"^(?:Under |In )?(?:the )?(?:UN )?Guiding Principles? \d", re.IGNORECASE)


def _split_principles(group: _Group) -> list[_Group]:
    """One quoted principle per chunk: a paragraph of the annex that goes on from one principle to a
    sentence opening on another ("Guiding Principle 20 states that...") is cut before that sentence."""
    if group.section != "annex" or len(group.paragraphs) != 1 or len(named_principles(group.text)) < 2:
        return [group]
    paragraph = group.paragraphs[0]
    cuts = [
        start
        for start, _ in sentence_spans(paragraph.text)
        if start and PRINCIPLE_OPENING.match(paragraph.text[start:])
    ]
    bounds = [0, *cuts, len(paragraph.text)]
    return [
        _Group([_slice(paragraph, a, b)], group.section, group.kind, group.question_number)
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]


def _split_long(group: _Group) -> list[_Group]:
    """Keep chunks readable: a group over the limit is cut between paragraphs, then between sentences."""
    if len(group.text) <= MAX_CHUNK_CHARS:
        return [group]
    pieces: list[_Group] = []
    current: list[Paragraph] = []
    for paragraph in group.paragraphs:
        for part in _sentence_pieces(paragraph):
            if current and sum(len(p.text) + 1 for p in current) + len(part.text) > MAX_CHUNK_CHARS:
                pieces.append(_Group(current, group.section, group.kind, group.question_number))
                current = []
            current.append(part)
    if current:
        pieces.append(_Group(current, group.section, group.kind, group.question_number))
    return pieces


def _sentence_pieces(paragraph: Paragraph) -> list[Paragraph]:
    """Cut an over-long paragraph between sentences, each piece keeping the pages it spans."""
    if len(paragraph.text) <= MAX_CHUNK_CHARS:
        return [paragraph]
    cuts: list[tuple[int, int]] = []
    for start, end in sentence_spans(paragraph.text):
        if cuts and end - cuts[-1][0] <= MAX_CHUNK_CHARS:
            cuts[-1] = (cuts[-1][0], end)
        else:
            cuts.append((start, end))
    return [_slice(paragraph, start, end) for start, end in cuts]


def _slice(paragraph: Paragraph, start: int, end: int) -> Paragraph:
    end = start + len(paragraph.text[start:end].rstrip())
    starts = [0, *paragraph.breaks]
    pages = [page for page, begin in zip(paragraph.pages, starts, strict=True) if begin < end]
    first = max(i for i, begin in enumerate(starts) if begin <= start)
    breaks = [begin - start for begin in starts[first + 1 : len(pages)]]
    return Paragraph(paragraph.text[start:end], pages[first:], breaks)


def _section_at(groups: list[_Group], page: int) -> str:
    sections = [g.section for g in groups if page in g.pages]
    return sections[-1] if sections else "body"
