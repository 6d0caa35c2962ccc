"""A meeting joined while this node's Janus is (re)starting waits for it briefly instead of
failing with ``janus_unavailable`` (issue 12)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.janus import needs_janus
from tests.support.meetings import (
    all_see_all,
    create_meeting,
    janus_env,
    janus_pid,
    janus_ready,
    participant,
)
from tests.support.server import ServerProcess, private_server

pytestmark = needs_janus
# Janus is restarted 1 s after it dies and listens about a second later; the server waits up
# to 5 s for it (media.pool.PLACE_WAIT_S)
JOIN_LIMIT_S = 10.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    """A server with its own Janus, probed at the default interval (5 s)."""
    env = janus_env(YUNTONG_JANUS_HEALTH_INTERVAL_S="5")
    async with private_server(tmp_path, **env) as started:
        await janus_ready(started)
        yield started


async def test_a_join_while_janus_restarts_waits_for_it(server: ServerProcess) -> None:
    await server.create_user("early_host")
    host = await server.login("early_host")
    meeting = await create_meeting(server, host)
    old = janus_pid(server)

    os.kill(old, signal.SIGKILL)  # the supervisor starts it again after 1 s
    killed = time.monotonic()
    async with (
        participant(server, meeting, token=host) as alice,
        participant(server, meeting, name="Bob") as bob,
    ):
        assert alice.state == bob.state == "joined"
        assert time.monotonic() - killed < JOIN_LIMIT_S
        assert janus_pid(server) != old  # on the Janus that was started again
        await all_see_all([alice, bob], 5)
