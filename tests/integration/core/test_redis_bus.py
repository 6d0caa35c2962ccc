"""The Redis bus (core/bus/redis.py, issue 13): two nodes on one real, private Redis.

What one node publishes reaches the handlers of every node exactly once, a channel whose last
handler went is no longer subscribed, a failing handler does not stop the others, a node's own
channel reaches only that node, and the bus gets its subscriptions back by itself after Redis
was killed (or frozen) and started again, while publishing during the outage neither raises
nor hangs.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY

from tests.support.redis import RedisServer
from tests.support.server import wait_for
from yuntong.core.bus import node_channel
from yuntong.core.bus.redis import RedisBus
from yuntong.core.clock import Clock

SYNCED_S = 10.0
FENCE = "test.fence"
_fences = itertools.count()


def new_bus(server: RedisServer, node_id: str) -> RedisBus:
    # short time-outs and back-off: a test notices an outage and its end within a second
    return RedisBus(server.url, node_id, Clock(), timeout_s=1.0, reconnect_max_s=0.3, ping_s=1.0)


class Heard:
    """What one handler received, in order."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


@pytest.fixture
async def nodes(redis_server: RedisServer) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two nodes' buses, started, each also listening on the fence channel."""
    a, b = new_bus(redis_server, "node-a"), new_bus(redis_server, "node-b")
    try:
        for bus in (a, b):
            bus.subscribe(FENCE, fences_of(bus))
            await bus.start()
            assert await bus.synced(SYNCED_S)
        # each publisher's first connection to Redis is made by its first publish; on a loaded
        # machine that can outlast the bus's 1 s time-out, and the bus drops that batch (pub/sub
        # is at-most-once): warm both paths up before the tests count messages
        await warm_up(a, b)
        yield a, b
    finally:
        await a.close()
        await b.close()


_fence_handlers: dict[RedisBus, Heard] = {}


def fences_of(bus: RedisBus) -> Heard:
    return _fence_handlers.setdefault(bus, Heard())


async def fence(sender: RedisBus, *buses: RedisBus) -> None:
    """Publish a fence from ``sender`` and wait until every bus of ``buses`` has it: whatever
    Redis had to send to a bus before the fence has been handled there by then (one
    connection per node, read in order)."""
    n = next(_fences)
    await sender.publish(FENCE, {"fence": n})
    for bus in buses:
        await wait_for(lambda bus=bus: {"fence": n} in fences_of(bus).messages, timeout=5)


async def warm_up(*buses: RedisBus) -> None:
    """Every bus has sent a fence that every bus heard (sent again until it was)."""
    for sender in buses:
        n = next(_fences)
        deadline = time.monotonic() + SYNCED_S
        while not all({"fence": n} in fences_of(bus).messages for bus in buses):
            assert time.monotonic() < deadline, "the buses never heard each other"
            await sender.publish(FENCE, {"fence": n})
            await asyncio.sleep(0.5)


def numsub(server: RedisServer, channel: str) -> int:
    """How many connections Redis says are subscribed to ``channel``."""
    client = redis.Redis(port=server.port)
    try:
        return int(client.pubsub_numsub(channel)[0][1])
    finally:
        client.close()


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_message_reaches_the_handlers_of_every_node_exactly_once(
    nodes: tuple[RedisBus, RedisBus],
) -> None:
    a, b = nodes
    on_a, on_b = Heard(), Heard()
    a.subscribe("room:1", on_a)
    b.subscribe("room:1", on_b)
    assert await a.synced(SYNCED_S) and await b.synced(SYNCED_S)

    await a.publish("room:1", {"n": 1})
    assert on_a.messages == [{"n": 1}]  # its own node's handlers: at once, not via Redis
    await b.publish("room:1", {"n": 2, "text": "你好"})
    await fence(a, a, b)
    await fence(b, a, b)
    assert on_a.messages == [{"n": 1}, {"n": 2, "text": "你好"}]
    # b's own message reached it at once, a's whenever Redis brought it: either order
    assert sorted(on_b.messages, key=lambda m: m["n"]) == [{"n": 1}, {"n": 2, "text": "你好"}]


async def test_a_channel_whose_last_handler_went_is_no_longer_delivered_or_subscribed(
    redis_server: RedisServer, nodes: tuple[RedisBus, RedisBus]
) -> None:
    a, b = nodes
    on_a, on_b, also_on_b = Heard(), Heard(), Heard()
    a.subscribe("room:2", on_a)
    b.subscribe("room:2", on_b)
    b.subscribe("room:2", also_on_b)
    assert await b.synced(SYNCED_S)
    assert numsub(redis_server, "room:2") == 2

    b.unsubscribe("room:2", on_b)  # another handler still listens: still subscribed
    await a.publish("room:2", {"n": 1})
    await fence(a, b)
    assert on_b.messages == [] and also_on_b.messages == [{"n": 1}]

    b.unsubscribe("room:2", also_on_b)
    await wait_for(lambda: numsub(redis_server, "room:2") == 1, timeout=5)
    await a.publish("room:2", {"n": 2})
    await fence(a, b)
    assert also_on_b.messages == [{"n": 1}]
    assert on_a.messages == [{"n": 1}, {"n": 2}]


async def test_a_failing_handler_does_not_stop_the_others(
    nodes: tuple[RedisBus, RedisBus],
) -> None:
    a, b = nodes

    async def broken(message: dict[str, Any]) -> None:
        raise RuntimeError("a handler with a bug")

    on_a, on_b = Heard(), Heard()
    for bus, heard in ((a, on_a), (b, on_b)):
        bus.subscribe("room:3", broken)
        bus.subscribe("room:3", heard)
    assert await b.synced(SYNCED_S)

    await a.publish("room:3", {"n": 1})
    await a.publish("room:3", {"n": 2})
    await fence(a, b)
    assert on_a.messages == [{"n": 1}, {"n": 2}]
    assert on_b.messages == [{"n": 1}, {"n": 2}]  # the listener survived the bug


async def test_a_node_channel_reaches_only_that_node(
    redis_server: RedisServer, nodes: tuple[RedisBus, RedisBus]
) -> None:
    a, b = nodes
    # subscribed from the start, before any handler is registered on it
    assert numsub(redis_server, node_channel("node-a")) == 1
    assert numsub(redis_server, node_channel("node-b")) == 1
    to_a, to_b = Heard(), Heard()
    a.subscribe(node_channel("node-a"), to_a)
    b.subscribe(node_channel("node-b"), to_b)

    await a.publish(node_channel("node-b"), {"command": "end", "call_id": "c1"})
    await fence(a, a, b)
    assert to_b.messages == [{"command": "end", "call_id": "c1"}]
    assert to_a.messages == []


async def test_the_bus_comes_back_by_itself_after_redis_was_killed_and_restarted(
    redis_server: RedisServer, nodes: tuple[RedisBus, RedisBus]
) -> None:
    a, b = nodes
    on_a, on_b = Heard(), Heard()
    a.subscribe("room:4", on_a)
    b.subscribe("room:4", on_b)
    assert await b.synced(SYNCED_S)
    reconnects = counted("yuntong_bus_reconnects_total")
    lost = sum(
        counted("yuntong_bus_publish_failures_total", reason=r)
        for r in ("redis_down", "error", "timeout")
    )

    redis_server.stop(kill=True)
    await wait_for(lambda: not a.connected and not b.connected, timeout=5)
    assert (await a.status()).startswith("unavailable: ")

    started = time.monotonic()
    await a.publish("room:4", {"during": "outage"})  # neither raises nor waits for Redis
    assert time.monotonic() - started < 0.5
    assert on_a.messages == [{"during": "outage"}]  # this node's handlers still hear it
    await wait_for(
        lambda: (
            sum(
                counted("yuntong_bus_publish_failures_total", reason=r)
                for r in ("redis_down", "error", "timeout")
            )
            == lost + 1
        ),
        timeout=5,
    )

    b.subscribe("room:5", on_b)  # subscribed while Redis is away: subscribed when it is back
    redis_server.start()
    assert await a.synced(SYNCED_S) and await b.synced(SYNCED_S)
    assert counted("yuntong_bus_reconnects_total") == reconnects + 2
    assert await a.status() == "ok"

    await a.publish("room:4", {"after": "outage"})
    await a.publish("room:5", {"on": "a new channel"})
    await fence(a, b)
    assert on_b.messages == [{"after": "outage"}, {"on": "a new channel"}]
    assert numsub(redis_server, node_channel("node-a")) == 1


async def test_a_bus_that_was_never_started_publishes_to_the_others(
    redis_server: RedisServer, nodes: tuple[RedisBus, RedisBus]
) -> None:
    """The ``yuntong`` command publishes without listening; what it queued goes out before
    its bus closes."""
    _, b = nodes
    on_b = Heard()
    b.subscribe("room:6", on_b)
    assert await b.synced(SYNCED_S)
    command = new_bus(redis_server, "node-b")  # the same node id as the server it runs by
    await command.publish("room:6", {"from": "the command"})
    await command.close()
    await wait_for(lambda: on_b.messages == [{"from": "the command"}], timeout=5)


async def test_publishing_without_redis_neither_raises_nor_hangs(
    redis_server: RedisServer,
) -> None:
    redis_server.stop(kill=True)
    bus = new_bus(redis_server, "node-c")
    heard = Heard()
    bus.subscribe("room:7", heard)
    try:
        started = time.monotonic()
        await bus.start()  # waits at most its time-out for the first subscription
        await bus.publish("room:7", {"n": 1})
        assert heard.messages == [{"n": 1}]
        assert time.monotonic() - started < 3.0
        assert (await bus.status()).startswith("unavailable: ")
    finally:
        started = time.monotonic()
        await bus.close()
        assert time.monotonic() - started < 3.0


async def test_a_redis_that_stops_answering_is_noticed_and_the_bus_comes_back(
    redis_server: RedisServer,
) -> None:
    """A frozen Redis (SIGSTOP: the connection stays open, nothing answers, as when the network
    is cut) is noticed by the PING on the quiet connection; a quiet Redis that answers is not
    mistaken for a lost one."""
    a = RedisBus(
        redis_server.url, "node-q", Clock(), timeout_s=0.5, reconnect_max_s=0.3, ping_s=0.3
    )
    heard = Heard()
    a.subscribe("room:8", heard)
    assert redis_server.proc is not None
    pid = redis_server.proc.pid
    try:
        await a.start()
        assert await a.synced(SYNCED_S)
        reconnects = counted("yuntong_bus_reconnects_total")
        await asyncio.sleep(1.5)  # five quiet periods, each ended by a PING answered
        assert a.connected and counted("yuntong_bus_reconnects_total") == reconnects

        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        await wait_for(lambda: not a.connected, timeout=5)
        assert time.monotonic() - started < 2.0  # a PING's period, and as long again
        assert (await a.status()).startswith("unavailable: ")

        os.kill(pid, signal.SIGCONT)
        assert await a.synced(SYNCED_S)
        other = new_bus(redis_server, "node-r")
        await other.publish("room:8", {"n": 1})
        await other.close()
        await wait_for(lambda: heard.messages == [{"n": 1}], timeout=5)
    finally:
        os.kill(pid, signal.SIGCONT)
        await a.close()
