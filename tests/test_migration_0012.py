"""Migration 0012 (conclusion provenance): ``source_ids`` filled in for rows written before it,
from the ids dreams kept in their metadata and from the texts the deriver's deductions cited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from databases import database_at
from honcho_server.db.migrate import alembic_config


@pytest.fixture
def old_database(database_url: str) -> Iterator[str]:
    """A database of its own, migrated to 0011 (before the column)."""
    with database_at(database_url, "0011") as url:
        yield url


ROWS = [
    # id, observer, level, content, premises, metadata, deleted
    ("nurse", "alice", "explicit", "Alice works night shifts.", [], {}, False),
    ("lisbon", "alice", "explicit", "alice lives in   Lisbon", [], {}, False),
    ("gone", "alice", "explicit", "alice had a cat", [], {}, True),
    ("bob-nurse", "bob", "explicit", "Alice works night shifts.", [], {}, False),
    (
        "sleeps",
        "alice",
        "deductive",
        "alice sleeps by day",
        ["alice works night shifts", "ALICE LIVES IN LISBON!", "alice had a cat", "unknown"],
        {},
        False,
    ),
    ("dreamed", "alice", "deductive", "d", ["x"], {"premise_ids": ["lisbon", "nurse"]}, False),
    ("induced", "alice", "inductive", "i", [], {"source_ids": ["nurse", "lisbon"]}, False),
]


async def _seed_and_read(url: str, upgrade_between: bool) -> dict[str, list[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO workspaces (name) VALUES ('w')"))
            for id_, observer, level, content, premises, meta, deleted in ROWS:
                await conn.execute(
                    text(
                        "INSERT INTO conclusions (id, workspace_name, observer, observed, level,"
                        " content, premises, internal_metadata, deleted_at) VALUES (:id, 'w',"
                        " :observer, 'alice', :level, :content, :premises,"
                        " CAST(:meta AS jsonb), CASE WHEN :deleted THEN now() END)"
                    ),
                    {
                        "id": id_,
                        "observer": observer,
                        "level": level,
                        "content": content,
                        "premises": premises,
                        "meta": json.dumps(meta),
                        "deleted": deleted,
                    },
                )
    finally:
        await engine.dispose()
    if upgrade_between:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, source_ids FROM conclusions"))).all()
    finally:
        await engine.dispose()
    return {r.id: list(r.source_ids) for r in rows}


async def test_existing_conclusions_get_their_sources(old_database: str) -> None:
    sources = await _seed_and_read(old_database, upgrade_between=True)
    assert sources == {
        "nurse": [],
        "lisbon": [],
        "gone": [],
        "bob-nurse": [],
        # premises in cited order, matched in the same collection, live rows only
        "sleeps": ["nurse", "lisbon"],
        "dreamed": ["lisbon", "nurse"],
        "induced": ["nurse", "lisbon"],
    }


async def _columns(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            sql = (
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'conclusions'"
            )
            return set((await conn.execute(text(sql))).scalars())
    finally:
        await engine.dispose()


async def test_downgrade_drops_the_column(old_database: str) -> None:
    config = alembic_config(old_database)
    assert "source_ids" not in await _columns(old_database)
    await asyncio.to_thread(command.upgrade, config, "0012")
    assert "source_ids" in await _columns(old_database)
    await asyncio.to_thread(command.downgrade, config, "0011")
    assert "source_ids" not in await _columns(old_database)
    await asyncio.to_thread(command.upgrade, config, "head")
