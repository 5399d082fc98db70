"""Migration 0013 (erasing a peer): ``peers.deleted_at`` and the triggers that refuse writes
naming a peer being erased (SQLSTATE HE409), up and down."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from databases import database_at
from honcho_server.db.errors import PEER_ERASING, sqlstate
from honcho_server.db.migrate import alembic_config


@pytest.fixture
def old_database(database_url: str) -> Iterator[str]:
    """A database of its own, migrated to 0012 (before the column)."""
    with database_at(database_url, "0012") as url:
        yield url


WRITES = {
    "message": "INSERT INTO messages (public_id, workspace_name, session_name, peer_name,"
    " seq_in_session, content, token_count) VALUES (:id, 'w', 's', :peer, :seq, 'x', 1)",
    "membership": "INSERT INTO session_peers (workspace_name, session_name, peer_name)"
    " VALUES ('w', 's', :peer) ON CONFLICT DO NOTHING",
    "conclusion by": "INSERT INTO conclusions (id, workspace_name, observer, observed, content)"
    " VALUES (:id, 'w', :peer, 'bob', 'c')",
    "conclusion about": "INSERT INTO conclusions (id, workspace_name, observer, observed,"
    " content) VALUES (:id, 'w', 'bob', :peer, 'c')",
    "card": "INSERT INTO peer_cards (workspace_name, observer, observed, entries)"
    " VALUES ('w', 'bob', :peer, ARRAY['e']) ON CONFLICT DO NOTHING",
    "dream state": "INSERT INTO dream_state (workspace_name, observer, observed, last_dream_at,"
    " last_dream_count) VALUES ('w', :peer, :peer, now(), 0) ON CONFLICT DO NOTHING",
    "peer update": "UPDATE peers SET metadata = '{\"x\": 1}' WHERE name = :peer",
}


async def _attempt(url: str, sql: str, peer: str, seq: int) -> str:
    """'ok', or the SQLSTATE the write failed with."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), {"id": uuid.uuid4().hex, "peer": peer, "seq": seq})
        return "ok"
    except DBAPIError as exc:
        return sqlstate(exc)
    finally:
        await engine.dispose()


async def _run(url: str, sql: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def _has_index(url: str) -> bool:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text(
                    "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_conclusions_source_message_ids'"
                )
            )
            return found.first() is not None
    finally:
        await engine.dispose()


async def test_writes_naming_an_erasing_peer_are_refused_until_downgrade(
    old_database: str,
) -> None:
    config = alembic_config(old_database)
    await _run(old_database, "INSERT INTO workspaces (name) VALUES ('w')")
    await _run(old_database, "INSERT INTO sessions (workspace_name, name) VALUES ('w', 's')")
    await _run(
        old_database,
        "INSERT INTO peers (workspace_name, name) VALUES ('w', 'alice'), ('w', 'bob')",
    )
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _has_index(old_database)
    await _run(old_database, "UPDATE peers SET deleted_at = now() WHERE name = 'alice'")
    seq = 0
    for what, sql in WRITES.items():
        seq += 1
        assert await _attempt(old_database, sql, "alice", seq) == PEER_ERASING, what
        seq += 1
        assert await _attempt(old_database, sql, "bob", seq) == "ok", what
    # a batch with one message of the erasing peer is refused as a whole
    batch = (
        "INSERT INTO messages (public_id, workspace_name, session_name, peer_name,"
        " seq_in_session, content, token_count) VALUES"
        " ('b1', 'w', 's', 'bob', 100, 'x', 1), ('b2', 'w', 's', 'alice', 101, 'x', 1)"
    )
    assert await _attempt(old_database, batch, "", 0) == PEER_ERASING
    # deleting is never refused (the erase job deletes)
    assert await _attempt(old_database, "DELETE FROM peers WHERE name = :peer", "alice", 0) == "ok"

    await asyncio.to_thread(command.downgrade, config, "0012")
    assert not await _has_index(old_database)
    await _run(old_database, "INSERT INTO peers (workspace_name, name) VALUES ('w', 'alice')")
    for what, sql in WRITES.items():
        seq += 1
        assert await _attempt(old_database, sql, "alice", seq) == "ok", what
    await asyncio.to_thread(command.upgrade, config, "head")
