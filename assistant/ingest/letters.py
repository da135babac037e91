"""Recognise a Special Procedures letter and read it field by field: reference, date, addressee, mandates,
resolutions, signatories, questions, publication period, who else was written to, the Guiding Principles
it quotes and the facts it alleges. A field the letter does not state stays None: nothing is guessed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from assistant.ingest.chunk import SECTION_HEADING, Paragraph, flow_paragraphs
from assistant.ingest.principles import PRINCIPLE_REFERENCE, find_principles
from assistant.ingest.sentences import sentence_spans, split_sentences
from assistant.records import Chunk, Excerpt, Letter, LetterQuestion, Page, PrincipleMention, Signatory

LETTER_REFERENCE = re.compile(r"\b(AL|UA|OL|JAL|JUA|JOL)\s+([A-Z]{3}|OTH)\s+\(?(\d{1,4})\s*/\s*(\d{4})\)?")
# What a user may type for a reference: "AL OTH 170/2021", "al-oth-170-2021", "AL_OTH_170_2021".
REFERENCE_INPUT = re.compile(
    r"^\s*(AL|UA|OL|JAL|JUA|JOL)[\s_-]+([A-Z]{3}|OTH)[\s_-]+\(?(\d{1,4})\s*[/_-]\s*(\d{4})\)?\s*$",
    re.IGNORECASE,
)
STANDALONE_REFERENCE = re.compile(
    r"^\s*(?:(?:REFERENCE|Reference|Ref\.?|Our ref\.?)\s*:?\s*)?" + LETTER_REFERENCE.pattern + r"\s*$"
)
MONTHS = {
    name: number
    for number, name in enumerate(
        "january february march april may june july august september october november december".split(),
        start=1,
    )
}
DATE = re.compile(r"\b(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s+(\d{4})\b", re.IGNORECASE)
SALUTATION = re.compile(r"^Dear\s+([^,\n]{2,80}?)\s*,")
CLOSING = re.compile(r"^Please accept,\s*([^,]{2,80}?),\s*the assurances")
NOT_A_PERSON = re.compile(r"^(?:Excellenc|Sirs?\b|Madam|Sir\s*/|Sir or|Colleague|Friend)", re.IGNORECASE)
HONORIFIC = re.compile(r"^(?:Mr|Mrs|Ms|Mx|Dr|Prof|Professor|Sir|Dame|H\.?E\.?)\b\.?")
STATE_ADDRESSEE = re.compile(
    r"\b(?:Permanent Mission|Government|Ministry|Embassy|Mission of)\b", re.IGNORECASE
)
BODY_COMPANY = re.compile(
    r"\byour (?:company|enterprise|corporation|firm|group)\s*,\s*([A-Z][^,;:()“”\"]{1,80}?)\s*,(?=\s)"
)
MANDATE_TITLE = re.compile(
    r"\b(?:Special Rapporteur|Working Group|Independent Expert|Special Representative)\b"
)
MANDATES_LINE = re.compile(r"^Mandates? of\b", re.IGNORECASE)
RESOLUTION_LIST = re.compile(
    r"Human Rights Council\s+resolutions?\s+"
    r"(\d{1,2}/\d{1,3}(?:\s*(?:,|and|&)\s*(?:and\s+)?\d{1,2}/\d{1,3})*)",
    re.IGNORECASE,
)
RESOLUTION_SYMBOL = re.compile(r"A/HRC/RES/(\d{1,2}/\d{1,3})")
NUMBER_WORDS = {"thirty": 30, "forty-five": 45, "sixty": 60, "ninety": 90}
PUBLICATION = re.compile(
    r"\bmade public\b[^.]*?\b(?:in|within|after)\s+(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")\s+days\b",
    re.IGNORECASE,
)
# "We would appreciate receiving a response within 60 days." (not the publication sentence, which also
# speaks of "any response")
RESPONSE = re.compile(
    r"\b(?:response|reply|answer)\b[^.]*?\bwithin\s+(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")\s+days\b",
    re.IGNORECASE,
)
# Older letters: "Passed this delay, this communication ... will be made public ..." (the response period)
PUBLICATION_AFTER_DELAY = re.compile(
    r"\b(?:passed|after|following|once|at the end of)\s+(?:this|that|the)\s+(?:delay|deadline|period)\b"
    r"[^.]*\bmade public\b",
    re.IGNORECASE,
)
ALSO_SENT = re.compile(
    r"\b(?:also|similar)\b[^.]*?\b(?:sent|addressed|transmitted)\s+to\b"
    r"|\bcopy of this (?:letter|communication)\b",
    re.IGNORECASE,
)
GOVERNMENTS = re.compile(
    r"\bGovernments?\s+of\s+(?:the\s+)?(.+?)(?=,?\s+as well as\b|,?\s+and\s+to\b|[.;]\s*$|$)", re.IGNORECASE
)
COMPANIES = re.compile(
    r"\bto\s+(?:the\s+)?(?:following\s+)?compan(?:y|ies)\s*:?\s+(?!involved)(.+?)[.;]?\s*$"
)
OTHER_COMPANIES = re.compile(r"\bother (?:companies|business enterprises|businesses)\b", re.IGNORECASE)
# Country names that contain "and": kept whole when a list of Governments is split on "and".
AND_NAMES = (
    "United Kingdom of Great Britain and Northern Ireland",
    "Trinidad and Tobago",
    "Antigua and Barbuda",
    "Bosnia and Herzegovina",
    "Saint Kitts and Nevis",
    "Saint Vincent and the Grenadines",
    "Sao Tome and Principe",
    "Heard Island and McDonald Islands",
)
ALLEGATIONS_START = re.compile(
    r"^According to (?:the )?information\b|\bwe have (?:also )?received information\b|"
    r"^(?:The )?information received (?:indicates|alleges|suggests)",
    re.IGNORECASE,
)
ALLEGATIONS_END = re.compile(
    r"^(?:While we do not wish to prejudge|Without (?:in any way )?(?:prejudging|expressing|wishing)|"
    r"In connection with (?:the )?above alleged facts|As it is our responsibility)",
    re.IGNORECASE,
)
SIGNATORY_TITLE = re.compile(
    r"(?:Chair(?:person)?(?:-|\s)Rapporteur|Chair(?:person)?|Vice-Chair(?:person)?|Special Rapporteur|"
    r"Independent Expert|Special Representative|Member|Working Group)\b"
)


@dataclass(frozen=True)
class LetterHeader:
    """What every chunk of a letter carries: its reference and the date it was sent (ISO)."""

    reference: str
    date: str | None
    addressee: str | None = None


def parse_reference(text: str) -> str | None:
    """The first letter reference in `text`, normalised to "AL OTH 170/2021"."""
    match = LETTER_REFERENCE.search(text)
    if not match:
        return None
    kind, country, number, year = match.groups()
    return f"{kind} {country} {int(number)}/{year}"


def normalise_reference(text: str) -> str | None:
    """A reference as a user may type it ("al oth 170/2021", the slug "AL-OTH-170-2021") in the
    canonical form "AL OTH 170/2021"; None when `text` is not a reference."""
    match = REFERENCE_INPUT.match(text or "")
    if not match:
        return None
    kind, country, number, year = match.groups()
    return f"{kind.upper()} {country.upper()} {int(number)}/{year}"


def parse_date(text: str) -> str | None:
    """The first written date ("12 March 2021") in `text` as ISO "2021-03-12"."""
    match = DATE.search(text)
    if not match:
        return None
    day, month, year = match.groups()
    try:
        return date(int(year), MONTHS[month.lower()], int(day)).isoformat()
    except ValueError:
        return None


def read_letter_header(first_page: Page) -> LetterHeader | None:
    """Reference, date and addressee when the document's first page is a letter's; None otherwise.
    The addressee is the footer that Special Procedures letters print on their first page."""
    text = " ".join(first_page.paragraphs)
    match = LETTER_REFERENCE.search(text)
    if match is None or not _is_letterhead(first_page):
        return None
    addressee = next((line for line in first_page.furniture if re.search(r"[A-Za-z]{2}", line)), None)
    return LetterHeader(
        parse_reference(text) or "", parse_date(text[match.end() :]) or parse_date(text), addressee
    )


def _is_letterhead(first_page: Page) -> bool:
    """A letter prints its reference on a line of its own ("REFERENCE: AL OTH 170/2021") or lists the
    mandates that send it; a report or reply that merely mentions a reference is not a letter."""
    return any(
        STANDALONE_REFERENCE.match(paragraph) or MANDATES_LINE.match(paragraph)
        for paragraph in first_page.paragraphs
    )


def parse_letter(name: str, pages: list[Page], chunks: list[Chunk]) -> Letter | None:
    """Every field of the letter in `pages` (chunks give its questions and annex); None when the document
    is not a Special Procedures letter (no reference on its first page)."""
    if not pages:
        return None
    header = read_letter_header(pages[0])
    match = LETTER_REFERENCE.search(" ".join(pages[0].paragraphs))
    if header is None or match is None:
        return None
    kind, country, number, year = match.groups()
    paragraphs = flow_paragraphs(pages)
    annex_at = next(
        (i for i, p in enumerate(paragraphs) if SECTION_HEADING.match(p.text) and len(p.text) < 140),
        len(paragraphs),
    )
    body = paragraphs[:annex_at]
    person = _person(body)
    response = _first_sentence(body, pages, RESPONSE, unless=PUBLICATION)
    response_days = _days(RESPONSE, response.text) if response else None
    publication = _first_sentence(body, pages, PUBLICATION)
    days = _days(PUBLICATION, publication.text) if publication else None
    if publication is None and response_days is not None:
        publication = _first_sentence(body, pages, PUBLICATION_AFTER_DELAY)
        days = response_days if publication else None
    governments, companies, other_companies = _also_written_to(body)
    annex_chunks = [c for c in chunks if c.section == "annex"]
    return Letter(
        document=name,
        reference=header.reference,
        letter_type=kind,
        country=country,
        number=int(number),
        year=int(year),
        date=header.date,
        addressee=header.addressee,
        person=person,
        company=_company(header.addressee, person, body),
        mandates=_mandates(pages[0]),
        resolutions=_resolutions(paragraphs),
        signatories=_signatories(body),
        questions=_questions(chunks),
        response_days=response_days,
        response_date=_after(header.date, response_days),
        response_notice=response,
        publication_days=days,
        publication_date=_after(header.date, days),
        publication_notice=publication,
        press_release_notice=_first_sentence(body, pages, re.compile(r"\bpress release\b", re.IGNORECASE)),
        governments_also=governments,
        companies_also=companies,
        other_companies_also=other_companies,
        principle_mentions=_principle_mentions(chunks, pages),
        allegations=_allegations(body, pages),
        annex_page=annex_chunks[0].page if annex_chunks else None,
        pages=len(pages),
        pages_without_text=tuple(p.number for p in pages if not p.paragraphs),
    )


def stamp(chunks: list[Chunk], letter: Letter) -> list[Chunk]:
    """The chunks with the letter's metadata that filters use: reference, date, addressee, person."""
    return [
        replace(
            chunk,
            reference=letter.reference,
            date=letter.date,
            addressee=letter.company or letter.addressee,
            person=letter.person,
        )
        for chunk in chunks
    ]


# -- who the letter is for ---------------------------------------------------------------------------
def _person(body: list[Paragraph]) -> str | None:
    """The person greeted ("Dear Mr. Li Zixue,"), or named in the closing formula; None for
    "Excellency" and other salutations that name nobody."""
    for pattern in (SALUTATION, CLOSING):
        for paragraph in body:
            match = pattern.match(paragraph.text)
            if match and not NOT_A_PERSON.match(match.group(1)):
                if pattern is CLOSING and not HONORIFIC.match(match.group(1)):
                    continue
                return match.group(1).strip()
    return None


def _company(footer: str | None, person: str | None, body: list[Paragraph]) -> str | None:
    """The company from the first-page footer (a State's mission is not a company), else from the body
    ("your company, Acme Ltd., ...")."""
    if footer and not STATE_ADDRESSEE.search(footer):
        company = footer.replace(person, "").strip(" ,;") if person else footer.strip()
        if company:
            return company
    for paragraph in body[:12]:
        match = BODY_COMPANY.search(paragraph.text)
        if match:
            return match.group(1).strip()
    return None


# -- who wrote, under which resolutions ----------------------------------------------------------------
def _mandates(first_page: Page) -> tuple[str, ...]:
    """The mandates listed at the top of the first page, one per title ("Special Rapporteur on ...")."""
    line = next((p for p in first_page.paragraphs if MANDATES_LINE.match(p)), None)
    if line is None:
        return ()
    starts = [m.start() for m in MANDATE_TITLE.finditer(line)]
    mandates = []
    for start, end in zip(starts, [*starts[1:], len(line)], strict=True):
        mandates.append(re.sub(r"(?:[;,.]|\s|\band\b|\bthe\b)+$", "", line[start:end]))
    return tuple(m for m in mandates if m)


def _resolutions(paragraphs: list[Paragraph]) -> tuple[str, ...]:
    """Human Rights Council resolutions cited ("44/15", and "17/31" from "A/HRC/RES/17/31"), in order."""
    found: list[str] = []
    for paragraph in paragraphs:
        hits = [
            (m.start(), re.findall(r"\d{1,2}/\d{1,3}", m.group(1)))
            for m in RESOLUTION_LIST.finditer(paragraph.text)
        ]
        hits += [(m.start(), [m.group(1)]) for m in RESOLUTION_SYMBOL.finditer(paragraph.text)]
        for _, numbers in sorted(hits):
            found.extend(numbers)
    return tuple(dict.fromkeys(found))


def _signatories(body: list[Paragraph]) -> tuple[Signatory, ...]:
    """Names and mandates printed under the closing formula, up to the annex or the end."""
    closing = next((i for i, p in enumerate(body) if p.text.startswith("Please accept")), None)
    if closing is None:
        return ()
    entries: list[list[str]] = []  # [name, mandate line, ...]
    for paragraph in body[closing + 1 :]:
        for line in paragraph.text.split("\n"):
            line = line.strip()
            if not line:
                continue
            if len(line) > 200 or (line.endswith(".") and len(line) > 100):
                return _as_signatories(entries)
            if line[0].islower() and entries and len(entries[-1]) > 1:
                entries[-1][-1] = f"{entries[-1][-1]} {line}"
            elif SIGNATORY_TITLE.match(line) and entries:
                entries[-1].append(line)
            elif (split := re.search(r"\s(?=" + SIGNATORY_TITLE.pattern + ")", line)) and _looks_like_name(
                line[: split.start()]
            ):
                entries.append([line[: split.start()], line[split.end() :]])
            elif _looks_like_name(line):
                entries.append([line])
            else:
                return _as_signatories(entries)
    return _as_signatories(entries)


def _looks_like_name(text: str) -> bool:
    words = text.split()
    return (
        1 <= len(words) <= 6
        and len(text) <= 60
        and not re.search(r"\d|[.:;!?]$", text)
        and text[:1].isupper()
        and not SIGNATORY_TITLE.match(text)
    )


def _as_signatories(entries: list[list[str]]) -> tuple[Signatory, ...]:
    return tuple(Signatory(e[0], " ".join(e[1:]) or None) for e in entries)


# -- what the letter asks, and by when -----------------------------------------------------------------
def _questions(chunks: list[Chunk]) -> tuple[LetterQuestion, ...]:
    """The numbered questions, whole, from the chunks the chunker marked as questions (a long question
    split into several chunks is joined back)."""
    parts: dict[int, list[Chunk]] = {}
    for chunk in chunks:
        if chunk.kind == "question" and chunk.question_number is not None and chunk.section == "questions":
            parts.setdefault(chunk.question_number, []).append(chunk)
    questions = []
    for number, pieces in sorted(parts.items()):
        text = re.sub(r"^\d{1,2}[.)]\s+", "", "\n".join(p.text for p in pieces))
        pages = tuple(sorted({n for p in pieces for n in p.pages}))
        questions.append(LetterQuestion(number, text, pages[0], pages, find_principles(text)))
    return tuple(questions)


def _days(pattern: re.Pattern[str], sentence: str) -> int | None:
    """The number of days `pattern` captured in `sentence` ("60", "sixty")."""
    match = pattern.search(sentence)
    if not match:
        return None
    value = match.group(1).lower()
    return int(value) if value.isdigit() else NUMBER_WORDS.get(value)


def _after(day: str | None, days: int | None) -> str | None:
    """`days` after the ISO date `day`; None when either is unknown."""
    if day is None or days is None:
        return None
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def _first_sentence(
    body: list[Paragraph], pages: list[Page], pattern: re.Pattern[str], unless: re.Pattern[str] | None = None
) -> Excerpt | None:
    """The first sentence of the body that `pattern` finds (and `unless` does not), verbatim, with its
    page."""
    for paragraph in body:
        for sentence in split_sentences(paragraph.text):
            if pattern.search(sentence) and not (unless and unless.search(sentence)):
                return Excerpt(sentence, _page_of(sentence, paragraph.pages, pages))
    return None


def _also_written_to(body: list[Paragraph]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """Governments and companies the letter says were also written to, and whether it mentions other,
    unnamed, companies."""
    governments: list[str] = []
    companies: list[str] = []
    other = False
    for paragraph in body:
        for sentence in split_sentences(paragraph.text):
            if not ALSO_SENT.search(sentence):
                continue
            for match in GOVERNMENTS.finditer(sentence):
                governments.extend(_split_names(match.group(1)))
            for match in COMPANIES.finditer(sentence):
                companies.extend(_split_names(match.group(1)))
            other = other or bool(OTHER_COMPANIES.search(sentence))
    return tuple(dict.fromkeys(governments)), tuple(dict.fromkeys(companies)), other


def _split_names(text: str) -> list[str]:
    """ "China, Spain and United Kingdom of Great Britain and Northern Ireland" -> three names."""
    protected = text
    for number, name in enumerate(AND_NAMES):
        protected = re.sub(re.escape(name), f"\x00{number}\x00", protected, flags=re.IGNORECASE)
    names = []
    for part in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", protected):
        part = re.sub(r"\x00(\d+)\x00", lambda m: AND_NAMES[int(m.group(1))], part)
        part = re.sub(r"^(?:the|to the|to)\s+", "", part.strip(), flags=re.IGNORECASE).strip(" .;")
        if part:
            names.append(part)
    return names


# -- what the letter alleges and which principles it invokes ------------------------------------------
def _allegations(body: list[Paragraph], pages: list[Page]) -> tuple[Excerpt, ...]:
    """The paragraphs that set out the facts alleged: from "we have received information" / "According
    to the information received" up to the letter's concerns, lead-in lines left out."""
    start = next((i for i, p in enumerate(body) if ALLEGATIONS_START.search(p.text)), None)
    if start is None:
        return ()
    facts = []
    for paragraph in body[start:]:
        text = paragraph.text
        if ALLEGATIONS_END.match(text) or SALUTATION.match(text) or re.match(r"^\d{1,2}[.)]\s", text):
            break
        if text.rstrip().endswith(":") and len(text) < 140:
            continue
        facts.append(Excerpt(text, paragraph.pages[0]))
    return tuple(facts)


def _principle_mentions(chunks: list[Chunk], pages: list[Page]) -> tuple[PrincipleMention, ...]:
    """Each place the letter names Guiding Principles, with the words it quotes or the sentence that cites
    them, and the page where those words start."""
    mentions: list[PrincipleMention] = []
    for chunk in chunks:
        for match in PRINCIPLE_REFERENCE.finditer(chunk.text):
            numbers = find_principles(match.group(0))
            if not numbers:
                continue
            start, end, quoted = _mention_scope(chunk.text, match.start(), match.end())
            quote = chunk.text[start:end].strip()
            before = chunk.text[max(0, match.start() - 20) : match.start()]
            mention = PrincipleMention(
                numbers=numbers,
                page=_page_of(quote, list(chunk.pages), pages),
                quote=quote,
                quoted=quoted,
                commentary=bool(re.search(r"commentary (?:to|on|of)\s*(?:the\s*)?$", before, re.IGNORECASE)),
                section=chunk.section,
            )
            if mention not in mentions:
                mentions.append(mention)
    return tuple(mentions)


def _mention_scope(text: str, start: int, end: int) -> tuple[int, int, bool]:
    """(start, end, quoted) of the words a mention vouches for. An attribution after a closing quote
    ('...” (Guiding Principle 13)') covers the quotation back to its opening mark (or to the start of the
    passage when the letter left the mark out); otherwise the sentence, stretched to the end of a
    quotation it opens."""
    attribution = re.search(r"([”\"])[.,]?\s*\((?:[Cc]ommentary (?:to|on|of)\s+)?(?:the\s+)?$", text[:start])
    if attribution:
        close = attribution.start()
        opening, closing = ("“", "”") if attribution.group(1) == "”" else ('"', '"')
        before_close = text[:close]
        previous_close = before_close.rfind(closing) if closing == "”" else -1
        first = before_close.rfind(opening) if closing == "”" else _straight_quote_open(text, close)
        if first == -1 or first < previous_close:
            first = _after_attribution(text, previous_close + 1) if previous_close != -1 else 0
        stop = text.find(")", end)
        stop = stop + 1 if stop != -1 else end
        return first, stop + (text[stop : stop + 1] == "."), True
    spans = sentence_spans(text)
    at = next((i for i, (a, b) in enumerate(spans) if a <= start < b), None)
    if at is None:
        return 0, len(text), False
    first, last = spans[at]
    # The sentences that follow in the same paragraph explain the principle, up to the next one named.
    for a, b in spans[at + 1 :]:
        if "\n" in text[last:a] or PRINCIPLE_REFERENCE.search(text[a:b]):
            break
        last = b
    quote_at = min(
        (i for i in (text.find("“", end), _straight_quote_after(text, end)) if i != -1 and i < last),
        default=-1,
    )
    if quote_at != -1:
        closing_at = text.find("”" if text[quote_at] == "“" else '"', quote_at + 1)
        if closing_at != -1:
            last = max(last, closing_at + 1 + (text[closing_at + 1 : closing_at + 2] == "."))
    return first, last, quote_at != -1


def _after_attribution(text: str, position: int) -> int:
    """Skip an attribution such as ' (Guiding Principle 13). ' that ends an earlier quotation."""
    match = re.match(r"[.,]?\s*(?:\([^)]{0,60}\))?[.,;]?\s*", text[position:])
    return position + (match.end() if match else 0)


def _straight_quote_open(text: str, close: int) -> int:
    """The opening straight double quote that pairs with the one at `close`, or -1."""
    opening = text.rfind('"', 0, close)
    return opening if opening != -1 and text.count('"', 0, close) % 2 == 1 else -1


def _straight_quote_after(text: str, position: int) -> int:
    """The next straight double quote after `position` that opens a quotation, or -1."""
    index = text.find('"', position)
    return index if index != -1 and text.count('"', 0, index) % 2 == 0 else -1


def _page_of(fragment: str, candidates: Iterable[int], pages: list[Page]) -> int:
    """The page among `candidates` on which `fragment` starts (its first words located in the page's
    text); the first candidate when they cannot be told apart."""
    candidates = list(candidates)
    if len(candidates) == 1:
        return candidates[0]
    words = fragment.split()
    texts = {p.number: " ".join(" ".join(p.paragraphs).split()) for p in pages if p.number in candidates}
    for size in (12, 6, 3):
        probe = " ".join(words[:size])
        found = [n for n in candidates if probe and probe in texts.get(n, "")]
        if len(found) == 1:
            return found[0]
    return candidates[0]
