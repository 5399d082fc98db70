"""Configuration resolution and the observer matrix (pure rules of the deriver)."""

from __future__ import annotations

from honcho_server.deriver.config import Defaults, resolve
from honcho_server.deriver.observers import Member, observers_of


def test_levels_override_in_order_and_null_inherits() -> None:
    r = resolve(
        Defaults(),
        {
            "reasoning": {"enabled": False, "custom_instructions": "be brief"},
            "summary": {"messages_per_short_summary": 10},
        },
        {"reasoning": {"enabled": True}, "summary": {"enabled": None}},
        {"reasoning": {"custom_instructions": None}},
    )
    assert r.reasoning_enabled is True  # session beats workspace
    assert r.custom_instructions == "be brief"  # nested keys merge; null inherits
    assert (r.summary_enabled, r.messages_per_short_summary, r.messages_per_long_summary) == (
        True,
        10,
        60,
    )
    assert (
        resolve(Defaults(), None, None, {"reasoning": {"enabled": False}}).reasoning_enabled
        is False
    )
    assert resolve(Defaults(reasoning_enabled=False), None, None, None).reasoning_enabled is False


def test_legacy_keys() -> None:
    assert (
        resolve(Defaults(), {"deriver": {"enabled": False}}, None, None).reasoning_enabled is False
    )
    assert resolve(Defaults(), {"skip_deriver": True}, None, None).reasoning_enabled is False
    explicit = {"skip_deriver": True, "reasoning": {"enabled": True}}
    assert resolve(Defaults(), explicit, None, None).reasoning_enabled is True
    # a later level's plain setting still wins over an earlier legacy one
    assert resolve(
        Defaults(), {"skip_deriver": True}, {"reasoning": {"enabled": True}}, None
    ).reasoning_enabled


def test_sender_observes_itself_and_observers_join() -> None:
    members = [
        Member("alice", {"observe_me": None, "observe_others": None}),
        Member("bot", {"observe_others": True}),
        Member("carol", {"observe_others": True}, active=False),  # left: not observing
        Member("dave", {"observe_others": None}),
    ]
    assert observers_of("alice", None, members) == ["alice", "bot"]
    assert observers_of("bot", None, members) == ["bot"]  # observers don't observe themselves twice


def test_observe_me_false_silences_everyone() -> None:
    members = [Member("alice", {"observe_me": False}), Member("bot", {"observe_others": True})]
    assert observers_of("alice", None, members) == []
    # the peer-level config applies when the membership says nothing
    members = [Member("alice", {}), Member("bot", {"observe_others": True})]
    assert observers_of("alice", {"observe_me": False}, members) == []
    # ... and the membership beats the peer level
    members = [Member("alice", {"observe_me": True}), Member("bot", {"observe_others": True})]
    assert observers_of("alice", {"observe_me": False}, members) == ["alice", "bot"]
    assert observers_of("stranger", None, members) == ["stranger", "bot"]  # no membership row
