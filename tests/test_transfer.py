"""Export and import (README "Export and import"): a workspace with every kind of row goes
out through the real CLI and over HTTP and comes back on a second, fresh database identical
through the official SDK and in the tables; soft-deleted rows stay behind."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from databases import fresh_database
from servers import ROOT, start_server, stop_server
from transfer_support import (
    differences,
    forgotten_left_out,
    honcho_cli,
    live_only,
    sdk_view,
    seed_through_sdk,
    seed_through_sql,
    synthetic_export,
    table_rows,
)

SERVER_ENV = {
    "LOG_LEVEL": "WARNING",
    "EMBED_MESSAGES": "false",
    "DERIVER_ENABLED": "false",
    "SUMMARY_ENABLED": "false",
}


@pytest.fixture(scope="module")
async def second_database(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def second_server(second_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``serve`` on the second database."""
    log = tmp_path_factory.mktemp("second") / "server.log"
    process, base_url = start_server({**SERVER_ENV, "DATABASE_URL": second_database}, log)
    try:
        yield base_url
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
async def seeded(live_server: str, database_url: str) -> str:
    """A workspace with every kind of row, on the shared database."""
    ws = f"xfer-{uuid.uuid4().hex[:10]}"
    seed_through_sdk(live_server, ws)
    await seed_through_sql(database_url, ws)
    return ws


async def test_cli_round_trip_reads_back_identically(
    seeded: str,
    live_server: str,
    database_url: str,
    second_database: str,
    second_server: str,
    tmp_path: Path,
) -> None:
    file = tmp_path / "ws.jsonl"
    out = honcho_cli(
        ["export", "--workspace", seeded, "--out", str(file), "--embeddings"],
        {"DATABASE_URL": database_url},
    )
    assert out.returncode == 0, out.stderr
    assert "exported messages: 33/33 100% (" in out.stderr  # carol's message stays behind
    assert not (tmp_path / "ws.jsonl.partial").exists()
    assert stat.S_IMODE(file.stat().st_mode) == 0o600  # it holds the workspace's memory
    lines = file.read_bytes().splitlines()
    header, trailer = json.loads(lines[0]), json.loads(lines[-1])
    assert header["format"] == "honcho-server.workspace" and header["version"] == 1
    assert header["embedder"]["dimensions"] == 384 and header["embeddings"] is True
    assert header["counts"] == trailer["counts"]
    assert trailer["counts"]["peers"] == 2 and trailer["counts"]["sessions"] == 2

    out = honcho_cli(
        ["import", str(file)], {"DATABASE_URL": second_database, "EMBED_MESSAGES": "false"}
    )
    assert out.returncode == 0, out.stderr
    assert f"imported workspace {seeded} (embeddings kept) in " in out.stderr
    assert "imported messages: 33/33 100% (" in out.stderr

    found = differences(
        sdk_view(second_server, seeded), forgotten_left_out(sdk_view(live_server, seeded))
    )
    assert not found, "\n".join(found)
    expected = await live_only(await table_rows(database_url, seeded))
    imported = await table_rows(second_database, seeded)
    # vectors kept bit for bit; a conclusion the source never embedded may be by now (its
    # embedding job was queued by the import, and the second server's worker runs it)
    source_vectors = dict(expected.pop("conclusion_vectors"))
    kept = dict(imported.pop("conclusion_vectors"))
    assert source_vectors and {k: kept.get(k) for k in source_vectors} == source_vectors
    found = differences(imported, expected)
    assert not found, "\n".join(found)
    assert len(expected["message_embeddings"]) == 2
    assert expected["conclusions"] and expected["summaries"] and expected["scope_sessions"]


async def test_http_round_trip_and_replace(
    seeded: str,
    live_server: str,
    database_url: str,
    second_database: str,
    second_server: str,
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        exported = await http.get(f"{live_server}/v3/workspaces/{seeded}/export")
        assert exported.status_code == 200
        assert exported.headers["content-type"] == "application/x-ndjson"
        body = exported.content
        assert json.loads(body.splitlines()[0])["embeddings"] is False

        url = f"{second_server}/v3/workspaces/import"
        vectors = await http.get(
            f"{live_server}/v3/workspaces/{seeded}/export", params={"embeddings": "true"}
        )
        first = await http.post(
            url, content=vectors.content, params={"workspace_id": "copy-" + seeded}
        )
        assert first.status_code == 201, first.text
        assert first.json()["counts"]["messages"] == 33
        assert first.json()["embeddings"] == "kept"

        again = await http.post(url, content=body)
        if again.status_code == 409:  # the CLI test imported it first
            assert "already exists" in again.json()["detail"]
            again = await http.post(url, content=body, params={"replace": "true"})
        assert again.status_code == 201, again.text
        assert again.json()["embeddings"] == "queued"

    found = differences(
        sdk_view(second_server, seeded), forgotten_left_out(sdk_view(live_server, seeded))
    )
    assert not found, "\n".join(found)
    source = await live_only(await table_rows(database_url, seeded))
    # the copy under another name: new message ids, the same vectors on the same messages
    copy = await table_rows(second_database, "copy-" + seeded)
    assert {r[0] for r in copy["messages"]}.isdisjoint(r[0] for r in source["messages"])
    by_content = {r[0]: r[4] for r in source["messages"]}
    copied_content = {r[0]: r[4] for r in copy["messages"]}
    assert sorted((by_content[r[0]], r[3]) for r in source["message_embeddings"]) == sorted(
        (copied_content[r[0]], r[3]) for r in copy["message_embeddings"]
    )
    imported = await table_rows(second_database, seeded)
    # without vectors in the file: none kept, the worker makes them again (asynchronously)
    remade = ("message_embeddings", "conclusion_vectors")
    found = differences(
        {k: v for k, v in imported.items() if k not in remade},
        {k: v for k, v in source.items() if k not in remade},
    )
    assert not found, "\n".join(found)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 7):  # lines split across chunks
        yield data[i : i + 7]


async def test_streamed_body_in_small_chunks(
    seeded: str, live_server: str, second_server: str
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        body = (await http.get(f"{live_server}/v3/workspaces/{seeded}/export")).content
        response = await http.post(
            f"{second_server}/v3/workspaces/import",
            content=_chunks(body),
            params={"workspace_id": "chunked-" + seeded},
        )
    assert response.status_code == 201, response.text
    assert response.json()["counts"]["conclusions"] == 3


async def test_an_export_is_one_snapshot(live_server: str) -> None:
    """Messages written while an export streams are not in it, and its counts hold."""
    ws = f"snap-{uuid.uuid4().hex[:8]}"
    body = b"".join(synthetic_export(ws, 3000))
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
        assert (await http.post("/v3/workspaces/import", content=body)).status_code == 201
        async with http.stream("GET", f"/v3/workspaces/{ws}/export") as response:
            lines = response.aiter_lines()
            header = json.loads(await anext(lines))
            added = await http.post(
                f"/v3/workspaces/{ws}/sessions/s/messages",
                json={"messages": [{"peer_id": "u", "content": "written meanwhile"}]},
            )
            assert added.status_code == 201
            rest = [line async for line in lines]
        trailer = json.loads(rest[-1])
        assert header["counts"]["messages"] == trailer["counts"]["messages"] == 3000
        assert not any("written meanwhile" in line for line in rest)
        again = (await http.get(f"/v3/workspaces/{ws}/export")).content
        assert json.loads(again.splitlines()[0])["counts"]["messages"] == 3001


def test_export_piped_into_import(seeded: str, database_url: str) -> None:
    """``export`` to stdout and ``import -`` from stdin, as a shell pipe."""
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "honcho_server"]
    export = subprocess.Popen(
        [*command, "export", "--workspace", seeded], env=env, stdout=subprocess.PIPE, cwd=ROOT
    )
    copy = f"piped-{seeded}"
    imported = subprocess.run(
        [*command, "import", "-", "--workspace", copy],
        env=env,
        stdin=export.stdout,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert export.wait(timeout=60) == 0
    assert imported.returncode == 0, imported.stderr
    assert f"imported workspace {copy}" in imported.stderr
