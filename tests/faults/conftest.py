"""Fixtures of the fault suite: the test Postgres as an admin connection (each scenario
creates and drops a database of its own on it), the sizes, a directory for the logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.harness import Db
from faults.scenarios import Sizes


@pytest.fixture(scope="session")
def admin(database_url: str) -> Iterator[Db]:
    db = Db(database_url)
    yield db
    db.close()


@pytest.fixture(scope="session")
def sizes() -> Sizes:
    return Sizes.from_env()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Where the processes write their logs (kept by pytest for a failed run)."""
    return tmp_path
