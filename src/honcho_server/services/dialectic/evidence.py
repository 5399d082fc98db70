"""What the agent read and did, collated as it happens (the ``evidence`` of an answer)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...db.repositories.paging import AnyRow
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

    def conclusions(self, rows: Iterable[AnyRow]) -> None:
        for row in rows:
            m = row._mapping
            if m["id"] in self._conclusions:
                continue
            self._conclusions[m["id"]] = EvidenceObservation(
                id=m["id"],
                level=m["level"],
                content=m["content"],
                created_at=m["created_at"],
                session_id=m["session_name"],
                observer_id=m["observer"],
                observed_id=m["observed"],
                # the conclusions it was derived from (empty for explicit ones), as the
                # SDKs read it: provenance, not the messages it was extracted from
                source_ids=list(m["source_ids"] or []),
            )

    def messages(self, rows: Iterable[AnyRow]) -> None:
        for row in rows:
            m = row._mapping
            if m["public_id"] in self._messages:
                continue
            self._messages[m["public_id"]] = EvidenceMessageRef(
                id=m["public_id"],
                session_id=m["session_name"],
                peer_id=m["peer_name"],
                created_at=m["created_at"],
            )

    def tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        self._tool_calls.append(EvidenceToolCall(tool_name=name, tool_input=arguments))

    def evidence(self) -> Evidence:
        return Evidence(
            conclusions=list(self._conclusions.values()),
            messages=list(self._messages.values()),
            tool_calls=list(self._tool_calls),
        )
