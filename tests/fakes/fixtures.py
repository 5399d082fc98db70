"""Pytest fixtures for the fakes. Import the ones a test module uses, e.g.
``from fakes.fixtures import fake_openai, fake_openai_server``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.openai_server import FakeOpenAIServer


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    """One fake OpenAI-compatible server for the whole run."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The shared fake server, with no recorded requests and nothing scripted."""
    fake_openai_server.state.reset()
    yield fake_openai_server
    fake_openai_server.state.reset()
