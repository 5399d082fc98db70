"""ANALYZE of the busiest tables does only the work the planner uses (migration 0020): under a
steady ingest autovacuum analyses ``jobs`` and ``messages`` every few seconds, each time a
burst of CPU beside the requests (issue 17)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from databases import fresh_database
from honcho_server.db.engine import driver_arguments

JOBS = 10_000  # more than the sample, so the sample is what the targets allow
MESSAGES = 3_000


@pytest.fixture(scope="module")
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with fresh_database(database_url) as url:
        args, kwargs = driver_arguments(url)
        connection = await asyncpg.connect(*args, **kwargs)
        try:
            yield connection
        finally:
            await connection.close()


async def _analyze_verbose(conn: asyncpg.Connection, table: str) -> list[str]:
    said: list[str] = []

    def heard(_: object, message: asyncpg.PostgresLogMessage) -> None:
        said.append(str(message))

    conn.add_log_listener(heard)
    try:
        await conn.execute(f"ANALYZE VERBOSE {table}")
    finally:
        conn.remove_log_listener(heard)
    return said


async def test_the_job_queue_is_analysed_from_a_small_sample(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO jobs (kind, payload, status, finished_at)"
        " SELECT 'embed_messages', jsonb_build_object('message_ids', array[g, g + 1, g + 2]),"
        "        'succeeded', now() FROM generate_series(1, $1) g",
        JOBS,
    )
    said = " ".join(await _analyze_verbose(conn, "jobs"))
    assert f"containing {JOBS} live rows" in said, said
    # 300 rows per unit of the largest column target: a column added with the default
    # target (100) makes this 30,000 (and every analysis of the queue five times the work)
    assert "6000 rows in sample" in said, said
    unread = await conn.fetch(
        "SELECT a.attname FROM pg_attribute a JOIN pg_stats s ON s.attname = a.attname"
        " WHERE a.attrelid = 'jobs'::regclass AND s.tablename = 'jobs'"
        "   AND a.attname IN ('payload', 'last_error', 'usage', 'raw_output')"
    )
    assert unread == []  # never filtered on: no statistics to sort or store


async def test_a_peer_scoped_text_match_is_estimated_from_the_one_copy_of_its_statistics(
    conn: asyncpg.Connection,
) -> None:
    await conn.execute(
        """
        INSERT INTO workspaces (name) VALUES ('w');
        INSERT INTO peers (workspace_name, name) VALUES ('w', 'ann'), ('w', 'bob');
        INSERT INTO sessions (workspace_name, name, last_seq) VALUES ('w', 's', 3000);
        """
    )
    await conn.execute(
        "INSERT INTO messages (public_id, workspace_name, session_name, peer_name,"
        "                      seq_in_session, content, token_count)"
        " SELECT 'm' || g, 'w', 's', CASE WHEN g % 2 = 0 THEN 'ann' ELSE 'bob' END, g,"
        "        CASE WHEN g % 3 = 0 THEN 'a zebra walked by ' || g"
        "             ELSE 'the weather report number ' || g END, 5"
        "   FROM generate_series(1, $1) g",
        MESSAGES,
    )
    await conn.execute("ANALYZE messages")
    kept = await conn.fetch(
        "SELECT tablename FROM pg_stats WHERE tablename IN"
        " ('ix_messages_session_fts', 'ix_messages_peer_fts') ORDER BY tablename"
    )
    assert [r["tablename"] for r in kept] == ["ix_messages_session_fts"]

    explained = await conn.fetchval(
        "EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM messages m"
        ' WHERE m.workspace_name COLLATE "C" = $1 AND m.peer_name COLLATE "C" = $2'
        "   AND to_tsvector('english', m.content) @@ websearch_to_tsquery('english', $3)",
        "w",
        "ann",
        "zebra",
    )
    plan = json.loads(explained)[0]["Plan"]
    actual = plan["Actual Rows"]
    assert actual == MESSAGES // 6  # every sixth message is ann's and about a zebra
    # from statistics: without any, Postgres guesses 0.5% of the matching rows (a handful)
    assert actual / 2 <= plan["Plan Rows"] <= actual * 2, plan["Plan Rows"]
