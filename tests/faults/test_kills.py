"""SIGKILL of ``serve`` and ``worker`` at random (seeded) moments during ingest, derivation on:
nothing acknowledged is lost, nothing is left ``doing``, everything is derived."""

from __future__ import annotations

from pathlib import Path

from faults.harness import Db, report
from faults.scenarios import Sizes, kill_during_ingest, kill_mid_derive


def test_kills_during_ingest_lose_nothing_and_strand_nothing(
    admin: Db, workdir: Path, sizes: Sizes
) -> None:
    report("kill_during_ingest", kill_during_ingest(admin, workdir, sizes))


def test_worker_killed_mid_derive_with_a_twin_waiting(
    admin: Db, workdir: Path, sizes: Sizes
) -> None:
    report("kill_mid_derive", kill_mid_derive(admin, workdir, sizes))
