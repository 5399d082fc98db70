"""Postgres stopped and started under load: 503s only, liveness vs readiness, nothing
acknowledged lost, a bounded number of log lines."""

from __future__ import annotations

from pathlib import Path

from faults.harness import report
from faults.scenarios import Sizes, postgres_outage


def test_postgres_stopped_and_started_under_load(workdir: Path, sizes: Sizes) -> None:
    report("postgres_outage", postgres_outage(workdir, sizes))
