"""The ingest write statement builds some job rows itself (``repositories.ingest``): the
embedding jobs from the ids it inserts, the summary job from the numbers it reserves. Those
rows must be the ones the queue's models would write, or a worker would fail them; and what
the statement decides (how many embedding jobs, whether a summary is due) must match the
rules the Python side states. With README defaults: embedding and the deriver on."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from honcho_server.app import create_app
from honcho_server.db.repositories.ingest import Batch, IngestRepository
from honcho_server.db.session import unit_of_work
from honcho_server.deriver.config import Defaults
from honcho_server.ids import new_id
from honcho_server.queue.payloads import (
    BULK_PRIORITY,
    MAX_IDS_PER_JOB,
    EmbedMessages,
    SummarizePayload,
    summarize_key,
)
from honcho_server.schemas.messages import MessageBatchCreate
from honcho_server.services.ingest_jobs import plan
from honcho_server.services.messages import store_batch
from honcho_server.settings import Settings
from statement_counter import Counted, counting


@pytest.fixture
async def busy(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app with embedding and the deriver on, its worker off (the jobs stay queued)."""
    settings = Settings(_env_file=None, database_url=database_url, embedded_worker=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        yield conn
    finally:
        await conn.close()


def _batch(n: int, start: int = 0) -> dict[str, Any]:
    return {"messages": [{"peer_id": f"p{i % 2}", "content": f"m{start + i}"} for i in range(n)]}


async def _jobs(admin: asyncpg.Connection, ws: str, kind: str) -> list[asyncpg.Record]:
    return await admin.fetch(
        "SELECT payload::text AS payload, session_name, lock_key, dedupe_key, priority,"
        " max_attempts FROM jobs WHERE workspace_name = $1 AND kind = $2 ORDER BY id",
        ws,
        kind,
    )


async def _ids(admin: asyncpg.Connection, ws: str) -> list[int]:
    rows = await admin.fetch(
        "SELECT id FROM messages WHERE workspace_name = $1 ORDER BY seq_in_session", ws
    )
    return [int(r["id"]) for r in rows]


async def _footprint(admin: asyncpg.Connection, ws: str) -> dict[str, int]:
    """What a workspace holds: peers, members, messages, jobs, and the session's counter."""
    row = await admin.fetchrow(
        "SELECT (SELECT count(*) FROM peers WHERE workspace_name = $1) AS peers,"
        " (SELECT count(*) FROM session_peers WHERE workspace_name = $1) AS members,"
        " (SELECT count(*) FROM messages WHERE workspace_name = $1) AS messages,"
        " (SELECT count(*) FROM jobs WHERE workspace_name = $1) AS jobs,"
        " (SELECT last_seq FROM sessions WHERE workspace_name = $1) AS last_seq",
        ws,
    )
    return dict(row)


async def test_embedding_jobs_are_the_models_rows(
    busy: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    ws = f"ingest-{uuid.uuid4().hex[:8]}"
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    assert (await busy.post(url, json=_batch(1))).status_code == 201
    r = await busy.post(url, json=_batch(MAX_IDS_PER_JOB, start=1))  # the most a request takes
    assert r.status_code == 201, r.text
    assert [m["content"] for m in r.json()] == [f"m{i}" for i in range(1, MAX_IDS_PER_JOB + 1)]

    ids = await _ids(admin, ws)
    jobs = await _jobs(admin, ws, "embed_messages")
    assert len(jobs) == 2
    for job, expected in zip(jobs, ([ids[0]], ids[1:]), strict=True):
        model = EmbedMessages(workspace=ws, session="s", message_ids=expected)
        assert json.loads(job["payload"]) == json.loads(model.model_dump_json())  # as queued
        assert job["session_name"] == "s"
        assert (job["lock_key"], job["dedupe_key"]) == (None, None)
        assert (job["priority"], job["max_attempts"]) == (BULK_PRIORITY, model.max_attempts)


async def test_a_batch_is_split_into_embedding_jobs_in_order(
    app: FastAPI, admin: asyncpg.Connection
) -> None:
    """Numbers 4 to 103 in jobs of 40: 40, 40 and 20 ids, each run of them in order."""
    ws = f"ingest-{uuid.uuid4().hex[:8]}"
    async with unit_of_work(app.state.session_factory) as db:
        await store_batch(db, ws, "s", MessageBatchCreate.model_validate(_batch(3)), embed=False)
    body = MessageBatchCreate.model_validate(_batch(100, start=3))
    async with unit_of_work(app.state.session_factory) as db:
        repo = IngestRepository(db)
        state = (await repo.state(ws, "s", ["p0", "p1"], "{}")).state
        planned = plan(state, ws, "s", body.messages, Defaults())
        stored = await repo.write(
            ws,
            "s",
            ["p0", "p1"],
            "{}",
            Batch(
                public_ids=[new_id() for _ in body.messages],
                senders=[m.peer_id for m in body.messages],
                contents=[m.content for m in body.messages],
                token_counts=[1] * 100,
                metadata=["{}"] * 100,
                internal=[json.dumps(f) for f in planned.flags],
                created_at=[None] * 100,
            ),
            [],
            embed_per_job=40,
            summary=None,
        )
    assert stored.last == 103
    ids = (await _ids(admin, ws))[3:]
    assert [r.id for r in stored.rows] == ids
    jobs = await _jobs(admin, ws, "embed_messages")
    got = sorted(
        (EmbedMessages.model_validate_json(j["payload"]).message_ids for j in jobs),
        key=lambda message_ids: message_ids[0],
    )
    assert got == [ids[:40], ids[40:80], ids[80:]]


async def test_a_summary_is_queued_when_the_numbers_cross_a_threshold(
    busy: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    """Defaults: a short summary every 20 messages. 19 messages queue none, the 20th one
    (seq 20), and a batch of 3 from seq 39 to 41 another one (due at 40): each job's ``seq`` is
    the batch's last number, and one is waiting at a time (its dedupe key)."""
    ws = f"ingest-{uuid.uuid4().hex[:8]}"
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    assert (await busy.post(url, json=_batch(19))).status_code == 201
    assert await _jobs(admin, ws, "summarize") == []
    assert (await busy.post(url, json=_batch(1, start=19))).status_code == 201
    [job] = await _jobs(admin, ws, "summarize")
    payload = SummarizePayload.model_validate_json(job["payload"])
    assert payload == SummarizePayload(workspace=ws, session="s", seq=20)
    key = summarize_key(ws, "s")
    assert (job["lock_key"], job["dedupe_key"], job["session_name"]) == (key, key, "s")
    assert (job["priority"], job["max_attempts"]) == (payload.priority, payload.max_attempts)

    await admin.execute("UPDATE jobs SET status = 'succeeded' WHERE dedupe_key = $1", key)
    assert (await busy.post(url, json=_batch(18, start=20))).status_code == 201  # to seq 38
    assert len(await _jobs(admin, ws, "summarize")) == 1
    assert (await busy.post(url, json=_batch(3, start=38))).status_code == 201  # 39..41
    jobs = await _jobs(admin, ws, "summarize")
    assert [SummarizePayload.model_validate_json(j["payload"]).seq for j in jobs] == [20, 41]


async def test_summaries_off_queue_no_summary(
    busy: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    ws = f"ingest-{uuid.uuid4().hex[:8]}"
    config = {"summary": {"enabled": False}}
    r = await busy.post(f"/v3/workspaces/{ws}/sessions", json={"id": "s", "configuration": config})
    assert r.status_code in (200, 201), r.text
    assert (
        await busy.post(f"/v3/workspaces/{ws}/sessions/s/messages", json=_batch(40))
    ).status_code == 201
    assert await _jobs(admin, ws, "summarize") == []
    assert len(await _jobs(admin, ws, "embed_messages")) == 1


async def test_a_refused_batch_writes_nothing(
    busy: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    """A deleted session refuses the batch (404) in the write statement itself: no author,
    member, message or job from it, and the session's numbers are not advanced."""
    ws = f"ingest-{uuid.uuid4().hex[:8]}"
    base = f"/v3/workspaces/{ws}/sessions/s"
    assert (await busy.post(f"{base}/messages", json=_batch(2))).status_code == 201
    await admin.execute(
        "UPDATE sessions SET is_active = false WHERE workspace_name = $1 AND name = 's'", ws
    )
    before = await _footprint(admin, ws)
    body = {"messages": [{"peer_id": "newcomer", "content": "too late"}]}
    r = await busy.post(f"{base}/messages", json=body)
    assert r.status_code == 404, r.text
    after = await _footprint(admin, ws)
    assert after == before


async def test_a_kept_state_is_used_only_while_it_is_the_sessions(
    busy: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    """A session's next batch by the same authors is planned from the state kept from the
    last one and written in one statement, no read first; if the state changed since (here
    the session's configuration, changed through the API as another process would), the
    write refuses the batch and it is planned again from the state it finds."""
    ws = f"ingest-{uuid.uuid4().hex[:8]}"
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    app: FastAPI = busy._transport.app  # type: ignore[attr-defined]

    async def post(content: str) -> Counted:
        with counting(app.state.engine) as counted:
            r = await busy.post(url, json={"messages": [{"peer_id": "p0", "content": content}]})
        assert r.status_code == 201, r.text
        return counted

    assert (await post("m1")).round_trips == 2  # nothing kept yet: read, then write
    assert (await post("m2")).round_trips == 1
    r = await busy.put(
        f"/v3/workspaces/{ws}/sessions/s",
        json={"configuration": {"reasoning": {"enabled": False}}},
    )
    assert r.status_code == 200, r.text
    assert (await post("m3")).round_trips == 3  # refused, read again, written
    assert (await post("m4")).round_trips == 1
    rows = await admin.fetch(
        "SELECT content, internal_metadata::text AS internal FROM messages"
        " WHERE workspace_name = $1 ORDER BY seq_in_session",
        ws,
    )
    skipped = {r["content"]: json.loads(r["internal"]).get("skip_reasoning") for r in rows}
    assert skipped == {"m1": None, "m2": None, "m3": True, "m4": True}
    assert [r["content"] for r in rows] == ["m1", "m2", "m3", "m4"]  # each stored once
