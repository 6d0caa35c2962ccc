"""The fake clock fires timers and wakes sleeps only when a test moves it."""

from __future__ import annotations

import asyncio

from yuntong.core.clock import Clock, FakeClock


async def test_timers_fire_in_due_order_only_when_advanced() -> None:
    clock = FakeClock()
    start = clock.now()
    fired: list[tuple[str, float]] = []

    def note(name: str) -> None:
        fired.append((name, (clock.now() - start).total_seconds()))

    clock.call_later(45, lambda: note("ring"))
    clock.call_later(10, lambda: note("grace"))
    cancelled = clock.call_later(5, lambda: note("cancelled"))
    cancelled.cancel()
    clock.advance(seconds=9)
    assert fired == []
    assert clock.pending == 2
    clock.advance(seconds=40)
    assert fired == [("grace", 10.0), ("ring", 45.0)]
    assert (clock.now() - start).total_seconds() == 49
    assert clock.pending == 0


async def test_a_timer_armed_by_a_timer_fires_within_the_same_advance() -> None:
    clock = FakeClock()
    fired: list[str] = []
    clock.call_later(1, lambda: clock.call_later(1, lambda: fired.append("second")))
    clock.advance(seconds=2)
    assert fired == ["second"]


async def test_sleep_wakes_when_time_is_moved() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(30))
    await asyncio.sleep(0)
    clock.advance(seconds=29)
    await asyncio.sleep(0)
    assert not task.done()
    await clock.run_for(seconds=1)
    assert task.done()


async def test_real_clock_timers_run_on_the_loop() -> None:
    clock = Clock()
    done = asyncio.Event()
    clock.call_later(0.01, done.set)
    await asyncio.wait_for(done.wait(), 2)
