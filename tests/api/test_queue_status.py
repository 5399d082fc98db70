"""Queue status: derivation jobs of a workspace counted by state, per session, with filters.

Jobs are inserted directly. Waiting ones are scheduled a day ahead, so no worker sharing the
test database claims them while a test counts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.db.session import unit_of_work
from honcho_server.services.queue_status import DERIVATION_KINDS

Job = tuple[str, str | None, str, dict[str, Any]]  # kind, session, status, payload


async def _insert(app: FastAPI, ws: str, jobs: list[Job]) -> None:
    async with unit_of_work(app.state.session_factory) as db:
        for kind, session, status, payload in jobs:
            await db.execute(
                text(
                    "INSERT INTO jobs (kind, payload, workspace_name, session_name)"
                    " VALUES (:kind, CAST(:payload AS jsonb), :ws, :session)"
                ),
                {
                    "kind": kind,
                    "payload": json.dumps({**payload, "_status": status}),
                    "ws": ws,
                    "session": session,
                },
            )
        await db.execute(
            text(
                "UPDATE jobs SET status = payload->>'_status', "
                "scheduled_at = now() + interval '1 day' WHERE workspace_name = :ws"
            ),
            {"ws": ws},
        )


async def _status(client: httpx.AsyncClient, ws: str, **params: str) -> dict[str, Any]:
    r = await client.get(f"/v3/workspaces/{ws}/queue/status", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _counts(total: int, completed: int, in_progress: int, pending: int) -> dict[str, int]:
    return {
        "total_work_units": total,
        "completed_work_units": completed,
        "in_progress_work_units": in_progress,
        "pending_work_units": pending,
    }


DERIVE = {"observers": ["alice", "bob"], "observed": "carol"}
DREAM = {"observer": "alice", "observed": "carol"}


@pytest.fixture
async def seeded(app: FastAPI, ws: str) -> AsyncIterator[str]:
    await _insert(
        app,
        ws,
        [
            ("derive", "s1", "todo", DERIVE),
            ("derive", "s1", "doing", DERIVE),
            ("derive", "s1", "succeeded", {"observers": ["bob"], "observed": "dave"}),
            ("summarize", "s1", "failed", {}),
            ("summarize", "s2", "todo", {}),
            ("dream", None, "todo", DREAM),
            # not derivation work: never counted
            ("delete_session", "s1", "todo", {}),
            ("deliver_webhook", None, "todo", {}),
            ("probe", None, "doing", {}),
        ],
    )
    await _insert(app, f"{ws}-other", [("derive", "s1", "todo", DERIVE)])
    yield ws
    async with unit_of_work(app.state.session_factory) as db:  # leave nothing for other tests
        await db.execute(
            text("DELETE FROM jobs WHERE workspace_name IN (:ws, :other)"),
            {"ws": ws, "other": f"{ws}-other"},
        )


def test_derivation_kinds() -> None:
    assert frozenset({"derive", "summarize", "dream"}) == DERIVATION_KINDS


async def test_totals_and_sessions_by_public_name(client: httpx.AsyncClient, seeded: str) -> None:
    body = await _status(client, seeded)
    assert list(body) == [*_counts(0, 0, 0, 0), "sessions"]
    assert {k: v for k, v in body.items() if k != "sessions"} == _counts(6, 2, 1, 3)
    assert body["sessions"] == {  # the session-less dream counts only in the totals
        "s1": {"session_id": "s1", **_counts(4, 2, 1, 1)},
        "s2": {"session_id": "s2", **_counts(1, 0, 0, 1)},
    }


async def test_session_filter_drops_the_breakdown(client: httpx.AsyncClient, seeded: str) -> None:
    assert await _status(client, seeded, session_id="s1") == {
        **_counts(4, 2, 1, 1),
        "sessions": None,
    }
    assert await _status(client, seeded, session_id="nope") == {
        **_counts(0, 0, 0, 0),
        "sessions": None,
    }


async def test_observer_and_sender_filters_combine_with_and(
    client: httpx.AsyncClient, seeded: str
) -> None:
    def totals(body: dict[str, Any]) -> tuple[int, int, int, int]:
        return (
            body["total_work_units"],
            body["completed_work_units"],
            body["in_progress_work_units"],
            body["pending_work_units"],
        )

    # observer matches the observers list of derivation jobs and a dream's observer
    assert totals(await _status(client, seeded, observer_id="alice")) == (3, 0, 1, 2)
    assert totals(await _status(client, seeded, observer_id="bob")) == (3, 1, 1, 1)
    assert totals(await _status(client, seeded, sender_id="carol")) == (3, 0, 1, 2)
    assert totals(await _status(client, seeded, sender_id="dave")) == (1, 1, 0, 0)
    assert totals(await _status(client, seeded, observer_id="bob", sender_id="dave")) == (
        1,
        1,
        0,
        0,
    )
    assert totals(await _status(client, seeded, observer_id="alice", sender_id="dave")) == (
        0,
        0,
        0,
        0,
    )
    both = await _status(client, seeded, observer_id="alice", sender_id="carol", session_id="s1")
    assert totals(both) == (2, 0, 1, 1) and both["sessions"] is None
    scoped = await _status(client, seeded, observer_id="alice")
    assert scoped["sessions"] == {"s1": {"session_id": "s1", **_counts(2, 0, 1, 1)}}


async def test_empty_parameters_are_absent(client: httpx.AsyncClient, seeded: str) -> None:
    assert await _status(
        client, seeded, observer_id="", sender_id="", session_id=""
    ) == await _status(client, seeded)


async def test_unknown_workspace_or_no_jobs_is_all_zeros(
    client: httpx.AsyncClient, ws: str
) -> None:
    empty = {**_counts(0, 0, 0, 0), "sessions": None}
    assert await _status(client, ws) == empty
    assert await _status(client, ws, observer_id="x", sender_id="y", session_id="z") == empty
