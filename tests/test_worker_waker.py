"""The worker's lanes are woken one per wake-up (issue 17: an ingest's notification cost a
claim per lane)."""

from __future__ import annotations

import asyncio

from honcho_server.worker.waker import Waker


async def _sleepers(waker: Waker, stop: asyncio.Event, n: int) -> list[asyncio.Task[bool]]:
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


async def test_wake_ups_while_a_lane_gathers_are_its_own() -> None:
    """A lane woken from idle pauses before it claims; the jobs queued meanwhile wake no
    other lane (they go in its claim: one batch, not one claim per job). Once it has claimed,
    wake-ups go to idle lanes again."""
    waker, stop = Waker(gather_seconds=0.2), asyncio.Event()
    first = await _sleepers(waker, stop, 1)
    others = await _sleepers(waker, stop, 3)
    waker.set()
    await asyncio.sleep(0.01)
    assert first[0].done() and await first[0]  # woken (not a poll)
    gathering = asyncio.create_task(waker.gather(stop))
    await asyncio.sleep(0.01)
    for _ in range(5):  # five more jobs queued during the pause
        waker.set()
    await asyncio.sleep(0.05)
    assert not any(t.done() for t in others)
    await asyncio.wait_for(gathering, 1)
    waker.set()
    await asyncio.sleep(0.01)
    assert sum(t.done() for t in others) == 1
    stop.set()
    await asyncio.wait_for(asyncio.gather(*others), 1)


async def test_stop_ends_a_gather_at_once() -> None:
    waker, stop = Waker(gather_seconds=30), asyncio.Event()
    gathering = asyncio.create_task(waker.gather(stop))
    await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(gathering, 1)
