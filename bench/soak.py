"""Soak: the fault suite's scenarios (``tests/faults``) with large numbers, by hand.

    .venv/bin/python bench/soak.py                              # every scenario, big defaults
    .venv/bin/python bench/soak.py --only kills --messages 30000 --kills 20 --ingest-seconds 600
    .venv/bin/python bench/soak.py --only llm-outage --outage-seconds 180

The same scenarios CI runs with small numbers (``tests/faults/scenarios.py``), each on real
processes with real signals: SIGKILL of ``serve`` and ``worker`` during ingest with derivation
on; the twin regressions (LLM down + two messages, no LLM + concurrent writers, a worker killed
mid-derive with a twin queued); the LLM down for minutes during ingest; Postgres stopped and
started under load. Each asserts what an operator would notice; this prints the numbers
(kills survived, messages acknowledged/found, duplicates, drain time after an outage) and
exits non-zero if any scenario failed.

Unlike CI, the soak waits the server's real clocks (the 60 s stale-job timeout, the 60 s
peer-card debounce) instead of moving them forward in the database; ``--fast-clock`` moves
them as CI does. A temporary embedded PostgreSQL holds the scenarios' databases (one each,
dropped afterwards), unless ``--database-url`` names a server where databases may be
created. Only loopback addresses are used. Logs go to ``--logs`` (default: a temporary
directory, kept when a scenario fails).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from faults import scenarios  # noqa: E402
from faults.harness import Db  # noqa: E402

Scenario = Callable[[Db, Path, scenarios.Sizes], dict[str, Any]]

SCENARIOS: dict[str, Scenario] = {
    "kills": scenarios.kill_during_ingest,
    "llm-down-twins": scenarios.llm_down_then_up,
    "no-llm-writers": scenarios.no_llm_writers,
    "kill-mid-derive": scenarios.kill_mid_derive,
    "llm-outage": scenarios.llm_outage,
    "postgres-outage": lambda _admin, workdir, sizes: scenarios.postgres_outage(workdir, sizes),
}

#: the numbers worth a line of their own, per scenario
HEADLINES = {
    "kills": [
        "kills_survived",
        "kills_mid_job",
        "acknowledged",
        "found",
        "lost",
        "duplicates",
        "no_response_retries",
        "drain_after_ingest_s",
        "longest_orphan_s",
    ],
    "llm-down-twins": [
        "status_named_endpoint_after_s",
        "longest_doing_while_down_s",
        "drain_after_llm_back_s",
    ],
    "no-llm-writers": [
        "writers",
        "acknowledged",
        "messages_embedded",
        "llm_jobs_ever_doing",
        "embedding_done_after_writes_s",
    ],
    "kill-mid-derive": ["recovered_and_drained_after_kill_s", "orphan", "twin"],
    "llm-outage": [
        "outage_s",
        "status_named_endpoint_after_s",
        "backlog_at_return",
        "drain_after_llm_back_s",
        "acknowledged",
        "found",
        "duplicates",
    ],
    "postgres-outage": [
        "pg_outage_s",
        "answers_during_outage",
        "ready_during_outage",
        "server_log_lines_during_outage",
        "acknowledged",
        "found",
        "drain_after_db_back_s",
    ],
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="repeatable")
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--messages", type=int, default=30_000, help="kills: messages in all")
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--sessions", type=int, default=16)
    p.add_argument("--ingest-seconds", type=float, default=300.0, help="kills: ingest time")
    p.add_argument("--llm-latency", type=float, default=0.3)
    p.add_argument("--twin-wait-seconds", type=float, default=80.0)
    p.add_argument("--writers", type=int, default=32)
    p.add_argument("--write-seconds", type=float, default=60.0)
    p.add_argument("--outage-seconds", type=float, default=180.0, help="LLM outage")
    p.add_argument("--pg-outage-seconds", type=float, default=10.0)
    p.add_argument("--fast-clock", action="store_true", help="age heartbeats, as CI does")
    p.add_argument("--database-url", help="a Postgres server to create databases on")
    p.add_argument("--logs", type=Path, help="where the processes' logs go")
    p.add_argument("--report", type=Path, help="append JSON lines of the numbers here")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not args.fast_clock:
        os.environ["FAULT_REAL_CLOCK"] = "1"
    sizes = scenarios.Sizes(
        seed=args.seed,
        messages=args.messages,
        kills=args.kills,
        clients=args.clients,
        sessions=args.sessions,
        ingest_seconds=args.ingest_seconds,
        llm_latency=args.llm_latency,
        twin_wait_seconds=args.twin_wait_seconds,
        writers=args.writers,
        write_seconds=args.write_seconds,
        outage_seconds=args.outage_seconds,
        pg_outage_seconds=args.pg_outage_seconds,
    )
    logs = args.logs or Path(tempfile.mkdtemp(prefix="honcho-soak-logs-"))
    chosen = args.only or list(SCENARIOS)
    print(f"soak: {', '.join(chosen)}; seed {args.seed}; logs in {logs}", flush=True)

    pg = None
    pg_dir = None
    url = args.database_url
    if url is None:
        from honcho_server.db.embedded import EmbeddedPostgres

        pg_dir = Path(tempfile.mkdtemp(prefix="honcho-soak-pg-"))
        pg = EmbeddedPostgres(pg_dir)
        url = pg.start()
    from honcho_server.settings import normalise_database_url

    admin = Db(normalise_database_url(url))
    results: dict[str, dict[str, Any] | str] = {}
    started = time.monotonic()
    try:
        for name in chosen:
            t0 = time.monotonic()
            print(f"\n== {name}", flush=True)
            try:
                numbers = SCENARIOS[name](admin, logs / name, sizes)
            except AssertionError as exc:
                results[name] = f"FAILED: {exc}"
                print(f"FAILED after {time.monotonic() - t0:.0f} s:\n{exc}", flush=True)
                continue
            except Exception:
                results[name] = f"ERROR: {traceback.format_exc()}"
                print(f"ERROR after {time.monotonic() - t0:.0f} s:\n{results[name]}", flush=True)
                continue
            results[name] = numbers
            print(f"passed in {time.monotonic() - t0:.0f} s", flush=True)
            for key in HEADLINES.get(name, []):
                print(f"  {key:40} {numbers.get(key)}")
            if args.report:
                with args.report.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"scenario": name, **numbers}, default=str) + "\n")
    finally:
        admin.close()
        if pg is not None:
            pg.stop()
        if pg_dir is not None:
            shutil.rmtree(pg_dir, ignore_errors=True)
    failed = [n for n, r in results.items() if isinstance(r, str)]
    print(
        f"\nsoak: {len(results) - len(failed)} passed, {len(failed)} failed"
        f"{' (' + ', '.join(failed) + ')' if failed else ''} in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    if not failed and args.logs is None:
        shutil.rmtree(logs, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
