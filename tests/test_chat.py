"""Conversations: follow-ups resolved against earlier turns (over real HTTP on 127.0.0.1), the SSE stream
read with a real SSE client, conversations kept across a restart, and the bound on their size."""

from __future__ import annotations

import shutil

import httpx
import pytest
from conftest import SAMPLE_NAME, LiveServer, collapse, reference_text
from httpx_sse import connect_sse

from assistant.api import chat_events, create_app
from assistant.chat import ConversationStore, resolve, searchable
from assistant.config import Settings
from assistant.errors import BadQuestion, ConversationNotFound
from assistant.records import Answer, ChatReply, Citation, Resolution, Turn
from assistant.service import Assistant, pieces

CONVERSATION_GONE = (
    "no conversation with id '{}' (it may have been removed to keep the store small); "
    "leave conversation_id out to start a new one"
)


@pytest.fixture(scope="module")
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def converse(http: httpx.Client, *messages: str) -> list[dict]:
    """Send `messages` as one conversation; the replies, each checked for the /chat shape."""
    replies: list[dict] = []
    conversation_id = None
    for message in messages:
        response = http.post("/chat", json={"message": message, "conversation_id": conversation_id})
        assert response.status_code == 200, response.text
        reply = response.json()
        assert conversation_id in (None, reply["conversation_id"])
        conversation_id = reply["conversation_id"]
        replies.append(reply)
    return replies


def cited_principles(reply: dict) -> set[int]:
    return {n for c in reply["citations"] for n in c["principles"]}


def assert_verbatim(reply: dict) -> None:
    letter = reference_text(with_footer=False)
    for citation in reply["citations"]:
        assert f"[{citation['id']}]" in reply["answer"]
        assert citation["document"] == SAMPLE_NAME
        assert collapse(citation["quote"]) in letter, citation["quote"]


# -- resolution rules (no index needed) ----------------------------------------------------------------
GP22 = Turn(
    message="What does GP 22 require?",
    resolved="What does GP 22 require?",
    answer=Answer(answer="...", grounded=True),
    topic=("remediation", "legitimate"),
    principles=(22,),
)
NO_PRINCIPLE = Turn(
    message="When will the letter be made public?",
    resolved="When will the letter be made public?",
    answer=Answer(answer="...", grounded=True),
    topic=("public", "website"),
)


@pytest.mark.parametrize(
    ("previous", "message", "expected"),
    [
        (None, "what about GP 20?", Resolution("what about GP 20?")),
        (GP22, "what about GP 20?", Resolution("What does Guiding Principle 20 require?")),
        (GP22, "and gp13 and 19?", Resolution("What does Guiding Principles 13 and 19 require?")),
        (
            GP22,
            "tell me more",
            Resolution("tell me more (about: Guiding Principle 22, remediation, legitimate)"),
        ),
        (GP22, "and the deadline?", Resolution("and the deadline? (about: remediation, legitimate)")),
        (
            GP22,
            "does it apply to suppliers?",
            Resolution("does it apply to suppliers? (about: remediation, legitimate)"),
        ),
        (
            GP22,
            "which question asks about that?",
            Resolution(
                "which question asks about that? (about: remediation, legitimate)", section="questions"
            ),
        ),
        (
            GP22,
            "Is that principle about remediation?",
            Resolution("Is that principle about remediation? (about: legitimate)"),
        ),
        (
            GP22,
            "what does that mean?",
            Resolution("what does that mean? (about: Guiding Principle 22, remediation, legitimate)"),
        ),
        (
            GP22,
            "does that apply to suppliers?",
            Resolution("does that apply to suppliers? (about: remediation, legitimate)"),
        ),
        (NO_PRINCIPLE, "what about GP 22?", Resolution("what about GP 22? (about: public, website)")),
        (
            GP22,
            "deadline?",
            Resolution("deadline?", alternative="deadline? (about: remediation, legitimate)"),
        ),
        # questions that stand on their own are left alone, even after a topic
        (GP22, "Who signed the letter?", Resolution("Who signed the letter?")),
        (
            GP22,
            "What does GP 13 say about business relationships?",
            Resolution("What does GP 13 say about business relationships?"),
        ),
        (
            GP22,
            "Which governments received letters about these allegations?",
            Resolution("Which governments received letters about these allegations?"),
        ),
        (
            GP22,
            "What happens to workers that refuse to go?",
            Resolution("What happens to workers that refuse to go?"),
        ),
    ],
)
def test_resolution_rules(previous, message, expected):
    assert resolve(message, previous) == expected


def test_search_text_drops_words_about_how_to_answer():
    assert searchable("which question asks about that? (about: remediation)") == (
        "which question about that? (about: remediation)"
    )


def test_stream_pieces_join_back_into_the_answer():
    text = "Guiding Principle 20 states that businesses should track the effectiveness of their response. [1]"
    parts = list(pieces(text))
    assert len(parts) > 1 and "".join(parts) == text
    assert all(len(p) <= 48 for p in parts)


# -- conversations over HTTP ---------------------------------------------------------------------------
def test_first_turn_answers_like_ask(http):
    question = "What does Guiding Principle 22 require of a company that caused harm?"
    (reply,) = converse(http, question)
    asked = http.post("/ask", json={"question": question}).json()
    assert {k: reply[k] for k in asked} == asked
    assert reply["resolved_question"] == question and len(reply["conversation_id"]) == 32


def test_what_about_another_principle(http):
    first, second, third = converse(
        http,
        "What does Guiding Principle 22 require of a company that caused harm?",
        "what about GP 20?",
        "and GP 15?",
    )
    assert 22 in cited_principles(first)
    assert (
        second["resolved_question"] == "What does Guiding Principle 20 require of a company that caused harm?"
    )
    assert second["grounded"] and 20 in cited_principles(second)
    assert "track the effectiveness" in second["answer"]
    assert (
        third["resolved_question"] == "What does Guiding Principle 15 require of a company that caused harm?"
    )
    assert third["grounded"] and 15 in cited_principles(third)
    for reply in (first, second, third):
        assert_verbatim(reply)


def test_which_question_asks_about_that(http):
    first, second = converse(
        http,
        "What does Guiding Principle 22 require of a company that caused harm?",
        "which question asks about that?",
    )
    assert second["resolved_question"].startswith("which question asks about that? (about: ")
    assert second["grounded"], second["answer"]
    assert {c["section"] for c in second["citations"]} == {"questions"}
    assert "remediation" in second["citations"][0]["quote"]
    assert_verbatim(second)


def test_a_bare_fragment_stays_on_the_topic(http):
    first, second = converse(
        http, "When will the communication and any response be made public?", "deadline?"
    )
    assert "60 days" in first["answer"]
    assert second["resolved_question"].startswith("deadline? (about: ")
    assert second["grounded"] and "60 days" in second["answer"]
    assert {c["page"] for c in second["citations"]} == {4}


def test_a_pronoun_refers_to_the_previous_topic(http):
    first, second = converse(
        http,
        "What is the per-head compensation paid for transferring Uyghur workers?",
        "is it higher outside Xinjiang?",
    )
    assert "compensation" in second["resolved_question"] or "per-head" in second["resolved_question"]
    assert second["grounded"]
    assert any("higher" in c["quote"] and c["page"] == 3 for c in second["citations"])
    assert_verbatim(second)


def test_a_principle_named_with_it_replaces_the_earlier_one(http):
    first, second = converse(
        http,
        "Which three things should a business have in place according to GP 15?",
        "what does GP 13 say about it?",
    )
    assert 15 in cited_principles(first)
    assert "Guiding Principle 13" in second["resolved_question"] and "15" not in second["resolved_question"]
    assert 13 in cited_principles(second)


def test_which_principle_is_that(http):
    first, second = converse(
        http, "What can a company do if it lacks leverage over a supplier?", "which principle is that?"
    )
    assert "leverage" in second["resolved_question"]
    assert second["grounded"] and 19 in cited_principles(second)


def test_a_principle_the_corpus_lacks_is_refused_then_a_new_question_stands_alone(http):
    first, second, third = converse(
        http,
        "What does GP 13 say?",
        "and GP 17?",
        "Which governments also received letters about these allegations?",
    )
    assert 13 in cited_principles(first)
    assert second["resolved_question"] == "What does Guiding Principle 17 say?"
    assert second["grounded"] is False and second["citations"] == []
    assert second["answer"].startswith("The corpus does not quote or cite Guiding Principle 17")
    assert third["resolved_question"] == "Which governments also received letters about these allegations?"
    assert third["grounded"] and 4 in {c["page"] for c in third["citations"]}


def test_chat_routes_are_documented(http):
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/chat", "/chat/stream", "/chat/{conversation_id}"} <= set(paths)
    assert "event: citations" in paths["/chat/stream"]["post"]["description"]
    assert http.get("/").headers["content-type"] == "text/html; charset=utf-8"
    assert http.get("/static/app.js").status_code == http.get("/static/style.css").status_code == 200


def test_a_conversation_can_be_read_back_and_deleted(http):
    first, second = converse(http, "What does GP 13 say?", "and GP 19?")
    conversation_id = first["conversation_id"]
    stored = http.get(f"/chat/{conversation_id}").json()
    assert stored["conversation_id"] == conversation_id
    assert [t["message"] for t in stored["turns"]] == ["What does GP 13 say?", "and GP 19?"]
    assert stored["turns"][1]["resolved_question"] == "What does Guiding Principle 19 say?"
    assert stored["turns"][1]["answer"]["answer"] == second["answer"]
    assert stored["turns"][1]["answer"]["citations"] == second["citations"]
    assert http.delete(f"/chat/{conversation_id}").status_code == 204
    response = http.get(f"/chat/{conversation_id}")
    assert response.status_code == 404 and response.json() == {
        "detail": CONVERSATION_GONE.format(conversation_id)
    }


@pytest.mark.parametrize("path", ["/chat", "/chat/stream"])
def test_bad_chat_input_is_refused_precisely(http, path):
    unknown = "0" * 32
    response = http.post(path, json={"message": "and GP 20?", "conversation_id": unknown})
    assert response.status_code == 404 and response.json() == {"detail": CONVERSATION_GONE.format(unknown)}
    response = http.post(path, json={"message": "   "})
    assert response.status_code == 422
    assert response.json() == {
        "detail": "the question is empty; ask something about the letters or the Guiding Principles"
    }
    response = http.post(path, json={"message": "hi", "conversation_id": "../../etc/passwd"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "conversation_id"]


# -- streaming -----------------------------------------------------------------------------------------
def stream(http: httpx.Client, message: str, conversation_id: str | None = None) -> list[tuple[str, dict]]:
    body = {"message": message, "conversation_id": conversation_id}
    with connect_sse(http, "POST", "/chat/stream", json=body) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [(event.event, event.json()) for event in source.iter_sse()]


def test_stream_sends_text_pieces_then_citations_then_done(http):
    question = "Which principles deal with access to remedy for victims?"
    events = stream(http, question)
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"text"} and len(names) > 3
    text = "".join(data["text"] for name, data in events if name == "text")
    citations = events[-2][1]["citations"]
    done = events[-1][1]
    assert text == done["answer"]
    asked = http.post("/ask", json={"question": question}).json()
    assert text == asked["answer"] and citations == asked["citations"]
    assert done["grounded"] is True and done["mode"] == "extractive" and done["resolved_question"] == question
    assert any(25 in c["principles"] for c in citations)

    follow_up = stream(http, "and GP 22?", done["conversation_id"])
    follow_done = follow_up[-1][1]
    assert follow_done["conversation_id"] == done["conversation_id"]
    assert follow_done["resolved_question"].startswith("and GP 22? (about: ")
    assert "remedy" in follow_done["resolved_question"]
    assert any(22 in c["principles"] for c in follow_up[-2][1]["citations"])


def test_stream_failure_ends_with_an_error_event():
    def failing():
        yield "Guiding Principle 22 "
        raise BadQuestion("the question is 3000 characters long; the limit is 2000")

    frames = list(chat_events(failing()))
    assert frames == [
        'event: text\ndata: {"text": "Guiding Principle 22 "}\n\n',
        'event: error\ndata: {"detail": "the question is 3000 characters long; the limit is 2000"}\n\n',
    ]


def test_stream_frames_escape_newlines_in_json():
    reply = ChatReply("a" * 32, "q", "q", Answer(answer="line one\nline two [1]", grounded=True))
    frames = list(chat_events(iter(["line one\nline two [1]", reply])))
    assert frames[0] == 'event: text\ndata: {"text": "line one\\nline two [1]"}\n\n'
    assert [f.split("\n")[0] for f in frames] == ["event: text", "event: citations", "event: done"]


# -- persistence and bounds ----------------------------------------------------------------------------
def test_conversations_survive_a_restart(tmp_path, assistant, embedder):
    """A new app over a copy of the index dir continues a conversation that the first app started."""
    index_dir = tmp_path / "indexes"
    shutil.copytree(
        assistant.settings.index_dir, index_dir, ignore=shutil.ignore_patterns("conversations.sqlite3*")
    )
    settings = Settings(corpus_dir=assistant.settings.corpus_dir, index_dir=index_dir)
    with LiveServer(create_app(Assistant(settings, embedder=embedder))) as first_server:
        first = httpx.post(
            f"{first_server.url}/chat", json={"message": "What does GP 13 say?"}, timeout=60
        ).json()
    assert 13 in cited_principles(first)
    assert (index_dir / "conversations.sqlite3").is_file()

    with LiveServer(create_app(Assistant(settings, embedder=embedder))) as second_server:
        body = {"message": "and GP 19?", "conversation_id": first["conversation_id"]}
        second = httpx.post(f"{second_server.url}/chat", json=body, timeout=60).json()
        stored = httpx.get(f"{second_server.url}/chat/{first['conversation_id']}", timeout=60).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert second["resolved_question"] == "What does Guiding Principle 19 say?"
    assert 19 in cited_principles(second)
    assert [t["message"] for t in stored["turns"]] == ["What does GP 13 say?", "and GP 19?"]


def test_the_store_keeps_recent_turns_and_conversations_only(tmp_path, assistant, embedder):
    settings = Settings(
        corpus_dir=assistant.settings.corpus_dir,
        index_dir=tmp_path / "chats",
        chat_max_turns=2,
        chat_max_conversations=2,
    )
    bounded = Assistant(settings, embedder=embedder, index=assistant.index)
    with LiveServer(create_app(bounded)) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        oldest = converse(http, "What does GP 13 say?")[0]["conversation_id"]
        long = converse(http, "What does GP 13 say?", "and GP 19?", "and GP 22?")[0]["conversation_id"]
        kept = http.get(f"/chat/{long}").json()["turns"]
        assert [t["message"] for t in kept] == ["and GP 19?", "and GP 22?"]
        # a follow-up still leans on the last turn kept
        reply = http.post("/chat", json={"message": "and GP 20?", "conversation_id": long}).json()
        assert reply["resolved_question"] == "What does Guiding Principle 20 say?"
        newest = converse(http, "What does GP 15 say?")[0]["conversation_id"]
        assert bounded.conversations.count() == 2
        assert http.get(f"/chat/{oldest}").status_code == 404
        assert http.get(f"/chat/{long}").status_code == 200 and http.get(f"/chat/{newest}").status_code == 200


def test_store_evicts_the_least_recently_used_and_round_trips_answers(tmp_path):
    path = tmp_path / "conversations.sqlite3"
    store = ConversationStore(path, max_turns=3, max_conversations=2)
    citation = Citation(
        1, "a.pdf", "AL OTH 1/2021", 6, (13, 22), "“Quote” — with ümlauts", "annex", "a.pdf#3"
    )
    turn = Turn(
        "q?", "q? (about: x)", Answer("A [1]", True, (citation,), 0.75, "extractive", None), ("x",), (22,)
    )
    first, second, third = "a" * 32, "b" * 32, "c" * 32
    store.append(first, turn)
    store.append(second, turn)
    store.append(first, turn)  # the first is now the more recent one
    store.append(third, turn)
    with pytest.raises(ConversationNotFound):
        store.turns(second)
    reopened = ConversationStore(path, max_turns=3, max_conversations=2)
    assert reopened.turns(first) == (turn, turn) and reopened.turns(third) == (turn,)
    with pytest.raises(ConversationNotFound, match="is not a conversation id"):
        store.append("not-an-id", turn)


def test_chat_takes_the_search_filters(live_server):
    import httpx

    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        body = http.post("/chat", json={"message": "What about remediation?", "section": "questions"}).json()
        assert body["citations"] and all(c["section"] == "questions" for c in body["citations"])
        bad = http.post("/chat", json={"message": "remediation", "reference": "not a reference"})
        assert bad.status_code in (404, 422)
