"""A meeting socket refused because no media server is healthy is told ``janus_unavailable``
and closed with 1013 (try again later), not with a final 44xx close: the page keeps trying with
the same ticket instead of giving up, and gets in once a Janus node is back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import websockets

from tests.support.meetings import create_meeting, janus_nodes_env
from tests.support.server import free_port, private_server
from yuntong.client.meeting import get_ticket


async def test_a_socket_refused_for_want_of_janus_may_try_again(tmp_path: Path) -> None:
    nowhere = free_port()  # a Janus node nobody listens on: never healthy
    env = janus_nodes_env({}, YUNTONG_JANUS_HEALTH_INTERVAL_S="1")
    env["YUNTONG_JANUS_NODES"] = json.dumps(
        [
            {
                "name": "gone",
                "url": f"ws://127.0.0.1:{nowhere}",
                "token_secret": "x" * 32,
                "videoroom_admin_key": "y" * 32,
            }
        ]
    )
    async with private_server(tmp_path, **env) as server:
        await server.create_user("mediahost")
        host = await server.login("mediahost")
        meeting = await create_meeting(server, host)
        ticket = await get_ticket(server.url, meeting["number"], token=host)
        ws_url = server.url.replace("http", "ws", 1) + "/ws/meeting"
        async with websockets.connect(f"{ws_url}?ticket={ticket['ticket']}&locale=en") as ws:
            told = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert told["type"] == "error"
            assert told["data"]["code"] == "janus_unavailable"
            assert told["data"]["message"] == "The media server is unavailable; try again later"
            try:
                await asyncio.wait_for(ws.recv(), 30)
                raise AssertionError("the socket stayed open")
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None
                assert (closed.rcvd.code, closed.rcvd.reason) == (1013, "janus_unavailable")
