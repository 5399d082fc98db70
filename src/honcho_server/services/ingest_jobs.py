"""What a stored batch of messages asks of the deriver: each message's flags (written in its
INSERT, never an UPDATE after it) and the jobs to queue in the same transaction.

:func:`plan` is pure: from the session's state as the ingest statement reported it. One
``derive`` job per sender whose messages have reasoning on and who is observed; one
``summarize`` job when the batch reaches a summary threshold (see ``deriver.pipeline``): the
numbers are reserved by the write itself, so the plan gives the thresholds and the write
statement queues the job when its numbers cross one (``repositories.ingest``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..db.repositories.derivation import SessionState
from ..db.repositories.ingest import Summary
from ..deriver.config import Defaults, resolve
from ..deriver.pipeline import observers, session_config
from ..queue import DerivePayload, SummarizePayload
from ..schemas.messages import MessageCreate


@dataclass(frozen=True)
class Plan:
    flags: list[dict[str, Any]]  # per message, merged into its internal_metadata
    derive: list[DerivePayload] = field(default_factory=list)
    summary: Summary | None = None  # queued by the write when its numbers cross a threshold


def plan(
    state: SessionState,
    workspace: str,
    session: str,
    messages: Sequence[MessageCreate],
    defaults: Defaults,
) -> Plan:
    flags: list[dict[str, Any]] = []
    senders: list[str] = []
    for spec in messages:
        message_cfg = spec.configuration.model_dump() if spec.configuration else None
        on = resolve(defaults, state.workspace_config, state.session_config, message_cfg)
        if not on.reasoning_enabled:
            flags.append({"skip_reasoning": True})  # never derived by a later run
            continue
        if spec.peer_id not in senders:
            senders.append(spec.peer_id)
        own = (message_cfg or {}).get("reasoning") or {}
        if own.get("custom_instructions") and on.custom_instructions:
            # the message's own instructions (its configuration is not stored)
            flags.append({"custom_instructions": on.custom_instructions})
        else:
            flags.append({})
    derive = [
        DerivePayload(workspace=workspace, session=session, observed=sender, observers=watchers)
        for sender in senders
        if (watchers := observers(state, sender))
    ]
    cfg = session_config(state, defaults)
    summary = None
    if cfg.summary_enabled:
        summary = Summary(
            SummarizePayload(workspace=workspace, session=session, seq=0),
            short_every=cfg.messages_per_short_summary,
            long_every=cfg.messages_per_long_summary,
        )
    return Plan(flags, derive, summary)
