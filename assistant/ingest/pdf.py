"""Read a PDF page by page into positioned text lines (pypdf), refusing files that hold no usable text."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from assistant.errors import DocumentRejected

logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Line:
    """One line of text as laid out on the page; `y` grows upwards (PDF user space)."""

    text: str
    x: float
    y: float
    size: float


@dataclass(frozen=True)
class RawPage:
    """The lines of one page, top to bottom, plus the page height for band tests."""

    number: int
    lines: tuple[Line, ...]
    width: float
    height: float


def read_pdf(path: Path, max_pages: int | None = None) -> list[RawPage]:
    """Extract every page's lines with their position and font size, or raise `DocumentRejected`."""
    name = path.name
    with path.open("rb") as handle:
        head = handle.read(1024)
    if not head:
        raise DocumentRejected(name, "the file is empty (0 bytes)")
    if b"%PDF-" not in head:
        raise DocumentRejected(name, "not a PDF (the file does not start with a %PDF header)")
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentRejected(name, "the PDF is encrypted with a password; save an unlocked copy")
        page_count = len(reader.pages)
        if max_pages is not None and page_count > max_pages:
            raise DocumentRejected(
                name,
                f"the PDF has {page_count} pages, over the limit of {max_pages} (UNGP_MAX_DOCUMENT_PAGES)",
            )
        pages = [_read_page(page, number) for number, page in enumerate(reader.pages, start=1)]
    except DocumentRejected:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise DocumentRejected(name, f"the PDF is damaged and cannot be read ({exc})") from exc
    if page_count == 0:
        raise DocumentRejected(name, "the PDF has no pages")
    if not any(line.text.strip() for page in pages for line in page.lines):
        raise DocumentRejected(
            name, f"none of its {page_count} pages has a text layer (a scan?); run OCR first"
        )
    return pages


def _read_page(page: object, number: int) -> RawPage:
    fragments: list[tuple[float, float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(cm[3]) if cm[3] else 1.0
        for offset, part in enumerate(text.split("\n")):
            if part.strip():
                # pypdf reports one position per text run; later lines of a run sit one line lower.
                fragments.append((y - offset * size * 1.2 * scale, x, size * scale, part))

    text = page.extract_text(visitor_text=visit)  # type: ignore[attr-defined]
    box = page.mediabox  # type: ignore[attr-defined]
    width, height = float(box.width), float(box.height)
    if not fragments and text.strip():
        # No usable geometry: fall back to evenly spaced lines so paragraphs still split on blanks.
        lines = [Line(t, 0.0, height - i * 12.0, 10.0) for i, t in enumerate(text.splitlines())]
        return RawPage(number, tuple(lines), width, height)
    return RawPage(number, tuple(_group_lines(fragments)), width, height)


def _group_lines(fragments: list[tuple[float, float, float, str]]) -> list[Line]:
    """Join fragments that share a baseline (bold words, font switches) into lines, top to bottom."""
    lines: list[Line] = []
    for y, x, size, part in sorted(fragments, key=lambda f: (-round(f[0], 0), f[1])):
        if lines and abs(lines[-1].y - y) < max(1.5, size * 0.3):
            last = lines[-1]
            lines[-1] = Line(last.text + part, last.x, last.y, max(last.size, size))
        else:
            lines.append(Line(part, x, y, size))
    return [Line(" ".join(line.text.split()), line.x, line.y, line.size) for line in lines]
