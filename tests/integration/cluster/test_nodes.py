"""Node liveness (issue 13): nodes on one database (and Redis) see each other; a node that goes
silent — killed, or its keepalive stopped — is dead within ``node_dead_after_s``; an
unreachable Redis does not make anyone dead; a node id is never run by two live processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.cluster.conftest import DEAD_AFTER_S, KEEPALIVE_S
from tests.support.redis import RedisServer
from yuntong.cluster import nodes
from yuntong.cluster.models import Node
from yuntong.core.clock import FakeClock
from yuntong.core.context import Context

SLACK_S = 2.0  # a loaded 2-core machine: a process may wait this long for the CPU


async def eventually(probe: Callable[[], Awaitable[bool]], within: float, what: str) -> float:
    """Seconds until ``probe`` holds (polled); fails after ``within``."""
    started = time.monotonic()
    while not await probe():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within:.1f} s: {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def last_seen(ctx: Context, node_id: str) -> datetime | None:
    async with ctx.db.session() as s:
        row = await s.get(Node, node_id, populate_existing=True)
    return None if row is None else row.last_seen_at


async def test_a_node_that_stops_renewing_is_dead_after_the_dead_after_time(
    node_factory: Any,
) -> None:
    """Without Redis the database heartbeat is the keepalive. On a clock moved by hand: A stops
    renewing (its loop gone, as in a hang or a crash) and is still alive to B until
    ``node_dead_after_s`` has passed since A was last heard, and dead after."""
    clock = FakeClock(datetime.now(UTC))
    a, b = await node_factory(), await node_factory()
    for ctx in (a, b):
        nodes.node_of(ctx).clock = clock
        await nodes.start(ctx, "serve")
    assert await nodes.live_nodes(a) == {a.node_id, b.node_id}
    assert await nodes.live_nodes(b) == {a.node_id, b.node_id}

    task = nodes.node_of(a).task
    assert task is not None
    task.cancel()  # A falls silent (not a clean stop: its row still says it runs)

    async def renewed_by_b() -> bool:
        return await last_seen(b, b.node_id) == clock.now()

    clock.advance(seconds=DEAD_AFTER_S - 2 * KEEPALIVE_S)
    await eventually(renewed_by_b, 10, "B renewed")
    assert await nodes.live_nodes(b) == {a.node_id, b.node_id}  # not yet dead-after

    clock.advance(seconds=3 * KEEPALIVE_S)
    await eventually(renewed_by_b, 10, "B renewed")
    assert await nodes.live_nodes(b) == {b.node_id}
    assert await nodes.dead_among(b, [a.node_id, b.node_id, "never-heard"]) == {
        a.node_id,
        "never-heard",
    }


async def test_a_killed_node_process_is_seen_dead_within_the_dead_after_time(
    node_factory: Any, child_node: Any
) -> None:
    b = await node_factory()
    await nodes.start(b, "serve")
    child_ctx = await node_factory()
    child = child_node(child_ctx.settings)
    assert await child.ready() == "alive"
    victim = child_ctx.node_id
    assert await nodes.is_alive(b, victim)
    await asyncio.sleep(2 * DEAD_AFTER_S)
    assert await nodes.is_alive(b, victim)  # it renews: alive well past the dead-after time

    child.kill()

    async def dead() -> bool:
        return not await nodes.is_alive(b, victim)

    took = await eventually(dead, DEAD_AFTER_S + SLACK_S, "the killed node seen dead")
    assert took <= DEAD_AFTER_S + SLACK_S
    assert await nodes.is_alive(b, b.node_id)


async def test_with_redis_nodes_keep_a_key_and_a_clean_stop_is_dead_at_once(
    node_factory: Any, redis_server: RedisServer
) -> None:
    a = await node_factory(redis_url=redis_server.url)
    b = await node_factory(redis_url=redis_server.url)
    for ctx in (a, b):
        await nodes.start(ctx, "serve")
    assert await nodes.live_nodes(a) == {a.node_id, b.node_id} == await nodes.live_nodes(b)
    assert b.redis is not None
    raw = await b.redis.get(nodes.KEY_PREFIX + a.node_id)
    assert raw is not None
    described = json.loads(raw)
    assert described["pid"] == os.getpid() and described["role"] == "serve"
    ttl_ms = await b.redis.pttl(nodes.KEY_PREFIX + a.node_id)
    assert 0 < ttl_ms <= DEAD_AFTER_S * 1000

    await nodes.stop(a)
    assert await b.redis.exists(nodes.KEY_PREFIX + a.node_id) == 0
    assert await nodes.live_nodes(b) == {b.node_id}  # at once, not after the dead-after time


async def test_a_node_heard_in_redis_alone_is_alive(
    node_factory: Any, redis_server: RedisServer
) -> None:
    """A node that cannot write to the database but renews its Redis key is not dead (and the
    other way round, below): dead means heard in neither."""
    b = await node_factory(redis_url=redis_server.url)
    await nodes.start(b, "serve")
    assert b.redis is not None
    await b.redis.set(nodes.KEY_PREFIX + "db-less", "{}", px=int(DEAD_AFTER_S * 1000))
    assert await nodes.is_alive(b, "db-less")
    assert not await nodes.dead_among(b, ["db-less"])

    async def expired() -> bool:
        return not await nodes.is_alive(b, "db-less")

    await eventually(expired, DEAD_AFTER_S + SLACK_S, "the key expired")


async def test_nodes_do_not_declare_each_other_dead_while_redis_is_down(
    node_factory: Any, redis_server: RedisServer
) -> None:
    """Redis killed: the keys are gone with it, but the database heartbeats go on, so each node
    still sees the other alive; once Redis is back the keys are renewed."""
    a = await node_factory(redis_url=redis_server.url)
    b = await node_factory(redis_url=redis_server.url)
    for ctx in (a, b):
        await nodes.start(ctx, "serve")

    redis_server.stop(kill=True)
    await asyncio.sleep(3 * DEAD_AFTER_S)
    assert await nodes.live_nodes(a) == {a.node_id, b.node_id}
    assert await nodes.live_nodes(b) == {a.node_id, b.node_id}
    assert (await nodes.peers(b))["live"] == sorted([a.node_id, b.node_id])

    redis_server.start()
    assert b.redis is not None
    redis = b.redis

    async def keys_back() -> bool:
        try:
            return bool(await redis.exists(nodes.KEY_PREFIX + a.node_id))
        except (OSError, ConnectionError):
            return False
        except Exception:  # redis-py's own ConnectionError while it reconnects
            return False

    await eventually(keys_back, KEEPALIVE_S * 10 + SLACK_S, "A's key renewed after Redis came back")


async def test_a_node_id_is_never_run_by_two_live_processes(
    node_factory: Any, child_node: Any
) -> None:
    """A start under an id another live process renews is refused (after waiting for it to
    lapse); once that process is killed, the id is taken at once: a crashed predecessor on
    this host is dead, so a node restarted after a crash recovers its own rows straight away."""
    holder = await node_factory()
    child = child_node(holder.settings)
    assert await child.ready() == "alive"
    twin = await node_factory(node_id=holder.node_id)
    with pytest.raises(nodes.NodeIdInUse):
        await nodes.start(twin, "serve")

    child.kill()
    started = time.monotonic()
    await nodes.start(twin, "serve")  # no wait for the dead-after time
    assert time.monotonic() - started < DEAD_AFTER_S
    async with twin.db.session() as s:
        row = (await s.execute(select(Node).where(Node.id == twin.node_id))).scalar_one()
    assert row.pid == os.getpid()


async def test_the_node_id_is_kept_in_the_var_folder_unless_configured(
    node_factory: Any,
) -> None:
    ctx = await node_factory(node_id="")
    first = nodes.own_id(ctx.settings, "serve")
    assert first == nodes.own_id(ctx.settings, "serve")  # the same at every start
    assert (ctx.settings.var_dir / "node_id").read_text().strip() == first
    assert nodes.own_id(ctx.settings, "billing-worker") == f"{first}.billing"
    configured = await node_factory(node_id="edge-7")
    assert nodes.own_id(configured.settings, "serve") == "edge-7"


async def test_yuntong_nodes_lists_nodes_and_whether_they_are_alive(node_factory: Any) -> None:
    alive, stopped = await node_factory(), await node_factory()
    for ctx in (alive, stopped):
        await nodes.start(ctx, "serve")
    await nodes.stop(stopped)
    env = {
        **os.environ,
        "YUNTONG_VAR_DIR": str(alive.settings.var_dir),
        "YUNTONG_DATABASE_URL": alive.settings.database_url,
        "YUNTONG_NODE_DEAD_AFTER_S": str(DEAD_AFTER_S),
        "COLUMNS": "250",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "yuntong", "nodes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if "│" in line}
    assert "alive" in rows[alive.node_id]
    assert "stopped" in rows[stopped.node_id]
