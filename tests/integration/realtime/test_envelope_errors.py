"""Error replies of both sockets (``/ws`` and ``/ws/meeting``): ``re`` names the message they
answer whenever its id can be read, and a message too large gets ``message_too_large`` up to
the transport's frame limit (twice the protocol's), beyond which the socket is closed with 1009.

Issue 12: ``unsupported_version`` and a non-object ``data`` were answered with ``re: null``,
and the documented ``message_too_large`` was never seen: the message was cut off with 1009.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from tests.conftest import unique
from tests.integration.calls.conftest import Connect
from tests.support.meetings import create_meeting, janus_env, janus_ready
from tests.support.server import ServerProcess
from tests.support.wsclient import WsClient
from yuntong.client.meeting import get_ticket, meeting_ws_url

LIMIT = 64 * 1024  # ws_max_message_bytes
TRANSPORT_LIMIT = 2 * LIMIT  # uvicorn's ws_max_size


def _msg(id_: str, **fields: Any) -> str:
    return json.dumps({"v": 1, "type": "ping", "id": id_, **fields}, ensure_ascii=False)


def _padded(id_: str, size: int, pad_char: str = "x") -> str:
    head = _msg(id_, data={"pad": ""})
    pad = pad_char * ((size - len(head.encode())) // len(pad_char.encode()) + 1)
    return _msg(id_, data={"pad": pad})


# (message, code): each carries the id "e1" and each error must say re="e1"
WITH_ID = [
    (json.dumps({"v": 2, "type": "ping", "id": "e1"}), "unsupported_version"),
    (json.dumps({"v": "1", "type": "ping", "id": "e1"}), "unsupported_version"),
    (_msg("e1", data=[1, 2]), "malformed_message"),
    (_msg("e1", data="text"), "malformed_message"),
    (_msg("e1", data=None), "malformed_message"),
    (_msg("e1", extra=1), "malformed_message"),
    (json.dumps({"v": 1, "type": "", "id": "e1"}), "malformed_message"),
    (json.dumps({"v": 1, "id": "e1"}), "malformed_message"),
    (json.dumps({"v": 1, "type": "call.teleport", "id": "e1"}), "unknown_message_type"),
    (_padded("e1", LIMIT + 1), "message_too_large"),
    (_padded("e1", TRANSPORT_LIMIT - 1000), "message_too_large"),
    # the limit is in bytes: 22,000 characters of three bytes each are 66 KB
    (_padded("e1", LIMIT + 1, "云"), "message_too_large"),
]
# nothing to answer: no id can be read
WITHOUT_ID = [
    ("{not json", "malformed_message"),
    ("[1, 2, 3]", "malformed_message"),
    (json.dumps({"v": 2, "type": "ping"}), "unsupported_version"),
    (json.dumps({"v": 1, "type": "ping", "id": 17}), "malformed_message"),
    ("{" + "x" * (LIMIT + 10), "message_too_large"),
]


async def _error(client: WsClient) -> dict[str, Any]:
    for _ in range(250):
        for msg in client.events:
            if msg["type"] == "error":
                client.events.remove(msg)
                return dict(msg)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no error received; events: {client.events}")


@pytest.mark.parametrize(("raw", "code"), WITH_ID + WITHOUT_ID)
async def test_ws_error_replies_name_the_message_they_answer(
    connect: Connect, raw: str, code: str
) -> None:
    client = await connect()
    await client.send_raw(raw)
    error = await _error(client)
    assert error["data"]["code"] == code
    assert error["data"]["message"]
    expected_re = "e1" if (raw, code) in WITH_ID else None
    assert error["re"] == expected_re
    assert await client.request("ping") == {}  # the socket stays


async def test_ws_message_beyond_the_transport_limit_closes_with_1009(connect: Connect) -> None:
    client = await connect()
    assert await client.request("ping") == {}
    await client.send_raw(_padded("big", TRANSPORT_LIMIT + 1))
    await asyncio.wait_for(client.closed.wait(), 5)
    assert client.ws.close_code == 1009
    assert not any(m["type"] == "error" for m in client.events)
    # a new socket is welcome
    await client.connect()
    assert await client.request("ping") == {}


# -- /ws/meeting -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def meeting_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServerProcess]:
    var = tmp_path_factory.mktemp("meeting-envelopes")
    server = ServerProcess(var / "var", f"sqlite+aiosqlite:///{var / 'yuntong.db'}", **janus_env())
    server.start()
    try:
        await janus_ready(server)
        yield server
    finally:
        server.stop()
        await server.aclose()


async def test_meeting_socket_error_replies_name_the_message_they_answer(
    meeting_server: ServerProcess,
) -> None:
    name = unique("host")
    await meeting_server.create_user(name)
    host = await meeting_server.login(name)
    meeting = await create_meeting(meeting_server, host)
    ticket = await get_ticket(meeting_server.url, meeting["number"], token=host)
    url = meeting_ws_url(meeting_server.url, ticket["ticket"])
    async with websockets.connect(url, max_size=2**22) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        for i, (raw, code) in enumerate(WITH_ID + WITHOUT_ID):
            await ws.send(raw)
            error = json.loads(await ws.recv())
            assert (error["type"], error["data"]["code"]) == ("error", code), (raw[:80], error)
            assert error["re"] == ("e1" if (raw, code) in WITH_ID else None), raw[:80]
            await ws.send(json.dumps({"v": 1, "type": "ping", "id": f"p{i}"}))
            pong = json.loads(await ws.recv())
            assert (pong["type"], pong["re"]) == ("pong", f"p{i}")
        await ws.send(_padded("big", TRANSPORT_LIMIT + 1))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1009
