"""Placing meetings on Janus nodes: least-loaded healthy node, a dead or frozen node skipped,
and back in the pool once it answers again."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.support.janus import Janus, frozen, needs_janus, running_janus
from tests.support.server import wait_for
from yuntong.config import JanusNode
from yuntong.core.errors import YuntongError
from yuntong.media.janus import VIDEOROOM, JanusClient
from yuntong.media.pool import JanusPool

pytestmark = needs_janus


def node_of(name: str, janus: Janus) -> JanusNode:
    return JanusNode(
        name=name,
        url=janus.url,
        token_secret=SecretStr(janus.token_secret),
        videoroom_admin_key=SecretStr(janus.admin_key),
    )


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[Janus, Janus]]:
    async with running_janus(tmp_path / "a") as a, running_janus(tmp_path / "b") as b:
        yield a, b


async def occupy(janus: Janus, people: int) -> JanusClient:
    """A private room (as a meeting's is) on ``janus`` with ``people`` publishers joined (no
    media); close to leave."""
    client = await JanusClient.connect(janus.url, janus.token())
    session = await client.create_session()
    first = await session.attach(VIDEOROOM)
    room = secrets.randbelow(2**31) + 1
    body = {"request": "create", "room": room, "admin_key": janus.admin_key, "is_private": True}
    await first.request(body)
    for i in range(people):
        handle = first if i == 0 else await session.attach(VIDEOROOM)
        body = {"request": "join", "ptype": "publisher", "room": room, "display": f"p{i}"}
        await handle.message(body)
    return client


async def test_new_meetings_go_to_the_least_loaded_healthy_node(two: tuple[Janus, Janus]) -> None:
    a, b = two
    pool = JanusPool([node_of("a", a), node_of("b", b)], interval_s=60)
    try:
        await pool.refresh()
        assert pool.status() == {
            "a": {"healthy": True, "participants": 0, "rooms": 0},
            "b": {"healthy": True, "participants": 0, "rooms": 0},
        }
        assert pool.pick().name == "a"  # equal load: by name

        busy = await occupy(a, people=2)
        await pool.refresh()
        assert pool.status()["a"] == {"healthy": True, "participants": 2, "rooms": 1}
        assert pool.pick().name == "b"
        await busy.close()
    finally:
        await pool.stop()


async def test_a_frozen_node_is_skipped_until_it_answers_and_a_dead_one_for_good(
    two: tuple[Janus, Janus],
) -> None:
    a, b = two
    pool = JanusPool([node_of("a", a), node_of("b", b)], interval_s=1)
    try:
        await pool.refresh()
        busy = await occupy(b, people=1)  # b would be chosen last
        pid = a.process.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            await wait_for(lambda: frozen(pid), timeout=5)
            await pool.refresh()
            assert pool.nodes["a"].healthy is False and pool.nodes["a"].last_error
            assert pool.pick().name == "b"
        finally:
            os.kill(pid, signal.SIGCONT)
        await pool.refresh()
        assert pool.pick().name == "a"  # answering again, and the less loaded

        await b.process.stop()
        await a.process.stop()
        await pool.refresh()
        with pytest.raises(YuntongError) as none:
            pool.pick()
        assert none.value.code == "janus_unavailable"
        await busy.close()
    finally:
        await pool.stop()
