"""Observability over real HTTP: ``/metrics`` of a live ``honcho-server serve`` (parsed with
Prometheus' own text parser), request ids, the access log, JSON log lines, ``--workers 2``
adding up, a separate worker's ``WORKER_METRICS_PORT``, and a scrape while the database is
down or silent (``honcho_database_up 0``, within the time bound, never a 500).

Each server here has a fresh database of its own, so no other worker takes its jobs and every
counter moves by exactly what the test sent.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from databases import fresh_database
from fakes.openai_server import FakeOpenAIServer
from honcho_server.app import create_app
from honcho_server.db.engine import create_engine
from honcho_server.db.session import unit_of_work
from honcho_server.observability.logs import RequestIdFilter, TextFormatter
from honcho_server.observability.scrape import QUERY_TIMEOUT_SECONDS
from honcho_server.queue import PAYLOADS
from honcho_server.settings import Settings
from honcho_server.worker.kinds.probe import Probe, enqueue_probe
from servers import free_port, spawn, start_server, start_worker, stop_server, wait_healthy

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

QUIET = {  # nothing queued behind the test's back
    "EMBED_MESSAGES": "false",
    "DERIVER_ENABLED": "false",
    "SUMMARY_ENABLED": "false",
    "DREAM_ENABLED": "false",
    "PEER_CARD_ENABLED": "false",
}
MESSAGES = "/v3/workspaces/{workspace_id}/sessions/{session_id}/messages"
PEERS = "/v3/workspaces/{workspace_id}/peers"
WORKSPACES = "/v3/workspaces"


def scrape(base_url: str, path: str = "/metrics") -> Samples:
    r = httpx.get(f"{base_url}{path}", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def labelled(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for (n, labels) in samples if n == name]


def wait_for_log(path: Path, pattern: str, timeout: float = 10) -> list[str]:
    """Lines of the server log matching ``pattern`` (waits until there is one)."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        lines = [
            line for line in path.read_text(errors="replace").splitlines() if regex.search(line)
        ]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


# ---- one server with everything on ----------------------------------------------------------


@pytest.fixture(scope="module")
async def obs_database(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        server.state.default_chat = "Alice lives in Lisbon."
        yield server


@pytest.fixture(scope="module")
def server(
    obs_database: str, llm: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    log_path = tmp_path_factory.mktemp("obs") / "server.log"
    env = {
        **QUIET,
        "DATABASE_URL": obs_database,
        "LOG_LEVEL": "INFO",
        "LLM_BASE_URL": llm.base_url,
        "LLM_MODEL": "fake-model",
        "DIALECTIC_TOOL_MODE": "prompt",
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "MAX_REQUEST_BODY_BYTES": "65536",
    }
    process, base_url = start_server(env, log_path)
    try:
        yield base_url, log_path
    finally:
        stop_server(process)


def test_counters_move_by_exactly_what_was_sent(server: tuple[str, Path]) -> None:
    base, _ = server
    ws, session = f"ws-{uuid.uuid4().hex[:10]}", f"s-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.post("/v3/workspaces", json={"id": ws}).status_code in (200, 201)
        before = scrape(base)
        for i in range(10):
            assert c.post("/v3/workspaces", json={"id": ws}).status_code == 200
            assert c.post(f"/v3/workspaces/{ws}/peers", json={"id": f"p{i}"}).status_code == 201
            message = {"peer_id": f"p{i}", "content": f"hello {i}"}
            r = c.post(
                f"/v3/workspaces/{ws}/sessions/{session}/messages", json={"messages": [message]}
            )
            assert r.status_code == 201, r.text
        assert c.get(f"/v3/no-such-route/{ws}").status_code == 404
        assert c.post("/v3/workspaces", json={"id": 5}).status_code == 422
    after = scrape(base)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    expected = {
        ("POST", WORKSPACES, "200"): 10,
        ("POST", PEERS, "201"): 10,
        ("POST", MESSAGES, "201"): 10,
        ("GET", "unmatched", "404"): 1,
        ("POST", WORKSPACES, "422"): 1,
        ("GET", "/metrics", "200"): 1,  # the scrape before
    }
    for (method, route, status), n in expected.items():
        labels = {"method": method, "route": route, "status": status}
        assert moved("honcho_http_requests_total", **labels) == n, labels
        assert moved("honcho_http_request_duration_seconds_count", **labels) == n, labels
        assert moved("honcho_http_request_duration_seconds_sum", **labels) > 0, labels
    total = sum(
        value(after, "honcho_http_requests_total", **labels)
        - value(before, "honcho_http_requests_total", **labels)
        for labels in labelled(after, "honcho_http_requests_total")
    )
    assert total == sum(expected.values())

    # Bounded labels: templates only, never an id from a path.
    routes = {labels["route"] for labels in labelled(after, "honcho_http_requests_total")}
    assert all(r == "unmatched" or r.startswith("/") for r in routes), routes
    assert not any(ws in r or session in r for r in routes), routes

    assert value(after, "honcho_database_up") == 1
    assert value(after, "honcho_db_pool_size") == 20
    assert value(after, "honcho_db_pool_max_connections") == 40
    assert 0 <= value(after, "honcho_db_pool_connections_in_use") <= 40
    for kind in PAYLOADS:
        for state in ("pending", "running", "failed"):
            assert ("honcho_queue_jobs", frozenset({"kind": kind, "state": state}.items())) in after
        for gauge in (
            "honcho_queue_due_jobs",
            "honcho_queue_oldest_pending_age_seconds",
            "honcho_queue_oldest_due_seconds",
        ):
            assert (gauge, frozenset({"kind": kind}.items())) in after


async def test_job_outcomes_and_queue_gauges(server: tuple[str, Path], obs_database: str) -> None:
    base, _ = server
    note = uuid.uuid4().hex
    before = scrape(base)
    engine = create_async_engine(obs_database)
    try:
        async with unit_of_work(async_sessionmaker(engine, expire_on_commit=False)) as db:
            await enqueue_probe(db, Probe(note=f"{note}-ok"))
            await enqueue_probe(db, Probe(note=f"{note}-ok2"))
            await enqueue_probe(db, Probe(note=f"{note}-bad", fail=True), max_attempts=1)
            await enqueue_probe(db, Probe(note=f"{note}-twice", fail=True), max_attempts=2)
            await enqueue_probe(db, Probe(note=f"{note}-slow", sleep_seconds=3))
        # While the slow one runs: the queue gauges see it running.
        for _ in range(100):
            now = scrape(base)
            if value(now, "honcho_queue_jobs", kind="probe", state="running") >= 1:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the slow probe never showed as running")
        for _ in range(300):  # the second attempt of "twice" comes after a 2 s backoff
            after = scrape(base)
            finished = sum(
                value(after, "honcho_jobs_total", kind="probe", outcome=outcome)
                - value(before, "honcho_jobs_total", kind="probe", outcome=outcome)
                for outcome in ("succeeded", "failed")
            )
            if finished >= 5:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the probes did not finish")
    finally:
        await engine.dispose()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("honcho_jobs_total", kind="probe", outcome="succeeded") == 3
    assert moved("honcho_jobs_total", kind="probe", outcome="failed") == 2
    assert moved("honcho_jobs_total", kind="probe", outcome="retried") == 1
    assert moved("honcho_job_duration_seconds_count", kind="probe", outcome="succeeded") == 3
    assert moved("honcho_job_duration_seconds_sum", kind="probe", outcome="succeeded") >= 3
    assert value(after, "honcho_queue_jobs", kind="probe", state="failed") >= 2
    assert value(after, "honcho_queue_jobs", kind="probe", state="running") == 0


def test_llm_and_embedding_metrics(server: tuple[str, Path], llm: FakeOpenAIServer) -> None:
    base, _ = server
    ws = f"ws-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=base, timeout=60) as c:
        message = {"peer_id": "alice", "content": "I live in Lisbon."}
        r = c.post(f"/v3/workspaces/{ws}/sessions/s1/messages", json={"messages": [message]})
        assert r.status_code == 201, r.text
        before = scrape(base)
        sent = len(llm.state.requests_to("/v1/chat/completions"))
        r = c.post(f"/v3/workspaces/{ws}/peers/alice/chat", json={"query": "Where?"})
        assert r.status_code == 200, r.text
        with c.stream(
            "POST",
            f"/v3/workspaces/{ws}/peers/alice/chat",
            json={"query": "Where?", "stream": True},
        ) as streamed:
            assert streamed.status_code == 200
            body = "".join(streamed.iter_text())
        assert "Lisbon" in body
        r = c.post(f"/v3/workspaces/{ws}/search", json={"query": "Lisbon"})
        assert r.status_code == 200, r.text
    after = scrape(base)
    calls = len(llm.state.requests_to("/v1/chat/completions")) - sent

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert calls >= 2
    assert moved("honcho_llm_requests_total", feature="dialectic") == calls
    assert moved("honcho_llm_request_duration_seconds_count", feature="dialectic") == calls
    assert moved("honcho_llm_tokens_total", feature="dialectic", type="prompt") > 0
    assert moved("honcho_llm_tokens_total", feature="dialectic", type="completion") > 0
    assert moved("honcho_llm_errors_total", feature="dialectic", error="LLMUnavailable") == 0
    assert moved("honcho_embedding_texts_total", work="foreground") >= 1
    assert moved("honcho_embedding_duration_seconds_count", work="foreground") >= 1
    # the chat stream was one request, counted once its last piece was sent
    chat = {"method": "POST", "route": "/v3/workspaces/{workspace_id}/peers/{peer_id}/chat"}
    assert moved("honcho_http_requests_total", **chat, status="200") == 2


def test_requests_in_flight_counts_the_requests_being_worked_on(
    server: tuple[str, Path], llm: FakeOpenAIServer
) -> None:
    """What waits on the process now: the scrape itself when idle, plus every request whose
    answer has not started (three chats held by a slow LLM here)."""
    base, _ = server
    ws = f"ws-{uuid.uuid4().hex[:10]}"
    assert value(scrape(base), "honcho_http_requests_in_flight") == 1
    with httpx.Client(base_url=base, timeout=60) as c:
        message = {"peer_id": "alice", "content": "I live in Lisbon."}
        r = c.post(f"/v3/workspaces/{ws}/sessions/s1/messages", json={"messages": [message]})
        assert r.status_code == 201, r.text
    llm.state.latency_seconds = 3.0
    try:

        def chat() -> int:
            with httpx.Client(base_url=base, timeout=60) as c:
                url = f"/v3/workspaces/{ws}/peers/alice/chat"
                return c.post(url, json={"query": "Where?"}).status_code

        with ThreadPoolExecutor(3) as pool:
            chats = [pool.submit(chat) for _ in range(3)]
            seen, deadline = 0.0, time.monotonic() + 2.5
            while seen < 4 and time.monotonic() < deadline:
                seen = value(scrape(base), "honcho_http_requests_in_flight")
                time.sleep(0.05)
            assert seen == 4
            assert [f.result() for f in chats] == [200] * 3
    finally:
        llm.state.latency_seconds = 0.0
    assert value(scrape(base), "honcho_http_requests_in_flight") == 1


def test_request_ids_round_trip_into_headers_and_logs(server: tuple[str, Path]) -> None:
    base, log_path = server
    ws = f"ws-{uuid.uuid4().hex[:10]}"
    given = f"client-{uuid.uuid4().hex}"
    with httpx.Client(base_url=base, timeout=30) as c:
        # given: returned as is
        r = c.post("/v3/workspaces", json={"id": ws}, headers={"X-Request-ID": given})
        assert r.headers["x-request-id"] == given
        # generated, on every kind of answer (404 unmatched, 422, 413 before any route ran)
        generated = []
        for response in (
            c.get("/health"),
            c.get("/v3/nowhere"),
            c.post("/v3/workspaces", json={"id": 5}),
            c.post(f"/v3/workspaces/{ws}/sessions/s/messages", content=b"{" + b" " * 70_000 + b"}"),
        ):
            assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), response
            generated.append(response.headers["x-request-id"])
        assert r.status_code in (200, 201) and response.status_code == 413
        assert len(set(generated)) == len(generated)
        # unacceptable ids are replaced
        for bad in (b"x" * 129, b"has space", "ünïcode".encode(), b""):
            r = c.get("/health", headers={"X-Request-ID": bad})
            assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]), bad
        r = c.get("/health", headers={"X-Request-ID": "x" * 128})
        assert r.headers["x-request-id"] == "x" * 128
        # a warning logged while handling a request carries its id
        hook = {"url": "http://127.0.0.1:9/hook"}
        assert c.post(f"/v3/workspaces/{ws}/webhooks", json=hook).status_code in (200, 201)
        warned = f"warn-{uuid.uuid4().hex}"
        r = c.get(f"/v3/workspaces/{ws}/webhooks/test", headers={"X-Request-ID": warned})
        assert r.status_code == 200 and r.headers["x-request-id"] == warned

    access = wait_for_log(log_path, rf"honcho_server\.access: .*request_id={given}$")
    assert len(access) == 1, access
    assert re.search(
        rf" INFO honcho_server\.access: POST {WORKSPACES} 20[01] \d+\.\dms client=127\.0\.0\.1 "
        rf"request_id={given}$",
        access[0],
    ), access
    too_large = wait_for_log(log_path, rf"access: POST {re.escape(MESSAGES)} 413 .*{generated[3]}$")
    assert len(too_large) == 1, "the 413 is logged with its route template and id"
    warning = wait_for_log(log_path, rf" WARNING .*request_id={warned}$")
    assert len(warning) == 1 and "WEBHOOK_SECRET" in warning[0], warning
    webhook_test = "/v3/workspaces/{workspace_id}/webhooks/test"
    assert wait_for_log(log_path, rf"access: GET {re.escape(webhook_test)} 200 .*{warned}$")
    assert not wait_for_log(log_path, r"uvicorn\.access", timeout=0), "uvicorn's log is off"


# ---- log settings ---------------------------------------------------------------------------


def test_json_lines_and_access_log_off(obs_database: str, tmp_path: Path) -> None:
    env = {**QUIET, "DATABASE_URL": obs_database, "LOG_LEVEL": "INFO", "EMBEDDED_WORKER": "false"}
    json_log, off_log = tmp_path / "json.log", tmp_path / "off.log"
    process, base = start_server({**env, "LOG_FORMAT": "json"}, json_log)
    try:
        r = httpx.get(f"{base}/v3/nowhere", headers={"X-Request-ID": "json-1"})
        assert r.status_code == 404
        assert wait_for_log(json_log, "json-1")
    finally:
        stop_server(process)
    lines = json_log.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(entries) > 3
    for entry in entries:
        assert {"time", "level", "logger", "message", "request_id"} <= entry.keys(), entry
    (access,) = [e for e in entries if e["request_id"] == "json-1"]
    assert access["logger"] == "honcho_server.access" and access["level"] == "INFO"
    assert access["method"] == "GET" and access["route"] == "unmatched"
    assert access["status"] == 404 and access["client"] == "127.0.0.1"
    assert isinstance(access["duration_ms"], float)
    assert any(e["logger"].startswith("uvicorn") for e in entries), "uvicorn's lines too"

    process, base = start_server({**env, "ACCESS_LOG": "false"}, off_log)
    try:
        r = httpx.get(f"{base}/health", headers={"X-Request-ID": "off-1"})
        assert r.headers["x-request-id"] == "off-1"  # ids are still returned
        assert scrape(base)  # and counted
    finally:
        stop_server(process)
    text = off_log.read_text()
    assert "Application startup complete" in text and "honcho_server.access" not in text


# ---- processes --------------------------------------------------------------------------------


def test_serve_with_two_workers_adds_up_their_counters(obs_database: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**QUIET, "DATABASE_URL": obs_database, "LOG_LEVEL": "INFO", "EMBEDDED_WORKER": "false"}
    log_path = tmp_path / "workers.log"
    process = spawn(["serve", "--port", str(port), "--workers", "2"], env, log_path)
    base = f"http://127.0.0.1:{port}"
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    try:
        wait_healthy(base, process)
        before = value(scrape(base), "honcho_http_requests_total", **labels)
        for _ in range(40):  # a new connection each: both processes answer some
            assert httpx.get(f"{base}/v3/nowhere").status_code == 404
        # Whichever process answers the scrape, it reports the sum of both.
        totals = [value(scrape(base), "honcho_http_requests_total", **labels) for _ in range(6)]
    finally:
        stop_server(process)
    assert totals == [before + 40] * 6
    text = log_path.read_text()
    assert text.count("Started server process") == 2
    assert text.count("honcho_server.access: GET unmatched 404") == 40, "both processes log"


async def test_separate_worker_serves_its_counters(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    async with fresh_database(database_url) as url:
        env = {**QUIET, "DATABASE_URL": url, "WORKER_METRICS_PORT": str(port)}
        process = start_worker(env, tmp_path / "worker.log")
        try:
            engine = create_async_engine(url)
            async with unit_of_work(async_sessionmaker(engine, expire_on_commit=False)) as db:
                await enqueue_probe(db, Probe(note="separate"))
            await engine.dispose()
            for _ in range(300):
                try:
                    samples = await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}")
                except httpx.HTTPError:
                    samples = {}
                if value(samples, "honcho_jobs_total", kind="probe", outcome="succeeded") == 1:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError((tmp_path / "worker.log").read_text()[-3000:])
        finally:
            stop_server(process)


# ---- the database down ------------------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a database that hangs)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("kind", ["refused", "silent"])
async def test_scrape_without_a_database_is_200_with_database_up_0(
    kind: str, silent_port: int
) -> None:
    port = free_port() if kind == "refused" else silent_port
    url = f"postgresql+asyncpg://honcho:x@127.0.0.1:{port}/honcho"
    settings = Settings(_env_file=None, database_url=url)
    app: FastAPI = create_app(settings)
    app.state.engine = create_engine(settings, url)  # no lifespan: it would need the database
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            started = time.monotonic()
            r = await client.get("/metrics")
            elapsed = time.monotonic() - started
    finally:
        await app.state.engine.dispose()
    assert r.status_code == 200 and r.headers["x-request-id"]
    # bounded by the scrape's own timeout, not asyncpg's 60 s connect timeout; the slack is for
    # the shared event loop of a whole-suite run (4.1 s seen once there, 2.8 s alone)
    assert elapsed < QUERY_TIMEOUT_SECONDS + 4.0
    families: dict[str, Any] = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families["honcho_database_up"].samples[0].value == 0
    assert "honcho_queue_jobs" not in families
    assert "honcho_db_pool_connections_in_use" in families
    assert "honcho_http_requests" in families


async def test_a_500_carries_the_request_id_in_its_header_and_traceback() -> None:
    """The error middleware answers a 500 inside our layer: header and traceback have the id."""
    app: FastAPI = create_app(Settings(_env_file=None, database_url="postgresql://x@h/db"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/boom", headers={"X-Request-ID": "boom-1"})
    finally:
        root.removeHandler(handler)
    assert r.status_code == 500 and r.headers["x-request-id"] == "boom-1"
    lines = out.getvalue().splitlines()
    assert any(" ERROR honcho_server.api: GET /boom -> 500 request_id=boom-1" in x for x in lines)
    assert "RuntimeError: kaboom" in out.getvalue()
