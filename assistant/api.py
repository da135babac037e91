"""HTTP API: `create_app(assistant)` with request/response models, thin routes and one error table."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from assistant.access import AccessGuard, AccessPolicy
from assistant.config import Settings
from assistant.errors import (
    AssistantError,
    BadFilter,
    BadQuestion,
    ConversationNotFound,
    DocumentNotFound,
    DocumentRejected,
    DocumentTooLarge,
    IndexNotReady,
    NotALetter,
)
from assistant.outline import render_markdown
from assistant.records import Answer, ChatReply, DocumentInfo, Letter, Outline, Passage, Turn
from assistant.retrieve import Filters
from assistant.service import Assistant
from assistant.telemetry import Metrics, RequestTelemetry

log = logging.getLogger(__name__)
ERROR_STATUS: dict[type[AssistantError], int] = {
    BadQuestion: 422,
    DocumentRejected: 422,
    DocumentTooLarge: 413,
    DocumentNotFound: 404,
    ConversationNotFound: 404,
    IndexNotReady: 503,
    BadFilter: 422,
    NotALetter: 422,
}
WEB_DIR = Path(__file__).resolve().parent / "web"
CONVERSATION_ID = r"^[0-9a-f]{32}$"
MULTIPART_SLACK_BYTES = 1_000_000  # form boundaries and headers around an upload at the size limit


def error_status(exc: AssistantError) -> int:
    """The status for an error: the entry of its most specific class in `ERROR_STATUS` (500 if none)."""
    return next((ERROR_STATUS[kind] for kind in type(exc).__mro__ if kind in ERROR_STATUS), 500)


def validation_message(errors: list[dict[str, Any]]) -> str:
    """Pydantic's validation errors as one sentence a person can act on, e.g. "k must be at most 50
    (got 51)"."""
    parts = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        if location and location[0] in ("body", "query", "path", "header"):
            location = location[1:]  # where it was sent, not what it is called
        field = ".".join(location) or "the request body"
        kind, context, given = error.get("type", ""), error.get("ctx") or {}, error.get("input")
        if kind == "missing":
            parts.append(f"{field} is required")
        elif kind == "string_too_short" and context.get("min_length") == 1:
            parts.append(f"{field} must not be empty")
        elif kind == "string_too_long":
            parts.append(f"{field} must be at most {context.get('max_length')} characters")
        elif kind in ("greater_than_equal", "greater_than"):
            bound = context.get("ge", context.get("gt"))
            word = "at least" if kind == "greater_than_equal" else "more than"
            parts.append(f"{field} must be {word} {bound} (got {given})")
        elif kind in ("less_than_equal", "less_than"):
            bound = context.get("le", context.get("lt"))
            word = "at most" if kind == "less_than_equal" else "less than"
            parts.append(f"{field} must be {word} {bound} (got {given})")
        elif kind == "json_invalid":
            parts.append("the request body is not valid JSON")
        else:
            parts.append(f"{field}: {error.get('msg', 'is invalid')}")
    return "; ".join(parts)


# -- request and response models -----------------------------------------------------------------------
class FilterParams(BaseModel):
    """Restrictions shared by every request that retrieves passages (`/search`, `/ask`; `/chat` can
    inherit them too). Fields left out do not restrict."""

    document: str | None = Field(default=None, description="Only this document (file name).")
    reference: str | None = Field(
        default=None,
        description="Only this letter, as printed or as a slug.",
        examples=["AL OTH 170/2021", "AL-OTH-170-2021"],
    )
    addressee: str | None = Field(
        default=None,
        description="Only letters to this company or person (case-insensitive; every word must match).",
        examples=["ZTE", "Li Zixue"],
    )
    date_from: date | None = Field(default=None, description="Only letters dated on or after this day.")
    date_to: date | None = Field(default=None, description="Only letters dated on or before this day.")
    principle: int | None = Field(
        default=None, ge=1, le=31, description="Only passages citing this Guiding Principle."
    )
    section: Literal["body", "questions", "annex"] | None = Field(
        default=None, description="Only this part of a letter."
    )

    def to_filters(self) -> Filters:
        """The service's `Filters` (empty strings count as not given)."""
        return Filters(
            document=self.document or None,
            reference=self.reference or None,
            section=self.section,
            principle=self.principle,
            addressee=self.addressee or None,
            date_from=self.date_from,
            date_to=self.date_to,
        )


class SearchRequest(FilterParams):
    query: str = Field(
        min_length=1, description="What to look for.", examples=["Guiding Principle 22 remediation"]
    )
    k: int = Field(default=5, ge=1, le=50, description="How many passages to return.")


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


class AskRequest(FilterParams):
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


class ChatRequest(FilterParams):
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


class DocumentAdded(BaseModel):
    document: DocumentOut
    replaced: bool = Field(description="True when it replaced a document of the same name.")


class DocumentRemoved(BaseModel):
    removed: str = Field(description="Name of the document removed from the corpus and every index.")


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, in one sentence.")


class LetterSummary(BaseModel):
    reference: str = Field(description="As printed, e.g. 'AL OTH 170/2021'.")
    slug: str = Field(description="The reference as a URL segment, e.g. 'AL-OTH-170-2021'.")
    document: str = Field(description="The file the letter was read from.")
    letter_type: str = Field(description="AL, UA, OL, JAL, JUA or JOL.")
    date: str | None = Field(description="Date of the letter (ISO), null when not printed.")
    person: str | None = Field(description="The person the letter greets, e.g. 'Mr. Li Zixue'.")
    company: str | None = Field(description="The company written to, e.g. 'ZTE Corporation'.")
    addressee: str | None = Field(description="The addressee footer as printed on the first page.")
    question_count: int = Field(description="How many numbered questions the letter asks.")
    publication_date: str | None = Field(
        description="When the letter and any response are made public (letter date + period), ISO."
    )
    principles: list[int] = Field(description="Guiding Principles the letter quotes or cites.")


class LettersResponse(BaseModel):
    letters: list[LetterSummary]


class ExcerptOut(BaseModel):
    text: str = Field(description="Verbatim text of the letter.")
    page: int


class SignatoryOut(BaseModel):
    name: str
    mandate: str | None


class LetterQuestionOut(BaseModel):
    number: int
    text: str = Field(description="The question in full, without its number.")
    page: int
    pages: list[int]
    principles: list[int] = Field(description="Principles the question names itself.")


class PrincipleMentionOut(BaseModel):
    numbers: list[int]
    page: int = Field(description="Page where the quoted or citing words start.")
    quote: str = Field(description="The letter's exact words.")
    quoted: bool = Field(description="True when the letter quotes the principle's text.")
    commentary: bool = Field(description="True when the words are from the commentary.")
    section: str


class LetterOut(LetterSummary):
    country: str = Field(description="Country code, or OTH for letters to non-State actors.")
    number: int
    year: int
    mandates: list[str] = Field(description="The mandates listed at the top of the letter.")
    resolutions: list[str] = Field(description="Human Rights Council resolutions cited, e.g. '44/15'.")
    signatories: list[SignatoryOut]
    questions: list[LetterQuestionOut] = Field(description="The numbered questions in full.")
    response_days: int | None = Field(description="Days the letter gives for a response, if it says.")
    response_date: str | None = Field(description="Letter date + response_days (ISO).")
    response_notice: ExcerptOut | None = Field(description="The sentence that asks for the response.")
    publication_days: int | None = Field(description="Days after the letter date before publication.")
    publication_notice: ExcerptOut | None
    press_release_notice: ExcerptOut | None
    governments_also: list[str] = Field(description="Governments the letter says were also written to.")
    companies_also: list[str] = Field(description="Companies named as also written to.")
    other_companies_also: bool = Field(description="The letter says other, unnamed, companies were too.")
    principle_mentions: list[PrincipleMentionOut]
    allegations: list[ExcerptOut] = Field(description="The paragraphs setting out the facts alleged.")
    annex_page: int | None
    pages: int
    pages_without_text: list[int] = Field(description="Pages with no text layer (scans): not read.")


class SupportOut(BaseModel):
    principles: list[int]
    page: int
    quote: str = Field(description="Verbatim annex passage.")
    chunk_id: str
    score: float = Field(description="Retrieval score of the passage for this question.")


class OutlineQuestionOut(BaseModel):
    number: int
    text: str
    page: int
    pages: list[int]
    principles: list[int] = Field(description="Guiding Principles the question engages.")
    support: list[SupportOut] = Field(description="Annex passages that support the link, best first.")


class DeadlineOut(BaseModel):
    label: str
    date: str | None
    days: int | None
    quote: str
    page: int


class OutlineOut(BaseModel):
    letter: LetterOut
    questions: list[OutlineQuestionOut]
    deadlines: list[DeadlineOut]
    allegations: list[ExcerptOut]
    notes: list[str] = Field(description="Gaps the reader must know about (unreadable pages, no annex).")
    markdown: str = Field(description="The same outline as Markdown, ready to paste into a draft.")


# -- conversions -------------------------------------------------------------------------------------
def document_out(info: DocumentInfo) -> DocumentOut:
    return DocumentOut(
        name=info.name,
        pages=info.pages,
        chunks=info.chunks,
        reference=info.reference,
        date=info.date,
        addressee=info.addressee,
    )


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


def letter_summary(letter: Letter) -> LetterSummary:
    return LetterSummary.model_validate({**letter.to_dict(), "question_count": len(letter.questions)})


def letter_out(letter: Letter) -> LetterOut:
    return LetterOut.model_validate({**letter.to_dict(), "question_count": len(letter.questions)})


def outline_out(outline: Outline) -> OutlineOut:
    """The outline as JSON: its fields, the letter in full and the Markdown rendering."""
    data = outline.to_dict()
    data["letter"] = letter_out(outline.letter).model_dump()
    return OutlineOut.model_validate({**data, "markdown": render_markdown(outline)})


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


def mount_slack(app: FastAPI, assistant: Assistant) -> None:
    """Slack's HTTP mode at `POST /slack/events`. The route checks Slack's own request signature, so it
    needs (and must not get) any other authentication."""
    from assistant.slack import http_handler  # slack-bolt is imported only when Slack is on

    handler = http_handler(assistant)

    @app.post("/slack/events", tags=["slack"], response_class=Response)
    async def slack_events(request: Request) -> Response:
        """Slack's Events API, the `/ungp` slash command and button clicks, as Slack sends them: signed
        with the app's signing secret (forged or more than five minutes old: 401)."""
        return await handler.handle(request)

    log.info("Slack HTTP mode is on: answering Slack at /slack/events")


def _warm_sentences(service: Assistant) -> None:
    try:
        count = service.warm_sentences()
        log.info("embedded %d corpus sentences ahead of questions", count)
    except Exception:  # a cache warm-up must never take the server down
        log.exception("sentence warm-up failed; sentences will be embedded on first use")


def create_app(assistant: Assistant | None = None) -> FastAPI:
    """The FastAPI app over `assistant` (built from the environment when not given)."""
    service = assistant or Assistant(Settings())
    settings = service.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.warm_up)
        # Sentence vectors are computed on first use; doing it now, off the request path, keeps the
        # first questions as fast as the later ones. Serving starts at once.
        threading.Thread(target=_warm_sentences, args=(service,), name="warm-sentences", daemon=True).start()
        syncing = None
        if settings.chroma_host and settings.chroma_sync_seconds > 0:
            syncing = asyncio.create_task(_keep_in_step(service, settings.chroma_sync_seconds))
        yield
        if syncing is not None:
            syncing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await syncing

    app = FastAPI(
        title="ungp-assistant",
        description="Grounded, cited answers about the UN Guiding Principles on Business and Human Rights, "
        "from UN Special Procedures communication letters.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.assistant = service
    if service.settings.slack_http:
        mount_slack(app, service)
    else:
        log.info(
            "Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to answer Slack at /slack/events "
            "(or run `ungp slack` for Socket Mode)"
        )
    metrics = Metrics(lambda: _index_sizes(service))
    app.state.metrics = metrics
    # Added innermost first: telemetry wraps the guard, so refused requests are counted and logged too.
    app.add_middleware(AccessGuard, policy=access_policy(settings))
    app.add_middleware(RequestTelemetry, metrics=metrics, router=app.router)

    @app.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        status = error_status(exc)
        if status == 500:
            log.exception("unexpected assistant error", exc_info=exc)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        return JSONResponse(
            {"detail": validation_message(errors), "errors": jsonable_encoder(errors)}, status_code=422
        )

    @app.get("/health", tags=["meta"])
    def health(assistant: AssistantDep) -> dict[str, object]:
        """Ready when the index is loaded: counts of documents and chunks."""
        snapshot = assistant.index.snapshot
        return {"status": "ok", "documents": len(snapshot.documents), "chunks": len(snapshot.chunks)}

    @app.post("/search", response_model=SearchResponse, tags=["questions"])
    def search(body: SearchRequest, assistant: AssistantDep) -> SearchResponse:
        """Passages that match the query, best first (hybrid dense + BM25, principle-aware)."""
        passages = assistant.search(body.query, body.k, body.to_filters())
        return SearchResponse(results=[passage_out(p) for p in passages])

    @app.post("/ask", response_model=AskResponse, tags=["questions"])
    def ask(body: AskRequest, assistant: AssistantDep) -> AskResponse:
        """An answer whose every claim carries a citation with a verbatim quote; `grounded: false` when the
        corpus does not support one."""
        return answer_out(assistant.ask(body.question, body.to_filters()))

    @app.post("/chat", response_model=ChatResponse, tags=["chat"])
    def chat(body: ChatRequest, assistant: AssistantDep) -> ChatResponse:
        """Answer a message within a conversation. Follow-ups are rewritten into a standalone question
        from the previous turn before retrieval (`resolved_question` shows how it was read). The reply
        has the `/ask` shape plus `conversation_id`; send that id with the next message. Conversations
        are kept on disk, bounded in number and length, and survive restarts."""
        return chat_out(assistant.chat(body.message, body.conversation_id, body.to_filters()))

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
        stream = assistant.chat_stream(body.message, body.conversation_id, body.to_filters())
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
        return DocumentsResponse(documents=[document_out(d) for d in assistant.documents()])

    @app.post(
        "/documents",
        response_model=DocumentAdded,
        status_code=201,
        tags=["documents"],
        responses={
            200: {"model": DocumentAdded, "description": "Replaced a document of the same name."},
            401: {"model": ErrorOut},
            403: {"model": ErrorOut},
            413: {"model": ErrorOut},
            422: {"model": ErrorOut},
        },
    )
    async def add_document(
        file: Annotated[
            UploadFile, File(description="A PDF, .txt or .md file; its type is read from the content.")
        ],
        assistant: AssistantDep,
        response: Response,
    ) -> DocumentAdded:
        """Add (201) or replace (200) one document and index just it. Needs the admin key. The type is
        read from the content (%PDF or UTF-8 text), the name is made safe (no folders, plain characters),
        and a file that cannot be indexed is refused with the reason, leaving the corpus as it was.

        Example: `curl -H "Authorization: Bearer $UNGP_ADMIN_KEY" -F file=@letter.pdf .../documents`
        """
        limit = int(assistant.settings.max_document_mb * 1_000_000)
        content = await file.read(limit + 1)
        info, replaced = await run_in_threadpool(assistant.add_document, file.filename or "", content)
        if replaced:
            response.status_code = 200
        return DocumentAdded(document=document_out(info), replaced=replaced)

    @app.delete(
        "/documents/{name:path}",
        response_model=DocumentRemoved,
        tags=["documents"],
        responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    )
    def remove_document(name: str, assistant: AssistantDep) -> DocumentRemoved:
        """Remove a document from the corpus folder and from every index. Needs the admin key."""
        assistant.remove_document(name)
        return DocumentRemoved(removed=name)

    @app.get("/metrics", tags=["meta"], response_class=Response)
    def prometheus_metrics() -> Response:
        """Prometheus metrics: request counts and latencies by route and status, index size."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/documents/{name:path}/file", tags=["documents"], response_class=FileResponse)
    def document_file(name: str, assistant: AssistantDep) -> FileResponse:
        """The original file, e.g. to open a cited PDF at its page with `#page=N`."""
        path = assistant.document_path(name)
        media = "application/pdf" if path.suffix.lower() == ".pdf" else "text/plain; charset=utf-8"
        return FileResponse(path, media_type=media, content_disposition_type="inline")

    @app.get("/letters", response_model=LettersResponse, tags=["letters"])
    def letters(
        assistant: AssistantDep,
        addressee: Annotated[str | None, Query(description="Company or person (case-insensitive).")] = None,
        date_from: Annotated[date | None, Query(description="Letters dated on or after this day.")] = None,
        date_to: Annotated[date | None, Query(description="Letters dated on or before this day.")] = None,
        principle: Annotated[int | None, Query(ge=1, le=31, description="Letters citing it.")] = None,
    ) -> LettersResponse:
        """The indexed letters, newest first: reference, date, addressee, number of questions and the date
        they are made public."""
        filters = Filters(addressee=addressee, date_from=date_from, date_to=date_to, principle=principle)
        return LettersResponse(letters=[letter_summary(x) for x in assistant.letters(filters)])

    # Declared before /letters/{reference}: a reference holds "/" and the path converter is greedy.
    @app.get(
        "/letters/{reference:path}/outline",
        response_model=OutlineOut,
        tags=["letters"],
        responses={200: {"content": {"text/markdown": {}}}},
    )
    def letter_outline(
        reference: str,
        assistant: AssistantDep,
        format: Annotated[
            Literal["json", "md"], Query(description="'md' returns the Markdown alone (text/markdown).")
        ] = "json",
    ) -> OutlineOut | PlainTextResponse:
        """A response outline for the company: each question with the Guiding Principles it engages and
        the annex passages that support the link (retrieved, cited with page and exact words), the
        deadlines and the facts alleged. `reference` as printed (URL-encoded) or as a slug."""
        outline = assistant.outline(reference)
        if format == "md":
            return PlainTextResponse(render_markdown(outline), media_type="text/markdown; charset=utf-8")
        return outline_out(outline)

    @app.get("/letters/{reference:path}", response_model=LetterOut, tags=["letters"])
    def letter(reference: str, assistant: AssistantDep) -> LetterOut:
        """Everything parsed from one letter; `reference` as printed (URL-encoded, e.g.
        `AL%20OTH%20170%2F2021`) or as a slug (`AL-OTH-170-2021`)."""
        return letter_out(assistant.letter(reference))

    return app


def access_policy(settings: Settings) -> AccessPolicy:
    """The access rules the settings ask for."""
    return AccessPolicy(
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        admin_key=settings.admin_key.get_secret_value() if settings.admin_key else None,
        rate_limit=settings.rate_limit_window(),
        rate_limit_text=settings.rate_limit,
        max_body_bytes=int(settings.max_document_mb * 1_000_000) + MULTIPART_SLACK_BYTES,
    )


def _index_sizes(service: Assistant) -> dict[str, float]:
    snapshot = service.index.snapshot
    return {
        "documents": len(snapshot.documents),
        "chunks": len(snapshot.chunks),
        "vectors": service.index.vector_count(),
    }


async def _keep_in_step(service: Assistant, seconds: float) -> None:
    """Pick up, every `seconds`, the documents other replicas wrote to the shared Chroma server."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(service.sync)
        except Exception:  # a Chroma server briefly away must not stop the loop
            log.exception("could not sync with the Chroma server")
