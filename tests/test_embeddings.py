"""The ONNX route for questions: exported once from the bundled model, the same vectors as torch, the same
retrieval, loaded later without torch; and a failed export falls back to torch."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from conftest import reference_text

from assistant.embeddings import Embedder
from assistant.service import Assistant
from bench.load import QUESTIONS


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx_embedder(onnx_cache):
    embedder = Embedder("bundled", "onnx", onnx_cache)
    embedder.warm_up()
    assert embedder.query_backend == "onnx" and list(onnx_cache.glob("*.onnx"))
    return embedder


def test_onnx_vectors_agree_with_torch(onnx_embedder, embedder):
    letter = reference_text()
    texts = [*QUESTIONS, "GP 22", letter[:300], letter[:5000]]  # the last is cut at 256 tokens by both
    for text in texts:
        assert float(onnx_embedder.embed_query(text) @ embedder.embed_query(text)) > 0.9999, text
    sentences = [s for s in letter.split(". ") if s][:40]
    agreement = np.sum(onnx_embedder.embed_cached(sentences) * embedder.embed_documents(sentences), axis=1)
    assert agreement.min() > 0.9999


def test_retrieval_and_answers_are_the_same_either_way(onnx_embedder, assistant):
    through_onnx = Assistant(assistant.settings, embedder=onnx_embedder, index=assistant.index)
    for question in QUESTIONS:
        assert [p.chunk.id for p in through_onnx.search(question, k=10)] == [
            p.chunk.id for p in assistant.search(question, k=10)
        ], question
        assert through_onnx.ask(question).citations == assistant.ask(question).citations, question


def test_the_export_is_reused_without_loading_torch(onnx_embedder, onnx_cache):
    again = Embedder("bundled", "onnx", onnx_cache)
    again.warm_up()
    assert again.query_backend == "onnx" and again._model is None
    assert float(again.embed_query("remediation") @ onnx_embedder.embed_query("remediation")) > 0.99999


def test_a_failed_export_falls_back_to_torch(tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the model cache should be")
    embedder = Embedder("bundled", "onnx", blocked)
    with caplog.at_level(logging.WARNING, logger="assistant.embeddings"):
        vector = embedder.embed_query("remediation")
    assert embedder.query_backend == "torch" and vector.shape == (384,)
    assert "questions will be embedded with torch: no ONNX model" in caplog.text
