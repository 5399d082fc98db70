"""Import refuses what it cannot take whole, with a message that says why, and leaves
nothing behind (checked in the tables): truncated, edited or recounted files, files that
are not exports, a workspace that exists (unless replaced); and the ids of a copy."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import httpx
import pytest

from transfer_support import honcho_cli, resealed, rows_of, synthetic_export, write

MESSAGES = 2500  # several batches are written before the end of the file is seen

IMPORT = "/v3/workspaces/import"


@pytest.fixture
def name() -> str:
    return f"refuse-{uuid.uuid4().hex[:10]}"


async def _refused(client: httpx.AsyncClient, lines: list[bytes], status: int = 422) -> str:
    response = await client.post(IMPORT, content=b"".join(lines))
    assert response.status_code == status, response.text
    detail: str = response.json()["detail"]
    return detail


async def test_a_valid_hand_written_file_imports(
    client: httpx.AsyncClient, database_url: str, name: str
) -> None:
    response = await client.post(IMPORT, content=b"".join(synthetic_export(name, MESSAGES)))
    assert response.status_code == 201, response.text
    assert response.json()["counts"]["messages"] == MESSAGES
    assert (await rows_of(database_url, name))["messages"] == MESSAGES
    listed = await client.post(
        f"/v3/workspaces/{name}/sessions/s/messages/list", params={"size": 3}, json={}
    )
    assert [m["content"] for m in listed.json()["items"]] == [
        "message number 0",
        "message number 1",
        "message number 2",
    ]


async def test_truncated_files_are_refused_and_leave_nothing(
    client: httpx.AsyncClient, database_url: str, name: str
) -> None:
    lines = synthetic_export(name, MESSAGES)
    at_a_line = await _refused(client, lines[:-200])
    assert "without its trailer: it is truncated" in at_a_line
    mid_line = b"".join(lines)[: -len(lines[-1]) - 30]
    response = await client.post(IMPORT, content=mid_line)
    assert response.status_code == 422
    assert "cut short: the file is truncated" in response.json()["detail"]
    assert (await _refused(client, lines[:1])).startswith("the file ends at line 1")
    assert (await rows_of(database_url, name)) == dict.fromkeys(
        ("workspaces", "peers", "sessions", "messages", "conclusions", "jobs"), 0
    )


async def test_edited_files_are_refused_and_leave_nothing(
    client: httpx.AsyncClient, database_url: str, name: str
) -> None:
    lines = synthetic_export(name, MESSAGES)
    edited = [*lines]
    edited[2000] = edited[2000].replace(b"message number", b"massage number")
    assert "checksum does not match its contents" in await _refused(client, edited)
    dropped = resealed([*lines[:100], *lines[101:]])  # a line removed, the digest redone
    detail = await _refused(client, dropped)
    assert "trailer counts" in detail and "'messages': 2500" in detail
    assert (await rows_of(database_url, name))["messages"] == 0
    assert (await rows_of(database_url, name))["workspaces"] == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "the file is empty"),
        (b'{"hello": "world"}\n', "not a honcho-server.workspace export"),
        (b"not json at all\n", "not a honcho-server.workspace export"),
        (
            b'{"type": "header", "format": "honcho-server.workspace", "version": 99}\n',
            "format version 99 is not one this server reads (1)",
        ),
    ],
)
async def test_files_that_are_not_exports(
    client: httpx.AsyncClient, body: bytes, expected: str
) -> None:
    response = await client.post(IMPORT, content=body)
    assert response.status_code == 422
    assert expected in response.json()["detail"]


async def test_records_that_do_not_fit_are_named_by_line(
    client: httpx.AsyncClient, database_url: str, name: str
) -> None:
    lines = synthetic_export(name, 10)
    unknown = [*lines]
    unknown[6] = unknown[6].replace(b'"peer_id":"a"', b'"peer_id":"zed"')
    detail = await _refused(client, resealed(unknown))
    assert detail == "line 7: peer 'zed' is not among the file's peers"
    order = [*lines[:6], lines[3], *lines[6:]]  # a peer after the first message
    assert await _refused(client, resealed(order)) == "line 7: a peer record out of order"
    bad = [*lines]
    bad[5] = bad[5].replace(b'"seq":1', b'"seq":"first"')
    assert (await _refused(client, resealed(bad))).startswith(
        "line 6: message.seq: Input should be a valid integer"
    )
    twice = resealed([*lines[:6], lines[5], *lines[6:]])  # one message twice
    assert "duplicate key value" in await _refused(client, twice, 409)
    assert (await rows_of(database_url, name))["workspaces"] == 0


async def test_an_existing_workspace_is_kept_unless_replaced(
    client: httpx.AsyncClient, database_url: str, name: str
) -> None:
    await client.post("/v3/workspaces", json={"id": name, "metadata": {"keep": "me"}})
    old = await client.post(
        f"/v3/workspaces/{name}/sessions/old-s/messages",
        json={"messages": [{"peer_id": "old", "content": "from before"}]},
    )
    assert old.status_code == 201
    lines = synthetic_export(name, 5)
    detail = await _refused(client, lines, 409)
    assert detail == (
        f"Workspace {name} already exists: import it under another name, or replace it "
        "(--replace, ?replace=true)"
    )
    kept = await client.get(f"/v3/workspaces/{name}")
    assert kept.json()["metadata"] == {"keep": "me"}
    replaced = await client.post(IMPORT, content=b"".join(lines), params={"replace": "true"})
    assert replaced.status_code == 201
    assert (await client.get(f"/v3/workspaces/{name}")).json()["metadata"] == {}
    assert (await rows_of(database_url, name))["messages"] == 5  # none from before
    peers = await client.post(f"/v3/workspaces/{name}/peers/list", json={})
    assert [p["id"] for p in peers.json()["items"]] == ["u", "a"]
    assert (await client.get(f"/v3/workspaces/{name}/sessions/old-s")).status_code == 404


async def test_a_workspace_being_deleted_is_not_exported(
    client: httpx.AsyncClient, name: str
) -> None:
    await client.post("/v3/workspaces", json={"id": name})
    assert (await client.delete(f"/v3/workspaces/{name}")).status_code in (202, 204)
    response = await client.get(f"/v3/workspaces/{name}/export")
    assert response.status_code == 404


async def test_a_copy_under_another_name_gets_its_own_ids(
    client: httpx.AsyncClient, name: str
) -> None:
    lines = b"".join(synthetic_export(name, 3))
    assert (await client.post(IMPORT, content=lines)).status_code == 201
    copy = await client.post(IMPORT, content=lines, params={"workspace_id": name + "-copy"})
    assert copy.status_code == 201, copy.text
    assert (await client.post(IMPORT, content=lines)).status_code == 409
    original, copied = [
        (await client.post(f"/v3/workspaces/{w}/sessions/s/messages/list", json={})).json()
        for w in (name, name + "-copy")
    ]
    ids = {m["id"] for m in original["items"]}
    assert len({m["id"] for m in copied["items"]} - ids) == 3
    assert [m["content"] for m in copied["items"]] == [m["content"] for m in original["items"]]
    bad = await client.post(IMPORT, content=lines, params={"workspace_id": "no spaces"})
    assert bad.status_code == 422


def test_cli_refusals_are_one_or_two_lines(tmp_path: Path, database_url: str, name: str) -> None:
    env = {"DATABASE_URL": database_url}
    lines = synthetic_export(name, 1200)
    truncated = write(tmp_path / "cut.jsonl", lines[:-1])
    out = honcho_cli(["import", str(truncated)], env)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        f"honcho-server import: the file ends at line {len(lines) - 1} without its trailer: "
        "it is truncated (export it again)"
    )
    unreadable = write(tmp_path / "locked.jsonl", lines)
    unreadable.chmod(0)
    if os.geteuid() != 0:  # root reads it anyway
        locked = honcho_cli(["import", str(unreadable)], env)
        assert (
            locked.stderr.strip()
            == f"honcho-server import: cannot read {unreadable}: Permission denied"
        )
    missing = honcho_cli(["import", str(tmp_path / "nope.jsonl")], env)
    assert missing.returncode == 1
    assert (
        missing.stderr.strip() == f"honcho-server import: no such file: {tmp_path / 'nope.jsonl'}"
    )
    absent = honcho_cli(["export", "--workspace", name, "--out", str(tmp_path / "x.jsonl")], env)
    assert absent.returncode == 1
    assert absent.stderr.strip() == f"honcho-server import: Workspace {name} not found".replace(
        "import", "export"
    )
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "x.jsonl.partial").exists()
    good = write(tmp_path / "good.jsonl", lines)
    assert honcho_cli(["import", str(good)], env).returncode == 0
    again = honcho_cli(["import", str(good)], env)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert honcho_cli(["import", str(good), "--replace"], env).returncode == 0


async def test_export_of_a_missing_workspace_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v3/workspaces/never-there/export")
    assert response.status_code == 404
    assert response.json() == {"detail": "Workspace never-there not found"}


def _json(line: bytes) -> dict[str, object]:
    value: dict[str, object] = json.loads(line)
    return value


async def test_two_imports_of_one_name_at_once(client: httpx.AsyncClient, name: str) -> None:
    body = b"".join(synthetic_export(name, 1500))
    answers = await asyncio.gather(*(client.post(IMPORT, content=body) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [201, 409]
    refused = next(a for a in answers if a.status_code == 409).json()["detail"]
    assert "already exists" in refused or "duplicate key value" in refused


async def test_sessions_number_new_messages_after_the_imported_ones(
    client: httpx.AsyncClient, database_url: str, name: str
) -> None:
    lines = synthetic_export(name, 5)
    understated = resealed(
        [
            lines[0],
            lines[1],
            *lines[2:4],
            lines[4].replace(b'"last_seq":5', b'"last_seq":0'),
            *lines[5:],
        ]
    )
    assert (await client.post(IMPORT, content=b"".join(understated))).status_code == 201
    added = await client.post(
        f"/v3/workspaces/{name}/sessions/s/messages",
        json={"messages": [{"peer_id": "u", "content": "after the import"}]},
    )
    assert added.status_code == 201, added.text
    listed = await client.post(f"/v3/workspaces/{name}/sessions/s/messages/list", json={})
    assert [m["content"] for m in listed.json()["items"]][-1] == "after the import"
    assert listed.json()["total"] == 6
