"""What the agent read and did, collated as it happens (the ``evidence`` of an answer)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...db.repositories.conclusion_rows import ConclusionDetail
from ...db.repositories.dialectic import ChatMessage
from ...db.repositories.messages import MessageRow
from ...schemas.chat import (
    Evidence,
    EvidenceMessageRef,
    EvidenceObservation,
    EvidenceToolCall,
)


class EvidenceLog:
    """Conclusions and messages by id (first read first), and successful tool calls."""

    def __init__(self) -> None:
        self._conclusions: dict[str, EvidenceObservation] = {}
        self._messages: dict[str, EvidenceMessageRef] = {}
        self._tool_calls: list[EvidenceToolCall] = []

    def conclusions(self, rows: Iterable[ConclusionDetail]) -> None:
        for c in rows:
            if c.id in self._conclusions:
                continue
            self._conclusions[c.id] = EvidenceObservation(
                id=c.id,
                level=c.level,
                content=c.content,
                created_at=c.created_at,
                session_id=c.session_name,
                observer_id=c.observer,
                observed_id=c.observed,
                # the conclusions it was derived from (empty for explicit ones), as the
                # SDKs read it: provenance, not the messages it was extracted from
                source_ids=list(c.source_ids or []),
            )

    def messages(self, rows: Iterable[ChatMessage | MessageRow]) -> None:
        """Messages the chat read: its tools' (:class:`ChatMessage`) or the session's
        recent history (:class:`MessageRow`)."""
        for m in rows:
            if m.public_id in self._messages:
                continue
            self._messages[m.public_id] = EvidenceMessageRef(
                id=m.public_id,
                session_id=m.session_name,
                peer_id=m.peer_name,
                created_at=m.created_at,
            )

    def tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        self._tool_calls.append(EvidenceToolCall(tool_name=name, tool_input=arguments))

    def evidence(self) -> Evidence:
        return Evidence(
            conclusions=list(self._conclusions.values()),
            messages=list(self._messages.values()),
            tool_calls=list(self._tool_calls),
        )
