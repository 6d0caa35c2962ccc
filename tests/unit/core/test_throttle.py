"""The throttle behind every guessable thing: sliding window, lock-out, bounded memory.

Every rule is checked on both implementations — in memory (one node) and in a private Redis
(several nodes) — so that moving the counts to Redis changes nothing a client is told."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from tests.support.redis import RedisServer
from yuntong.core.clock import FrozenClock
from yuntong.core.errors import YuntongError
from yuntong.core.shared import RedisLink
from yuntong.core.throttle import Limit, MemoryThrottle, RedisThrottle, Throttle, client_key

MakeThrottle = Callable[[FrozenClock, Limit], Throttle]


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[MakeThrottle]:
    if request.param == "memory":
        yield MemoryThrottle
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis = Redis.from_url(server.url)
    link = RedisLink(redis)
    try:
        yield lambda clock, limit: RedisThrottle("test", clock, limit, link)
    finally:
        await redis.aclose()


async def test_a_sliding_window_waits_until_the_oldest_event_leaves_it(make: MakeThrottle) -> None:
    clock = FrozenClock()
    t = make(clock, Limit(3, window_s=60))
    assert [await t.hit("k") for _ in range(2)] == [0, 0]
    clock.advance(seconds=20)
    assert await t.hit("k") == 40  # three in the window: the first leaves it in 40 s
    assert await t.wait("other") == 0
    with pytest.raises(YuntongError) as held:
        await t.take("k")
    assert (held.value.code, held.value.status, held.value.retry_after) == ("rate_limited", 429, 40)
    clock.advance(seconds=40)
    assert await t.wait("k") == 0
    await t.take("k")  # allowed again, and counted: events at 20 and 60 s
    assert await t.hit("k") == 20  # three again: the one at 20 s leaves at 80 s


async def test_a_lockout_holds_the_key_from_the_event_that_reached_the_limit(
    make: MakeThrottle,
) -> None:
    clock = FrozenClock()
    t = make(clock, Limit(2, window_s=60, lockout_s=900))
    await t.hit("k")
    clock.advance(seconds=59)
    assert await t.hit("k") == 900
    clock.advance(seconds=899.5)
    assert await t.wait("k") == 1  # rounded up: never 0 while held
    await t.clear("k")  # a success does not lift a lock-out in force
    assert await t.wait("k") == 1
    clock.advance(seconds=1)
    assert await t.wait("k") == 0
    assert await t.hit("k") == 0  # counting starts afresh


async def test_events_older_than_the_window_do_not_count(make: MakeThrottle) -> None:
    clock = FrozenClock()
    t = make(clock, Limit(2, window_s=60, lockout_s=900))
    await t.hit("k")
    clock.advance(seconds=60)
    assert await t.hit("k") == 0


async def test_a_success_forgets_the_failures_before_it(make: MakeThrottle) -> None:
    clock = FrozenClock()
    t = make(clock, Limit(2, window_s=60, lockout_s=900))
    await t.hit("k")
    await t.clear("k")
    assert await t.hit("k") == 0


async def test_a_spray_of_keys_is_bounded_and_keeps_held_keys() -> None:
    clock = FrozenClock()
    t = MemoryThrottle(clock, Limit(2, window_s=60, lockout_s=900), max_keys=100)
    await t.hit("victim")
    await t.hit("victim")
    for n in range(1_000):
        await t.hit(f"spray{n}")
    assert len(t._events) <= 100
    assert await t.wait("victim") == 900


async def test_check_fills_minutes_for_messages_that_have_them(make: MakeThrottle) -> None:
    clock = FrozenClock()
    t = make(clock, Limit(1, window_s=60, lockout_s=600))
    await t.hit("m")
    with pytest.raises(YuntongError) as locked:
        await t.check("m", "meeting_passcode_locked")
    assert locked.value.retry_after == 600
    assert locked.value.message("en").endswith("paused for 10 minutes")
    assert locked.value.headers == {"Retry-After": "600"}
    assert locked.value.to_dict("en")["retry_after"] == 600


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_client_keys(address: str | None, key: str) -> None:
    assert client_key(address) == key
