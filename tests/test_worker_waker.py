"""The worker's lanes are woken one per wake-up (issue 17: an ingest's notification cost a
claim per lane)."""

from __future__ import annotations

import asyncio

from honcho_server.worker.waker import Waker


async def _sleepers(waker: Waker, stop: asyncio.Event, n: int) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(waker.wait(30, stop)) for _ in range(n)]
    await asyncio.sleep(0.01)  # all of them asleep
    return tasks


async def test_one_wake_up_wakes_one_idle_lane() -> None:
    waker, stop = Waker(), asyncio.Event()
    lanes = await _sleepers(waker, stop, 4)
    waker.set()
    await asyncio.sleep(0.01)
    assert sum(t.done() for t in lanes) == 1
    waker.set()
    await asyncio.sleep(0.01)
    assert sum(t.done() for t in lanes) == 2
    stop.set()  # stop wakes every lane
    await asyncio.wait_for(asyncio.gather(*lanes), 1)


async def test_a_wake_up_with_no_lane_idle_is_kept_for_the_next() -> None:
    waker, stop = Waker(), asyncio.Event()
    waker.set()  # every lane busy: kept
    await asyncio.wait_for(waker.wait(30, stop), 1)  # returns at once
    lanes = await _sleepers(waker, stop, 1)  # spent: this one sleeps
    assert not lanes[0].done()
    stop.set()
    await asyncio.wait_for(asyncio.gather(*lanes), 1)


async def test_an_idle_lane_still_polls() -> None:
    waker, stop = Waker(), asyncio.Event()
    await asyncio.wait_for(waker.wait(0.05, stop), 1)
