"""Who forms conclusions about a message's sender (BEHAVIOUR §8.3). Pure.

The sender ``S`` is observed unless its effective ``observe_me`` is false (membership config,
else peer config, else true) — and then nobody observes it, not even others. Otherwise the
observers are ``S`` itself (Honcho's own view of ``S``) plus every *active* member whose
membership config has ``observe_others`` true (``null`` counts as false; the peer-level
configuration is never consulted for ``observe_others``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Member:
    peer: str
    config: Mapping[str, Any]  # the membership's SessionPeerConfig
    active: bool = True


def observe_me(membership: Mapping[str, Any] | None, peer_config: Mapping[str, Any] | None) -> bool:
    for level in (membership, peer_config):
        if level is not None and isinstance(level.get("observe_me"), bool):
            return bool(level["observe_me"])
    return True


def observers_of(
    sender: str,
    sender_peer_config: Mapping[str, Any] | None,
    members: list[Member],
) -> list[str]:
    """The observers of ``sender``'s message, the sender first; ``[]`` when unobserved."""
    own = next((m for m in members if m.peer == sender), None)
    if not observe_me(own.config if own else None, sender_peer_config):
        return []
    others = sorted(
        m.peer
        for m in members
        if m.active and m.peer != sender and m.config.get("observe_others") is True
    )
    return [sender, *others]
