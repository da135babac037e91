"""HTTP API: `create_app(assistant)` with request/response models, thin routes and one error table."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.errors import AssistantError, BadQuestion, DocumentNotFound, DocumentRejected, IndexNotReady
from assistant.records import Answer, Passage
from assistant.retrieve import Filters
from assistant.service import Assistant

log = logging.getLogger(__name__)
ERROR_STATUS: dict[type[AssistantError], int] = {
    BadQuestion: 422,
    DocumentRejected: 422,
    DocumentNotFound: 404,
    IndexNotReady: 503,
}


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
