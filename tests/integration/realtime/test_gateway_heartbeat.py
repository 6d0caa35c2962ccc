"""Both sockets go through one gateway: a silent socket is closed the same way on ``/ws`` and
``/ws/meeting`` (a close frame saying ``heartbeat timeout`` after 2.5 heartbeats; the code is
4408 on ``/ws``, 4008 on the meeting socket, whose 4400-4499 mean "do not reconnect"), and a
pinging one stays.

Issue 12 item 2: the meeting socket had a loop of its own that, on the same silence, dropped
the connection without a close frame (the client saw 1006), while ``/ws`` closed with 4408.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
import websockets

from tests.conftest import unique
from tests.support.meetings import create_meeting, janus_env, janus_ready
from tests.support.server import ServerProcess, private_server
from tests.support.wsclient import WsClient
from yuntong.client.meeting import get_ticket, meeting_ws_url

HEARTBEAT_S = 0.4  # silence allowed: 2.5 heartbeats = 1 s


@pytest.fixture(scope="module")
async def quick_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("gateway-heartbeat")
    env = janus_env(YUNTONG_HEARTBEAT_INTERVAL_S=str(HEARTBEAT_S))
    async with private_server(folder, **env) as server:
        await janus_ready(server)
        yield server


async def _meeting_socket(server: ServerProcess, token: str) -> websockets.ClientConnection:
    meeting = await create_meeting(server, token)
    ticket = await get_ticket(server.url, meeting["number"], token=token)
    ws = await websockets.connect(meeting_ws_url(server.url, ticket["ticket"]))
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello"
    assert hello["data"]["heartbeat_s"] == HEARTBEAT_S
    return ws


async def _closed(ws: websockets.ClientConnection) -> tuple[int | None, str | None]:
    async def drain() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                pass

    await asyncio.wait_for(drain(), 5)
    return ws.close_code, ws.close_reason


async def test_a_silent_socket_is_closed_alike_on_both_endpoints(
    quick_server: ServerProcess,
) -> None:
    server = quick_server
    name, other = unique("quiet"), unique("chatty")
    await server.create_user(name)
    await server.create_user(other)
    token, chatty_token = await server.login(name), await server.login(other)
    quiet_ws = await WsClient(server.ws_url, token).connect()
    quiet_meeting = await _meeting_socket(server, token)
    chatty_meeting = await _meeting_socket(server, chatty_token)

    async def ping_for(seconds: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        n = 0
        while loop.time() < end:
            n += 1
            await chatty_meeting.send(json.dumps({"v": 1, "type": "ping", "id": f"p{n}"}))
            await asyncio.sleep(0.2)

    (code, reason), _, _ = await asyncio.gather(
        _closed(quiet_meeting), asyncio.wait_for(quiet_ws.closed.wait(), 5), ping_for(3.0)
    )
    assert (quiet_ws.ws.close_code, quiet_ws.ws.close_reason) == (4408, "heartbeat timeout")
    assert (code, reason) == (4008, "heartbeat timeout")
    # the pinging meeting socket is still served
    await chatty_meeting.send(json.dumps({"v": 1, "type": "ping", "id": "last"}))
    for _ in range(50):
        msg = json.loads(await asyncio.wait_for(chatty_meeting.recv(), 5))
        if msg.get("re") == "last":
            assert msg["type"] == "pong"
            break
    await chatty_meeting.close()
