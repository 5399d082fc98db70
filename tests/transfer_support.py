"""Helpers for the export/import tests: a workspace with every kind of row, its view through
the official SDK, and its rows in the tables."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import asyncpg
from honcho import Honcho
from pydantic import BaseModel

from servers import ROOT

PEERS = ("alice", "bob", "carol")  # carol is erased: she must not travel


def honcho_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``honcho-server ARGS`` (the real CLI) with the test's environment plus ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "honcho_server", *args],
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def seed_through_sdk(base_url: str, ws: str) -> None:
    """Peers, sessions with members and configs, messages, conclusions, cards, a scope."""
    h = Honcho(base_url=base_url, workspace_id=ws, max_retries=0)
    h.set_metadata({"team": "docs", "nested": {"n": 1}})
    alice = h.peer("alice", metadata={"role": "user"}, configuration={"observe_me": True})
    bob = h.peer("bob", metadata={"role": "assistant"})
    carol = h.peer("carol")
    chat = h.session("chat-1", metadata={"topic": "hiking"})
    chat.add_peers([alice, bob, carol])
    chat.add_messages(
        [
            alice.message("Hi! I love hiking in the Alps.", metadata={"mood": "happy"}),
            bob.message("Nice, where do you go? ☃ ünïcode"),
            carol.message("I am about to be forgotten"),
            alice.message("Mostly Chamonix, every summer."),
        ]
    )
    other = h.session("chat-2", configuration={"summary": {"enabled": False}})
    other.add_messages([bob.message(f"message {i}") for i in range(30)])
    chat.remove_peers([bob])  # a member that left keeps its config row
    alice.conclusions.create([{"content": "Alice loves hiking", "session_id": "chat-1"}])
    alice.conclusions_of(bob).create([{"content": "Bob asks questions"}])
    alice.set_card(["Name: Alice", "Likes: hiking"])
    alice.set_card(["Bob is curious"], target=bob)


async def seed_through_sql(url: str, ws: str, dimensions: int = 384) -> None:
    """What only the worker writes: summaries, derived conclusions with sources, dream state,
    message vectors; a scope; and a soft-deleted peer, session and conclusion."""
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        rng = random.Random(7)
        ids = await conn.fetch(
            "SELECT id, public_id, session_name FROM messages WHERE workspace_name = $1 "
            "ORDER BY id",
            ws,
        )
        for row in ids[:3]:
            vector = "[" + ",".join(f"{rng.uniform(-1, 1):.6f}" for _ in range(dimensions)) + "]"
            await conn.execute(
                "INSERT INTO message_embeddings (message_id, chunk_index, workspace_name,"
                " session_name, peer_name, embedding) SELECT id, 0, workspace_name,"
                " session_name, peer_name, $2::vector FROM messages WHERE id = $1",
                row["id"],
                vector,
            )
        last = [r for r in ids if r["session_name"] == "chat-2"][-1]
        await conn.execute(
            "INSERT INTO summaries (workspace_name, session_name, kind, content, message_id,"
            " message_public_id, token_count) VALUES ($1, 'chat-2', 'short', 'Bob counted.',"
            " $2, $3, 4)",
            ws,
            last["id"],
            last["public_id"],
        )
        explicit = await conn.fetchval(
            "SELECT id FROM conclusions WHERE workspace_name = $1"
            " AND content = 'Alice loves hiking'",
            ws,
        )
        await conn.execute(
            "INSERT INTO conclusions (id, workspace_name, observer, observed, session_name,"
            " level, content, premises, source_message_ids, source_ids, times_derived,"
            " internal_metadata) VALUES ($1, $2, 'alice', 'alice', 'chat-1', 'deductive',"
            " 'Alice spends summers in France', ARRAY['Alice loves hiking', 'Chamonix'],"
            ' ARRAY[$3], ARRAY[$4], 2, \'{"from": "dream"}\')',
            f"ded-{ws}",
            ws,
            ids[0]["public_id"],
            explicit,
        )
        await conn.execute(
            "INSERT INTO conclusions (id, workspace_name, observer, observed, level, content,"
            " deleted_at) VALUES ($1, $2, 'alice', 'alice', 'explicit', 'deleted', now())",
            f"del-{ws}",
            ws,
        )
        await conn.execute(  # a fact a dream found outdated: kept, linked to the new one
            "UPDATE conclusions SET superseded_by = $2, superseded_at = now()"
            " WHERE workspace_name = $1 AND content = 'Bob asks questions'",
            ws,
            f"ded-{ws}",
        )
        await conn.execute("INSERT INTO dream_state VALUES ($1, 'alice', 'alice', now(), 2)", ws)
        await conn.execute(
            "INSERT INTO webhook_endpoints (id, workspace_name, url) VALUES ($1, $2,"
            " 'https://example.com/hook')",
            f"wh-{ws}",
            ws,
        )
        await conn.execute(
            "INSERT INTO scopes (workspace_name, name, metadata) VALUES ($1, 'team', '{\"a\":1}')",
            ws,
        )
        await conn.execute(
            "INSERT INTO scope_sessions (workspace_name, scope_name, session_name)"
            " VALUES ($1, 'team', 'chat-1')",
            ws,
        )
        # being forgotten: a peer being erased (as DELETE leaves it until its job ran), a
        # session being deleted
        await conn.execute(
            "UPDATE peers SET deleted_at = now() WHERE workspace_name = $1 AND name = 'carol'", ws
        )
        await conn.execute(
            "DELETE FROM session_peers WHERE workspace_name = $1 AND peer_name = 'carol'", ws
        )
        await conn.execute(
            "INSERT INTO sessions (workspace_name, name, is_active) VALUES ($1, 'gone', false)", ws
        )
    finally:
        await conn.close()


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(exclude={"uid"}))
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "uid"}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):  # the SDK's plain classes
        return _plain({k: v for k, v in vars(value).items() if not k.startswith("_")})
    return value


def sdk_view(base_url: str, ws: str) -> dict[str, Any]:
    """Everything the SDK reads of the workspace (``uid`` aside: a server-assigned row id)."""
    h = Honcho(base_url=base_url, workspace_id=ws, max_retries=0)
    view: dict[str, Any] = {
        "metadata": h.get_metadata(),
        "configuration": _plain(h.get_configuration()),
    }
    peers = list(h.peers())
    view["peers"] = [(p.id, p.metadata, _plain(p.configuration), p.created_at) for p in peers]
    view["cards"] = {(p.id, q.id): p.get_card(target=q) for p in peers for q in peers}
    sessions = list(h.sessions())
    view["sessions"] = {}
    for s in sessions:
        view["sessions"][s.id] = {
            "row": (s.metadata, _plain(s.configuration), s.created_at, s.is_active),
            "peers": [p.id for p in s.peers()],
            "configs": {p.id: _plain(s.get_peer_configuration(p)) for p in s.peers()},
            "messages": [_plain(m) for m in s.messages()],
            "summaries": _plain(s.summaries()),
        }
    view["conclusions"] = sorted(
        (_plain(c.__dict__) for c in h.conclusions.list()), key=lambda c: str(c["id"])
    )
    view["scopes"] = [
        (sc.id, sc.metadata, sc.created_at, [s.id for s in sc.sessions()]) for sc in h.scopes()
    ]
    return view


#: Each table's rows of a workspace, without server-assigned row ids, in a stable order.
TABLE_ROWS = {
    "workspaces": "SELECT name, metadata, configuration, internal_metadata, created_at,"
    " deleted_at FROM workspaces WHERE name = $1",
    "peers": "SELECT name, metadata, configuration, internal_metadata, created_at FROM peers"
    " WHERE workspace_name = $1 ORDER BY name",
    "sessions": "SELECT name, is_active, last_seq, message_count, metadata, configuration,"
    " internal_metadata, created_at FROM sessions WHERE workspace_name = $1 ORDER BY name",
    "session_peers": "SELECT session_name, peer_name, configuration, joined_at, left_at"
    " FROM session_peers WHERE workspace_name = $1 ORDER BY 1, 2",
    "messages": "SELECT public_id, session_name, peer_name, seq_in_session, content,"
    " token_count, metadata, internal_metadata, created_at FROM messages"
    " WHERE workspace_name = $1 ORDER BY id",
    "message_embeddings": "SELECT m.public_id, e.chunk_index, e.peer_name,"
    " e.embedding::text FROM message_embeddings e JOIN messages m ON m.id = e.message_id"
    " WHERE e.workspace_name = $1 ORDER BY 1, 2",
    "summaries": "SELECT session_name, kind, content, message_public_id, token_count,"
    " created_at FROM summaries WHERE workspace_name = $1 ORDER BY 1, 2",
    "conclusions": "SELECT id, observer, observed, session_name, level, content, premises,"
    " source_message_ids, source_ids, times_derived, internal_metadata, created_at,"
    " superseded_by, superseded_at FROM conclusions WHERE workspace_name = $1"
    " AND deleted_at IS NULL ORDER BY id",
    "conclusion_vectors": "SELECT id, embedding::text FROM conclusions"
    " WHERE workspace_name = $1 AND deleted_at IS NULL AND embedding IS NOT NULL ORDER BY id",
    "peer_cards": "SELECT observer, observed, entries, updated_at FROM peer_cards"
    " WHERE workspace_name = $1 ORDER BY 1, 2",
    "dream_state": "SELECT observer, observed, last_dream_at, last_dream_count"
    " FROM dream_state WHERE workspace_name = $1 ORDER BY 1, 2",
    "webhook_endpoints": "SELECT id, url, created_at FROM webhook_endpoints"
    " WHERE workspace_name = $1",
    "scopes": "SELECT name, metadata, created_at FROM scopes WHERE workspace_name = $1",
    "scope_sessions": "SELECT scope_name, session_name, joined_at, backfill_state,"
    " backfill_updated_at, docs_copied FROM scope_sessions WHERE workspace_name = $1",
}


async def table_rows(url: str, ws: str, tables: dict[str, str] = TABLE_ROWS) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        return {name: [tuple(r) for r in await conn.fetch(sql, ws)] for name, sql in tables.items()}
    finally:
        await conn.close()


async def live_only(rows: dict[str, Any]) -> dict[str, Any]:
    """The source's rows minus what is being forgotten (carol, the inactive session)."""
    out = dict(rows)
    out["peers"] = [r for r in rows["peers"] if r[0] != "carol"]
    out["session_peers"] = [r for r in rows["session_peers"] if r[1] != "carol"]
    out["messages"] = [r for r in rows["messages"] if r[2] != "carol"]
    # (name, is_active, last_seq, message_count, ...): carol's messages no longer counted
    kept = Counter(r[1] for r in out["messages"])
    out["sessions"] = [(*r[:3], kept[r[0]], *r[4:]) for r in rows["sessions"] if r[1]]
    out["message_embeddings"] = [r for r in rows["message_embeddings"] if r[2] != "carol"]
    return out


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two views differ (for readable failures)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += differences(a.get(key, "<missing>"), b.get(key, "<missing>"), f"{path}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def forgotten_left_out(view: dict[str, Any]) -> dict[str, Any]:
    """The source's SDK view minus the messages of the peer being erased (until its erase
    job runs, the source still lists them; an export leaves them behind)."""
    for session in view["sessions"].values():
        session["messages"] = [m for m in session["messages"] if m["peer_id"] != "carol"]
    return view


def synthetic_export(
    ws: str, messages: int, *, embedder: tuple[str, int] | None = None, vectors: bool = False
) -> list[bytes]:
    """A file written by hand from the format's models (header, rows, trailer), so tests
    rely only on the documented format: two peers, one session, ``messages`` messages."""
    import hashlib
    from datetime import UTC, datetime

    from honcho_server.transfer.format import (
        Chunk,
        Counts,
        Embedder,
        Header,
        Member,
        MessageRecord,
        PeerRecord,
        SessionRecord,
        Trailer,
        WorkspaceRecord,
        dump,
    )

    now = datetime.now(UTC)
    dims = embedder[1] if embedder else 0
    counts = Counts(peers=2, sessions=1, messages=messages, embeddings=messages if vectors else 0)
    body = [
        dump(
            WorkspaceRecord(
                id=ws, metadata={}, configuration={}, internal_metadata={}, created_at=now
            )
        ),
        *(
            dump(
                PeerRecord(
                    id=p, metadata={}, configuration={}, internal_metadata={}, created_at=now
                )
            )
            for p in ("u", "a")
        ),
        dump(
            SessionRecord(
                id="s",
                metadata={},
                configuration={},
                internal_metadata={},
                created_at=now,
                last_seq=messages,
                members=[Member(peer_id=p, configuration={}, joined_at=now) for p in ("u", "a")],
            )
        ),
        *(
            dump(
                MessageRecord(
                    id=f"{ws}-m{i}",
                    session_id="s",
                    peer_id="ua"[i % 2],
                    seq=i + 1,
                    content=f"message number {i}",
                    token_count=3,
                    metadata={"i": i},
                    internal_metadata={},
                    created_at=now,
                    embeddings=[Chunk(index=0, vector=[0.5] * dims)] if vectors else None,
                )
            )
            for i in range(messages)
        ),
    ]
    header = Header(
        version=1,
        workspace=ws,
        exported_at=now,
        server_version="test",
        embedder=Embedder(name=embedder[0], dimensions=embedder[1]) if embedder else None,
        embeddings=vectors,
        counts=counts,
    )
    lines = [dump(header), *body]
    digest = hashlib.sha256(b"".join(lines)).hexdigest()
    return [*lines, dump(Trailer(counts=counts, sha256=digest))]


def resealed(lines: list[bytes]) -> list[bytes]:
    """``lines`` with its trailer's digest made right again (its counts left as they are)."""
    import hashlib

    trailer = json.loads(lines[-1])
    trailer["sha256"] = hashlib.sha256(b"".join(lines[:-1])).hexdigest()
    return [*lines[:-1], json.dumps(trailer).encode() + b"\n"]


async def rows_of(url: str, ws: str) -> dict[str, int]:
    """How many rows of every table (and queued jobs) name the workspace."""
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        tables = ("workspaces", "peers", "sessions", "messages", "conclusions", "jobs")
        found = {}
        for table in tables:
            column = "name" if table == "workspaces" else "workspace_name"
            found[table] = await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE {column} = $1", ws
            )
        return found
    finally:
        await conn.close()
