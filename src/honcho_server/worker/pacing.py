"""Bulk work yields to a busy API in the same process.

The in-process worker shares the cores with the API it runs beside. Its bulk kinds (message
and conclusion embeddings) run the model on idle-priority threads, but the rest of an
embedding job runs at normal priority: the claim, chunking, the vector writes and Postgres'
index inserts; and the model still shares the cores' caches. Measured on a 2-core machine,
16 clients ingesting, alternated runs: 432 and 454 requests a second with the embedding
running beside them, 633 and 681 with no worker at all, 598 and 640 paced as below.

So while the API is busy (on average at least :data:`BUSY_CONCURRENCY` requests in flight
over the last second: ``observability.concurrency``), bulk jobs run one at a time and only
for ``share`` of the wall time: one may be claimed only when no other claim or bulk job is in
progress and bulk jobs ran less than ``share`` of the last :data:`WINDOW_SECONDS`; when the
budget frees up, the lanes are woken (``on_free``). When the API is not busy there is no
limit. Held jobs stay ``todo`` (the claim leaves their priority out), so a separate worker
process can take them, and the backlog catches up as soon as the burst is over; under a load
that never ends the embeddings still advance, at ``share`` of the time.
``EMBED_SHARE_WHEN_BUSY=1`` turns this off. A worker running on its own (``honcho-server
worker``) has no API beside it and no pacing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from ..observability.concurrency import Concurrency
from ..queue.payloads import BULK_KINDS

BUSY_CONCURRENCY = 2.0
WINDOW_SECONDS = 10.0


class Pacing:
    def __init__(
        self, api: Concurrency, share: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.api = api
        self.share = share
        self._clock = clock
        self._runs: deque[tuple[float, float]] = deque()  # (start, end) of finished runs
        self._running = 0  # bulk runs, and claims that may take bulk work, in progress
        #: called once the share's budget frees up after a hold (wakes the worker's lanes)
        self.on_free: Callable[[], None] | None = None
        self._wake: asyncio.TimerHandle | None = None
        #: since when the API has been busy and bulk work paced (None: it is not), for the
        #: worker's report
        self.paced_since: datetime | None = None

    @contextmanager
    def claiming(self) -> Iterator[bool]:
        """Around a claim: whether it may take bulk work. While the API is busy, a claim
        that may counts as a bulk run until it is over, so no other claim takes bulk work
        meanwhile (the run it claims, if any, counts itself: :meth:`run`)."""
        allowed = not self._holding()
        if allowed:
            self._running += 1
        try:
            yield allowed
        finally:
            if allowed:
                self._running -= 1

    @contextmanager
    def run(self, kind: str) -> Iterator[None]:
        """Around a claimed job's (or batch's) work: bulk runs are counted against the share."""
        if kind not in BULK_KINDS:
            yield
            return
        started = self._clock()
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            self._runs.append((started, self._clock()))

    def _holding(self) -> bool:
        if self.share >= 1 or self.api.average() < BUSY_CONCURRENCY:
            self.paced_since = None
            return False
        if self.paced_since is None:
            self.paced_since = datetime.now(UTC)
        if self._running:
            return True
        over = self._spent() - self.share * WINDOW_SECONDS
        if over < 0:
            return False
        self._wake_in(over + 0.05)
        return True

    def _wake_in(self, seconds: float) -> None:
        """``on_free`` in about ``seconds`` (the budget frees at most that fast; a lane
        woken early finds it still held and is woken again)."""
        if self.on_free is None or self._wake is not None:  # one wake-up pending at most
            return
        on_free = self.on_free

        def wake() -> None:
            self._wake = None
            on_free()

        self._wake = asyncio.get_running_loop().call_later(max(seconds, 0.05), wake)

    def _spent(self) -> float:
        """Seconds of bulk work in the last window (overlapping runs each count: at most one
        runs at a time while the API is busy)."""
        since = self._clock() - WINDOW_SECONDS
        while self._runs and self._runs[0][1] <= since:
            self._runs.popleft()
        return sum(end - max(start, since) for start, end in self._runs)
