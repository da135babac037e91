"""The letter parser on the sample letter and on SYNTHETIC letters of other types and shapes: every field
read where the letter states it, None (or empty) where it does not, never a guess."""

from __future__ import annotations

import pytest
from conftest import SAMPLE_NAME, SAMPLE_PDF, collapse, reference_text
from synthetic_letters import JOINT_LETTER, OTHER_LETTER, PARTLY_SCANNED, URGENT_APPEAL

from assistant.errors import DocumentRejected
from assistant.ingest.letters import normalise_reference
from assistant.ingest.pipeline import parse_document
from assistant.records import Letter


def parse(path):
    return parse_document(path, path.name, "0" * 64)


@pytest.fixture(scope="module")
def sample():
    return parse(SAMPLE_PDF)


@pytest.fixture(scope="module")
def letter(sample) -> Letter:
    assert sample.letter is not None
    return sample.letter


def test_sample_letter_reference_date_and_addressee(letter):
    assert (letter.reference, letter.letter_type, letter.country, letter.number, letter.year) == (
        "AL OTH 170/2021",
        "AL",
        "OTH",
        170,
        2021,
    )
    assert letter.slug == "AL-OTH-170-2021" and letter.document == SAMPLE_NAME
    assert letter.date == "2021-03-12"
    assert (letter.person, letter.company) == ("Mr. Li Zixue", "ZTE Corporation")


def test_sample_letter_mandates_resolutions_and_signatories(letter):
    assert len(letter.mandates) == 7
    assert letter.mandates[0].startswith("Working Group on the issue of human rights and transnational")
    assert (
        letter.mandates[-1] == "Special Rapporteur on trafficking in persons, especially women and children"
    )
    assert letter.resolutions[:7] == ("44/15", "37/12", "43/8", "40/10", "42/10", "43/20", "44/4")
    assert "17/31" in letter.resolutions  # A/HRC/RES/17/31, cited in the annex
    assert [s.name for s in letter.signatories] == [
        "Dante Pesce",
        "Karima Bennoune",
        "Fernand de Varennes",
        "Ahmed Shaheed",
        "Tomoya Obokata",
        "Nils Melzer",
        "Siobhán Mullally",
    ]
    # A mandate cut by the page break (4 -> 5) and one wrapped on two lines come back whole.
    assert letter.signatories[0].mandate == (
        "Chair-Rapporteur of the Working Group on the issue of human rights and transnational corporations "
        "and other business enterprises"
    )
    assert letter.signatories[4].mandate == (
        "Special Rapporteur on contemporary forms of slavery, including its causes and consequences"
    )


def test_sample_letter_questions_are_whole_and_verbatim(letter):
    assert [q.number for q in letter.questions] == list(range(1, 9))
    second = letter.questions[1]
    assert second.pages == (3, 4) and second.text.startswith("Please provide information as to whether")
    assert second.text.endswith("other contemporary forms of slavery.")
    text = reference_text(with_footer=False)
    assert all(collapse(q.text) in text for q in letter.questions)


def test_sample_letter_publication_and_recipients(letter):
    assert letter.publication_days == 60 and letter.publication_date == "2021-05-11"
    assert letter.publication_notice is not None and letter.publication_notice.page == 4
    assert letter.publication_notice.text.endswith(
        "will be made public via the communications reporting website in 60 days."
    )
    assert letter.press_release_notice is not None and "press release" in letter.press_release_notice.text
    assert len(letter.governments_also) == 14
    assert letter.governments_also[:2] == ("China", "United Kingdom of Great Britain and Northern Ireland")
    assert letter.governments_also[-1] == "Canada"
    assert letter.companies_also == () and letter.other_companies_also is True


def test_sample_letter_principles_with_the_page_of_each_quote(letter):
    assert letter.principles == (13, 15, 19, 20, 22, 25, 26, 27, 28, 29, 30, 31)
    pages = {m.numbers: m.page for m in letter.principle_mentions if not m.commentary}
    assert pages == {(13,): 6, (19,): 6, (15,): 6, (22,): 6, (20,): 7, tuple(range(25, 32)): 7}
    text = reference_text(with_footer=False)
    for mention in letter.principle_mentions:
        assert collapse(mention.quote) in text, mention
    commentary = [m for m in letter.principle_mentions if m.commentary]
    assert [(m.numbers, m.page, m.quoted) for m in commentary] == [((19,), 7, True)]
    gp13 = next(m for m in letter.principle_mentions if m.numbers == (13,))
    assert (
        gp13.quoted and gp13.quote.startswith("“The responsibility to respect") and "(b) Seek" in gp13.quote
    )
    cited = next(m for m in letter.principle_mentions if m.numbers[0] == 25)
    assert not cited.quoted


def test_sample_letter_facts_alleged(letter):
    facts = letter.allegations
    assert facts[0].page == 1 and "may be involved through its supply chain" in facts[0].text
    assert facts[0].text.endswith("across their supply chains.")  # joined across the footer and page break
    assert any("80,000 Uyghur" in f.text for f in facts)
    assert facts[-1].text.startswith("We have been informed of recent online advertisements")
    assert not any(f.text.startswith("While we do not wish to prejudge") for f in facts)
    assert not any(f.text.startswith("According to the information received:") for f in facts)


def test_chunks_carry_the_letter_metadata_the_filters_need(sample):
    chunk = sample.chunks[0]
    assert (chunk.reference, chunk.date, chunk.addressee, chunk.person) == (
        "AL OTH 170/2021",
        "2021-03-12",
        "ZTE Corporation",
        "Mr. Li Zixue",
    )
    meta = chunk.metadata()
    assert meta["date_number"] == 20210312
    assert meta["addressee_words"] == ["zte", "corporation", "mr", "li", "zixue"]


def test_letter_survives_the_json_round_trip(letter):
    assert Letter.from_dict(letter.to_dict()) == letter


# -- synthetic letters ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic(synthetic_dir):
    return {
        spec.file: parse(synthetic_dir / spec.file).letter
        for spec in (URGENT_APPEAL, JOINT_LETTER, OTHER_LETTER, PARTLY_SCANNED)
    }


EXPECTED = {
    URGENT_APPEAL.file: {
        "reference": "UA OTH 12/2024",
        "letter_type": "UA",
        "date": "2024-07-03",
        "person": "Ms. Jane Placeholder",
        "company": "Synthetic Minerals Corp",
        "mandates": 2,
        "resolutions": ("51/16", "44/15"),
        "questions": 3,
        "response_days": None,
        "publication_days": 60,
        "publication_date": "2024-09-01",
        "governments_also": ("Examplestan",),
        "companies_also": (),
        "principles": (11, 22, 29),
        "annex": True,
        "signatories": ("Alex Imaginary", "Sam Fictional"),
    },
    JOINT_LETTER.file: {
        "reference": "JAL OTH 45/2022",
        "letter_type": "JAL",
        "date": "2022-11-21",
        "person": "Mr. Tomas Fictitious",
        "company": "Example Shipping Lines S.A.",  # no footer: read from the body
        "mandates": 3,
        "resolutions": ("52/20", "51/15", "44/15"),
        "questions": 11,
        "response_days": 60,  # "a response within sixty days"
        "publication_days": 60,  # "Passed this delay, ... made public"
        "publication_date": "2023-01-20",
        "governments_also": ("Bosnia and Herzegovina", "Trinidad and Tobago", "Norway"),
        "companies_also": ("Synthetic Logistics GmbH", "Placeholder Ports Ltd"),
        "principles": (17, 18, 24),
        "annex": True,
        "signatories": ("Robin Madeup", "Kim Notreal", "Lee Invented"),
    },
    OTHER_LETTER.file: {
        "reference": "OL XYZ 7/2020",
        "letter_type": "OL",
        "date": None,  # the letter prints no date
        "person": None,  # "Excellency," names nobody
        "company": None,  # a State's mission is not a company
        "mandates": 1,
        "resolutions": (),
        "questions": 2,
        "response_days": None,
        "publication_days": None,
        "publication_date": None,
        "governments_also": (),
        "companies_also": (),
        "principles": (),
        "annex": False,
        "signatories": ("Pat Hypothetical",),
    },
    PARTLY_SCANNED.file: {
        "reference": "AL OTH 99/2019",
        "letter_type": "AL",
        "date": "2019-02-05",
        "person": "Dr. Ada Sample",
        "company": "Imaginary Apparel Group",
        "mandates": 1,
        "resolutions": ("35/7",),
        "questions": 0,  # printed only on the scanned page
        "response_days": None,
        "publication_days": None,
        "publication_date": None,
        "governments_also": (),
        "companies_also": (),
        "principles": (13,),
        "annex": True,
        "signatories": (),
    },
}


@pytest.mark.parametrize("file", list(EXPECTED))
def test_synthetic_letters_are_read_field_by_field(synthetic, file):
    letter, expected = synthetic[file], EXPECTED[file]
    assert letter is not None
    got = {
        "reference": letter.reference,
        "letter_type": letter.letter_type,
        "date": letter.date,
        "person": letter.person,
        "company": letter.company,
        "mandates": len(letter.mandates),
        "resolutions": letter.resolutions,
        "questions": len(letter.questions),
        "response_days": letter.response_days,
        "publication_days": letter.publication_days,
        "publication_date": letter.publication_date,
        "governments_also": letter.governments_also,
        "companies_also": letter.companies_also,
        "principles": letter.principles,
        "annex": letter.annex_page is not None,
        "signatories": tuple(s.name for s in letter.signatories),
    }
    assert got == expected


def test_synthetic_questions_keep_their_numbers_and_named_principles(synthetic):
    appeal = synthetic[URGENT_APPEAL.file]
    assert [q.principles for q in appeal.questions] == [(), (22,), ()]
    assert appeal.questions[1].text == collapse(URGENT_APPEAL.questions[1])
    joint = synthetic[JOINT_LETTER.file]
    assert [q.number for q in joint.questions] == list(range(1, 12))
    assert joint.questions[10].text == collapse(JOINT_LETTER.questions[10])


def test_straight_quotes_and_commentary_are_recognised(synthetic):
    mentions = {m.numbers: m for m in synthetic[JOINT_LETTER.file].principle_mentions}
    assert mentions[(17,)].quoted and mentions[(17,)].quote.startswith('"In order to identify')
    assert mentions[(18,)].quoted is False
    assert mentions[(24,)].commentary and mentions[(24,)].quote.startswith('"should first seek')


def test_a_scanned_page_is_reported_and_its_fields_stay_empty(synthetic):
    letter = synthetic[PARTLY_SCANNED.file]
    assert letter.pages == 3 and letter.pages_without_text == (2,)
    assert letter.questions == () and letter.publication_notice is None


def test_a_letter_with_no_text_layer_at_all_is_rejected_with_the_reason(synthetic_dir):
    with pytest.raises(DocumentRejected) as caught:
        parse(synthetic_dir / "synthetic-scan-only.pdf")
    assert str(caught.value) == (
        "synthetic-scan-only.pdf: none of its 1 pages has a text layer (a scan?); run OCR first"
    )


def test_a_document_that_only_mentions_a_reference_is_not_a_letter(synthetic_dir):
    parsed = parse(synthetic_dir / "synthetic-report.md")
    assert parsed.letter is None and parsed.info.reference is None
    assert all(c.reference is None and c.addressee is None for c in parsed.chunks)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("AL OTH 170/2021", "AL OTH 170/2021"),
        ("al oth 170/2021", "AL OTH 170/2021"),
        ("AL-OTH-170-2021", "AL OTH 170/2021"),
        ("jal_oth_45_2022", "JAL OTH 45/2022"),
        (" UA CHN 0012/2024 ", "UA CHN 12/2024"),
        ("AL OTH 170", None),
        ("ZTE", None),
        ("", None),
    ],
)
def test_references_are_normalised(typed, canonical):
    assert normalise_reference(typed) == canonical


def test_an_index_built_before_letters_is_upgraded_on_the_next_ingest(tmp_path, embedder):
    import sqlite3

    from conftest import make_assistant

    built = make_assistant(tmp_path, embedder)
    built.ingest()
    database = built.settings.index_dir / "chunks.sqlite3"
    with sqlite3.connect(database) as db:  # the schema before this feature: no letter column
        db.execute("ALTER TABLE documents DROP COLUMN letter")
    reopened = make_assistant(tmp_path, embedder)
    assert reopened.index.letters() == {} and reopened.is_stale()
    report = reopened.ingest()
    assert report.updated == (SAMPLE_NAME,)
    assert reopened.letter("AL-OTH-170-2021").date == "2021-03-12"


def test_a_response_period_and_publication_after_that_delay(synthetic, letter):
    joint = synthetic[JOINT_LETTER.file]
    assert (joint.response_days, joint.response_date) == (60, "2023-01-20")
    assert joint.response_notice is not None
    assert joint.response_notice.text == "We would appreciate receiving a response within sixty days."
    assert joint.publication_notice is not None and joint.publication_notice.text.startswith(
        "Passed this delay"
    )
    assert joint.publication_date == "2023-01-20"
    assert (letter.response_days, letter.response_notice) == (None, None)  # the sample asks for none
