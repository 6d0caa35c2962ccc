"""``/ws/meeting``: a message that cannot be parsed is ``malformed_message``, the socket stays.

60 KB of ``[`` made ``json.loads`` raise RecursionError, which dropped the socket without a
close frame (issue 14).
"""

from __future__ import annotations

import json

import websockets

from tests.support.meetings import create_meeting
from tests.support.server import ServerProcess
from yuntong.client.meeting import get_ticket, meeting_ws_url

DEEP = "[" * 60_000


async def test_unparsable_messages_are_malformed_and_the_socket_stays(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    ticket = await get_ticket(meeting_server.url, meeting["number"], token=host)
    url = meeting_ws_url(meeting_server.url, ticket["ticket"])
    async with websockets.connect(url, max_size=2**22) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello"
        for i, raw in enumerate((DEEP, '{"v": 1, "type": "ping", "data": ' + DEEP, "{", "[]")):
            await ws.send(raw)
            error = json.loads(await ws.recv())
            assert error["type"] == "error", error
            assert error["data"]["code"] == "malformed_message"
            await ws.send(json.dumps({"v": 1, "type": "ping", "id": f"p{i}"}))
            pong = json.loads(await ws.recv())
            assert (pong["type"], pong["re"]) == ("pong", f"p{i}")
