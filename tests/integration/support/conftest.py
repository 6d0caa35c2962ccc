"""The desk on a real server in the test's loop (a clock the test moves), on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.conftest import unique
from tests.support.desk import call, ok
from tests.support.inprocess import InProcessServer
from tests.support.wsclient import WsClient


@pytest.fixture
def server(inprocess_server_any: InProcessServer) -> InProcessServer:
    return inprocess_server_any


AgentOnline = Callable[..., Awaitable[tuple[WsClient, str]]]


@pytest.fixture
async def agent_online(server: InProcessServer) -> AsyncIterator[AgentOnline]:
    """agent_online(username, status="online") → the agent's /ws socket and API token, with
    the status chosen."""
    clients: list[WsClient] = []

    async def connect(username: str, status: str = "online") -> tuple[WsClient, str]:
        token = await server.login(username)
        client = await WsClient(server.ws_url, token, unique("dev")).connect()
        clients.append(client)
        ok(await call(server, token, "PUT", "/api/v1/support/me/status", {"status": status}))
        return client, token

    yield connect
    for client in clients:
        await client.close()
