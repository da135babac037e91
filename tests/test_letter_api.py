"""Letters over HTTP (uvicorn on 127.0.0.1) and the command line, on a corpus of several letters (the sample
and SYNTHETIC ones): filters narrow search and ask correctly, /letters lists and serves every parsed
field, and the outline cites annex passages with their page and exact words."""

from __future__ import annotations

import json
import shutil
from datetime import date
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_NAME, collapse, make_assistant, reference_text
from synthetic_letters import JOINT_LETTER, PARTLY_SCANNED, URGENT_APPEAL

from assistant.cli import cli
from assistant.retrieve import Filters

SAMPLE_REFERENCE = "AL OTH 170/2021"
DATES = {
    SAMPLE_NAME: "2021-03-12",
    URGENT_APPEAL.file: "2024-07-03",
    JOINT_LETTER.file: "2022-11-21",
    PARTLY_SCANNED.file: "2019-02-05",
}


@pytest.fixture(scope="module")
def http(letters_server):
    with httpx.Client(base_url=letters_server.url, timeout=60) as client:
        yield client


def search(http, query, **filters):
    response = http.post("/search", json={"query": query, "k": 20, **filters})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_ingest_indexed_letters_and_the_report_and_skipped_the_scan(letters_assistant):
    names = {d.name for d in letters_assistant.documents()}
    assert {SAMPLE_NAME, URGENT_APPEAL.file, JOINT_LETTER.file, "synthetic-report.md"} <= names
    assert "synthetic-scan-only.pdf" not in names
    assert set(letters_assistant.index.letters()) == names - {"synthetic-report.md"}


def test_unfiltered_search_reaches_several_letters(http):
    documents = {r["document"] for r in search(http, "company human rights due diligence remediation")}
    assert len(documents) >= 3


@pytest.mark.parametrize(
    ("filters", "documents"),
    [
        ({"addressee": "zte"}, {SAMPLE_NAME}),
        ({"addressee": "li ZIXUE"}, {SAMPLE_NAME}),
        ({"addressee": "Synthetic Minerals"}, {URGENT_APPEAL.file}),
        ({"addressee": "example shipping"}, {JOINT_LETTER.file}),
        ({"reference": "jal-oth-45-2022"}, {JOINT_LETTER.file}),
        ({"reference": "UA OTH 12/2024"}, {URGENT_APPEAL.file}),
        ({"date_from": "2022-01-01"}, {URGENT_APPEAL.file, JOINT_LETTER.file}),
        ({"date_to": "2020-12-31"}, {PARTLY_SCANNED.file}),
        ({"date_from": "2021-01-01", "date_to": "2021-12-31"}, {SAMPLE_NAME}),
    ],
)
def test_letter_filters_narrow_search_to_the_right_letters(http, filters, documents):
    results = search(http, "company human rights remediation grievance", **filters)
    assert results and {r["document"] for r in results} <= documents, results
    for result in results:
        if "date_from" in filters:
            assert DATES[result["document"]] >= filters["date_from"]
        if "date_to" in filters:
            assert DATES[result["document"]] <= filters["date_to"]


def test_principle_and_section_filters_combine_with_letter_filters(http):
    results = search(http, "remediation", principle=22, section="annex")
    assert {r["document"] for r in results} == {SAMPLE_NAME, URGENT_APPEAL.file}
    assert all(22 in r["principles"] and r["section"] == "annex" for r in results)
    questions = search(http, "remediation", section="questions", addressee="synthetic minerals corp")
    assert questions and all(r["section"] == "questions" for r in questions)
    assert {r["document"] for r in questions} == {URGENT_APPEAL.file}


def test_ask_answers_from_the_letter_the_filter_names(http):
    body = http.post(
        "/ask",
        json={"question": "What is the company asked about remediation?", "reference": "UA-OTH-12-2024"},
    ).json()
    assert body["citations"] and {c["document"] for c in body["citations"]} == {URGENT_APPEAL.file}
    assert {c["reference"] for c in body["citations"]} == {"UA OTH 12/2024"}


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        (
            {"reference": "AL OTH 1/1999"},
            404,
            "no indexed letter has the reference 'AL OTH 1/1999'; `ungp letters` lists them",
        ),
        (
            {"reference": "ZTE"},
            422,
            "'ZTE' is not a letter reference; write it like 'AL OTH 170/2021' or 'AL-OTH-170-2021'",
        ),
        (
            {"date_from": "2022-01-01", "date_to": "2021-01-01"},
            422,
            "date_from 2022-01-01 is after date_to 2021-01-01",
        ),
        (
            {"addressee": " ,. "},
            422,
            "the addressee filter has no letters or digits; give a company or person name",
        ),
    ],
)
def test_bad_filters_get_a_precise_error(http, payload, status, detail):
    response = http.post("/search", json={"query": "remediation", **payload})
    assert response.status_code == status and response.json() == {"detail": detail}


def test_bad_filter_values_are_validation_errors(http):
    assert http.post("/search", json={"query": "x", "section": "preamble"}).status_code == 422
    assert http.post("/ask", json={"question": "x", "date_from": "12 March 2021"}).status_code == 422


@pytest.mark.parametrize(
    "filters",
    [
        Filters(addressee="ZTE corporation"),
        Filters(addressee="Placeholder"),
        Filters(date_from=date(2022, 1, 1)),
        Filters(date_to=date(2021, 3, 12)),
        Filters(date_from=date(2019, 1, 1), date_to=date(2021, 12, 31), section="annex"),
        Filters(reference="JAL OTH 45/2022", section="questions"),
        Filters(principle=13, addressee="imaginary apparel"),
    ],
)
def test_chroma_where_and_lexical_accepts_select_the_same_chunks(letters_assistant, filters):
    index = letters_assistant.index
    by_chroma = set(index._collection.get(where=filters.where(), include=[])["ids"])
    by_lexical = {c.id for c in index.snapshot.chunks if filters.accepts(c)}
    assert by_chroma and by_chroma == by_lexical


# -- /letters ------------------------------------------------------------------------------------------
def test_letters_lists_every_letter_newest_first(http):
    letters = http.get("/letters").json()["letters"]
    assert [x["reference"] for x in letters] == [
        "UA OTH 12/2024",
        "JAL OTH 45/2022",
        SAMPLE_REFERENCE,
        "AL OTH 99/2019",
        "OL XYZ 7/2020",  # undated: last
    ]
    sample = letters[2]
    assert sample == {
        "reference": SAMPLE_REFERENCE,
        "slug": "AL-OTH-170-2021",
        "document": SAMPLE_NAME,
        "letter_type": "AL",
        "date": "2021-03-12",
        "person": "Mr. Li Zixue",
        "company": "ZTE Corporation",
        "addressee": "ZTE Corporation",
        "question_count": 8,
        "publication_date": "2021-05-11",
        "principles": [13, 15, 19, 20, 22, 25, 26, 27, 28, 29, 30, 31],
    }


def test_letters_list_takes_the_same_filters(http):
    assert [x["reference"] for x in http.get("/letters", params={"addressee": "zte"}).json()["letters"]] == [
        SAMPLE_REFERENCE
    ]
    found = http.get("/letters", params={"date_from": "2022-01-01", "principle": 22}).json()["letters"]
    assert [x["reference"] for x in found] == ["UA OTH 12/2024"]


@pytest.mark.parametrize(
    "reference", [quote(SAMPLE_REFERENCE, safe=""), "AL-OTH-170-2021", "al-oth-170-2021"]
)
def test_one_letter_by_encoded_reference_or_slug(http, reference):
    response = http.get(f"/letters/{reference}")
    assert response.status_code == 200, response.text
    letter = response.json()
    assert letter["reference"] == SAMPLE_REFERENCE and letter["date"] == "2021-03-12"
    assert len(letter["mandates"]) == 7 and len(letter["questions"]) == 8 and letter["question_count"] == 8
    assert letter["publication_days"] == 60 and len(letter["governments_also"]) == 14
    assert letter["questions"][6]["text"].startswith("Please advise how your company provides for")
    assert {m["page"] for m in letter["principle_mentions"]} == {6, 7}


def test_a_letter_with_missing_fields_serves_them_as_null(http):
    letter = http.get("/letters/OL-XYZ-7-2020").json()
    assert letter["date"] is None and letter["person"] is None and letter["company"] is None
    assert letter["publication_date"] is None and letter["publication_notice"] is None
    assert letter["annex_page"] is None and letter["principle_mentions"] == []


def test_unknown_letters_are_404(http):
    response = http.get("/letters/AL-OTH-1-1999")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "no indexed letter has the reference 'AL OTH 1/1999'; `ungp letters` lists them"
    }
    assert http.get("/letters/synthetic-report.md").status_code == 404


# -- outlines ------------------------------------------------------------------------------------------
def test_outline_of_the_sample_letter(http):
    response = http.get(f"/letters/{quote(SAMPLE_REFERENCE, safe='')}/outline")
    assert response.status_code == 200, response.text
    outline = response.json()
    assert [q["number"] for q in outline["questions"]] == list(range(1, 9))
    letter_text = reference_text(with_footer=False)
    annex = letter_text[letter_text.index("Reference to international human rights law") :]
    supported = [q for q in outline["questions"] if q["support"]]
    assert len(supported) >= 6
    for question in outline["questions"]:
        assert set(question["principles"]) <= {13, 15, 19, 20, 22, *range(25, 32)}
        for support in question["support"]:
            assert collapse(support["quote"]) in annex and support["page"] in (6, 7)
            assert set(support["principles"]) <= set(question["principles"])
    remediation = outline["questions"][6]
    assert 22 in remediation["principles"]  # "provides for, or cooperates in the remediation" -> GP 22
    assert [d["date"] for d in outline["deadlines"]] == ["2021-05-11", None]
    assert outline["deadlines"][0]["page"] == 4 and outline["deadlines"][0]["days"] == 60
    assert outline["allegations"][0]["page"] == 1
    assert outline["markdown"].startswith("# Response outline: AL OTH 170/2021\n")


def test_outline_as_markdown(http):
    response = http.get("/letters/AL-OTH-170-2021/outline", params={"format": "md"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert (
        "**11 May 2021**: The letter and any response are made public (60 days after 12 March 2021)" in text
    )
    assert text.count("### Question ") == 8 and "## Facts alleged" in text
    assert "> Please advise how your company provides for" in text
    assert "### Question 2 (pp. 3-4)" in text
    # each annex passage is quoted in full once, later questions refer back to it
    assert text.count("> “The responsibility to respect human rights requires") == 1
    assert "(quoted under question 2)" in text


def test_outline_of_a_letter_without_annex_says_so(http):
    outline = http.get("/letters/OL-XYZ-7-2020/outline").json()
    assert all(q["support"] == [] and q["principles"] == [] for q in outline["questions"])
    assert any("no annex" in note for note in outline["notes"])
    assert outline["deadlines"] == []


def test_outline_names_the_unreadable_page(http):
    outline = http.get("/letters/AL-OTH-99-2019/outline").json()
    assert outline["questions"] == []
    assert any(
        note.startswith("Page(s) 2 of synthetic-AL-OTH-99-2019.pdf have no text layer")
        for note in outline["notes"]
    )


def test_openapi_lists_the_letter_routes(http):
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/letters", "/letters/{reference}", "/letters/{reference}/outline"} <= set(paths)


# -- the command line ----------------------------------------------------------------------------------
def run(assistant, *args):
    return CliRunner().invoke(cli, list(args), obj=assistant, catch_exceptions=False)


def test_cli_outline_prints_markdown(letters_assistant):
    result = run(letters_assistant, "outline", SAMPLE_REFERENCE)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Response outline: AL OTH 170/2021\n")
    assert result.output.count("### Question ") == 8


def test_cli_outline_json_is_the_api_shape(letters_assistant, http):
    result = run(letters_assistant, "outline", "al-oth-170-2021", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == http.get("/letters/AL-OTH-170-2021/outline").json()


def test_cli_outline_of_a_file_not_in_the_index(letters_assistant, synthetic_dir, tmp_path):
    copy = tmp_path / "new-letter.pdf"  # same letter, different bytes would be new; a copy is found by hash
    shutil.copy(synthetic_dir / URGENT_APPEAL.file, copy)
    result = run(letters_assistant, "outline", str(copy))
    assert result.exit_code == 0 and result.output.startswith("# Response outline: UA OTH 12/2024\n")


def test_cli_outline_reads_a_letter_file_on_the_side(tmp_path, embedder, synthetic_dir):
    assistant = make_assistant(tmp_path, embedder, [])
    assistant.ingest()
    result = run(assistant, "outline", str(synthetic_dir / URGENT_APPEAL.file), "--format", "json")
    assert result.exit_code == 0, result.output
    outline = json.loads(result.output)
    assert outline["letter"]["reference"] == "UA OTH 12/2024"
    assert 22 in outline["questions"][1]["principles"]  # the question names GP 22 itself
    assert any(22 in s["principles"] for s in outline["questions"][1]["support"])
    assert assistant.documents() == ()  # the corpus index is left as it was


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "AL OTH 1/1999",
            "Error: no indexed letter has the reference 'AL OTH 1/1999'; `ungp letters` lists them",
        ),
        ("missing.pdf", "Error: missing.pdf is not a file (give a letter file or a reference)"),
    ],
)
def test_cli_outline_errors_are_one_sentence(letters_assistant, target, message):
    result = CliRunner().invoke(cli, ["outline", target], obj=letters_assistant)
    assert result.exit_code == 1 and collapse(result.output) == message


def test_cli_outline_of_a_scan_or_a_non_letter_fails_readably(letters_assistant, synthetic_dir):
    scan = CliRunner().invoke(
        cli, ["outline", str(synthetic_dir / "synthetic-scan-only.pdf")], obj=letters_assistant
    )
    assert scan.exit_code == 1
    assert "none of its 1 pages has a text layer (a scan?); run OCR first" in collapse(scan.output)
    report = CliRunner().invoke(
        cli, ["outline", str(synthetic_dir / "synthetic-report.md")], obj=letters_assistant
    )
    assert report.exit_code == 1 and "synthetic-report.md is not a Special Procedures letter" in collapse(
        report.output
    )


def test_cli_letters_and_filtered_search(letters_assistant):
    listed = run(letters_assistant, "letters", "--json", "--date-from", "2022-01-01")
    assert [x["reference"] for x in json.loads(listed.output)] == ["UA OTH 12/2024", "JAL OTH 45/2022"]
    table = run(letters_assistant, "letters")
    assert "AL OTH 170/2021" in table.output and "2021-05-11" in table.output
    found = run(letters_assistant, "search", "remediation", "--json", "--addressee", "ZTE", "-k", "10")
    assert {p["document"] for p in json.loads(found.output)} == {SAMPLE_NAME}
    asked = run(
        letters_assistant,
        "ask",
        "What is the company asked about remediation?",
        "--json",
        "--reference",
        "UA-OTH-12-2024",
    )
    assert {c["document"] for c in json.loads(asked.output)["citations"]} == {URGENT_APPEAL.file}


def test_cli_help_has_examples():
    for command in ("outline", "letters"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output
