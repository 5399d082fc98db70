"""The LLM down (a closed port) or absent: jobs wait, never fail, never stay ``doing``;
``/status`` says why; the backlog drains by itself when the LLM is back."""

from __future__ import annotations

from pathlib import Path

from faults.harness import Db, report
from faults.scenarios import Sizes, llm_down_then_up, llm_outage, no_llm_writers


def test_llm_down_two_messages_then_up(admin: Db, workdir: Path, sizes: Sizes) -> None:
    report("llm_down_then_up", llm_down_then_up(admin, workdir, sizes))


def test_no_llm_and_concurrent_writers_starve_nothing(
    admin: Db, workdir: Path, sizes: Sizes
) -> None:
    report("no_llm_writers", no_llm_writers(admin, workdir, sizes))


def test_llm_outage_during_ingest_then_back(admin: Db, workdir: Path, sizes: Sizes) -> None:
    report("llm_outage", llm_outage(admin, workdir, sizes))
