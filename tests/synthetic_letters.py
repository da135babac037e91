"""SYNTHETIC letter PDFs for the tests, written with fpdf2: invented letters (every one says so in its
text) of different types, dates, addressees and shapes, so that the letter parser is tested on more than
the one real letter it was built with. Nothing here is a real UN communication."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw

MARK = "SYNTHETIC TEST FIXTURE - not a real UN Special Procedures communication."
LINE = 5.5  # mm between lines of a paragraph
GAP = 3.0  # extra mm between paragraphs (line spacing must stay the most common gap, as in real letters)


@dataclass(frozen=True)
class Spec:
    """What a synthetic letter says; each list is printed in order, pages as the layout falls."""

    file: str
    header: list[str]  # mandates line, reference lines, date: the top of page 1
    salutation: str
    body: list[str]  # allegations, concerns, the lead-in ending with ":"
    questions: list[str]
    closing: list[str]  # publication, also-sent, "Please accept ..."
    signatures: list[tuple[str, str]]
    annex: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)  # first-page addressee footer lines
    scanned_pages: dict[int, list[str]] = field(default_factory=dict)  # page -> text drawn as an image


class _LetterPDF(FPDF):
    def __init__(self, footer_lines: list[str]) -> None:
        super().__init__(format="A4", unit="mm")
        self.footer_lines = footer_lines
        self.set_margins(25, 25, 25)
        self.set_auto_page_break(True, margin=45)

    def footer(self) -> None:
        self.set_font("helvetica", size=11)
        if self.page_no() == 1:
            for number, line in enumerate(self.footer_lines):
                self.set_xy(115, -30 + number * LINE)
                self.cell(0, LINE, line)
        else:
            self.set_y(-20)
            self.cell(0, LINE, str(self.page_no()), align="C")


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.multi_cell(0, LINE, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(GAP)


def _scan(pdf: FPDF, lines: list[str], folder: Path, number: int) -> None:
    """A page that holds only a picture of text: what a scanner produces, no text layer."""
    image = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((120, 150 + row * 40), line, fill=0)
    path = folder / f"scan-{number}.png"
    image.save(path)
    pdf.add_page()
    pdf.image(str(path), x=0, y=0, w=210, h=297)


def write_letter(spec: Spec, folder: Path) -> Path:
    """Write `spec` as a PDF in `folder` and return its path."""
    pdf = _LetterPDF(spec.footer)
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    _paragraph(pdf, MARK)
    for line in spec.header:
        _paragraph(pdf, line)
    for text in [spec.salutation, *spec.body]:
        _paragraph(pdf, text)
    for number, question in enumerate(spec.questions, start=1):
        _paragraph(pdf, f"{number}. {question}")
    for text in spec.closing:
        _paragraph(pdf, text)
    for name, mandate in spec.signatures:
        pdf.multi_cell(0, LINE, name, new_x="LMARGIN", new_y="NEXT")
        _paragraph(pdf, mandate)
    for page, lines in sorted(spec.scanned_pages.items()):
        while pdf.page_no() < page - 1:
            pdf.add_page()
        _scan(pdf, lines, folder, page)
    if spec.annex:
        pdf.add_page()
        for text in ["Annex", "Reference to international human rights law", *spec.annex]:
            _paragraph(pdf, text)
    path = folder / spec.file
    pdf.output(str(path))
    return path


def write_scan_only(folder: Path) -> Path:
    """A one-page letter that is only an image (no text layer at all)."""
    pdf = FPDF(format="A4", unit="mm")
    _scan(pdf, [MARK, "REFERENCE: AL OTH 1/2020", "Dear Sir or Madam,"], folder, 1)
    path = folder / "synthetic-scan-only.pdf"
    pdf.output(str(path))
    return path


BOILERPLATE = (
    "We are independent human rights experts appointed and mandated by the United Nations Human Rights "
    "Council to report and advise on human rights issues from a thematic or country-specific perspective. "
    "This synthetic letter exists only to test software: it describes no real events, and every person, "
    "company and place in it is invented. Its layout follows the communications of the Special Procedures "
    "(mandates at the top, a reference, a date, a salutation, the facts received, the questions, the "
    "publication notice and the signatures, then an annex) so that a parser can be tested on letters it "
    "has never seen. Long paragraphs such as this one also give the page the ordinary rhythm of a letter, "
    "in which most lines follow each other at the same distance and paragraphs are set a little apart."
)

URGENT_APPEAL = Spec(
    file="synthetic-UA-OTH-12-2024.pdf",
    header=[
        "Mandates of the Special Rapporteur on the rights of Indigenous Peoples and the Working Group on the "
        "issue of human rights and transnational corporations and other business enterprises",
        "REFERENCE: UA OTH 12/2024",
        "3 July 2024",
    ],
    salutation="Dear Ms. Jane Placeholder,",
    body=[
        "We have the honour to address you in our capacities as Special Rapporteur on the rights of "
        "Indigenous Peoples and Working Group on the issue of human rights and transnational corporations "
        "and other business enterprises, pursuant to Human Rights Council resolutions 51/16 and 44/15.",
        BOILERPLATE,
        "According to the information received:",
        "The open-pit mine operated by your company near the imaginary river Lorem allegedly released "
        "tailings into the only source of drinking water of two Indigenous villages in May 2024.",
        "Community leaders who protested were reportedly threatened by private security guards employed by "
        "the mine, and no grievance mechanism was made available to them.",
        "While we do not wish to prejudge the accuracy of these allegations, we express our grave concern "
        "at the reported contamination and threats.",
        "We would be grateful for your observations on the following matters:",
    ],
    questions=[
        "Please provide any additional information and/or comment(s) you may have on the above-mentioned "
        "allegations.",
        "Please explain what steps your company has taken to provide for or cooperate in the remediation "
        "of the contamination, in line with Guiding Principle 22.",
        "Please describe the operational-level grievance mechanism available to the affected communities "
        "and how it meets the effectiveness criteria.",
    ],
    closing=[
        "This communication and any response received from your company will be made public via the "
        "communications reporting website in 60 days.",
        "Please note that a letter expressing similar concerns was also sent to the Government of "
        "Examplestan.",
        "Please accept, Ms. Jane Placeholder, the assurances of our highest consideration.",
    ],
    signatures=[
        ("Alex Imaginary", "Special Rapporteur on the rights of Indigenous Peoples"),
        (
            "Sam Fictional",
            "Chair-Rapporteur of the Working Group on the issue of human rights and transnational "
            "corporations and other business enterprises",
        ),
    ],
    annex=[
        MARK,
        '"Business enterprises should respect human rights. This means that they should avoid infringing '
        "on the human rights of others and should address adverse human rights impacts with which they "
        'are involved." (Guiding Principle 11).',
        "Guiding Principle 22 states that where business enterprises identify that they have caused or "
        "contributed to adverse impacts, they should provide for or cooperate in their remediation through "
        "legitimate processes.",
        "Guiding Principle 29 provides that business enterprises should establish or participate in "
        "effective operational-level grievance mechanisms for individuals and communities who may be "
        "adversely impacted.",
    ],
    footer=["Synthetic Minerals Corp"],
)

JOINT_LETTER = Spec(
    file="synthetic-JAL-OTH-45-2022.pdf",
    header=[
        "Mandates of the Special Rapporteur on the human rights of migrants; the Special Rapporteur on "
        "contemporary forms of slavery, including its causes and consequences; and the Working Group on the "
        "issue of human rights and transnational corporations and other business enterprises",
        "REFERENCE:",
        "JAL OTH 45/2022",
        "21 November 2022",
    ],
    salutation="Dear Mr. Tomas Fictitious,",
    body=[
        "We have the honour to address you in our capacities as mandate holders, pursuant to Human Rights "
        "Council resolutions 52/20, 51/15 and 44/15, concerning your company, Example Shipping Lines S.A., "
        "and its chartered vessels.",
        BOILERPLATE,
        "In this connection, we have received information that seafarers on vessels chartered by your "
        "company were allegedly kept on board for up to fourteen months without pay.",
        "Crew members reportedly had their identity documents withheld by the manning agency.",
        "Without prejudging the accuracy of these allegations, we are concerned about the conditions "
        "described.",
        "We would be grateful for your observations on the following matters:",
    ],
    questions=[
        f"Please provide information on measure number {n} taken by your company to protect the seafarers "
        "on board the vessels it charters, including the dates, the people responsible and the results."
        for n in range(1, 12)
    ],
    closing=[
        "We would appreciate receiving a response within sixty days. Passed this delay, this communication "
        "and any response received from your company will be made public via the communications reporting "
        "website.",
        "Please note that letters expressing similar concerns were also sent to the Governments of Bosnia "
        "and Herzegovina, Trinidad and Tobago and Norway, as well as to the companies Synthetic Logistics "
        "GmbH and Placeholder Ports Ltd.",
        "Please accept, Mr. Tomas Fictitious, the assurances of our highest consideration.",
    ],
    signatures=[
        ("Robin Madeup", "Special Rapporteur on the human rights of migrants"),
        (
            "Kim Notreal",
            "Special Rapporteur on contemporary forms of slavery, including its causes and consequences",
        ),
        (
            "Lee Invented",
            "Member of the Working Group on the issue of human rights and transnational corporations and "
            "other business enterprises",
        ),
    ],
    annex=[
        MARK,
        '"In order to identify, prevent, mitigate and account for how they address their adverse human '
        'rights impacts, business enterprises should carry out human rights due diligence." (Guiding '
        "Principle 17).",
        "We also recall Guiding Principle 18 on the assessment of actual and potential adverse human rights "
        "impacts.",
        'Where it is necessary to prioritize, enterprises "should first seek to prevent and mitigate those '
        'that are most severe" (Commentary to Guiding Principle 24).',
    ],
)

OTHER_LETTER = Spec(
    file="synthetic-OL-XYZ-7-2020.pdf",
    header=[
        "Mandate of the Special Rapporteur on the right to development",
        "REFERENCE: OL XYZ 7/2020",
    ],
    salutation="Excellency,",
    body=[
        "I have the honour to address you in my capacity as Special Rapporteur on the right to development.",
        BOILERPLATE,
        "I would like to bring to the attention of your Government my comments on the draft law on "
        "investment, which I have reviewed. The draft law would allow investors to acquire land without the "
        "consent of the people who live on it and would exempt investment projects from environmental and "
        "social impact assessments. It would also limit the information that the public can obtain about "
        "such projects, and it gives no role to the communities concerned in the decisions that affect "
        "them. I am concerned that, if adopted as drafted, the law would not be compatible with the "
        "obligations of your Government under international human rights law.",
        "I would be grateful for your observations on the following matters:",
    ],
    questions=[
        "Please explain how the draft law was consulted with the public, which groups took part in the "
        "consultations and how their views were taken into account in the text now before parliament.",
        "Please indicate when the draft law is expected to be adopted, and whether your Government intends "
        "to amend the provisions on land acquisition and impact assessments described above.",
    ],
    closing=["Please accept, Excellency, the assurances of my highest consideration."],
    signatures=[("Pat Hypothetical", "Special Rapporteur on the right to development")],
    footer=["Permanent Mission of Examplestan", "to the United Nations Office at Geneva"],
)

PARTLY_SCANNED = Spec(
    file="synthetic-AL-OTH-99-2019.pdf",
    header=[
        "Mandate of the Working Group on the issue of human rights and transnational corporations and other "
        "business enterprises",
        "REFERENCE: AL OTH 99/2019",
        "5 February 2019",
    ],
    salutation="Dear Dr. Ada Sample,",
    body=[
        "We have the honour to address you in our capacity as Working Group on the issue of human rights and "
        "transnational corporations and other business enterprises, pursuant to Human Rights Council "
        "resolution 35/7.",
        BOILERPLATE,
    ],
    questions=[],
    closing=[],
    signatures=[],
    scanned_pages={
        2: [
            "We would be grateful for your observations on the following matters:",
            "1. Please provide information on the audits of your suppliers.",
            "This communication will be made public in 60 days.",
        ]
    },
    annex=[
        MARK,
        '"The responsibility to respect human rights requires that business enterprises avoid causing or '
        'contributing to adverse human rights impacts." (Guiding Principle 13).',
    ],
    footer=["Imaginary Apparel Group"],
)

SYNTHETIC_LETTERS = [URGENT_APPEAL, JOINT_LETTER, OTHER_LETTER, PARTLY_SCANNED]

REPORT = (
    "# Synthetic report on business and human rights\n\n"
    f"{MARK}\n\n"
    "This report is not a letter. It mentions the communication AL OTH 170/2021 and Guiding Principle 22 "
    "only in passing, to show that a document that cites a letter is not taken for one.\n"
)


def write_report(folder: Path) -> Path:
    """A plain (non-letter) document that mentions a letter reference in its first paragraph."""
    path = folder / "synthetic-report.md"
    path.write_text(REPORT, encoding="utf-8")
    return path
