"""`honcho-server backup FILE` / `restore FILE` round trip on the embedded database, with real
`serve` processes: a backup taken while the server runs, restored into a new empty data dir,
reads back identical through the HTTP API (workspaces, peers, sessions, messages, conclusions,
semantic search over their embeddings) and in the tables (embeddings, seq numbers); new
messages continue the sequences. Restore refuses while a server uses the data dir, replaces
the data of an existing database, and bad input ends in a short error."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from fakes.openai_server import FakeOpenAIServer
from honcho_server.db.embedded import EmbeddedPostgres
from servers import ROOT, start_server, stop_server

TABLES = (
    "workspaces", "peers", "sessions", "session_peers", "messages", "message_embeddings",
    "conclusions", "peer_cards", "summaries", "scopes", "scope_sessions",
)  # fmt: skip
"""What the memory is made of (jobs, workers and idempotency keys are bookkeeping)."""


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="honcho-test-"))
    path.chmod(0o755)  # as root, the server user must be able to reach the data dirs
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def embedder() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def server_env(data_dir: Path, embedder: FakeOpenAIServer) -> dict[str, str]:
    for key in ("DATABASE_URL", "DB_CONNECTION_URI"):
        os.environ.pop(key, None)  # the embedded database
    return {
        "HONCHO_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_BASE_URL": embedder.base_url,
        "EMBEDDING_MODEL": "fake-embedding",
        "EMBEDDING_API_KEY": "test",
        "EMBEDDING_DIMENSIONS": "384",
        "EMBED_MESSAGES": "true",
        "DERIVER_ENABLED": "false",
        "SUMMARY_ENABLED": "false",
        "DREAM_ENABLED": "false",
    }


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "honcho_server", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        check=False,
    )


def db_url(data_dir: Path) -> str:
    """The embedded database of a `serve` (its port and password files)."""
    pg = data_dir / "postgres"
    password = (pg / "password").read_text().strip()
    return f"postgresql://postgres:{password}@127.0.0.1:{(pg / 'port').read_text().strip()}/honcho"


def sql(url: str, query: str) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await conn.fetch(query)]
        finally:
            await conn.close()

    return asyncio.run(run())


def tables(url: str) -> dict[str, list[str]]:
    """Every row of the memory tables, as JSON text (vectors included), sorted."""
    return {
        table: sorted(r["row"] for r in sql(url, f"SELECT to_jsonb(t)::text AS row FROM {table} t"))
        for table in TABLES
    }


def post(client: httpx.Client, path: str, body: Any = None, status: int = 200) -> Any:
    r = client.post(path, json=body)
    assert r.status_code in (status, 201 if status == 200 else status), (path, r.text)
    return r.json()


def seed(client: httpx.Client) -> None:
    post(client, "/v3/workspaces", {"id": "bk-1", "metadata": {"tier": "gold"}})
    post(client, "/v3/workspaces", {"id": "bk-2"})
    post(client, "/v3/workspaces/bk-1/peers", {"id": "alice", "metadata": {"age": 41}})
    post(client, "/v3/workspaces/bk-1/sessions", {"id": "s1", "metadata": {"topic": "tea"}})
    lines = [
        ("alice", "I drink green tea every morning."),
        ("bob", "I prefer espresso, two shots."),
        ("alice", "My dog Max is a golden retriever."),
        ("bob", "We went hiking in the Alps last summer."),
        ("alice", "Unicode survives too: café, 東京, 🍵."),
    ]
    for peer, content in lines:
        post(
            client,
            "/v3/workspaces/bk-1/sessions/s1/messages",
            {"messages": [{"peer_id": peer, "content": content, "metadata": {"n": len(content)}}]},
            201,
        )
    post(
        client,
        "/v3/workspaces/bk-2/sessions/other/messages",
        {"messages": [{"peer_id": "carol", "content": f"note {i}"} for i in range(30)]},
        201,
    )
    post(
        client,
        "/v3/workspaces/bk-1/conclusions",
        {
            "conclusions": [
                {"content": "Alice drinks green tea.", "observer_id": "alice",
                 "observed_id": "alice", "session_id": "s1"},
                {"content": "Alice has a dog named Max.", "observer_id": "alice",
                 "observed_id": "alice"},
                {"content": "Bob likes espresso.", "observer_id": "alice", "observed_id": "bob"},
            ]
        },
        201,
    )  # fmt: skip


def wait_embedded(url: str) -> None:
    deadline = time.monotonic() + 90
    query = (
        "SELECT (SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM "
        "message_embeddings e WHERE e.message_id = m.id)) + (SELECT count(*) FROM conclusions "
        "WHERE embedding IS NULL) AS missing, (SELECT count(*) FROM message_embeddings) AS done"
    )
    while (row := sql(url, query)[0])["missing"] or not row["done"]:
        assert time.monotonic() < deadline, f"embeddings not done: {row}"
        time.sleep(0.2)


def api_view(client: httpx.Client) -> dict[str, Any]:
    """What a client reads back through the API."""
    view: dict[str, Any] = {
        "workspaces": post(
            client, "/v3/workspaces/list", {"filters": {"id": {"in": ["bk-1", "bk-2"]}}}
        ),
    }
    for ws, session in (("bk-1", "s1"), ("bk-2", "other")):
        w = f"/v3/workspaces/{ws}"
        view[ws] = {
            "peers": post(client, f"{w}/peers/list"),
            "sessions": post(client, f"{w}/sessions/list"),
            "messages": post(client, f"{w}/sessions/{session}/messages/list?size=100"),
            "conclusions": post(client, f"{w}/conclusions/list?size=100"),
            "search": post(client, f"{w}/search", {"query": "morning tea", "limit": 10}),
        }
    pair = {"observer_id": "alice", "observed_id": "alice"}
    view["semantic"] = post(
        client, "/v3/workspaces/bk-1/conclusions/query", {"query": "pets", "filters": pair}
    )
    return view


def test_backup_restore_round_trip(base: Path, tmp_path: Path, embedder: FakeOpenAIServer) -> None:
    a, b = base / "a", base / "b"
    backup_file = base / "honcho.dump"

    process, url = start_server(server_env(a, embedder), tmp_path / "a.log")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            seed(client)
            wait_embedded(db_url(a))
            original = api_view(client)
            rows = tables(db_url(a))
            assert len(original["bk-1"]["messages"]["items"]) == 5
            assert len(original["bk-2"]["messages"]["items"]) == 30
            assert len(original["bk-1"]["conclusions"]["items"]) == 3
            assert original["bk-1"]["search"] and original["semantic"]  # embeddings at work

            # A hot backup: the server keeps running (pg_dump reads one consistent snapshot).
            done = cli("backup", str(backup_file), env=server_env(a, embedder))
            assert done.returncode == 0, done.stderr
            assert httpx.get(f"{url}/health").status_code == 200
    finally:
        assert stop_server(process) == 0
    print(done.stderr)
    lines = done.stderr.strip().splitlines()
    assert re.fullmatch(
        r"backing up database 'honcho' on socket /\S+/\.s\.PGSQL\.\d+ \([\d.]+ [kMG]?B on disk\) "
        r"to " + re.escape(str(backup_file)),
        lines[0],
    ), lines
    assert re.fullmatch(
        rf"backup written: {re.escape(str(backup_file))} \([\d.]+ kB, \d+ tables\) in [\d.]+ s",
        lines[-1],
    ), lines
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600  # it holds all the memory
    assert [p.name for p in base.iterdir() if "partial" in p.name] == []
    assert rows["messages"] and rows["message_embeddings"] and rows["conclusions"]

    # Restore into a new, empty data dir (no database there yet).
    done = cli("restore", str(backup_file), env=server_env(b, embedder))
    assert done.returncode == 0, done.stderr
    print(done.stderr)
    lines = done.stderr.strip().splitlines()
    assert re.fullmatch(
        rf"restoring {re.escape(str(backup_file))} \([\d.]+ kB, taken [^)]+\) into database "
        r"'honcho' on socket /\S+/\.s\.PGSQL\.\d+: its current data is replaced",
        lines[0],
    ), lines
    assert re.fullmatch(
        rf"restored {re.escape(str(backup_file))} \(\d+ tables\) into database 'honcho' on "
        r"socket /\S+/\.s\.PGSQL\.\d+ in [\d.]+ s",
        lines[-2],
    ), lines
    assert (b / "postgres" / "password").read_text() != (a / "postgres" / "password").read_text()

    process, url = start_server(server_env(b, embedder), tmp_path / "b.log")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            assert tables(db_url(b)) == rows  # embeddings, seq numbers, ids: all of it
            assert api_view(client) == original

            # The sequences carry on where the backup left them.
            post(
                client,
                "/v3/workspaces/bk-1/sessions/s1/messages",
                {"messages": [{"peer_id": "alice", "content": "after the restore"}]},
                201,
            )
            seqs = sql(
                db_url(b),
                "SELECT content, seq_in_session FROM messages WHERE session_name = 's1' "
                "AND workspace_name = 'bk-1' ORDER BY seq_in_session",
            )
            assert [r["seq_in_session"] for r in seqs] == list(range(1, 7)), seqs
            assert seqs[-1]["content"] == "after the restore"

            # Restore refuses while a server uses the data dir, and changes nothing.
            refused = cli("restore", str(backup_file), env=server_env(b, embedder))
            assert refused.returncode == 1
            assert refused.stderr.strip().splitlines() == [
                f"honcho-server restore: {b / 'postgres'} is in use by another honcho-server "
                "process (serve, worker or another command).",
                "Stop it (Ctrl-C or SIGTERM), then run this again.",
            ]
            assert len(post(client, "/v3/workspaces/bk-1/sessions/s1/messages/list")["items"]) == 6
    finally:
        assert stop_server(process) == 0

    # Into an existing database: its data is replaced (the message written since is gone).
    done = cli("restore", str(backup_file), env=server_env(b, embedder))
    assert done.returncode == 0, done.stderr
    pg = EmbeddedPostgres(b / "postgres")
    try:
        pg.start()
        assert tables(pg.url.replace("+asyncpg", "")) == rows
    finally:
        pg.stop()


def test_short_errors(base: Path, embedder: FakeOpenAIServer) -> None:
    env = server_env(base / "data", embedder)
    not_a_backup = base / "notes.txt"
    not_a_backup.write_text("hello\n")
    for args, message in [
        (("restore", str(not_a_backup)), "is not a backup made by `honcho-server backup`"),
        (("restore", str(base / "missing.dump")), "does not exist"),
        (("backup", str(base / "no" / "such" / "dir.dump")), "directory " + str(base / "no")),
        (("backup", str(base)), "is a directory"),
        (("backup", str(base / "x.dump")), f"no embedded database in {base / 'data'}"),
    ]:
        done = cli(*args, env=env)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1, done.stderr
        assert 1 <= len(lines) <= 2 and lines[0].startswith(f"honcho-server {args[0]}: "), lines
        assert message in lines[0], lines
        assert "Traceback" not in done.stderr
    assert not (base / "data").exists()  # nothing was started or created


def test_database_url_backup_and_restore(base: Path) -> None:
    """With DATABASE_URL (here a server of our own, password in the URL) the same commands
    work through the bundled tools; restore refuses while another session is connected."""
    pg = EmbeddedPostgres(base / "external")
    url = pg.start().replace("+asyncpg", "")
    env = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    backup_file = base / "external.dump"
    try:
        sql(url, "CREATE TABLE notes (id int PRIMARY KEY, body text)")
        sql(url, "INSERT INTO notes VALUES (1, 'one'), (2, 'two')")
        done = cli("backup", str(backup_file), env=env)
        assert done.returncode == 0, done.stderr
        assert "password" not in done.stderr.lower()
        sql(url, "DELETE FROM notes WHERE id = 1")
        sql(url, "CREATE TABLE later (id int)")

        async def hold_and_restore() -> subprocess.CompletedProcess[str]:
            conn = await asyncpg.connect(url)
            try:
                return await asyncio.to_thread(cli, "restore", str(backup_file), env=env)
            finally:
                await conn.close()

        refused = asyncio.run(hold_and_restore())
        assert refused.returncode == 1
        assert refused.stderr.strip().splitlines() == [
            f"honcho-server restore: 1 other session(s) are connected to database 'honcho' on "
            f"socket {pg.server_dir}/run/.s.PGSQL.{pg.port} (a running honcho-server?); stop "
            "them, then run restore again"
        ]
        assert [r["body"] for r in sql(url, "SELECT body FROM notes")] == ["two"]

        done = cli("restore", str(backup_file), env=env)
        assert done.returncode == 0, done.stderr
        assert [r["body"] for r in sql(url, "SELECT body FROM notes ORDER BY id")] == ["one", "two"]
        assert sql(url, "SELECT to_regclass('later') AS t") == [{"t": None}]  # replaced, not merged
    finally:
        pg.stop()
