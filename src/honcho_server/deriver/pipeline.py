"""Deriver orchestration: what to queue when messages arrive, and the pure steps of a run.

At message creation (in the same transaction) one ``derive`` job is queued per (session,
sender) whose messages have reasoning on and who is observed, and one ``summarize`` job per
session whose new messages reach a summary threshold. Both carry a ``dedupe_key`` equal to
their ``lock_key``, so a burst of messages collapses into one pending job per work unit, and
a unit runs one job at a time. Jobs read the current state when they run (a watermark per
sender, the stored summaries), so one job covers everything that arrived before it ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.derivation import MemberRow, PendingMessage, SessionState
from ..llm import Message
from ..queue import enqueue
from ..queue.payloads import CardPayload as CardPayload
from ..queue.payloads import DerivePayload as DerivePayload
from ..queue.payloads import SummarizePayload as SummarizePayload
from .config import Defaults, Resolved, resolve
from .observers import Member, observers_of
from .prompts import ChatMessage, Line

MAX_NEW_TOKENS = 4_000  # new messages per derive run; the rest goes to a follow-up run
MAX_NEW_MESSAGES = 200
CONTEXT_MESSAGES = 20
KNOWN_CONCLUSIONS = 50
# A card job waits this long after it is queued, so the derive runs of a burst of messages
# feed one card refresh (later runs find it waiting and add nothing to the queue).
CARD_DELAY_SECONDS = 60.0


def members(state: SessionState) -> list[Member]:
    return [Member(m.peer, m.config, m.active) for m in state.members]


def peer_config(state: SessionState, peer: str) -> dict[str, Any] | None:
    row: MemberRow | None = next((m for m in state.members if m.peer == peer), None)
    return row.peer_config if row else None


def observers(state: SessionState, sender: str) -> list[str]:
    return observers_of(sender, peer_config(state, sender), members(state))


def session_config(state: SessionState, defaults: Defaults) -> Resolved:
    """The configuration of the session itself (no message level)."""
    return resolve(defaults, state.workspace_config, state.session_config, None)


async def enqueue_derive(db: AsyncSession, payload: DerivePayload) -> None:
    await enqueue(db, payload)


async def enqueue_summarize(db: AsyncSession, payload: SummarizePayload) -> None:
    await enqueue(db, payload)


async def enqueue_card(db: AsyncSession, payload: CardPayload) -> None:
    """Due ``CARD_DELAY_SECONDS`` from now when new; a card job already waiting keeps its
    time (so a busy pair is not starved) and covers this one."""
    await enqueue(db, payload, delay_seconds=CARD_DELAY_SECONDS)


# ---- pure steps of a run -----------------------------------------------------------------


def take_by_tokens(
    rows: Sequence[PendingMessage], budget: int = MAX_NEW_TOKENS
) -> list[PendingMessage]:
    """The longest prefix of ``rows`` within ``budget`` tokens (always at least one)."""
    out: list[PendingMessage] = []
    total = 0
    for row in rows:
        total += int(row.token_count)
        if out and total > budget:
            break
        out.append(row)
    return out


def lines(rows: Sequence[PendingMessage]) -> list[Line]:
    return [Line(r.peer_name, r.content, r.created_at) for r in rows]


def to_llm(messages: Sequence[ChatMessage]) -> list[Message]:
    return [Message(m.role, m.content) for m in messages]
