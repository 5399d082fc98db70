"""Resolve the effective configuration of one message (BEHAVIOUR §8.2). Pure.

Global defaults, then workspace, then session, then the message's own configuration; at each
level ``null`` inherits and nested sections merge key by key. Legacy keys stored by older
clients are honoured: ``deriver.enabled`` means ``reasoning.enabled`` unless that is set at the
same level, and ``skip_deriver: true`` turns reasoning off unless ``reasoning.enabled`` is set
there explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Defaults:
    reasoning_enabled: bool = True
    peer_card_enabled: bool = True
    summary_enabled: bool = True
    messages_per_short_summary: int = 20
    messages_per_long_summary: int = 60
    dream_enabled: bool = True


def defaults_from(settings: Any) -> Defaults:
    """The global defaults a ``Settings`` object configures."""
    return Defaults(
        reasoning_enabled=settings.deriver_enabled,
        peer_card_enabled=settings.peer_card_enabled,
        summary_enabled=settings.summary_enabled,
        messages_per_short_summary=settings.summary_messages_per_short_summary,
        messages_per_long_summary=settings.summary_messages_per_long_summary,
        dream_enabled=settings.dream_enabled,
    )


@dataclass(frozen=True)
class Resolved:
    reasoning_enabled: bool
    custom_instructions: str | None
    peer_card_use: bool
    peer_card_create: bool
    summary_enabled: bool
    messages_per_short_summary: int
    messages_per_long_summary: int
    dream_enabled: bool


def _level(config: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """One level's sections with nulls dropped and legacy keys translated."""
    if not config:
        return {}
    sections: dict[str, dict[str, Any]] = {}
    for name in ("reasoning", "peer_card", "summary", "dream"):
        value = config.get(name)
        if isinstance(value, Mapping):
            sections[name] = {k: v for k, v in value.items() if v is not None}
    reasoning = sections.setdefault("reasoning", {})
    if "enabled" not in reasoning:
        legacy = config.get("deriver")
        if isinstance(legacy, Mapping) and isinstance(legacy.get("enabled"), bool):
            reasoning["enabled"] = legacy["enabled"]
        elif config.get("skip_deriver") is True:
            reasoning["enabled"] = False
    return sections


def resolve(
    defaults: Defaults,
    workspace: Mapping[str, Any] | None,
    session: Mapping[str, Any] | None,
    message: Mapping[str, Any] | None,
) -> Resolved:
    merged: dict[str, dict[str, Any]] = {
        "reasoning": {"enabled": defaults.reasoning_enabled, "custom_instructions": None},
        "peer_card": {"use": defaults.peer_card_enabled, "create": defaults.peer_card_enabled},
        "summary": {
            "enabled": defaults.summary_enabled,
            "messages_per_short_summary": defaults.messages_per_short_summary,
            "messages_per_long_summary": defaults.messages_per_long_summary,
        },
        "dream": {"enabled": defaults.dream_enabled},
    }
    for level in (workspace, session, message):
        for name, values in _level(level).items():
            merged[name].update(values)
    r, c, s, d = merged["reasoning"], merged["peer_card"], merged["summary"], merged["dream"]
    return Resolved(
        reasoning_enabled=bool(r["enabled"]),
        custom_instructions=r.get("custom_instructions"),
        peer_card_use=bool(c["use"]),
        peer_card_create=bool(c["create"]),
        summary_enabled=bool(s["enabled"]),
        messages_per_short_summary=int(s["messages_per_short_summary"]),
        messages_per_long_summary=int(s["messages_per_long_summary"]),
        dream_enabled=bool(d["enabled"]),
    )
