"""Fixtures for the SDK compatibility suite: the official `honcho-ai` client, live server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from honcho import Honcho


@pytest.fixture
def make_client(live_server: str) -> Callable[[str], Honcho]:
    """Build SDK clients for arbitrary workspaces on the live server.

    Retries are disabled so a server error surfaces at once instead of after back-off sleeps.
    """

    def make(workspace_id: str) -> Honcho:
        return Honcho(base_url=live_server, workspace_id=workspace_id, max_retries=0)

    return make


@pytest.fixture
def honcho(make_client: Callable[[str], Honcho], ws: str) -> Honcho:
    """An SDK client bound to this test's fresh workspace."""
    return make_client(ws)
