"""Conclusions and messages as the model reads them. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ...db.repositories.conclusion_rows import ConclusionDetail
from ...db.repositories.dialectic import ChatMessage


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def conclusion_lines(rows: Sequence[ConclusionDetail]) -> list[str]:
    """``[id:…] [time] (level, session) content``, one line each."""
    lines = []
    for c in rows:
        where = f", session {c.session_name}" if c.session_name else ""
        lines.append(f"[id:{c.id}] [{stamp(c.created_at)}] ({c.level}{where}) {c.content}")
    return lines


def message_lines(rows: Sequence[ChatMessage], *, grouped: bool = True) -> list[str]:
    """One line per message; ``grouped``: under a header per session, runs of neighbouring
    messages together and gaps marked."""
    lines: list[str] = []
    session: str | None = None
    last_seq: int | None = None
    for m in rows:
        if grouped and m.session_name != session:
            session, last_seq = m.session_name, None
            lines.append(f"--- session {session} ---")
        elif grouped and last_seq is not None and m.seq_in_session > last_seq + 1:
            lines.append("…")
        last_seq = m.seq_in_session
        where = "" if grouped else f" (session {m.session_name})"
        head = f"[{stamp(m.created_at)}] [msg:{m.public_id}]{where}"
        lines.append(f"{head} {m.peer_name}: {m.content}")
    return lines
