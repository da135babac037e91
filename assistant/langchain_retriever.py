"""The hybrid retriever as a LangChain `BaseRetriever`, for people who build their own chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.retrieve import NO_FILTERS, Filters
from assistant.service import Assistant


class UNGPRetriever(BaseRetriever):
    """Returns `Document`s whose metadata carry document, page(s), section, principles and reference.

    >>> retriever = UNGPRetriever(assistant=Assistant(Settings()), k=4)
    >>> retriever.invoke("What does Guiding Principle 22 require?")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    assistant: Assistant
    k: int = 5
    filters: Filters = NO_FILTERS

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        passages = self.assistant.search(query, self.k, self.filters)
        return [
            Document(
                page_content=p.chunk.text,
                metadata={**p.chunk.metadata(), "principles": list(p.chunk.principles), "score": p.score,
                          "chunk_id": p.chunk.id},
                id=p.chunk.id,
            )
            for p in passages
        ]
