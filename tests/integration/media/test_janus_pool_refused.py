"""A dead Janus node is out of the pool at once (issue 12): a connection it refuses marks it
unhealthy, so does the loss of the pool's own connection to it, without waiting for the next
probe; and its counts are no longer reported."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.media.test_janus_pool import node_of, occupy
from tests.support.janus import Janus, needs_janus, running_janus
from tests.support.server import wait_for
from yuntong.core.errors import YuntongError
from yuntong.media.janus import JanusUnavailable
from yuntong.media.pool import JanusPool

pytestmark = needs_janus
NO_PROBE_S = 60.0  # no probe comes during a test


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[Janus, Janus]]:
    async with running_janus(tmp_path / "a") as a, running_janus(tmp_path / "b") as b:
        yield a, b


async def kill(janus: Janus) -> None:
    """SIGKILL, never restarted; once the process is gone."""
    pid = janus.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: janus.pid is None, timeout=5)


async def test_a_refused_connection_marks_the_node_unhealthy_at_once(
    two: tuple[Janus, Janus],
) -> None:
    a, b = two
    pool = JanusPool([node_of("a", a), node_of("b", b)], interval_s=NO_PROBE_S)
    try:
        await pool.refresh()  # probed once; nothing probes again
        busy = await occupy(a, people=2)
        await pool.refresh()
        assert pool.status()["a"] == {"healthy": True, "participants": 2, "rooms": 1}
        assert pool.pick().name == "b"
        await busy.close()

        await kill(a)
        assert pool.nodes["a"].healthy is True  # the pool has not noticed yet
        with pytest.raises(JanusUnavailable) as refused:
            await pool.connect(pool.nodes["a"], timeout_s=3)
        assert refused.value.refused is True
        assert pool.status()["a"] == {"healthy": False}  # no stale counts
        assert pool.pick().name == "b"
    finally:
        await pool.stop()


async def test_the_pool_notices_a_dead_node_before_its_next_probe(
    two: tuple[Janus, Janus],
) -> None:
    a, b = two
    pool = JanusPool([node_of("a", a), node_of("b", b)], interval_s=NO_PROBE_S)
    await pool.start()
    try:
        busy = await occupy(a, people=1)
        pool.nodes["a"].wake()  # probe now rather than in a minute

        async def counted() -> bool:
            return pool.status()["a"] == {"healthy": True, "participants": 1, "rooms": 1}

        await wait_for(counted, timeout=5)

        await kill(a)
        killed = time.monotonic()
        await wait_for(lambda: not pool.nodes["a"].healthy, timeout=2)
        assert time.monotonic() - killed < 2  # the probe's own connection was lost
        assert pool.status() == {
            "a": {"healthy": False},
            "b": {"healthy": True, "participants": 0, "rooms": 0},
        }
        await busy.close()
    finally:
        await pool.stop()


async def test_placing_a_meeting_fails_at_once_without_any_node() -> None:
    pool = JanusPool([], interval_s=5)
    started = time.monotonic()

    async def connect(_: object) -> None:
        raise AssertionError("no node to connect to")

    with pytest.raises(YuntongError) as none:
        await pool.place(connect)
    assert none.value.code == "janus_unavailable"
    assert time.monotonic() - started < 0.5
