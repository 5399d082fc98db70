"""``GET /deriver/metrics`` (upstream Honcho 3.1.2's service-wide backlog) and
``GET /v3/workspaces/{w}/deriver/metrics`` (the same for one workspace), on a database of
their own, with jobs written straight into the queue in every state that counts."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from databases import fresh_app

FIELDS = [
    "outstanding_work_seconds",
    "eligible_work_units",
    "claimed_work_units",
    "pending_items",
    "oldest_pending_age_seconds",
    "embeddings_pending",
    "embeddings_pending_due",
    "dreams_due",
    "measured_at",
    "measurement_age_seconds",
]


@pytest.fixture(scope="module")
async def metrics_app(database_url: str) -> AsyncIterator[FastAPI]:
    async with fresh_app(database_url) as app:
        yield app


@pytest.fixture
async def client(metrics_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=metrics_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def _job(
    app: FastAPI,
    kind: str,
    workspace: str = "w",
    *,
    status: str = "todo",
    lock: str | None = None,
    due_in: float = 0,
    age: float = 0,
    heartbeat_age: float | None = None,
    ids: list[Any] | None = None,
) -> None:
    payload: dict[str, Any] = {"kind": kind, "workspace": workspace}
    if ids is not None:
        payload["message_ids" if kind == "embed_messages" else "conclusion_ids"] = ids
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO jobs (kind, payload, workspace_name, lock_key, status,"
                " scheduled_at, created_at, started_at, heartbeat_at) VALUES (:kind,"
                " CAST(:payload AS jsonb), :ws, :lock, :status,"
                " now() + make_interval(secs => :due_in), now() - make_interval(secs => :age),"
                " CASE WHEN :status = 'doing' THEN now() END,"
                " now() - make_interval(secs => :hb))"
            ),
            {
                "kind": kind,
                "payload": json.dumps(payload),
                "ws": workspace,
                "lock": lock,
                "status": status,
                "due_in": due_in,
                "age": age,
                "hb": heartbeat_age if heartbeat_age is not None else 0,
            },
        )


async def _metrics(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert list(body) == FIELDS
    assert abs(body["measured_at"] - time.time()) < 5 and body["measurement_age_seconds"] == 0
    return body


def _counts(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("measured_at", "oldest_pending_age_seconds")}


async def test_backlog_by_state(client: httpx.AsyncClient, metrics_app: FastAPI) -> None:
    app = metrics_app
    assert _counts(await _metrics(client, "/deriver/metrics")) == {
        "outstanding_work_seconds": 0.0,
        "eligible_work_units": 0,
        "claimed_work_units": 0,
        "pending_items": 0,
        "embeddings_pending": 0,
        "embeddings_pending_due": 0,
        "dreams_due": 0,
        "measurement_age_seconds": 0.0,
    }
    await _job(app, "derive", lock="A", age=100)  # unit A: due
    await _job(app, "derive", lock="A")  # the same unit again
    await _job(app, "summarize", lock="B")  # due, but a job of unit B runs:
    await _job(app, "summarize", lock="B", status="doing")  # claimed
    await _job(app, "card", lock="C", due_in=60)  # waits for later
    await _job(app, "deliver_webhook")  # a unit of its own
    await _job(app, "dream", lock="D")  # due
    await _job(app, "dream", lock="E", due_in=600)  # not yet
    await _job(app, "derive", lock="F", status="doing", heartbeat_age=600)  # a dead worker's
    await _job(app, "embed_messages", ids=[1, 2, 3])
    await _job(app, "embed_messages", ids=[4, 5], due_in=30)  # backing off
    await _job(app, "embed_conclusions", ids=["a", "b", "c", "d"], status="doing")
    await _job(app, "probe")  # a worker's endpoint check: not work
    await _job(app, "derive", lock="G", status="succeeded")
    await _job(app, "derive", lock="H", status="failed")
    await _job(app, "derive", "other", lock="I")

    mine = await _metrics(client, "/v3/workspaces/w/deriver/metrics")
    assert _counts(mine) == {
        "outstanding_work_seconds": 1800.0,
        "eligible_work_units": 3,  # A, the webhook, D
        "claimed_work_units": 1,  # B (F's worker stopped heartbeating)
        "pending_items": 7,
        "embeddings_pending": 9,
        "embeddings_pending_due": 7,
        "dreams_due": 1,
        "measurement_age_seconds": 0.0,
    }
    assert 99 <= mine["oldest_pending_age_seconds"] < 130
    everything = await _metrics(client, "/deriver/metrics")
    assert (everything["eligible_work_units"], everything["pending_items"]) == (4, 8)

    # nothing due and nothing running: the age of the oldest waiting item
    await _job(app, "derive", "later", lock="J", due_in=300, age=50)
    later = await _metrics(client, "/v3/workspaces/later/deriver/metrics")
    assert (later["eligible_work_units"], later["pending_items"]) == (0, 1)
    assert later["outstanding_work_seconds"] == later["oldest_pending_age_seconds"]
    assert 49 <= later["oldest_pending_age_seconds"] < 80
    # an unknown workspace: zeros, as queue status answers
    nobody = await _metrics(client, "/v3/workspaces/nobody/deriver/metrics")
    assert nobody["outstanding_work_seconds"] == 0 and nobody["pending_items"] == 0


async def test_documented_like_upstream(client: httpx.AsyncClient) -> None:
    """The service-wide route is left out of the OpenAPI document, as upstream does; the
    workspace route is documented."""
    spec = (await client.get("/openapi.json")).json()
    assert "/deriver/metrics" not in spec["paths"]
    get = spec["paths"]["/v3/workspaces/{workspace_id}/deriver/metrics"]["get"]
    ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert list(schema["properties"]) == FIELDS and sorted(schema["required"]) == sorted(FIELDS)
