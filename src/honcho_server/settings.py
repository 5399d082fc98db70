"""All configuration in one validated object, read from the environment (and ``.env``).

Nothing here runs at import time: call :func:`load_settings` (the CLI does) or build a
:class:`Settings` yourself (the tests do) and pass it explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The local embedding model (all-MiniLM-L6-v2) produces vectors of this size.
LOCAL_EMBEDDING_DIMENSIONS = 384
# HS256 keys are only as strong as the secret: refuse shorter ones when auth is on.
MIN_JWT_SECRET_LENGTH = 32

_ASYNC_DRIVER = "postgresql+asyncpg://"
_SCHEMES = ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://")


def normalise_database_url(url: str) -> str:
    """Any Postgres URL spelling → the ``postgresql+asyncpg://`` form SQLAlchemy needs."""
    for scheme in _SCHEMES:
        if url.startswith(scheme):
            return _ASYNC_DRIVER + url[len(scheme) :]
    raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {url.split(':', 1)[0]}://…")


class Settings(BaseSettings):
    """Server settings. Every field is documented in ``.env.example``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "DB_CONNECTION_URI")
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("honcho-server")),
        validation_alias=AliasChoices("HONCHO_DATA_DIR", "data_dir"),
    )
    db_pool_size: int = Field(default=20, ge=1, le=500)
    db_max_overflow: int = Field(default=20, ge=0, le=500)
    db_read_pool_size: int = Field(default=10, ge=1, le=500)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    log_level: str = "INFO"
    session_observers_limit: int = Field(default=10, ge=1)
    embedded_worker: bool = True
    # Global defaults of the reasoning configuration (workspace, session and message
    # configuration override them; BEHAVIOUR §8.2).
    deriver_enabled: bool = True
    summary_enabled: bool = True
    summary_messages_per_short_summary: int = Field(default=20, ge=10)
    summary_messages_per_long_summary: int = Field(default=60, ge=20)
    peer_card_enabled: bool = True
    dream_enabled: bool = True
    # Dreams (BEHAVIOUR §19): automatic consolidation after this many new explicit conclusions
    # about a peer, once the peer has been quiet this long and not dreamed for this long.
    dream_document_threshold: int = Field(default=50, ge=1)
    dream_idle_timeout_minutes: float = Field(default=60.0, ge=0)
    dream_min_hours_between_dreams: float = Field(default=8.0, ge=0)
    # Dialectic chat (BEHAVIOUR §18).
    dialectic_session_history_max_tokens: int = Field(default=4096, ge=0)
    dialectic_max_input_tokens: int = Field(default=100_000, ge=1000)
    dialectic_tool_mode: Literal["auto", "tools", "prompt"] = "auto"
    # Authentication (BEHAVIOUR §21): off for local use; on, every route needs a JWT.
    auth_use_auth: bool = False
    auth_jwt_secret: SecretStr | None = None
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    # The share of wall time the in-process worker's embeddings may take while the API beside
    # it is busy (worker.pacing); 1: never held back
    embed_share_when_busy: float = Field(default=0.25, gt=0, le=1)
    # a running job whose worker sent no heartbeat for this long is taken for orphaned and
    # re-queued (workers heartbeat every third of it, at most every 10 s)
    job_stale_after_seconds: float = Field(default=60.0, ge=3, le=3600)
    # Browser origins allowed by CORS: the usual local dev servers (React/Next 3000, Vite 5173,
    # webpack/Vue 8080, this server's own 8000) on localhost and 127.0.0.1. Deployments list
    # their own front-ends (README, "Using it from an existing app").
    cors_origins: list[str] = Field(
        default_factory=lambda: [
            f"http://{host}{port}"
            for host in ("localhost", "127.0.0.1")
            for port in ("", ":3000", ":5173", ":8000", ":8080")
        ]
    )
    embedding_provider: Literal["local", "openai"] = "local"
    embedding_model: str = "text-embedding-3-small"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_dimensions: int = Field(default=LOCAL_EMBEDDING_DIMENSIONS, ge=1, le=16_000)
    embedding_send_dimensions: bool = True
    embedding_max_input_tokens: int = Field(default=8191, ge=16)
    embedding_batch_size: int = Field(default=32, ge=1, le=2048)
    embedding_threads: int = Field(default=2, ge=1, le=64)
    embed_messages: bool = True
    webhook_secret: SecretStr | None = None
    webhook_max_per_workspace: int = Field(
        default=10,
        ge=1,
        validation_alias=AliasChoices(
            "WEBHOOK_MAX_PER_WORKSPACE", "WEBHOOK_MAX_WORKSPACE_LIMIT", "webhook_max_per_workspace"
        ),
    )
    webhook_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    webhook_allow_private_urls: bool = False  # development and tests only
    # The LLM behind the deriver, summaries, dialectic chat and dreams. LLM_* set all four;
    # DERIVER_*, SUMMARY_*, DIALECTIC_* and DREAM_* override them one feature at a time.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_structured_mode: Literal["auto", "json_schema", "json_object", "text"] = "auto"
    llm_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    llm_max_retries: int = Field(default=3, ge=0, le=20)
    llm_max_output_tokens: int = Field(default=8192, ge=16, le=1_000_000)
    llm_temperature: float | None = Field(default=None, ge=0, le=2)
    deriver_base_url: str | None = None
    deriver_api_key: SecretStr | None = None
    deriver_model: str | None = None
    summary_base_url: str | None = None
    summary_api_key: SecretStr | None = None
    summary_model: str | None = None
    dialectic_base_url: str | None = None
    dialectic_api_key: SecretStr | None = None
    dialectic_model: str | None = None
    dream_base_url: str | None = None
    dream_api_key: SecretStr | None = None
    dream_model: str | None = None
    # Largest legal JSON request: 100 messages x (25,000 chars x 4 bytes (longest UTF-8 char)
    # + 64 KiB metadata + 64 KiB configuration + ids/timestamp) = 22.1 MiB (26.9 MiB from a
    # client that \u-escapes CJK text). 32 MiB is above both; larger bodies get a 413. Uploads
    # have their own limit (api/limits.py: 8 MiB for a <= 5 MiB file).
    max_request_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # How long a stored Idempotency-Key response is replayed (then purged by maintenance).
    idempotency_key_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # Observability (README "Observability"): one INFO line per request on
    # honcho_server.access; text or JSON log lines; GET /metrics; a separate worker's metrics.
    access_log: bool = True
    log_format: Literal["text", "json"] = "text"
    metrics_enabled: bool = True
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalise_database_url(value.strip())

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown LOG_LEVEL {value!r}")
        return level

    @field_validator(
        "embedding_base_url",
        "llm_base_url",
        "llm_model",
        "deriver_base_url",
        "deriver_model",
        "summary_base_url",
        "summary_model",
        "dialectic_base_url",
        "dialectic_model",
        "dream_base_url",
        "dream_model",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator(
        "embedding_api_key",
        "llm_api_key",
        "deriver_api_key",
        "summary_api_key",
        "dialectic_api_key",
        "dream_api_key",
        mode="before",
    )
    @classmethod
    def _blank_key_is_unset(cls, value: object) -> object:
        """``LLM_API_KEY=`` (as in a copied ``.env``) means no key, not an empty one."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_embedding(self) -> Self:
        if self.embedding_provider == "local":
            if self.embedding_dimensions != LOCAL_EMBEDDING_DIMENSIONS:
                raise ValueError(
                    "EMBEDDING_PROVIDER=local (all-MiniLM-L6-v2) makes 384-dimensional vectors: "
                    f"set EMBEDDING_DIMENSIONS=384, not {self.embedding_dimensions}, or use "
                    "EMBEDDING_PROVIDER=openai"
                )
        elif self.embedding_base_url is None and self.embedding_api_key is None:
            raise ValueError(
                "EMBEDDING_PROVIDER=openai needs EMBEDDING_API_KEY (or EMBEDDING_BASE_URL for an "
                "OpenAI-compatible server that takes no key)"
            )
        return self

    @model_validator(mode="after")
    def _check_auth(self) -> Self:
        if not self.auth_use_auth:
            return self
        secret = self.auth_jwt_secret.get_secret_value() if self.auth_jwt_secret else ""
        if not secret.strip():
            raise ValueError(
                "AUTH_USE_AUTH=true needs AUTH_JWT_SECRET (generate one with "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if len(secret) < MIN_JWT_SECRET_LENGTH or len(set(secret)) < 8:
            raise ValueError(
                f"AUTH_JWT_SECRET is too weak: use at least {MIN_JWT_SECRET_LENGTH} random "
                "characters (`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return self

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


def load_settings() -> Settings:
    """Read settings from the process environment and ``.env``."""
    return Settings()
