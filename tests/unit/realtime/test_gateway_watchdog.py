"""The gateway's heartbeat watchdog runs on the injected clock: a session silent for 2.5
heartbeats is closed with its endpoint's code, and every message moves the deadline."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from yuntong.core.clock import FakeClock
from yuntong.core.context import Context
from yuntong.realtime.auth import Session
from yuntong.realtime.gateway import Watchdog


class Recorder(Session[None]):
    def __init__(self) -> None:
        self.closes: list[tuple[int, str]] = []

    @property
    def conn(self) -> None:
        return None

    @property
    def locale(self) -> str:
        return "en"

    async def send_raw(self, message: dict[str, Any]) -> None:
        pass

    async def greet(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))

    async def finish(self, goodbye: bool) -> None:
        pass


def _ctx(clock: FakeClock) -> Context:
    settings = SimpleNamespace(heartbeat_interval_s=20.0)  # silence allowed: 50 s
    return cast(Context, SimpleNamespace(clock=clock, settings=settings))


async def test_a_silent_session_is_closed_after_two_and_a_half_heartbeats() -> None:
    clock = FakeClock()
    session = Recorder()
    watchdog = Watchdog(_ctx(clock), session, 4008)
    await clock.run_for(seconds=0)
    await clock.run_for(seconds=49)
    assert session.closes == []
    await clock.run_for(seconds=1)
    assert session.closes == [(4008, "heartbeat timeout")]
    watchdog.cancel()


async def test_each_message_moves_the_deadline() -> None:
    clock = FakeClock()
    session = Recorder()
    watchdog = Watchdog(_ctx(clock), session, 4408)
    await clock.run_for(seconds=0)
    for _ in range(5):  # a message every 40 s: never 50 s of silence
        await clock.run_for(seconds=40)
        watchdog.heard()
    assert session.closes == []
    await clock.run_for(seconds=49)
    assert session.closes == []
    await clock.run_for(seconds=1)
    assert session.closes == [(4408, "heartbeat timeout")]
    watchdog.cancel()
