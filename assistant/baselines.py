"""The baselines the assistant is measured against: the plain LangChain tutorial recipe and lexical BM25.

Both answer the way such a recipe does: the top chunk is the answer, always "grounded", cited once. They
speak the assistant's own records (`Passage`, `Answer`, `Citation`), so the harness scores every system
with the same code. Both read the same files the assistant indexes (`corpus_files`) and split them with
the recipe's splitter, so the only differences from the assistant are the ones a tutorial user would
live with: page-by-page PyPDF text, fixed-size chunks, one retrieval signal.
"""

from __future__ import annotations

import os
import uuid
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.embeddings import model_path
from assistant.ingest.pipeline import corpus_files
from assistant.ingest.principles import find_principles
from assistant.records import Answer, Chunk, Citation, Passage

if TYPE_CHECKING:
    from langchain_core.documents import Document

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
CHUNK_SIZE = 1000  # the tutorial's numbers, kept as a user would copy them
CHUNK_OVERLAP = 200


def recipe_chunks(corpus_dir: Path) -> list[Document]:
    """The corpus as the tutorial prepares it: `PyPDFLoader` (one Document per page; `TextLoader` for .txt
    and .md) and `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`. Each chunk's
    metadata gets the document name as the assistant spells it (path relative to the corpus folder)."""
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    pages: list[Document] = []
    for path in corpus_files(corpus_dir):
        loader = PyPDFLoader(str(path)) if path.suffix.lower() == ".pdf" else TextLoader(str(path), "utf-8")
        for page in loader.load():
            page.metadata["document"] = path.relative_to(corpus_dir).as_posix()
            pages.append(page)
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    return splitter.split_documents(pages)


def as_passage(document: Document, rank: int, score: float, chunk_id: str) -> Passage:
    """A LangChain chunk in the assistant's terms. PyPDFLoader numbers pages from 0; text files have no
    pages (page 1)."""
    page = int(document.metadata.get("page", 0)) + 1
    chunk = Chunk(
        id=chunk_id,
        document=str(document.metadata["document"]),
        text=document.page_content,
        page=page,
        pages=(page,),
        section="body",
        principles=find_principles(document.page_content),
    )
    return Passage(chunk=chunk, score=score, rank=rank)


def top_chunk_answer(passages: list[Passage]) -> Answer:
    """The recipe's answer: the best chunk verbatim, always presented as grounded, cited once."""
    if not passages:
        return Answer(answer="", grounded=True)
    chunk = passages[0].chunk
    citation = Citation(
        id=1,
        document=chunk.document,
        reference=None,
        page=chunk.page,
        principles=chunk.principles,
        quote=chunk.text,
        chunk_id=chunk.id,
    )
    return Answer(answer=chunk.text, grounded=True, citations=(citation,), support=1.0, mode="top-chunk")


class LangChainRecipe:
    """Recipe (a): the chunks embedded with the same model through `HuggingFaceEmbeddings`, stored in an
    in-memory `langchain_chroma.Chroma`, searched by plain similarity top-k."""

    name = "langchain"
    description = (
        "PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) + Chroma + HuggingFaceEmbeddings "
        "(same all-MiniLM-L6-v2), similarity top-k; answer = top chunk"
    )

    def __init__(
        self, corpus_dir: Path, model: str = "bundled", chunks: list[Document] | None = None
    ) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_huggingface import HuggingFaceEmbeddings

        self.chunks = chunks if chunks is not None else recipe_chunks(corpus_dir)
        embeddings = HuggingFaceEmbeddings(model_name=model_path(model), model_kwargs={"device": "cpu"})
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        self._client = client
        self._collection = f"langchain-recipe-{uuid.uuid4().hex}"
        self.store = Chroma(collection_name=self._collection, embedding_function=embeddings, client=client)
        if self.chunks:
            self.store.add_documents(self.chunks, ids=[str(i) for i in range(len(self.chunks))])
        self._vector = lru_cache(maxsize=2048)(embeddings.embed_query)

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        """The k chunks nearest to the query (Chroma's default distance; lower is closer). The same as
        `similarity_search_with_score`, with the question's embedding remembered as the assistant does,
        so that an ask and a search of one question embed it once in either system."""
        hits = self.store.similarity_search_by_vector_with_relevance_scores(self._vector(query), k=k or 4)
        return [
            as_passage(document, rank, -float(distance), str(document.id))
            for rank, (document, distance) in enumerate(hits)
        ]

    def ask(self, question: str) -> Answer:
        """The top chunk, as the recipe's answer."""
        return top_chunk_answer(self.search(question, 1))

    def close(self) -> None:
        """Drop the in-memory collection (the client is shared within the process)."""
        self._client.delete_collection(self._collection)


class BM25Baseline:
    """Recipe (b): the same recipe chunks ranked by BM25 alone (bm25s, English stop words, Snowball
    stemmer) — no vectors, no structure."""

    name = "bm25"
    description = "BM25 (bm25s, stemmed, English stop words) over the same recipe chunks; answer = top chunk"

    def __init__(self, corpus_dir: Path, chunks: list[Document] | None = None) -> None:
        import bm25s
        import Stemmer

        self.chunks = chunks if chunks is not None else recipe_chunks(corpus_dir)
        self._stemmer = Stemmer.Stemmer("english")
        self._retriever = bm25s.BM25()
        if self.chunks:
            tokens = self._tokenize([c.page_content for c in self.chunks])
            self._retriever.index(tokens, show_progress=False)

    def _tokenize(self, texts: list[str], return_ids: bool = True) -> Any:
        import bm25s

        return bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, return_ids=return_ids, show_progress=False
        )

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        """The k chunks with the highest BM25 score (chunks sharing no term with the query are left out)."""
        if not self.chunks:
            return []
        vocabulary = self._retriever.vocab_dict
        words = self._tokenize([query], return_ids=False)[0]
        query_ids = [vocabulary[w] for w in words if w and w in vocabulary]
        if not query_ids:
            return []
        scores = self._retriever.get_scores(query_ids)
        order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))[: k or 4]
        return [
            as_passage(self.chunks[i], rank, float(scores[i]), str(i))
            for rank, i in enumerate(order)
            if scores[i] > 0
        ]

    def ask(self, question: str) -> Answer:
        """The top chunk, as the recipe's answer."""
        return top_chunk_answer(self.search(question, 1))
