"""Admission control: a node signs in and greets at most ``ws_max_opening`` sockets at once;
the others of a storm are told ``node_busy`` with a retry hint and closed with 1013, come back
when told, and get in — while a socket already open keeps being answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets

from tests.conftest import own_database
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.wsclient import WsClient
from yuntong.client.signaling import Signaling
from yuntong.realtime.ws import GATEWAY


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    async with (
        own_database("sqlite", tmp_path) as url,
        inprocess_server(tmp_path / "var", url, ws_max_opening=2) as started,
    ):
        yield started


async def test_a_storm_of_sockets_is_shed_with_a_retry_hint_and_all_get_in_on_retry(
    server: InProcessServer,
) -> None:
    await server.create_user("storm")
    token = await server.login("storm")
    steady = await WsClient(server.ws_url, token, "steady").connect()

    async def arrive(n: int) -> tuple[str, dict]:
        async with websockets.connect(
            f"{server.ws_url}?device=storm{n}",
            additional_headers={"Authorization": f"Bearer {token}"},
        ) as ws:
            first = json.loads(await ws.recv())
            if first["type"] == "error":
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
            return first["type"], first["data"]

    firsts = await asyncio.gather(*(arrive(n) for n in range(40)))
    shed = [data for kind, data in firsts if kind == "error"]
    admitted = [data for kind, data in firsts if kind == "hello"]
    assert shed and admitted, firsts
    for data in shed:
        assert data["code"] == "node_busy" and 1 <= data["retry_after"] <= 3
        assert data["message"] == f"服务繁忙，请 {data['retry_after']} 秒后重试"
    # the socket that was already open was answered throughout
    answer = await asyncio.wait_for(steady.request("presence.set", {"status": "dnd"}), 5)
    assert answer["status"] == "dnd"
    # told to come back, they do, spread out by their back-off (here: each once the sockets
    # before it have been greeted), and get in
    for n in range(len(shed)):
        for _ in range(200):
            if not GATEWAY.opening:
                break
            await asyncio.sleep(0.05)
        kind, data = await arrive(100 + n)
        assert kind == "hello", data
    await steady.close()


async def test_the_python_client_comes_back_when_told_and_every_session_gets_in(
    server: InProcessServer,
) -> None:
    """``yuntong call`` and the load tools: shed sockets wait the ``retry_after`` they were
    given (not their own shorter back-off) and connect within their time-out."""
    await server.create_user("stormpy")
    token = await server.login("stormpy")
    clients = [Signaling(server.url, token, f"py{n}") for n in range(30)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        hellos = await asyncio.gather(*(c.connect(timeout=30) for c in clients))
        elapsed = loop.time() - started
        assert all(h["device_id"] == f"py{n}" for n, h in enumerate(hellos))
        shed = sum(c.shed for c in clients)
        assert shed > 0  # 30 at once against ws_max_opening=2: some were told to wait
        assert elapsed >= 1.0  # and waited at least the shortest hint (1 s) before getting in
    finally:
        await asyncio.gather(*(c.close() for c in clients))
