"""Heartbeats: a socket whose client stops sending is closed; one that pings stays open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.server import ServerProcess, private_server
from tests.support.wsclient import WsClient


@pytest.fixture(scope="module")
async def quick_heartbeat_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServerProcess]:
    # silence allowed: 2.5 heartbeats = 1 s
    folder = tmp_path_factory.mktemp("heartbeat")
    async with private_server(folder, YUNTONG_HEARTBEAT_INTERVAL_S="0.4") as server:
        yield server


async def test_a_silent_client_is_closed_and_a_pinging_one_is_not(
    quick_heartbeat_server: ServerProcess,
) -> None:
    server = quick_heartbeat_server
    await server.create_user("quiet")
    await server.create_user("chatty")
    quiet = await WsClient(server.ws_url, await server.login("quiet")).connect()
    chatty = await WsClient(server.ws_url, await server.login("chatty")).connect()
    assert quiet.hello["heartbeat_s"] == 0.4

    async def ping_for(seconds: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            await chatty.request("ping")
            await asyncio.sleep(0.2)

    await asyncio.gather(ping_for(3.0), asyncio.wait_for(quiet.closed.wait(), 5))
    assert quiet.ws.close_code == 4408
    assert quiet.ws.close_reason == "heartbeat timeout"
    assert not chatty.closed.is_set()
    await chatty.request("ping")  # still served
    await chatty.close()
