"""The status view: a route and a CLI command that tell the truth about the background."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.db.session import unit_of_work
from honcho_server.worker.kinds.probe import Probe, enqueue_probe


async def test_status_reports_workers_queue_and_failures(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    async with unit_of_work(app.state.session_factory) as db:
        await enqueue_probe(db, Probe(note=ws, fail=True), max_attempts=1)
    for _ in range(100):  # the in-process worker runs it and gives up at once
        body = (await client.get("/status")).json()
        mine = [
            j
            for j in body["failed_jobs"]
            if j["kind"] == "probe" and "asked to fail" in j["last_error"]
        ]
        if mine:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(body)
    assert body["status"] == "degraded"
    assert any("failed" in p for p in body["problems"])
    assert body["database"]["ok"] is True
    assert any(w["alive"] for w in body["workers"])
    assert body["queue"]["failed"] >= 1 and "probe" in body["queue"]["by_kind"]
    assert "all-MiniLM-L6-v2" in body["embedder"]
    assert body["llm"] and body["llm"][0].startswith("no LLM configured")
    async with app.state.engine.begin() as conn:  # leave the shared database tidy
        await conn.execute(
            text("DELETE FROM jobs WHERE kind = 'probe' AND payload->>'note' = :n"), {"n": ws}
        )


def test_status_command(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    out = subprocess.run(
        [sys.executable, "-m", "honcho_server", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "database   ok" in out.stdout and "queue" in out.stdout
    assert "no LLM configured" in out.stdout
    as_json = subprocess.run(
        [sys.executable, "-m", "honcho_server", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"database"' in as_json.stdout and '"workers"' in as_json.stdout
