"""Migration 0018 (``sessions.message_count``): counted for the sessions a database already
holds, kept by the DELETE trigger afterwards, gone again on downgrade."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from databases import database_at
from honcho_server.db.migrate import alembic_config


@pytest.fixture
def old_database(database_url: str) -> Iterator[str]:
    """A database of its own, migrated to 0017 (before the column)."""
    with database_at(database_url, "0017") as url:
        yield url


async def _run(url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run ``statements`` in one transaction; the rows of the last."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for sql in statements:
                result = await conn.execute(text(sql))
            return [tuple(r) for r in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


def _messages(session: str, count: int) -> str:
    return (
        "INSERT INTO messages (public_id, workspace_name, session_name, peer_name,"
        f" seq_in_session, content, token_count) SELECT '{session}-' || n, 'w', '{session}',"
        f" 'alice', n, 'x', 1 FROM generate_series(1, {count}) n"
    )


COUNTS = "SELECT name, message_count FROM sessions ORDER BY name"


async def test_existing_sessions_are_counted_and_kept_counted(old_database: str) -> None:
    config = alembic_config(old_database)
    await _run(
        old_database,
        "INSERT INTO workspaces (name) VALUES ('w')",
        "INSERT INTO peers (workspace_name, name) VALUES ('w', 'alice')",
        "INSERT INTO sessions (workspace_name, name, last_seq)"
        " VALUES ('w', 'a', 12), ('w', 'b', 3), ('w', 'empty', 0)",
        _messages("a", 12),
        _messages("b", 3),
        "DELETE FROM messages WHERE public_id IN ('a-2', 'a-7')",  # gaps, as a delete leaves
    )
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _run(old_database, COUNTS) == [("a", 10), ("b", 3), ("empty", 0)]

    # one statement removing messages of two sessions lowers both
    await _run(old_database, "DELETE FROM messages WHERE public_id IN ('a-1', 'b-1', 'b-2')")
    assert await _run(old_database, COUNTS) == [("a", 9), ("b", 1), ("empty", 0)]
    # removing a session with its messages (the cascade) leaves the others as they are
    await _run(old_database, "DELETE FROM sessions WHERE name = 'a'")
    assert await _run(old_database, COUNTS) == [("b", 1), ("empty", 0)]

    await asyncio.to_thread(command.downgrade, config, "0017")
    columns = await _run(
        old_database,
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = 'sessions' AND column_name = 'message_count'",
    )
    assert columns == []
    await _run(old_database, "DELETE FROM messages")  # no trigger left behind
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _run(old_database, COUNTS) == [("b", 0), ("empty", 0)]
