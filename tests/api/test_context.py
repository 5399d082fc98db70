"""Session context against real data: the budget rules, the summary boundary, big sessions."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.db.repositories.summaries import SummaryRepository
from honcho_server.db.session import unit_of_work
from honcho_server.services.context.budget import choose_summary, newest_that_fit

WORDS = ["alpha", "beta", "gamma", "delta", "hiking", "lisbon", "coffee", "rover", "piano", "tue"]


async def _add(
    client: httpx.AsyncClient, ws: str, s: str, contents: list[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(contents), 100):
        batch = [
            {"peer_id": f"p{j % 3}", "content": c} for j, c in enumerate(contents[i : i + 100])
        ]
        r = await client.post(
            f"/v3/workspaces/{ws}/sessions/{s}/messages", json={"messages": batch}
        )
        assert r.status_code == 201, r.text
        out += r.json()
    return out


async def _summarise(
    app: FastAPI, ws: str, s: str, kind: str, covers_public_id: str, tokens: int
) -> None:
    async with unit_of_work(app.state.session_factory) as db:
        internal = (
            await db.execute(
                text("SELECT id FROM messages WHERE public_id = :p"), {"p": covers_public_id}
            )
        ).scalar_one()
        await SummaryRepository(db).save(
            ws,
            s,
            kind,
            content=f"{kind} summary",
            message_id=internal,
            message_public_id=covers_public_id,
            token_count=tokens,
        )


async def _context(client: httpx.AsyncClient, ws: str, s: str, **params: Any) -> dict[str, Any]:
    r = await client.get(f"/v3/workspaces/{ws}/sessions/{s}/context", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_context_without_summary_takes_newest_that_fit(
    client: httpx.AsyncClient, ws: str
) -> None:
    msgs = await _add(client, ws, "s", [" ".join(WORDS[: i % 10 + 1]) for i in range(30)])
    everything = await _context(client, ws, "s")
    assert [m["id"] for m in everything["messages"]] == [m["id"] for m in msgs]
    assert everything["summary"] is None and everything["peer_card"] is None
    assert list(everything) == ["id", "messages", "summary", "peer_representation", "peer_card"]

    budget = sum(m["token_count"] for m in msgs[-5:])
    ctx = await _context(client, ws, "s", tokens=budget)
    assert [m["id"] for m in ctx["messages"]] == [m["id"] for m in msgs[-5:]]
    ctx = await _context(client, ws, "s", tokens=budget - 1)
    assert [m["id"] for m in ctx["messages"]] == [m["id"] for m in msgs[-4:]]
    assert (await _context(client, ws, "s", tokens=0))["messages"] == []
    negative = await client.get(f"/v3/workspaces/{ws}/sessions/s/context", params={"tokens": -3})
    assert negative.status_code == 422  # refused here (see test_context_bounds.py)
    assert (await _context(client, ws, "unknown-session"))["messages"] == []


async def test_summary_boundary_and_choice(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    msgs = await _add(client, ws, "s", [f"message number {i} " + WORDS[i % 10] for i in range(40)])
    await _summarise(app, ws, "s", "short", msgs[19]["id"], tokens=50)
    ctx = await _context(client, ws, "s", tokens=1000)
    assert ctx["summary"]["summary_type"] == "honcho_chat_summary_short"
    assert ctx["summary"]["message_id"] == msgs[19]["id"]
    assert ctx["summary"]["created_at"].endswith("Z")
    assert [m["id"] for m in ctx["messages"]] == [m["id"] for m in msgs[20:]]  # strictly after

    await _summarise(app, ws, "s", "long", msgs[29]["id"], tokens=300)
    ctx = await _context(client, ws, "s", tokens=1000)  # 300 <= 400 and longer than short
    assert ctx["summary"]["summary_type"] == "honcho_chat_summary_long"
    assert [m["id"] for m in ctx["messages"]] == [m["id"] for m in msgs[30:]]
    ctx = await _context(client, ws, "s", tokens=700)  # long (300) > 280: falls back to short
    assert ctx["summary"]["summary_type"] == "honcho_chat_summary_short"
    ctx = await _context(client, ws, "s", tokens=1000, summary=False)
    assert ctx["summary"] is None
    assert [m["id"] for m in ctx["messages"]][-1] == msgs[-1]["id"]

    summaries = (await client.get(f"/v3/workspaces/{ws}/sessions/s/summaries")).json()
    if "short_summary" in summaries:  # the summaries route (same issue) may land separately
        assert summaries["long_summary"]["message_id"] == msgs[29]["id"]


async def test_random_sessions_match_the_rules(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    rng = random.Random(20261121)
    for case in range(4):
        s = f"r{case}"
        contents = [
            " ".join(rng.choices(WORDS, k=rng.randint(0, 40))) for _ in range(rng.randint(1, 120))
        ]
        msgs = await _add(client, ws, s, contents)
        summary = None
        if case % 2:
            covered = rng.randrange(len(msgs))
            summary = (covered, rng.randint(1, 200))
            await _summarise(app, ws, s, "short", msgs[covered]["id"], tokens=summary[1])
        for _ in range(15):
            tokens = rng.randint(0, sum(m["token_count"] for m in msgs) + 300)
            ctx = await _context(client, ws, s, tokens=tokens)
            # reference: the pure rules over the stored messages
            kind = choose_summary(tokens, summary[1] if summary else None, None)
            start, used = 0, 0
            if kind is not None and summary is not None:
                start, used = summary[0] + 1, summary[1]
            pool = msgs[start:]
            take = newest_that_fit([m["token_count"] for m in reversed(pool)], tokens - used)
            expected = pool[len(pool) - take :]
            got = ctx["messages"]
            assert [m["id"] for m in got] == [m["id"] for m in expected], (case, tokens)
            total = sum(m["token_count"] for m in got) + (
                ctx["summary"]["token_count"] if ctx["summary"] else 0
            )
            assert total <= tokens
            if got:
                assert got[-1]["id"] == msgs[-1]["id"]  # always the newest


async def test_ten_thousand_messages(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    msgs = await _add(client, ws, "big", [f"{WORDS[i % 10]} {i}" for i in range(10_000)])
    ctx = await _context(client, ws, "big", tokens=300)
    expected_n = newest_that_fit([m["token_count"] for m in reversed(msgs)], 300)
    assert [m["id"] for m in ctx["messages"]] == [m["id"] for m in msgs[-expected_n:]]
    assert sum(m["token_count"] for m in ctx["messages"]) <= 300
    await _summarise(app, ws, "big", "long", msgs[9_989]["id"], tokens=100)
    ctx = await _context(client, ws, "big", tokens=1000)
    assert ctx["summary"] is not None
    assert [m["id"] for m in ctx["messages"]] == [m["id"] for m in msgs[9_990:]]
    everything = await _context(client, ws, "big", summary=False)
    assert len(everything["messages"]) == 10_000  # 100,000-token default holds them all


@pytest.mark.parametrize(
    "params",
    [
        {"tokens": 100_001},
        {"search_top_k": 0},
        {"search_max_distance": 1.5},
        {"max_conclusions": 101},
        {"tokens": "x"},
    ],
)
async def test_context_parameter_validation(
    client: httpx.AsyncClient, ws: str, params: dict[str, Any]
) -> None:
    r = await client.get(f"/v3/workspaces/{ws}/sessions/s/context", params=params)
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)


async def test_peer_perspective_needs_target(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.get(
        f"/v3/workspaces/{ws}/sessions/s/context", params={"peer_perspective": "a"}
    )
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


async def test_context_with_peer_target(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    msgs = await _add(client, ws, "s", ["I adopted a dog named Rover", "Nice!"])
    async with unit_of_work(app.state.session_factory) as db:
        await db.execute(
            text(
                "INSERT INTO conclusions (id, workspace_name, observer, observed, session_name,"
                " content, created_at) VALUES ('c1', :w, 'p0', 'p0', 's',"
                " 'p0 has a dog named Rover', '2025-01-01T12:00:00Z')"
            ),
            {"w": ws},
        )
        await db.execute(
            text(
                "INSERT INTO peer_cards (workspace_name, observer, observed, entries)"
                " VALUES (:w, 'p0', 'p0', :e)"
            ),
            {"w": ws, "e": ["IDENTITY: dog owner"]},
        )
    ctx = await _context(client, ws, "s", peer_target="p0")
    assert ctx["peer_representation"] == (
        "## Explicit Observations\n\n[2025-01-01 12:00:00] p0 has a dog named Rover\n"
    )
    assert ctx["peer_card"] == ["IDENTITY: dog owner"]
    assert [m["id"] for m in ctx["messages"]] == [m["id"] for m in msgs]
    limited = await _context(client, ws, "s", peer_target="p0", limit_to_session=True)
    assert limited["peer_card"] is None and "Rover" in limited["peer_representation"]
    other = await _context(client, ws, "s", peer_target="p0", peer_perspective="p1")
    assert other["peer_representation"] == "" and other["peer_card"] is None
    missing = await client.get(
        f"/v3/workspaces/{ws}/sessions/s/context", params={"peer_target": "ghost"}
    )
    assert missing.status_code == 404

    rep = await client.post(f"/v3/workspaces/{ws}/peers/p0/representation", json={})
    assert rep.status_code == 200 and "Rover" in rep.json()["representation"]
    rep = await client.post(
        f"/v3/workspaces/{ws}/peers/p0/representation", json={"filters": {"session_id": ["other"]}}
    )
    assert rep.json()["representation"] == ""
    bad = await client.post(
        f"/v3/workspaces/{ws}/peers/p0/representation", json={"filters": {"peer_id": "x"}}
    )
    assert bad.status_code == 422
    assert (
        await client.post(f"/v3/workspaces/{ws}/peers/ghost/representation", json={})
    ).json() == {"representation": ""}
    pc = await client.get(f"/v3/workspaces/{ws}/peers/p0/context")
    assert pc.status_code == 200
    assert pc.json()["peer_id"] == "p0" and pc.json()["target_id"] == "p0"
    assert (
        pc.json()["peer_card"] == ["IDENTITY: dog owner"] and "Rover" in pc.json()["representation"]
    )
    assert (await client.get(f"/v3/workspaces/{ws}/peers/ghost/context")).status_code == 404


async def test_scope_and_session_allowlist_options(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _add(client, ws, "trip", ["We went to Lisbon"])
    await _add(client, ws, "work", ["Quarterly report"])
    assert (
        await client.post(f"/v3/workspaces/{ws}/scopes", json={"id": "travel"})
    ).status_code == 201
    r = await client.post(
        f"/v3/workspaces/{ws}/scopes/travel/sessions", json={"session_ids": ["trip"]}
    )
    assert r.status_code == 204
    async with unit_of_work(app.state.session_factory) as db:
        for cid, observer, session, content in [
            ("k1", "scope.travel", "trip", "p0 visited Lisbon"),
            ("k2", "p0", "trip", "p0 likes trams"),
            ("k3", "p0", "work", "p0 writes reports"),
        ]:
            await db.execute(
                text(
                    "INSERT INTO conclusions (id, workspace_name, observer, observed, session_name,"
                    " content) VALUES (:id, :w, :o, 'p0', :s, :c)"
                ),
                {"id": f"{ws}-{cid}", "w": ws, "o": observer, "s": session, "c": content},
            )
    scoped = await _context(client, ws, "trip", peer_target="p0", scope="travel")
    assert (
        "Lisbon" in scoped["peer_representation"] and "trams" not in scoped["peer_representation"]
    )
    allow = await _context(client, ws, "trip", peer_target="p0", sessions=["trip"])
    assert "trams" in allow["peer_representation"] and "reports" not in allow["peer_representation"]
    assert allow["peer_card"] is None
    base = f"/v3/workspaces/{ws}/sessions/trip/context"
    for params in (
        {"peer_target": "p0", "sessions": ["work"]},  # must include this session
        {"peer_target": "p0", "scope": "travel", "peer_perspective": "p1"},
        {"scope": "travel"},  # needs peer_target
        {"peer_target": "p0", "sessions": ["trip"], "limit_to_session": True},
    ):
        assert (await client.get(base, params=params)).status_code == 422, params
    assert (
        await client.get(base, params={"peer_target": "p0", "scope": "nope"})
    ).status_code == 404

    rep = f"/v3/workspaces/{ws}/peers/p0/representation"
    assert "Lisbon" in (await client.post(rep, json={"scope": "travel"})).json()["representation"]
    by_members = (await client.post(rep, json={"scope": ["travel"]})).json()["representation"]
    assert "trams" in by_members and "reports" not in by_members
    assert (
        await client.post(rep, json={"scope": "travel", "session_id": "trip"})
    ).status_code == 422
