"""How a worker's lanes are woken: one wake-up, one lane."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any, Protocol


class Settable(Protocol):
    def set(self) -> None: ...


class Waker:
    """Hands each wake-up (a notification from the process's one listener, a claimed job) to
    one idle lane, not to all: a job queued costs the queue one claim that takes it (and one
    more that finds nothing left), not a claim per lane. A wake-up while no lane is idle is
    kept for the next lane about to sleep, so none is lost between a lane's empty claim and
    its sleep; polling stays the guarantee."""

    def __init__(self) -> None:
        self._idle: deque[asyncio.Future[None]] = deque()
        self._pending = False

    def set(self) -> None:
        while self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._pending = True

    async def wait(self, poll: float, stop: asyncio.Event) -> None:
        """Until woken, ``stop``, or ``poll`` seconds."""
        if self._pending:
            self._pending = False
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle.append(waiter)
        stopping: asyncio.Future[bool] = asyncio.ensure_future(stop.wait())
        either: set[asyncio.Future[Any]] = {waiter, stopping}
        try:
            await asyncio.wait(either, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):
                self._idle.remove(waiter)
