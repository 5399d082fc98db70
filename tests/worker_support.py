"""Driving the real worker from tests: run due jobs in-process until the queue is quiet."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.llm import LLMRegistry
from honcho_server.settings import Settings
from honcho_server.worker.context import WorkerServices
from honcho_server.worker.runner import run_once


async def drain(app: FastAPI, settings: Settings, limit: int = 100) -> int:
    """Run due jobs (retries due at once) until none is left; returns how many ran."""
    registry = LLMRegistry(settings)
    # a dependency found down may be probed again at once (the breaker's cool-down is 0)
    services = WorkerServices(
        settings=settings, embedder=app.state.embedder, llm=registry, outage_cooldown=0.0
    )
    ran = 0
    try:
        while ran < limit and await run_once(
            app.state.session_factory, "test-worker", services, backoff_base=0.0
        ):
            ran += 1
    finally:
        await registry.aclose()
    return ran


async def rows(app: FastAPI, sql: str, **params: Any) -> list[Any]:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())
