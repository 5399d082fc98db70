"""Apply the Alembic migrations (after checking that pgvector is available)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

PGVECTOR_HELP = (
    "The PostgreSQL server at {where} does not have the pgvector extension, which honcho-server "
    "needs. Install it on the database server (Debian/Ubuntu: `apt install "
    "postgresql-<major>-pgvector`; macOS: `brew install pgvector`; Docker: use the "
    "`pgvector/pgvector:pg17` image), or unset DATABASE_URL to use the embedded database."
)


class MigrationError(RuntimeError):
    """The database cannot be brought to the current schema."""


MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def migrations_dir() -> Path:
    """The Alembic scripts shipped inside the package (``honcho_server/migrations``)."""
    if not (MIGRATIONS / "env.py").is_file():
        raise MigrationError(
            f"the migrations are missing from this installation ({MIGRATIONS}): "
            "reinstall honcho-server"
        )
    return MIGRATIONS


async def check_pgvector(url: str, extension: str = "vector") -> None:
    """Fail with install instructions when the server cannot provide ``extension``."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            available = await conn.scalar(
                text("SELECT count(*) FROM pg_available_extensions WHERE name = :name"),
                {"name": extension},
            )
    finally:
        await engine.dispose()
    if not available:
        where = url.split("@")[-1]
        raise MigrationError(PGVECTOR_HELP.format(where=where))


DEFAULT_EMBEDDING_DIMENSIONS = 384


def alembic_config(url: str, embedding_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["embedding_dimensions"] = embedding_dimensions
    return config


def upgrade(url: str, embedding_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> None:
    """Check pgvector, then migrate to head. Call from synchronous code (no running loop).

    ``embedding_dimensions`` sizes the vector columns when they are first created.
    """
    asyncio.run(check_pgvector(url))
    command.upgrade(alembic_config(url, embedding_dimensions), "head")
