"""A message nested too deeply to parse is ``malformed_message`` and the socket stays (issue 14).

60 KB of ``[`` made ``json.loads`` raise RecursionError: ``/ws`` answered ``internal_error``.
The same goes for HTTP bodies: a 4xx, never a 500.
"""

from __future__ import annotations

import asyncio

import httpx

from tests.integration.calls.conftest import Connect
from tests.support.server import ServerProcess
from tests.support.wsclient import WsClient

DEEP = "[" * 60_000


async def _error(client: WsClient) -> dict:
    for _ in range(250):
        for msg in client.events:
            if msg["type"] == "error":
                client.events.remove(msg)
                return dict(msg["data"])
        await asyncio.sleep(0.02)
    raise AssertionError(f"no error received; events: {client.events}")


async def test_deeply_nested_message_is_malformed_and_the_socket_stays(connect: Connect) -> None:
    client = await connect()
    for raw in (DEEP, '{"v": 1, "type": "ping", "data": ' + DEEP, DEEP.encode()):
        await client.send_raw(raw)
        err = await _error(client)
        assert err["code"] == "malformed_message"
        assert err["message"]
        assert await client.request("ping") == {}
    assert not client.closed.is_set()


async def test_deeply_nested_http_body_is_a_client_error(
    server: ServerProcess, connect: Connect
) -> None:
    client = await connect()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for path in ("/api/v1/auth/login", "/api/v1/contacts", "/api/v1/meetings"):
            resp = await http.post(
                path,
                content=DEEP,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {client.token}",
                },
            )
            assert 400 <= resp.status_code < 500, (path, resp.status_code, resp.text[:200])
        # the server is still well
        assert (await http.get("/healthz")).status_code == 200
