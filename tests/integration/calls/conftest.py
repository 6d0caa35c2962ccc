"""Fixtures for signaling tests: registered users with connected WebSocket devices, on a server
in a child process (the wall clock) or in the test's loop (a clock the test moves)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.conftest import unique
from tests.support.inprocess import Served
from tests.support.server import ServerProcess
from tests.support.wsclient import WsClient

Connect = Callable[..., Awaitable[WsClient]]


@pytest.fixture
def server(live_server_any: ServerProcess) -> ServerProcess:
    return live_server_any


@pytest.fixture
async def connect(server: Served) -> AsyncIterator[Connect]:
    """connect(username=None, device="dev1") → a new active user (or that user) on a socket."""
    clients: list[WsClient] = []
    tokens: dict[str, str] = {}

    async def _connect(username: str | None = None, device: str = "dev1") -> WsClient:
        if username is None:
            username = unique("sig")
            await server.create_user(username)
        if username not in tokens:
            tokens[username] = await server.login(username)
        client = await WsClient(server.ws_url, tokens[username], device).connect()
        client.username = username  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        await client.close()
