"""Synthetic letters for load, crash and speed runs: the sample letter's paragraphs re-typeset as new PDFs
with varied references, dates and companies, each marked SYNTHETIC on its first line.

They are test material, not data: generate them into a temporary or bench folder, never into corpus/,
and never commit them.

    python -m bench.synthetic --letters 100 --out /tmp/ungp-bench/corpus-100
"""

from __future__ import annotations

import argparse
import random
import re
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

from assistant.ingest.pipeline import parse_document

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PDF = ROOT / "corpus" / "AL-OTH-170-2021-ZTE.pdf"
MARK = "SYNTHETIC TEST LETTER generated from the sample letter for benchmarks - not a real communication"
COMPANIES = (
    "Northwind Components",
    "Harbour Textiles",
    "Meridian Solar",
    "Bluepeak Electronics",
    "Sableford Apparel",
    "Orion Cobalt Mining",
    "Lakeshore Foods",
    "Kestrel Logistics",
    "Tamarind Garments",
    "Vantage Batteries",
    "Ironvale Steel",
    "Cedarline Furniture",
)
ASCII = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "...", "\u00a0": " "})
HEADER_LINES = 5  # mandates, "REFERENCE:", the reference, the date, the salutation


@lru_cache(maxsize=1)
def sample_paragraphs() -> tuple[str, ...]:
    """The sample letter's paragraphs in order, with those cut by a page break joined again."""
    document = parse_document(SAMPLE_PDF, SAMPLE_PDF.name, "0" * 64)
    paragraphs: list[str] = []
    for page in document.pages:
        for number, paragraph in enumerate(page.paragraphs):
            if number == 0 and paragraphs and not re.search(r"[.:;!?”\")]$", paragraphs[-1]):
                paragraphs[-1] = f"{paragraphs[-1]} {paragraph}"
            else:
                paragraphs.append(paragraph)
    return tuple(p.translate(ASCII).encode("latin-1", "replace").decode("latin-1") for p in paragraphs)


def letter_text(number: int, seed: int = 0) -> tuple[str, list[str], str]:
    """(reference, paragraphs, company) of synthetic letter `number`: same structure as the sample, new
    reference, date and company, and a varying subset of the body paragraphs."""
    rng = random.Random(f"{seed}:{number}")
    year = 2015 + number % 10
    reference = f"AL OTH {100 + number}/{year}"
    sent = date(year, 1, 1) + timedelta(days=rng.randrange(365))
    written = f"{sent.day} {sent.strftime('%B')} {year}"
    company = f"{COMPANIES[number % len(COMPANIES)]} {rng.choice(('Ltd', 'Group', 'Holdings', 'plc'))}"
    paragraphs = []
    source = sample_paragraphs()
    for position, paragraph in enumerate(source):
        text = (
            paragraph.replace("ZTE Corporation", company)
            .replace("ZTE", company)
            .replace("AL OTH 170/2021", reference)
            .replace("12 March 2021", written)
        )
        body = HEADER_LINES <= position < len(source) - 12
        if body and rng.random() < 0.2:
            continue  # vary the length and the content a little from letter to letter
        paragraphs.append(text)
    return reference, paragraphs, company


class _Letter(FPDF):
    def __init__(self, company: str) -> None:
        super().__init__(format="A4")
        self.company = company

    def footer(self) -> None:
        if self.page_no() == 1:  # Special Procedures letters name the addressee at the foot of page 1
            self.set_y(-18)
            self.set_x(70)  # set apart and indented, like the original's footer
            self.set_font("Helvetica", size=11)
            self.cell(0, 10, self.company)


def write_letter(path: Path, number: int, seed: int = 0) -> Path:
    """Typeset synthetic letter `number` as a PDF at `path`."""
    reference, paragraphs, company = letter_text(number, seed)
    pdf = _Letter(company)
    pdf.set_auto_page_break(auto=True, margin=25)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=9)
    pdf.multi_cell(0, 5, MARK)
    pdf.ln(3)
    pdf.set_font("Helvetica", size=11)
    for paragraph in paragraphs:
        pdf.multi_cell(0, 5.5, paragraph)
        pdf.ln(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def letter_name(number: int) -> str:
    """File name of synthetic letter `number` (marked SYN so nobody mistakes it for a real one)."""
    return f"SYN-{number:05d}.pdf"


def write_corpus(folder: Path, letters: int, seed: int = 0, start: int = 1) -> list[Path]:
    """`letters` synthetic letters in `folder` (existing files with the same name are kept as they are)."""
    paths = []
    for number in range(start, start + letters):
        path = folder / letter_name(number)
        paths.append(path if path.exists() else write_letter(path, number, seed))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--letters", type=int, default=100, help="How many letters to write.")
    parser.add_argument("--out", type=Path, required=True, help="Folder to write them into.")
    parser.add_argument("--seed", type=int, default=0, help="Seed for references, dates and companies.")
    args = parser.parse_args()
    write_corpus(args.out, args.letters, args.seed)
    print(f"{args.letters} synthetic letters in {args.out}")


if __name__ == "__main__":
    main()
