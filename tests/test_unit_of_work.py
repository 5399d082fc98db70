"""run_unit_of_work: the one place a transaction is restarted, against real Postgres aborts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from honcho_server.db.errors import sqlstate
from honcho_server.db.session import ATTEMPTS, Restart, run_unit_of_work

LOCK = "SELECT 1 FROM workspaces WHERE name = :name FOR UPDATE"


async def _workspaces(app: FastAPI, *names: str) -> None:
    async with app.state.engine.begin() as conn:
        for name in names:
            await conn.execute(text("INSERT INTO workspaces (name) VALUES (:name)"), {"name": name})


async def test_a_deadlock_victim_runs_again_from_the_start(app: FastAPI, ws: str) -> None:
    a, b = f"{ws}-a", f"{ws}-b"
    await _workspaces(app, a, b)
    attempts = 0
    waiting_for_a = asyncio.Event()

    async def work(db: AsyncSession) -> int:
        nonlocal attempts
        attempts += 1
        await db.execute(text(LOCK), {"name": b})
        waiting_for_a.set()
        await db.execute(text(LOCK), {"name": a})  # first attempt: held by `other`
        return attempts

    async with app.state.engine.connect() as other:
        await other.execute(text(LOCK), {"name": a})
        unit = asyncio.create_task(run_unit_of_work(app.state.session_factory, work))
        await waiting_for_a.wait()
        await asyncio.sleep(0.2)  # the unit waits longer, so its deadlock check fires first
        await other.execute(text(LOCK), {"name": b})  # closes the cycle
        await other.rollback()
    assert await unit == 2


async def test_a_serialization_failure_runs_again(app: FastAPI, ws: str) -> None:
    await _workspaces(app, ws)
    attempts = 0

    async def work(db: AsyncSession) -> None:
        nonlocal attempts
        attempts += 1
        await db.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        await db.execute(text("SELECT metadata FROM workspaces WHERE name = :w"), {"w": ws})
        if attempts == 1:  # someone else changes the row after this snapshot was taken
            async with app.state.engine.begin() as conn:
                await conn.execute(
                    text("UPDATE workspaces SET metadata = '{\"x\": 1}' WHERE name = :w"),
                    {"w": ws},
                )
        await db.execute(
            text("UPDATE workspaces SET metadata = metadata || '{\"y\": 2}' WHERE name = :w"),
            {"w": ws},
        )

    await run_unit_of_work(app.state.session_factory, work)
    assert attempts == 2
    async with app.state.engine.connect() as conn:
        sql = "SELECT metadata FROM workspaces WHERE name = :w"
        assert (await conn.execute(text(sql), {"w": ws})).scalar_one() == {"x": 1, "y": 2}


async def test_other_errors_are_not_retried_and_restarts_are_bounded(app: FastAPI, ws: str) -> None:
    await _workspaces(app, ws)
    calls: list[str] = []

    async def duplicate(db: AsyncSession) -> Any:
        calls.append("duplicate")
        await db.execute(text("INSERT INTO workspaces (name) VALUES (:w)"), {"w": ws})

    with pytest.raises(DBAPIError) as raised:
        await run_unit_of_work(app.state.session_factory, duplicate)
    assert sqlstate(raised.value) == "23505" and calls == ["duplicate"]

    async def always(db: AsyncSession) -> None:
        calls.append("restart")
        await db.execute(text("UPDATE workspaces SET metadata = '{}' WHERE name = :w"), {"w": ws})
        raise Restart

    with pytest.raises(Restart):
        await run_unit_of_work(app.state.session_factory, always)
    assert calls.count("restart") == ATTEMPTS
