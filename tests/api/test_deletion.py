"""Deleting one message (at once, 204) and erasing a peer (hidden at once, 202, erased by a
job): beyond upstream. What is removed and what stays, checked through the API and raw SQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.db.session import unit_of_work
from honcho_server.queue import CardPayload, DreamPayload, enqueue

# one vector of the column's own size (fixed by the migration from the settings)
_VECTOR = (
    "(SELECT array_fill(0.1::real, ARRAY[atttypmod])::vector FROM pg_attribute"
    " WHERE attrelid = 'message_embeddings'::regclass AND attname = 'embedding')"
)


async def _scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    async with app.state.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def _rows(app: FastAPI, sql: str, **params: Any) -> list[Any]:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _exec(app: FastAPI, sql: str, **params: Any) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(text(sql), params)


async def _write(
    client: httpx.AsyncClient, ws: str, session: str, messages: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/{session}/messages",
        json={"messages": [{"peer_id": p, "content": c} for p, c in messages]},
    )
    assert r.status_code == 201, r.text
    out: list[dict[str, Any]] = r.json()
    return out


async def _summaries_on(client: httpx.AsyncClient, ws: str, session: str) -> None:
    """The shared app has summaries off by default; this session turns them on."""
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions",
        json={"id": session, "configuration": {"summary": {"enabled": True}}},
    )
    assert r.status_code in (200, 201), r.text


async def _internal_id(app: FastAPI, public_id: str) -> int:
    return int(await _scalar(app, "SELECT id FROM messages WHERE public_id = :p", p=public_id))


async def _embed(app: FastAPI, public_id: str) -> None:
    await _exec(
        app,
        "INSERT INTO message_embeddings (message_id, chunk_index, workspace_name, session_name,"
        f" peer_name, embedding) SELECT id, 0, workspace_name, session_name, peer_name, {_VECTOR}"
        " FROM messages WHERE public_id = :p",
        p=public_id,
    )


async def _conclusion(
    app: FastAPI,
    ws: str,
    cid: str,
    observer: str,
    observed: str,
    sources: list[str],
    *,
    level: str = "explicit",
    session: str | None = None,
) -> None:
    await _exec(
        app,
        "INSERT INTO conclusions (id, workspace_name, observer, observed, session_name, level,"
        " content, source_message_ids) VALUES (:id, :w, :o, :d, :s, :l, :c, :src)",
        id=cid,
        w=ws,
        o=observer,
        d=observed,
        s=session,
        l=level,
        c=f"conclusion {cid}",
        src=sources,
    )


async def _summary(app: FastAPI, ws: str, session: str, kind: str, public_id: str) -> None:
    await _exec(
        app,
        "INSERT INTO summaries (workspace_name, session_name, kind, content, message_id,"
        " message_public_id, token_count) SELECT :w, :s, :k, 'a summary', id, public_id, 3"
        " FROM messages WHERE public_id = :p",
        w=ws,
        s=session,
        k=kind,
        p=public_id,
    )


async def _conclusion_state(app: FastAPI, cid: str) -> tuple[list[str], bool] | None:
    rows = await _rows(
        app,
        "SELECT source_message_ids, deleted_at IS NOT NULL FROM conclusions WHERE id = :i",
        i=cid,
    )
    return (list(rows[0][0]), bool(rows[0][1])) if rows else None


async def _summarize_jobs(app: FastAPI, ws: str, session: str) -> int:
    return int(
        await _scalar(
            app,
            "SELECT count(*) FROM jobs WHERE kind = 'summarize' AND status = 'todo'"
            " AND workspace_name = :w AND session_name = :s",
            w=ws,
            s=session,
        )
    )


# ---- one message ------------------------------------------------------------------------------


async def test_delete_message_removes_it_and_its_traces(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _summaries_on(client, ws, "s1")
    msgs = await _write(
        client,
        ws,
        "s1",
        [
            ("alice", "the zanzibar secret"),
            ("bob", "ordinary words"),
            ("alice", "more ordinary words"),
            ("bob", "after the summary"),
        ],
    )
    doomed, kept = msgs[0]["id"], msgs[1]["id"]
    doomed_internal = await _internal_id(app, doomed)
    await _embed(app, doomed)
    await _embed(app, kept)
    await _conclusion(app, ws, f"{ws}-only", "alice", "alice", [doomed], session="s1")
    await _conclusion(app, ws, f"{ws}-multi", "bob", "alice", [doomed, kept], session="s1")
    await _conclusion(app, ws, f"{ws}-ded", "alice", "alice", [doomed], level="deductive")
    await _conclusion(app, ws, f"{ws}-other", "bob", "bob", [kept])
    await _summary(app, ws, "s1", "short", msgs[2]["id"])
    seqs_before = dict(
        await _rows(
            app, "SELECT public_id, seq_in_session FROM messages WHERE workspace_name = :w", w=ws
        )
    )
    before = await client.post(
        f"/v3/workspaces/{ws}/sessions/s1/search", json={"query": "zanzibar"}
    )
    assert [m["id"] for m in before.json()] == [doomed]

    r = await client.delete(f"/v3/workspaces/{ws}/sessions/s1/messages/{doomed}")
    assert r.status_code == 204 and r.content == b""

    # the message and its embeddings are gone
    assert await _scalar(app, "SELECT count(*) FROM messages WHERE public_id = :p", p=doomed) == 0
    assert (
        await _scalar(
            app, "SELECT count(*) FROM message_embeddings WHERE message_id = :i", i=doomed_internal
        )
        == 0
    )
    assert (
        await _scalar(
            app,
            "SELECT count(*) FROM message_embeddings e JOIN messages m ON m.id = e.message_id"
            " WHERE m.public_id = :p",
            p=kept,
        )
        == 1
    )
    # the explicit conclusion drawn from it alone is soft-deleted (and no longer listed); the
    # others lose only the reference
    assert await _conclusion_state(app, f"{ws}-only") == ([], True)
    assert await _conclusion_state(app, f"{ws}-multi") == ([kept], False)
    assert await _conclusion_state(app, f"{ws}-ded") == ([], False)
    assert await _conclusion_state(app, f"{ws}-other") == ([kept], False)
    listed = await client.post(f"/v3/workspaces/{ws}/conclusions/list", json={})
    assert f"{ws}-only" not in {c["id"] for c in listed.json()["items"]}
    assert (
        await _scalar(
            app,
            "SELECT count(*) FROM conclusions WHERE workspace_name = :w"
            " AND :p = ANY(source_message_ids)",
            w=ws,
            p=doomed,
        )
        == 0
    )
    # the summary that covered it is dropped and a rebuild queued
    assert await _scalar(app, "SELECT count(*) FROM summaries WHERE workspace_name = :w", w=ws) == 0
    assert await _summarize_jobs(app, ws, "s1") == 1
    # the others keep their numbers; reads no longer show it
    seqs_after = dict(
        await _rows(
            app, "SELECT public_id, seq_in_session FROM messages WHERE workspace_name = :w", w=ws
        )
    )
    assert seqs_after == {k: v for k, v in seqs_before.items() if k != doomed}
    listed_msgs = await client.post(f"/v3/workspaces/{ws}/sessions/s1/messages/list", json={})
    assert [m["id"] for m in listed_msgs.json()["items"]] == [m["id"] for m in msgs[1:]]
    assert (
        await client.get(f"/v3/workspaces/{ws}/sessions/s1/messages/{doomed}")
    ).status_code == 404
    for url in (f"/v3/workspaces/{ws}/sessions/s1/search", f"/v3/workspaces/{ws}/search"):
        found = await client.post(url, json={"query": "zanzibar"})
        assert found.status_code == 200 and found.json() == [], url
    context = await client.get(f"/v3/workspaces/{ws}/sessions/s1/context")
    assert "zanzibar" not in context.text
    assert doomed not in context.text
    # a second delete: 404
    r = await client.delete(f"/v3/workspaces/{ws}/sessions/s1/messages/{doomed}")
    assert r.status_code == 404


async def test_delete_message_without_summary_queues_nothing(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _summaries_on(client, ws, "s1")
    msgs = await _write(client, ws, "s1", [("alice", "one"), ("alice", "two"), ("alice", "3")])
    await _summary(app, ws, "s1", "short", msgs[0]["id"])  # covers only the first
    r = await client.delete(f"/v3/workspaces/{ws}/sessions/s1/messages/{msgs[2]['id']}")
    assert r.status_code == 204
    assert await _scalar(app, "SELECT count(*) FROM summaries WHERE workspace_name = :w", w=ws) == 1
    assert await _summarize_jobs(app, ws, "s1") == 0
    # summaries off (the shared app's default): a covering summary is dropped, not rebuilt
    s2 = await _write(client, ws, "s2", [("alice", "one"), ("alice", "two")])
    await _summary(app, ws, "s2", "long", s2[1]["id"])
    r = await client.delete(f"/v3/workspaces/{ws}/sessions/s2/messages/{s2[0]['id']}")
    assert r.status_code == 204
    assert (
        await _scalar(
            app,
            "SELECT count(*) FROM summaries WHERE workspace_name = :w AND session_name = 's2'",
            w=ws,
        )
        == 0
    )
    assert await _summarize_jobs(app, ws, "s2") == 0


async def test_delete_message_not_found(client: httpx.AsyncClient, ws: str) -> None:
    s1 = await _write(client, ws, "s1", [("alice", "hello")])
    s2 = await _write(client, ws, "s2", [("alice", "other")])
    base = f"/v3/workspaces/{ws}/sessions"
    assert (await client.delete(f"{base}/s1/messages/nope")).status_code == 404
    # a message is found only within its own session
    assert (await client.delete(f"{base}/s1/messages/{s2[0]['id']}")).status_code == 404
    assert (await client.delete(f"{base}/nope/messages/{s1[0]['id']}")).status_code == 404
    assert (
        await client.delete(f"/v3/workspaces/nope-{ws}/sessions/s1/messages/x")
    ).status_code == (404)
    # a deleted (inactive) session's messages are absent
    assert (await client.delete(f"{base}/s1")).status_code == 202
    assert (await client.delete(f"{base}/s1/messages/{s1[0]['id']}")).status_code == 404


async def test_delete_messages_while_writing_to_the_same_session(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    first = await _write(client, ws, "s1", [("alice", f"old {i}") for i in range(20)])
    doomed = [m["id"] for m in first[::2]]

    async def writer(n: int) -> list[dict[str, Any]]:
        return await _write(client, ws, "s1", [("bob", f"new {n}.{i}") for i in range(5)])

    async def deleter(public_id: str) -> int:
        r = await client.delete(f"/v3/workspaces/{ws}/sessions/s1/messages/{public_id}")
        return r.status_code

    results = await asyncio.gather(*(writer(n) for n in range(10)), *(deleter(p) for p in doomed))
    written = [m for batch in results[:10] for m in batch]  # type: ignore[union-attr]
    assert results[10:] == [204] * len(doomed)
    rows = await _rows(
        app,
        "SELECT public_id, seq_in_session FROM messages WHERE workspace_name = :w"
        " ORDER BY seq_in_session",
        w=ws,
    )
    ids = [r[0] for r in rows]
    assert set(ids) == {m["id"] for m in first if m["id"] not in doomed} | {
        m["id"] for m in written
    }
    # numbers were handed out gap-free to every write and never reused or shifted
    seqs = [int(r[1]) for r in rows]
    assert len(set(seqs)) == len(seqs)
    assert max(seqs) == 20 + 50
    assert [s for p, s in rows if p in {m["id"] for m in first}] == list(range(2, 21, 2))
    last = await _scalar(
        app, "SELECT last_seq FROM sessions WHERE workspace_name = :w AND name = 's1'", w=ws
    )
    assert last == 70


# ---- erasing a peer -----------------------------------------------------------------------------


async def _seed_people(client: httpx.AsyncClient, app: FastAPI, ws: str) -> dict[str, Any]:
    """alice and bob in s1, alice and carol in s2, bob alone in s3; conclusions, cards, dream
    state, embeddings, a summary and queued jobs about alice."""
    await _summaries_on(client, ws, "s1")
    s1 = await _write(
        client,
        ws,
        "s1",
        [
            ("alice", "alice says zanzibar"),
            ("bob", "bob answers plainly"),
            ("alice", "alice again"),
            ("bob", "bob again"),
        ],
    )
    s2 = await _write(client, ws, "s2", [("carol", "carol first"), ("alice", "alice in s2")])
    s3 = await _write(client, ws, "s3", [("bob", "bob alone")])
    a1, b1 = s1[0]["id"], s1[1]["id"]
    for m in (a1, b1, s2[1]["id"]):
        await _embed(app, m)
    await _conclusion(app, ws, f"{ws}-aa", "alice", "alice", [a1], session="s1")
    await _conclusion(app, ws, f"{ws}-ba", "bob", "alice", [a1], session="s1")
    await _conclusion(app, ws, f"{ws}-ab", "alice", "bob", [b1], session="s1")
    await _conclusion(app, ws, f"{ws}-sc", "scope.team", "alice", [a1])
    await _conclusion(app, ws, f"{ws}-bb-only", "bob", "bob", [a1], session="s1")
    await _conclusion(app, ws, f"{ws}-bb-multi", "bob", "bob", [a1, b1], session="s1")
    await _conclusion(app, ws, f"{ws}-cc", "carol", "carol", [s2[0]["id"]], session="s2")
    for observer, observed in (
        ("alice", "alice"),
        ("bob", "alice"),
        ("alice", "bob"),
        ("bob", "bob"),
    ):
        await _exec(
            app,
            "INSERT INTO peer_cards (workspace_name, observer, observed, entries)"
            " VALUES (:w, :o, :d, :e)",
            w=ws,
            o=observer,
            d=observed,
            e=[f"{observer} knows {observed}"],
        )
        await _exec(
            app,
            "INSERT INTO dream_state (workspace_name, observer, observed, last_dream_at,"
            " last_dream_count) VALUES (:w, :o, :d, now(), 1)",
            w=ws,
            o=observer,
            d=observed,
        )
    await _summary(app, ws, "s1", "short", s1[3]["id"])  # covers alice's messages
    await _summary(app, ws, "s3", "short", s3[0]["id"])  # bob alone: untouched
    async with unit_of_work(app.state.session_factory) as db:
        await enqueue(db, CardPayload(workspace=ws, observer="bob", observed="alice"))
        await enqueue(db, CardPayload(workspace=ws, observer="bob", observed="bob"))
        await enqueue(
            db, DreamPayload(workspace=ws, observer="alice", observed="alice", dream_type="omni")
        )
    return {"s1": s1, "s2": s2, "s3": s3}


async def _alice_traces(app: FastAPI, ws: str) -> dict[str, int]:
    checks = {
        "peers": "SELECT count(*) FROM peers WHERE workspace_name = :w AND name = 'alice'",
        "messages": "SELECT count(*) FROM messages WHERE workspace_name = :w"
        " AND (peer_name = 'alice' OR content LIKE '%alice%')",
        "embeddings": "SELECT count(*) FROM message_embeddings WHERE workspace_name = :w"
        " AND peer_name = 'alice'",
        "memberships": "SELECT count(*) FROM session_peers WHERE workspace_name = :w"
        " AND peer_name = 'alice'",
        "conclusions": "SELECT count(*) FROM conclusions WHERE workspace_name = :w"
        " AND (observer = 'alice' OR observed = 'alice')",
        "cards": "SELECT count(*) FROM peer_cards WHERE workspace_name = :w"
        " AND (observer = 'alice' OR observed = 'alice')",
        "dreams": "SELECT count(*) FROM dream_state WHERE workspace_name = :w"
        " AND (observer = 'alice' OR observed = 'alice')",
        "jobs": "SELECT count(*) FROM jobs WHERE workspace_name = :w AND status <> 'succeeded'"
        " AND (payload->>'observed' = 'alice' OR payload->>'observer' = 'alice')",
    }
    return {name: int(await _scalar(app, sql, w=ws)) for name, sql in checks.items()}


async def _eventually_erased(app: FastAPI, ws: str) -> None:
    for _ in range(200):
        if not await _scalar(
            app, "SELECT count(*) FROM peers WHERE workspace_name = :w AND name = 'alice'", w=ws
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("alice is still there after 10 s")


async def test_erase_peer_hides_at_once_then_erases_everything(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    seeded = await _seed_people(client, app, ws)
    bob_before = await _rows(
        app,
        "SELECT public_id, session_name, seq_in_session FROM messages WHERE workspace_name = :w"
        " AND peer_name <> 'alice' ORDER BY id",
        w=ws,
    )
    w = f"/v3/workspaces/{ws}"
    # Hold the erase back (it updates the conclusions citing alice's messages early on) to
    # see what reads and writes do between the DELETE and the job.
    blocker = await app.state.engine.connect()
    await blocker.execute(
        text("SELECT 1 FROM conclusions WHERE id = :i FOR UPDATE"), {"i": f"{ws}-bb-only"}
    )
    try:
        r = await client.delete(f"{w}/peers/alice")
        assert r.status_code == 202 and r.json() == {"message": "Peer erasure accepted"}
        # absent at once
        peers = await client.post(f"{w}/peers/list", json={})
        assert sorted(p["id"] for p in peers.json()["items"]) == ["bob", "carol"]
        members = await client.get(f"{w}/sessions/s1/peers")
        assert [p["id"] for p in members.json()["items"]] == ["bob"]
        for method, path, body in (
            ("GET", "/card", None),
            ("PUT", "/card", {"peer_card": ["x"]}),
            ("PUT", "", {"metadata": {"back": True}}),
            ("GET", "/context", None),
            ("POST", "/representation", {}),
            ("POST", "/sessions", {}),
            ("POST", "/search", {"query": "zanzibar"}),
            ("POST", "/chat", {"query": "who?"}),
            ("DELETE", "", None),
        ):
            r = await client.request(method, f"{w}/peers/alice{path}", json=body)
            assert r.status_code == 404, (method, path, r.text)
        # writes naming it are refused, nothing resurrects it
        refused: list[tuple[str, str, Any]] = [
            ("POST", f"{w}/peers", {"id": "alice"}),
            ("POST", f"{w}/peers", {"id": "alice", "metadata": {"x": 1}}),
            (
                "POST",
                f"{w}/sessions/s1/messages",
                {"messages": [{"peer_id": "alice", "content": "x"}]},
            ),
            (
                "POST",
                f"{w}/sessions/s9/messages",
                {"messages": [{"peer_id": "alice", "content": "x"}]},
            ),
            ("POST", f"{w}/sessions/s1/peers", {"alice": {}}),
            ("POST", f"{w}/sessions", {"id": "s8", "peers": {"alice": {}}}),
            (
                "POST",
                f"{w}/conclusions",
                {"conclusions": [{"content": "c", "observer_id": "bob", "observed_id": "alice"}]},
            ),
            ("PUT", f"{w}/peers/bob/card", None),
        ]
        for method, url, body in refused:
            if body is None:  # bob's card about alice
                r = await client.put(url, params={"target": "alice"}, json={"peer_card": ["x"]})
            else:
                r = await client.request(method, url, json=body)
            assert r.status_code == 409, (method, url, r.text)
            assert "being erased" in r.json()["detail"]
        # the other peers keep writing
        more = await _write(client, ws, "s1", [("bob", "bob keeps talking")])
    finally:
        await blocker.rollback()
        await blocker.close()

    await _eventually_erased(app, ws)
    assert await _alice_traces(app, ws) == dict.fromkeys(
        (
            "peers",
            "messages",
            "embeddings",
            "memberships",
            "conclusions",
            "cards",
            "dreams",
            "jobs",
        ),
        0,
    )
    # others keep their messages and numbers, their own knowledge, and only lose references
    bob_after = await _rows(
        app,
        "SELECT public_id, session_name, seq_in_session FROM messages WHERE workspace_name = :w"
        " ORDER BY id",
        w=ws,
    )
    assert bob_after == [*bob_before, (more[0]["id"], "s1", 5)]
    a1, b1 = seeded["s1"][0]["id"], seeded["s1"][1]["id"]
    assert await _conclusion_state(app, f"{ws}-bb-only") == ([], True)
    assert await _conclusion_state(app, f"{ws}-bb-multi") == ([b1], False)
    assert await _conclusion_state(app, f"{ws}-cc") == ([seeded["s2"][0]["id"]], False)
    assert (
        await _scalar(
            app,
            "SELECT count(*) FROM conclusions WHERE workspace_name = :w"
            " AND :p = ANY(source_message_ids)",
            w=ws,
            p=a1,
        )
        == 0
    )
    cards = await _rows(
        app, "SELECT observer, observed FROM peer_cards WHERE workspace_name = :w", w=ws
    )
    assert cards == [("bob", "bob")]
    assert (
        await _scalar(
            app, "SELECT count(*) FROM message_embeddings WHERE workspace_name = :w", w=ws
        )
        == 1
    )  # bob's
    # s1's summary covered alice: dropped and rebuilt; s3's stays
    summaries = await _rows(
        app, "SELECT session_name FROM summaries WHERE workspace_name = :w", w=ws
    )
    assert summaries == [("s3",)]
    assert await _summarize_jobs(app, ws, "s1") == 1
    assert await _summarize_jobs(app, ws, "s2") == 0  # s2 had no summary
    # bob's card job was kept, the jobs about alice were not
    kept_jobs = await _rows(
        app,
        "SELECT kind, payload->>'observed' FROM jobs WHERE workspace_name = :w AND kind = 'card'",
        w=ws,
    )
    assert kept_jobs == [("card", "bob")]
    # no trace through the API either
    for url in (f"{w}/search", f"{w}/sessions/s1/search", f"{w}/peers/bob/search"):
        found = await client.post(url, json={"query": "zanzibar"})
        assert found.status_code == 200 and found.json() == [], url
    for session in ("s1", "s2"):
        context = await client.get(f"{w}/sessions/{session}/context")
        assert context.status_code == 200 and "alice" not in context.text
    rep = await client.post(f"{w}/peers/bob/representation", json={})
    assert rep.status_code == 200 and "alice" not in rep.text.lower()
    concl = await client.post(f"{w}/conclusions/list", json={})
    assert "alice" not in concl.text
    # the name is free again: a new alice starts empty
    await _write(client, ws, "s1", [("alice", "a new alice")])
    assert (await client.get(f"{w}/peers/alice/card")).status_code == 200
    assert (await client.post(f"{w}/peers/alice/sessions", json={})).json()["total"] == 1


async def test_erase_waits_for_running_jobs_about_the_peer(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """A derivation in flight that counts the peer among its observers could write about it
    after the erase: the erase waits for it to end (queued ones are cancelled)."""
    await _write(client, ws, "s1", [("alice", "hi"), ("bob", "yo")])
    payload = {
        "kind": "derive",
        "workspace": ws,
        "session": "s1",
        "observed": "bob",
        "observers": ["bob", "alice"],
    }
    async with app.state.engine.begin() as conn:
        running = (
            await conn.execute(
                text(
                    "INSERT INTO jobs (kind, payload, workspace_name, session_name, status,"
                    " attempts, started_at, heartbeat_at) VALUES ('derive', CAST(:p AS jsonb),"
                    " :w, 's1', 'doing', 1, now(), now()) RETURNING id"
                ),
                {"p": json.dumps(payload), "w": ws},
            )
        ).scalar_one()
    assert (await client.delete(f"/v3/workspaces/{ws}/peers/alice")).status_code == 202
    for _ in range(100):
        waits = await _rows(
            app,
            "SELECT last_error FROM jobs WHERE workspace_name = :w AND kind = 'erase_peer'"
            " AND status = 'todo' AND last_error LIKE 'waiting for 1 running job%'",
            w=ws,
        )
        if waits:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the erase did not wait for the running derivation")
    assert (await _alice_traces(app, ws))["messages"] == 1  # not erased yet
    assert (await client.get(f"/v3/workspaces/{ws}/peers/alice/card")).status_code == 404
    # A summary of the session that started before the DELETE (it may have read alice's
    # messages), its payload naming no peer: waited for too. One started long after is not.
    async with app.state.engine.begin() as conn:
        summary = (
            (
                await conn.execute(
                    text(
                        "INSERT INTO jobs (kind, payload, workspace_name, session_name, status,"
                        " attempts, started_at, heartbeat_at) VALUES ('summarize',"
                        " CAST(:p AS jsonb), :w, 's1', 'doing', 1, now() - interval '1 second',"
                        " now()), ('summarize', CAST(:p AS jsonb), :w, 's1', 'doing', 1,"
                        " now() + interval '1 hour', now()) RETURNING id"
                    ),
                    {
                        "p": json.dumps(
                            {"kind": "summarize", "workspace": ws, "session": "s1", "seq": 2}
                        ),
                        "w": ws,
                    },
                )
            )
            .scalars()
            .all()
        )
    await _exec(
        app, "UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = :i", i=running
    )
    await asyncio.sleep(3)  # past the erase's next look
    assert (await _alice_traces(app, ws))["messages"] == 1
    waiting = await _rows(
        app,
        "SELECT last_error FROM jobs WHERE workspace_name = :w AND kind = 'erase_peer'",
        w=ws,
    )
    assert waiting[0][0].startswith("waiting for 1 running job"), waiting
    await _exec(
        app,
        "UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = ANY(:i)",
        i=list(summary),
    )
    await _eventually_erased(app, ws)
    assert await _alice_traces(app, ws) == dict.fromkeys(
        (
            "peers",
            "messages",
            "embeddings",
            "memberships",
            "conclusions",
            "cards",
            "dreams",
            "jobs",
        ),
        0,
    )


async def test_erase_peer_while_another_keeps_writing(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _write(client, ws, "s1", [("alice", f"alice {i}") for i in range(30)])
    stop = asyncio.Event()
    statuses: list[int] = []

    async def bob() -> None:
        i = 0
        while not stop.is_set() or i < 10:
            r = await client.post(
                f"/v3/workspaces/{ws}/sessions/s1/messages",
                json={"messages": [{"peer_id": "bob", "content": f"bob {i}"}]},
            )
            statuses.append(r.status_code)
            i += 1

    task = asyncio.create_task(bob())
    await asyncio.sleep(0.05)
    r = await client.delete(f"/v3/workspaces/{ws}/peers/alice")
    assert r.status_code == 202
    await _eventually_erased(app, ws)
    stop.set()
    await task
    assert statuses and set(statuses) == {201}
    assert (await _alice_traces(app, ws))["messages"] == 0
    bob_count = await _scalar(
        app, "SELECT count(*) FROM messages WHERE workspace_name = :w AND peer_name = 'bob'", w=ws
    )
    assert bob_count == len(statuses)
    seqs = [
        r[0]
        for r in await _rows(
            app,
            "SELECT seq_in_session FROM messages WHERE workspace_name = :w ORDER BY id",
            w=ws,
        )
    ]
    assert seqs == sorted(seqs) and seqs[0] == 31 and len(set(seqs)) == len(seqs)


async def test_erase_peer_not_found(client: httpx.AsyncClient, ws: str) -> None:
    assert (await client.delete(f"/v3/workspaces/{ws}/peers/nobody")).status_code == 404
    await _write(client, ws, "s1", [("alice", "hi")])
    assert (await client.delete(f"/v3/workspaces/{ws}/peers/nobody")).status_code == 404
    assert (await client.delete(f"/v3/workspaces/{ws}/sessions/s1")).status_code == 202
    for _ in range(200):  # the session purge, then the workspace can go
        if (await client.delete(f"/v3/workspaces/{ws}")).status_code == 202:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the workspace could not be deleted")
    assert (await client.delete(f"/v3/workspaces/{ws}/peers/alice")).status_code == 404


@pytest.mark.parametrize("kind", ["message", "peer"])
async def test_deletes_through_the_sdk_request_helper(live_server: str, ws: str, kind: str) -> None:
    """The official SDK has no method for these; its generic HTTP helper reaches them."""
    from honcho import Honcho

    honcho = Honcho(base_url=live_server, workspace_id=ws, max_retries=0)
    session = honcho.session("s1")
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    session.add_messages([alice.message("alice's secret"), bob.message("bob's words")])
    messages = list(session.messages())
    http = honcho._get_http_client()
    if kind == "message":
        gone = http.delete(f"/v3/workspaces/{ws}/sessions/s1/messages/{messages[0].id}")
        assert gone is None  # 204
        assert [m.id for m in session.messages()] == [messages[1].id]
    else:
        accepted = http.delete(f"/v3/workspaces/{ws}/peers/alice")
        assert accepted == {"message": "Peer erasure accepted"}
        for _ in range(200):
            if [m.peer_id for m in session.messages()] == ["bob"]:
                break
            await asyncio.sleep(0.05)
        assert [m.peer_id for m in session.messages()] == ["bob"]
        assert [p.id for p in honcho.peers()] == ["bob"]


def test_deletes_through_the_typescript_sdk_http_helper(live_server: str, ws: str) -> None:
    """``honcho.http.delete`` of the official TypeScript SDK (``tests/ts/deletes.mjs``)."""
    from sdk.test_typescript_sdk import (
        SMOKE_TIMEOUT,
        _ensure_node_modules,
        _env,
        _node_toolchain,
        _report,
        _run,
    )

    node, npm_cli = _node_toolchain()
    env = _env(node)
    _ensure_node_modules(node, npm_cli, env)
    result = _run([str(node), "deletes.mjs", live_server, ws], env, SMOKE_TIMEOUT)
    assert result.returncode == 0, _report(result)
    assert "deletes steps passed" in result.stdout, _report(result)
