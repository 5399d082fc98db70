"""How a worker's lanes are woken: one wake-up, one lane."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any, Protocol

#: How long a lane woken from idle waits for more work before it claims: 50 ms of latency on
#: a job that finds the worker idle, for batches instead of one claim per job under load.
GATHER_SECONDS = 0.05


class Settable(Protocol):
    def set(self) -> None: ...


class Waker:
    """Hands each wake-up (a notification from the process's one listener, a claimed job) to
    one idle lane, not to all: a job queued costs the queue one claim that takes it (and one
    more that finds nothing left), not a claim per lane. A wake-up while no lane is idle is
    kept for the next lane about to sleep, so none is lost between a lane's empty claim and
    its sleep; polling stays the guarantee. A woken lane first gathers (:meth:`gather`):
    wake-ups meanwhile are its own."""

    def __init__(self, gather_seconds: float = GATHER_SECONDS) -> None:
        self._idle: deque[asyncio.Future[None]] = deque()
        self._pending = False
        self._gathering = 0
        self.gather_seconds = gather_seconds

    def set(self) -> None:
        if self._gathering:  # a lane about to claim takes this job along with the others
            return
        while self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._pending = True

    async def wait(self, poll: float, stop: asyncio.Event) -> bool:
        """Until woken, ``stop``, or ``poll`` seconds; True when woken."""
        if self._pending:
            self._pending = False
            return True
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
        return waiter.done() and not waiter.cancelled()

    async def gather(self, stop: asyncio.Event) -> None:
        """A woken lane's pause before it claims: the jobs queued meanwhile wake no other
        lane, so they go in this lane's claim (embedding jobs: one batch, one model call)
        instead of one claim and one batch of one per lane. Under a steady stream of one-message
        ingests every notification used to wake an idle lane that claimed the one job just
        queued."""
        self._gathering += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.gather_seconds)
        finally:
            self._gathering -= 1
