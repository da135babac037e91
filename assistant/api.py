"""HTTP API: `create_app(assistant)` with request/response models, thin routes and one error table."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from assistant.access import AccessGuard, AccessPolicy
from assistant.config import Settings
from assistant.errors import (
    AssistantError,
    BadQuestion,
    DocumentNotFound,
    DocumentRejected,
    DocumentTooLarge,
    IndexNotReady,
)
from assistant.records import Answer, DocumentInfo, Passage
from assistant.retrieve import Filters
from assistant.service import Assistant
from assistant.telemetry import Metrics, RequestTelemetry

log = logging.getLogger(__name__)
ERROR_STATUS: dict[type[AssistantError], int] = {
    BadQuestion: 422,
    DocumentRejected: 422,
    DocumentTooLarge: 413,
    DocumentNotFound: 404,
    IndexNotReady: 503,
}
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
    mode: str = Field(description="'extractive' (default) or the LLM that wrote the answer.")
    note: str | None = Field(default=None, description="Why an LLM answer fell back, if it did.")


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


# -- the app -----------------------------------------------------------------------------------------
def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant  # type: ignore[no-any-return]


AssistantDep = Annotated[Assistant, Depends(get_assistant)]


def create_app(assistant: Assistant | None = None) -> FastAPI:
    """The FastAPI app over `assistant` (built from the environment when not given)."""
    service = assistant or Assistant(Settings())
    settings = service.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.warm_up)
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
        filters = Filters(body.document, body.reference, body.section, body.principle)
        passages = assistant.search(body.query, body.k, filters)
        return SearchResponse(results=[passage_out(p) for p in passages])

    @app.post("/ask", response_model=AskResponse, tags=["questions"])
    def ask(body: AskRequest, assistant: AssistantDep) -> AskResponse:
        """An answer whose every claim carries a citation with a verbatim quote; `grounded: false` when the
        corpus does not support one."""
        return answer_out(assistant.ask(body.question))

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
