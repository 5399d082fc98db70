"""Workspace-level SDK calls: metadata, configuration and the workspace directory."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from honcho import Honcho, SyncPage
from honcho.api_types import (
    DialecticConfiguration,
    DreamConfiguration,
    PeerCardConfiguration,
    ReasoningConfiguration,
    SummaryConfiguration,
    WorkspaceConfiguration,
)


def test_new_workspace_starts_empty(honcho: Honcho) -> None:
    assert honcho.get_metadata() == {}
    config = honcho.get_configuration()
    assert isinstance(config, WorkspaceConfiguration)
    assert config.model_dump(exclude_none=True) == {}
    assert list(honcho.peers()) == []
    assert list(honcho.sessions()) == []


def test_workspace_metadata_round_trip(
    honcho: Honcho, make_client: Callable[[str], Honcho], ws: str
) -> None:
    honcho.set_metadata({"app": "demo", "owner": {"team": "core", "ids": [1, 2]}})
    assert honcho.metadata == {"app": "demo", "owner": {"team": "core", "ids": [1, 2]}}
    other = make_client(ws)
    assert other.get_metadata() == {"app": "demo", "owner": {"team": "core", "ids": [1, 2]}}
    assert other.metadata == {"app": "demo", "owner": {"team": "core", "ids": [1, 2]}}

    # set_metadata replaces the whole object.
    other.set_metadata({"only": True})
    assert honcho.get_metadata() == {"only": True}
    honcho.set_metadata({})
    assert other.get_metadata() == {}


def test_workspace_configuration_shallow_merge(honcho: Honcho) -> None:
    honcho.set_configuration(
        WorkspaceConfiguration(
            reasoning=ReasoningConfiguration(enabled=True, custom_instructions="x"),
            summary=SummaryConfiguration(enabled=False),
        )
    )
    honcho.set_configuration(WorkspaceConfiguration(dream=DreamConfiguration(enabled=False)))
    config = honcho.get_configuration()
    assert isinstance(config, WorkspaceConfiguration)
    assert config.reasoning == ReasoningConfiguration(enabled=True, custom_instructions="x")
    assert config.summary == SummaryConfiguration(enabled=False)
    assert config.dream == DreamConfiguration(enabled=False)

    # A top-level key is replaced wholesale: custom_instructions is gone, the rest survives.
    honcho.set_configuration(
        WorkspaceConfiguration(reasoning=ReasoningConfiguration(enabled=False))
    )
    config = honcho.get_configuration()
    assert config.reasoning == ReasoningConfiguration(enabled=False)
    assert config.summary == SummaryConfiguration(enabled=False)
    assert config.dream == DreamConfiguration(enabled=False)

    honcho.set_configuration(
        WorkspaceConfiguration(
            peer_card=PeerCardConfiguration(use=True, create=False),
            dialectic=DialecticConfiguration(custom_instructions="Answer tersely."),
        )
    )
    config = honcho.get_configuration()
    assert config.peer_card == PeerCardConfiguration(use=True, create=False)
    assert config.dialectic == DialecticConfiguration(custom_instructions="Answer tersely.")
    assert config.reasoning == ReasoningConfiguration(enabled=False)

    # Metadata updates leave the configuration alone, and vice versa.
    honcho.set_metadata({"m": 1})
    assert honcho.get_configuration() == config
    honcho.set_configuration(WorkspaceConfiguration(summary=SummaryConfiguration(enabled=True)))
    assert honcho.get_metadata() == {"m": 1}


def test_workspace_get_or_create_does_not_overwrite(
    honcho: Honcho, make_client: Callable[[str], Honcho], ws: str
) -> None:
    honcho.set_metadata({"keep": "me"})
    honcho.set_configuration(
        WorkspaceConfiguration(reasoning=ReasoningConfiguration(enabled=False))
    )
    # A brand-new client touching the workspace (its first call get-or-creates it) changes nothing.
    other = make_client(ws)
    other.peer("someone")
    assert other.get_metadata() == {"keep": "me"}
    assert other.get_configuration().reasoning == ReasoningConfiguration(enabled=False)


def test_workspaces_listing_with_filters(make_client: Callable[[str], Honcho]) -> None:
    tag = uuid.uuid4().hex
    ids = [f"ws-list-{tag[:8]}-{i}" for i in range(3)]
    clients = [make_client(w) for w in ids]
    for i, client in enumerate(clients):
        client.set_metadata({"suite": tag, "rank": i})
    outsider = make_client(f"ws-list-{tag[:8]}-x")
    outsider.set_metadata({"suite": "other"})

    listing = clients[0].workspaces(filters={"metadata": {"suite": tag}})
    assert isinstance(listing, SyncPage)
    assert listing.total == 3
    assert list(listing) == ids  # plain workspace id strings, in creation order
    assert (
        list(clients[0].workspaces(filters={"metadata": {"suite": tag}}, reverse=True))
        == (ids[::-1])
    )

    assert list(clients[0].workspaces(filters={"id": ids[1]})) == [ids[1]]
    assert list(
        clients[0].workspaces(
            filters={"OR": [{"id": ids[0]}, {"metadata": {"suite": tag, "rank": 2}}]}
        )
    ) == [ids[0], ids[2]]
    assert (
        list(clients[0].workspaces(filters={"metadata": {"suite": tag, "rank": {"gte": 1}}}))
        == ids[1:]
    )

    # Pages of one, auto-iterated.
    paged = clients[0].workspaces(filters={"metadata": {"suite": tag}}, size=1)
    assert (paged.total, paged.pages, len(paged)) == (3, 3, 1)
    assert list(paged) == ids

    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    recent = set(
        clients[0].workspaces(
            filters={"AND": [{"created_at": {"gte": since}}, {"metadata": {"suite": tag}}]}
        )
    )
    assert recent == set(ids)


def test_unfiltered_workspaces_listing_includes_this_workspace(honcho: Honcho, ws: str) -> None:
    honcho.get_metadata()  # the first call creates the workspace
    found = [w for w in honcho.workspaces(size=100) if w == ws]
    assert found == [ws]
