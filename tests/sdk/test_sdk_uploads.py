"""File uploads through the SDK's ``session.upload_file`` (sync and async)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fpdf import FPDF
from honcho import APIError, Honcho, Message, UnprocessableEntityError


def test_upload_bytes_with_metadata_and_timestamp(honcho: Honcho, ws: str) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("docs")
    created = session.upload_file(
        ("notes.txt", "Meeting notes: ship it — café".encode(), "text/plain"),
        peer=alice,
        metadata={"source": "upload"},
        configuration={"reasoning": {"enabled": False}},
        created_at=datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC),
    )
    assert len(created) == 1 and isinstance(created[0], Message)
    [msg] = created
    assert msg.content == "Meeting notes: ship it — café"
    assert msg.peer_id == "alice" and msg.session_id == "docs" and msg.workspace_id == ws
    assert msg.metadata == {"source": "upload"}
    assert msg.created_at == datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert [p.id for p in session.peers()] == ["alice"]


def test_upload_file_object_is_chunked_in_order(honcho: Honcho, tmp_path: Path) -> None:
    content = "\n\n".join(f"Section {i}. " + "words and more words " * 60 for i in range(50))
    path = tmp_path / "long.txt"
    path.write_text(content, encoding="utf-8")
    session = honcho.session("long")
    with path.open("rb") as handle:
        created = session.upload_file(handle, peer="bob")
    assert len(created) == 3
    assert "".join(m.content for m in created) == content
    assert all(len(m.content) <= 25_000 for m in created)
    assert [m.id for m in session.messages()] == [m.id for m in created]


def test_upload_json_and_pdf(honcho: Honcho) -> None:
    session = honcho.session("mixed")
    [doc] = session.upload_file(
        ("data.json", json.dumps({"k": "välue"}, indent=2).encode(), "application/json"),
        peer="alice",
    )
    assert doc.content == '{"k": "välue"}'

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.cell(text="Quarterly report")
    [page] = session.upload_file(("r.pdf", bytes(pdf.output()), "application/pdf"), peer="alice")
    assert page.content.startswith("[Page 1]\n") and "Quarterly report" in page.content


def test_upload_errors_surface_with_their_status(honcho: Honcho) -> None:
    session = honcho.session("errors")
    with pytest.raises(APIError) as unsupported:
        session.upload_file(("a.zip", b"PK\x03\x04", "application/zip"), peer="alice")
    assert unsupported.value.status == 415
    with pytest.raises(APIError) as too_large:
        session.upload_file(("big.txt", b"a" * (5 * 1024 * 1024 + 1), "text/plain"), peer="alice")
    assert too_large.value.status == 413
    with pytest.raises(UnprocessableEntityError):
        session.upload_file(("bad.json", b"{", "application/json"), peer="alice")
    with pytest.raises(UnprocessableEntityError):
        session.upload_file(("a.txt", b"x", "text/plain"), peer="alice", created_at="not-a-date")
    assert session.messages().items == []


async def test_async_upload(honcho: Honcho) -> None:
    session = await honcho.aio.session("async-docs")
    created = await session.aio.upload_file(
        ("a.md", b"# Title\n\nBody text", "text/markdown"), peer="carol"
    )
    assert [m.content for m in created] == ["# Title\n\nBody text"]
    assert created[0].peer_id == "carol"
