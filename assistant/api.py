"""HTTP API: `create_app(assistant)` with request/response models, thin routes and one error table."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.errors import (
    AssistantError,
    BadQuestion,
    ConversationNotFound,
    DocumentNotFound,
    DocumentRejected,
    IndexNotReady,
)
from assistant.records import Answer, ChatReply, Passage, Turn
from assistant.retrieve import Filters
from assistant.service import Assistant

log = logging.getLogger(__name__)
ERROR_STATUS: dict[type[AssistantError], int] = {
    BadQuestion: 422,
    DocumentRejected: 422,
    DocumentNotFound: 404,
    ConversationNotFound: 404,
    IndexNotReady: 503,
}
WEB_DIR = Path(__file__).resolve().parent / "web"
CONVERSATION_ID = r"^[0-9a-f]{32}$"


# -- request and response models -----------------------------------------------------------------------
class SearchRequest(BaseModel):
    query: str = Field(
        min_length=1, description="What to look for.", examples=["Guiding Principle 22 remediation"]
    )
    k: int = Field(default=5, ge=1, le=50, description="How many passages to return.")
    document: str | None = Field(default=None, description="Only this document (file name).")
    reference: str | None = Field(default=None, description="Only this letter, e.g. 'AL OTH 170/2021'.")
    section: str | None = Field(default=None, description="Only 'body', 'questions' or 'annex'.")
    principle: int | None = Field(
        default=None, ge=1, le=31, description="Only passages citing this principle."
    )


class SearchResult(BaseModel):
    document: str
    page: int = Field(description="Page where the passage starts.")
    pages: list[int] = Field(description="Every page the passage spans.")
    text: str
    score: float = Field(description="Fused rank score; higher is better.")
    principles: list[int] = Field(description="Guiding Principle numbers the passage mentions.")
    reference: str | None = Field(description="Letter reference, e.g. 'AL OTH 170/2021'.")
    section: str = Field(description="'body', 'questions' or 'annex'.")
    chunk_id: str


class SearchResponse(BaseModel):
    results: list[SearchResult]


class AskRequest(BaseModel):
    question: str = Field(
        min_length=1,
        description="A question about the letters or the Guiding Principles.",
        examples=["What does Guiding Principle 22 require of a company that caused harm?"],
    )


class CitationOut(BaseModel):
    id: int = Field(description="The n of the [n] marker in the answer.")
    document: str
    reference: str | None
    page: int
    principles: list[int]
    quote: str = Field(description="Verbatim text from the document.")
    section: str


class AskResponse(BaseModel):
    answer: str = Field(description="The answer; every claim ends with [n] markers.")
    grounded: bool = Field(description="False when the corpus does not support an answer.")
    citations: list[CitationOut]
    support: float = Field(description="Strength of the evidence, 0-1.")
    mode: str = Field(
        description="'extractive' (default, no LLM), 'llm:<provider>/<model>' (an LLM wrote it and it passed "
        "the citation check) or 'extractive-fallback' (an LLM is configured but its answer was not used; "
        "`note` says why)."
    )
    note: str | None = Field(default=None, description="Why an LLM answer fell back, if it did.")


class ChatRequest(BaseModel):
    message: str = Field(
        min_length=1,
        description="A question, or a follow-up that leans on the conversation so far "
        "('what about GP 20?', 'and the deadline?', 'which question asks about that?').",
        examples=["What does Guiding Principle 22 require of a company that caused harm?"],
    )
    conversation_id: str | None = Field(
        default=None,
        pattern=CONVERSATION_ID,
        description="The conversation to continue, as returned by an earlier reply; leave it out to start "
        "a new one.",
        examples=[None],
    )


class ChatResponse(AskResponse):
    conversation_id: str = Field(description="Send it with the next message to continue the conversation.")
    resolved_question: str = Field(
        description="The standalone question that was answered: the message with its references to earlier "
        "turns filled in (equal to the message when it stands on its own)."
    )


class TurnOut(BaseModel):
    message: str
    resolved_question: str
    answer: AskResponse


class ConversationOut(BaseModel):
    conversation_id: str
    turns: list[TurnOut] = Field(description="Oldest first; long conversations keep their latest turns.")


class DocumentOut(BaseModel):
    name: str
    pages: int
    chunks: int
    reference: str | None
    date: str | None
    addressee: str | None


class DocumentsResponse(BaseModel):
    documents: list[DocumentOut]


# -- conversions -------------------------------------------------------------------------------------
def passage_out(passage: Passage) -> SearchResult:
    chunk = passage.chunk
    return SearchResult(
        document=chunk.document,
        page=chunk.page,
        pages=list(chunk.pages),
        text=chunk.text,
        score=round(passage.score, 6),
        principles=list(chunk.principles),
        reference=chunk.reference,
        section=chunk.section,
        chunk_id=chunk.id,
    )


def answer_out(answer: Answer) -> AskResponse:
    return AskResponse(
        answer=answer.answer,
        grounded=answer.grounded,
        citations=[
            CitationOut(
                id=c.id,
                document=c.document,
                reference=c.reference,
                page=c.page,
                principles=list(c.principles),
                quote=c.quote,
                section=c.section,
            )
            for c in answer.citations
        ],
        support=round(answer.support, 4),
        mode=answer.mode,
        note=answer.note,
    )


def chat_out(reply: ChatReply) -> ChatResponse:
    return ChatResponse(
        **answer_out(reply.answer).model_dump(),
        conversation_id=reply.conversation_id,
        resolved_question=reply.resolved,
    )


def conversation_out(conversation_id: str, turns: tuple[Turn, ...]) -> ConversationOut:
    return ConversationOut(
        conversation_id=conversation_id,
        turns=[
            TurnOut(message=t.message, resolved_question=t.resolved, answer=answer_out(t.answer))
            for t in turns
        ],
    )


def sse(event: str, data: object) -> str:
    """One Server-Sent Event; the data is JSON on a single line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def chat_events(stream: Iterator[str | ChatReply]) -> Iterator[str]:
    """The SSE body of `/chat/stream`: text pieces, then citations, then done (or error)."""
    try:
        for item in stream:
            if isinstance(item, str):
                yield sse("text", {"text": item})
                continue
            reply = chat_out(item).model_dump()
            yield sse("citations", {"citations": reply.pop("citations")})
            yield sse("done", reply)
    except AssistantError as exc:
        yield sse("error", {"detail": str(exc)})
    except Exception:
        log.exception("chat stream failed")
        yield sse("error", {"detail": "the server failed while answering; see its log"})


# -- the app -----------------------------------------------------------------------------------------
def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant  # type: ignore[no-any-return]


AssistantDep = Annotated[Assistant, Depends(get_assistant)]


def create_app(assistant: Assistant | None = None) -> FastAPI:
    """The FastAPI app over `assistant` (built from the environment when not given)."""
    service = assistant or Assistant(Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.warm_up)
        yield

    app = FastAPI(
        title="ungp-assistant",
        description="Grounded, cited answers about the UN Guiding Principles on Business and Human Rights, "
        "from UN Special Procedures communication letters.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.assistant = service

    @app.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        status = next((code for kind, code in ERROR_STATUS.items() if isinstance(exc, kind)), 500)
        if status == 500:
            log.exception("unexpected assistant error", exc_info=exc)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/health", tags=["meta"])
    def health(assistant: AssistantDep) -> dict[str, object]:
        """Ready when the index is loaded: counts of documents and chunks."""
        snapshot = assistant.index.snapshot
        return {"status": "ok", "documents": len(snapshot.documents), "chunks": len(snapshot.chunks)}

    @app.post("/search", response_model=SearchResponse, tags=["questions"])
    def search(body: SearchRequest, assistant: AssistantDep) -> SearchResponse:
        """Passages that match the query, best first (hybrid dense + BM25, principle-aware)."""
        filters = Filters(body.document, body.reference, body.section, body.principle)
        passages = assistant.search(body.query, body.k, filters)
        return SearchResponse(results=[passage_out(p) for p in passages])

    @app.post("/ask", response_model=AskResponse, tags=["questions"])
    def ask(body: AskRequest, assistant: AssistantDep) -> AskResponse:
        """An answer whose every claim carries a citation with a verbatim quote; `grounded: false` when the
        corpus does not support one."""
        return answer_out(assistant.ask(body.question))

    @app.post("/chat", response_model=ChatResponse, tags=["chat"])
    def chat(body: ChatRequest, assistant: AssistantDep) -> ChatResponse:
        """Answer a message within a conversation. Follow-ups are rewritten into a standalone question
        from the previous turn before retrieval (`resolved_question` shows how it was read). The reply
        has the `/ask` shape plus `conversation_id`; send that id with the next message. Conversations
        are kept on disk, bounded in number and length, and survive restarts."""
        return chat_out(assistant.chat(body.message, body.conversation_id))

    @app.post(
        "/chat/stream",
        tags=["chat"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."}},
    )
    def chat_stream(body: ChatRequest, assistant: AssistantDep) -> StreamingResponse:
        """`/chat` as Server-Sent Events (`text/event-stream`), in this order:

        - `event: text` — `data: {"text": "..."}`, one or more: pieces of the answer; joined in order they
          make the answer, with its `[n]` markers.
        - `event: citations` — `data: {"citations": [...]}`, once: the citations as in `/ask`.
        - `event: done` — `data: {...}`, once, last: the rest of the `/chat` reply (`answer`, `grounded`,
          `support`, `mode`, `note`, `conversation_id`, `resolved_question`).

        If the server fails part-way, the stream ends with `event: error`, `data: {"detail": "..."}`.
        Bad input (an empty message, an unknown conversation) is refused before the stream starts, with
        the same status codes as `/chat`. An LLM answer is checked before any of it is sent."""
        stream = assistant.chat_stream(body.message, body.conversation_id)
        return StreamingResponse(
            chat_events(stream),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/chat/{conversation_id}", response_model=ConversationOut, tags=["chat"])
    def conversation(conversation_id: str, assistant: AssistantDep) -> ConversationOut:
        """The stored turns of a conversation, e.g. to show it again after a page reload."""
        return conversation_out(conversation_id, assistant.conversation(conversation_id))

    @app.delete("/chat/{conversation_id}", status_code=204, tags=["chat"])
    def forget_conversation(conversation_id: str, assistant: AssistantDep) -> Response:
        """Delete a conversation and its turns."""
        assistant.forget_conversation(conversation_id)
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    def chat_page() -> FileResponse:
        """The web chat page (plain HTML, CSS and JavaScript from `assistant/web/`, no build step)."""
        return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/documents", response_model=DocumentsResponse, tags=["documents"])
    def documents(assistant: AssistantDep) -> DocumentsResponse:
        """The ingested documents with their page and chunk counts."""
        return DocumentsResponse(
            documents=[
                DocumentOut(
                    name=d.name,
                    pages=d.pages,
                    chunks=d.chunks,
                    reference=d.reference,
                    date=d.date,
                    addressee=d.addressee,
                )
                for d in assistant.documents()
            ]
        )

    @app.get("/documents/{name:path}/file", tags=["documents"], response_class=FileResponse)
    def document_file(name: str, assistant: AssistantDep) -> FileResponse:
        """The original file, e.g. to open a cited PDF at its page with `#page=N`."""
        path = assistant.document_path(name)
        media = "application/pdf" if path.suffix.lower() == ".pdf" else "text/plain; charset=utf-8"
        return FileResponse(path, media_type=media, content_disposition_type="inline")

    return app
