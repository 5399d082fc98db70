"""The embedded Postgres analyses freshly loaded tables within seconds.

Until a table is analysed, the planner takes a new workspace for about one row; search and
context plans for a tenant just loaded (or imported) could then cost seconds per statement.
"""

from __future__ import annotations

import os

import asyncpg
import pytest


async def test_autovacuum_looks_every_ten_seconds(database_url: str) -> None:
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("an external database keeps its own autovacuum settings")
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        assert await connection.fetchval("SHOW autovacuum_naptime") == "10s"
        assert await connection.fetchval("SHOW autovacuum_analyze_scale_factor") == "0.05"
    finally:
        await connection.close()
