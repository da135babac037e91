"""Turn laid-out lines into clean paragraphs: drop page numbers, running headers/footers and footnotes,
join hard-wrapped lines and undo end-of-line hyphenation."""

from __future__ import annotations

import re
from collections import Counter
from statistics import median

from assistant.ingest.pdf import Line, RawPage
from assistant.records import Page

PAGE_NUMBER = re.compile(r"^(page\s+)?[-–]?\s*\d{1,4}\s*[-–]?(\s*(of|/)\s*\d{1,4})?$", re.IGNORECASE)
LIGATURES = str.maketrans({"ﬁ": "fi", "ﬂ": "fl", "ﬀ": "ff", "ﬃ": "ffi", "ﬄ": "ffl", "\u00ad": ""})
KEEP_HYPHEN_PREFIXES = frozenset(
    "re co non pre self well low sub multi anti cross inter post semi ex long high full part "
    "mid under over state non-state".split()
)
WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")
BAND = 0.12  # share of the page height at top and bottom where headers, footers and numbers live


def clean_pdf_pages(raw_pages: list[RawPage]) -> list[Page]:
    """Paragraphs and footnotes of every page, with layout furniture removed."""
    lines = [line for page in raw_pages for line in page.lines]
    if not lines:
        return [Page(page.number, ()) for page in raw_pages]
    body_size = _body_font_size(lines)
    spacing = _line_spacing(raw_pages, body_size)
    repeated = _repeated_band_lines(raw_pages)
    vocabulary = {w.lower() for line in lines for w in WORD.findall(line.text)}
    return [_clean_page(page, body_size, spacing, repeated, vocabulary) for page in raw_pages]


def clean_text_pages(text: str) -> list[Page]:
    """Pages of a plain-text or Markdown file: form feeds split pages, blank lines split paragraphs."""
    text = text.translate(LIGATURES).replace("\r\n", "\n")
    vocabulary = {w.lower() for w in WORD.findall(text)}
    pages = []
    for number, page_text in enumerate(text.split("\f"), start=1):
        paragraphs = []
        for block in re.split(r"\n\s*\n", page_text):
            block_lines = [re.sub(r"^#{1,6}\s+", "", ln).strip() for ln in block.splitlines()]
            joined = join_lines([ln for ln in block_lines if ln], vocabulary)
            if joined:
                paragraphs.append(joined)
        pages.append(Page(number, tuple(paragraphs)))
    return pages


def join_lines(lines: list[str], vocabulary: set[str]) -> str:
    """Unwrap hard line breaks; a hyphen at a line end is dropped when it only split a word."""
    out = ""
    for raw in lines:
        line = " ".join(raw.translate(LIGATURES).split())
        if not line:
            continue
        if not out:
            out = line
            continue
        match = re.search(r"([A-Za-z]+)-$", out)
        if match and line[:1].islower():
            left, right = match.group(1), WORD.match(line)
            right_word = right.group(0) if right else ""
            if _is_soft_hyphen(left, right_word, vocabulary):
                out = out[:-1] + line
                continue
            out = out + line
            continue
        out = f"{out} {line}"
    return out


def _is_soft_hyphen(left: str, right: str, vocabulary: set[str]) -> bool:
    whole, hyphenated = (left + right).lower(), f"{left}-{right}".lower()
    if whole in vocabulary:
        return True
    return not (hyphenated in vocabulary or left.lower() in KEEP_HYPHEN_PREFIXES)


def _body_font_size(lines: list[Line]) -> float:
    weights: Counter[float] = Counter()
    for line in lines:
        weights[round(line.size, 1)] += len(line.text)
    return weights.most_common(1)[0][0]


def _line_spacing(raw_pages: list[RawPage], body_size: float) -> float:
    gaps = [
        above.y - below.y
        for page in raw_pages
        for above, below in zip(page.lines, page.lines[1:], strict=False)
        if abs(above.size - body_size) < 0.5 and abs(below.size - body_size) < 0.5 and above.y > below.y
    ]
    return median(gaps) if gaps else body_size * 1.2


def _band_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower()).strip()


def _in_band(line: Line, page: RawPage) -> bool:
    return line.y < page.height * BAND or line.y > page.height * (1 - BAND)


def _repeated_band_lines(raw_pages: list[RawPage]) -> set[str]:
    """Header/footer lines: the same text (numbers aside) near the top or foot of several pages."""
    if len(raw_pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for page in raw_pages:
        seen.update({_band_key(line.text) for line in page.lines if _in_band(line, page)})
    needed = max(2, int(0.4 * len(raw_pages)))
    return {key for key, count in seen.items() if count >= needed and len(key) > 1}


def _clean_page(
    page: RawPage, body_size: float, spacing: float, repeated: set[str], vocabulary: set[str]
) -> Page:
    dropped = [
        line
        for line in page.lines
        if _in_band(line, page) and (PAGE_NUMBER.match(line.text) or _band_key(line.text) in repeated)
    ]
    lines = [line for line in page.lines if line not in dropped]
    body = [line for line in lines if line.size >= body_size - 0.5]
    lowest_body = min((line.y for line in body), default=0.0)
    footnote_lines = [line for line in lines if line.size < body_size - 0.5 and line.y < lowest_body]
    body += [line for line in lines if line.size < body_size - 0.5 and line.y >= lowest_body]
    body.sort(key=lambda line: -line.y)
    blocks = _split_blocks(body, spacing)
    margin = min((line.x for line in body), default=0.0)
    furniture = [b for b in blocks if _is_furniture(b, blocks, page, margin, spacing)]
    blocks = [b for b in blocks if b not in furniture]
    paragraphs = tuple(joined for b in blocks if (joined := join_lines([ln.text for ln in b], vocabulary)))
    removed = [line.text for line in dropped if not PAGE_NUMBER.match(line.text)]
    removed += [" ".join(line.text for line in block) for block in furniture]
    return Page(page.number, paragraphs, _footnotes(footnote_lines, vocabulary), tuple(removed))


def _split_blocks(lines: list[Line], spacing: float) -> list[list[Line]]:
    blocks: list[list[Line]] = []
    for line in lines:
        if blocks and (blocks[-1][-1].y - line.y) <= spacing * 1.3:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def _is_furniture(
    block: list[Line], blocks: list[list[Line]], page: RawPage, margin: float, spacing: float
) -> bool:
    """An isolated short block at the top or foot, set apart and off the left margin (e.g. an
    addressee footer on the first page) belongs to the layout, not to the text."""
    if len(block) > 2 or any(len(line.text) > 60 for line in block):
        return False
    if block[-1].text.rstrip().endswith((".", "?", "!", ";", ":")):
        return False
    index = blocks.index(block)
    is_last, is_first = index == len(blocks) - 1, index == 0
    if not (is_last or is_first) or len(blocks) == 1:
        return False
    neighbour = blocks[index - 1][-1] if is_last else blocks[index + 1][0]
    gap = abs(neighbour.y - block[0].y)
    in_zone = block[0].y < page.height * 0.3 if is_last else block[0].y > page.height * 0.85
    indented = block[0].x - margin > page.width * 0.1
    return in_zone and indented and gap > spacing * 2


def _footnotes(lines: list[Line], vocabulary: set[str]) -> tuple[str, ...]:
    notes: list[list[str]] = []
    for line in sorted(lines, key=lambda ln: -ln.y):
        if not notes or re.match(r"^([¹²³⁴⁵⁶⁷⁸⁹⁰]+|\d{1,3}\s)", line.text):
            notes.append([line.text])
        else:
            notes[-1].append(line.text)
    return tuple(join_lines(note, vocabulary) for note in notes)
