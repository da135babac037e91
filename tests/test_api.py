"""The HTTP API over a real socket (uvicorn on 127.0.0.1) against the session index of the sample letter."""

from __future__ import annotations

import httpx
import pytest
from conftest import SAMPLE_NAME, collapse, reference_text

# (question, a page the citations must include, a principle the citations must include or None)
QUESTIONS = [
    ("What does Guiding Principle 22 require of a company that caused harm?", 6, 22),
    ("Which three things should a business have in place according to GP 15?", 6, 15),
    ("what does gp13 say about impacts linked to business relationships", 6, 13),
    ("How should a company track whether its response to human rights impacts is working?", 7, None),
    ("What can a company do if it lacks leverage over a supplier?", 7, 19),
    ("Which principles deal with access to remedy for victims?", 7, 25),
    ("When will the communication and any response be made public?", 4, None),
    ("What is the per-head compensation paid for transferring Uyghur workers?", 3, None),
    ("Which governments also received letters about these allegations?", 4, None),
    ("What does the letter ask about grievance mechanisms and remediation?", 4, None),
    ("What were the workers allegedly forced to attend in the workplace?", 2, None),
    ("How many workers were allegedly transferred out of Xinjiang between 2017 and 2019?", 2, None),
    ("Which Human Rights Council resolution endorsed the Guiding Principles?", 6, None),
    ("Who is the letter addressed to?", 1, None),
    ("What does question 5 ask about our suppliers?", 4, None),
    ("How many days after the letter will it be made public?", 4, None),
]


@pytest.fixture(scope="module")
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def test_health_once_loaded(http):
    body = http.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == 1 and body["chunks"] > 20


@pytest.mark.parametrize(("question", "page", "principle"), QUESTIONS)
def test_ask_cites_the_right_page_and_principle_with_verbatim_quotes(http, question, page, principle):
    response = http.post("/ask", json={"question": question})
    assert response.status_code == 200
    body = response.json()
    assert body["grounded"] is True, body["answer"]
    assert 0 < len(body["answer"]) <= 1200
    citations = body["citations"]
    assert citations and page in {c["page"] for c in citations}, citations
    if principle is not None:
        assert any(principle in c["principles"] for c in citations), citations
    letter = reference_text(with_footer=False)
    for citation in citations:
        assert f"[{citation['id']}]" in body["answer"]
        assert citation["document"] == SAMPLE_NAME and citation["reference"] == "AL OTH 170/2021"
        assert collapse(citation["quote"]) in letter, citation["quote"]


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "Give me a recipe for chocolate cake",
        "What does Guiding Principle 17 say?",
        # the topic is in the letter, the detail asked for is not
        "In which town is the training centre located?",
        "What is the job title of the letter's addressee?",
        "Which of our products are linked to the allegations?",
        "How many police are stationed at the factories?",  # "24 hours per day" is not a count
    ],
)
def test_unsupported_questions_are_not_grounded(http, question):
    body = http.post("/ask", json={"question": question}).json()
    assert body["grounded"] is False and body["citations"] == []
    assert body["answer"].startswith("The corpus does not")


def test_search_contract(http):
    body = http.post("/search", json={"query": "Principle 22", "k": 3}).json()
    results = body["results"]
    assert len(results) == 3
    assert 22 in results[0]["principles"] and results[0]["page"] == 6
    assert set(results[0]) >= {"document", "page", "text", "score", "principles", "reference"}
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


def test_search_filters(http):
    results = http.post("/search", json={"query": "remediation", "k": 10, "section": "questions"}).json()[
        "results"
    ]
    assert results and all(r["section"] == "questions" for r in results)


def test_documents_lists_the_sample_letter(http):
    (document,) = http.get("/documents").json()["documents"]
    assert document["name"] == SAMPLE_NAME and document["pages"] == 7 and document["chunks"] > 20
    assert document["reference"] == "AL OTH 170/2021" and document["date"] == "2021-03-12"


def test_document_file_is_served(http):
    response = http.get(f"/documents/{SAMPLE_NAME}/file")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert http.get("/documents/../pyproject.toml/file").status_code == 404


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"question": "   "},
            "the question is empty; ask something about the letters or the Guiding Principles",
        ),
        ({"question": "x" * 2001}, "the question is 2001 characters long; the limit is 2000"),
    ],
)
def test_bad_questions_get_a_precise_422(http, payload, message):
    response = http.post("/ask", json=payload)
    assert response.status_code == 422 and response.json() == {"detail": message}


def test_missing_question_is_a_validation_error(http):
    assert http.post("/ask", json={}).status_code == 422
    assert http.post("/search", json={"query": "x", "k": 0}).status_code == 422


def test_openapi_docs(http):
    assert http.get("/docs").status_code == 200
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/ask", "/search", "/health", "/documents"} <= set(paths)
