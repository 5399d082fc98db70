"""LISTEN for new jobs on a dedicated connection; a lost notification only costs latency."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import asyncpg

from ..db.engine import driver_arguments

log = logging.getLogger(__name__)

CHANNEL = "honcho_jobs"
RECONNECT_SECONDS = 5.0


class Wakeable(Protocol):
    def set(self) -> None: ...


async def listen(url: str, wake: Wakeable, stop: asyncio.Event) -> None:
    """Set ``wake`` on every notification until ``stop``; reconnect if the connection drops."""
    while not stop.is_set():
        conn = None
        try:
            args, kwargs = driver_arguments(url)
            conn = await asyncpg.connect(*args, **kwargs)
            await conn.add_listener(CHANNEL, lambda *_: wake.set())
            lost = asyncio.Event()
            conn.add_termination_listener(lambda *_, lost=lost: lost.set())
            wake.set()  # catch up on anything enqueued while we were not listening
            await asyncio.wait(
                [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("job listener disconnected (%s); polling until it reconnects", exc)
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close()
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECONNECT_SECONDS)
