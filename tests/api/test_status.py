"""The status view: a route and a CLI command that tell the truth about the background."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.db.session import unit_of_work
from honcho_server.worker.kinds.probe import Probe, enqueue_probe
from servers import free_port


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
    # 0 when ok, 1 when degraded (other tests may have left failed jobs behind)
    assert out.returncode == (0 if ": OK" in out.stdout.splitlines()[0] else 1), out.stderr
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


def _status_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "honcho_server", "status", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_status_from_another_shell_reports_the_running_workers_llm(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """The test app's worker runs with no LLM; a shell whose own settings name a model must
    still be told what the running worker has (it used to print the shell's settings)."""
    for _ in range(100):  # the in-process worker has reported at least once
        workers = (await client.get("/status")).json()["workers"]
        if any(w["alive"] and w["llm"] for w in workers):
            break
        await asyncio.sleep(0.1)
    env = {"DATABASE_URL": database_url, "LLM_MODEL": "shell-only-model"}
    out = await asyncio.to_thread(_status_cli, env, "--json")
    body = json.loads(out.stdout)
    assert body["llm_source"] == "workers"
    assert body["llm"][0].startswith("no LLM configured")
    assert "shell-only-model" not in out.stdout
    assert out.returncode == (0 if body["status"] == "ok" else 1)


async def test_status_exits_1_when_degraded(app: FastAPI, ws: str, database_url: str) -> None:
    async with unit_of_work(app.state.session_factory) as db:
        await enqueue_probe(db, Probe(note=ws, fail=True), max_attempts=1)
    try:
        for _ in range(100):
            async with app.state.engine.connect() as conn:
                sql = "SELECT status FROM jobs WHERE kind = 'probe' AND payload->>'note' = :n"
                state = (await conn.execute(text(sql), {"n": ws})).scalar_one()
            if state == "failed":
                break
            await asyncio.sleep(0.05)
        out = await asyncio.to_thread(_status_cli, {"DATABASE_URL": database_url})
        assert out.returncode == 1, out.stdout
        assert out.stdout.splitlines()[0].endswith("DEGRADED")
    finally:
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM jobs WHERE kind = 'probe' AND payload->>'note' = :n"), {"n": ws}
            )


def test_status_exits_2_with_one_line_when_the_database_is_unreachable() -> None:
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/honcho"
    out = _status_cli({"DATABASE_URL": url})
    assert out.returncode == 2
    assert out.stdout.splitlines()[0] == "honcho-server: DOWN"
    assert "Traceback" not in out.stdout + out.stderr
    assert len((out.stdout + out.stderr).strip().splitlines()) <= 3
