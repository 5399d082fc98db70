"""Bulk work yields to a busy API in the same process.

The in-process worker shares the cores with the API it runs beside. Its bulk kinds (message
and conclusion embeddings) run the model on idle-priority threads, but the rest of an
embedding job runs at normal priority: the claim, chunking, the vector writes and Postgres'
index inserts; and the model still shares the cores' caches. Measured on a 2-core machine,
16 clients ingesting: 864 requests a second with the embedding held, 485 with it running.

So while the API is busy (on average at least :data:`BUSY_CONCURRENCY` requests in flight
over the last second: ``observability.concurrency``), bulk jobs run one at a time and only
for ``share`` of the wall time: one starts only when bulk jobs ran less than ``share`` of the
last :data:`WINDOW_SECONDS`. When the API is not busy there is no limit. Held jobs stay
``todo`` (``worker.gates`` leaves them out of the claim), so a separate worker process can
take them, and the backlog catches up as soon as the burst is over; under a load that never
ends the embeddings still advance at ``share`` of the time. ``EMBED_SHARE_WHEN_BUSY=1``
turns this off. A worker running on its own (``honcho-server worker``) has no API beside it
and no pacing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
        self._running = 0
        #: since when the API has been busy and bulk work paced (None: it is not), for the
        #: worker's report
        self.paced_since: float | None = None

    def holding(self) -> bool:
        """Whether bulk kinds must not be claimed now."""
        if self.share >= 1 or self.api.average() < BUSY_CONCURRENCY:
            self.paced_since = None
            return False
        if self.paced_since is None:
            self.paced_since = self._clock()
        return self._running > 0 or self._spent() >= self.share * WINDOW_SECONDS

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

    def _spent(self) -> float:
        since = self._clock() - WINDOW_SECONDS
        while self._runs and self._runs[0][1] <= since:
            self._runs.popleft()
        return sum(end - max(start, since) for start, end in self._runs)
