"""The injected clock: timezone-aware UTC now, timers and sleeps, movable in tests.

Everything that waits — ring time-outs, reconnect grace, an empty meeting's end, retry
back-offs — goes through the :class:`Clock` it was given, never through ``loop.call_later`` or
``asyncio.sleep`` directly, so a test can hand it a :class:`FakeClock` and move time by hand
instead of really waiting (Synapse's ``Clock`` over a fake reactor is the model).

- :class:`Clock`: the wall clock and the event loop's timers (production).
- :class:`FrozenClock`: ``now()`` moves only by hand; timers and sleeps still run on real
  time (billing tests that pin a date but run a real server).
- :class:`FakeClock`: ``now()``, timers and sleeps all move only when the test calls
  :meth:`FakeClock.advance` (or awaits :meth:`FakeClock.run_for`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Timer(Protocol):
    """A pending callback; ``cancel()`` is cheap and may be called more than once."""

    def cancel(self) -> None: ...


class Clock:
    """Wall clock; timers are the running event loop's timer handles."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` (a plain function) after ``delay`` seconds on the running loop."""
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FrozenClock(Clock):
    """``now()`` stands still until moved; timers and sleeps are real."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("naive datetime refused")
        self._now = moment


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "due")

    def __init__(self, due: datetime, callback: Callable[[], object]) -> None:
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock(FrozenClock):
    """Time moves only by hand: ``advance`` fires the timers and wakes the sleeps that fall due.

    Callbacks run in due order, each with ``now()`` set to its due moment, so a timer armed by
    another timer's callback within the same advance fires too.
    """

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start)
        self._timers: list[tuple[datetime, int, _FakeTimer]] = []
        self._order = itertools.count()

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        timer = _FakeTimer(self._now + timedelta(seconds=max(0.0, delay)), callback)
        heapq.heappush(self._timers, (timer.due, next(self._order), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await woken
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """How many timers (and sleeps) are waiting."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)

    def advance(self, **kwargs: float) -> None:
        until = self._now + timedelta(**kwargs)
        while self._timers and self._timers[0][0] <= until:
            due, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, due)
            timer.cancelled = True
            timer.callback()
        self._now = until

    async def run_for(self, **kwargs: float) -> None:
        """Advance, then let the tasks the timers started run until they wait on real I/O."""
        self.advance(**kwargs)
        for _ in range(20):
            await asyncio.sleep(0)
