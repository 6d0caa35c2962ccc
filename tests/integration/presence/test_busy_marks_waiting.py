"""The busy marks with call waiting, in one process and in Redis alike: a waiting mark is taken
only behind the call its user is still in and while none waits; releasing that call moves the
waiting one into its place; a mark is released only by its own call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.support.redis import RedisServer
from yuntong.core.shared import RedisLink
from yuntong.presence.busy import BusyMarks, LocalBusy, RedisBusy


@pytest.fixture(params=["local", "redis"])
async def marks(request: pytest.FixtureRequest) -> AsyncIterator[BusyMarks]:
    if request.param == "local":
        yield LocalBusy()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis = Redis.from_url(server.url)
    try:
        yield RedisBusy(RedisLink(redis), ttl_s=60)
    finally:
        await redis.aclose()


async def test_a_call_waits_only_behind_the_call_its_user_is_in_and_one_at_most(
    marks: BusyMarks,
) -> None:
    assert await marks.take("c1", [1, 2]) is None  # user 2 in call c1
    assert await marks.take("c2", [3, 2]) == 2  # busy
    assert await marks.take_waiting("c2", [3], 2, behind="c0") == 2  # not the call 2 is in
    assert await marks.take_waiting("c2", [3], 2, behind="c1") is None
    assert await marks.take_waiting("c3", [4], 2, behind="c1") == 2  # one waits already
    assert await marks.take_waiting("c3", [3], 5, behind="c9") == 3  # the caller is busy
    assert await marks.busy_among([2, 3, 4]) == {2, 3}
    assert sorted(await marks.calls_of(2)) == ["c1", "c2"]
    assert await marks.call_of(2) == "c1"


async def test_releasing_the_first_call_moves_the_waiting_one_into_its_place(
    marks: BusyMarks,
) -> None:
    await marks.take("c1", [1, 2])
    await marks.take_waiting("c2", [3], 2, behind="c1")
    assert await marks.release("c1", [1, 2]) == [(2, "c2")]
    assert await marks.call_of(2) == "c2"
    assert await marks.calls_of(2) == ["c2"]
    assert await marks.busy_among([1, 2, 3]) == {2, 3}
    # a new call may wait behind the call that moved up
    assert await marks.take_waiting("c3", [4], 2, behind="c2") is None
    assert await marks.release("c2", [3, 2]) == [(2, "c3")]
    assert await marks.release("c3", [4, 2]) == []
    assert await marks.busy_among([1, 2, 3, 4]) == set()


async def test_a_waiting_call_that_ends_frees_only_its_own_marks(marks: BusyMarks) -> None:
    await marks.take("c1", [1, 2])
    await marks.take_waiting("c2", [3], 2, behind="c1")
    assert await marks.release("c2", [3, 2]) == []
    assert await marks.calls_of(2) == ["c1"]
    assert await marks.busy_among([1, 2, 3]) == {1, 2}
    assert await marks.release("c9", [1, 2]) == []  # another call's marks stay
    assert await marks.call_of(1) == "c1"


async def test_renewal_keeps_waiting_marks_alive_where_redis_has_them(
    redis_server: RedisServer,
) -> None:
    redis = Redis.from_url(redis_server.url)
    try:
        busy = RedisBusy(RedisLink(redis), ttl_s=60)
        await busy.take("c1", [1, 2])
        await busy.take_waiting("c2", [3], 2, behind="c1")
        await redis.pexpire("yuntong:waiting:2", 500)
        await busy.renew()
        assert await redis.pttl("yuntong:waiting:2") > 50_000
        await redis.flushall()  # a Redis restart: both calls' marks come back, in their places
        await busy.renew()
        assert await redis.mget(["yuntong:busy:2", "yuntong:waiting:2"]) == [b"c1", b"c2"]
    finally:
        await redis.aclose()
