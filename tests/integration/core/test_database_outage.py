"""A database outage is a 503 JSON error, ``/readyz`` says why, and it recovers (issue 14).

The server reaches PostgreSQL through a TCP proxy that the test cuts and restores. Before,
the outage gave a 500 ``text/plain`` and the connection was reset after it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from tests.conftest import own_database
from tests.support.server import ServerProcess, wait_for
from tests.support.tcpproxy import TcpProxy, tcp_proxy
from tests.support.wsclient import FAKE_SDP, WsClient, WsError


@dataclass
class Outage:
    server: ServerProcess
    proxy: TcpProxy
    alice: str
    bob: str


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[Outage]:
    async with own_database("postgres", tmp_path) as direct:
        pg = urlsplit(direct)
        with tcp_proxy(pg.hostname or "127.0.0.1", pg.port or 5432) as proxy:
            via_proxy = direct.replace(pg.netloc, f"{pg.username}@127.0.0.1:{proxy.port}")
            server = ServerProcess(tmp_path / "var", via_proxy)
            try:
                server.start()
                for name in ("alice", "bob"):
                    await server.create_user(name)
                yield Outage(server, proxy, await server.login("alice"), await server.login("bob"))
            finally:
                server.stop()
                await server.aclose()


def _keep_alive_client(server: ServerProcess) -> http.client.HTTPConnection:
    url = urlsplit(server.url)
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)


def _get(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[int, dict, dict]:
    """One request on the same kept-alive connection (a reset would raise here)."""
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    body = resp.read()
    assert resp.getheader("content-type", "").startswith("application/json"), body[:200]
    return resp.status, dict(resp.getheaders()), json.loads(body)


@pytest.fixture
def conn(outage: Outage) -> Iterator[http.client.HTTPConnection]:
    connection = _keep_alive_client(outage.server)
    yield connection
    connection.close()


async def test_an_outage_is_a_503_json_error_and_recovers_by_itself(
    outage: Outage, conn: http.client.HTTPConnection
) -> None:
    server, token = outage.server, outage.alice
    assert _get(conn, "/api/v1/me", token)[0] == 200
    sock = conn.sock

    outage.proxy.cut()
    for path in ("/api/v1/me", "/api/v1/contacts", "/api/v1/calls", "/api/v1/me", "/api/v1/me"):
        status, headers, body = _get(conn, path, token)
        assert status == 503, (path, body)
        assert body["error"]["code"] == "database_unavailable"
        assert body["error"]["message"]
        assert int(headers["retry-after"]) > 0
    assert conn.sock is sock  # every answer came on the same kept-alive connection
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        en = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"}
        )
        assert en.json()["error"]["message"] == "The database is unavailable; try again shortly"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready"
        reason = ready.json()["checks"]["database"]
        assert reason.startswith("unavailable: "), reason
        assert len(reason) > len("unavailable: ") + 5  # says why

        outage.proxy.restore()

        async def recovered() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_for(recovered, timeout=30, interval=0.2)
        assert (await client.get("/readyz")).json()["checks"]["database"] == "ok"
    # no restart: the same process, and the same kept-alive connection, work again
    assert _get(conn, "/api/v1/me", token)[0] == 200
    assert _get(conn, "/api/v1/contacts", token)[0] == 200
    assert conn.sock is sock


async def test_sockets_answer_an_error_during_an_outage_and_stay(outage: Outage) -> None:
    server = outage.server
    alice = await WsClient(server.ws_url, outage.alice, "a1").connect()
    bob = await WsClient(server.ws_url, outage.bob, "b1").connect()
    try:
        for client in (alice, bob):  # greeted: the snapshot came from the database
            await client.expect("presence.snapshot", timeout=30)
        outage.proxy.cut()
        with pytest.raises(WsError) as refused:
            await alice.request(
                "call.invite", {"to": "bob", "media": "audio", "sdp": FAKE_SDP}, timeout=30
            )
        assert refused.value.code == "database_unavailable"
        assert await alice.request("ping") == {}

        # a socket opened during the outage is told, then closed with "try again later"
        ws = await websockets.connect(
            server.ws_url + "?device=c1",
            additional_headers={"Authorization": f"Bearer {outage.alice}"},
        )
        told = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert (told["type"], told["data"]["code"]) == ("error", "database_unavailable")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 30)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "database_unavailable")

        outage.proxy.restore()

        async def invited() -> bool:
            try:
                await alice.request(
                    "call.invite", {"to": "bob", "media": "audio", "sdp": FAKE_SDP}, timeout=30
                )
            except WsError as exc:
                assert exc.code == "database_unavailable", exc.data
                return False
            return True

        await wait_for(invited, timeout=30, interval=0.5)
        await bob.expect("call.incoming", timeout=10)
        assert not alice.closed.is_set()
    finally:
        await alice.close()
        await bob.close()
