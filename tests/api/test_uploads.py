"""POST .../sessions/{s}/messages/upload: files become messages, one per chunk of text."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI
from fpdf import FPDF
from sqlalchemy import text

from honcho_server.services.uploads import MAX_FILE_SIZE


def _url(ws: str, session: str = "s") -> str:
    return f"/v3/workspaces/{ws}/sessions/{session}/messages/upload"


async def _upload(
    client: httpx.AsyncClient,
    ws: str,
    data: bytes,
    content_type: str = "text/plain",
    *,
    session: str = "s",
    filename: str = "notes.txt",
    **fields: str,
) -> httpx.Response:
    form = {"peer_id": "alice", **fields}
    files = {"file": (filename, data, content_type)}
    return await client.post(_url(ws, session), data=form, files=files)


async def _listed(client: httpx.AsyncClient, ws: str, session: str = "s") -> list[Any]:
    r = await client.post(f"/v3/workspaces/{ws}/sessions/{session}/messages/list?size=100")
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items


async def _internal_metadata(app: FastAPI, ws: str) -> list[dict[str, Any]]:
    async with app.state.session_factory() as db:
        rows = await db.execute(
            text("SELECT internal_metadata FROM messages WHERE workspace_name = :ws ORDER BY id"),
            {"ws": ws},
        )
        return [r[0] for r in rows]


async def test_text_file_becomes_one_message(client: httpx.AsyncClient, ws: str) -> None:
    content = "Hello there.\nSecond line — café ✓"
    r = await _upload(client, ws, content.encode())
    assert r.status_code == 201, r.text
    [msg] = r.json()
    assert msg["content"] == content
    assert msg["peer_id"] == "alice" and msg["session_id"] == "s" and msg["workspace_id"] == ws
    assert msg["metadata"] == {} and msg["token_count"] > 0
    assert set(msg) == {
        "id",
        "content",
        "peer_id",
        "session_id",
        "metadata",
        "created_at",
        "workspace_id",
        "token_count",
    }
    assert [m["id"] for m in await _listed(client, ws)] == [msg["id"]]


async def test_long_text_is_cut_at_paragraphs(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    paragraphs = [f"Paragraph {i}. " + "lorem ipsum dolor " * 40 for i in range(80)]
    content = "\n\n".join(paragraphs)  # ~60,000 characters
    assert len(content) > 55_000
    r = await _upload(client, ws, content.encode(), "text/markdown; charset=utf-8")
    assert r.status_code == 201, r.text
    chunks = [m["content"] for m in r.json()]
    assert len(chunks) == 3
    assert "".join(chunks) == content
    assert all(len(c) <= 25_000 for c in chunks)
    assert all(c.endswith("\n\n") for c in chunks[:-1])
    assert all(c.startswith("Paragraph ") for c in chunks)
    assert [m["content"] for m in await _listed(client, ws)] == chunks

    info = await _internal_metadata(app, ws)
    assert len({i["file_id"] for i in info}) == 1 and len(info[0]["file_id"]) == 21
    assert [i["chunk_index"] for i in info] == [0, 1, 2]
    assert {i["total_chunks"] for i in info} == {3}
    assert {i["filename"] for i in info} == {"notes.txt"}
    assert {i["content_type"] for i in info} == {"text/markdown; charset=utf-8"}
    assert {i["original_file_size"] for i in info} == {len(content.encode())}
    ranges = [i["chunk_character_range"] for i in info]
    assert [content[a:b] for a, b in ranges] == chunks


async def test_largest_allowed_file_spans_several_batches(
    client: httpx.AsyncClient, ws: str
) -> None:
    line = "The quick brown fox jumps over the lazy dog.\n"
    content = (line * (MAX_FILE_SIZE // len(line) + 1))[:MAX_FILE_SIZE]
    r = await _upload(client, ws, content.encode())
    assert r.status_code == 201, r.text
    chunks = [m["content"] for m in r.json()]
    assert len(chunks) > 200  # more than two create-batch calls' worth
    assert "".join(chunks) == content
    created_at = {m["created_at"] for m in r.json()}
    assert len(created_at) == 1
    listed = await client.post(f"/v3/workspaces/{ws}/sessions/s/messages/list?size=100&page=3")
    assert [m["content"] for m in listed.json()["items"]] == chunks[200:300]


async def test_too_large_file_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, ws: str
) -> None:
    r = await _upload(client, ws, b"a" * (MAX_FILE_SIZE + 1))
    assert r.status_code == 413
    assert r.json() == {
        "detail": f"File size ({MAX_FILE_SIZE + 1} bytes) exceeds maximum allowed size "
        f"({MAX_FILE_SIZE} bytes)"
    }
    assert await _listed(client, ws) == []
    members = await client.get(f"/v3/workspaces/{ws}/sessions/s/peers")
    assert members.json()["items"] == []


async def test_json_is_reserialised(client: httpx.AsyncClient, ws: str) -> None:
    doc = {"name": "Zoë", "tags": ["a", "b"], "nested": {"n": 1.5, "ok": True}}
    raw = json.dumps(doc, indent=4, ensure_ascii=True).encode()
    r = await _upload(client, ws, raw, "application/json", filename="doc.json")
    assert r.status_code == 201, r.text
    [msg] = r.json()
    assert msg["content"] == json.dumps(doc, ensure_ascii=False)
    assert "Zoë" in msg["content"]


async def test_empty_files_give_one_empty_message(client: httpx.AsyncClient, ws: str) -> None:
    for content_type in ("text/plain", "application/json"):
        r = await _upload(client, ws, b"  \n" if "json" in content_type else b"", content_type)
        assert r.status_code == 201, r.text
        assert [m["content"] for m in r.json()] == [""]


async def test_invalid_json_is_refused(client: httpx.AsyncClient, ws: str) -> None:
    r = await _upload(client, ws, b'{"a": 1,', "application/json")
    assert r.status_code == 422 and r.json() == {"detail": "Uploaded JSON is invalid"}
    r = await _upload(client, ws, '{"a": "é"}'.encode("latin-1"), "application/json")
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    assert await _listed(client, ws) == []


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for line in ("Hello from the first page", "The second page says goodbye"):
        pdf.add_page()
        pdf.cell(text=line)
    pdf.add_page()  # blank: no text, so no section
    return bytes(pdf.output())


async def test_pdf_pages_become_sections(client: httpx.AsyncClient, ws: str) -> None:
    r = await _upload(client, ws, _pdf(), "application/pdf", filename="doc.pdf")
    assert r.status_code == 201, r.text
    [msg] = r.json()
    first, second = msg["content"].split("\n\n")
    assert first.startswith("[Page 1]\n") and "Hello from the first page" in first
    assert second.startswith("[Page 2]\n") and "second page says goodbye" in second
    assert "[Page 3]" not in msg["content"]


async def test_unreadable_pdf_is_refused(client: httpx.AsyncClient, ws: str) -> None:
    r = await _upload(client, ws, b"%PDF-1.4 not really", "application/pdf")
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


async def test_unsupported_type(client: httpx.AsyncClient, ws: str) -> None:
    r = await _upload(client, ws, b"PK\x03\x04", "application/zip", filename="a.zip")
    assert r.status_code == 415
    assert r.json() == {"detail": "Unsupported file type: application/zip"}


async def test_text_encodings(client: httpx.AsyncClient, ws: str) -> None:
    cases = [
        ("naïve café".encode("utf-16"), "text/plain", "naïve café"),
        # Even length, invalid UTF-8: Latin-1, not mistaken for BOM-less UTF-16.
        ("naïve café!".encode("latin-1"), "text/plain", "naïve café!"),
        ("naïve café €".encode("cp1252"), "text/plain; charset=windows-1252", "naïve café €"),
        (b"naive\x00 caf\xc3\xa9", "text/csv", "naive café"),  # NUL removed
    ]
    for data, content_type, expected in cases:
        r = await _upload(client, ws, data, content_type)
        assert r.status_code == 201, r.text
        assert r.json()[0]["content"] == expected


async def test_metadata_and_created_at_are_applied_to_every_chunk(
    client: httpx.AsyncClient, ws: str
) -> None:
    content = ("word " * 4000 + "\n\n") * 3
    r = await _upload(
        client,
        ws,
        content.encode(),
        metadata=json.dumps({"source": "upload", "n": {"deep": [1]}}),
        configuration=json.dumps({"reasoning": {"enabled": False}}),
        created_at="2021-03-04T05:06:07Z",
    )
    assert r.status_code == 201, r.text
    msgs = r.json()
    assert len(msgs) == 3
    assert all(m["metadata"] == {"source": "upload", "n": {"deep": [1]}} for m in msgs)
    assert all(m["created_at"] == "2021-03-04T05:06:07Z" for m in msgs)


async def test_upload_creates_session_with_peer_as_member(
    client: httpx.AsyncClient, ws: str
) -> None:
    r = await _upload(client, ws, b"hi", session="brand-new", peer_id="carol")
    assert r.status_code == 201, r.text
    assert r.json()[0]["peer_id"] == "carol"
    members = await client.get(f"/v3/workspaces/{ws}/sessions/brand-new/peers")
    assert [p["id"] for p in members.json()["items"]] == ["carol"]


async def test_inactive_session_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    assert (await _upload(client, ws, b"first")).status_code == 201
    async with app.state.session_factory() as db:
        await db.execute(
            text("UPDATE sessions SET is_active = false WHERE workspace_name = :ws"), {"ws": ws}
        )
        await db.commit()
    r = await _upload(client, ws, b"second")
    assert r.status_code == 404 and r.json() == {"detail": "Session s not found"}


async def test_bad_form_fields_are_422_with_string_detail(
    client: httpx.AsyncClient, ws: str
) -> None:
    too_many = json.dumps({f"k{i}": i for i in range(101)})
    too_deep = json.dumps({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}})
    bad = [
        {"metadata": "{not json"},
        {"metadata": "[1, 2]"},
        {"metadata": too_many},
        {"metadata": too_deep},
        {"configuration": "{oops"},
        {"configuration": json.dumps({"reasoning": {"enabled": "maybe"}})},
        {"created_at": "yesterday"},
        {"peer_id": "bad peer!"},
    ]
    for fields in bad:
        r = await _upload(client, ws, b"content", **fields)
        assert r.status_code == 422, (fields, r.text)
        assert isinstance(r.json()["detail"], str), r.json()
    r = await _upload(client, ws, b"content", metadata="{not json")
    assert r.json() == {"detail": "Invalid metadata: not valid JSON"}
    assert await _listed(client, ws) == []


async def test_missing_file_or_peer_is_422(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.post(_url(ws), data={"peer_id": "alice"})
    assert r.status_code == 422
    r = await client.post(_url(ws), files={"file": ("a.txt", b"x", "text/plain")})
    assert r.status_code == 422


async def test_bad_path_ids_are_422(client: httpx.AsyncClient, ws: str) -> None:
    r = await _upload(client, ws, b"x", session="bad session")
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
