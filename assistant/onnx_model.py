"""Run the embedding model through onnxruntime: exported once from the bundled model with torch.onnx, checked
against it, then loaded without torch. A question embeds about 3x faster, and a server whose index exists
starts without importing torch at all.

Only models laid out as sentence-transformers Transformer -> mean Pooling -> Normalize qualify (the bundled
all-MiniLM-L6-v2 does); the vectors agree with torch's to a cosine of 1.0000 (no int8 quantisation, which
would change them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBES = (
    "What does Guiding Principle 22 require of a company that caused harm?",
    "remediation",
    "Please provide information on whether your company has undertaken human rights due diligence steps "
    "to identify, prevent, mitigate and account for how it addresses adverse human rights impacts.",
)
MIN_AGREEMENT = 0.9999


def onnx_compatible(model_dir: str) -> bool:
    """True when the model is Transformer -> mean Pooling -> Normalize with a fast tokenizer file."""
    folder = Path(model_dir)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, IndexError):
        return False
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
    )
    return (
        kinds == ["Transformer", "Pooling", "Normalize"]
        and bool(mean_only)
        and (folder / "tokenizer.json").is_file()
    )


def onnx_file(model_dir: str, cache_dir: Path) -> Path:
    """Where the export of `model_dir` lives: named after the weights, so new weights mean a new export."""
    folder = Path(model_dir)
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    stamp = [f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights]
    key = hashlib.sha256(json.dumps([str(folder.resolve()), stamp]).encode()).hexdigest()[:16]
    return cache_dir / f"{folder.name}-{key}.onnx"


def export(model: Any, model_dir: str, target: Path) -> None:
    """Export the transformer of a loaded SentenceTransformer to `target`, checked against torch on a few
    probe texts first; written atomically, so a half-written export is never loaded."""
    import torch

    transformer = model[0].auto_model.eval()
    tokenizer = model.tokenizer

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            output = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return output.last_hidden_state

    sample = tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    # The tracer warns about Python-level branches in the transformers code; they do not depend on the
    # input sizes exported as dynamic, and the export is checked against torch below.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(),
            tuple(sample[name] for name in INPUTS),
            str(partial),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    try:
        candidate = OnnxModel(partial, Path(model_dir), model.max_seq_length)
        reference = model.encode(
            list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        agreement = float(np.min(np.sum(candidate.encode(list(PROBES)) * reference, axis=1)))
        if agreement < MIN_AGREEMENT:
            raise RuntimeError(f"the ONNX export disagrees with torch (cosine {agreement:.6f})")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    log.info("exported the embedding model to %s (cosine agreement %.6f)", target, agreement)


class OnnxModel:
    """Tokenizer + onnxruntime session + mean pooling + normalisation: what sentence-transformers does,
    without torch."""

    def __init__(self, onnx_path: Path, model_dir: Path, max_length: int = 256) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """Unit vectors, one row per text (batches padded to their longest text)."""
        rows = []
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(texts[start : start + batch_size])
            width = max(len(e.ids) for e in encodings)
            feed = {
                name: np.array(
                    [getattr(e, attr) + [0] * (width - len(e.ids)) for e in encodings], dtype=np.int64
                )
                for name, attr in zip(INPUTS, ("ids", "attention_mask", "type_ids"), strict=True)
                if name in self.inputs
            }
            hidden = self.session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            rows.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        return np.concatenate(rows).astype(np.float32)
