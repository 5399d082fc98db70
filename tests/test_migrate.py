from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from honcho_server.db.migrate import MigrationError, check_pgvector


async def test_pgvector_present_on_the_embedded_server(database_url: str) -> None:
    await check_pgvector(database_url)
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        version = await conn.scalar(
            text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        )
        tables = set(
            (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
        )
    await engine.dispose()
    assert version is not None
    assert {
        "workspaces",
        "peers",
        "sessions",
        "session_peers",
        "messages",
        "conclusions",
        "peer_cards",
        "summaries",
        "jobs",
        "webhook_endpoints",
        "alembic_version",
    } <= tables


async def test_missing_extension_fails_with_install_instructions(database_url: str) -> None:
    with pytest.raises(MigrationError) as excinfo:
        await check_pgvector(database_url, extension="vector_that_is_not_installed")
    message = str(excinfo.value)
    assert "pgvector" in message and "apt install" in message and "DATABASE_URL" in message
    assert "@" not in message.split("at ", 1)[1].split(" ")[0]  # no credentials in the message
