"""A response outline for a letter's addressee: each question with the Guiding Principles it engages and
the annex passages that support the link, the deadlines and the facts alleged; as data and as Markdown a
lawyer can paste into a draft.

The link from a question to a principle is never hand-made: the service retrieves the letter's annex
passages closest to the question (the same hybrid retrieval as `/search`, restricted to that annex) and
this module keeps the ones that quote or cite a principle and are close enough, each with its page and
the letter's exact words.
"""

from __future__ import annotations

from datetime import date

from assistant.ingest.principles import format_ranges
from assistant.records import (
    Chunk,
    Deadline,
    Letter,
    LetterQuestion,
    Outline,
    OutlineQuestion,
    Passage,
    PrincipleMention,
    Support,
)
from assistant.terms import terms

MAX_SUPPORT = 3  # annex passages kept per question
MIN_DENSE = 0.3  # below this cosine a passage is not about the question (measured: generic asks score ~0.2)
LETTER_TYPES = {
    "AL": "allegation letter",
    "UA": "urgent appeal",
    "OL": "other letter",
    "JAL": "joint allegation letter",
    "JUA": "joint urgent appeal",
    "JOL": "joint other letter",
}


def build_outline(letter: Letter, support: dict[int, list[Passage]]) -> Outline:
    """The outline of `letter`, given for each question number the annex passages retrieved for it."""
    questions = tuple(_outline_question(q, support.get(q.number, []), letter) for q in letter.questions)
    return Outline(letter, questions, _deadlines(letter), letter.allegations, _notes(letter))


def _outline_question(question: LetterQuestion, passages: list[Passage], letter: Letter) -> OutlineQuestion:
    supports: list[Support] = []
    for passage in passages:
        if len(supports) >= MAX_SUPPORT:
            break
        if not passage.chunk.principles or passage.dense < MIN_DENSE:
            continue
        mention = _closest_mention(question.text, passage.chunk, letter)
        if mention is not None:
            supports.append(
                Support(
                    mention.numbers, mention.page, mention.quote, passage.chunk.id, round(passage.score, 4)
                )
            )
    engaged = sorted(set(question.principles) | {n for s in supports for n in s.principles})
    return OutlineQuestion(
        question.number, question.text, question.page, question.pages, tuple(engaged), tuple(supports)
    )


def _closest_mention(question: str, chunk: Chunk, letter: Letter) -> PrincipleMention | None:
    """Of the principle mentions inside `chunk`, the one sharing most words with the question (the first
    on a tie): a passage that quotes two principles supports the question through the one it is about."""
    text = " ".join(chunk.text.split())
    inside = [m for m in letter.principle_mentions if " ".join(m.quote.split()) in text]
    if not inside:
        return None
    asked = set(terms(question))
    return max(inside, key=lambda m: len(asked & set(terms(m.quote))))


def _deadlines(letter: Letter) -> tuple[Deadline, ...]:
    deadlines = []
    if letter.response_notice:
        deadlines.append(
            Deadline(
                "Response requested",
                letter.response_date,
                letter.response_days,
                letter.response_notice.text,
                letter.response_notice.page,
            )
        )
    if letter.publication_notice:
        deadlines.append(
            Deadline(
                "The letter and any response are made public",
                letter.publication_date,
                letter.publication_days,
                letter.publication_notice.text,
                letter.publication_notice.page,
            )
        )
    if letter.press_release_notice:
        deadlines.append(
            Deadline(
                "Possible press release (the letter sets no date)",
                None,
                None,
                letter.press_release_notice.text,
                letter.press_release_notice.page,
            )
        )
    return tuple(deadlines)


def _notes(letter: Letter) -> tuple[str, ...]:
    """What the reader must know about gaps: unreadable pages, no annex, no questions, no date."""
    notes = []
    if letter.pages_without_text:
        pages = ", ".join(map(str, letter.pages_without_text))
        notes.append(
            f"Page(s) {pages} of {letter.document} have no text layer (a scan?): anything printed there "
            "is missing from this outline. Read those pages in the original."
        )
    if letter.annex_page is None:
        notes.append(
            "The letter has no annex: principles are listed only where a question names them itself."
        )
    if not letter.questions:
        notes.append("No numbered questions were found in the letter.")
    if letter.publication_days is not None and letter.date is None:
        notes.append("The letter's date was not found, so the publication date cannot be computed.")
    if letter.publication_notice is None:
        notes.append("The letter does not say when it will be made public.")
    return tuple(notes)


# -- Markdown ----------------------------------------------------------------------------------------
def render_markdown(outline: Outline) -> str:
    """The outline as Markdown: headings, quoted questions, cited support, deadlines, facts alleged."""
    letter = outline.letter
    lines = [f"# Response outline: {letter.reference}", ""]
    lines += _letter_summary(letter)
    lines += ["", "## Deadlines", ""]
    if not outline.deadlines:
        lines.append("- None stated in the letter.")
    for deadline in outline.deadlines:
        when = f"**{_long_date(deadline.date)}**: " if deadline.date else ""
        after = (
            f" ({deadline.days} days after {_long_date(letter.date)})"
            if deadline.days and letter.date
            else ""
        )
        lines.append(f"- {when}{deadline.label}{after}. {_cite(deadline.quote, deadline.page)}")
    lines += ["", "## Questions and the Guiding Principles they engage", ""]
    if not outline.questions:
        lines.append("No numbered questions were found in the letter.")
    quoted_under: dict[str, int] = {}  # a passage is quoted in full once, then referred to
    for question in outline.questions:
        lines += _question_lines(question, quoted_under)
    lines += ["## Facts alleged", ""]
    if not outline.allegations:
        lines.append("No allegation paragraphs were found in the letter.")
    for number, fact in enumerate(outline.allegations, start=1):
        lines.append(f"{number}. {_flat(fact.text)} (p. {fact.page})")
    if outline.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in outline.notes]
    return "\n".join(lines).rstrip() + "\n"


def _letter_summary(letter: Letter) -> list[str]:
    kind = LETTER_TYPES.get(letter.letter_type, letter.letter_type)
    dated = f", dated {_long_date(letter.date)}" if letter.date else ", undated"
    recipient = ", ".join(p for p in (letter.person, letter.company or letter.addressee) if p) or "not stated"
    lines = [
        f"- **Letter:** {letter.reference} ({kind}){dated}; source file `{letter.document}`",
        f"- **To:** {recipient}",
    ]
    if letter.signatories:
        signed = "; ".join(f"{s.name} ({s.mandate})" if s.mandate else s.name for s in letter.signatories)
        lines.append(f"- **Signed by:** {signed}")
    elif letter.mandates:
        lines.append(f"- **From:** {'; '.join(letter.mandates)}")
    if letter.resolutions:
        lines.append(f"- **Human Rights Council resolutions cited:** {', '.join(letter.resolutions)}")
    if letter.principles:
        lines.append(f"- **Guiding Principles quoted or cited:** {format_ranges(letter.principles)}")
    also = list(letter.governments_also) + list(letter.companies_also)
    if letter.other_companies_also:
        also.append("other companies (not named)")
    if also:
        lines.append(f"- **Also written to:** {', '.join(also)}")
    return lines


def _question_lines(question: OutlineQuestion, quoted_under: dict[str, int]) -> list[str]:
    where = (
        f"pp. {question.pages[0]}-{question.pages[-1]}" if len(question.pages) > 1 else f"p. {question.page}"
    )
    lines = [f"### Question {question.number} ({where})", ""]
    lines += [f"> {line}" if line.strip() else ">" for line in question.text.split("\n")]
    lines.append("")
    if question.principles:
        lines.append(f"**Guiding Principles engaged:** {format_ranges(question.principles)}")
    else:
        lines.append("**Guiding Principles engaged:** none that the annex supports closely enough.")
    lines.append("")
    for support in question.support:
        head = f"- **GP {format_ranges(support.principles)}**, annex p. {support.page}"
        if support.quote in quoted_under:
            lines.append(f"{head} (quoted under question {quoted_under[support.quote]})")
            continue
        quoted_under[support.quote] = question.number
        lines.append(f"{head}:")
        lines += [f"  > {line.strip()}" for line in support.quote.split("\n") if line.strip()]
    if question.support:
        lines.append("")
    lines += ["**Draft response:** _to be written_", ""]
    return lines


def _cite(quote: str, page: int) -> str:
    return f"“{_flat(quote)}” (p. {page})"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _long_date(iso: str | None) -> str:
    if not iso:
        return "an unknown date"
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%B %Y}"
