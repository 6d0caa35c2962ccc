"""Heartbeats: a socket whose client stops sending is closed; one that pings stays open.

The server runs in the test's loop on a clock the test moves: the silence passes by
``server.advance``, not by waiting (the real clock is covered by
realtime/test_gateway_heartbeat, on both sockets)."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import unique
from tests.support.inprocess import InProcessServer
from tests.support.wsclient import WsClient

AT_ONCE_S = 5


@pytest.fixture
def server(inprocess_server_any: InProcessServer) -> InProcessServer:
    return inprocess_server_any


async def test_a_silent_client_is_closed_and_a_pinging_one_is_not(
    server: InProcessServer,
) -> None:
    heartbeat = server.settings.heartbeat_interval_s  # silence allowed: 2.5 heartbeats
    quiet_name, chatty_name = unique("quiet"), unique("chatty")
    await server.create_user(quiet_name)
    await server.create_user(chatty_name)
    quiet = await WsClient(server.ws_url, await server.login(quiet_name)).connect()
    chatty = await WsClient(server.ws_url, await server.login(chatty_name)).connect()
    assert quiet.hello["heartbeat_s"] == heartbeat

    for _ in range(2):  # two heartbeats: nobody is closed yet
        await chatty.request("ping")
        await server.advance(heartbeat)
    assert not quiet.closed.is_set()
    await chatty.request("ping")
    await server.advance(heartbeat)  # three heartbeats of silence: more than allowed
    await asyncio.wait_for(quiet.closed.wait(), AT_ONCE_S)
    assert quiet.ws.close_code == 4408
    assert quiet.ws.close_reason == "heartbeat timeout"
    assert not chatty.closed.is_set()
    await chatty.request("ping")  # still served
    await chatty.close()
